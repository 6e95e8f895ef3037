package jose

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestClaims(t *testing.T) {
	ed := testKey(t, EdDSA)
	now := testNow.Unix()
	at := func(d time.Duration) string { return strconv.FormatInt(now+int64(d/time.Second), 10) }
	claims := func(members ...string) string {
		return "{" + strings.Join(append([]string{`"iss":"https://issuer.test"`, `"aud":"api"`}, members...), ",") + "}"
	}
	exp := func(d time.Duration) string { return `"exp":` + at(d) }
	base := exp(time.Hour)

	cases := []struct {
		name   string
		policy func(*Policy)
		claims string
		code   Code
	}{
		{"valid", nil, claims(base), ""},
		// exp and leeway (default 30 s)
		{"exp missing", nil, `{"iss":"https://issuer.test","aud":"api"}`, CodeInvalidClaims},
		{"exp now, inside leeway", nil, claims(exp(0)), ""},
		{"exp now-29s, inside leeway", nil, claims(exp(-29 * time.Second)), ""},
		{"exp now-30s, at leeway", nil, claims(exp(-30 * time.Second)), CodeExpired},
		{"exp long past", nil, claims(exp(-24 * time.Hour)), CodeExpired},
		{"exp now, no leeway", func(p *Policy) { p.Leeway = NoLeeway }, claims(exp(0)), CodeExpired},
		{"exp now+1s, no leeway", func(p *Policy) { p.Leeway = NoLeeway }, claims(exp(time.Second)), ""},
		{"exp now-299s, max leeway", func(p *Policy) { p.Leeway = MaxLeeway }, claims(exp(-299 * time.Second)), ""},
		{"exp now-300s, max leeway", func(p *Policy) { p.Leeway = MaxLeeway }, claims(exp(-300 * time.Second)), CodeExpired},
		{"exp fractional", nil, claims(`"exp":` + at(time.Hour) + `.5`), ""},
		{"exp 0", nil, claims(`"exp":0`), CodeExpired},
		// nbf
		{"nbf past", nil, claims(base, `"nbf":`+at(-time.Hour)), ""},
		{"nbf now+30s, at leeway", nil, claims(base, `"nbf":`+at(30*time.Second)), ""},
		{"nbf now+31s", nil, claims(base, `"nbf":`+at(31*time.Second)), CodeInvalidClaims},
		{"nbf now+1s, no leeway", func(p *Policy) { p.Leeway = NoLeeway }, claims(base, `"nbf":`+at(time.Second)), CodeInvalidClaims},
		// iat
		{"iat now", nil, claims(base, `"iat":`+at(0)), ""},
		{"iat now+31s", nil, claims(base, `"iat":`+at(31*time.Second)), CodeInvalidClaims},
		// wrongly typed time claims
		{"exp string", nil, claims(`"exp":"` + at(time.Hour) + `"`), CodeInvalidClaims},
		{"exp bool", nil, claims(`"exp":true`), CodeInvalidClaims},
		{"exp null", nil, claims(`"exp":null`), CodeInvalidClaims},
		{"exp array", nil, claims(`"exp":[` + at(time.Hour) + `]`), CodeInvalidClaims},
		{"exp object", nil, claims(`"exp":{"v":1}`), CodeInvalidClaims},
		{"exp negative", nil, claims(`"exp":-1`), CodeInvalidClaims},
		{"exp 1e300", nil, claims(`"exp":1e300`), CodeInvalidClaims},
		{"exp year 10000", nil, claims(`"exp":253402300800`), CodeInvalidClaims},
		{"nbf string", nil, claims(base, `"nbf":"0"`), CodeInvalidClaims},
		{"iat string", nil, claims(base, `"iat":"0"`), CodeInvalidClaims},
		// iss
		{"iss missing", nil, `{"aud":"api",` + base + `}`, CodeInvalidClaims},
		{"iss other", nil, `{"iss":"https://evil.test","aud":"api",` + base + `}`, CodeInvalidClaims},
		{"iss case differs", nil, `{"iss":"https://ISSUER.test","aud":"api",` + base + `}`, CodeInvalidClaims},
		{"iss trailing slash", nil, `{"iss":"https://issuer.test/","aud":"api",` + base + `}`, CodeInvalidClaims},
		{"iss not a string", nil, `{"iss":["https://issuer.test"],"aud":"api",` + base + `}`, CodeInvalidClaims},
		// aud
		{"aud array containing one", nil, `{"iss":"https://issuer.test","aud":["other","api"],` + base + `}`, ""},
		{"aud array without", nil, `{"iss":"https://issuer.test","aud":["other"],` + base + `}`, CodeInvalidClaims},
		{"aud empty array", nil, `{"iss":"https://issuer.test","aud":[],` + base + `}`, CodeInvalidClaims},
		{"aud other", nil, `{"iss":"https://issuer.test","aud":"other",` + base + `}`, CodeInvalidClaims},
		{"aud missing", nil, `{"iss":"https://issuer.test",` + base + `}`, CodeInvalidClaims},
		{"aud number", nil, `{"iss":"https://issuer.test","aud":1,` + base + `}`, CodeInvalidClaims},
		{"aud array with number", nil, `{"iss":"https://issuer.test","aud":["api",1],` + base + `}`, CodeInvalidClaims},
		{"aud not checked without audiences", func(p *Policy) { p.Audiences = nil }, `{"iss":"https://issuer.test","aud":"other",` + base + `}`, ""},
		{"aud still typed without audiences", func(p *Policy) { p.Audiences = nil }, `{"iss":"https://issuer.test","aud":1,` + base + `}`, CodeInvalidClaims},
		// sub, jti
		{"sub not a string", nil, claims(base, `"sub":1`), CodeInvalidClaims},
		{"jti not a string", nil, claims(base, `"jti":{}`), CodeInvalidClaims},
		// required claims
		{"required present", func(p *Policy) { p.RequiredClaims = []string{"sub", "scope"} }, claims(base, `"sub":"u"`, `"scope":"a b"`), ""},
		{"required missing", func(p *Policy) { p.RequiredClaims = []string{"sub", "scope"} }, claims(base, `"sub":"u"`), CodeInvalidClaims},
		{"required null", func(p *Policy) { p.RequiredClaims = []string{"scope"} }, claims(base, `"scope":null`), CodeInvalidClaims},
		// checks run in order: claims are not looked at when the signature fails
		{"expired and wrong iss: INVALID_CLAIMS first", nil, `{"iss":"https://evil.test","aud":"api","exp":1}`, CodeInvalidClaims},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := testPolicy()
			if tc.policy != nil {
				tc.policy(&p)
			}
			v := testVerifier(t, p, ed)
			wantVerdict(t, v, forge(t, ed, hdr(ed), tc.claims), tc.code, "")
		})
	}
}

func TestTypes(t *testing.T) {
	ed := testKey(t, EdDSA)
	p := testPolicy()
	p.Types = []string{TypeAccessToken}
	v := testVerifier(t, p, ed)
	h := func(typ string) string { return `{"alg":"EdDSA","kid":"` + ed.KID() + `"` + typ + `}` }
	cases := []struct {
		name, header string
		code         Code
	}{
		{"at+jwt", h(`,"typ":"at+jwt"`), ""},
		{"application/at+jwt", h(`,"typ":"application/at+jwt"`), ""},
		{"AT+JWT", h(`,"typ":"AT+JWT"`), ""},
		{"JWT (an ID token, say)", h(`,"typ":"JWT"`), CodeInvalidClaims},
		{"absent", h(``), CodeInvalidClaims},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { wantVerdict(t, v, forge(t, ed, tc.header, goodClaims), tc.code, "") })
	}
}

func TestPolicyValidation(t *testing.T) {
	cases := []struct {
		name string
		mod  func(*Policy)
		ok   bool
	}{
		{"default", func(*Policy) {}, true},
		{"no issuer", func(p *Policy) { p.Issuer = "" }, false},
		{"no algorithms", func(p *Policy) { p.Algorithms = nil }, false},
		{"leeway 300s", func(p *Policy) { p.Leeway = MaxLeeway }, true},
		{"leeway 301s", func(p *Policy) { p.Leeway = MaxLeeway + time.Second }, false},
		{"leeway negative", func(p *Policy) { p.Leeway = -5 * time.Second }, false},
		{"no leeway", func(p *Policy) { p.Leeway = NoLeeway }, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := testPolicy()
			tc.mod(&p)
			_, err := NewVerifier(&KeySet{}, p)
			if (err == nil) != tc.ok {
				t.Fatalf("NewVerifier err = %v, want ok=%v", err, tc.ok)
			}
		})
	}
	if _, err := NewVerifier(nil, testPolicy()); err == nil {
		t.Fatal("nil resolver accepted")
	}
	// Default leeway is 30 s.
	v, _ := NewVerifier(&KeySet{}, testPolicy())
	if v.leeway != DefaultLeeway {
		t.Fatalf("default leeway %v", v.leeway)
	}
}

func TestVerifiedClaims(t *testing.T) {
	ed := testKey(t, EdDSA)
	v := testVerifier(t, testPolicy(), ed)
	tok, err := v.Verify(t.Context(), forge(t, ed, hdr(ed), `{"iss":"https://issuer.test","sub":"user_1","aud":["x","api"],"exp":1767229200,"nbf":1767225000,"iat":1767225600.25,"jti":"j1","scope":"a b","n":12345678901234567890}`))
	if err != nil {
		t.Fatal(err)
	}
	c := tok.Claims
	if c.Issuer != testIssuer || c.Subject != "user_1" || c.ID != "j1" || len(c.Audience) != 2 {
		t.Fatalf("claims %+v", c)
	}
	if !c.ExpiresAt.Equal(time.Unix(1767229200, 0)) || !c.NotBefore.Equal(time.Unix(1767225000, 0)) || !c.IssuedAt.Equal(time.Unix(1767225600, 250_000_000)) {
		t.Fatalf("times %v %v %v", c.ExpiresAt, c.NotBefore, c.IssuedAt)
	}
	if got := c.Raw["n"]; got == nil || got.(interface{ String() string }).String() != "12345678901234567890" {
		t.Fatalf("large integer lost precision: %v", got)
	}
	if tok.Header.Alg != EdDSA || tok.Header.KID != ed.KID() || tok.Header.Typ != "at+jwt" {
		t.Fatalf("header %+v", tok.Header)
	}
}

func TestParseUnverified(t *testing.T) {
	ed := testKey(t, EdDSA)
	tok, err := ParseUnverified(forge(t, ed, hdr(ed), goodClaims))
	if err != nil || tok.Claims.Issuer != testIssuer {
		t.Fatalf("ParseUnverified = %v, %v", tok, err)
	}
	if _, err := ParseUnverified(forge(t, ed, withDup(hdr(ed)), goodClaims)); CodeOf(err) != CodeMalformed {
		t.Fatalf("duplicate header accepted: %v", err)
	}
}

func withDup(h string) string { return strings.TrimSuffix(h, "}") + `,"kid":"x"}` }
