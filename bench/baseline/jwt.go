package main

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"os"
	"strings"
	"time"

	"github.com/typeauth/typeauth/client"
)

// The JWT baseline: parse the token and check its signature with the
// standard library only (the keys come from TypeAuth's JWKS, -jwks), check
// exp, and answer the same shape as TypeAuth's token verify.

type jwtKeys struct {
	ed map[string]ed25519.PublicKey
	ec map[string]*ecdsa.PublicKey
}

func loadJWKS(path string) (*jwtKeys, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var set struct {
		Keys []struct{ Kty, Crv, X, Y, Kid string }
	}
	if err := json.Unmarshal(b, &set); err != nil {
		return nil, err
	}
	ks := &jwtKeys{ed: map[string]ed25519.PublicKey{}, ec: map[string]*ecdsa.PublicKey{}}
	for _, k := range set.Keys {
		x, err := base64.RawURLEncoding.DecodeString(k.X)
		if err != nil {
			return nil, err
		}
		switch {
		case k.Kty == "OKP" && k.Crv == "Ed25519" && len(x) == ed25519.PublicKeySize:
			ks.ed[k.Kid] = ed25519.PublicKey(x)
		case k.Kty == "EC" && k.Crv == "P-256":
			y, err := base64.RawURLEncoding.DecodeString(k.Y)
			if err != nil {
				return nil, err
			}
			ks.ec[k.Kid] = &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}
		}
	}
	if len(ks.ed)+len(ks.ec) == 0 {
		return nil, errors.New("no EdDSA or ES256 key in the JWKS")
	}
	return ks, nil
}

type jwtClaims struct {
	Iss      string `json:"iss"`
	Sub      string `json:"sub"`
	Aud      string `json:"aud"`
	Exp      int64  `json:"exp"`
	Iat      int64  `json:"iat"`
	Jti      string `json:"jti"`
	ClientID string `json:"client_id"`
	AppID    string `json:"app_id"`
	Scope    string `json:"scope"`
}

// verifyToken answers a token verify.
func (ks *keyStore) verifyToken(tok, appID string) client.VerifyResponse {
	resp := client.VerifyResponse{Code: "INVALID_SIGNATURE"}
	parts := strings.SplitN(tok, ".", 4)
	if len(parts) != 3 || ks.jwt == nil {
		return client.VerifyResponse{Code: "MALFORMED"}
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return client.VerifyResponse{Code: "MALFORMED"}
	}
	var hdr struct{ Alg, Kid string }
	if json.Unmarshal(hb, &hdr) != nil {
		return client.VerifyResponse{Code: "MALFORMED"}
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return client.VerifyResponse{Code: "MALFORMED"}
	}
	input := tok[:len(parts[0])+1+len(parts[1])]
	switch hdr.Alg {
	case "EdDSA":
		pub, ok := ks.jwt.ed[hdr.Kid]
		if !ok || !ed25519.Verify(pub, []byte(input), sig) {
			return resp
		}
	case "ES256":
		pub, ok := ks.jwt.ec[hdr.Kid]
		if !ok || len(sig) != 64 {
			return resp
		}
		h := sha256.Sum256([]byte(input))
		if !ecdsa.Verify(pub, h[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
			return resp
		}
	default:
		return resp
	}
	pb, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return client.VerifyResponse{Code: "MALFORMED"}
	}
	var c jwtClaims
	if json.Unmarshal(pb, &c) != nil {
		return client.VerifyResponse{Code: "MALFORMED"}
	}
	if time.Now().Unix() >= c.Exp {
		return client.VerifyResponse{Code: "EXPIRED"}
	}
	if appID != "" && appID != c.AppID {
		return client.VerifyResponse{Code: "FORBIDDEN"}
	}
	exp, iat := time.Unix(c.Exp, 0).UTC(), time.Unix(c.Iat, 0).UTC()
	return client.VerifyResponse{Valid: true, Code: "VALID", KeyID: c.ClientID, AppID: c.AppID, OwnerID: c.Sub, Meta: ks.meta,
		Enabled: true, ExpiresAt: &exp, Permissions: strings.Fields(c.Scope),
		Token: &client.VerifyToken{Issuer: c.Iss, Subject: c.Sub, ClientID: c.ClientID, Audience: []string{c.Aud}, JTI: c.Jti,
			IssuedAt: &iat, ExpiresAt: exp}}
}
