package manage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/typeauth/typeauth/internal/auth"
	"github.com/typeauth/typeauth/internal/permquery"
)

// Identities, roles and rate-limit overrides are shared by many keys, so a
// change to one empties the verify cache (these changes are rare; a key
// change evicts only that key).

func (s *Service) ids() auth.IdentityStore { return s.store.(auth.IdentityStore) }

func itx(tx auth.Tx) auth.IdentityTx { return tx.(auth.IdentityTx) }

func validMeta(meta json.RawMessage) (json.RawMessage, error) {
	if len(meta) == 0 {
		return nil, nil
	}
	if len(meta) > MaxMetaBytes {
		return nil, invalid("invalid_meta", fmt.Sprintf("meta must be at most %d bytes", MaxMetaBytes))
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, meta); err != nil || buf.Len() == 0 || buf.Bytes()[0] != '{' {
		return nil, invalid("invalid_meta", "meta must be a JSON object")
	}
	return buf.Bytes(), nil
}

func validPermissions(perms []string) error {
	if len(perms) > MaxPermissions {
		return invalid("invalid_permissions", fmt.Sprintf("at most %d permissions", MaxPermissions))
	}
	for _, p := range perms {
		if err := permquery.ValidPermission(p); err != nil {
			return invalid("invalid_permissions", "permission "+quote(p)+": "+err.Error())
		}
	}
	return nil
}

// checkRoles fails unless every named role exists.
func checkRoles(tx auth.Tx, names []string) error {
	if len(names) > 100 {
		return invalid("invalid_roles", "at most 100 roles")
	}
	for _, n := range names {
		if _, err := itx(tx).GetRoleByName(n); errors.Is(err, auth.ErrNotFound) {
			return invalid("role_not_found", "role "+quote(n)+" not found")
		} else if err != nil {
			return err
		}
	}
	return nil
}

// checkIdentity fails unless the identity exists and may hold keys of appID.
func checkIdentity(tx auth.Tx, id, appID string) error {
	if id == "" {
		return nil
	}
	i, err := itx(tx).GetIdentity(id)
	if errors.Is(err, auth.ErrNotFound) {
		return invalid("identity_not_found", "identity "+quote(id)+" not found")
	} else if err != nil {
		return err
	}
	if i.AppID != "" && i.AppID != appID {
		return invalid("identity_other_app", "identity "+quote(id)+" belongs to another app")
	}
	return nil
}

func dedupe(in []string) []string {
	if in == nil {
		return nil
	}
	out := slices.Clone(in)
	slices.Sort(out)
	return slices.Compact(out)
}

func (s *Service) validateIdentity(i *auth.Identity) error {
	if err := validText("external_id", i.ExternalID, 256, true); err != nil {
		return err
	}
	var err error
	if i.Meta, err = validMeta(i.Meta); err != nil {
		return err
	}
	if len(i.RateLimits) > MaxRateLimits {
		return invalid("invalid_ratelimit", fmt.Sprintf("at most %d rate limits", MaxRateLimits))
	}
	i.Permissions, i.Roles = dedupe(i.Permissions), dedupe(i.Roles)
	return validPermissions(i.Permissions)
}

// CreateIdentity creates an identity. ErrConflict (identity_exists) if the
// external id is taken in its app (or among workspace-wide identities).
func (s *Service) CreateIdentity(ctx context.Context, a Actor, in *auth.Identity, idem *Idempotency) (*auth.Identity, error) {
	if err := a.require(auth.ScopeIdentitiesWrite, in.AppID); err != nil {
		return nil, err
	}
	if err := s.validateIdentity(in); err != nil {
		return nil, err
	}
	out, err := idempotent(ctx, s, idem, func(tx auth.Tx) (*auth.Identity, error) {
		if in.AppID != "" {
			if _, err := tx.GetApp(in.AppID); errors.Is(err, auth.ErrNotFound) {
				return nil, notFound("app")
			} else if err != nil {
				return nil, err
			}
		}
		if err := checkRoles(tx, in.Roles); err != nil {
			return nil, err
		}
		now := s.clock()
		i := *in
		i.ID, i.CreatedAt, i.UpdatedAt = auth.NewID("id", now), now, now
		if err := itx(tx).InsertIdentity(&i); err != nil {
			return nil, err
		}
		return &i, s.audit(tx, a, "identity.create", "identity", i.ID, nil, &i)
	})
	return out, err
}

func (s *Service) GetIdentity(ctx context.Context, a Actor, id string) (*auth.Identity, error) {
	i, err := s.ids().GetIdentity(ctx, id)
	if errors.Is(err, auth.ErrNotFound) {
		return nil, notFound("identity")
	} else if err != nil {
		return nil, err
	}
	return i, a.require(auth.ScopeIdentitiesRead, i.AppID)
}

// IdentityByExternalID looks an identity up by app ("" = workspace-wide) and external id.
func (s *Service) IdentityByExternalID(ctx context.Context, a Actor, appID, externalID string) (*auth.Identity, error) {
	if err := a.require(auth.ScopeIdentitiesRead, appID); err != nil {
		return nil, err
	}
	i, err := s.ids().IdentityByExternalID(ctx, appID, externalID)
	if errors.Is(err, auth.ErrNotFound) {
		return nil, notFound("identity")
	}
	return i, err
}

func (s *Service) ListIdentities(ctx context.Context, a Actor, f auth.IdentityFilter, p auth.Page) ([]*auth.Identity, string, error) {
	if err := a.require(auth.ScopeIdentitiesRead, f.AppID); err != nil {
		return nil, "", err
	}
	return s.ids().ListIdentities(ctx, f, p)
}

// UpdateIdentity applies patch to an identity.
func (s *Service) UpdateIdentity(ctx context.Context, a Actor, id string, patch func(*auth.Identity) error) (*auth.Identity, error) {
	var out *auth.Identity
	err := s.store.Tx(ctx, func(tx auth.Tx) error {
		before, err := itx(tx).GetIdentity(id)
		if errors.Is(err, auth.ErrNotFound) {
			return notFound("identity")
		} else if err != nil {
			return err
		}
		if err := a.require(auth.ScopeIdentitiesWrite, before.AppID); err != nil {
			return err
		}
		after := *before
		if err := patch(&after); err != nil {
			return err
		}
		if err := s.validateIdentity(&after); err != nil {
			return err
		}
		if err := checkRoles(tx, after.Roles); err != nil {
			return err
		}
		after.ID, after.AppID, after.CreatedAt, after.UpdatedAt = before.ID, before.AppID, before.CreatedAt, s.clock()
		if err := itx(tx).UpdateIdentity(&after); err != nil {
			return err
		}
		out = &after
		return s.audit(tx, a, "identity.update", "identity", id, before, &after)
	})
	if err != nil {
		return nil, err
	}
	s.cache.InvalidateAll()
	return out, nil
}

// DeleteIdentity deletes an identity; its keys stay, unlinked.
func (s *Service) DeleteIdentity(ctx context.Context, a Actor, id string) error {
	err := s.store.Tx(ctx, func(tx auth.Tx) error {
		before, err := itx(tx).GetIdentity(id)
		if errors.Is(err, auth.ErrNotFound) {
			return notFound("identity")
		} else if err != nil {
			return err
		}
		if err := a.require(auth.ScopeIdentitiesWrite, before.AppID); err != nil {
			return err
		}
		if err := itx(tx).DeleteIdentity(id); err != nil {
			return err
		}
		return s.audit(tx, a, "identity.delete", "identity", id, before, nil)
	})
	if err == nil {
		s.cache.InvalidateAll()
	}
	return err
}

// ---- roles ----

var roleNameOK = permissionRE

func (s *Service) validateRole(r *auth.Role) error {
	if !roleNameOK.MatchString(r.Name) || strings.Contains(r.Name, "*") {
		return invalid("invalid_name", "role names are 1-128 characters of A-Z a-z 0-9 _ - : .")
	}
	if err := validText("description", r.Description, 1000, false); err != nil {
		return err
	}
	r.Permissions = dedupe(r.Permissions)
	return validPermissions(r.Permissions)
}

// CreateRole creates a role. ErrConflict (role_exists) on a taken name.
func (s *Service) CreateRole(ctx context.Context, a Actor, in *auth.Role, idem *Idempotency) (*auth.Role, error) {
	if err := a.require(auth.ScopeRolesWrite, ""); err != nil {
		return nil, err
	}
	if err := s.validateRole(in); err != nil {
		return nil, err
	}
	out, err := idempotent(ctx, s, idem, func(tx auth.Tx) (*auth.Role, error) {
		now := s.clock()
		r := *in
		r.ID, r.CreatedAt, r.UpdatedAt = auth.NewID("role", now), now, now
		if err := itx(tx).InsertRole(&r); err != nil {
			return nil, err
		}
		return &r, s.audit(tx, a, "role.create", "role", r.ID, nil, &r)
	})
	if err == nil {
		// Keys may still name a deleted role of this name: it grants again.
		s.cache.InvalidateAll()
	}
	return out, err
}

func (s *Service) GetRole(ctx context.Context, a Actor, id string) (*auth.Role, error) {
	if err := a.require(auth.ScopeRolesRead, ""); err != nil {
		return nil, err
	}
	r, err := s.ids().GetRole(ctx, id)
	if errors.Is(err, auth.ErrNotFound) {
		return nil, notFound("role")
	}
	return r, err
}

func (s *Service) ListRoles(ctx context.Context, a Actor, p auth.Page) ([]*auth.Role, string, error) {
	if err := a.require(auth.ScopeRolesRead, ""); err != nil {
		return nil, "", err
	}
	return s.ids().ListRoles(ctx, p)
}

func (s *Service) UpdateRole(ctx context.Context, a Actor, id string, patch func(*auth.Role) error) (*auth.Role, error) {
	if err := a.require(auth.ScopeRolesWrite, ""); err != nil {
		return nil, err
	}
	var out *auth.Role
	err := s.store.Tx(ctx, func(tx auth.Tx) error {
		before, err := itx(tx).GetRole(id)
		if errors.Is(err, auth.ErrNotFound) {
			return notFound("role")
		} else if err != nil {
			return err
		}
		after := *before
		if err := patch(&after); err != nil {
			return err
		}
		if err := s.validateRole(&after); err != nil {
			return err
		}
		after.ID, after.CreatedAt, after.UpdatedAt = before.ID, before.CreatedAt, s.clock()
		if err := itx(tx).UpdateRole(&after); err != nil {
			return err
		}
		out = &after
		return s.audit(tx, a, "role.update", "role", id, before, &after)
	})
	if err != nil {
		return nil, err
	}
	s.cache.InvalidateAll()
	return out, nil
}

func (s *Service) DeleteRole(ctx context.Context, a Actor, id string) error {
	if err := a.require(auth.ScopeRolesWrite, ""); err != nil {
		return err
	}
	err := s.store.Tx(ctx, func(tx auth.Tx) error {
		before, err := itx(tx).GetRole(id)
		if errors.Is(err, auth.ErrNotFound) {
			return notFound("role")
		} else if err != nil {
			return err
		}
		if err := itx(tx).DeleteRole(id); err != nil {
			return err
		}
		return s.audit(tx, a, "role.delete", "role", id, before, nil)
	})
	if err == nil {
		s.cache.InvalidateAll()
	}
	return err
}

// ---- rate-limit overrides ----

func validNamespace(ns string) error {
	if ns == "" || len(ns) > 128 || strings.ContainsAny(ns, " \t\r\n*") {
		return invalid("invalid_namespace", "namespace must be 1-128 characters without spaces or *")
	}
	return nil
}

func (s *Service) validateOverride(o *auth.RateLimitOverride) error {
	if err := validNamespace(o.Namespace); err != nil {
		return err
	}
	if o.Identifier == "" || len(o.Identifier) > 256 || strings.Count(o.Identifier, "*") > 8 {
		return invalid("invalid_identifier", "identifier must be 1-256 characters with at most 8 '*'")
	}
	if o.Limit < 0 || o.Duration <= 0 || o.Duration > 366*24*time.Hour {
		return invalid("invalid_ratelimit", "limit must be 0 or more and duration_ms positive (at most a year)")
	}
	return nil
}

func (s *Service) CreateOverride(ctx context.Context, a Actor, in *auth.RateLimitOverride, idem *Idempotency) (*auth.RateLimitOverride, error) {
	if err := a.require(auth.ScopeRateLimitsWrite, ""); err != nil {
		return nil, err
	}
	if err := s.validateOverride(in); err != nil {
		return nil, err
	}
	out, err := idempotent(ctx, s, idem, func(tx auth.Tx) (*auth.RateLimitOverride, error) {
		now := s.clock()
		o := *in
		o.ID, o.CreatedAt, o.UpdatedAt = auth.NewID("rlo", now), now, now
		if err := itx(tx).InsertOverride(&o); err != nil {
			return nil, err
		}
		return &o, s.audit(tx, a, "ratelimit_override.create", "ratelimit_override", o.ID, nil, &o)
	})
	if err == nil {
		s.cache.InvalidateAll()
	}
	return out, err
}

func (s *Service) ListOverrides(ctx context.Context, a Actor, namespace string, p auth.Page) ([]*auth.RateLimitOverride, string, error) {
	if err := a.require(auth.ScopeRateLimitsRead, ""); err != nil {
		return nil, "", err
	}
	if err := validNamespace(namespace); err != nil {
		return nil, "", err
	}
	return s.ids().ListOverrides(ctx, namespace, p)
}

func (s *Service) DeleteOverride(ctx context.Context, a Actor, id string) error {
	if err := a.require(auth.ScopeRateLimitsWrite, ""); err != nil {
		return err
	}
	defer s.cache.InvalidateAll()
	return s.store.Tx(ctx, func(tx auth.Tx) error {
		before, err := itx(tx).GetOverride(id)
		if errors.Is(err, auth.ErrNotFound) {
			return notFound("ratelimit_override")
		} else if err != nil {
			return err
		}
		if err := itx(tx).DeleteOverride(id); err != nil {
			return err
		}
		return s.audit(tx, a, "ratelimit_override.delete", "ratelimit_override", id, before, nil)
	})
}

// ApplyChange applies a PermissionsChange-like edit to a list.
func ApplyChange(list, add, remove []string, set *[]string) ([]string, error) {
	if set != nil {
		if len(add) > 0 || len(remove) > 0 {
			return nil, invalid("invalid_change", "give set, or add and/or remove, not both")
		}
		return dedupe(*set), nil
	}
	out := slices.Clone(list)
	out = append(out, add...)
	out = slices.DeleteFunc(out, func(p string) bool { return slices.Contains(remove, p) })
	return dedupe(out), nil
}
