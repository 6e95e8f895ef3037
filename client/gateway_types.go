package client

import "time"

// Route rules: the document of the rules file, of GET /v1/rules and of
// PUT /v1/rules (which also takes "version", the version the change is based
// on: the call fails with 409 if another change landed since).

// CredentialSource says where a rule finds the credential: "bearer"
// (Authorization: Bearer), "header", "query" or "cookie" (with a name).
type CredentialSource struct {
	Type string `json:"type"`
	Name string `json:"name,omitempty"`
}

// RuleRateLimit applies one of the key's named limits at a cost (default 1).
type RuleRateLimit struct {
	Name string `json:"name"`
	Cost *int64 `json:"cost,omitempty"`
}

// Rule maps requests (hosts, methods, paths: empty matches any) to what they
// need. Paths: "*" is one segment, a final "**" any rest.
type Rule struct {
	Name            string             `json:"name"`
	Hosts           []string           `json:"hosts,omitempty"`
	Methods         []string           `json:"methods,omitempty"`
	Paths           []string           `json:"paths,omitempty"`
	Apps            []string           `json:"apps,omitempty"`
	Credentials     []CredentialSource `json:"credentials,omitempty"`
	Permissions     string             `json:"permissions,omitempty"`
	RateLimits      []RuleRateLimit    `json:"ratelimits,omitempty"`
	Credits         *int64             `json:"credits,omitempty"`
	UpstreamHeaders []string           `json:"upstream_headers,omitempty"`
	StripCredential bool               `json:"strip_credential,omitempty"`
	Anonymous       bool               `json:"anonymous,omitempty"`
	// UpstreamToken mints a short-lived JWT for the key and sends it
	// upstream (see docs/gateways).
	UpstreamToken *RuleUpstreamToken `json:"upstream_token,omitempty"`
}

// RuleUpstreamToken says how a rule mints the token it sends upstream.
type RuleUpstreamToken struct {
	Header     string `json:"header,omitempty"` // default "Authorization" ("Bearer <token>")
	TTLSeconds int64  `json:"ttl_seconds,omitempty"`
	Audience   string `json:"audience,omitempty"`
}

// PutRulesRequest replaces the whole ordered rule set.
type PutRulesRequest struct {
	Version *int64 `json:"version,omitempty"`
	NoMatch string `json:"no_match,omitempty"` // "deny" (default) or "any_key"
	Rules   []Rule `json:"rules"`
}

// RuleSet is the rule set in force. Source is "store" (managed through the
// API), "file" (the --rules-file; the API cannot change it) or "none".
type RuleSet struct {
	Version   int64      `json:"version"`
	Source    string     `json:"source"`
	NoMatch   string     `json:"no_match"`
	Rules     []Rule     `json:"rules"`
	UpdatedAt *time.Time `json:"updated_at,omitempty"`
}

// Introspection is an RFC 7662 token introspection answer. Only Active is
// set for a token that is not active.
type Introspection struct {
	Active    bool   `json:"active"`
	Sub       string `json:"sub,omitempty"`       // the key's owner id
	ClientID  string `json:"client_id,omitempty"` // the key id
	Scope     string `json:"scope,omitempty"`     // permissions, space separated
	Exp       int64  `json:"exp,omitempty"`
	Iat       int64  `json:"iat,omitempty"`
	TokenType string `json:"token_type,omitempty"`
	AppID     string `json:"app_id,omitempty"`
	Username  string `json:"username,omitempty"` // the key's name
}
