package auth

import (
	"context"
	"time"
)

// Route rules map a request as a gateway saw it (host, method, path) to what
// it needs: which app, where the credential is, which permissions, limits and
// credits, and which identity headers go upstream. The rule set is ordered:
// the first rule that matches decides.
//
// The JSON tags are the document format shared by the rules file, the
// management API and the stores (which keep the rule list as one document).

// Credential source types.
const (
	SourceBearer = "bearer" // Authorization: Bearer <key>
	SourceHeader = "header" // a named header
	SourceQuery  = "query"  // a query parameter
	SourceCookie = "cookie" // a cookie
)

// What to do with a request that no rule matches.
const (
	NoMatchDeny   = "deny"    // 403 FORBIDDEN (the default)
	NoMatchAnyKey = "any_key" // any valid key passes, as with no rules at all
)

// CredentialSource says where to find the credential.
type CredentialSource struct {
	Type string `json:"type"`           // SourceBearer, SourceHeader, SourceQuery or SourceCookie
	Name string `json:"name,omitempty"` // header, parameter or cookie name (not for bearer)
}

// RuleRateLimit applies one of the key's named limits at a cost.
type RuleRateLimit struct {
	Name string `json:"name"`
	Cost *int64 `json:"cost,omitempty"` // default 1
}

// Rule is one route rule.
type Rule struct {
	Name string `json:"name"`
	// Match: every non-empty list must match (empty matches anything).
	Hosts   []string `json:"hosts,omitempty"`   // "api.example.com", "*.example.com"
	Methods []string `json:"methods,omitempty"` // "GET", …
	Paths   []string `json:"paths,omitempty"`   // "/orders/*" (one segment), "/orders/**" (any rest)
	// Apps whose keys pass (empty: any app).
	Apps []string `json:"apps,omitempty"`
	// Credentials lists where to look, in order (default: bearer, then the
	// X-API-Key header).
	Credentials []CredentialSource `json:"credentials,omitempty"`
	Permissions string             `json:"permissions,omitempty"` // permission query
	RateLimits  []RuleRateLimit    `json:"ratelimits,omitempty"`
	Credits     *int64             `json:"credits,omitempty"` // credit cost (default 1)
	// UpstreamHeaders names what to send upstream: key_id, app_id, owner_id,
	// identity_id, name, permissions, roles, credits, expires_at, meta.<field>.
	// Default: key_id, app_id, owner_id, credits.
	UpstreamHeaders []string `json:"upstream_headers,omitempty"`
	// StripCredential removes the credential from the upstream request.
	StripCredential bool `json:"strip_credential,omitempty"`
	// Anonymous lets a request without any credential pass (without
	// identity). A credential that is present must still be valid.
	Anonymous bool `json:"anonymous,omitempty"`
	// UpstreamToken, when set, mints a short-lived JWT for the key (as
	// POST /v1/tokens would) and sends it upstream, so the backend can
	// verify the caller offline against the JWKS instead of (or beside)
	// trusting identity headers.
	UpstreamToken *RuleUpstreamToken `json:"upstream_token,omitempty"`
}

// RuleUpstreamToken says how a rule mints the token it sends upstream.
type RuleUpstreamToken struct {
	// Header carries the token: "Authorization" (default; the value is
	// "Bearer <token>" and replaces the client's) or another header (the
	// bare token).
	Header string `json:"header,omitempty"`
	// TTLSeconds is the token's lifetime (default 300, at most 3600; never
	// past the key's expiry or the app's maximum).
	TTLSeconds int64 `json:"ttl_seconds,omitempty"`
	// Audience is the token's aud: the app id by default, or one of the
	// app's token audiences.
	Audience string `json:"audience,omitempty"`
}

// RuleSet is the ordered rule list with its version. Version 0 means no rule
// set was ever stored.
type RuleSet struct {
	Version   int64
	NoMatch   string // NoMatchDeny ("" means deny) or NoMatchAnyKey
	Rules     []Rule
	UpdatedAt time.Time
}

// RuleStore keeps the rule set managed through the API. Replicas poll
// RulesVersion and reload on a change.
type RuleStore interface {
	// Rules returns the stored rule set; a RuleSet with Version 0 and no
	// rules when none was ever stored. Returns ErrUnavailable if the store
	// cannot be reached.
	Rules(ctx context.Context) (*RuleSet, error)
	// RulesVersion returns the stored version (0 when none), cheaply.
	RulesVersion(ctx context.Context) (int64, error)
	// ReplaceRules stores rs.NoMatch and rs.Rules as the new rule set, in one
	// transaction that also runs fn with the rule set it replaces (for the
	// audit entry). When expect is not negative, the stored version must
	// equal it, otherwise it returns ErrConflict and writes nothing. On
	// success it sets rs.Version to the new version (the previous plus one)
	// and rs.UpdatedAt to at. fn's error is returned as is.
	ReplaceRules(ctx context.Context, rs *RuleSet, expect int64, at time.Time, fn func(tx Tx, prev *RuleSet) error) error
}
