package client

import (
	"encoding/json"
	"time"
)

// These types are TypeAuth's wire contract. The server encodes and decodes
// exactly these, and its OpenAPI document is generated from them.

// Optional is a PATCH field: absent (Set is false), null (Null is true), or a
// value. Tag it `json:",omitzero"` so that an unset field is not sent.
type Optional[T any] struct {
	Set   bool
	Null  bool
	Value T
}

// Some returns an Optional holding v.
func Some[T any](v T) Optional[T] { return Optional[T]{Set: true, Value: v} }

// Null returns an Optional that clears the field.
func Null[T any]() Optional[T] { return Optional[T]{Set: true, Null: true} }

func (o *Optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.Value)
}

func (o Optional[T]) MarshalJSON() ([]byte, error) {
	if !o.Set || o.Null {
		return []byte("null"), nil
	}
	return json.Marshal(o.Value)
}

// IsZero makes omitzero leave an unset Optional out.
func (o Optional[T]) IsZero() bool { return !o.Set }

// List is one page of a listing. NextCursor is empty on the last page.
type List[T any] struct {
	Data       []T    `json:"data"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// Problem is an RFC 9457 problem detail, the body of every error.
type Problem struct {
	Type     string       `json:"type"`
	Title    string       `json:"title"`
	Status   int          `json:"status"`
	Detail   string       `json:"detail,omitempty"`
	Instance string       `json:"instance,omitempty"`
	Code     string       `json:"code"`
	Errors   []FieldError `json:"errors,omitempty"`
}

// FieldError names one invalid field of a request.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// App is one protected API (a keyspace).
type App struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	KeyPrefix string    `json:"key_prefix"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Token settings (shown by create, get and update; not in listings).
	Recoverable        bool     `json:"recoverable,omitempty"`
	MaxTokenTTLSeconds int64    `json:"max_token_ttl_seconds,omitempty"`
	TokenAudiences     []string `json:"token_audiences,omitempty"`
	TokenMetaClaims    []string `json:"token_meta_claims,omitempty"`
}

type CreateAppRequest struct {
	Name      string `json:"name"`
	KeyPrefix string `json:"key_prefix"`
	// Recoverable keys: secrets are also stored sealed under the master
	// key and can be revealed again (scope keys.reveal).
	Recoverable *bool `json:"recoverable,omitempty"`
	// MaxTokenTTLSeconds caps tokens exchanged for the app's keys (default 3600).
	MaxTokenTTLSeconds *int64 `json:"max_token_ttl_seconds,omitempty"`
	// TokenAudiences a token exchange may ask for besides the app id.
	TokenAudiences []string `json:"token_audiences,omitempty"`
	// TokenMetaClaims names the key meta fields copied into tokens (claim "meta").
	TokenMetaClaims []string `json:"token_meta_claims,omitempty"`
}

type UpdateAppRequest struct {
	Name               Optional[string]   `json:"name,omitzero"`
	Recoverable        Optional[bool]     `json:"recoverable,omitzero"`
	MaxTokenTTLSeconds Optional[int64]    `json:"max_token_ttl_seconds,omitzero"`
	TokenAudiences     Optional[[]string] `json:"token_audiences,omitzero"`
	TokenMetaClaims    Optional[[]string] `json:"token_meta_claims,omitzero"`
}

// Refill refills a key's credits to Amount at the start of every interval (UTC).
type Refill struct {
	Amount       int64      `json:"amount"`
	Interval     string     `json:"interval"` // "daily" or "monthly"
	LastRefillAt *time.Time `json:"last_refill_at,omitempty"`
}

// Credits is a key's usage limit.
type Credits struct {
	Remaining int64   `json:"remaining"`
	Refill    *Refill `json:"refill,omitempty"`
}

// RateLimit is a named limit of Limit requests per DurationMs.
type RateLimit struct {
	Name       string `json:"name"`
	Limit      int64  `json:"limit"`
	DurationMs int64  `json:"duration_ms"`
	AutoApply  bool   `json:"auto_apply,omitempty"`
}

// Key is an API key as the management API shows it (never its secret).
type Key struct {
	ID          string          `json:"id"`
	AppID       string          `json:"app_id"`
	Name        string          `json:"name"`
	OwnerID     string          `json:"owner_id"`
	IdentityID  string          `json:"identity_id,omitempty"`
	Meta        json.RawMessage `json:"meta"`
	Enabled     bool            `json:"enabled"`
	ExpiresAt   *time.Time      `json:"expires_at"`
	Credits     *Credits        `json:"credits"`
	RateLimits  []RateLimit     `json:"ratelimits"`
	Permissions []string        `json:"permissions"`
	Roles       []string        `json:"roles"`
	IPAllowlist []string        `json:"ip_allowlist"`
	Start       string          `json:"start"`
	CreatedAt   time.Time       `json:"created_at"`
	UpdatedAt   time.Time       `json:"updated_at"`
}

type CreateKeyRequest struct {
	AppID       string          `json:"app_id"`
	Name        string          `json:"name,omitempty"`
	OwnerID     string          `json:"owner_id,omitempty"`
	IdentityID  string          `json:"identity_id,omitempty"`
	Meta        json.RawMessage `json:"meta,omitempty"`
	ExpiresAt   *time.Time      `json:"expires_at,omitempty"`
	Enabled     *bool           `json:"enabled,omitempty"`
	Credits     *Credits        `json:"credits,omitempty"`
	RateLimits  []RateLimit     `json:"ratelimits,omitempty"`
	Permissions []string        `json:"permissions,omitempty"`
	Roles       []string        `json:"roles,omitempty"`
	IPAllowlist []string        `json:"ip_allowlist,omitempty"`
}

// CreatedKey is a key with its secret: returned by create and roll only.
type CreatedKey struct {
	Key
	Secret string `json:"key"`
}

// UpdateKeyRequest changes the fields it sets; null clears a field.
type UpdateKeyRequest struct {
	Name        Optional[string]          `json:"name,omitzero"`
	OwnerID     Optional[string]          `json:"owner_id,omitzero"`
	Meta        Optional[json.RawMessage] `json:"meta,omitzero"`
	Enabled     Optional[bool]            `json:"enabled,omitzero"`
	ExpiresAt   Optional[time.Time]       `json:"expires_at,omitzero"`
	Credits     Optional[Credits]         `json:"credits,omitzero"`
	RateLimits  Optional[[]RateLimit]     `json:"ratelimits,omitzero"`
	Permissions Optional[[]string]        `json:"permissions,omitzero"`
	Roles       Optional[[]string]        `json:"roles,omitzero"`
	IPAllowlist Optional[[]string]        `json:"ip_allowlist,omitzero"`
}

type RollKeyRequest struct {
	GracePeriodMs int64 `json:"grace_period_ms,omitempty"`
}

// CreditsRequest changes a key's remaining credits: op is "set",
// "increment" or "decrement" (which floors at 0).
type CreditsRequest struct {
	Op    string `json:"op"`
	Value int64  `json:"value"`
}

type CreditsResponse struct {
	Remaining int64 `json:"remaining"`
}

// RootKey is a management credential (never its secret).
type RootKey struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Scopes    []string   `json:"scopes"`
	Start     string     `json:"start"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

type CreateRootKeyRequest struct {
	Name   string   `json:"name,omitempty"`
	Scopes []string `json:"scopes"`
}

// CreatedRootKey is a root key with its secret: returned by create only.
type CreatedRootKey struct {
	RootKey
	Secret string `json:"key"`
}

// AuditEntry is one management change; Hash chains it to PrevHash.
type AuditEntry struct {
	ID         string          `json:"id"`
	Seq        int64           `json:"seq"`
	Time       time.Time       `json:"time"`
	ActorID    string          `json:"actor_id"`
	Action     string          `json:"action"`
	TargetType string          `json:"target_type"`
	TargetID   string          `json:"target_id"`
	RemoteAddr string          `json:"remote_addr"`
	Before     json.RawMessage `json:"before,omitempty"`
	After      json.RawMessage `json:"after,omitempty"`
	PrevHash   string          `json:"prev_hash"`
	Hash       string          `json:"hash"`
}

// AuditVerifyResult reports a check of the audit chain.
type AuditVerifyResult struct {
	OK             bool   `json:"ok"`
	Checked        int64  `json:"checked"`
	FirstBrokenSeq int64  `json:"first_broken_seq,omitempty"`
	FirstBrokenID  string `json:"first_broken_id,omitempty"`
	Reason         string `json:"reason,omitempty"`
}

// VerifyRateLimit names a rate limit to apply on a verify, at a cost.
type VerifyRateLimit struct {
	Name string `json:"name"`
	Cost *int64 `json:"cost,omitempty"` // default 1; 0 only reports
	// Limit and DurationMs, given together, override the stored limit for
	// this call (or apply a limit the key does not have).
	Limit      *int64 `json:"limit,omitempty"`
	DurationMs *int64 `json:"duration_ms,omitempty"`
}

// VerifyRequest is the body of POST /v1/verify.
type VerifyRequest struct {
	Key         string            `json:"key,omitempty"`
	Token       string            `json:"token,omitempty"`
	AppID       string            `json:"app_id,omitempty"`
	Permissions string            `json:"permissions,omitempty"`
	RateLimits  []VerifyRateLimit `json:"ratelimits,omitempty"`
	Credits     *int64            `json:"credits,omitempty"` // cost; default 1
	IP          string            `json:"ip,omitempty"`
}

// VerifyCredits is the credit state after a verify.
type VerifyCredits struct {
	Remaining int64 `json:"remaining"`
}

// RateLimitState is one limit's state after a verify.
type RateLimitState struct {
	Name      string    `json:"name"`
	Limit     int64     `json:"limit"`
	Remaining int64     `json:"remaining"`
	ResetAt   time.Time `json:"reset_at"`
}

// VerifyResponse is the answer of POST /v1/verify: always 200 for a
// well-formed request; Valid and Code say whether the credential passes.
type VerifyResponse struct {
	Valid       bool             `json:"valid"`
	Code        string           `json:"code"`
	KeyID       string           `json:"key_id,omitempty"`
	AppID       string           `json:"app_id,omitempty"`
	OwnerID     string           `json:"owner_id,omitempty"`
	Identity    *VerifyIdentity  `json:"identity,omitempty"`
	Name        string           `json:"name,omitempty"`
	Meta        json.RawMessage  `json:"meta,omitempty"`
	Enabled     bool             `json:"enabled"`
	ExpiresAt   *time.Time       `json:"expires_at,omitempty"`
	Credits     *VerifyCredits   `json:"credits,omitempty"`
	RateLimits  []RateLimitState `json:"ratelimits,omitempty"`
	Permissions []string         `json:"permissions,omitempty"`
	Roles       []string         `json:"roles,omitempty"`
	// MissingPermissions lists what an INSUFFICIENT_PERMISSIONS answer lacked.
	MissingPermissions []string `json:"missing_permissions,omitempty"`
	// RetryAfterMs is set on RATE_LIMITED: when the denying limit has room again.
	RetryAfterMs int64  `json:"retry_after_ms,omitempty"`
	Message      string `json:"message,omitempty"`
	// Token describes the token of a token verify.
	Token *VerifyToken `json:"token,omitempty"`
}
