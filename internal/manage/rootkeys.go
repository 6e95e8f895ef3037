package manage

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/typeauth/typeauth/internal/auth"
	"github.com/typeauth/typeauth/internal/keyfmt"
)

// RootKeyPrefix starts every generated root key, so that secret scanners and
// people can tell a root key from an API key.
const RootKeyPrefix = "typeauth_root"

// CreatedRootKey is a new root key with its secret, returned once.
type CreatedRootKey struct {
	RootKey *auth.RootKey
	Secret  string
}

// Authenticate resolves a root key secret. Returns ErrUnauthorized for an
// unknown or revoked key.
func (s *Service) Authenticate(ctx context.Context, secret string) (*auth.RootKey, error) {
	if secret == "" || len(secret) > 512 {
		return nil, auth.Errorf(auth.ErrUnauthorized, "invalid_root_key", "a valid root key is required")
	}
	rk, err := s.store.RootKeyByHash(ctx, keyfmt.Hash(secret))
	if errors.Is(err, auth.ErrNotFound) || (err == nil && rk.RevokedAt != nil) {
		return nil, auth.Errorf(auth.ErrUnauthorized, "invalid_root_key", "the root key is unknown or revoked")
	}
	return rk, err
}

// validScope reports whether s names a known scope, optionally narrowed to
// an app for the apps.*, keys.* and identities.* scopes.
func validScope(s string) bool {
	name, app, narrowed := strings.Cut(s, ":")
	if !slices.Contains(auth.KnownScopes, name) {
		return false
	}
	if !narrowed {
		return true
	}
	return (strings.HasPrefix(name, "apps.") || strings.HasPrefix(name, "keys.") || strings.HasPrefix(name, "identities.")) &&
		strings.HasPrefix(app, "app_") && len(app) < 64 && !strings.ContainsAny(app, ": \t\r\n")
}

// CreateRootKey creates a root key. A caller can only hand out scopes it
// holds itself.
func (s *Service) CreateRootKey(ctx context.Context, a Actor, name string, scopes []string, idem *Idempotency) (*CreatedRootKey, error) {
	if err := a.require(auth.ScopeRootKeysWrite, ""); err != nil {
		return nil, err
	}
	if err := validText("name", name, 200, false); err != nil {
		return nil, err
	}
	if len(scopes) == 0 || len(scopes) > 100 {
		return nil, invalid("invalid_scopes", "scopes: name between 1 and 100 scopes")
	}
	for _, sc := range scopes {
		if !validScope(sc) {
			return nil, invalid("invalid_scopes", "unknown scope "+quote(sc)+"; known: "+strings.Join(auth.KnownScopes, ", ")+" (apps.*, keys.* and identities.* may end in :<app id>)")
		}
		if !a.holds(sc) {
			return nil, auth.Errorf(auth.ErrForbidden, "scope_escalation", "a root key cannot grant the scope "+quote(sc)+" that it does not hold")
		}
	}
	secret, err := keyfmt.Generate(RootKeyPrefix)
	if err != nil {
		return nil, err
	}
	return idempotent(ctx, s, idem, func(tx auth.Tx) (*CreatedRootKey, error) {
		return s.insertRootKey(tx, a, name, scopes, secret)
	})
}

// holds reports whether the actor holds the scope sc (possibly narrowed to
// an app) itself, so that it may grant it, or revoke a key holding it.
func (a Actor) holds(sc string) bool {
	name, app, _ := strings.Cut(sc, ":")
	if name == auth.ScopeAll && !slices.Contains(a.RootKey.Scopes, auth.ScopeAll) {
		return false
	}
	return a.RootKey.Allows(name, app)
}

func (s *Service) insertRootKey(tx auth.Tx, a Actor, name string, scopes []string, secret string) (*CreatedRootKey, error) {
	now := s.clock()
	rk := &auth.RootKey{ID: auth.NewID("rk", now), Name: name, Scopes: scopes, Start: keyfmt.Start(secret), CreatedAt: now}
	if err := tx.InsertRootKey(rk, keyfmt.Hash(secret)); err != nil {
		return nil, err
	}
	return &CreatedRootKey{RootKey: rk, Secret: secret}, s.audit(tx, a, "rootkey.create", "rootkey", rk.ID, nil, rk)
}

// Bootstrap creates the first root key (all scopes) when the store has none:
// from given when it is not empty, else generated. It returns the new key, or
// nil when root keys exist already.
func (s *Service) Bootstrap(ctx context.Context, given string) (*CreatedRootKey, error) {
	n, err := s.store.CountRootKeys(ctx)
	if err != nil || n > 0 {
		return nil, err
	}
	secret := given
	if secret == "" {
		if secret, err = keyfmt.Generate(RootKeyPrefix); err != nil {
			return nil, err
		}
	} else if len(secret) < 20 || len(secret) > 512 || strings.ContainsAny(secret, " \t\r\n") {
		return nil, invalid("invalid_root_key", "TYPEAUTH_ROOT_KEY must be 20-512 characters without spaces")
	}
	var out *CreatedRootKey
	err = s.store.Tx(ctx, func(tx auth.Tx) error {
		out, err = s.insertRootKey(tx, System, "bootstrap", []string{auth.ScopeAll}, secret)
		return err
	})
	if errors.Is(err, auth.ErrConflict) {
		return nil, nil // another process bootstrapped the same key first
	}
	return out, err
}

func (s *Service) ListRootKeys(ctx context.Context, a Actor, p auth.Page) ([]*auth.RootKey, string, error) {
	if err := a.require(auth.ScopeRootKeysRead, ""); err != nil {
		return nil, "", err
	}
	return s.store.ListRootKeys(ctx, p)
}

// RevokeRootKey revokes a root key; the last active one cannot be revoked.
func (s *Service) RevokeRootKey(ctx context.Context, a Actor, id string) error {
	if err := a.require(auth.ScopeRootKeysWrite, ""); err != nil {
		return err
	}
	return s.store.Tx(ctx, func(tx auth.Tx) error {
		// Counted and locked inside the transaction: two concurrent
		// revocations cannot each leave the other's key as the last one.
		n, err := tx.LockActiveRootKeys()
		if err != nil {
			return err
		}
		before, err := tx.GetRootKey(id)
		if errors.Is(err, auth.ErrNotFound) || err == nil && before.RevokedAt != nil {
			return notFound("root_key")
		} else if err != nil {
			return err
		}
		// A key cannot revoke one holding scopes it lacks (it could not
		// have created it): a narrow key must not lock out broader ones.
		for _, sc := range before.Scopes {
			if !a.holds(sc) {
				return auth.Errorf(auth.ErrForbidden, "scope_escalation", "a root key cannot revoke a root key holding the scope "+quote(sc)+" that it does not hold")
			}
		}
		if n <= 1 {
			return auth.Errorf(auth.ErrConflict, "last_root_key", "the last active root key cannot be revoked: create another first")
		}
		now := s.clock()
		if err := tx.RevokeRootKey(id, now); err != nil {
			return err
		}
		after := *before
		after.RevokedAt = &now
		return s.audit(tx, a, "rootkey.revoke", "rootkey", id, before, &after)
	})
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return `"` + s + `"`
}
