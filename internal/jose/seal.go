package jose

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"strings"
)

// sealVersion prefixes every sealed blob so the format can evolve.
const sealVersion = 1

// ParseMasterKey decodes TYPEAUTH_MASTER_KEY: standard base64 (padded) of
// exactly 32 bytes. Surrounding whitespace (a trailing newline in a _FILE)
// is ignored; whitespace inside, URL-safe characters, a wrong length or an
// all-zero key are errors. Errors never echo the input.
func ParseMasterKey(b64 string) ([32]byte, error) {
	var key [32]byte
	s := strings.TrimSpace(b64)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '=') {
			return key, errors.New("jose: master key is not standard base64")
		}
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return key, errors.New("jose: master key is not standard base64")
	}
	if len(raw) != 32 {
		return key, errors.New("jose: master key must be 32 bytes")
	}
	copy(key[:], raw)
	clear(raw)
	var zero [32]byte
	if subtle.ConstantTimeCompare(key[:], zero[:]) == 1 {
		return key, errors.New("jose: master key is all zero")
	}
	return key, nil
}

// Seal encrypts plaintext with AES-256-GCM under master, binding
// associatedData (for example the row identity) so a sealed value cannot be
// moved to another row. Output: version byte, 12-byte random nonce,
// ciphertext and tag.
func Seal(master [32]byte, plaintext, associatedData []byte) ([]byte, error) {
	aead, err := newAEAD(master)
	if err != nil {
		return nil, err
	}
	return aead.Seal([]byte{sealVersion}, nil, plaintext, sealAD(associatedData)), nil
}

// Open decrypts what Seal produced with the same master key and
// associatedData.
func Open(master [32]byte, sealed, associatedData []byte) ([]byte, error) {
	if len(sealed) < 1 || sealed[0] != sealVersion {
		return nil, errors.New("jose: unknown sealed format")
	}
	aead, err := newAEAD(master)
	if err != nil {
		return nil, err
	}
	pt, err := aead.Open(nil, nil, sealed[1:], sealAD(associatedData))
	if err != nil {
		return nil, errors.New("jose: cannot open sealed value (wrong key or data)")
	}
	return pt, nil
}

func newAEAD(master [32]byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(master[:])
	if err != nil {
		return nil, err
	}
	return cipher.NewGCMWithRandomNonce(block)
}

// sealAD prefixes the caller's associated data with the format version.
func sealAD(ad []byte) []byte { return append([]byte{sealVersion}, ad...) }

// signingKeyAD binds a sealed signing key to its kid.
func signingKeyAD(kid string) []byte { return []byte("typeauth/jose/signing-key/" + kid) }

// SealSigningKey marshals k as PKCS#8 and seals it under master, bound to
// its kid.
func SealSigningKey(master [32]byte, k *SigningKey) ([]byte, error) {
	der, err := k.MarshalPKCS8()
	if err != nil {
		return nil, err
	}
	defer clear(der)
	return Seal(master, der, signingKeyAD(k.KID()))
}

// OpenSigningKey opens a key sealed by SealSigningKey and checks that it is
// the key with this kid.
func OpenSigningKey(master [32]byte, kid string, sealed []byte) (*SigningKey, error) {
	der, err := Open(master, sealed, signingKeyAD(kid))
	if err != nil {
		return nil, err
	}
	defer clear(der)
	k, err := ParseSigningKeyPKCS8(der)
	if err != nil {
		return nil, err
	}
	if k.KID() != kid {
		return nil, errors.New("jose: sealed key does not match its kid")
	}
	return k, nil
}
