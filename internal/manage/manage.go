// Package manage holds the management use cases (apps, keys, root keys,
// audit) shared by the HTTP API, the CLI and the console. Every write runs in
// one store transaction with its audit entry, checks the caller's scopes
// against the target, and evicts what it changed from the verify cache before
// it returns.
package manage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/typeauth/typeauth/internal/auth"
	"github.com/typeauth/typeauth/internal/keyfmt"
	"github.com/typeauth/typeauth/internal/wire"
)

// Cache is what management needs of the verifier: eviction after a change.
type Cache interface {
	InvalidateKey(keyID string, hashes ...[32]byte)
	InvalidateAll()
}

// Service runs management use cases.
type Service struct {
	store auth.Store
	cache Cache
	now   func() time.Time
	log   *slog.Logger
	tok   TokenOptions // see EnableTokens
}

// New returns a Service. now may be nil (time.Now).
func New(store auth.Store, cache Cache, now func() time.Time, log *slog.Logger) *Service {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{store: store, cache: cache, now: now, log: log}
	s.EnableTokens(TokenOptions{})
	return s
}

// Actor is who calls: a root key and the address it called from.
type Actor struct {
	RootKey    *auth.RootKey
	RemoteAddr string
}

func (a Actor) id() string {
	if a.RootKey == nil {
		return "system"
	}
	return a.RootKey.ID
}

// System is the actor for changes TypeAuth makes itself (bootstrap).
var System = Actor{RootKey: &auth.RootKey{ID: "system", Scopes: []string{auth.ScopeAll}}}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

func (a Actor) require(scope, appID string) error {
	if !a.RootKey.Allows(scope, appID) {
		return auth.Errorf(auth.ErrForbidden, "insufficient_scope", "the root key lacks the scope "+scope+scopeApp(appID))
	}
	return nil
}

func scopeApp(appID string) string {
	if appID == "" {
		return ""
	}
	return " for app " + appID
}

func invalid(code, msg string) error { return auth.Errorf(auth.ErrInvalid, code, msg) }

func notFound(what string) error {
	return auth.Errorf(auth.ErrNotFound, what+"_not_found", what+" not found")
}

// audit builds an entry; before/after are shown as the API shows them.
func (s *Service) audit(tx auth.Tx, a Actor, action, targetType, targetID string, before, after any) error {
	e := &auth.AuditEntry{
		ID: auth.NewID("aud", s.now()), Time: s.clock(), ActorID: a.id(), Action: action,
		TargetType: targetType, TargetID: targetID, RemoteAddr: a.RemoteAddr,
	}
	var err error
	if e.Before, err = auditJSON(before); err != nil {
		return err
	}
	if e.After, err = auditJSON(after); err != nil {
		return err
	}
	return tx.AppendAudit(e)
}

func auditJSON(v any) (json.RawMessage, error) {
	if v == nil {
		return nil, nil
	}
	switch x := v.(type) {
	case *auth.App:
		v = wire.App(x)
	case *auth.Key:
		v = wire.Key(x)
	case *auth.RootKey:
		v = wire.RootKey(x)
	case *auth.Identity:
		v = wire.Identity(x)
	case *auth.Role:
		v = wire.Role(x)
	case *auth.RateLimitOverride:
		v = wire.Override(x)
	}
	return json.Marshal(v)
}

func validText(field, v string, max int, required bool) error {
	if required && strings.TrimSpace(v) == "" {
		return invalid("invalid_"+field, field+" is required")
	}
	if len(v) > max || !utf8.ValidString(v) {
		return invalid("invalid_"+field, fmt.Sprintf("%s must be valid UTF-8 of at most %d bytes", field, max))
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f {
			return invalid("invalid_"+field, field+" must not contain control characters")
		}
	}
	return nil
}

// ---- apps ----

// CreateApp creates an app. Returns ErrConflict (key_prefix_taken) if the
// prefix is in use.
func (s *Service) CreateApp(ctx context.Context, a Actor, name, prefix string, idem *Idempotency) (*auth.App, error) {
	if err := a.require(auth.ScopeAppsWrite, ""); err != nil {
		return nil, err
	}
	if err := validText("name", name, 200, true); err != nil {
		return nil, err
	}
	if !keyfmt.ValidPrefix(prefix) {
		return nil, invalid("invalid_key_prefix", "key_prefix must be 1-20 characters of a-z, 0-9 and _, start with a letter and not end with _")
	}
	return idempotent(ctx, s, idem, func(tx auth.Tx) (*auth.App, error) {
		now := s.clock()
		app := &auth.App{ID: auth.NewID("app", now), Name: name, KeyPrefix: prefix, CreatedAt: now, UpdatedAt: now}
		if err := tx.InsertApp(app); err != nil {
			return nil, err
		}
		return app, s.audit(tx, a, "app.create", "app", app.ID, nil, app)
	})
}

func (s *Service) GetApp(ctx context.Context, a Actor, id string) (*auth.App, error) {
	if err := a.require(auth.ScopeAppsRead, id); err != nil {
		return nil, err
	}
	app, err := s.store.GetApp(ctx, id)
	if errors.Is(err, auth.ErrNotFound) {
		return nil, notFound("app")
	}
	return app, err
}

func (s *Service) ListApps(ctx context.Context, a Actor, p auth.Page) ([]*auth.App, string, error) {
	if err := a.require(auth.ScopeAppsRead, ""); err != nil {
		return nil, "", err
	}
	return s.store.ListApps(ctx, p)
}

// UpdateApp renames an app (the key prefix is fixed: keys carry it).
func (s *Service) UpdateApp(ctx context.Context, a Actor, id string, name *string) (*auth.App, error) {
	app, _, err := s.UpdateAppAndTokens(ctx, a, id, name, nil)
	return app, err
}

// UpdateAppAndTokens renames an app (name not nil) and changes its token
// settings (p not nil) in one transaction: both land, or neither. It
// returns the app and, when p is set, the new token settings.
func (s *Service) UpdateAppAndTokens(ctx context.Context, a Actor, id string, name *string, p *AppTokenPatch) (*auth.App, *auth.TokenSettings, error) {
	if err := a.require(auth.ScopeAppsWrite, id); err != nil {
		return nil, nil, err
	}
	if name != nil {
		if err := validText("name", *name, 200, true); err != nil {
			return nil, nil, err
		}
	}
	var out *auth.App
	var ts *auth.TokenSettings
	err := s.store.Tx(ctx, func(tx auth.Tx) error {
		before, err := tx.GetApp(id)
		if err != nil {
			return err
		}
		out = before
		if name != nil || p == nil {
			after := *before
			if name != nil {
				after.Name = *name
			}
			after.UpdatedAt = s.clock()
			if err := tx.UpdateApp(&after); err != nil {
				return err
			}
			out = &after
			if err := s.audit(tx, a, "app.update", "app", id, before, &after); err != nil {
				return err
			}
		}
		if p != nil {
			ts, err = s.updateAppTokensTx(tx, a, id, p)
			return err
		}
		return nil
	})
	if errors.Is(err, auth.ErrNotFound) {
		return nil, nil, notFound("app")
	}
	if err != nil {
		return nil, nil, err
	}
	return out, ts, nil
}

// DeleteApp deletes an app and every key of it.
func (s *Service) DeleteApp(ctx context.Context, a Actor, id string) error {
	if err := a.require(auth.ScopeAppsWrite, id); err != nil {
		return err
	}
	err := s.store.Tx(ctx, func(tx auth.Tx) error {
		before, err := tx.GetApp(id)
		if err != nil {
			return err
		}
		if err := tx.DeleteApp(id); err != nil {
			return err
		}
		return s.audit(tx, a, "app.delete", "app", id, before, nil)
	})
	if errors.Is(err, auth.ErrNotFound) {
		return notFound("app")
	}
	if err == nil {
		s.cache.InvalidateAll()
	}
	return err
}
