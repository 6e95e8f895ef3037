package jose

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
)

// MaxTokenSize bounds a token before any parsing.
const MaxTokenSize = 16 << 10

// Leeway bounds.
const (
	DefaultLeeway = 30 * time.Second
	MaxLeeway     = 300 * time.Second
	// NoLeeway selects a leeway of zero in Policy.Leeway (whose zero value
	// selects DefaultLeeway).
	NoLeeway time.Duration = -1
)

// maxNumericDate is 9999-12-31T23:59:59Z; larger time claims are refused.
const maxNumericDate = 253402300799

// Registered member names. A top-level member that is a case variant of one
// of these ("ALG", "Exp") is refused. Read-only.
var (
	headerNames = []string{"alg", "kid", "typ", "cty", "crit", "jku", "jwk", "x5u", "x5c", "x5t", "x5t#S256", "b64", "enc", "zip"}
	claimNames  = []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti"}
)

// Header holds the protected header members this package reads.
type Header struct {
	Alg Alg
	KID string // "" when absent
	Typ string // "" when absent
}

// Claims holds the registered claims, typed, and every claim in Raw.
// Time claims are zero when absent. Numbers in Raw are json.Number.
type Claims struct {
	Issuer    string
	Subject   string
	Audience  []string
	ID        string
	ExpiresAt time.Time
	NotBefore time.Time
	IssuedAt  time.Time
	Raw       map[string]any
}

// Token is a parsed token. From Verifier.Verify it is verified; from
// ParseUnverified it is not.
type Token struct {
	Header Header
	Claims Claims
}

// parsed is the output of the strict pre-parser.
type parsed struct {
	header       Header
	claims       map[string]any
	signingInput []byte // ASCII(header '.' payload)
	sig          []byte
}

// parseCompact is the strict compact-JWS pre-parser. Every failure is
// CodeMalformed except a header that carries its own key material
// (CodeInvalidSignature). It checks no signature and no claim values.
func parseCompact(token string) (*parsed, *Error) {
	if len(token) > MaxTokenSize {
		return nil, malformed("token too large")
	}
	if strings.HasPrefix(strings.TrimLeft(token, " \t\r\n"), "{") {
		return nil, malformed("JWS JSON serialization not accepted")
	}
	switch strings.Count(token, ".") {
	case 2:
	case 4:
		return nil, malformed("JWE not accepted")
	default:
		return nil, malformed("compact JWS needs exactly three segments")
	}
	b := []byte(token)
	d1 := bytes.IndexByte(b, '.')
	d2 := d1 + 1 + bytes.IndexByte(b[d1+1:], '.')
	hseg, pseg, sseg := b[:d1], b[d1+1:d2], b[d2+1:]

	hb, ok := decodeSegment(hseg)
	if !ok {
		return nil, malformed("header is not canonical base64url")
	}
	pb, ok := decodeSegment(pseg)
	if !ok {
		return nil, malformed("payload is not canonical base64url")
	}
	sig, ok := decodeSegment(sseg)
	if !ok {
		return nil, malformed("signature is not canonical base64url")
	}
	hm, err := decodeStrictObject(hb, headerNames, maxJSONDepth)
	if err != nil {
		return nil, malformed("header: " + err.Error())
	}
	h, e := checkHeader(hm)
	if e != nil {
		return nil, e
	}
	cm, err := decodeStrictObject(pb, claimNames, maxJSONDepth)
	if err != nil {
		return nil, malformed("claims: " + err.Error())
	}
	return &parsed{header: h, claims: cm, signingInput: b[:d2], sig: sig}, nil
}

// checkHeader applies the header rules and extracts alg, kid and typ.
func checkHeader(hm map[string]any) (Header, *Error) {
	var h Header
	if _, ok := hm["enc"]; ok {
		return h, malformed("JWE header not accepted")
	}
	for _, name := range []string{"jku", "x5u", "jwk", "x5c"} {
		if _, ok := hm[name]; ok {
			// Keys are only ever taken from the configured key set.
			return h, badSig("header carries key material (" + name + ")")
		}
	}
	if _, ok := hm["crit"]; ok {
		// No JWS extension is understood, so every crit list is unknown.
		return h, malformed("unknown crit")
	}
	if v, ok := hm["b64"]; ok && v != true {
		return h, malformed("unencoded payload (b64) not accepted")
	}
	if _, ok := hm["zip"]; ok {
		return h, malformed("zip not accepted")
	}
	alg, ok := hm["alg"].(string)
	if !ok || alg == "" {
		return h, malformed("alg missing or not a string")
	}
	h.Alg = Alg(alg)
	if v, present := hm["kid"]; present {
		kid, ok := v.(string)
		if !ok || !validKID(kid) {
			return h, malformed("kid is not an acceptable key identifier")
		}
		h.KID = kid
	}
	if v, present := hm["typ"]; present {
		typ, ok := v.(string)
		if !ok {
			return h, malformed("typ is not a string")
		}
		h.Typ = typ
	}
	return h, nil
}

// typedClaims checks the types of the registered claims and extracts them.
func typedClaims(raw map[string]any) (Claims, *Error) {
	c := Claims{Raw: raw}
	var e *Error
	if c.Issuer, e = stringClaim(raw, "iss"); e != nil {
		return c, e
	}
	if c.Subject, e = stringClaim(raw, "sub"); e != nil {
		return c, e
	}
	if c.ID, e = stringClaim(raw, "jti"); e != nil {
		return c, e
	}
	if v, present := raw["aud"]; present {
		switch a := v.(type) {
		case string:
			c.Audience = []string{a}
		case []any:
			c.Audience = make([]string, 0, len(a))
			for _, e := range a {
				s, ok := e.(string)
				if !ok {
					return c, badClaims("aud is not a string or an array of strings")
				}
				c.Audience = append(c.Audience, s)
			}
		default:
			return c, badClaims("aud is not a string or an array of strings")
		}
	}
	if c.ExpiresAt, e = timeClaim(raw, "exp"); e != nil {
		return c, e
	}
	if c.NotBefore, e = timeClaim(raw, "nbf"); e != nil {
		return c, e
	}
	if c.IssuedAt, e = timeClaim(raw, "iat"); e != nil {
		return c, e
	}
	return c, nil
}

func stringClaim(raw map[string]any, name string) (string, *Error) {
	v, present := raw[name]
	if !present {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", badClaims(name + " is not a string")
	}
	return s, nil
}

func timeClaim(raw map[string]any, name string) (time.Time, *Error) {
	v, present := raw[name]
	if !present {
		return time.Time{}, nil
	}
	t, ok := numericDate(v)
	if !ok {
		return time.Time{}, badClaims(name + " is not a NumericDate")
	}
	return t, nil
}

// numericDate converts a JSON number of seconds since the epoch (RFC 7519
// NumericDate, fractions allowed) in [0, 9999-12-31] to a time.
func numericDate(v any) (time.Time, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, false
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > maxNumericDate {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true
}

// ParseUnverified parses token with the same strict rules as Verify and
// returns its header and typed claims WITHOUT checking the signature or any
// claim value. Use it only to route a token to the right issuer policy
// (by Claims.Issuer); never trust its contents.
func ParseUnverified(token string) (*Token, error) {
	p, e := parseCompact(token)
	if e != nil {
		return nil, e
	}
	c, e := typedClaims(p.claims)
	if e != nil {
		return nil, e
	}
	return &Token{Header: p.header, Claims: c}, nil
}

// KeyResolver finds the verification key for a token. KeySet and
// RemoteKeySet implement it.
type KeyResolver interface {
	// ResolveKey returns the key with this kid whose algorithm is alg. With
	// an empty kid it returns the only key for alg, if there is exactly one.
	// It returns an error wrapping ErrKeyNotFound when there is none, and an
	// error wrapping ErrUnavailable when it cannot tell.
	ResolveKey(ctx context.Context, kid string, alg Alg) (*PublicKey, error)
}

// Policy is what a Verifier accepts. Issuer and Algorithms are required.
type Policy struct {
	// Issuer is the exact iss every token must carry.
	Issuer string
	// Algorithms is the allow list (a subset of EdDSA, ES256, RS256).
	Algorithms []Alg
	// Audiences: when non-empty, aud must be present and contain one of them.
	Audiences []string
	// RequiredClaims must be present and not null. exp is always required.
	RequiredClaims []string
	// Types: when non-empty, the typ header must be one of them (compared
	// case-insensitively, with an optional "application/" prefix), e.g.
	// "at+jwt" for TypeAuth's own access tokens.
	Types []string
	// Leeway for exp, nbf and iat: 0 selects DefaultLeeway, NoLeeway selects
	// none, otherwise 1ns..MaxLeeway.
	Leeway time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Verifier verifies tokens against a key resolver and a policy. It is safe
// for concurrent use.
type Verifier struct {
	keys   KeyResolver
	p      Policy
	leeway time.Duration
}

// NewVerifier validates the policy and returns a Verifier.
func NewVerifier(keys KeyResolver, p Policy) (*Verifier, error) {
	if keys == nil {
		return nil, errors.New("jose: nil key resolver")
	}
	if p.Issuer == "" {
		return nil, errors.New("jose: policy needs an issuer")
	}
	if len(p.Algorithms) == 0 {
		return nil, errors.New("jose: policy needs at least one algorithm")
	}
	for _, a := range p.Algorithms {
		if !a.Supported() {
			return nil, errors.New("jose: unsupported algorithm " + strconv.Quote(string(a)))
		}
	}
	leeway := p.Leeway
	switch {
	case leeway == 0:
		leeway = DefaultLeeway
	case leeway == NoLeeway:
		leeway = 0
	case leeway < 0 || leeway > MaxLeeway:
		return nil, errors.New("jose: leeway must be within 0..300s")
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	p.Algorithms = append([]Alg(nil), p.Algorithms...)
	p.Audiences = append([]string(nil), p.Audiences...)
	p.RequiredClaims = append([]string(nil), p.RequiredClaims...)
	p.Types = append([]string(nil), p.Types...)
	return &Verifier{keys: keys, p: p, leeway: leeway}, nil
}

// Verify parses and verifies token. A refusal is an *Error carrying its
// Code; any other error means the verifier could not decide (fail closed).
//
// Order: strict parse (MALFORMED), alg allow list, key by kid and alg family,
// signature (INVALID_SIGNATURE), then claims (INVALID_CLAIMS, EXPIRED).
func (v *Verifier) Verify(ctx context.Context, token string) (*Token, error) {
	p, e := parseCompact(token)
	if e != nil {
		return nil, e
	}
	alg := p.header.Alg
	if strings.EqualFold(string(alg), "none") {
		return nil, badSig("alg none")
	}
	if !v.algAllowed(alg) {
		return nil, badSig("algorithm not allowed")
	}
	key, err := v.keys.ResolveKey(ctx, p.header.KID, alg)
	if err != nil {
		if errors.Is(err, ErrKeyNotFound) {
			return nil, badSig("no key for kid")
		}
		return nil, err
	}
	if err := verifySignature(key, alg, p.signingInput, p.sig); err != nil {
		return nil, badSig(err.Error())
	}
	if e := v.checkType(p.header.Typ); e != nil {
		return nil, e
	}
	c, e := v.checkClaims(p.claims)
	if e != nil {
		return nil, e
	}
	return &Token{Header: p.header, Claims: c}, nil
}

func (v *Verifier) algAllowed(alg Alg) bool {
	for _, a := range v.p.Algorithms {
		if a == alg {
			return true
		}
	}
	return false
}

func (v *Verifier) checkType(typ string) *Error {
	if len(v.p.Types) == 0 {
		return nil
	}
	t := strings.ToLower(typ)
	t = strings.TrimPrefix(t, "application/")
	for _, want := range v.p.Types {
		if t == strings.TrimPrefix(strings.ToLower(want), "application/") {
			return nil
		}
	}
	return badClaims("typ not accepted")
}

func (v *Verifier) checkClaims(raw map[string]any) (Claims, *Error) {
	c, e := typedClaims(raw)
	if e != nil {
		return c, e
	}
	if _, ok := raw["iss"]; !ok || c.Issuer != v.p.Issuer {
		return c, badClaims("iss does not match")
	}
	if len(v.p.Audiences) > 0 && !anyIn(c.Audience, v.p.Audiences) {
		return c, badClaims("aud does not match")
	}
	if raw["exp"] == nil {
		return c, badClaims("exp missing")
	}
	for _, name := range v.p.RequiredClaims {
		if raw[name] == nil {
			return c, badClaims("required claim missing")
		}
	}
	now := v.p.Now()
	if _, ok := raw["nbf"]; ok && now.Add(v.leeway).Before(c.NotBefore) {
		return c, badClaims("not valid yet (nbf)")
	}
	if _, ok := raw["iat"]; ok && now.Add(v.leeway).Before(c.IssuedAt) {
		return c, badClaims("issued in the future (iat)")
	}
	if !now.Before(c.ExpiresAt.Add(v.leeway)) {
		return c, expired("exp passed")
	}
	return c, nil
}

func anyIn(have, want []string) bool {
	for _, h := range have {
		for _, w := range want {
			if h == w {
				return true
			}
		}
	}
	return false
}
