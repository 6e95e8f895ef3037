package jose

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"strings"
	"testing"
)

func TestThumbprintRFCVectors(t *testing.T) {
	// RFC 7638 §3.1.
	n, _ := base64.RawURLEncoding.DecodeString("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
	rsaKey := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537}
	// RFC 8037 Appendix A.3.
	x, _ := base64.RawURLEncoding.DecodeString("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
	cases := []struct {
		name string
		key  any
		want string
	}{
		{"RSA RFC 7638", rsaKey, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"},
		{"Ed25519 RFC 8037", ed25519.PublicKey(x), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Thumbprint(tc.key)
			if err != nil || got != tc.want {
				t.Fatalf("Thumbprint = %q, %v; want %q", got, err, tc.want)
			}
			k, err := NewPublicKey(tc.key, "")
			if err != nil || k.KID() != tc.want {
				t.Fatalf("NewPublicKey kid = %v, %v", k, err)
			}
		})
	}
}

func TestGenerateSigningKey(t *testing.T) {
	for _, alg := range []Alg{EdDSA, ES256, RS256} {
		t.Run(string(alg), func(t *testing.T) {
			k := testKey(t, alg)
			if k.Alg() != alg || k.Public().Alg() != alg || k.KID() == "" || k.KID() != k.Public().KID() {
				t.Fatalf("key %s/%s kid %q", k.Alg(), k.Public().Alg(), k.KID())
			}
			tp, _ := Thumbprint(k.Public().CryptoKey())
			if tp != k.KID() {
				t.Fatalf("kid %q is not the thumbprint %q", k.KID(), tp)
			}
		})
	}
	if _, err := GenerateSigningKey("HS256"); err == nil {
		t.Fatal("generated an HS256 key")
	}
}

func TestWeakRSARefused(t *testing.T) {
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewPublicKey(&weak.PublicKey, "k"); err == nil {
		t.Error("NewPublicKey accepted RSA-1024")
	}
	if _, err := NewSigningKey(weak); err == nil {
		t.Error("NewSigningKey accepted RSA-1024")
	}
	der, _ := x509.MarshalPKCS8PrivateKey(weak)
	if _, err := ParseSigningKeyPKCS8(der); err == nil {
		t.Error("ParseSigningKeyPKCS8 accepted RSA-1024")
	}
	jwks := `{"keys":[{"kty":"RSA","kid":"weak","n":"` + base64.RawURLEncoding.EncodeToString(weak.N.Bytes()) + `","e":"AQAB"}]}`
	if _, err := ParseJWKS([]byte(jwks)); err == nil {
		t.Error("ParseJWKS accepted RSA-1024")
	}
	// 2048 is the floor and is accepted.
	if _, err := NewPublicKey(testKey(t, RS256).Public().CryptoKey(), "k"); err != nil {
		t.Errorf("RSA-2048 refused: %v", err)
	}
}

func TestOtherKeysRefused(t *testing.T) {
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	cases := []struct {
		name string
		key  any
	}{
		{"P-384", &p384.PublicKey},
		{"short Ed25519", ed25519.PublicKey(make([]byte, 31))},
		{"HMAC secret", []byte("secret")},
		{"RSA even exponent", &rsa.PublicKey{N: testKey(t, RS256).Public().CryptoKey().(*rsa.PublicKey).N, E: 65536}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewPublicKey(tc.key, "k"); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	if _, err := NewPublicKey(testKey(t, EdDSA).Public().CryptoKey(), "bad kid"); err == nil {
		t.Fatal("accepted a kid with a space")
	}
}

func TestJWKSRoundTrip(t *testing.T) {
	var pubs []*PublicKey
	for _, a := range []Alg{EdDSA, ES256, RS256} {
		pubs = append(pubs, testKey(t, a).Public())
	}
	set, err := NewKeySet(pubs...)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	// RFC 7517 / 8037 shapes.
	var raw struct{ Keys []map[string]string }
	if err := json.Unmarshal(data, &raw); err != nil || len(raw.Keys) != 3 {
		t.Fatalf("JWKS %s: %v", data, err)
	}
	wantMembers := map[string][]string{"OKP": {"crv", "x"}, "EC": {"crv", "x", "y"}, "RSA": {"n", "e"}}
	for _, k := range raw.Keys {
		for _, m := range append(wantMembers[k["kty"]], "kid", "alg", "use") {
			if k[m] == "" {
				t.Errorf("%s JWK lacks %q: %v", k["kty"], m, k)
			}
		}
		if k["use"] != "sig" || k["d"] != "" {
			t.Errorf("bad JWK %v", k)
		}
	}
	if !strings.Contains(string(data), `"crv":"Ed25519"`) || !strings.Contains(string(data), `"crv":"P-256"`) || !strings.Contains(string(data), `"e":"AQAB"`) {
		t.Errorf("JWKS shape: %s", data)
	}
	back, err := ParseJWKS(data)
	if err != nil {
		t.Fatal(err)
	}
	if back.Len() != 3 {
		t.Fatalf("parsed %d keys", back.Len())
	}
	for _, p := range pubs {
		got, ok := back.Lookup(p.KID(), p.Alg())
		if !ok || !got.CryptoKey().(interface{ Equal(crypto.PublicKey) bool }).Equal(p.CryptoKey()) {
			t.Errorf("%s key did not round-trip", p.Alg())
		}
		// Lookup is by alg family too.
		for _, other := range []Alg{EdDSA, ES256, RS256} {
			if other != p.Alg() {
				if _, ok := back.Lookup(p.KID(), other); ok {
					t.Errorf("kid %s found for alg %s", p.KID(), other)
				}
			}
		}
	}
}

func TestParseJWKS(t *testing.T) {
	ed := testKey(t, EdDSA).Public()
	edJWK, _ := json.Marshal(ed)
	es := testKey(t, ES256).Public()
	esJWK, _ := json.Marshal(es)
	x, y, _ := ecCoords(es.CryptoKey().(*ecdsa.PublicKey))
	offCurveY := append([]byte{}, y...)
	offCurveY[31] ^= 1
	u := base64.RawURLEncoding.EncodeToString
	set := func(keys ...string) string { return `{"keys":[` + strings.Join(keys, ",") + `]}` }

	cases := []struct {
		name   string
		data   string
		usable int // -1: error
	}{
		{"one good key", set(string(edJWK)), 1},
		{"good and junk", set(string(edJWK), `{"kty":"oct","k":"c2VjcmV0"}`, `"str"`, `{"kty":"EC","crv":"P-384","x":"AA","y":"AA"}`), 1},
		{"alg mismatch skipped", set(strings.Replace(string(esJWK), `"alg":"ES256"`, `"alg":"ES384"`, 1), string(edJWK)), 1},
		{"use enc skipped", set(strings.Replace(string(esJWK), `"use":"sig"`, `"use":"enc"`, 1), string(edJWK)), 1},
		{"key_ops without verify skipped", set(strings.TrimSuffix(string(esJWK), "}")+`,"key_ops":["sign"]}`, string(edJWK)), 1},
		{"key_ops with verify", set(strings.TrimSuffix(string(esJWK), "}") + `,"key_ops":["verify"]}`), 1},
		{"private member skipped", set(strings.TrimSuffix(string(esJWK), "}")+`,"d":"AAAA"}`, string(edJWK)), 1},
		{"off-curve point skipped", set(`{"kty":"EC","crv":"P-256","kid":"e","x":"`+u(x)+`","y":"`+u(offCurveY)+`"}`, string(edJWK)), 1},
		{"short coordinate skipped", set(`{"kty":"EC","crv":"P-256","kid":"e","x":"`+u(x[1:])+`","y":"`+u(y)+`"}`, string(edJWK)), 1},
		{"bad kid skipped", set(strings.Replace(string(esJWK), `"kid":"`, `"kid":"../`, 1), string(edJWK)), 1},
		{"non-canonical base64 skipped", set(`{"kty":"OKP","crv":"Ed25519","kid":"o","x":"`+u(ed.CryptoKey().(ed25519.PublicKey))+`="}`, string(edJWK)), 1},
		{"missing kid gets thumbprint", set(strings.Replace(string(edJWK), `"kid":"`+ed.KID()+`",`, ``, 1)), 1},
		{"repeated kid: first wins", set(string(edJWK), string(edJWK)), 1},
		{"same kid, two families", set(string(edJWK), strings.Replace(string(esJWK), es.KID(), ed.KID(), 1)), 2},
		{"no usable key", set(`{"kty":"oct","k":"c2VjcmV0"}`), -1},
		{"empty", set(), -1},
		{"no keys member", `{}`, -1},
		{"keys not array", `{"keys":{}}`, -1},
		{"not JSON", `keys`, -1},
		{"duplicate member", `{"keys":[],"keys":[` + string(edJWK) + `]}`, -1},
		{"duplicate member in key", set(strings.TrimSuffix(string(edJWK), "}") + `,"x":"AAAA"}`), -1},
		{"too deep", `{"keys":[` + string(edJWK) + `],"x":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, -1},
		{"too large", `{"keys":[` + string(edJWK) + `],"pad":"` + strings.Repeat("x", MaxJWKSSize) + `"}`, -1},
		{"too many keys", set(strings.Split(strings.Repeat(string(edJWK)+"|", MaxJWKSKeys+1), "|")[:MaxJWKSKeys+1]...), -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ks, err := ParseJWKS([]byte(tc.data))
			if tc.usable < 0 {
				if err == nil {
					t.Fatalf("accepted, %d keys", ks.Len())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ks.Len() != tc.usable {
				t.Fatalf("%d usable keys, want %d", ks.Len(), tc.usable)
			}
		})
	}
}

func TestKeySetLookup(t *testing.T) {
	ed, es := testKey(t, EdDSA).Public(), testKey(t, ES256).Public()
	other, _ := GenerateSigningKey(EdDSA)
	ks, _ := NewKeySet(ed, es)
	if k, ok := ks.Lookup("", EdDSA); !ok || k != ed {
		t.Error("empty kid with one EdDSA key should resolve")
	}
	ks2, _ := NewKeySet(ed, es, other.Public())
	if _, ok := ks2.Lookup("", EdDSA); ok {
		t.Error("empty kid with two EdDSA keys must not resolve")
	}
	if _, err := NewKeySet(ed, ed); err == nil {
		t.Error("duplicate kid accepted")
	}
}

func TestSign(t *testing.T) {
	claims := map[string]any{"iss": testIssuer, "sub": "user_1", "aud": "api", "exp": 1767229200, "iat": 1767225600, "scope": "a b", "meta": map[string]any{"z": 1, "a": 2}}
	for _, alg := range []Alg{EdDSA, ES256, RS256} {
		t.Run(string(alg), func(t *testing.T) {
			k := testKey(t, alg)
			tok, err := Sign(claims, k)
			if err != nil {
				t.Fatal(err)
			}
			parts := strings.Split(tok, ".")
			h, _ := base64.RawURLEncoding.DecodeString(parts[0])
			if want := `{"alg":"` + string(alg) + `","kid":"` + k.KID() + `","typ":"at+jwt"}`; string(h) != want {
				t.Fatalf("header %s, want %s", h, want)
			}
			p, _ := base64.RawURLEncoding.DecodeString(parts[1])
			if want := `{"aud":"api","exp":1767229200,"iat":1767225600,"iss":"https://issuer.test","meta":{"a":2,"z":1},"scope":"a b","sub":"user_1"}`; string(p) != want {
				t.Fatalf("payload %s is not the deterministic encoding", p)
			}
			tok2, _ := Sign(claims, k)
			if !strings.HasPrefix(tok2, parts[0]+"."+parts[1]+".") {
				t.Fatal("signing input not deterministic")
			}
			if alg == EdDSA && tok2 != tok {
				t.Fatal("Ed25519 tokens should be identical")
			}
			wantVerdict(t, testVerifier(t, testPolicy(), k), tok, "", "")
			independentVerify(t, k.Public().CryptoKey(), tok)
		})
	}
	t.Run("refuses what Verify would refuse", func(t *testing.T) {
		k := testKey(t, EdDSA)
		if _, err := Sign(map[string]any{"iss": "x", "ISS": "y"}, k); err == nil {
			t.Error("case-variant claim signed")
		}
		if _, err := Sign(map[string]any{"pad": strings.Repeat("x", MaxTokenSize)}, k); err == nil {
			t.Error("oversized token signed")
		}
		if _, err := Sign(map[string]any{"x": 1}, nil); err == nil {
			t.Error("nil key")
		}
	})
}

// independentVerify checks a token with nothing from this package: split,
// std base64, std crypto. It is the "backend verifying offline" path.
func independentVerify(t *testing.T, pub any, tok string) {
	t.Helper()
	i := strings.LastIndexByte(tok, '.')
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte(tok[:i])
	h := sha256.Sum256(msg)
	ok := false
	switch k := pub.(type) {
	case ed25519.PublicKey:
		ok = ed25519.Verify(k, msg, sig)
	case *ecdsa.PublicKey:
		ok = len(sig) == 64 && ecdsa.Verify(k, h[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
	case *rsa.PublicKey:
		ok = rsa.VerifyPKCS1v15(k, crypto.SHA256, h[:], sig) == nil
	}
	if !ok {
		t.Fatal("independent verification failed")
	}
}

func TestPKCS8RoundTrip(t *testing.T) {
	for _, alg := range []Alg{EdDSA, ES256, RS256} {
		t.Run(string(alg), func(t *testing.T) {
			k := testKey(t, alg)
			der, err := k.MarshalPKCS8()
			if err != nil {
				t.Fatal(err)
			}
			back, err := ParseSigningKeyPKCS8(der)
			if err != nil || back.KID() != k.KID() || back.Alg() != alg {
				t.Fatalf("round trip: %v", err)
			}
			if _, err := ParseSigningKeyPKCS8(bytes.Repeat([]byte{0x30}, 10)); err == nil {
				t.Fatal("garbage parsed")
			}
		})
	}
}
