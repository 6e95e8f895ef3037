package jose

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"
	"time"
)

// typicalClaims is the shape of a TypeAuth access token (RFC 9068).
var typicalClaims = map[string]any{
	"iss": testIssuer, "sub": "owner_8f3a2c", "aud": "api", "exp": int64(1767229200), "iat": int64(1767225600),
	"jti": "tok_2kq9v3n8w1x5z7c4", "client_id": "key_3h7d9f2k1m5n8p", "scope": "documents.read billing.write",
}

func benchToken(b *testing.B, alg Alg) (string, *Verifier, *SigningKey) {
	b.Helper()
	k := testKey(b, alg)
	tok, err := Sign(typicalClaims, k)
	if err != nil {
		b.Fatal(err)
	}
	p := testPolicy()
	p.Types = []string{TypeAccessToken}
	return tok, testVerifier(b, p, k), k
}

// BenchmarkVerify is the full path: parse, header rules, key lookup,
// signature, claims.
func BenchmarkVerify(b *testing.B) {
	for _, alg := range []Alg{EdDSA, ES256, RS256} {
		b.Run(string(alg), func(b *testing.B) {
			tok, v, _ := benchToken(b, alg)
			ctx := b.Context()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBaseline does only what any verifier must: split, decode the
// signature, and the standard library signature check. Compare with
// BenchmarkVerify for the cost of the hardening.
func BenchmarkBaseline(b *testing.B) {
	for _, alg := range []Alg{EdDSA, ES256} {
		b.Run(string(alg), func(b *testing.B) {
			tok, _, k := benchToken(b, alg)
			pub := k.Public().CryptoKey()
			b.ReportAllocs()
			for b.Loop() {
				i := strings.LastIndexByte(tok, '.')
				sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
				if err != nil {
					b.Fatal(err)
				}
				msg := []byte(tok[:i])
				var ok bool
				switch pk := pub.(type) {
				case ed25519.PublicKey:
					ok = ed25519.Verify(pk, msg, sig)
				case *ecdsa.PublicKey:
					h := sha256.Sum256(msg)
					ok = ecdsa.Verify(pk, h[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
				}
				if !ok {
					b.Fatal("verify failed")
				}
			}
		})
	}
}

// BenchmarkParse isolates the strict pre-parser.
func BenchmarkParse(b *testing.B) {
	tok, _, _ := benchToken(b, EdDSA)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseCompact(tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSideBySide alternates the full Verify and the baseline on every
// iteration, so load from other processes hits both equally, and reports
// throughput of Verify as a percentage of the baseline (verify-%-of-baseline).
func BenchmarkSideBySide(b *testing.B) {
	for _, alg := range []Alg{EdDSA, ES256} {
		b.Run(string(alg), func(b *testing.B) {
			tok, v, k := benchToken(b, alg)
			pub := k.Public().CryptoKey()
			ctx := b.Context()
			var tv, tb time.Duration
			b.ReportAllocs()
			for b.Loop() {
				t0 := time.Now()
				if _, err := v.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				i := strings.LastIndexByte(tok, '.')
				sig, _ := base64.RawURLEncoding.DecodeString(tok[i+1:])
				msg := []byte(tok[:i])
				var ok bool
				switch pk := pub.(type) {
				case ed25519.PublicKey:
					ok = ed25519.Verify(pk, msg, sig)
				case *ecdsa.PublicKey:
					h := sha256.Sum256(msg)
					ok = ecdsa.Verify(pk, h[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
				}
				if !ok {
					b.Fatal("baseline failed")
				}
				tv += t1.Sub(t0)
				tb += time.Since(t1)
			}
			n := float64(b.N)
			b.ReportMetric(float64(tv.Nanoseconds())/n, "verify-ns/op")
			b.ReportMetric(float64(tb.Nanoseconds())/n, "baseline-ns/op")
			b.ReportMetric(100*float64(tb)/float64(tv), "verify-%-of-baseline")
		})
	}
}
