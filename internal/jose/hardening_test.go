package jose

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"math/big"
	"strings"
	"testing"
)

// TestHardening: every hostile token below carries a valid signature from a
// trusted key (see forge), so each one would verify if the check named in
// the case were removed. Codes and reasons pin the check that refuses it.
func TestHardening(t *testing.T) {
	ed := testKey(t, EdDSA)
	kid := ed.KID()
	good := forge(t, ed, hdr(ed), goodClaims)
	v := testVerifier(t, testPolicy())

	// positive control: the base token verifies.
	wantVerdict(t, v, good, "", "")

	parts := strings.Split(good, ".")
	deep := strings.Repeat(`{"a":`, 32) + `1` + strings.Repeat(`}`, 32) // depth 33 with the claims object
	okDeep := strings.Repeat(`{"a":`, 31) + `1` + strings.Repeat(`}`, 31)
	withClaim := func(extra string) string { return strings.TrimSuffix(goodClaims, "}") + "," + extra + "}" }
	withHeader := func(extra string) string { return strings.TrimSuffix(hdr(ed), "}") + "," + extra + "}" }

	cases := []struct {
		name   string
		token  string
		code   Code
		reason string
	}{
		// size bound before parsing
		{"oversized token", forge(t, ed, hdr(ed), withClaim(`"pad":"`+strings.Repeat("x", MaxTokenSize)+`"`)), CodeMalformed, "too large"},
		// segments
		{"two segments", parts[0] + "." + parts[1], CodeMalformed, "three segments"},
		{"four segments", good + ".x", CodeMalformed, "three segments"},
		{"JWE five segments", good + ".x.y", CodeMalformed, "JWE"},
		{"JWS JSON serialization", `{"payload":"` + parts[1] + `","protected":"` + parts[0] + `","signature":"` + parts[2] + `"}`, CodeMalformed, "JSON serialization"},
		{"JWS JSON serialization flattened with dots", `{"payload":"a.b.c"}`, CodeMalformed, "JSON serialization"},
		// alphabet (Go's base64 decoder skips CR and LF even in strict mode)
		{"LF in payload", parts[0] + "." + parts[1][:10] + "\n" + parts[1][10:] + "." + parts[2], CodeMalformed, "base64url"},
		{"CR in header", parts[0][:5] + "\r" + parts[0][5:] + "." + parts[1] + "." + parts[2], CodeMalformed, "base64url"},
		{"CRLF in signature", parts[0] + "." + parts[1] + "." + parts[2][:8] + "\r\n" + parts[2][8:], CodeMalformed, "base64url"},
		{"tab in payload", parts[0] + "." + parts[1][:4] + "\t" + parts[1][4:] + "." + parts[2], CodeMalformed, "base64url"},
		{"space in payload", parts[0] + "." + parts[1][:4] + " " + parts[1][4:] + "." + parts[2], CodeMalformed, "base64url"},
		{"padding", parts[0] + "." + parts[1] + "." + parts[2] + "==", CodeMalformed, "base64url"},
		{"std alphabet +", parts[0] + "." + parts[1] + "." + "+" + parts[2][1:], CodeMalformed, "base64url"},
		{"std alphabet /", parts[0] + "." + "/" + parts[1][1:] + "." + parts[2], CodeMalformed, "base64url"},
		{"non-zero trailing bits", parts[0] + "." + parts[1] + "." + flipTrailingBits(t, parts[2]), CodeMalformed, "signature is not canonical"},
		// JSON shape
		{"header not an object", forge(t, ed, `["alg","EdDSA"]`, goodClaims), CodeMalformed, "header"},
		{"claims not an object", forge(t, ed, hdr(ed), `"claims"`), CodeMalformed, "claims"},
		{"trailing data after claims", forge(t, ed, hdr(ed), goodClaims+`{}`), CodeMalformed, "after"},
		{"invalid UTF-8 in claims", forge(t, ed, hdr(ed), withClaim("\"name\":\"\xff\"")), CodeMalformed, "UTF-8"},
		{"duplicate alg", forge(t, ed, withHeader(`"alg":"EdDSA"`), goodClaims), CodeMalformed, "duplicate"},
		{"duplicate alg via escape", forge(t, ed, withHeader(`"\u0061lg":"EdDSA"`), goodClaims), CodeMalformed, "duplicate"},
		{"duplicate exp (last wins in encoding/json)", forge(t, ed, hdr(ed), `{"iss":"https://issuer.test","aud":"api","exp":1,"exp":1767229200}`), CodeMalformed, "duplicate"},
		{"duplicate nested member", forge(t, ed, hdr(ed), withClaim(`"meta":{"role":"user","role":"admin"}`)), CodeMalformed, "duplicate"},
		{"case variant ALG", forge(t, ed, withHeader(`"ALG":"none"`), goodClaims), CodeMalformed, "case variant"},
		{"case variant Kelvin-sign kid", forge(t, ed, withHeader(`"\u212Aid":"other"`), goodClaims), CodeMalformed, "case variant"},
		{"case variant Exp", forge(t, ed, hdr(ed), withClaim(`"Exp":1`)), CodeMalformed, "case variant"},
		{"case variant ISS", forge(t, ed, hdr(ed), withClaim(`"ISS":"https://evil.test"`)), CodeMalformed, "case variant"},
		{"nesting too deep", forge(t, ed, hdr(ed), withClaim(`"deep":`+deep)), CodeMalformed, "deep"},
		{"array nesting too deep", forge(t, ed, hdr(ed), withClaim(`"deep":`+strings.Repeat("[", 32)+strings.Repeat("]", 32))), CodeMalformed, "deep"},
		// alg
		{"alg none", forge(t, ed, `{"alg":"none","kid":"`+kid+`"}`, goodClaims), CodeInvalidSignature, "none"},
		{"alg None", forge(t, ed, `{"alg":"None","kid":"`+kid+`"}`, goodClaims), CodeInvalidSignature, "none"},
		{"alg NONE empty sig", b64u(`{"alg":"NONE"}`) + "." + parts[1] + ".", CodeInvalidSignature, "none"},
		{"alg nOnE", forge(t, ed, `{"alg":"nOnE","kid":"`+kid+`"}`, goodClaims), CodeInvalidSignature, "none"},
		{"alg missing", forge(t, ed, `{"kid":"`+kid+`"}`, goodClaims), CodeMalformed, "alg"},
		{"alg not a string", forge(t, ed, `{"alg":["EdDSA"],"kid":"`+kid+`"}`, goodClaims), CodeMalformed, "alg"},
		{"alg lower-case eddsa", forge(t, ed, `{"alg":"eddsa","kid":"`+kid+`"}`, goodClaims), CodeInvalidSignature, "not allowed"},
		{"HS256 with public key as HMAC secret", hs256Confusion(t, ed, kid), CodeInvalidSignature, "not allowed"},
		// keys carried by the token
		{"jku", forge(t, ed, withHeader(`"jku":"https://evil.test/jwks"`), goodClaims), CodeInvalidSignature, "jku"},
		{"x5u", forge(t, ed, withHeader(`"x5u":"https://evil.test/cert"`), goodClaims), CodeInvalidSignature, "x5u"},
		{"jwk", forge(t, ed, withHeader(`"jwk":{"kty":"OKP","crv":"Ed25519","x":"`+b64u(string(ed.Public().CryptoKey().(ed25519.PublicKey)))+`"}`), goodClaims), CodeInvalidSignature, "jwk"},
		{"x5c", forge(t, ed, withHeader(`"x5c":["MIIB"]`), goodClaims), CodeInvalidSignature, "x5c"},
		// extensions
		{"unknown crit", forge(t, ed, withHeader(`"crit":["exp"],"exp":1`), goodClaims), CodeMalformed, "crit"},
		{"crit b64", forge(t, ed, withHeader(`"crit":["b64"],"b64":false`), goodClaims), CodeMalformed, "crit"},
		{"b64 false", forge(t, ed, withHeader(`"b64":false`), goodClaims), CodeMalformed, "b64"},
		{"b64 not a bool", forge(t, ed, withHeader(`"b64":"false"`), goodClaims), CodeMalformed, "b64"},
		{"zip", forge(t, ed, withHeader(`"zip":"DEF"`), goodClaims), CodeMalformed, "zip"},
		{"enc (JWE header in 3 segments)", forge(t, ed, withHeader(`"enc":"A256GCM"`), goodClaims), CodeMalformed, "JWE"},
		// kid is opaque and bounded
		{"kid path traversal", forge(t, ed, `{"alg":"EdDSA","kid":"../../../../etc/passwd"}`, goodClaims), CodeMalformed, "kid"},
		{"kid SQL injection", forge(t, ed, `{"alg":"EdDSA","kid":"x' OR '1'='1"}`, goodClaims), CodeMalformed, "kid"},
		{"kid NUL", forge(t, ed, `{"alg":"EdDSA","kid":"`+kid+`\u0000"}`, goodClaims), CodeMalformed, "kid"},
		{"kid newline", forge(t, ed, `{"alg":"EdDSA","kid":"a\nb"}`, goodClaims), CodeMalformed, "kid"},
		{"kid too long", forge(t, ed, `{"alg":"EdDSA","kid":"`+strings.Repeat("k", maxKIDLen+1)+`"}`, goodClaims), CodeMalformed, "kid"},
		{"kid empty", forge(t, ed, `{"alg":"EdDSA","kid":""}`, goodClaims), CodeMalformed, "kid"},
		{"kid not a string", forge(t, ed, `{"alg":"EdDSA","kid":1}`, goodClaims), CodeMalformed, "kid"},
		{"kid unknown", forge(t, ed, `{"alg":"EdDSA","kid":"nope"}`, goodClaims), CodeInvalidSignature, "kid"},
		{"typ not a string", forge(t, ed, `{"alg":"EdDSA","kid":"`+kid+`","typ":1}`, goodClaims), CodeMalformed, "typ"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { wantVerdict(t, v, tc.token, tc.code, tc.reason) })
	}

	t.Run("nesting at the bound is accepted", func(t *testing.T) {
		wantVerdict(t, v, forge(t, ed, hdr(ed), withClaim(`"deep":`+okDeep)), "", "")
	})
	t.Run("b64 true is the default and accepted", func(t *testing.T) {
		wantVerdict(t, v, forge(t, ed, withHeader(`"b64":true`), goodClaims), "", "")
	})
	t.Run("unregistered case variants are not refused", func(t *testing.T) {
		wantVerdict(t, v, forge(t, ed, hdr(ed), withClaim(`"foo":1,"FOO":2`)), "", "")
	})
}

// flipTrailingBits changes the unused low bits of the last character of an
// unpadded base64url segment. A lenient decoder yields the same bytes.
func flipTrailingBits(t *testing.T, seg string) string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	var unused int
	switch len(seg) % 4 {
	case 2:
		unused = 4
	case 3:
		unused = 2
	default:
		t.Fatalf("segment length %d has no trailing bits", len(seg))
	}
	last := strings.IndexByte(alphabet, seg[len(seg)-1])
	flipped := alphabet[last|((1<<unused)-1)]
	if flipped == seg[len(seg)-1] {
		flipped = alphabet[last&^((1<<unused)-1)|1]
	}
	out := seg[:len(seg)-1] + string(flipped)
	a, _ := base64.RawURLEncoding.DecodeString(seg)
	b, err := base64.RawURLEncoding.DecodeString(out)
	if err != nil || string(a) != string(b) {
		t.Fatalf("flipTrailingBits changed the decoded bytes")
	}
	return out
}

// hs256Confusion is the classic attack: HMAC-SHA256 keyed with the public key.
func hs256Confusion(t *testing.T, k *SigningKey, kid string) string {
	t.Helper()
	input := b64u(`{"alg":"HS256","kid":"`+kid+`"}`) + "." + b64u(goodClaims)
	m := hmac.New(sha256.New, []byte(k.Public().CryptoKey().(ed25519.PublicKey)))
	m.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func TestAlgAllowList(t *testing.T) {
	ed, es, rs := testKey(t, EdDSA), testKey(t, ES256), testKey(t, RS256)
	p := testPolicy()
	p.Algorithms = []Alg{ES256}
	v := testVerifier(t, p)
	wantVerdict(t, v, forge(t, es, hdr(es), goodClaims), "", "")
	wantVerdict(t, v, forge(t, ed, hdr(ed), goodClaims), CodeInvalidSignature, "not allowed")
	wantVerdict(t, v, forge(t, rs, hdr(rs), goodClaims), CodeInvalidSignature, "not allowed")

	for _, bad := range []Alg{"none", "HS256", "RS512", "PS256", "es256", ""} {
		p := testPolicy()
		p.Algorithms = []Alg{bad}
		if _, err := NewVerifier(&KeySet{}, p); err == nil {
			t.Errorf("NewVerifier accepted alg %q", bad)
		}
	}
}

// lyingResolver returns its key whatever alg is asked for, standing in for
// a buggy key store. The key type must still decide the algorithm.
type lyingResolver struct{ k *PublicKey }

func (r lyingResolver) ResolveKey(context.Context, string, Alg) (*PublicKey, error) {
	return r.k, nil
}

func TestKeyTypeDecidesAlg(t *testing.T) {
	ed := testKey(t, EdDSA)
	v, err := NewVerifier(lyingResolver{ed.Public()}, testPolicy())
	if err != nil {
		t.Fatal(err)
	}
	// Signed by the Ed25519 key but labelled ES256 / RS256.
	for _, alg := range []string{"ES256", "RS256"} {
		t.Run(alg, func(t *testing.T) {
			tok := forge(t, ed, `{"alg":"`+alg+`","kid":"`+ed.KID()+`"}`, goodClaims)
			wantVerdict(t, v, tok, CodeInvalidSignature, "does not match the key")
		})
	}
}

func TestSignatureChecks(t *testing.T) {
	ed, es, rs := testKey(t, EdDSA), testKey(t, ES256), testKey(t, RS256)
	v := testVerifier(t, testPolicy())
	n := new(big.Int).SetBytes(p256Order[:])

	esTok := forge(t, es, hdr(es), goodClaims)
	esInput, esSig := splitSig(t, esTok)
	r, s := new(big.Int).SetBytes(esSig[:32]), new(big.Int).SetBytes(esSig[32:])
	rawRS := func(r, s *big.Int) []byte {
		out := make([]byte, 64)
		r.FillBytes(out[:32])
		s.FillBytes(out[32:])
		return out
	}
	nMinus1 := new(big.Int).Sub(n, big.NewInt(1))
	highS := new(big.Int).Sub(n, s)

	edTok := forge(t, ed, hdr(ed), goodClaims)
	edInput, edSig := splitSig(t, edTok)
	rsTok := forge(t, rs, hdr(rs), goodClaims)
	rsInput, rsSig := splitSig(t, rsTok)

	// Ed25519 s + L: same point equation, non-canonical scalar.
	l, _ := new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)
	sLE := reverse(edSig[32:])
	sPlusL := new(big.Int).Add(new(big.Int).SetBytes(sLE), l)
	nonCanon := append(append([]byte{}, edSig[:32]...), reverse(sPlusL.FillBytes(make([]byte, 32)))...)

	derSig := derSignature(esSig[:32], esSig[32:])

	cases := []struct {
		name  string
		token string
		code  Code
	}{
		{"ES256 valid", esTok, ""},
		{"ES256 high-S is valid", join(esInput, rawRS(r, highS)), ""},
		{"ES256 r=0", join(esInput, rawRS(big.NewInt(0), s)), CodeInvalidSignature},
		{"ES256 s=0", join(esInput, rawRS(r, big.NewInt(0))), CodeInvalidSignature},
		{"ES256 r=1", join(esInput, rawRS(big.NewInt(1), s)), CodeInvalidSignature},
		{"ES256 s=1", join(esInput, rawRS(r, big.NewInt(1))), CodeInvalidSignature},
		{"ES256 r=n-1", join(esInput, rawRS(nMinus1, s)), CodeInvalidSignature},
		{"ES256 s=n-1", join(esInput, rawRS(r, nMinus1)), CodeInvalidSignature},
		{"ES256 r=n", join(esInput, rawRS(n, s)), CodeInvalidSignature},
		{"ES256 s=n", join(esInput, rawRS(r, n)), CodeInvalidSignature},
		{"ES256 r+n (r ≥ n, same value mod n)", plusNIfFits(t, esInput, r, s, n, rawRS), CodeInvalidSignature},
		{"ES256 all 0xff", join(esInput, []byte(strings.Repeat("\xff", 64))), CodeInvalidSignature},
		{"ES256 63 bytes", join(esInput, esSig[:63]), CodeInvalidSignature},
		{"ES256 65 bytes", join(esInput, append(append([]byte{}, esSig...), 0)), CodeInvalidSignature},
		{"ES256 DER encoded", join(esInput, derSig), CodeInvalidSignature},
		{"ES256 empty", join(esInput, nil), CodeInvalidSignature},
		{"EdDSA valid", edTok, ""},
		{"EdDSA s+L non-canonical", join(edInput, nonCanon), CodeInvalidSignature},
		{"EdDSA 63 bytes", join(edInput, edSig[:63]), CodeInvalidSignature},
		{"EdDSA 65 bytes", join(edInput, append(append([]byte{}, edSig...), 0)), CodeInvalidSignature},
		{"EdDSA flipped bit", join(edInput, flipBit(edSig)), CodeInvalidSignature},
		{"RS256 valid", rsTok, ""},
		{"RS256 leading zero byte", join(rsInput, append([]byte{0}, rsSig...)), CodeInvalidSignature},
		{"RS256 truncated", join(rsInput, rsSig[1:]), CodeInvalidSignature},
		{"RS256 flipped bit", join(rsInput, flipBit(rsSig)), CodeInvalidSignature},
		{"payload changed", join(strings.Split(esInput, ".")[0]+"."+b64u(strings.Replace(goodClaims, "user_1", "admin", 1)), esSig), CodeInvalidSignature},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { wantVerdict(t, v, tc.token, tc.code, "") })
	}
}

// TestP256ScalarRange pins the explicit range check on r and s (crypto/ecdsa
// checks again; this test fails if ours is removed).
func TestP256ScalarRange(t *testing.T) {
	n := new(big.Int).SetBytes(p256Order[:])
	b := func(x *big.Int) []byte { return x.FillBytes(make([]byte, 32)) }
	cases := []struct {
		name string
		v    []byte
		want bool
	}{
		{"0", b(big.NewInt(0)), false},
		{"1", b(big.NewInt(1)), true},
		{"n-1", b(new(big.Int).Sub(n, big.NewInt(1))), true},
		{"n", b(n), false},
		{"n+1", b(new(big.Int).Add(n, big.NewInt(1))), false},
		{"2^256-1", []byte(strings.Repeat("\xff", 32)), false},
		{"short", []byte{1}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := validP256Scalar(tc.v); got != tc.want {
				t.Fatalf("validP256Scalar = %v, want %v", got, tc.want)
			}
		})
	}
	// The direct path: verifySignature reports the scalar error, not a
	// generic verification failure.
	es := testKey(t, ES256)
	sig := make([]byte, 64)
	n.FillBytes(sig[:32])
	sig[63] = 1
	if err := verifySignature(es.Public(), ES256, []byte("m"), sig); !errors.Is(err, errSigScalar) {
		t.Fatalf("r=n: got %v, want errSigScalar", err)
	}
}

func splitSig(t *testing.T, tok string) (string, []byte) {
	t.Helper()
	i := strings.LastIndexByte(tok, '.')
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	if err != nil {
		t.Fatal(err)
	}
	return tok[:i], sig
}

func join(input string, sig []byte) string {
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func reverse(b []byte) []byte {
	out := make([]byte, len(b))
	for i := range b {
		out[len(b)-1-i] = b[i]
	}
	return out
}

func flipBit(b []byte) []byte {
	out := append([]byte{}, b...)
	out[len(out)/2] ^= 0x01
	return out
}

// plusNIfFits returns a token whose r is r+n when that fits in 32 bytes
// (a lax verifier reducing mod n would accept it), else r = n.
func plusNIfFits(t *testing.T, input string, r, s, n *big.Int, raw func(r, s *big.Int) []byte) string {
	t.Helper()
	rn := new(big.Int).Add(r, n)
	if rn.BitLen() > 256 {
		rn = n
	}
	return join(input, raw(rn, s))
}
