package auth

import (
	"context"
	"encoding/json"
	"time"
)

// Identity is an external owner (a customer) that several keys share: its
// meta, rate limits and permissions apply to all of them. ExternalID is
// unique per app; an identity with no AppID is workspace-wide and its
// ExternalID is unique among workspace-wide identities.
type Identity struct {
	ID          string
	AppID       string // "" for workspace-wide
	ExternalID  string
	Meta        json.RawMessage
	RateLimits  []RateLimit
	Permissions []string
	Roles       []string // role names
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Role is a named bundle of permissions. Names are unique.
type Role struct {
	ID          string
	Name        string
	Description string
	Permissions []string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// RateLimitOverride changes the limit of stand-alone rate limiting for the
// identifiers of a namespace that match Identifier: an exact string, or a
// pattern where '*' matches any run of characters. When several match, the
// exact one wins, then the longest pattern.
type RateLimitOverride struct {
	ID         string
	Namespace  string
	Identifier string
	Limit      int64
	Duration   time.Duration
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// IdentityFilter narrows an identity listing. AppID "" lists all.
type IdentityFilter struct {
	AppID string
}

// ConstraintReader is what the verify path reads besides keys, on a miss.
type ConstraintReader interface {
	GetIdentity(ctx context.Context, id string) (*Identity, error) // ErrNotFound
	// RolesByName returns the roles with these names; unknown names are
	// skipped (a role deleted after it was attached grants nothing).
	RolesByName(ctx context.Context, names []string) ([]*Role, error)
	// OverridesOf returns every override of a namespace.
	OverridesOf(ctx context.Context, namespace string) ([]*RateLimitOverride, error)
}

// IdentityStore is the read side of identities, roles and overrides.
type IdentityStore interface {
	ConstraintReader
	// IdentityByExternalID finds an identity by app ("" = workspace-wide)
	// and external id. ErrNotFound if none.
	IdentityByExternalID(ctx context.Context, appID, externalID string) (*Identity, error)
	ListIdentities(ctx context.Context, f IdentityFilter, p Page) ([]*Identity, string, error)
	GetRole(ctx context.Context, id string) (*Role, error) // ErrNotFound
	ListRoles(ctx context.Context, p Page) ([]*Role, string, error)
	ListOverrides(ctx context.Context, namespace string, p Page) ([]*RateLimitOverride, string, error)
}

// IdentityTx is the write side of identities, roles and overrides.
type IdentityTx interface {
	GetIdentity(id string) (*Identity, error) // ErrNotFound
	// InsertIdentity: ErrConflict (code identity_exists) if the external id is taken in its app.
	InsertIdentity(i *Identity) error
	UpdateIdentity(i *Identity) error // ErrNotFound, ErrConflict
	// DeleteIdentity deletes it and unlinks its keys (their IdentityID
	// becomes ""). ErrNotFound.
	DeleteIdentity(id string) error

	GetRole(id string) (*Role, error)         // ErrNotFound
	GetRoleByName(name string) (*Role, error) // ErrNotFound
	InsertRole(r *Role) error                 // ErrConflict (code role_exists) on a taken name
	UpdateRole(r *Role) error                 // ErrNotFound, ErrConflict
	DeleteRole(id string) error               // ErrNotFound; keys and identities keep the name (it then grants nothing)

	GetOverride(id string) (*RateLimitOverride, error) // ErrNotFound
	// InsertOverride: ErrConflict (code override_exists) for a second
	// override of the same namespace and identifier.
	InsertOverride(o *RateLimitOverride) error
	UpdateOverride(o *RateLimitOverride) error // ErrNotFound
	DeleteOverride(id string) error            // ErrNotFound
}
