package auth

import (
	"context"
	"encoding/json"
	"time"
)

// Tokens: the signing keys TypeAuth issues JWTs with, the trusted
// third-party issuers whose JWTs it verifies, the jti deny list, and the
// per-app token settings (maximum lifetime, audiences, recoverable keys).

// Token limits.
const (
	// DefaultTokenTTL is an app's maximum token lifetime when it sets none.
	DefaultTokenTTL = time.Hour
	// MaxIssuers bounds the trusted issuers a store holds.
	MaxIssuers = 1000
)

// Scopes of the token features.
const (
	ScopeSigningKeysRead  = "signing_keys.read"
	ScopeSigningKeysWrite = "signing_keys.write"
	ScopeIssuersRead      = "issuers.read"
	ScopeIssuersWrite     = "issuers.write"
	// ScopeKeysReveal lets a root key show the secret of a recoverable key
	// once more. It is not implied by keys.write.
	ScopeKeysReveal = "keys.reveal"
)

// Signing key states as stored. The phase a key is in (next, active,
// retired) follows from its times: see SigningKey.Phase.
const (
	SigningKeyLive    = "live"
	SigningKeyRevoked = "revoked" // withdrawn at once: out of the JWKS, its tokens fail
)

// Signing key phases.
const (
	PhaseNext    = "next"    // published in the JWKS, not signing yet
	PhaseActive  = "active"  // signing new tokens
	PhaseRetired = "retired" // published until ExpiresAt so that its tokens verify
	PhaseExpired = "expired" // past ExpiresAt: no longer published
	PhaseRevoked = "revoked"
)

// SigningKey is a key TypeAuth signs tokens with. The private key is stored
// only sealed under the master key (AES-256-GCM, bound to the kid).
type SigningKey struct {
	KID        string
	Alg        string          // EdDSA, ES256 or RS256
	PublicJWK  json.RawMessage // the public JWK as published
	Sealed     []byte          // the sealed PKCS#8 private key
	State      string          // SigningKeyLive or SigningKeyRevoked
	CreatedAt  time.Time
	ActivateAt time.Time  // signs from then on (published before)
	RetireAt   *time.Time // stops signing then (a newer key activates)
	ExpiresAt  *time.Time // leaves the JWKS then: every token it signed has expired
}

// Phase returns the key's phase at now.
func (k *SigningKey) Phase(now time.Time) string {
	switch {
	case k.State == SigningKeyRevoked:
		return PhaseRevoked
	case k.ExpiresAt != nil && !now.Before(*k.ExpiresAt):
		return PhaseExpired
	case k.RetireAt != nil && !now.Before(*k.RetireAt):
		return PhaseRetired
	case now.Before(k.ActivateAt):
		return PhaseNext
	}
	return PhaseActive
}

// Published reports whether the key belongs in the JWKS at now.
func (k *SigningKey) Published(now time.Time) bool {
	p := k.Phase(now)
	return p == PhaseNext || p == PhaseActive || p == PhaseRetired
}

// Issuer is a trusted third-party JWT issuer. Exactly one of JWKSURL,
// DiscoveryURL and JWKS says where its keys are.
type Issuer struct {
	ID               string
	Name             string
	Issuer           string // the exact iss
	JWKSURL          string
	DiscoveryURL     string
	JWKS             json.RawMessage // an inline JWK Set
	Algorithms       []string
	Audiences        []string
	Leeway           time.Duration
	RequiredClaims   []string
	OwnerClaim       string // default "sub"
	PermissionsClaim string // default "scope"
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// RevokedToken is one entry of the jti deny list, kept until ExpiresAt.
type RevokedToken struct {
	JTI       string
	ExpiresAt time.Time
	RevokedAt time.Time
}

// TokenSettings are an app's token settings.
type TokenSettings struct {
	AppID string
	// MaxTTL caps the lifetime of tokens exchanged for the app's keys (0:
	// DefaultTokenTTL).
	MaxTTL time.Duration
	// Audiences a token exchange may ask for (empty: only the app id).
	Audiences []string
	// MetaClaims names the key meta fields copied into tokens.
	MetaClaims []string
	// Recoverable: key secrets are also stored sealed under the master key
	// and can be revealed again (scope keys.reveal).
	Recoverable bool
}

// TTL returns the effective maximum token lifetime.
func (s *TokenSettings) TTL() time.Duration {
	if s == nil || s.MaxTTL <= 0 {
		return DefaultTokenTTL
	}
	return s.MaxTTL
}

// TokenReader is the read side of the token tables.
type TokenReader interface {
	// SigningKeys returns every stored signing key, oldest first.
	SigningKeys(ctx context.Context) ([]*SigningKey, error)
	// Issuers returns every trusted issuer, oldest first.
	Issuers(ctx context.Context) ([]*Issuer, error)
	GetIssuer(ctx context.Context, id string) (*Issuer, error) // ErrNotFound
	// RevokedTokens returns the deny list entries that expire after now.
	RevokedTokens(ctx context.Context, now time.Time) ([]RevokedToken, error)
	// TokenSettings returns an app's settings (zero settings when the app
	// never set any). ErrNotFound if the app does not exist.
	TokenSettings(ctx context.Context, appID string) (*TokenSettings, error)
	// SealedSecret returns the sealed secret of a recoverable key.
	// ErrNotFound if the key does not exist or has none.
	SealedSecret(ctx context.Context, keyID string) ([]byte, error)
	// PurgeRevokedTokens deletes deny list entries expired at before.
	PurgeRevokedTokens(ctx context.Context, before time.Time) (int64, error)
}

// TokenTx is the write side of the token tables, inside Store.Tx.
type TokenTx interface {
	SigningKeys() ([]*SigningKey, error) // oldest first, locked for update where the store can
	// InsertSigningKey: ErrConflict if the kid exists.
	InsertSigningKey(k *SigningKey) error
	// UpdateSigningKey writes State, RetireAt and ExpiresAt. ErrNotFound.
	UpdateSigningKey(k *SigningKey) error
	DeleteSigningKey(kid string) error // ErrNotFound

	GetIssuer(id string) (*Issuer, error) // ErrNotFound
	// InsertIssuer: ErrConflict (code issuer_exists) if another issuer has
	// the same Issuer (iss).
	InsertIssuer(i *Issuer) error
	UpdateIssuer(i *Issuer) error // ErrNotFound, ErrConflict (issuer_exists)
	DeleteIssuer(id string) error // ErrNotFound
	CountIssuers() (int, error)

	// RevokeToken adds r to the deny list; revoking a jti again keeps the
	// later expiry.
	RevokeToken(r RevokedToken) error

	// GetTokenSettings: zero settings when none were set; ErrNotFound if
	// the app does not exist.
	GetTokenSettings(appID string) (*TokenSettings, error)
	PutTokenSettings(s *TokenSettings) error // ErrNotFound if the app does not exist
	// PutSealedSecret stores the sealed current secret of a key (nil
	// clears it). ErrNotFound if the key does not exist.
	PutSealedSecret(keyID string, sealed []byte) error
}
