package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/typeauth/typeauth/internal/auth"
	"github.com/typeauth/typeauth/internal/permquery"
	"github.com/typeauth/typeauth/internal/verify"
)

// Bounds of a rule document: every input is bounded.
const (
	MaxRulesBytes      = 4 << 20
	maxRules           = 1000
	maxListLen         = 100
	maxSources         = 10
	maxUpstreamHeaders = 30
	maxRuleLimits      = 20
	maxCost            = 1_000_000
)

// document is the rules file and the body of PUT /v1/rules.
type document struct {
	Version *int64      `json:"version,omitempty"` // API only: the version the change is based on
	NoMatch string      `json:"no_match,omitempty"`
	Rules   []auth.Rule `json:"rules"`
}

// ParseError is a rule document that does not validate. It names the source,
// line and column, and the field.
type ParseError struct {
	Source       string
	Line, Column int
	Field        string
	Msg          string
}

func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString(e.Source)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Column)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ParseRules decodes and validates a rule document strictly: unknown fields,
// wrong types, trailing data and invalid values are errors that name the line,
// column and field. source names the document in errors (a file name, or
// "body"). allowVersion accepts the "version" field (the API's optimistic
// check); it is -1 when absent.
func ParseRules(data []byte, source string, allowVersion bool) (*auth.RuleSet, int64, error) {
	if len(data) > MaxRulesBytes {
		return nil, 0, &ParseError{Source: source, Msg: fmt.Sprintf("the document is larger than %d bytes", MaxRulesBytes)}
	}
	if !utf8.Valid(data) {
		return nil, 0, &ParseError{Source: source, Msg: "the document is not valid UTF-8"}
	}
	var doc document
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, 0, jsonParseError(data, source, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		line, col := lineCol(data, int(dec.InputOffset()))
		return nil, 0, &ParseError{Source: source, Line: line, Column: col, Msg: "unexpected data after the JSON object"}
	}
	if doc.Rules == nil {
		return nil, 0, &ParseError{Source: source, Field: "rules", Msg: `required (use "rules": [] for none)`}
	}
	expect := int64(-1)
	if doc.Version != nil {
		if !allowVersion {
			return nil, 0, &ParseError{Source: source, Field: "version", Msg: "unknown field (versions are kept by the management API only)"}
		}
		if *doc.Version < 0 {
			return nil, 0, &ParseError{Source: source, Field: "version", Msg: "must not be negative"}
		}
		expect = *doc.Version
	}
	rs := &auth.RuleSet{NoMatch: doc.NoMatch, Rules: doc.Rules}
	if err := ValidateRules(rs); err != nil {
		var pe *ParseError
		if errors.As(err, &pe) {
			pe.Source = source
			if idx := ruleIndex(pe.Field); idx >= 0 {
				if off, ok := ruleOffset(data, idx); ok {
					pe.Line, pe.Column = lineCol(data, off)
				}
			}
		}
		return nil, 0, err
	}
	return rs, expect, nil
}

// ValidateRules checks a rule set and normalizes it in place (method names
// upper case, host names lower case, defaults spelled out where that makes
// the stored document explicit). Errors are *ParseError with Field set.
func ValidateRules(rs *auth.RuleSet) error {
	switch rs.NoMatch {
	case "":
		rs.NoMatch = auth.NoMatchDeny
	case auth.NoMatchDeny, auth.NoMatchAnyKey:
	default:
		return &ParseError{Field: "no_match", Msg: fmt.Sprintf("%q: want %q or %q", rs.NoMatch, auth.NoMatchDeny, auth.NoMatchAnyKey)}
	}
	if len(rs.Rules) > maxRules {
		return &ParseError{Field: "rules", Msg: fmt.Sprintf("at most %d rules", maxRules)}
	}
	names := map[string]int{}
	for i := range rs.Rules {
		if err := validateRule(&rs.Rules[i]); err != nil {
			err.Field = fmt.Sprintf("rules[%d]", i) + dotted(err.Field)
			return err
		}
		if n := rs.Rules[i].Name; n != "" {
			if j, dup := names[n]; dup {
				return &ParseError{Field: fmt.Sprintf("rules[%d].name", i), Msg: fmt.Sprintf("%q is also the name of rules[%d]", n, j)}
			}
			names[n] = i
		}
	}
	return nil
}

func dotted(f string) string {
	if f == "" || f[0] == '[' {
		return f
	}
	return "." + f
}

var (
	headerToken = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")
	hostPattern = regexp.MustCompile(`^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`)
	methodToken = regexp.MustCompile(`^[A-Z]{1,20}$`)
	metaField   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	paramName   = regexp.MustCompile(`^[A-Za-z0-9_.~-]{1,100}$`)
	appID       = regexp.MustCompile(`^app_[A-Za-z0-9_-]{1,60}$`)
)

// upstreamFields are the names a rule may list in upstream_headers.
var upstreamFields = map[string]string{
	"key_id":      HeaderKeyID,
	"app_id":      HeaderAppID,
	"owner_id":    HeaderOwnerID,
	"identity_id": "X-TypeAuth-Identity-Id",
	"name":        "X-TypeAuth-Key-Name",
	"permissions": "X-TypeAuth-Permissions",
	"roles":       "X-TypeAuth-Roles",
	"credits":     HeaderCredits,
	"expires_at":  "X-TypeAuth-Expires-At",
}

func validateRule(r *auth.Rule) *ParseError {
	if err := validText(r.Name, 100); err != "" {
		return &ParseError{Field: "name", Msg: err}
	}
	if len(r.Hosts) > maxListLen || len(r.Methods) > maxListLen || len(r.Paths) > maxListLen || len(r.Apps) > maxListLen {
		return &ParseError{Msg: fmt.Sprintf("hosts, methods, paths and apps hold at most %d entries each", maxListLen)}
	}
	for i, h := range r.Hosts {
		h = strings.ToLower(h)
		if len(h) > 253 || !hostPattern.MatchString(h) {
			return &ParseError{Field: fmt.Sprintf("hosts[%d]", i), Msg: fmt.Sprintf("%q is not a host name or a *.suffix pattern (no port, no scheme)", r.Hosts[i])}
		}
		r.Hosts[i] = h
	}
	for i, m := range r.Methods {
		m = strings.ToUpper(m)
		if !methodToken.MatchString(m) {
			return &ParseError{Field: fmt.Sprintf("methods[%d]", i), Msg: fmt.Sprintf("%q is not an HTTP method", r.Methods[i])}
		}
		r.Methods[i] = m
	}
	for i, p := range r.Paths {
		if msg := validPathPattern(p); msg != "" {
			return &ParseError{Field: fmt.Sprintf("paths[%d]", i), Msg: fmt.Sprintf("%q: %s", p, msg)}
		}
	}
	for i, a := range r.Apps {
		if !appID.MatchString(a) {
			return &ParseError{Field: fmt.Sprintf("apps[%d]", i), Msg: fmt.Sprintf("%q is not an app id (app_…)", a)}
		}
	}
	if len(r.Credentials) > maxSources {
		return &ParseError{Field: "credentials", Msg: fmt.Sprintf("at most %d sources", maxSources)}
	}
	for i, c := range r.Credentials {
		f := fmt.Sprintf("credentials[%d]", i)
		switch c.Type {
		case auth.SourceBearer:
			if c.Name != "" {
				return &ParseError{Field: f + ".name", Msg: "a bearer source has no name (it is the Authorization header)"}
			}
		case auth.SourceHeader:
			if !headerToken.MatchString(c.Name) {
				return &ParseError{Field: f + ".name", Msg: fmt.Sprintf("%q is not a header name", c.Name)}
			}
			if strings.HasPrefix(http.CanonicalHeaderKey(c.Name), HeaderPrefix) || strings.EqualFold(c.Name, "Authorization") {
				return &ParseError{Field: f + ".name", Msg: fmt.Sprintf("%q: X-TypeAuth-* headers are reserved; for Authorization use type bearer", c.Name)}
			}
			r.Credentials[i].Name = http.CanonicalHeaderKey(c.Name)
		case auth.SourceQuery:
			if !paramName.MatchString(c.Name) {
				return &ParseError{Field: f + ".name", Msg: fmt.Sprintf("%q is not a query parameter name", c.Name)}
			}
		case auth.SourceCookie:
			if !headerToken.MatchString(c.Name) {
				return &ParseError{Field: f + ".name", Msg: fmt.Sprintf("%q is not a cookie name", c.Name)}
			}
		default:
			return &ParseError{Field: f + ".type", Msg: fmt.Sprintf("%q: want bearer, header, query or cookie", c.Type)}
		}
	}
	if len(r.Permissions) > 2048 {
		return &ParseError{Field: "permissions", Msg: "at most 2048 bytes"}
	}
	if r.Permissions != "" {
		if _, err := permquery.Parse(r.Permissions); err != nil {
			return &ParseError{Field: "permissions", Msg: err.Error()}
		}
	}
	if len(r.RateLimits) > maxRuleLimits {
		return &ParseError{Field: "ratelimits", Msg: fmt.Sprintf("at most %d limits", maxRuleLimits)}
	}
	for i, l := range r.RateLimits {
		if l.Name == "" || len(l.Name) > 100 || validText(l.Name, 100) != "" {
			return &ParseError{Field: fmt.Sprintf("ratelimits[%d].name", i), Msg: "required: 1-100 printable characters"}
		}
		if l.Cost != nil && (*l.Cost < 0 || *l.Cost > maxCost) {
			return &ParseError{Field: fmt.Sprintf("ratelimits[%d].cost", i), Msg: fmt.Sprintf("between 0 and %d", maxCost)}
		}
	}
	if r.Credits != nil && (*r.Credits < 0 || *r.Credits > maxCost) {
		return &ParseError{Field: "credits", Msg: fmt.Sprintf("between 0 and %d", maxCost)}
	}
	if ut := r.UpstreamToken; ut != nil {
		if ut.Header == "" {
			ut.Header = "Authorization"
		}
		if !headerToken.MatchString(ut.Header) || strings.HasPrefix(http.CanonicalHeaderKey(ut.Header), HeaderPrefix) {
			return &ParseError{Field: "upstream_token.header", Msg: fmt.Sprintf("%q is not a header name TypeAuth may set (X-TypeAuth-* are reserved)", ut.Header)}
		}
		ut.Header = http.CanonicalHeaderKey(ut.Header)
		if ut.TTLSeconds < 0 || ut.TTLSeconds > 3600 {
			return &ParseError{Field: "upstream_token.ttl_seconds", Msg: "between 1 and 3600 (0: the default, 300)"}
		}
		if len(ut.Audience) > 256 || validText(ut.Audience, 256) != "" {
			return &ParseError{Field: "upstream_token.audience", Msg: "at most 256 printable characters"}
		}
	}
	if len(r.UpstreamHeaders) > maxUpstreamHeaders {
		return &ParseError{Field: "upstream_headers", Msg: fmt.Sprintf("at most %d", maxUpstreamHeaders)}
	}
	seen := map[string]bool{}
	for i, h := range r.UpstreamHeaders {
		f := fmt.Sprintf("upstream_headers[%d]", i)
		if m, ok := strings.CutPrefix(h, "meta."); ok {
			if !metaField.MatchString(m) {
				return &ParseError{Field: f, Msg: fmt.Sprintf("%q: a meta field name is 1-64 characters of A-Z, a-z, 0-9, _ and -", h)}
			}
		} else if _, ok := upstreamFields[h]; !ok {
			return &ParseError{Field: f, Msg: fmt.Sprintf("%q: want key_id, app_id, owner_id, identity_id, name, permissions, roles, credits, expires_at or meta.<field>", h)}
		}
		if seen[strings.ToLower(h)] {
			return &ParseError{Field: f, Msg: fmt.Sprintf("%q is listed twice", h)}
		}
		seen[strings.ToLower(h)] = true
	}
	return nil
}

func validText(s string, max int) string {
	if len(s) > max || !utf8.ValidString(s) {
		return fmt.Sprintf("at most %d bytes of UTF-8", max)
	}
	for _, c := range s {
		if c < 0x20 || c == 0x7f {
			return "must not contain control characters"
		}
	}
	return ""
}

// validPathPattern checks a path pattern: absolute, clean, with "*" standing
// for exactly one segment and "**" (last only) for any rest.
func validPathPattern(p string) string {
	if p == "" || p[0] != '/' {
		return "must start with /"
	}
	if len(p) > 1024 {
		return "at most 1024 bytes"
	}
	if msg := validText(p, 1024); msg != "" {
		return msg
	}
	if strings.ContainsAny(p, "?#%\\") {
		return "must not contain ?, #, % or \\ (patterns match the decoded path, without its query)"
	}
	if p != "/" && path.Clean(p) != p {
		return "must be a clean path (no //, /./, /../ or trailing /); " + path.Clean(p) + "/** matches the subtree"
	}
	segs := strings.Split(p[1:], "/")
	for i, s := range segs {
		switch {
		case s == "**" && i != len(segs)-1:
			return "** is allowed only as the last segment"
		case s != "*" && s != "**" && strings.Contains(s, "*"):
			return "* and ** stand for whole segments only"
		}
	}
	return ""
}

func jsonParseError(data []byte, source string, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		line, col := lineCol(data, int(se.Offset))
		return &ParseError{Source: source, Line: line, Column: col, Msg: "malformed JSON: " + se.Error()}
	case errors.As(err, &te):
		line, col := lineCol(data, int(te.Offset))
		return &ParseError{Source: source, Line: line, Column: col, Field: te.Field, Msg: "must be " + jsonKind(te.Type.Kind().String())}
	case errors.Is(err, io.EOF):
		return &ParseError{Source: source, Msg: "the document is empty: a JSON object is required"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &ParseError{Source: source, Msg: "the JSON document ends too early"}
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		name, _ = strconv.Unquote(name)
		pe := &ParseError{Source: source, Field: name, Msg: "unknown field (check its spelling)"}
		if off := bytes.Index(data, []byte(strconv.Quote(name))); off >= 0 {
			pe.Line, pe.Column = lineCol(data, off)
		}
		return pe
	}
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return &ParseError{Source: source, Msg: msg}
}

func jsonKind(k string) string {
	switch k {
	case "int64", "int":
		return "an integer"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice":
		return "an array"
	case "struct", "map", "ptr":
		return "an object"
	}
	return k
}

// lineCol turns a byte offset into a 1-based line and column.
func lineCol(data []byte, off int) (int, int) {
	if off > len(data) {
		off = len(data)
	}
	if off < 0 {
		off = 0
	}
	line := 1 + bytes.Count(data[:off], []byte("\n"))
	col := off - bytes.LastIndexByte(data[:off], '\n')
	return line, col
}

// ruleIndex extracts i from a field "rules[i]…", or -1.
func ruleIndex(field string) int {
	rest, ok := strings.CutPrefix(field, "rules[")
	if !ok {
		return -1
	}
	end := strings.IndexByte(rest, ']')
	if end < 0 {
		return -1
	}
	i, err := strconv.Atoi(rest[:end])
	if err != nil {
		return -1
	}
	return i
}

// ruleOffset finds the byte offset of rules[idx] in a valid document by
// walking its tokens.
func ruleOffset(data []byte, idx int) (int, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return 0, false
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return 0, false
		}
		if k != "rules" {
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return 0, false
			}
			continue
		}
		if t, err := dec.Token(); err != nil || t != json.Delim('[') {
			return 0, false
		}
		for i := 0; dec.More(); i++ {
			off := int(dec.InputOffset())
			for off < len(data) && (data[off] == ',' || data[off] == ' ' || data[off] == '\n' || data[off] == '\r' || data[off] == '\t') {
				off++
			}
			if i == idx {
				return off, true
			}
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return 0, false
			}
		}
		return 0, false
	}
	return 0, false
}

// MarshalRules encodes a rule set as the document ParseRules reads.
func MarshalRules(rs *auth.RuleSet) ([]byte, error) {
	rules := rs.Rules
	if rules == nil {
		rules = []auth.Rule{}
	}
	return json.MarshalIndent(document{NoMatch: rs.NoMatch, Rules: rules}, "", "  ")
}

// ---- compiled form ----

// Table is a compiled, immutable rule set. Decide reads it through an atomic
// pointer; a reload builds a new one and swaps it.
type Table struct {
	Version    int64
	Source     string // "none", "file <path>" or "store"
	Configured bool   // false: no rules at all (any valid key passes)
	NoMatch    string
	Set        *auth.RuleSet
	rules      []*rule
}

type rule struct {
	name     string
	hosts    []string // exact, or ".suffix" for *.suffix
	methods  []string
	paths    [][]string
	apps     []string
	sources  []auth.CredentialSource
	perms    string
	limits   []verify.RateLimitUse
	credits  int64
	upstream []upstreamField
	strip    bool
	anon     bool
	needMeta bool
	upToken  *upstreamToken
}

type upstreamField struct {
	field  string // key_id, …, or the meta field name
	meta   bool
	header string
}

var defaultSources = []auth.CredentialSource{{Type: auth.SourceBearer}, {Type: auth.SourceHeader, Name: "X-Api-Key"}}

var defaultUpstream = []upstreamField{
	{field: "key_id", header: HeaderKeyID}, {field: "app_id", header: HeaderAppID},
	{field: "owner_id", header: HeaderOwnerID}, {field: "credits", header: HeaderCredits},
}

// legacy is the behaviour with no rules: any valid key, default sources.
var legacy = &rule{name: "", sources: defaultSources, credits: 1, upstream: defaultUpstream}

// EmptyTable is the table with no rules configured.
func EmptyTable() *Table { return &Table{Source: "none", NoMatch: auth.NoMatchAnyKey} }

// Compile validates a rule set and builds its table.
func Compile(rs *auth.RuleSet, source string) (*Table, error) {
	cp := *rs
	cp.Rules = append([]auth.Rule(nil), rs.Rules...)
	if err := ValidateRules(&cp); err != nil {
		return nil, err
	}
	t := &Table{Version: cp.Version, Source: source, Configured: true, NoMatch: cp.NoMatch, Set: &cp}
	for _, r := range cp.Rules {
		c := &rule{name: r.Name, methods: r.Methods, apps: r.Apps, perms: r.Permissions, strip: r.StripCredential, anon: r.Anonymous, credits: 1}
		for _, h := range r.Hosts {
			if s, ok := strings.CutPrefix(h, "*"); ok {
				c.hosts = append(c.hosts, s) // ".example.com"
			} else {
				c.hosts = append(c.hosts, h)
			}
		}
		for _, p := range r.Paths {
			if p == "/" {
				c.paths = append(c.paths, []string{""})
				continue
			}
			c.paths = append(c.paths, strings.Split(p[1:], "/"))
		}
		c.sources = r.Credentials
		if len(c.sources) == 0 {
			c.sources = defaultSources
		}
		for _, l := range r.RateLimits {
			u := verify.RateLimitUse{Name: l.Name, Cost: 1}
			if l.Cost != nil {
				u.Cost, u.CostSet = *l.Cost, true
			}
			c.limits = append(c.limits, u)
		}
		if r.Credits != nil {
			c.credits = *r.Credits
		}
		if len(r.UpstreamHeaders) == 0 {
			c.upstream = defaultUpstream
		}
		for _, h := range r.UpstreamHeaders {
			if m, ok := strings.CutPrefix(h, "meta."); ok {
				c.upstream = append(c.upstream, upstreamField{field: m, meta: true, header: metaHeader(m)})
				c.needMeta = true
			} else {
				c.upstream = append(c.upstream, upstreamField{field: h, header: upstreamFields[h]})
			}
		}
		if ut := r.UpstreamToken; ut != nil {
			ttl := time.Duration(ut.TTLSeconds) * time.Second
			if ttl == 0 {
				ttl = 5 * time.Minute
			}
			c.upToken = &upstreamToken{header: ut.Header, ttl: ttl, audience: ut.Audience}
		}
		t.rules = append(t.rules, c)
	}
	return t, nil
}

// metaHeader names the header of a meta field: plan → X-TypeAuth-Meta-Plan.
func metaHeader(field string) string {
	return "X-TypeAuth-Meta-" + strings.TrimPrefix(http.CanonicalHeaderKey("X-"+strings.ReplaceAll(field, "_", "-")), "X-")
}

// match returns the first rule matching the request, or nil.
func (t *Table) match(method, host string, segs []string) *rule {
	for _, r := range t.rules {
		if r.matches(method, host, segs) {
			return r
		}
	}
	return nil
}

func (r *rule) matches(method, host string, segs []string) bool {
	if len(r.methods) > 0 && !containsFold(r.methods, method) {
		return false
	}
	if len(r.hosts) > 0 {
		ok := false
		for _, h := range r.hosts {
			if h[0] == '.' {
				ok = len(host) > len(h) && strings.HasSuffix(host, h)
			} else {
				ok = host == h
			}
			if ok {
				break
			}
		}
		if !ok {
			return false
		}
	}
	if len(r.paths) == 0 {
		return true
	}
	for _, p := range r.paths {
		if matchSegs(p, segs) {
			return true
		}
	}
	return false
}

func matchSegs(pat, segs []string) bool {
	for i, p := range pat {
		if p == "**" {
			return true // any rest, including none
		}
		if i >= len(segs) {
			return false
		}
		if p != "*" && p != segs[i] {
			return false
		}
		if p == "*" && segs[i] == "" {
			return false
		}
	}
	return len(pat) == len(segs)
}

// containsFold is contains for HTTP methods: rules hold them upper-cased; a
// request's method is compared in any case, so that "post" cannot skip the
// rule written for POST.
func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
