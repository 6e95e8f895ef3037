// Package rowcodec holds what the SQL stores share: how domain values map to
// columns (times as Unix milliseconds, lists as JSON text), the column lists
// and scanners of the common tables, and cursor pagination.
package rowcodec

import (
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/typeauth/typeauth/internal/auth"
)

// Scanner is *sql.Row, *sql.Rows, pgx.Row or pgx.Rows.
type Scanner interface{ Scan(dest ...any) error }

func MS(t time.Time) int64 { return t.UnixMilli() }

func FromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

// NullMS is NULL for a nil or zero time.
func NullMS(t *time.Time) any {
	if t == nil || t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

func FromNullMS(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := FromMS(v.Int64)
	return &t
}

// NullBytes is NULL for a nil slice.
func NullBytes(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

func Hash32(b []byte) ([32]byte, error) {
	var h [32]byte
	if len(b) != 32 {
		return h, fmt.Errorf("store: stored hash has %d bytes, want 32", len(b))
	}
	copy(h[:], b)
	return h, nil
}

// RateLimitJSON is the stored form of auth.RateLimit (durations in ns).
type RateLimitJSON struct {
	Name      string `json:"name"`
	Limit     int64  `json:"limit"`
	Duration  int64  `json:"duration_ns"`
	AutoApply bool   `json:"auto_apply,omitempty"`
}

// JSONText encodes v as a JSON column value; a nil slice is NULL.
func JSONText[T any](v []T) (any, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

func FromJSONText[T any](s sql.NullString) ([]T, error) {
	if !s.Valid {
		return nil, nil
	}
	var v []T
	if err := json.Unmarshal([]byte(s.String), &v); err != nil {
		return nil, err
	}
	return v, nil
}

const KeyColumns = `id, app_id, name, owner_id, identity_id, meta, enabled, expires_at,
	credits_remaining, refill_amount, refill_interval, last_refill_at,
	rate_limits, permissions, roles, ip_allowlist, start, created_at, updated_at`

// KeyArgs returns the values of KeyColumns for k, in order.
func KeyArgs(k *auth.Key) ([]any, error) {
	var remaining, refillAmount, refillInterval, lastRefill any
	if c := k.Credits; c != nil {
		remaining, refillAmount = c.Remaining, c.RefillAmount
		if c.RefillInterval != "" {
			refillInterval = string(c.RefillInterval)
		}
		lastRefill = NullMS(&c.LastRefillAt)
	}
	var rls []RateLimitJSON
	if k.RateLimits != nil {
		rls = make([]RateLimitJSON, len(k.RateLimits))
		for i, r := range k.RateLimits {
			rls[i] = RateLimitJSON{Name: r.Name, Limit: r.Limit, Duration: int64(r.Duration), AutoApply: r.AutoApply}
		}
	}
	rl, err := JSONText(rls)
	if err != nil {
		return nil, err
	}
	perms, err := JSONText(k.Permissions)
	if err != nil {
		return nil, err
	}
	roles, err := JSONText(k.Roles)
	if err != nil {
		return nil, err
	}
	ips, err := JSONText(k.IPAllowlist)
	if err != nil {
		return nil, err
	}
	var meta any
	if k.Meta != nil {
		meta = []byte(k.Meta)
	}
	return []any{k.ID, k.AppID, k.Name, k.OwnerID, k.IdentityID, meta, k.Enabled, NullMS(k.ExpiresAt),
		remaining, refillAmount, refillInterval, lastRefill,
		rl, perms, roles, ips, k.Start, MS(k.CreatedAt), MS(k.UpdatedAt)}, nil
}

func ScanKey(sc Scanner, extra ...any) (*auth.Key, error) {
	var (
		k                       auth.Key
		meta                    []byte
		expires, lastRefill     sql.NullInt64
		remaining, refillAmount sql.NullInt64
		refillInterval          sql.NullString
		rl, perms, roles, ips   sql.NullString
		created, updated        int64
	)
	dest := []any{&k.ID, &k.AppID, &k.Name, &k.OwnerID, &k.IdentityID, &meta, &k.Enabled, &expires,
		&remaining, &refillAmount, &refillInterval, &lastRefill,
		&rl, &perms, &roles, &ips, &k.Start, &created, &updated}
	if err := sc.Scan(append(dest, extra...)...); err != nil {
		return nil, err
	}
	if meta != nil {
		k.Meta = json.RawMessage(meta)
	}
	k.ExpiresAt = FromNullMS(expires)
	if remaining.Valid {
		k.Credits = &auth.Credits{
			Remaining:      remaining.Int64,
			RefillAmount:   refillAmount.Int64,
			RefillInterval: auth.RefillInterval(refillInterval.String),
		}
		if lastRefill.Valid {
			k.Credits.LastRefillAt = FromMS(lastRefill.Int64)
		}
	}
	rls, err := FromJSONText[RateLimitJSON](rl)
	if err != nil {
		return nil, fmt.Errorf("store: key %s rate_limits: %w", k.ID, err)
	}
	if rls != nil {
		k.RateLimits = make([]auth.RateLimit, len(rls))
		for i, r := range rls {
			k.RateLimits[i] = auth.RateLimit{Name: r.Name, Limit: r.Limit, Duration: time.Duration(r.Duration), AutoApply: r.AutoApply}
		}
	}
	if k.Permissions, err = FromJSONText[string](perms); err != nil {
		return nil, fmt.Errorf("store: key %s permissions: %w", k.ID, err)
	}
	if k.Roles, err = FromJSONText[string](roles); err != nil {
		return nil, fmt.Errorf("store: key %s roles: %w", k.ID, err)
	}
	if k.IPAllowlist, err = FromJSONText[netip.Prefix](ips); err != nil {
		return nil, fmt.Errorf("store: key %s ip_allowlist: %w", k.ID, err)
	}
	k.CreatedAt, k.UpdatedAt = FromMS(created), FromMS(updated)
	return &k, nil
}

const AppColumns = `id, name, key_prefix, created_at, updated_at`

func ScanApp(sc Scanner) (*auth.App, error) {
	var a auth.App
	var created, updated int64
	if err := sc.Scan(&a.ID, &a.Name, &a.KeyPrefix, &created, &updated); err != nil {
		return nil, err
	}
	a.CreatedAt, a.UpdatedAt = FromMS(created), FromMS(updated)
	return &a, nil
}

const SecretColumns = `hash, key_id, start, created_at, expires_at`

func ScanSecret(sc Scanner) (*auth.Secret, error) {
	var s auth.Secret
	var h []byte
	var created int64
	var expires sql.NullInt64
	if err := sc.Scan(&h, &s.KeyID, &s.Start, &created, &expires); err != nil {
		return nil, err
	}
	var err error
	if s.Hash, err = Hash32(h); err != nil {
		return nil, err
	}
	s.CreatedAt, s.ExpiresAt = FromMS(created), FromNullMS(expires)
	return &s, nil
}

const RootKeyColumns = `id, name, scopes, start, created_at, revoked_at`

func ScanRootKey(sc Scanner) (*auth.RootKey, error) {
	var r auth.RootKey
	var scopes string
	var created int64
	var revoked sql.NullInt64
	if err := sc.Scan(&r.ID, &r.Name, &scopes, &r.Start, &created, &revoked); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(scopes), &r.Scopes); err != nil {
		return nil, fmt.Errorf("store: root key %s scopes: %w", r.ID, err)
	}
	r.CreatedAt, r.RevokedAt = FromMS(created), FromNullMS(revoked)
	return &r, nil
}

const AuditColumns = `seq, id, time, actor_id, action, target_type, target_id, remote_addr, before, after, prev_hash, hash`

func ScanAudit(sc Scanner) (*auth.AuditEntry, error) {
	var e auth.AuditEntry
	var t int64
	var before, after, prev, h []byte
	if err := sc.Scan(&e.Seq, &e.ID, &t, &e.ActorID, &e.Action, &e.TargetType, &e.TargetID, &e.RemoteAddr,
		&before, &after, &prev, &h); err != nil {
		return nil, err
	}
	e.Time = FromMS(t)
	if before != nil {
		e.Before = json.RawMessage(before)
	}
	if after != nil {
		e.After = json.RawMessage(after)
	}
	var err error
	if e.PrevHash, err = Hash32(prev); err != nil {
		return nil, err
	}
	if e.Hash, err = Hash32(h); err != nil {
		return nil, err
	}
	return &e, nil
}

// Pagination.

const (
	DefaultLimit = 50
	MaxLimit     = 1000
)

func PageLimit(p auth.Page) int {
	switch {
	case p.Limit <= 0:
		return DefaultLimit
	case p.Limit > MaxLimit:
		return MaxLimit
	}
	return p.Limit
}

func EncodeCursor(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func DecodeCursor(c string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) == 0 {
		return "", auth.Errorf(auth.ErrInvalid, "invalid_cursor", "invalid page cursor")
	}
	return string(b), nil
}

func DecodeSeqCursor(c string) (int64, error) {
	s, err := DecodeCursor(c)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, auth.Errorf(auth.ErrInvalid, "invalid_cursor", "invalid page cursor")
	}
	return n, nil
}
