package manage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"time"

	"github.com/typeauth/typeauth/internal/auth"
	"github.com/typeauth/typeauth/internal/keyfmt"
)

// Bounds on what a key may carry.
const (
	MaxMetaBytes   = 16 << 10
	MaxPermissions = 1000
	MaxIPAllowlist = 100
	MaxRateLimits  = 32
	MaxGracePeriod = 30 * 24 * time.Hour
)

var permissionRE = regexp.MustCompile(`^[A-Za-z0-9_\-:.*]{1,128}$`)

// CreatedKey is a new key with its secret, returned once.
type CreatedKey struct {
	Key    *auth.Key
	Secret string
}

func (s *Service) validateKey(k *auth.Key) error {
	if err := validText("name", k.Name, 200, false); err != nil {
		return err
	}
	if err := validText("owner_id", k.OwnerID, 256, false); err != nil {
		return err
	}
	if len(k.Meta) > 0 {
		if len(k.Meta) > MaxMetaBytes {
			return invalid("invalid_meta", fmt.Sprintf("meta must be at most %d bytes", MaxMetaBytes))
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, k.Meta); err != nil || buf.Len() == 0 || buf.Bytes()[0] != '{' {
			return invalid("invalid_meta", "meta must be a JSON object")
		}
		k.Meta = buf.Bytes()
	}
	k.Permissions, k.Roles = dedupe(k.Permissions), dedupe(k.Roles)
	if err := validPermissions(k.Permissions); err != nil {
		return err
	}
	if len(k.IPAllowlist) > MaxIPAllowlist {
		return invalid("invalid_ip", fmt.Sprintf("at most %d ip_allowlist entries", MaxIPAllowlist))
	}
	if len(k.RateLimits) > MaxRateLimits {
		return invalid("invalid_ratelimit", fmt.Sprintf("at most %d rate limits", MaxRateLimits))
	}
	if c := k.Credits; c != nil {
		if c.Remaining < 0 {
			return invalid("invalid_credits", "credits.remaining must be 0 or more")
		}
		if c.RefillAmount < 0 || (c.RefillAmount > 0 && c.RefillInterval != auth.RefillDaily && c.RefillInterval != auth.RefillMonthly) {
			return invalid("invalid_credits", `credits.refill needs an amount above 0 and an interval of "daily" or "monthly"`)
		}
	}
	if k.ExpiresAt != nil {
		t := k.ExpiresAt.UTC().Truncate(time.Millisecond)
		k.ExpiresAt = &t
	}
	return nil
}

// CreateKey creates a key in k.AppID from the fields of k and returns it with
// its secret. Only the secret's hash is stored.
func (s *Service) CreateKey(ctx context.Context, a Actor, k *auth.Key, idem *Idempotency) (*CreatedKey, error) {
	if k.AppID == "" {
		return nil, invalid("invalid_app_id", "app_id is required")
	}
	if err := a.require(auth.ScopeKeysWrite, k.AppID); err != nil {
		return nil, err
	}
	if err := s.validateKey(k); err != nil {
		return nil, err
	}
	out, err := idempotent(ctx, s, idem, func(tx auth.Tx) (*CreatedKey, error) {
		app, err := tx.GetApp(k.AppID)
		if errors.Is(err, auth.ErrNotFound) {
			return nil, notFound("app")
		} else if err != nil {
			return nil, err
		}
		if err := checkIdentity(tx, k.IdentityID, k.AppID); err != nil {
			return nil, err
		}
		if err := checkRoles(tx, k.Roles); err != nil {
			return nil, err
		}
		secret, err := keyfmt.Generate(app.KeyPrefix)
		if err != nil {
			return nil, err
		}
		now := s.clock()
		nk := *k
		nk.ID = auth.NewID("key", now)
		nk.Start = keyfmt.Start(secret)
		nk.CreatedAt, nk.UpdatedAt = now, now
		if nk.Credits != nil && nk.Credits.RefillAmount > 0 && nk.Credits.LastRefillAt.IsZero() {
			nk.Credits.LastRefillAt = nk.Credits.RefillInterval.PeriodStart(now)
		}
		sec := auth.Secret{Hash: keyfmt.Hash(secret), KeyID: nk.ID, Start: nk.Start, CreatedAt: now}
		if err := tx.InsertKey(&nk, sec); err != nil {
			return nil, err
		}
		if err := s.sealSecret(tx, nk.AppID, nk.ID, secret); err != nil {
			return nil, err
		}
		return &CreatedKey{Key: &nk, Secret: secret}, s.audit(tx, a, "key.create", "key", nk.ID, nil, &nk)
	})
	if err != nil {
		return nil, err
	}
	// A verify of this secret may have cached "unknown" a moment ago.
	s.cache.InvalidateKey(out.Key.ID, keyfmt.Hash(out.Secret))
	return out, nil
}

// loadKey reads a key and checks the actor may act on its app.
func (s *Service) loadKey(tx auth.Tx, a Actor, id, scope string) (*auth.Key, error) {
	k, err := tx.GetKey(id)
	if errors.Is(err, auth.ErrNotFound) {
		return nil, notFound("key")
	} else if err != nil {
		return nil, err
	}
	if err := a.requireKeyAccess(scope, k.AppID); err != nil {
		return nil, err
	}
	return k, nil
}

// requireKeyAccess checks scope on a key's app. A caller with no key scope
// at all on that app is told the key does not exist (404, as for a missing
// id), so that a narrowed root key cannot probe other apps' key ids; one
// that can see the key but lacks this scope gets 403.
func (a Actor) requireKeyAccess(scope, appID string) error {
	if !a.RootKey.Allows(auth.ScopeKeysRead, appID) && !a.RootKey.Allows(scope, appID) {
		return notFound("key")
	}
	return a.require(scope, appID)
}

func (s *Service) GetKey(ctx context.Context, a Actor, id string) (*auth.Key, error) {
	k, err := s.store.GetKey(ctx, id)
	if errors.Is(err, auth.ErrNotFound) {
		return nil, notFound("key")
	} else if err != nil {
		return nil, err
	}
	if err := a.requireKeyAccess(auth.ScopeKeysRead, k.AppID); err != nil {
		return nil, err
	}
	return k, nil
}

// ListKeys lists keys of an app and/or an owner. A root key narrowed to one
// app must name that app.
func (s *Service) ListKeys(ctx context.Context, a Actor, f auth.KeyFilter, p auth.Page) ([]*auth.Key, string, error) {
	if f.AppID == "" && f.OwnerID == "" {
		return nil, "", invalid("missing_filter", "name app_id, owner_id or both")
	}
	if err := a.require(auth.ScopeKeysRead, f.AppID); err != nil {
		return nil, "", err
	}
	return s.store.ListKeys(ctx, f, p)
}

// UpdateKey applies patch to the key and stores the result.
func (s *Service) UpdateKey(ctx context.Context, a Actor, id string, patch func(*auth.Key) error) (*auth.Key, error) {
	var out *auth.Key
	err := s.store.Tx(ctx, func(tx auth.Tx) error {
		before, err := s.loadKey(tx, a, id, auth.ScopeKeysWrite)
		if err != nil {
			return err
		}
		after := *before
		if err := patch(&after); err != nil {
			return err
		}
		if err := s.validateKey(&after); err != nil {
			return err
		}
		if after.IdentityID != before.IdentityID {
			if err := checkIdentity(tx, after.IdentityID, before.AppID); err != nil {
				return err
			}
		}
		if !slices.Equal(after.Roles, before.Roles) {
			if err := checkRoles(tx, after.Roles); err != nil {
				return err
			}
		}
		if c := after.Credits; c != nil && c.RefillAmount > 0 && c.LastRefillAt.IsZero() {
			c.LastRefillAt = c.RefillInterval.PeriodStart(s.clock())
		}
		after.ID, after.AppID, after.Start, after.CreatedAt = before.ID, before.AppID, before.Start, before.CreatedAt
		after.UpdatedAt = s.clock()
		if err := tx.UpdateKey(&after); err != nil {
			return err
		}
		out = &after
		return s.audit(tx, a, "key.update", "key", id, before, &after)
	})
	if err != nil {
		return nil, err
	}
	s.cache.InvalidateKey(id)
	return out, nil
}

// RollKey gives a key a new secret. The old one keeps working for grace (0:
// it stops at once).
func (s *Service) RollKey(ctx context.Context, a Actor, id string, grace time.Duration) (*CreatedKey, error) {
	if grace < 0 || grace > MaxGracePeriod {
		return nil, invalid("invalid_grace_period", "grace_period_ms must be between 0 and 30 days")
	}
	var out *CreatedKey
	err := s.store.Tx(ctx, func(tx auth.Tx) error {
		before, err := s.loadKey(tx, a, id, auth.ScopeKeysWrite)
		if err != nil {
			return err
		}
		app, err := tx.GetApp(before.AppID)
		if err != nil {
			return err
		}
		secret, err := keyfmt.Generate(app.KeyPrefix)
		if err != nil {
			return err
		}
		now := s.clock()
		if err := tx.ExpireSecrets(id, now.Add(grace), now); err != nil {
			return err
		}
		after := *before
		after.Start = keyfmt.Start(secret)
		after.UpdatedAt = now
		if err := tx.InsertSecret(auth.Secret{Hash: keyfmt.Hash(secret), KeyID: id, Start: after.Start, CreatedAt: now}); err != nil {
			return err
		}
		// Drop a secret sealed before (while the app was recoverable): it is
		// rolled away and must not be revealed if the app opts in again.
		if err := tx.PutSealedSecret(id, nil); err != nil {
			return err
		}
		if err := s.sealSecret(tx, before.AppID, id, secret); err != nil {
			return err
		}
		if err := tx.UpdateKey(&after); err != nil {
			return err
		}
		out = &CreatedKey{Key: &after, Secret: secret}
		return s.audit(tx, a, "key.roll", "key", id, before, map[string]any{"start": after.Start, "grace_period_ms": grace.Milliseconds()})
	})
	if err != nil {
		return nil, err
	}
	s.cache.InvalidateKey(id, keyfmt.Hash(out.Secret))
	return out, nil
}

// RevokeKey deletes a key: its secrets stop verifying before this returns.
func (s *Service) RevokeKey(ctx context.Context, a Actor, id string) error {
	err := s.store.Tx(ctx, func(tx auth.Tx) error {
		before, err := s.loadKey(tx, a, id, auth.ScopeKeysWrite)
		if err != nil {
			return err
		}
		if err := tx.DeleteKey(id); err != nil {
			return err
		}
		return s.audit(tx, a, "key.delete", "key", id, before, nil)
	})
	if err != nil {
		return err
	}
	s.cache.InvalidateKey(id)
	return nil
}

// CreditOp is a change to a key's remaining credits.
type CreditOp string

const (
	CreditSet       CreditOp = "set"
	CreditIncrement CreditOp = "increment"
	CreditDecrement CreditOp = "decrement"
)

// AdjustCredits sets, increments or decrements (flooring at 0) a key's
// remaining credits. ErrInvalid if the key has no credits.
func (s *Service) AdjustCredits(ctx context.Context, a Actor, id string, op CreditOp, value int64) (int64, error) {
	if value < 0 {
		return 0, invalid("invalid_credits", "value must be 0 or more")
	}
	var delta int64
	switch op {
	case CreditSet, CreditIncrement:
		delta = value
	case CreditDecrement:
		delta = -value
	default:
		return 0, invalid("invalid_op", `op must be "set", "increment" or "decrement"`)
	}
	var remaining int64
	err := s.store.Tx(ctx, func(tx auth.Tx) error {
		before, err := s.loadKey(tx, a, id, auth.ScopeKeysWrite)
		if err != nil {
			return err
		}
		if before.Credits == nil {
			return invalid("no_credits", "the key has unlimited uses: set credits with PATCH first")
		}
		if op == CreditIncrement && value > math.MaxInt64-before.Credits.Remaining {
			return invalid("invalid_credits", "the increment would take remaining credits past the maximum (9223372036854775807)")
		}
		remaining, err = tx.AdjustCredits(id, delta, op == CreditSet)
		if err != nil {
			return err
		}
		return s.audit(tx, a, "key.credits", "key", id,
			map[string]any{"remaining": before.Credits.Remaining},
			map[string]any{"op": op, "value": value, "remaining": remaining})
	})
	if err != nil {
		return 0, err
	}
	s.cache.InvalidateKey(id)
	return remaining, nil
}
