package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/typeauth/typeauth/client"
	"github.com/typeauth/typeauth/internal/auth"
	"github.com/typeauth/typeauth/internal/manage"
	"github.com/typeauth/typeauth/internal/wire"
)

// adminFunc is a management handler: it runs for an authenticated root key
// and returns an error for writeError.
type adminFunc func(w http.ResponseWriter, r *http.Request, a manage.Actor) error

// admin authenticates the root key of a management call. A missing or wrong
// key is a 401 problem, never a 500. Scopes are checked by the use case,
// which knows the app a target belongs to.
func (s *Server) admin(fn adminFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secret := bearer(r)
		if secret == "" {
			writeError(w, r, s.log, auth.Errorf(auth.ErrUnauthorized, "missing_root_key", "send a root key as Authorization: Bearer <root key>"))
			return
		}
		rk, err := s.manage.Authenticate(r.Context(), secret)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		a := manage.Actor{RootKey: rk, RemoteAddr: remoteHost(r)}
		if err := fn(w, r, a); err != nil {
			writeError(w, r, s.log, err)
		}
	})
}

// idempotency returns the replay identity of a create, if the caller sent an
// Idempotency-Key.
func idempotency(r *http.Request, body []byte) (*manage.Idempotency, error) {
	k := r.Header.Get("Idempotency-Key")
	if k == "" {
		return nil, nil
	}
	if len(k) > 255 {
		return nil, auth.Errorf(auth.ErrInvalid, "invalid_idempotency_key", "Idempotency-Key must be at most 255 characters")
	}
	req := make([]byte, 0, len(r.Method)+len(r.URL.Path)+len(body)+2)
	req = append(append(append(append(req, r.Method...), 0), r.URL.Path...), 0)
	return manage.NewIdempotency(bearer(r), k, append(req, body...)), nil
}

func page(r *http.Request) (auth.Page, error) {
	q := r.URL.Query()
	p := auth.Page{Cursor: q.Get("cursor")}
	if len(p.Cursor) > 512 {
		return p, auth.Errorf(auth.ErrInvalid, "invalid_cursor", "cursor is too long")
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			return p, auth.Errorf(auth.ErrInvalid, "invalid_limit", "limit must be an integer from 1 to 1000")
		}
		p.Limit = n
	}
	return p, nil
}

func list[T, U any](items []T, next string, conv func(T) U) client.List[U] {
	out := client.List[U]{Data: make([]U, len(items)), NextCursor: next}
	for i, it := range items {
		out.Data[i] = conv(it)
	}
	return out
}

// ---- apps ----

func (s *Server) createApp(w http.ResponseWriter, r *http.Request, a manage.Actor) error {
	var req client.CreateAppRequest
	body, err := decode(w, r, s.opt.MaxBodyBytes, &req)
	if err != nil {
		return err
	}
	idem, err := idempotency(r, body)
	if err != nil {
		return err
	}
	if req.Recoverable != nil || req.MaxTokenTTLSeconds != nil || req.TokenAudiences != nil || req.TokenMetaClaims != nil {
		var auds, meta *[]string
		if req.TokenAudiences != nil {
			auds = &req.TokenAudiences
		}
		if req.TokenMetaClaims != nil {
			meta = &req.TokenMetaClaims
		}
		at, err := s.manage.CreateAppWithTokens(r.Context(), a, req.Name, req.KeyPrefix, appTokenPatch(req.Recoverable, req.MaxTokenTTLSeconds, auds, meta), idem)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, withTokens(wire.App(at.App), at.Tokens))
		return nil
	}
	app, err := s.manage.CreateApp(r.Context(), a, req.Name, req.KeyPrefix, idem)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, wire.App(app))
	return nil
}

func (s *Server) listApps(w http.ResponseWriter, r *http.Request, a manage.Actor) error {
	p, err := page(r)
	if err != nil {
		return err
	}
	apps, next, err := s.manage.ListApps(r.Context(), a, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list(apps, next, wire.App))
	return nil
}

func (s *Server) getApp(w http.ResponseWriter, r *http.Request, a manage.Actor) error {
	app, err := s.manage.GetApp(r.Context(), a, r.PathValue("id"))
	if err != nil {
		return err
	}
	ts, err := s.manage.AppTokens(r.Context(), a, app.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, withTokens(wire.App(app), ts))
	return nil
}

func (s *Server) updateApp(w http.ResponseWriter, r *http.Request, a manage.Actor) error {
	var req client.UpdateAppRequest
	if _, err := decode(w, r, s.opt.MaxBodyBytes, &req); err != nil {
		return err
	}
	var name *string
	if req.Name.Set {
		if req.Name.Null {
			return auth.Errorf(auth.ErrInvalid, "invalid_name", "name cannot be null")
		}
		name = &req.Name.Value
	}
	// One transaction for the name and the token settings: both land, or neither.
	app, ts, err := s.manage.UpdateAppAndTokens(r.Context(), a, r.PathValue("id"), name, appTokenPatchOf(&req))
	if err != nil {
		return err
	}
	if ts == nil {
		if ts, err = s.manage.AppTokens(r.Context(), a, app.ID); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, withTokens(wire.App(app), ts))
	return nil
}

func (s *Server) deleteApp(w http.ResponseWriter, r *http.Request, a manage.Actor) error {
	if err := s.manage.DeleteApp(r.Context(), a, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ---- keys ----

func keyFromRequest(req *client.CreateKeyRequest) (*auth.Key, error) {
	k := &auth.Key{
		AppID: req.AppID, Name: req.Name, OwnerID: req.OwnerID, IdentityID: req.IdentityID,
		Meta: req.Meta, Enabled: true, ExpiresAt: req.ExpiresAt, Permissions: req.Permissions, Roles: req.Roles,
	}
	if req.Enabled != nil {
		k.Enabled = *req.Enabled
	}
	var err error
	if k.Credits, err = wire.CreditsIn(req.Credits); err != nil {
		return nil, err
	}
	if k.RateLimits, err = rateLimitsIn(req.RateLimits); err != nil {
		return nil, err
	}
	if k.IPAllowlist, err = wire.ParseIPs(req.IPAllowlist); err != nil {
		return nil, err
	}
	return k, nil
}

func rateLimitsIn(in []client.RateLimit) ([]auth.RateLimit, error) { return wire.RateLimitsIn(in) }

func (s *Server) createKey(w http.ResponseWriter, r *http.Request, a manage.Actor) error {
	var req client.CreateKeyRequest
	body, err := decode(w, r, s.opt.MaxBodyBytes, &req)
	if err != nil {
		return err
	}
	idem, err := idempotency(r, body)
	if err != nil {
		return err
	}
	k, err := keyFromRequest(&req)
	if err != nil {
		return err
	}
	ck, err := s.manage.CreateKey(r.Context(), a, k, idem)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, client.CreatedKey{Key: wire.Key(ck.Key), Secret: ck.Secret})
	return nil
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request, a manage.Actor) error {
	p, err := page(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	keys, next, err := s.manage.ListKeys(r.Context(), a, auth.KeyFilter{AppID: q.Get("app_id"), OwnerID: q.Get("owner_id")}, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list(keys, next, wire.Key))
	return nil
}

func (s *Server) getKey(w http.ResponseWriter, r *http.Request, a manage.Actor) error {
	k, err := s.manage.GetKey(r.Context(), a, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, wire.Key(k))
	return nil
}

func (s *Server) updateKey(w http.ResponseWriter, r *http.Request, a manage.Actor) error {
	var req client.UpdateKeyRequest
	if _, err := decode(w, r, s.opt.MaxBodyBytes, &req); err != nil {
		return err
	}
	// Convert everything before the transaction: bad input fails fast.
	var credits *auth.Credits
	if req.Credits.Set && !req.Credits.Null {
		c, err := wire.CreditsIn(&req.Credits.Value)
		if err != nil {
			return err
		}
		credits = c
	}
	rls, err := rateLimitsIn(req.RateLimits.Value)
	if err != nil {
		return err
	}
	ips, err := wire.ParseIPs(req.IPAllowlist.Value)
	if err != nil {
		return err
	}
	if req.Name.Null || req.Enabled.Null {
		return auth.Errorf(auth.ErrInvalid, "invalid_request", "name and enabled cannot be null")
	}
	k, err := s.manage.UpdateKey(r.Context(), a, r.PathValue("id"), func(k *auth.Key) error {
		if req.Name.Set {
			k.Name = req.Name.Value
		}
		if req.OwnerID.Set {
			k.OwnerID = req.OwnerID.Value
		}
		if req.Meta.Set {
			k.Meta = nil
			if !req.Meta.Null {
				k.Meta = req.Meta.Value
			}
		}
		if req.Enabled.Set {
			k.Enabled = req.Enabled.Value
		}
		if req.ExpiresAt.Set {
			k.ExpiresAt = nil
			if !req.ExpiresAt.Null {
				t := req.ExpiresAt.Value
				k.ExpiresAt = &t
			}
		}
		if req.Credits.Set {
			k.Credits = nil
			if !req.Credits.Null {
				k.Credits = credits
			}
		}
		if req.RateLimits.Set {
			k.RateLimits = rls
		}
		if req.Permissions.Set {
			k.Permissions = req.Permissions.Value
		}
		if req.Roles.Set {
			k.Roles = req.Roles.Value
		}
		if req.IPAllowlist.Set {
			k.IPAllowlist = ips
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, wire.Key(k))
	return nil
}

func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request, a manage.Actor) error {
	if err := s.manage.RevokeKey(r.Context(), a, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) rollKey(w http.ResponseWriter, r *http.Request, a manage.Actor) error {
	var req client.RollKeyRequest
	if r.ContentLength != 0 {
		if _, err := decode(w, r, s.opt.MaxBodyBytes, &req); err != nil {
			return err
		}
	}
	// Bound it before converting: a huge count would wrap time.Duration.
	if req.GracePeriodMs < 0 || req.GracePeriodMs > manage.MaxGracePeriod.Milliseconds() {
		return auth.Errorf(auth.ErrInvalid, "invalid_grace_period", "grace_period_ms must be between 0 and 30 days")
	}
	ck, err := s.manage.RollKey(r.Context(), a, r.PathValue("id"), time.Duration(req.GracePeriodMs)*time.Millisecond)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, client.CreatedKey{Key: wire.Key(ck.Key), Secret: ck.Secret})
	return nil
}

func (s *Server) adjustCredits(w http.ResponseWriter, r *http.Request, a manage.Actor) error {
	var req client.CreditsRequest
	if _, err := decode(w, r, s.opt.MaxBodyBytes, &req); err != nil {
		return err
	}
	rem, err := s.manage.AdjustCredits(r.Context(), a, r.PathValue("id"), manage.CreditOp(req.Op), req.Value)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, client.CreditsResponse{Remaining: rem})
	return nil
}

// ---- root keys ----

func (s *Server) createRootKey(w http.ResponseWriter, r *http.Request, a manage.Actor) error {
	var req client.CreateRootKeyRequest
	body, err := decode(w, r, s.opt.MaxBodyBytes, &req)
	if err != nil {
		return err
	}
	idem, err := idempotency(r, body)
	if err != nil {
		return err
	}
	rk, err := s.manage.CreateRootKey(r.Context(), a, req.Name, req.Scopes, idem)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, client.CreatedRootKey{RootKey: wire.RootKey(rk.RootKey), Secret: rk.Secret})
	return nil
}

func (s *Server) listRootKeys(w http.ResponseWriter, r *http.Request, a manage.Actor) error {
	p, err := page(r)
	if err != nil {
		return err
	}
	rks, next, err := s.manage.ListRootKeys(r.Context(), a, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list(rks, next, wire.RootKey))
	return nil
}

func (s *Server) revokeRootKey(w http.ResponseWriter, r *http.Request, a manage.Actor) error {
	if err := s.manage.RevokeRootKey(r.Context(), a, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ---- audit ----

func (s *Server) listAudit(w http.ResponseWriter, r *http.Request, a manage.Actor) error {
	p, err := page(r)
	if err != nil {
		return err
	}
	es, next, err := s.manage.ListAudit(r.Context(), a, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list(es, next, wire.Audit))
	return nil
}

func (s *Server) verifyAudit(w http.ResponseWriter, r *http.Request, a manage.Actor) error {
	rep, err := s.manage.VerifyAudit(r.Context(), a)
	if err != nil {
		return err
	}
	out := client.AuditVerifyResult{OK: rep.OK, Checked: rep.Checked, Reason: rep.Reason}
	if rep.Broken != nil {
		out.FirstBrokenSeq, out.FirstBrokenID = rep.Broken.Seq, rep.Broken.ID
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
