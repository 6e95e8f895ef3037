package jose

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
)

// JWK Set limits.
const (
	MaxJWKSSize = 1 << 20 // bytes
	MaxJWKSKeys = 100
)

// jwkJSON is the published shape of a public JWK (RFC 7517, 7518, 8037).
type jwkJSON struct {
	Kty string `json:"kty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	Kid string `json:"kid"`
	Alg Alg    `json:"alg"`
	Use string `json:"use"`
}

// MarshalJSON encodes the key as a public JWK with kid, alg and use "sig".
func (k *PublicKey) MarshalJSON() ([]byte, error) {
	j := jwkJSON{Kid: k.kid, Alg: k.alg, Use: "sig"}
	switch pk := k.key.(type) {
	case ed25519.PublicKey:
		j.Kty, j.Crv, j.X = "OKP", "Ed25519", encodeSegment(pk)
	case *ecdsa.PublicKey:
		x, y, err := ecCoords(pk)
		if err != nil {
			return nil, err
		}
		j.Kty, j.Crv, j.X, j.Y = "EC", "P-256", encodeSegment(x), encodeSegment(y)
	case *rsa.PublicKey:
		j.Kty, j.N, j.E = "RSA", encodeSegment(pk.N.Bytes()), encodeSegment(big.NewInt(int64(pk.E)).Bytes())
	default:
		return nil, fmt.Errorf("jose: unsupported key type %T", k.key)
	}
	return json.Marshal(j)
}

// KeySet is an immutable set of verification keys, looked up by kid and
// algorithm. It implements KeyResolver.
type KeySet struct {
	keys []*PublicKey
}

// NewKeySet returns a set of keys. Two keys with the same kid and alg are an
// error.
func NewKeySet(keys ...*PublicKey) (*KeySet, error) {
	s := &KeySet{keys: make([]*PublicKey, 0, len(keys))}
	for _, k := range keys {
		if k == nil {
			return nil, errors.New("jose: nil key")
		}
		if _, dup := s.Lookup(k.kid, k.alg); dup {
			return nil, errors.New("jose: duplicate kid " + k.kid)
		}
		s.keys = append(s.keys, k)
	}
	return s, nil
}

// Keys returns the keys in the set.
func (s *KeySet) Keys() []*PublicKey { return append([]*PublicKey(nil), s.keys...) }

// Len returns the number of keys.
func (s *KeySet) Len() int { return len(s.keys) }

// Lookup returns the key with this kid and alg. An empty kid matches only
// when exactly one key in the set has alg.
func (s *KeySet) Lookup(kid string, alg Alg) (*PublicKey, bool) {
	var found *PublicKey
	for _, k := range s.keys {
		if k.alg != alg {
			continue
		}
		if kid != "" {
			if k.kid == kid {
				return k, true
			}
			continue
		}
		if found != nil {
			return nil, false // ambiguous without a kid
		}
		found = k
	}
	return found, found != nil
}

// ResolveKey implements KeyResolver.
func (s *KeySet) ResolveKey(_ context.Context, kid string, alg Alg) (*PublicKey, error) {
	if k, ok := s.Lookup(kid, alg); ok {
		return k, nil
	}
	return nil, ErrKeyNotFound
}

// MarshalJSON encodes the set as a JWK Set: {"keys":[...]}.
func (s *KeySet) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Keys []*PublicKey `json:"keys"`
	}{Keys: s.keys})
}

// ParseJWKS parses a JWK Set of at most MaxJWKSSize bytes and MaxJWKSKeys
// keys with the strict JSON rules used for tokens. Keys this package cannot
// or will not use are skipped: other key types and curves, an alg that does
// not match the key type, use other than "sig", key_ops without "verify",
// private members, invalid points or encodings, RSA under 2048 bits, kids
// that fail the kid rules, and repeats of a kid for the same alg (the first
// wins). A set with no usable key is an error.
func ParseJWKS(data []byte) (*KeySet, error) {
	if len(data) > MaxJWKSSize {
		return nil, errors.New("jose: JWK Set too large")
	}
	m, err := decodeStrictObject(data, nil, maxJSONDepth)
	if err != nil {
		return nil, fmt.Errorf("jose: JWK Set: %w", err)
	}
	arr, ok := m["keys"].([]any)
	if !ok {
		return nil, errors.New("jose: JWK Set has no keys array")
	}
	if len(arr) > MaxJWKSKeys {
		return nil, errors.New("jose: JWK Set has too many keys")
	}
	s := &KeySet{}
	for _, e := range arr {
		jm, ok := e.(map[string]any)
		if !ok {
			continue
		}
		k, err := parseJWK(jm)
		if err != nil {
			continue
		}
		if _, dup := s.Lookup(k.kid, k.alg); dup {
			continue
		}
		s.keys = append(s.keys, k)
	}
	if len(s.keys) == 0 {
		return nil, errors.New("jose: JWK Set has no usable key")
	}
	return s, nil
}

var errJWKUnsupported = errors.New("jose: unsupported JWK")

// parseJWK turns one JWK object into a PublicKey.
func parseJWK(m map[string]any) (*PublicKey, error) {
	str := func(name string) (string, bool) {
		v, ok := m[name].(string)
		return v, ok
	}
	for _, priv := range []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"} {
		if _, ok := m[priv]; ok {
			return nil, errors.New("jose: JWK carries private or symmetric key material")
		}
	}
	if v, ok := m["use"]; ok && v != "sig" {
		return nil, errJWKUnsupported
	}
	if v, ok := m["key_ops"]; ok {
		ops, _ := v.([]any)
		verify := false
		for _, op := range ops {
			verify = verify || op == "verify"
		}
		if !verify {
			return nil, errJWKUnsupported
		}
	}
	b64 := func(name string) ([]byte, bool) {
		s, ok := str(name)
		if !ok {
			return nil, false
		}
		return decodeSegment([]byte(s))
	}
	kty, _ := str("kty")
	crv, _ := str("crv")
	var pub any
	switch {
	case kty == "OKP" && crv == "Ed25519":
		x, ok := b64("x")
		if !ok || len(x) != ed25519.PublicKeySize {
			return nil, errors.New("jose: bad Ed25519 JWK")
		}
		pub = ed25519.PublicKey(x)
	case kty == "EC" && crv == "P-256":
		x, okx := b64("x")
		y, oky := b64("y")
		if !okx || !oky || len(x) != 32 || len(y) != 32 {
			return nil, errors.New("jose: bad P-256 JWK")
		}
		pk, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			return nil, errors.New("jose: P-256 JWK point not on curve")
		}
		pub = pk
	case kty == "RSA":
		n, okn := b64("n")
		e, oke := b64("e")
		if !okn || !oke || len(e) == 0 || len(e) > 4 || len(n) > maxRSABits/8+1 {
			return nil, errors.New("jose: bad RSA JWK")
		}
		ev := new(big.Int).SetBytes(e)
		if !ev.IsInt64() || ev.Int64() > 1<<31-1 {
			return nil, errors.New("jose: bad RSA exponent")
		}
		pub = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(ev.Int64())}
	default:
		return nil, errJWKUnsupported
	}
	alg, err := algForKey(pub) // refuses RSA < 2048 bits
	if err != nil {
		return nil, err
	}
	if v, ok := m["alg"]; ok && v != string(alg) {
		return nil, errJWKUnsupported
	}
	kid := ""
	if v, ok := m["kid"]; ok {
		if kid, ok = v.(string); !ok || !validKID(kid) {
			return nil, errors.New("jose: bad kid")
		}
	}
	return NewPublicKey(pub, kid)
}
