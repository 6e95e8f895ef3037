package jose

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
)

// p256Order is n, the order of the P-256 base point, big-endian.
var p256Order = [32]byte{
	0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
}

// validP256Scalar reports whether b (32 bytes, big-endian) is in [1, n-1].
// crypto/ecdsa checks this too; we check first so the rule does not depend
// on a library detail.
func validP256Scalar(b []byte) bool {
	if len(b) != 32 || bytes.Compare(b, p256Order[:]) >= 0 {
		return false
	}
	for _, c := range b {
		if c != 0 {
			return true
		}
	}
	return false
}

var (
	errSigLength = errors.New("signature has the wrong length")
	errSigScalar = errors.New("ECDSA r or s out of range")
	errSigVerify = errors.New("signature does not verify")
	errAlgKey    = errors.New("algorithm does not match the key type")
)

// verifySignature checks sig over msg with key for alg. It is the single
// signature check used by token verification (and by the Wycheproof tests).
// The key's type decides the algorithm: alg must equal key.Alg().
func verifySignature(key *PublicKey, alg Alg, msg, sig []byte) error {
	if alg != key.alg {
		return errAlgKey
	}
	switch k := key.key.(type) {
	case ed25519.PublicKey:
		if len(sig) != ed25519.SignatureSize {
			return errSigLength
		}
		// crypto/ed25519 rejects s ≥ L (non-canonical, malleable) and
		// non-canonical R encodings.
		if !ed25519.Verify(k, msg, sig) {
			return errSigVerify
		}
		return nil
	case *ecdsa.PublicKey:
		if len(sig) != 64 {
			return errSigLength
		}
		r, s := sig[:32], sig[32:]
		if !validP256Scalar(r) || !validP256Scalar(s) {
			return errSigScalar
		}
		// High-S signatures are valid ECDSA and are accepted: the token
		// string is not a unique identifier (revocation is by jti).
		h := sha256.Sum256(msg)
		if !ecdsa.VerifyASN1(k, h[:], derSignature(r, s)) {
			return errSigVerify
		}
		return nil
	case *rsa.PublicKey:
		if len(sig) != k.Size() {
			return errSigLength
		}
		h := sha256.Sum256(msg)
		if rsa.VerifyPKCS1v15(k, crypto.SHA256, h[:], sig) != nil {
			return errSigVerify
		}
		return nil
	default:
		return errAlgKey
	}
}

// derSignature encodes r and s (32-byte big-endian, non-zero) as an ASN.1
// ECDSA-Sig-Value for crypto/ecdsa.
func derSignature(r, s []byte) []byte {
	ri, si := derInt(r), derInt(s)
	out := make([]byte, 0, 2+2+len(ri)+2+len(si))
	out = append(out, 0x30, byte(4+len(ri)+len(si)))
	out = append(out, 0x02, byte(len(ri)))
	out = append(out, ri...)
	out = append(out, 0x02, byte(len(si)))
	return append(out, si...)
}

// derInt returns the minimal two's-complement encoding of a positive integer.
func derInt(b []byte) []byte {
	for len(b) > 1 && b[0] == 0 {
		b = b[1:]
	}
	if b[0]&0x80 != 0 {
		return append([]byte{0}, b...)
	}
	return b
}

// sign produces the JWS signature of msg with key.
func sign(key *SigningKey, msg []byte) ([]byte, error) {
	switch k := key.priv.(type) {
	case ed25519.PrivateKey:
		return ed25519.Sign(k, msg), nil
	case *ecdsa.PrivateKey:
		h := sha256.Sum256(msg)
		r, s, err := ecdsa.Sign(rand.Reader, k, h[:])
		if err != nil {
			return nil, err
		}
		out := make([]byte, 64)
		r.FillBytes(out[:32])
		s.FillBytes(out[32:])
		return out, nil
	case *rsa.PrivateKey:
		h := sha256.Sum256(msg)
		return rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, h[:])
	default:
		return nil, errAlgKey
	}
}
