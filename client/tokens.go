package client

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// Tokens: exchange of an API key for a short-lived JWT, TypeAuth's signing
// keys, trusted third-party issuers, revocation and recoverable keys.

// TokenRequest is the JSON body of POST /v1/tokens (data plane). The API key
// being exchanged is the Authorization: Bearer credential; a root key with
// the verify scope may instead exchange on behalf of KeyID.
type TokenRequest struct {
	TTLSeconds int64  `json:"ttl_seconds,omitempty"`
	Audience   string `json:"audience,omitempty"`
	KeyID      string `json:"key_id,omitempty"`
}

// TokenResponse is an issued access token (RFC 6749 section 5.1 shape).
type TokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"` // "Bearer"
	ExpiresIn   int64  `json:"expires_in"` // seconds
	// IssuedTokenType is set on the RFC 8693 form variant.
	IssuedTokenType string `json:"issued_token_type,omitempty"`
	Scope           string `json:"scope,omitempty"`
}

// OpenIDConfiguration is the minimal discovery document of the data plane.
type OpenIDConfiguration struct {
	Issuer                            string   `json:"issuer"`
	JWKSURI                           string   `json:"jwks_uri"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	AccessTokenSigningAlgs            []string `json:"access_token_signing_alg_values_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
}

// SigningKey is one of TypeAuth's token signing keys (never its private
// part). State is next (published, not signing yet), active, retired
// (published until expires_at so that its tokens still verify) or revoked.
type SigningKey struct {
	KID        string          `json:"kid"`
	Alg        string          `json:"alg"`
	State      string          `json:"state"`
	PublicJWK  json.RawMessage `json:"public_jwk"`
	CreatedAt  time.Time       `json:"created_at"`
	ActivateAt time.Time       `json:"activate_at"`
	RetireAt   *time.Time      `json:"retire_at,omitempty"`
	ExpiresAt  *time.Time      `json:"expires_at,omitempty"`
}

// RotateSigningKeyRequest is the body of POST /v1/signing-keys/rotate.
// Without Immediate the new key signs after the publish delay (it is in the
// JWKS before); Immediate (e.g. after a compromise) makes it sign at once.
type RotateSigningKeyRequest struct {
	Alg       string `json:"alg,omitempty"` // EdDSA (default), ES256 or RS256
	Immediate bool   `json:"immediate,omitempty"`
}

// Issuer is a trusted third-party JWT issuer.
type Issuer struct {
	ID               string          `json:"id"`
	Name             string          `json:"name"`
	Issuer           string          `json:"issuer"`
	JWKSURL          string          `json:"jwks_url,omitempty"`
	DiscoveryURL     string          `json:"discovery_url,omitempty"`
	JWKS             json.RawMessage `json:"jwks,omitempty"`
	Algorithms       []string        `json:"algorithms"`
	Audiences        []string        `json:"audiences"`
	LeewaySeconds    int64           `json:"leeway_seconds"`
	RequiredClaims   []string        `json:"required_claims"`
	OwnerClaim       string          `json:"owner_claim"`
	PermissionsClaim string          `json:"permissions_claim"`
	CreatedAt        time.Time       `json:"created_at"`
	UpdatedAt        time.Time       `json:"updated_at"`
	// KeySet reports, for a remote key set, what this node fetched.
	KeySet *IssuerKeySet `json:"key_set,omitempty"`
}

// IssuerKeySet is the state of a remote issuer's keys on one node.
type IssuerKeySet struct {
	Keys        int        `json:"keys"`
	LastSuccess *time.Time `json:"last_success,omitempty"`
	LastAttempt *time.Time `json:"last_attempt,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
}

// CreateIssuerRequest is the body of POST /v1/issuers: exactly one of
// JWKSURL, DiscoveryURL and JWKS.
type CreateIssuerRequest struct {
	Name             string          `json:"name"`
	Issuer           string          `json:"issuer"`
	JWKSURL          string          `json:"jwks_url,omitempty"`
	DiscoveryURL     string          `json:"discovery_url,omitempty"`
	JWKS             json.RawMessage `json:"jwks,omitempty"`
	Algorithms       []string        `json:"algorithms"`
	Audiences        []string        `json:"audiences,omitempty"`
	LeewaySeconds    *int64          `json:"leeway_seconds,omitempty"` // default 30, at most 300
	RequiredClaims   []string        `json:"required_claims,omitempty"`
	OwnerClaim       string          `json:"owner_claim,omitempty"`       // default sub
	PermissionsClaim string          `json:"permissions_claim,omitempty"` // default scope
}

// UpdateIssuerRequest changes the fields it sets (PATCH /v1/issuers/{id}).
// Setting one key source (jwks_url, discovery_url, jwks) clears the others.
type UpdateIssuerRequest struct {
	Name             Optional[string]          `json:"name,omitzero"`
	Issuer           Optional[string]          `json:"issuer,omitzero"`
	JWKSURL          Optional[string]          `json:"jwks_url,omitzero"`
	DiscoveryURL     Optional[string]          `json:"discovery_url,omitzero"`
	JWKS             Optional[json.RawMessage] `json:"jwks,omitzero"`
	Algorithms       Optional[[]string]        `json:"algorithms,omitzero"`
	Audiences        Optional[[]string]        `json:"audiences,omitzero"`
	LeewaySeconds    Optional[int64]           `json:"leeway_seconds,omitzero"`
	RequiredClaims   Optional[[]string]        `json:"required_claims,omitzero"`
	OwnerClaim       Optional[string]          `json:"owner_claim,omitzero"`
	PermissionsClaim Optional[string]          `json:"permissions_claim,omitzero"`
}

// RevokeTokenRequest is the body of POST /v1/tokens/revoke: a jti (with the
// token's exp when known), or the token itself.
type RevokeTokenRequest struct {
	JTI       string     `json:"jti,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	Token     string     `json:"token,omitempty"`
}

// RevokedToken is a deny-list entry: tokens with this jti fail until ExpiresAt.
type RevokedToken struct {
	JTI       string    `json:"jti"`
	ExpiresAt time.Time `json:"expires_at"`
}

// VerifyToken describes the token of a token verify.
type VerifyToken struct {
	Issuer    string     `json:"issuer"`
	Subject   string     `json:"subject"`
	ClientID  string     `json:"client_id,omitempty"`
	Audience  []string   `json:"audience,omitempty"`
	JTI       string     `json:"jti,omitempty"`
	IssuedAt  *time.Time `json:"issued_at,omitempty"`
	ExpiresAt time.Time  `json:"expires_at"`
	IssuerID  string     `json:"issuer_id,omitempty"` // the trusted issuer, for third-party tokens
}

// --- SDK

// ExchangeKey exchanges an API key for a short-lived JWT (POST /v1/tokens on
// the data plane). A refused key is a 401/403/429 *Error carrying the verify
// code.
func (c *Client) ExchangeKey(ctx context.Context, apiKey string, req TokenRequest, opts ...CallOption) (*TokenResponse, error) {
	opts = append(opts, WithHeader("Authorization", "Bearer "+apiKey))
	return call[TokenResponse](ctx, c, http.MethodPost, data, "/v1/tokens", nil, req, opts)
}

// JWKS returns TypeAuth's published JWK Set (GET /.well-known/jwks.json).
func (c *Client) JWKS(ctx context.Context, opts ...CallOption) (json.RawMessage, error) {
	out, err := call[json.RawMessage](ctx, c, http.MethodGet, data, "/.well-known/jwks.json", nil, nil, opts)
	if err != nil {
		return nil, err
	}
	return *out, nil
}

// ListSigningKeys lists the signing keys (GET /v1/signing-keys).
func (c *Client) ListSigningKeys(ctx context.Context, opts ...CallOption) (*List[SigningKey], error) {
	return call[List[SigningKey]](ctx, c, http.MethodGet, admin, "/v1/signing-keys", nil, nil, opts)
}

// RotateSigningKey creates a new signing key (POST /v1/signing-keys/rotate).
func (c *Client) RotateSigningKey(ctx context.Context, req RotateSigningKeyRequest, opts ...CallOption) (*SigningKey, error) {
	return call[SigningKey](ctx, c, http.MethodPost, admin, "/v1/signing-keys/rotate", nil, req, opts)
}

// CreateIssuer adds a trusted issuer (POST /v1/issuers).
func (c *Client) CreateIssuer(ctx context.Context, req CreateIssuerRequest, opts ...CallOption) (*Issuer, error) {
	return call[Issuer](ctx, c, http.MethodPost, admin, "/v1/issuers", nil, req, opts)
}

// GetIssuer returns a trusted issuer.
func (c *Client) GetIssuer(ctx context.Context, id string, opts ...CallOption) (*Issuer, error) {
	p, err := idPath("/v1/issuers/", id)
	if err != nil {
		return nil, err
	}
	return call[Issuer](ctx, c, http.MethodGet, admin, p, nil, nil, opts)
}

// ListIssuers lists every trusted issuer.
func (c *Client) ListIssuers(ctx context.Context, opts ...CallOption) (*List[Issuer], error) {
	return call[List[Issuer]](ctx, c, http.MethodGet, admin, "/v1/issuers", nil, nil, opts)
}

// UpdateIssuer changes a trusted issuer.
func (c *Client) UpdateIssuer(ctx context.Context, id string, req UpdateIssuerRequest, opts ...CallOption) (*Issuer, error) {
	p, err := idPath("/v1/issuers/", id)
	if err != nil {
		return nil, err
	}
	return call[Issuer](ctx, c, http.MethodPatch, admin, p, nil, req, opts)
}

// DeleteIssuer removes a trusted issuer.
func (c *Client) DeleteIssuer(ctx context.Context, id string, opts ...CallOption) error {
	p, err := idPath("/v1/issuers/", id)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, admin, p, nil, nil, nil, opts)
}

// RevokeToken puts a token's jti on the deny list (POST /v1/tokens/revoke).
func (c *Client) RevokeToken(ctx context.Context, req RevokeTokenRequest, opts ...CallOption) (*RevokedToken, error) {
	return call[RevokedToken](ctx, c, http.MethodPost, admin, "/v1/tokens/revoke", nil, req, opts)
}

// RevealKey returns the secret of a key of a recoverable app (POST
// /v1/keys/{id}/reveal; scope keys.reveal).
func (c *Client) RevealKey(ctx context.Context, id string, opts ...CallOption) (*CreatedKey, error) {
	p, err := idPath("/v1/keys/", id)
	if err != nil {
		return nil, err
	}
	return call[CreatedKey](ctx, c, http.MethodPost, admin, p+"/reveal", nil, nil, opts)
}
