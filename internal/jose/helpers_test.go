package jose

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// testNow is the fixed clock of the tests: 2026-01-01T00:00:00Z.
var testNow = time.Unix(1767225600, 0).UTC()

const testIssuer = "https://issuer.test"

// keys are generated once per test binary run (RSA generation is slow).
// Only tests read it; it is not package state of the library.
var testKeysOnce = sync.OnceValues(func() (map[Alg]*SigningKey, error) {
	out := map[Alg]*SigningKey{}
	for _, a := range []Alg{EdDSA, ES256, RS256} {
		k, err := GenerateSigningKey(a)
		if err != nil {
			return nil, err
		}
		out[a] = k
	}
	return out, nil
})

func testKey(t testing.TB, alg Alg) *SigningKey {
	t.Helper()
	m, err := testKeysOnce()
	if err != nil {
		t.Fatal(err)
	}
	return m[alg]
}

func b64u(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// forge signs arbitrary header and claims JSON with key, bypassing Sign's
// own checks, so hostile tokens carry valid signatures: each refusal in the
// hardening tests is then due to the check under test and nothing else.
func forge(t testing.TB, key *SigningKey, header, claims string) string {
	t.Helper()
	input := b64u(header) + "." + b64u(claims)
	sig, err := sign(key, []byte(input))
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// hdr returns a standard header for key.
func hdr(key *SigningKey) string {
	return `{"alg":"` + string(key.Alg()) + `","kid":"` + key.KID() + `","typ":"at+jwt"}`
}

// goodClaims are valid at testNow under testPolicy.
const goodClaims = `{"iss":"https://issuer.test","sub":"user_1","aud":"api","exp":1767229200,"iat":1767225600,"jti":"j1"}`

func testPolicy() Policy {
	return Policy{
		Issuer:     testIssuer,
		Algorithms: []Alg{EdDSA, ES256, RS256},
		Audiences:  []string{"api"},
		Now:        func() time.Time { return testNow },
	}
}

func testVerifier(t testing.TB, p Policy, keys ...*SigningKey) *Verifier {
	t.Helper()
	if len(keys) == 0 {
		keys = []*SigningKey{testKey(t, EdDSA), testKey(t, ES256), testKey(t, RS256)}
	}
	var pubs []*PublicKey
	for _, k := range keys {
		pubs = append(pubs, k.Public())
	}
	ks, err := NewKeySet(pubs...)
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(ks, p)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// wantVerdict checks that verifying token gives code (or success when code
// is "") and, when reason is non-empty, a Reason containing it.
func wantVerdict(t *testing.T, v *Verifier, token string, code Code, reason string) {
	t.Helper()
	_, err := v.Verify(context.Background(), token)
	if code == "" {
		if err != nil {
			t.Fatalf("want valid, got %v", err)
		}
		return
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("want %s, got non-verdict %v", code, err)
	}
	if e.Code != code {
		t.Fatalf("want %s, got %v", code, e)
	}
	if reason != "" && !strings.Contains(e.Reason, reason) {
		t.Fatalf("want reason containing %q, got %q", reason, e.Reason)
	}
}
