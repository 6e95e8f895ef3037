package client

import (
	"encoding/json"
	"time"
)

// Identity is an external owner shared by several keys.
type Identity struct {
	ID          string          `json:"id"`
	AppID       string          `json:"app_id,omitempty"`
	ExternalID  string          `json:"external_id"`
	Meta        json.RawMessage `json:"meta"`
	RateLimits  []RateLimit     `json:"ratelimits"`
	Permissions []string        `json:"permissions"`
	Roles       []string        `json:"roles"`
	CreatedAt   time.Time       `json:"created_at"`
	UpdatedAt   time.Time       `json:"updated_at"`
}

type CreateIdentityRequest struct {
	ExternalID  string          `json:"external_id"`
	AppID       string          `json:"app_id,omitempty"`
	Meta        json.RawMessage `json:"meta,omitempty"`
	RateLimits  []RateLimit     `json:"ratelimits,omitempty"`
	Permissions []string        `json:"permissions,omitempty"`
	Roles       []string        `json:"roles,omitempty"`
}

type UpdateIdentityRequest struct {
	ExternalID  Optional[string]          `json:"external_id,omitzero"`
	Meta        Optional[json.RawMessage] `json:"meta,omitzero"`
	RateLimits  Optional[[]RateLimit]     `json:"ratelimits,omitzero"`
	Permissions Optional[[]string]        `json:"permissions,omitzero"`
	Roles       Optional[[]string]        `json:"roles,omitzero"`
}

// VerifyIdentity is the identity shown in a verify answer.
type VerifyIdentity struct {
	ID         string          `json:"id"`
	ExternalID string          `json:"external_id"`
	Meta       json.RawMessage `json:"meta,omitempty"`
}

// Role is a named bundle of permissions.
type Role struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Permissions []string  `json:"permissions"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

type CreateRoleRequest struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Permissions []string `json:"permissions"`
}

type UpdateRoleRequest struct {
	Name        Optional[string]   `json:"name,omitzero"`
	Description Optional[string]   `json:"description,omitzero"`
	Permissions Optional[[]string] `json:"permissions,omitzero"`
}

// PermissionsChange adds, removes or sets the permissions (or roles) of a
// key or an identity. Set replaces the whole list and excludes add/remove.
type PermissionsChange struct {
	Add    []string  `json:"add,omitempty"`
	Remove []string  `json:"remove,omitempty"`
	Set    *[]string `json:"set,omitempty"`
}

// RateLimitRequest is the body of POST /v1/ratelimit: stand-alone limiting
// of any identifier (an IP, a user) in a namespace.
type RateLimitRequest struct {
	Namespace  string `json:"namespace"`
	Identifier string `json:"identifier"`
	Limit      int64  `json:"limit"`
	DurationMs int64  `json:"duration_ms"`
	Cost       *int64 `json:"cost,omitempty"` // default 1; 0 only reports
}

type RateLimitResponse struct {
	Success   bool      `json:"success"`
	Limit     int64     `json:"limit"`
	Remaining int64     `json:"remaining"`
	ResetAt   time.Time `json:"reset_at"`
	// RetryAfterMs is set when Success is false.
	RetryAfterMs int64 `json:"retry_after_ms,omitempty"`
	// OverrideID names the override that set the limit, if one did.
	OverrideID string `json:"override_id,omitempty"`
}

// RateLimitOverride sets the limit for matching identifiers of a namespace.
// Identifier is exact, or a pattern where '*' matches any characters.
type RateLimitOverride struct {
	ID         string    `json:"id"`
	Namespace  string    `json:"namespace"`
	Identifier string    `json:"identifier"`
	Limit      int64     `json:"limit"`
	DurationMs int64     `json:"duration_ms"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

type CreateOverrideRequest struct {
	Namespace  string `json:"namespace"`
	Identifier string `json:"identifier"`
	Limit      int64  `json:"limit"`
	DurationMs int64  `json:"duration_ms"`
}
