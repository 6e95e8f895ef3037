package jose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// Alg is a JWS algorithm name (RFC 7518, RFC 8037). Only the asymmetric
// algorithms below are supported; the key type decides the algorithm, so a
// key can never be used with an algorithm of another family.
type Alg string

// Supported algorithms.
const (
	EdDSA Alg = "EdDSA" // Ed25519 (RFC 8037); the default for keys TypeAuth generates
	ES256 Alg = "ES256" // ECDSA P-256 + SHA-256, raw r||s signature (64 bytes)
	RS256 Alg = "RS256" // RSASSA-PKCS1-v1_5 + SHA-256, modulus ≥ 2048 bits
)

// MinRSABits is the smallest RSA modulus accepted anywhere in this package.
const MinRSABits = 2048

// maxRSABits bounds verification cost for keys from remote issuers.
const maxRSABits = 8192

// Supported reports whether alg is one this package implements.
func (a Alg) Supported() bool { return a == EdDSA || a == ES256 || a == RS256 }

// Maximum length of a kid accepted in a token header or a JWK.
const maxKIDLen = 128

// validKID reports whether kid is an acceptable opaque key identifier:
// 1..128 bytes of [A-Za-z0-9] and "-_.:+/=@~", without "..". A kid is only
// ever compared for equality against keys we hold: it is never a path, a
// URL, or part of a query. The charset check keeps hostile values (quotes,
// spaces, NUL, control bytes, path traversal) out of logs and lookups.
func validKID(kid string) bool {
	if len(kid) == 0 || len(kid) > maxKIDLen || strings.Contains(kid, "..") {
		return false
	}
	for i := 0; i < len(kid); i++ {
		c := kid[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case strings.IndexByte("-_.:+/=@~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// PublicKey is a verification key with its kid and the single algorithm its
// type allows. It is immutable.
type PublicKey struct {
	kid string
	alg Alg
	key crypto.PublicKey // ed25519.PublicKey, *ecdsa.PublicKey (P-256) or *rsa.PublicKey
}

// KID returns the key identifier.
func (k *PublicKey) KID() string { return k.kid }

// Alg returns the only algorithm this key verifies.
func (k *PublicKey) Alg() Alg { return k.alg }

// CryptoKey returns the standard library public key.
func (k *PublicKey) CryptoKey() crypto.PublicKey { return k.key }

// NewPublicKey wraps a standard library public key: ed25519.PublicKey,
// *ecdsa.PublicKey on P-256, or *rsa.PublicKey of at least 2048 bits. An
// empty kid is replaced by the RFC 7638 thumbprint.
func NewPublicKey(pub crypto.PublicKey, kid string) (*PublicKey, error) {
	alg, err := algForKey(pub)
	if err != nil {
		return nil, err
	}
	if kid == "" {
		kid, err = Thumbprint(pub)
		if err != nil {
			return nil, err
		}
	}
	if !validKID(kid) {
		return nil, errors.New("jose: invalid kid")
	}
	return &PublicKey{kid: kid, alg: alg, key: pub}, nil
}

// algForKey returns the algorithm implied by the key type, validating the
// key (curve, length, RSA size and exponent).
func algForKey(pub crypto.PublicKey) (Alg, error) {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return "", errors.New("jose: bad Ed25519 public key length")
		}
		return EdDSA, nil
	case *ecdsa.PublicKey:
		if k == nil || k.Curve != elliptic.P256() {
			return "", errors.New("jose: only P-256 ECDSA keys are supported")
		}
		if _, err := k.Bytes(); err != nil { // rejects points not on the curve
			return "", fmt.Errorf("jose: invalid P-256 public key: %w", err)
		}
		return ES256, nil
	case *rsa.PublicKey:
		if k == nil || k.N == nil {
			return "", errors.New("jose: nil RSA key")
		}
		if bits := k.N.BitLen(); bits < MinRSABits || bits > maxRSABits {
			return "", fmt.Errorf("jose: RSA key of %d bits refused (need %d..%d)", bits, MinRSABits, maxRSABits)
		}
		if k.E < 3 || k.E%2 == 0 {
			return "", errors.New("jose: bad RSA public exponent")
		}
		return RS256, nil
	default:
		return "", fmt.Errorf("jose: unsupported key type %T", pub)
	}
}

// Thumbprint returns the RFC 7638 JWK thumbprint (SHA-256, base64url) of a
// supported public key. TypeAuth uses it as the kid of keys it generates.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	var canon string
	switch k := pub.(type) {
	case ed25519.PublicKey:
		canon = `{"crv":"Ed25519","kty":"OKP","x":"` + encodeSegment(k) + `"}`
	case *ecdsa.PublicKey:
		x, y, err := ecCoords(k)
		if err != nil {
			return "", err
		}
		canon = `{"crv":"P-256","kty":"EC","x":"` + encodeSegment(x) + `","y":"` + encodeSegment(y) + `"}`
	case *rsa.PublicKey:
		canon = `{"e":"` + encodeSegment(big.NewInt(int64(k.E)).Bytes()) + `","kty":"RSA","n":"` + encodeSegment(k.N.Bytes()) + `"}`
	default:
		return "", fmt.Errorf("jose: unsupported key type %T", pub)
	}
	sum := sha256.Sum256([]byte(canon))
	return encodeSegment(sum[:]), nil
}

// ecCoords returns the 32-byte big-endian x and y of a P-256 key.
func ecCoords(k *ecdsa.PublicKey) (x, y []byte, err error) {
	b, err := k.Bytes() // 0x04 || x || y
	if err != nil || len(b) != 65 {
		return nil, nil, errors.New("jose: invalid P-256 public key")
	}
	return b[1:33], b[33:], nil
}

// SigningKey is a private key TypeAuth signs with, with its kid (the RFC 7638
// thumbprint of its public key) and algorithm. It is immutable.
type SigningKey struct {
	pub  *PublicKey
	priv crypto.Signer
}

// KID returns the key identifier (shared with the public key).
func (k *SigningKey) KID() string { return k.pub.kid }

// Alg returns the signing algorithm.
func (k *SigningKey) Alg() Alg { return k.pub.alg }

// Public returns the verification key to publish in the JWKS.
func (k *SigningKey) Public() *PublicKey { return k.pub }

// GenerateSigningKey creates a new key for alg (EdDSA, ES256 or RS256 with
// 2048 bits) using crypto/rand.
func GenerateSigningKey(alg Alg) (*SigningKey, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RS256:
		priv, err = rsa.GenerateKey(rand.Reader, MinRSABits)
	default:
		return nil, fmt.Errorf("jose: cannot generate a key for alg %q", alg)
	}
	if err != nil {
		return nil, err
	}
	return NewSigningKey(priv)
}

// NewSigningKey wraps an ed25519.PrivateKey, *ecdsa.PrivateKey (P-256) or
// *rsa.PrivateKey (≥ 2048 bits). The kid is the RFC 7638 thumbprint.
func NewSigningKey(priv crypto.Signer) (*SigningKey, error) {
	switch priv.(type) {
	case ed25519.PrivateKey, *ecdsa.PrivateKey, *rsa.PrivateKey:
	default:
		return nil, fmt.Errorf("jose: unsupported private key type %T", priv)
	}
	pub, err := NewPublicKey(priv.Public(), "")
	if err != nil {
		return nil, err
	}
	return &SigningKey{pub: pub, priv: priv}, nil
}

// MarshalPKCS8 returns the private key as PKCS#8 DER. The result is secret:
// seal it (SealSigningKey) before it rests anywhere.
func (k *SigningKey) MarshalPKCS8() ([]byte, error) { return x509.MarshalPKCS8PrivateKey(k.priv) }

// ParseSigningKeyPKCS8 parses a PKCS#8 DER private key, applying the same
// rules as NewSigningKey (so RSA keys under 2048 bits are refused).
func ParseSigningKeyPKCS8(der []byte) (*SigningKey, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, errors.New("jose: invalid PKCS#8 private key")
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, errors.New("jose: PKCS#8 key is not a signer")
	}
	return NewSigningKey(s)
}
