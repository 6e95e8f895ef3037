package postgres

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

// scanner is pgx.Row or pgx.Rows.
type scanner interface{ Scan(dest ...any) error }

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

// nullMS is NULL for a nil or zero time.
func nullMS(t *time.Time) any {
	if t == nil || t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

func fromNullMS(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMS(v.Int64)
	return &t
}

// nullBytes is NULL for a nil slice.
func nullBytes(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

func hash32(b []byte) ([32]byte, error) {
	var h [32]byte
	if len(b) != 32 {
		return h, fmt.Errorf("postgres: stored hash has %d bytes, want 32", len(b))
	}
	copy(h[:], b)
	return h, nil
}

// rateLimitJSON is the stored form of auth.RateLimit (durations in ns).
type rateLimitJSON struct {
	Name      string `json:"name"`
	Limit     int64  `json:"limit"`
	Duration  int64  `json:"duration_ns"`
	AutoApply bool   `json:"auto_apply,omitempty"`
}

// jsonText encodes v as a JSON column value; a nil slice is NULL.
func jsonText[T any](v []T) (any, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

func fromJSONText[T any](s sql.NullString) ([]T, error) {
	if !s.Valid {
		return nil, nil
	}
	var v []T
	if err := json.Unmarshal([]byte(s.String), &v); err != nil {
		return nil, err
	}
	return v, nil
}

const keyColumns = `id, app_id, name, owner_id, identity_id, meta, enabled, expires_at,
	credits_remaining, refill_amount, refill_interval, last_refill_at,
	rate_limits, permissions, roles, ip_allowlist, start, created_at, updated_at`

// keyArgs returns the values of keyColumns for k, in order.
func keyArgs(k *auth.Key) ([]any, error) {
	var remaining, refillAmount, refillInterval, lastRefill any
	if c := k.Credits; c != nil {
		remaining, refillAmount = c.Remaining, c.RefillAmount
		if c.RefillInterval != "" {
			refillInterval = string(c.RefillInterval)
		}
		lastRefill = nullMS(&c.LastRefillAt)
	}
	var rls []rateLimitJSON
	if k.RateLimits != nil {
		rls = make([]rateLimitJSON, len(k.RateLimits))
		for i, r := range k.RateLimits {
			rls[i] = rateLimitJSON{Name: r.Name, Limit: r.Limit, Duration: int64(r.Duration), AutoApply: r.AutoApply}
		}
	}
	rl, err := jsonText(rls)
	if err != nil {
		return nil, err
	}
	perms, err := jsonText(k.Permissions)
	if err != nil {
		return nil, err
	}
	roles, err := jsonText(k.Roles)
	if err != nil {
		return nil, err
	}
	ips, err := jsonText(k.IPAllowlist)
	if err != nil {
		return nil, err
	}
	var meta any
	if k.Meta != nil {
		meta = []byte(k.Meta)
	}
	return []any{k.ID, k.AppID, k.Name, k.OwnerID, k.IdentityID, meta, k.Enabled, nullMS(k.ExpiresAt),
		remaining, refillAmount, refillInterval, lastRefill,
		rl, perms, roles, ips, k.Start, ms(k.CreatedAt), ms(k.UpdatedAt)}, nil
}

func scanKey(sc scanner, extra ...any) (*auth.Key, error) {
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
	k.ExpiresAt = fromNullMS(expires)
	if remaining.Valid {
		k.Credits = &auth.Credits{
			Remaining:      remaining.Int64,
			RefillAmount:   refillAmount.Int64,
			RefillInterval: auth.RefillInterval(refillInterval.String),
		}
		if lastRefill.Valid {
			k.Credits.LastRefillAt = fromMS(lastRefill.Int64)
		}
	}
	rls, err := fromJSONText[rateLimitJSON](rl)
	if err != nil {
		return nil, fmt.Errorf("postgres: key %s rate_limits: %w", k.ID, err)
	}
	if rls != nil {
		k.RateLimits = make([]auth.RateLimit, len(rls))
		for i, r := range rls {
			k.RateLimits[i] = auth.RateLimit{Name: r.Name, Limit: r.Limit, Duration: time.Duration(r.Duration), AutoApply: r.AutoApply}
		}
	}
	if k.Permissions, err = fromJSONText[string](perms); err != nil {
		return nil, fmt.Errorf("postgres: key %s permissions: %w", k.ID, err)
	}
	if k.Roles, err = fromJSONText[string](roles); err != nil {
		return nil, fmt.Errorf("postgres: key %s roles: %w", k.ID, err)
	}
	if k.IPAllowlist, err = fromJSONText[netip.Prefix](ips); err != nil {
		return nil, fmt.Errorf("postgres: key %s ip_allowlist: %w", k.ID, err)
	}
	k.CreatedAt, k.UpdatedAt = fromMS(created), fromMS(updated)
	return &k, nil
}

const appColumns = `id, name, key_prefix, created_at, updated_at`

func scanApp(sc scanner) (*auth.App, error) {
	var a auth.App
	var created, updated int64
	if err := sc.Scan(&a.ID, &a.Name, &a.KeyPrefix, &created, &updated); err != nil {
		return nil, err
	}
	a.CreatedAt, a.UpdatedAt = fromMS(created), fromMS(updated)
	return &a, nil
}

const secretColumns = `hash, key_id, start, created_at, expires_at`

func scanSecret(sc scanner) (*auth.Secret, error) {
	var s auth.Secret
	var h []byte
	var created int64
	var expires sql.NullInt64
	if err := sc.Scan(&h, &s.KeyID, &s.Start, &created, &expires); err != nil {
		return nil, err
	}
	var err error
	if s.Hash, err = hash32(h); err != nil {
		return nil, err
	}
	s.CreatedAt, s.ExpiresAt = fromMS(created), fromNullMS(expires)
	return &s, nil
}

const rootKeyColumns = `id, name, scopes, start, created_at, revoked_at`

func scanRootKey(sc scanner) (*auth.RootKey, error) {
	var r auth.RootKey
	var scopes string
	var created int64
	var revoked sql.NullInt64
	if err := sc.Scan(&r.ID, &r.Name, &scopes, &r.Start, &created, &revoked); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(scopes), &r.Scopes); err != nil {
		return nil, fmt.Errorf("postgres: root key %s scopes: %w", r.ID, err)
	}
	r.CreatedAt, r.RevokedAt = fromMS(created), fromNullMS(revoked)
	return &r, nil
}

const auditColumns = `seq, id, time, actor_id, action, target_type, target_id, remote_addr, before, after, prev_hash, hash`

func scanAudit(sc scanner) (*auth.AuditEntry, error) {
	var e auth.AuditEntry
	var t int64
	var before, after, prev, h []byte
	if err := sc.Scan(&e.Seq, &e.ID, &t, &e.ActorID, &e.Action, &e.TargetType, &e.TargetID, &e.RemoteAddr,
		&before, &after, &prev, &h); err != nil {
		return nil, err
	}
	e.Time = fromMS(t)
	if before != nil {
		e.Before = json.RawMessage(before)
	}
	if after != nil {
		e.After = json.RawMessage(after)
	}
	var err error
	if e.PrevHash, err = hash32(prev); err != nil {
		return nil, err
	}
	if e.Hash, err = hash32(h); err != nil {
		return nil, err
	}
	return &e, nil
}

// Pagination.

const (
	defaultLimit = 50
	maxLimit     = 1000
)

func pageLimit(p auth.Page) int {
	switch {
	case p.Limit <= 0:
		return defaultLimit
	case p.Limit > maxLimit:
		return maxLimit
	}
	return p.Limit
}

func encodeCursor(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func decodeCursor(c string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) == 0 {
		return "", auth.Errorf(auth.ErrInvalid, "invalid_cursor", "invalid page cursor")
	}
	return string(b), nil
}

func decodeSeqCursor(c string) (int64, error) {
	s, err := decodeCursor(c)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, auth.Errorf(auth.ErrInvalid, "invalid_cursor", "invalid page cursor")
	}
	return n, nil
}
