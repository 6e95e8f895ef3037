package client

// TokenIntrospection is the RFC 7662 answer of POST /oauth2/introspect: the
// fields of Introspection, plus those a JWT adds (RFC 7662 section 2.2).
// For an API key Iss, Jti and Aud are empty.
type TokenIntrospection struct {
	Introspection
	Iss string   `json:"iss,omitempty"` // the token's issuer
	Jti string   `json:"jti,omitempty"`
	Aud []string `json:"aud,omitempty"`
	// IssuerID is the trusted issuer of a third-party token.
	IssuerID string `json:"issuer_id,omitempty"`
}
