package httpapi

import (
	"net/http"
	"time"

	"github.com/typeauth/typeauth/client"
	"github.com/typeauth/typeauth/internal/auth"
	"github.com/typeauth/typeauth/internal/manage"
	"github.com/typeauth/typeauth/internal/wire"
)

// ---- identities ----

func (s *Server) createIdentity(w http.ResponseWriter, r *http.Request, a manage.Actor) error {
	var req client.CreateIdentityRequest
	body, err := decode(w, r, s.opt.MaxBodyBytes, &req)
	if err != nil {
		return err
	}
	idem, err := idempotency(r, body)
	if err != nil {
		return err
	}
	rls, err := wire.RateLimitsIn(req.RateLimits)
	if err != nil {
		return err
	}
	in := &auth.Identity{AppID: req.AppID, ExternalID: req.ExternalID, Meta: req.Meta, RateLimits: rls, Permissions: req.Permissions, Roles: req.Roles}
	id, err := s.manage.CreateIdentity(r.Context(), a, in, idem)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, wire.Identity(id))
	return nil
}

func (s *Server) listIdentities(w http.ResponseWriter, r *http.Request, a manage.Actor) error {
	p, err := page(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	if ext := q.Get("external_id"); ext != "" {
		id, err := s.manage.IdentityByExternalID(r.Context(), a, q.Get("app_id"), ext)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, client.List[client.Identity]{Data: []client.Identity{wire.Identity(id)}})
		return nil
	}
	ids, next, err := s.manage.ListIdentities(r.Context(), a, auth.IdentityFilter{AppID: q.Get("app_id")}, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list(ids, next, wire.Identity))
	return nil
}

func (s *Server) getIdentity(w http.ResponseWriter, r *http.Request, a manage.Actor) error {
	id, err := s.manage.GetIdentity(r.Context(), a, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, wire.Identity(id))
	return nil
}

func (s *Server) updateIdentity(w http.ResponseWriter, r *http.Request, a manage.Actor) error {
	var req client.UpdateIdentityRequest
	if _, err := decode(w, r, s.opt.MaxBodyBytes, &req); err != nil {
		return err
	}
	if req.ExternalID.Null {
		return auth.Errorf(auth.ErrInvalid, "invalid_external_id", "external_id cannot be null")
	}
	rls, err := wire.RateLimitsIn(req.RateLimits.Value)
	if err != nil {
		return err
	}
	id, err := s.manage.UpdateIdentity(r.Context(), a, r.PathValue("id"), func(i *auth.Identity) error {
		if req.ExternalID.Set {
			i.ExternalID = req.ExternalID.Value
		}
		if req.Meta.Set {
			i.Meta = nil
			if !req.Meta.Null {
				i.Meta = req.Meta.Value
			}
		}
		if req.RateLimits.Set {
			i.RateLimits = rls
		}
		if req.Permissions.Set {
			i.Permissions = req.Permissions.Value
		}
		if req.Roles.Set {
			i.Roles = req.Roles.Value
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, wire.Identity(id))
	return nil
}

func (s *Server) deleteIdentity(w http.ResponseWriter, r *http.Request, a manage.Actor) error {
	if err := s.manage.DeleteIdentity(r.Context(), a, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// changeList serves POST …/{id}/permissions and …/{id}/roles on keys and
// identities: add, remove or set, through the update use case (audited).
func (s *Server) changeList(target, field string) adminFunc {
	return func(w http.ResponseWriter, r *http.Request, a manage.Actor) error {
		var req client.PermissionsChange
		if _, err := decode(w, r, s.opt.MaxBodyBytes, &req); err != nil {
			return err
		}
		apply := func(list *[]string) error {
			out, err := manage.ApplyChange(*list, req.Add, req.Remove, req.Set)
			if err != nil {
				return err
			}
			*list = out
			return nil
		}
		if target == "key" {
			k, err := s.manage.UpdateKey(r.Context(), a, r.PathValue("id"), func(k *auth.Key) error {
				if field == "roles" {
					return apply(&k.Roles)
				}
				return apply(&k.Permissions)
			})
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, wire.Key(k))
			return nil
		}
		id, err := s.manage.UpdateIdentity(r.Context(), a, r.PathValue("id"), func(i *auth.Identity) error {
			if field == "roles" {
				return apply(&i.Roles)
			}
			return apply(&i.Permissions)
		})
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, wire.Identity(id))
		return nil
	}
}

// ---- roles ----

func (s *Server) createRole(w http.ResponseWriter, r *http.Request, a manage.Actor) error {
	var req client.CreateRoleRequest
	body, err := decode(w, r, s.opt.MaxBodyBytes, &req)
	if err != nil {
		return err
	}
	idem, err := idempotency(r, body)
	if err != nil {
		return err
	}
	role, err := s.manage.CreateRole(r.Context(), a, &auth.Role{Name: req.Name, Description: req.Description, Permissions: req.Permissions}, idem)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, wire.Role(role))
	return nil
}

func (s *Server) listRoles(w http.ResponseWriter, r *http.Request, a manage.Actor) error {
	p, err := page(r)
	if err != nil {
		return err
	}
	roles, next, err := s.manage.ListRoles(r.Context(), a, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list(roles, next, wire.Role))
	return nil
}

func (s *Server) getRole(w http.ResponseWriter, r *http.Request, a manage.Actor) error {
	role, err := s.manage.GetRole(r.Context(), a, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, wire.Role(role))
	return nil
}

func (s *Server) updateRole(w http.ResponseWriter, r *http.Request, a manage.Actor) error {
	var req client.UpdateRoleRequest
	if _, err := decode(w, r, s.opt.MaxBodyBytes, &req); err != nil {
		return err
	}
	if req.Name.Null {
		return auth.Errorf(auth.ErrInvalid, "invalid_name", "name cannot be null")
	}
	role, err := s.manage.UpdateRole(r.Context(), a, r.PathValue("id"), func(ro *auth.Role) error {
		if req.Name.Set {
			ro.Name = req.Name.Value
		}
		if req.Description.Set {
			ro.Description = req.Description.Value
		}
		if req.Permissions.Set {
			ro.Permissions = req.Permissions.Value
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, wire.Role(role))
	return nil
}

func (s *Server) deleteRole(w http.ResponseWriter, r *http.Request, a manage.Actor) error {
	if err := s.manage.DeleteRole(r.Context(), a, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ---- rate-limit overrides ----

func (s *Server) createOverride(w http.ResponseWriter, r *http.Request, a manage.Actor) error {
	var req client.CreateOverrideRequest
	body, err := decode(w, r, s.opt.MaxBodyBytes, &req)
	if err != nil {
		return err
	}
	idem, err := idempotency(r, body)
	if err != nil {
		return err
	}
	// Bound it before converting: a huge count would wrap time.Duration.
	if req.DurationMs <= 0 || req.DurationMs > int64(366*24*time.Hour/time.Millisecond) {
		return auth.Errorf(auth.ErrInvalid, "invalid_ratelimit", "limit must be 0 or more and duration_ms positive (at most a year)")
	}
	o, err := s.manage.CreateOverride(r.Context(), a, &auth.RateLimitOverride{Namespace: req.Namespace, Identifier: req.Identifier,
		Limit: req.Limit, Duration: time.Duration(req.DurationMs) * time.Millisecond}, idem)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, wire.Override(o))
	return nil
}

func (s *Server) listOverrides(w http.ResponseWriter, r *http.Request, a manage.Actor) error {
	p, err := page(r)
	if err != nil {
		return err
	}
	os, next, err := s.manage.ListOverrides(r.Context(), a, r.URL.Query().Get("namespace"), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list(os, next, wire.Override))
	return nil
}

func (s *Server) deleteOverride(w http.ResponseWriter, r *http.Request, a manage.Actor) error {
	if err := s.manage.DeleteOverride(r.Context(), a, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
