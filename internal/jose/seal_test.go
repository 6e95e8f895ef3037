package jose

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
)

func testMaster(t *testing.T) [32]byte {
	t.Helper()
	var raw [32]byte
	rand.Read(raw[:])
	m, err := ParseMasterKey(base64.StdEncoding.EncodeToString(raw[:]))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestParseMasterKey(t *testing.T) {
	raw := bytes.Repeat([]byte{0xfb}, 32) // encodes with '+' and '/'
	good := base64.StdEncoding.EncodeToString(raw)
	cases := []struct {
		name, in string
		ok       bool
	}{
		{"standard base64", good, true},
		{"trailing newline (from a file)", good + "\n", true},
		{"surrounding spaces", "  " + good + " ", true},
		{"url-safe alphabet", base64.URLEncoding.EncodeToString(raw), false},
		{"unpadded", base64.RawStdEncoding.EncodeToString(raw[:31]), false},
		{"newline inside", good[:20] + "\n" + good[20:], false},
		{"31 bytes", base64.StdEncoding.EncodeToString(raw[:31]), false},
		{"33 bytes", base64.StdEncoding.EncodeToString(append(raw, 1)), false},
		{"all zero", base64.StdEncoding.EncodeToString(make([]byte, 32)), false},
		{"empty", "", false},
		{"hex", strings.Repeat("ab", 32), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ParseMasterKey(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if tc.ok && !bytes.Equal(k[:], raw) {
				t.Fatal("wrong key")
			}
			if err != nil && tc.in != "" && strings.Contains(err.Error(), strings.TrimSpace(tc.in)) {
				t.Fatal("error echoes the secret")
			}
		})
	}
}

func TestSealOpen(t *testing.T) {
	m, other := testMaster(t), testMaster(t)
	pt, ad := []byte("private key bytes"), []byte("signing_key/sk_1")
	sealed, err := Seal(m, pt, ad)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, pt) {
		t.Fatal("plaintext visible")
	}
	again, _ := Seal(m, pt, ad)
	if bytes.Equal(sealed, again) {
		t.Fatal("nonce reused")
	}
	if got, err := Open(m, sealed, ad); err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	tampered := append([]byte{}, sealed...)
	tampered[len(tampered)/2] ^= 1
	cases := []struct {
		name   string
		key    [32]byte
		sealed []byte
		ad     []byte
	}{
		{"wrong key", other, sealed, ad},
		{"wrong associated data", m, sealed, []byte("signing_key/sk_2")},
		{"tampered", m, tampered, ad},
		{"truncated", m, sealed[:10], ad},
		{"unknown version", m, append([]byte{2}, sealed[1:]...), ad},
		{"empty", m, nil, ad},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Open(tc.key, tc.sealed, tc.ad); err == nil {
				t.Fatal("opened")
			}
		})
	}
}

func TestSealSigningKey(t *testing.T) {
	m := testMaster(t)
	for _, alg := range []Alg{EdDSA, ES256, RS256} {
		t.Run(string(alg), func(t *testing.T) {
			k := testKey(t, alg)
			sealed, err := SealSigningKey(m, k)
			if err != nil {
				t.Fatal(err)
			}
			der, _ := k.MarshalPKCS8()
			if bytes.Contains(sealed, der[len(der)-16:]) {
				t.Fatal("key material visible")
			}
			back, err := OpenSigningKey(m, k.KID(), sealed)
			if err != nil || back.KID() != k.KID() {
				t.Fatalf("OpenSigningKey: %v", err)
			}
			tok, _ := Sign(map[string]any{"iss": testIssuer, "aud": "api", "exp": 1767229200}, back)
			wantVerdict(t, testVerifier(t, testPolicy(), k), tok, "", "")
			if _, err := OpenSigningKey(m, "another-kid", sealed); err == nil {
				t.Fatal("opened under another kid")
			}
		})
	}
}
