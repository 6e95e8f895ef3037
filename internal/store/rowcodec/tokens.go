package rowcodec

import (
	"database/sql"
	"time"

	"github.com/typeauth/typeauth/internal/auth"
)

const SigningKeyColumns = `kid, alg, public_jwk, sealed, state, created_at, activate_at, retire_at, expires_at`

func ScanSigningKey(sc Scanner) (*auth.SigningKey, error) {
	var k auth.SigningKey
	var created, activate int64
	var retire, expires sql.NullInt64
	var pub []byte
	if err := sc.Scan(&k.KID, &k.Alg, &pub, &k.Sealed, &k.State, &created, &activate, &retire, &expires); err != nil {
		return nil, err
	}
	k.PublicJWK = pub
	k.CreatedAt, k.ActivateAt = FromMS(created), FromMS(activate)
	k.RetireAt, k.ExpiresAt = FromNullMS(retire), FromNullMS(expires)
	return &k, nil
}

const IssuerColumns = `id, name, issuer, jwks_url, discovery_url, jwks, algorithms, audiences, leeway_ms,
	required_claims, owner_claim, permissions_claim, created_at, updated_at`

func IssuerArgs(i *auth.Issuer) ([]any, error) {
	algs, err := JSONText(i.Algorithms)
	if err != nil {
		return nil, err
	}
	if algs == nil {
		algs = "[]"
	}
	auds, err := JSONText(i.Audiences)
	if err != nil {
		return nil, err
	}
	req, err := JSONText(i.RequiredClaims)
	if err != nil {
		return nil, err
	}
	return []any{i.ID, i.Name, i.Issuer, i.JWKSURL, i.DiscoveryURL, NullBytes(i.JWKS), algs, auds,
		i.Leeway.Milliseconds(), req, i.OwnerClaim, i.PermissionsClaim, MS(i.CreatedAt), MS(i.UpdatedAt)}, nil
}

func ScanIssuer(sc Scanner) (*auth.Issuer, error) {
	var i auth.Issuer
	var jwks []byte
	var algs string
	var auds, req sql.NullString
	var leeway, created, updated int64
	if err := sc.Scan(&i.ID, &i.Name, &i.Issuer, &i.JWKSURL, &i.DiscoveryURL, &jwks, &algs, &auds, &leeway,
		&req, &i.OwnerClaim, &i.PermissionsClaim, &created, &updated); err != nil {
		return nil, err
	}
	var err error
	if i.Algorithms, err = FromJSONText[string](sql.NullString{String: algs, Valid: true}); err != nil {
		return nil, err
	}
	if i.Audiences, err = FromJSONText[string](auds); err != nil {
		return nil, err
	}
	if i.RequiredClaims, err = FromJSONText[string](req); err != nil {
		return nil, err
	}
	if jwks != nil {
		i.JWKS = jwks
	}
	i.Leeway = time.Duration(leeway) * time.Millisecond
	i.CreatedAt, i.UpdatedAt = FromMS(created), FromMS(updated)
	return &i, nil
}

const TokenSettingsColumns = `id, recoverable, max_token_ttl_ms, token_audiences, token_meta_claims`

func ScanTokenSettings(sc Scanner) (*auth.TokenSettings, error) {
	var s auth.TokenSettings
	var ttl int64
	var auds, meta sql.NullString
	if err := sc.Scan(&s.AppID, &s.Recoverable, &ttl, &auds, &meta); err != nil {
		return nil, err
	}
	s.MaxTTL = time.Duration(ttl) * time.Millisecond
	var err error
	if s.Audiences, err = FromJSONText[string](auds); err != nil {
		return nil, err
	}
	if s.MetaClaims, err = FromJSONText[string](meta); err != nil {
		return nil, err
	}
	return &s, nil
}
