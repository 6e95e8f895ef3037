package rowcodec

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/typeauth/typeauth/internal/auth"
)

// NullString is NULL for "".
func NullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func RateLimitsText(rls []auth.RateLimit) (any, error) {
	if rls == nil {
		return nil, nil
	}
	out := make([]RateLimitJSON, len(rls))
	for i, r := range rls {
		out[i] = RateLimitJSON{Name: r.Name, Limit: r.Limit, Duration: int64(r.Duration), AutoApply: r.AutoApply}
	}
	return JSONText(out)
}

func FromRateLimitsText(s sql.NullString) ([]auth.RateLimit, error) {
	rls, err := FromJSONText[RateLimitJSON](s)
	if err != nil || rls == nil {
		return nil, err
	}
	out := make([]auth.RateLimit, len(rls))
	for i, r := range rls {
		out[i] = auth.RateLimit{Name: r.Name, Limit: r.Limit, Duration: time.Duration(r.Duration), AutoApply: r.AutoApply}
	}
	return out, nil
}

// Identities.

const IdentityColumns = `id, app_id, external_id, meta, rate_limits, permissions, roles, created_at, updated_at`

// IdentityArgs returns the values of IdentityColumns for i, in order.
func IdentityArgs(i *auth.Identity) ([]any, error) {
	rl, err := RateLimitsText(i.RateLimits)
	if err != nil {
		return nil, err
	}
	perms, err := JSONText(i.Permissions)
	if err != nil {
		return nil, err
	}
	roles, err := JSONText(i.Roles)
	if err != nil {
		return nil, err
	}
	return []any{i.ID, NullString(i.AppID), i.ExternalID, NullBytes(i.Meta), rl, perms, roles,
		MS(i.CreatedAt), MS(i.UpdatedAt)}, nil
}

func ScanIdentity(sc Scanner) (*auth.Identity, error) {
	var (
		i                auth.Identity
		appID            sql.NullString
		meta             []byte
		rl, perms, roles sql.NullString
		created, updated int64
	)
	if err := sc.Scan(&i.ID, &appID, &i.ExternalID, &meta, &rl, &perms, &roles, &created, &updated); err != nil {
		return nil, err
	}
	i.AppID = appID.String
	if meta != nil {
		i.Meta = json.RawMessage(meta)
	}
	var err error
	if i.RateLimits, err = FromRateLimitsText(rl); err != nil {
		return nil, fmt.Errorf("store: identity %s rate_limits: %w", i.ID, err)
	}
	if i.Permissions, err = FromJSONText[string](perms); err != nil {
		return nil, fmt.Errorf("store: identity %s permissions: %w", i.ID, err)
	}
	if i.Roles, err = FromJSONText[string](roles); err != nil {
		return nil, fmt.Errorf("store: identity %s roles: %w", i.ID, err)
	}
	i.CreatedAt, i.UpdatedAt = FromMS(created), FromMS(updated)
	return &i, nil
}
