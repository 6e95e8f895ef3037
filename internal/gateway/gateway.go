// Package gateway turns a request as an API gateway saw it into an answer the
// gateway can act on: allow with identity headers for the upstream, or deny
// with the status to send the client. The forward-auth HTTP door and the
// Envoy ext_authz gRPC door both run through Decide, so they cannot drift.
//
// Route rules (rules.go) say what each request needs; with none configured,
// any valid key passes.
package gateway

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/typeauth/typeauth/internal/auth"
	"github.com/typeauth/typeauth/internal/jose"
	"github.com/typeauth/typeauth/internal/verify"
)

// Header names TypeAuth sets upstream. A client can never set them: every
// door removes (gRPC) or refuses (forward-auth) client-sent X-TypeAuth-*
// headers, and every recipe overwrites the ones it copies.
const (
	HeaderKeyID   = "X-TypeAuth-Key-Id"
	HeaderAppID   = "X-TypeAuth-App-Id"
	HeaderOwnerID = "X-TypeAuth-Owner-Id"
	HeaderCredits = "X-TypeAuth-Credits-Remaining"
	HeaderCode    = "X-TypeAuth-Code"
	HeaderRule    = "X-TypeAuth-Rule"
	// HeaderToken carries, on a forward-auth allow, the JWT a rule minted
	// for the upstream.
	HeaderToken = "X-TypeAuth-Token"
	// HeaderIssuer carries the iss of a third-party token on allow.
	HeaderIssuer = "X-TypeAuth-Issuer"
	// HeaderStatus carries the real status when a denial is answered as 403
	// for a gateway that only understands 401 and 403 (nginx).
	HeaderStatus = "X-TypeAuth-Status"
	HeaderPrefix = "X-Typeauth-" // canonical form, for prefix checks
)

// Reserved reports whether a header name is one of TypeAuth's X-TypeAuth-*
// names, in any case and with '_' for '-' (CGI-style servers, WSGI, Rack and
// PHP read X_TypeAuth_Key_Id as X-TypeAuth-Key-Id). It does not allocate.
func Reserved(name string) bool {
	const p = "x-typeauth-"
	if len(name) <= len(p) {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		} else if c == '_' {
			c = '-'
		}
		if c != p[i] {
			return false
		}
	}
	return true
}

// Gateway control headers: set by the gateway itself on its call to TypeAuth,
// never taken from the client (every recipe overwrites them).
const (
	HeaderGatewayKey = "X-TypeAuth-Gateway-Key" // verify-scoped root key
	HeaderCompat     = "X-TypeAuth-Compat"      // "nginx": deny with 401/403 only
)

// Headers reads request headers (http.Header and gRPC header maps adapt).
type Headers interface {
	Get(name string) string
}

// Request is the original request, reconstructed from the gateway's call.
type Request struct {
	Method string
	Host   string
	// Path is the request target as the client sent it: path and query,
	// percent-encoded.
	Path    string
	Headers Headers
	// AppID narrows which app's keys pass (from the gateway's configuration).
	AppID    string
	ClientIP netip.Addr
}

// Decision is what the gateway must do.
type Decision struct {
	Allow  bool
	Status int       // 200 on allow; the mapped status on deny
	Code   auth.Code // the verify outcome
	Detail string
	Rule   string // name of the matched rule, if any
	// Upstream are headers to set on the request sent to the backend.
	Upstream [][2]string
	// RemoveHeaders are request headers to remove before the backend (the
	// credential, when the rule strips it). Canonical names.
	RemoveHeaders []string
	// RemoveQuery are query parameters to remove (a stripped credential).
	RemoveQuery []string
	// Response are headers for the client (WWW-Authenticate, Retry-After,
	// RateLimit-*).
	Response [][2]string
	// CacheMaxAge is how long the gateway may reuse an allow (0: never).
	CacheMaxAge time.Duration
	// UpstreamToken is the JWT minted for the upstream by the rule, if any
	// (also in Upstream, under the rule's header). The forward-auth door
	// answers it as X-TypeAuth-Token, for the gateway to forward.
	UpstreamToken string

	upstreamToken string // header of a minted upstream token, if any
}

// Options tune a Decider.
type Options struct {
	// CacheMaxAge is the longest an allow may be cached by the gateway
	// (0: answers say no-store). Never beyond the key's expiry, never when
	// credits or rate limits are spent.
	CacheMaxAge time.Duration
	Now         func() time.Time
}

// Decider decides gateway requests.
type Decider struct {
	minted   mintCache
	verifier *verify.Verifier
	table    atomic.Pointer[Table]
	opt      Options
}

// New returns a Decider over a verifier, with no rules (any valid key).
func New(v *verify.Verifier, opt Options) *Decider {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	d := &Decider{verifier: v, opt: opt}
	d.table.Store(EmptyTable())
	return d
}

// Table returns the rule table in use.
func (d *Decider) Table() *Table { return d.table.Load() }

// SetTable installs a rule table: requests that start after it returns use it.
func (d *Decider) SetTable(t *Table) { d.table.Store(t) }

// Credential finds the client's credential in the default places:
// Authorization: Bearer first, then X-API-Key.
func Credential(h Headers) string {
	return find(h, "", defaultSources)
}

// find returns the first credential found in sources.
func find(h Headers, rawQuery string, sources []auth.CredentialSource) string {
	for _, s := range sources {
		if v := extract(h, rawQuery, s); v != "" {
			return v
		}
	}
	return ""
}

func extract(h Headers, rawQuery string, s auth.CredentialSource) string {
	switch s.Type {
	case auth.SourceBearer:
		if a := h.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
			return strings.TrimSpace(a[7:])
		}
	case auth.SourceHeader:
		return strings.TrimSpace(h.Get(s.Name))
	case auth.SourceQuery:
		if rawQuery == "" || len(rawQuery) > 16<<10 {
			return ""
		}
		q, err := url.ParseQuery(rawQuery)
		if err != nil {
			return ""
		}
		return strings.TrimSpace(q.Get(s.Name))
	case auth.SourceCookie:
		line := h.Get("Cookie")
		if line == "" || len(line) > 16<<10 {
			return ""
		}
		cs, err := http.ParseCookie(line)
		if err != nil {
			return ""
		}
		for _, c := range cs {
			if c.Name == s.Name {
				return c.Value
			}
		}
	}
	return ""
}

// Decide applies the route rules and verifies the request's credential. An
// error means TypeAuth could not decide: the door must answer so that the
// gateway fails closed.
func (d *Decider) Decide(ctx context.Context, r *Request) (Decision, error) {
	t := d.table.Load()
	rawPath, rawQuery, _ := strings.Cut(r.Path, "?")
	segs, ok := cleanPath(rawPath)
	if !ok {
		return deny(auth.CodeForbidden, "the request path cannot be parsed", ""), nil
	}
	ru := legacy
	if t.Configured {
		ru = t.match(r.Method, normalizeHost(r.Host), segs)
		if ru == nil {
			if t.NoMatch != auth.NoMatchAnyKey {
				return deny(auth.CodeForbidden, "no route rule matches this request", ""), nil
			}
			ru = legacy
		}
	}
	out, err := d.decideRule(ctx, r, ru, rawQuery)
	out.Rule = ru.name
	if err == nil && ru.strip {
		strip(&out, r.Headers, ru.sources)
		if out.upstreamToken != "" {
			// The minted token replaces the credential in that header.
			out.RemoveHeaders = slices.DeleteFunc(out.RemoveHeaders, func(h string) bool { return h == out.upstreamToken })
		}
	}
	return out, err
}

func (d *Decider) decideRule(ctx context.Context, r *Request, ru *rule, rawQuery string) (Decision, error) {
	cred := find(r.Headers, rawQuery, ru.sources)
	if cred == "" {
		if ru.anon {
			return Decision{Allow: true, Status: 200, Code: auth.CodeValid, CacheMaxAge: d.opt.CacheMaxAge}, nil
		}
		return deny(auth.CodeNotFound, "no credential: send "+describe(ru.sources), ""), nil
	}
	appID := r.AppID
	if len(ru.apps) > 0 && appID != "" && !contains(ru.apps, appID) {
		return deny(auth.CodeForbidden, "the gateway's app is not one this rule accepts", cred), nil
	}
	// A JWT (API keys never contain a dot) is verified as a token: the
	// verifier routes it by its iss to TypeAuth's own keys or to a trusted
	// issuer.
	isJWT := verify.LooksLikeJWT(cred)
	if isJWT && d.thirdParty(cred) {
		return d.decideThirdParty(ctx, r, ru, cred, appID)
	}
	if appID == "" && len(ru.apps) == 1 {
		appID = ru.apps[0]
	}
	if appID == "" && len(ru.apps) > 1 {
		// Several apps: find the key's app first, without spending anything,
		// then verify for real against that app.
		probe := verify.Request{IP: r.ClientIP, Peek: true}
		setCred(&probe, cred, isJWT)
		vd, err := d.verifier.Verify(ctx, &probe)
		if err != nil {
			return Decision{}, err
		}
		if !vd.Valid() {
			return denyVerify(&vd, cred, d.opt.Now()), nil
		}
		if vd.Key == nil {
			return deny(auth.CodeForbidden, "a third-party token belongs to no app: this route accepts keys and tokens of its apps only", cred), nil
		}
		if !contains(ru.apps, vd.Key.AppID) {
			return deny(auth.CodeForbidden, "key belongs to an app this route does not accept", cred), nil
		}
		appID = vd.Key.AppID
	}
	vr := verify.Request{AppID: appID, CreditCost: ru.credits, IP: r.ClientIP, Permissions: ru.perms, RateLimits: ru.limits}
	setCred(&vr, cred, isJWT)
	vd, err := d.verifier.Verify(ctx, &vr)
	if err != nil {
		return Decision{}, err
	}
	now := d.opt.Now()
	if !vd.Valid() {
		return denyVerify(&vd, cred, now), nil
	}
	k := vd.Key
	if k == nil {
		// Only a third-party token is VALID without a key; thirdParty
		// routes those above. Never allow what cannot be described.
		return deny(auth.CodeForbidden, "a third-party token is not accepted here", cred), nil
	}
	out := Decision{Allow: true, Status: 200, Code: vd.Code}
	for _, f := range ru.upstream {
		if v := upstreamValue(f, &vd); v != "" && validHeaderValue(v) {
			out.Upstream = append(out.Upstream, [2]string{f.header, v})
		}
	}
	if ru.needMeta {
		addMeta(&out, ru, k.Meta)
	}
	if ru.upToken != nil {
		h, err := d.upstreamTokenHeader(ctx, ru.upToken, k, vr, now)
		if err != nil {
			return Decision{}, err
		}
		out.Upstream = append(out.Upstream, h)
		out.upstreamToken = ru.upToken.header
		out.UpstreamToken = strings.TrimPrefix(h[1], "Bearer ")
	}
	rateLimitHeaders(&out, vd.RateLimits, "", now)
	// Cache hint: never when anything is spent per request, never beyond expiry.
	spends := (vd.HasCredits && ru.credits > 0) || len(vd.RateLimits) > 0 || len(ru.limits) > 0
	if !spends {
		exp := k.ExpiresAt
		if vd.Token != nil && (exp == nil || vd.Token.ExpiresAt.Before(*exp)) {
			exp = &vd.Token.ExpiresAt
		}
		out.CacheMaxAge = d.cacheMaxAge(exp, now)
	}
	return out, nil
}

// setCred puts the credential where the verifier expects it: a JWT as the
// token (own and third-party tokens both verify), anything else as the key.
func setCred(vr *verify.Request, cred string, isJWT bool) {
	if isJWT {
		vr.Token = cred
	} else {
		vr.Key = cred
	}
}

// thirdParty reports whether a JWT names an issuer other than TypeAuth
// itself. The iss is read without trust only to pick the path; the verifier
// checks it again with that issuer's keys and policy. A token that cannot
// be parsed takes the own path, where the verifier answers MALFORMED.
func (d *Decider) thirdParty(cred string) bool {
	own := d.verifier.TokenIssuer()
	if own == "" {
		return false // tokens are off: the verifier refuses every JWT
	}
	ut, err := jose.ParseUnverified(cred)
	if err != nil {
		return false
	}
	return ut.Claims.Issuer != own
}

// decideThirdParty decides a JWT of a trusted third-party issuer. It has no
// key behind it: it passes only rules that do not narrow to apps (rule
// apps, or the gateway's app id) and apply no named rate limits (those are
// stored on keys; skipping one silently would let traffic through). Credits
// do not apply. Upstream: owner_id is the token's owner (its subject, or
// the issuer's owner claim), permissions its scopes, expires_at its exp;
// key_id, app_id, identity_id, name, roles, credits and meta.* are not
// sent; X-TypeAuth-Issuer always carries its iss, so that a backend can
// tell a third-party subject from a key's owner id.
func (d *Decider) decideThirdParty(ctx context.Context, r *Request, ru *rule, cred, appID string) (Decision, error) {
	narrowed := appID != "" || len(ru.apps) > 0 || len(ru.limits) > 0
	// Verified first even when the rule will refuse it, so that an
	// invalid token gets its own code (401), and at no cost.
	vr := verify.Request{Token: cred, IP: r.ClientIP, Permissions: ru.perms, Peek: narrowed}
	vd, err := d.verifier.Verify(ctx, &vr)
	if err != nil {
		return Decision{}, err
	}
	now := d.opt.Now()
	if !vd.Valid() {
		return denyVerify(&vd, cred, now), nil
	}
	if vd.Key != nil || vd.Token == nil {
		// Cannot happen (a token routed here has another iss than
		// TypeAuth's); refuse rather than allow what was not decided.
		return deny(auth.CodeForbidden, "the token could not be decided as a third-party token", cred), nil
	}
	if narrowed {
		why := "a third-party token belongs to no app: this route accepts keys and tokens of its apps only"
		if appID == "" && len(ru.apps) == 0 {
			why = "this route applies rate limits stored on keys: a third-party token has none"
		}
		return deny(auth.CodeForbidden, why, cred), nil
	}
	out := Decision{Allow: true, Status: 200, Code: vd.Code}
	for _, f := range ru.upstream {
		if v := tokenUpstreamValue(f, &vd); v != "" && validHeaderValue(v) {
			out.Upstream = append(out.Upstream, [2]string{f.header, v})
		}
	}
	if iss := vd.Token.Issuer; len(iss) <= 1024 && validHeaderValue(iss) {
		out.Upstream = append(out.Upstream, [2]string{HeaderIssuer, iss})
	}
	rateLimitHeaders(&out, vd.RateLimits, "", now)
	if len(vd.RateLimits) == 0 {
		out.CacheMaxAge = d.cacheMaxAge(&vd.Token.ExpiresAt, now)
	}
	return out, nil
}

// cacheMaxAge is the configured max-age, capped by an expiry (nil: none),
// in whole seconds; under a second is 0 (no-store).
func (d *Decider) cacheMaxAge(exp *time.Time, now time.Time) time.Duration {
	max := d.opt.CacheMaxAge
	if max <= 0 {
		return 0
	}
	if exp != nil && !exp.IsZero() {
		max = min(max, exp.Sub(now))
	}
	max = max.Truncate(time.Second)
	if max < time.Second {
		return 0
	}
	return max
}

// tokenUpstreamValue is upstreamValue for a third-party token (no key).
func tokenUpstreamValue(f upstreamField, vd *verify.Decision) string {
	if f.meta {
		return ""
	}
	switch f.field {
	case "owner_id":
		return vd.Token.Subject
	case "permissions":
		return strings.Join(vd.Permissions, " ")
	case "expires_at":
		return vd.Token.ExpiresAt.UTC().Format(time.RFC3339)
	}
	return ""
}

func upstreamValue(f upstreamField, vd *verify.Decision) string {
	if f.meta {
		return ""
	}
	k := vd.Key
	switch f.field {
	case "key_id":
		return k.ID
	case "app_id":
		return k.AppID
	case "owner_id":
		return k.OwnerID
	case "identity_id":
		return k.IdentityID
	case "name":
		return k.Name
	case "permissions":
		return strings.Join(k.Permissions, " ")
	case "roles":
		return strings.Join(k.Roles, " ")
	case "credits":
		if vd.HasCredits {
			return strconv.FormatInt(vd.Remaining, 10)
		}
	case "expires_at":
		if k.ExpiresAt != nil {
			return k.ExpiresAt.UTC().Format(time.RFC3339)
		}
	}
	return ""
}

// addMeta adds the meta fields a rule asks for: strings as they are,
// numbers and booleans as JSON text, objects and arrays as compact JSON.
func addMeta(out *Decision, ru *rule, meta json.RawMessage) {
	if len(meta) == 0 {
		return
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(meta, &m) != nil {
		return
	}
	for _, f := range ru.upstream {
		raw, ok := m[f.field]
		if !f.meta || !ok || string(raw) == "null" {
			continue
		}
		var v string
		if len(raw) > 0 && raw[0] == '"' {
			if json.Unmarshal(raw, &v) != nil {
				continue
			}
		} else {
			v = string(raw)
		}
		if len(v) <= 1024 && validHeaderValue(v) {
			out.Upstream = append(out.Upstream, [2]string{f.header, v})
		}
	}
}

// validHeaderValue refuses what could split or corrupt a header: control
// characters and non-ASCII.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

// strip removes the credential from the upstream request: every configured
// source, not only the one used, so that no second copy leaks.
func strip(out *Decision, h Headers, sources []auth.CredentialSource) {
	for _, s := range sources {
		switch s.Type {
		case auth.SourceBearer:
			out.RemoveHeaders = append(out.RemoveHeaders, "Authorization")
		case auth.SourceHeader:
			out.RemoveHeaders = append(out.RemoveHeaders, s.Name)
		case auth.SourceQuery:
			out.RemoveQuery = append(out.RemoveQuery, s.Name)
		case auth.SourceCookie:
			line := h.Get("Cookie")
			if line == "" {
				continue
			}
			cs, err := http.ParseCookie(line)
			if err != nil {
				out.RemoveHeaders = append(out.RemoveHeaders, "Cookie")
				continue
			}
			var keep []string
			for _, c := range cs {
				if c.Name != s.Name {
					keep = append(keep, c.String())
				}
			}
			if len(keep) == 0 {
				out.RemoveHeaders = append(out.RemoveHeaders, "Cookie")
			} else {
				out.Upstream = append(out.Upstream, [2]string{"Cookie", strings.Join(keep, "; ")})
			}
		}
	}
}

func describe(sources []auth.CredentialSource) string {
	parts := make([]string, 0, len(sources))
	for _, s := range sources {
		switch s.Type {
		case auth.SourceBearer:
			parts = append(parts, "Authorization: Bearer <key>")
		case auth.SourceHeader:
			parts = append(parts, s.Name+": <key>")
		case auth.SourceQuery:
			parts = append(parts, "the query parameter "+s.Name)
		case auth.SourceCookie:
			parts = append(parts, "the cookie "+s.Name)
		}
	}
	return strings.Join(parts, " or ")
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// cleanPath decodes and cleans a request path and splits it into segments,
// so that /a/../admin and /%61dmin match the rules for /admin. It refuses
// what it cannot decode, control characters and relative paths.
func cleanPath(raw string) ([]string, bool) {
	if raw == "" {
		raw = "/"
	}
	if raw[0] != '/' || len(raw) > 8<<10 {
		return nil, false
	}
	p, err := url.PathUnescape(raw)
	if err != nil {
		return nil, false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < 0x20 || p[i] == 0x7f || p[i] == '\\' {
			return nil, false
		}
	}
	if strings.IndexByte(p, ';') >= 0 {
		// Path parameters (";jsessionid=…", "..;"): servlet containers drop
		// them before routing, so "/public/..;/admin" reaches /admin there.
		// Match as they route: cut every segment at its ';'.
		segs := strings.Split(p, "/")
		for i, sg := range segs {
			if j := strings.IndexByte(sg, ';'); j >= 0 {
				segs[i] = sg[:j]
			}
		}
		p = strings.Join(segs, "/")
	}
	p = path.Clean(p)
	if p == "/" {
		return []string{""}, true
	}
	return strings.Split(p[1:], "/"), true
}

// normalizeHost lower-cases a host and drops its port and trailing dot.
func normalizeHost(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		h = h[:i]
	}
	h = strings.TrimSuffix(strings.Trim(h, "[]"), ".")
	return strings.ToLower(h)
}

func denyVerify(vd *verify.Decision, cred string, now time.Time) Decision {
	out := deny(vd.Code, vd.Reason, cred)
	switch vd.Code {
	case auth.CodeRateLimited:
		rateLimitHeaders(&out, vd.RateLimits, vd.DeniedLimit, now)
		if vd.RetryAfter > 0 {
			out.Response = append(out.Response, [2]string{"Retry-After", strconv.FormatInt(ceilSeconds(vd.RetryAfter), 10)})
		}
	case auth.CodeUsageExceeded:
		// Credits come back with the next refill, when the key has one.
		if k := vd.Key; k != nil && k.Credits != nil && k.Credits.RefillAmount > 0 {
			if next := nextRefill(k.Credits.RefillInterval, now); !next.IsZero() {
				out.Response = append(out.Response, [2]string{"Retry-After", strconv.FormatInt(ceilSeconds(next.Sub(now)), 10)})
			}
		}
	case auth.CodeInsufficientPermissions:
		out.Response = append(out.Response, [2]string{"WWW-Authenticate", `Bearer realm="typeauth", error="insufficient_scope"`})
	}
	return out
}

func nextRefill(i auth.RefillInterval, now time.Time) time.Time {
	start := i.PeriodStart(now)
	switch i {
	case auth.RefillDaily:
		return start.AddDate(0, 0, 1)
	case auth.RefillMonthly:
		return start.AddDate(0, 1, 0)
	}
	return time.Time{}
}

// rateLimitHeaders adds RateLimit-Limit/-Remaining/-Reset (delta seconds) for
// the denying limit, or else the one with the least remaining.
func rateLimitHeaders(out *Decision, ls []verify.LimitState, denied string, now time.Time) {
	if len(ls) == 0 {
		return
	}
	pick := -1
	for i, l := range ls {
		if denied != "" && l.Name == denied {
			pick = i
			break
		}
		if pick < 0 || l.Remaining < ls[pick].Remaining {
			pick = i
		}
	}
	l := ls[pick]
	reset := max(int64(0), ceilSeconds(l.ResetAt.Sub(now)))
	out.Response = append(out.Response,
		[2]string{"RateLimit-Limit", strconv.FormatInt(l.Limit, 10)},
		[2]string{"RateLimit-Remaining", strconv.FormatInt(max(l.Remaining, 0), 10)},
		[2]string{"RateLimit-Reset", strconv.FormatInt(reset, 10)})
}

func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64(math.Ceil(d.Seconds()))
}

func deny(code auth.Code, detail, cred string) Decision {
	d := Decision{Status: code.HTTPStatus(), Code: code, Detail: detail}
	if d.Status == 401 {
		if cred == "" {
			// RFC 6750 §3.1: no error code when no credential was sent.
			d.Response = append(d.Response, [2]string{"WWW-Authenticate", `Bearer realm="typeauth"`})
		} else {
			d.Response = append(d.Response, [2]string{"WWW-Authenticate", `Bearer realm="typeauth", error="invalid_token"`})
		}
	}
	if code == auth.CodeUsageExceeded {
		d.Detail = strings.TrimSpace("usage limit reached. " + detail)
	}
	return d
}
