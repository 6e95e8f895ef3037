package jose

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// FuzzParseCompact feeds arbitrary strings to the token pre-parser and the
// full verifier. Seeds: f.Add below and testdata/fuzz/FuzzParseCompact.
func FuzzParseCompact(f *testing.F) {
	ed := testKey(f, EdDSA)
	es := testKey(f, ES256)
	f.Add(forge(f, ed, hdr(ed), goodClaims))
	f.Add(forge(f, es, hdr(es), goodClaims))
	f.Add(forge(f, ed, `{"alg":"EdDSA","alg":"none"}`, `{"exp":1,"EXP":2}`))
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("a.b.c.d.e")
	f.Add(`{"payload":"e30","signatures":[]}`)
	ks, _ := NewKeySet(ed.Public(), es.Public())
	v, _ := NewVerifier(ks, testPolicy())

	f.Fuzz(func(t *testing.T, token string) {
		p, perr := parseCompact(token)
		if perr == nil {
			if len(token) > MaxTokenSize || strings.Count(token, ".") != 2 {
				t.Fatalf("accepted a token of %d bytes / %d dots", len(token), strings.Count(token, "."))
			}
			// Canonical: each segment is the one encoding of its bytes.
			segs := strings.Split(token, ".")
			for i, s := range segs[:2] {
				b, _ := decodeSegment([]byte(s))
				if encodeSegment(b) != s {
					t.Fatalf("segment %d not canonical", i)
				}
				// Anything we accept, encoding/json accepts too.
				var m map[string]any
				if json.Unmarshal(b, &m) != nil {
					t.Fatalf("segment %d accepted by us, refused by encoding/json", i)
				}
			}
			if p.header.Alg == "" || (p.header.KID != "" && !validKID(p.header.KID)) {
				t.Fatalf("bad header %+v", p.header)
			}
		}
		tok, err := v.Verify(t.Context(), token)
		if err == nil {
			if perr != nil || tok == nil {
				t.Fatal("Verify accepted what the parser refused")
			}
			return
		}
		if CodeOf(err) == "" {
			t.Fatalf("non-verdict error %v", err)
		}
	})
}

// FuzzParseJWKS feeds arbitrary bytes to the JWK Set parser.
func FuzzParseJWKS(f *testing.F) {
	var pubs []*PublicKey
	for _, a := range []Alg{EdDSA, ES256, RS256} {
		pubs = append(pubs, testKey(f, a).Public())
	}
	ks, _ := NewKeySet(pubs...)
	good, _ := json.Marshal(ks)
	f.Add(good)
	f.Add([]byte(`{"keys":[{"kty":"oct","k":"AA"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}`))
	f.Add([]byte(`{"keys":[],"keys":[]}`))

	f.Fuzz(func(t *testing.T, data []byte) {
		ks, err := ParseJWKS(data)
		if err != nil {
			return
		}
		if ks.Len() < 1 || ks.Len() > MaxJWKSKeys {
			t.Fatalf("%d keys", ks.Len())
		}
		// Round trip: what we publish, we parse back to the same keys.
		out, err := json.Marshal(ks)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseJWKS(out)
		if err != nil || back.Len() != ks.Len() {
			t.Fatalf("round trip: %v", err)
		}
		for _, k := range ks.Keys() {
			if !validKID(k.KID()) || !k.Alg().Supported() {
				t.Fatalf("bad key %q %q", k.KID(), k.Alg())
			}
			b, ok := back.Lookup(k.KID(), k.Alg())
			if !ok {
				t.Fatalf("kid %q lost", k.KID())
			}
			j1, _ := json.Marshal(k)
			j2, _ := json.Marshal(b)
			if !bytes.Equal(j1, j2) {
				t.Fatalf("key changed: %s vs %s", j1, j2)
			}
		}
	})
}
