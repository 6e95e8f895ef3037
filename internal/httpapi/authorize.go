package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/typeauth/typeauth/client"
	"github.com/typeauth/typeauth/internal/auth"
	"github.com/typeauth/typeauth/internal/gateway"
	"github.com/typeauth/typeauth/internal/manage"
)

// GatewayOptions configure the gateway doors of the data plane.
type GatewayOptions struct {
	Decider *gateway.Decider // default: no rules, any valid key
	Rules   *gateway.Loader  // installs rules changed through the API at once
	// TrustedProxies are the peers whose ClientIPHeader is believed.
	TrustedProxies []netip.Prefix
	// ClientIPHeader carries the client address set by a trusted proxy
	// (default X-Forwarded-For; X-Real-IP and others hold one address).
	ClientIPHeader string
	// Auth is how data-plane callers prove they are a trusted gateway:
	// DataAuthNone, DataAuthGatewayKey or DataAuthMTLS.
	Auth string
}

// Data-plane caller trust modes.
const (
	DataAuthNone       = "none"
	DataAuthGatewayKey = "gateway-key"
	DataAuthMTLS       = "mtls"
)

// handleAuthorize is the forward-auth door (nginx auth_request, Traefik
// ForwardAuth, Caddy forward_auth, Envoy HTTP ext_authz). An allowed answer
// is 200 with identity headers and an empty body (with a body, nginx opens a
// new upstream connection per subrequest); a denial is the mapped status with
// X-TypeAuth-Code and a problem+json body; a failure to decide is 503, which
// every gateway treats as a denial (fail closed).
func (s *Server) handleAuthorize() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nginx := r.Header.Get(gateway.HeaderCompat) == "nginx"
		req, bad := s.originalRequest(r)
		var d gateway.Decision
		if bad != "" {
			d = gateway.Decision{Status: http.StatusForbidden, Code: auth.CodeForbidden, Detail: bad}
		} else {
			var err error
			d, err = s.gateway.Decide(r.Context(), &req)
			if err != nil {
				s.log.LogAttrs(r.Context(), slog.LevelError, "authorize: cannot decide", slog.String("error", err.Error()))
				h := w.Header()
				h.Set("Retry-After", "1")
				writeProblem(w, client.Problem{Status: http.StatusServiceUnavailable, Code: "cannot_decide", Detail: "TypeAuth cannot decide now; the gateway must deny", Instance: "/v1/authorize"})
				return
			}
		}
		h := w.Header()
		h.Set(gateway.HeaderCode, string(d.Code))
		if d.Rule != "" {
			h.Set(gateway.HeaderRule, d.Rule)
		}
		for _, kv := range d.Response {
			h.Set(kv[0], kv[1])
		}
		if d.Allow {
			for _, kv := range d.Upstream {
				// Only identity headers: a forward-auth gateway copies the
				// ones its recipe lists.
				if len(kv[0]) > 11 && strings.EqualFold(kv[0][:11], "X-TypeAuth-") {
					h.Set(kv[0], kv[1])
				}
			}
			if d.UpstreamToken != "" {
				h.Set(gateway.HeaderToken, d.UpstreamToken)
			}
			if d.CacheMaxAge > 0 {
				h.Set("Cache-Control", "max-age="+strconv.FormatInt(int64(d.CacheMaxAge/time.Second), 10))
			} else {
				h.Set("Cache-Control", "no-store")
			}
			h.Set("Content-Length", "0")
			w.WriteHeader(http.StatusOK)
			return
		}
		h.Set("Cache-Control", "no-store")
		status := d.Status
		if nginx {
			// nginx understands only 401 and 403 from an auth subrequest
			// (anything else becomes 500): the recipe maps X-TypeAuth-Status
			// back. No body: nginx drops it anyway.
			h.Set(gateway.HeaderStatus, strconv.Itoa(status))
			if status != http.StatusUnauthorized {
				status = http.StatusForbidden
			}
			h.Set("Content-Length", "0")
			w.WriteHeader(status)
			return
		}
		h.Set("Content-Type", "application/problem+json")
		h.Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(client.Problem{Type: problemBase + strings.ToLower(string(d.Code)), Title: http.StatusText(d.Status),
			Status: d.Status, Code: string(d.Code), Detail: d.Detail, Instance: "/v1/authorize"})
	})
}

// controlHeaders are the X-TypeAuth-* headers a gateway may send TypeAuth
// itself. Every other X-TypeAuth-* header on a forward-auth call came from the
// client (gateways pass the client's headers on), and is refused: nginx
// cannot remove headers by prefix, so refusing is what keeps a forged
// identity header away from the backend.
var controlHeaders = map[string]bool{
	http.CanonicalHeaderKey(gateway.HeaderAppID):      true,
	http.CanonicalHeaderKey(gateway.HeaderGatewayKey): true,
	http.CanonicalHeaderKey(gateway.HeaderCompat):     true,
}

// originalRequest rebuilds the request the gateway saw. It returns a reason
// to deny when the request is ambiguous: conflicting forwarded headers or
// client-sent X-TypeAuth-* headers.
func (s *Server) originalRequest(r *http.Request) (gateway.Request, string) {
	for name := range r.Header {
		if gateway.Reserved(name) && !controlHeaders[name] {
			return gateway.Request{}, "the request carries the reserved header " + name + ": X-TypeAuth-* headers are set by TypeAuth only"
		}
	}
	uri, ok := single(r.Header, "X-Forwarded-Uri", "X-Original-Uri")
	if !ok {
		return gateway.Request{}, "conflicting X-Forwarded-Uri / X-Original-URI headers"
	}
	method, ok := single(r.Header, "X-Forwarded-Method", "X-Original-Method")
	if !ok {
		return gateway.Request{}, "conflicting X-Forwarded-Method / X-Original-Method headers"
	}
	host, ok := single(r.Header, "X-Forwarded-Host")
	if !ok {
		return gateway.Request{}, "conflicting X-Forwarded-Host headers"
	}
	appID, ok := single(r.Header, http.CanonicalHeaderKey(gateway.HeaderAppID))
	if !ok {
		return gateway.Request{}, "conflicting X-TypeAuth-App-Id headers"
	}
	if uri == "" {
		// Envoy's HTTP ext_authz (path_prefix) appends the original path.
		uri = strings.TrimPrefix(r.URL.EscapedPath(), "/v1/authorize")
		if uri == "" {
			uri = "/"
		}
		if r.URL.RawQuery != "" {
			uri += "?" + r.URL.RawQuery
		}
	}
	if method == "" {
		method = r.Method
	}
	if host == "" {
		host = r.Host
	}
	return gateway.Request{
		Method:   method,
		Host:     host,
		Path:     uri,
		Headers:  r.Header,
		AppID:    appID,
		ClientIP: s.clientIP(r),
	}, ""
}

// single returns the one value the named headers agree on ("" if none is
// set); false when they hold different values.
func single(h http.Header, names ...string) (string, bool) {
	v := ""
	for _, n := range names {
		for _, x := range h[n] {
			if v != "" && x != v {
				return "", false
			}
			v = x
		}
	}
	return v, true
}

// clientIP is the client's address: the peer's, unless the peer is a trusted
// proxy that set the configured header. For X-Forwarded-For, the rightmost
// address that is not a trusted proxy is the client (the left part of the
// list is whatever the client sent). A header that cannot be parsed gives an
// unknown address, which fails any key with an IP allow list.
func (s *Server) clientIP(r *http.Request) netip.Addr {
	peer := peerAddr(r)
	if !peer.IsValid() || !s.trusted(peer) {
		return peer
	}
	name := s.gw.ClientIPHeader
	if name == "" {
		name = "X-Forwarded-For"
	}
	vals := r.Header.Values(name)
	if len(vals) == 0 {
		return peer
	}
	if !strings.EqualFold(name, "X-Forwarded-For") {
		if len(vals) != 1 {
			return netip.Addr{}
		}
		return parseAddr(vals[0])
	}
	var parts []string
	for _, v := range vals {
		parts = append(parts, strings.Split(v, ",")...)
	}
	if len(parts) > 64 {
		return netip.Addr{}
	}
	for i := len(parts) - 1; i >= 0; i-- {
		a := parseAddr(parts[i])
		if !a.IsValid() {
			return netip.Addr{}
		}
		if i == 0 || !s.trusted(a) {
			return a
		}
	}
	return netip.Addr{}
}

func (s *Server) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range s.gw.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func parseAddr(v string) netip.Addr {
	v = strings.TrimSpace(v)
	if ap, err := netip.ParseAddrPort(v); err == nil {
		return ap.Addr().Unmap()
	}
	a, err := netip.ParseAddr(strings.Trim(v, "[]"))
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

func peerAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

// ---- route rules (management plane) ----

func (s *Server) getRules(w http.ResponseWriter, r *http.Request, a manage.Actor) error {
	if s.gw.Rules != nil && s.gw.Rules.FileManaged() {
		if err := requireScope(a, auth.ScopeAppsRead); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, ruleSetOut(s.gateway.Table().Set, "file"))
		return nil
	}
	rs, err := s.manage.GetRules(r.Context(), a)
	if err != nil {
		return err
	}
	src := "store"
	if rs.Version == 0 {
		src = "none"
	}
	writeJSON(w, http.StatusOK, ruleSetOut(rs, src))
	return nil
}

func (s *Server) putRules(w http.ResponseWriter, r *http.Request, a manage.Actor) error {
	if err := requireScope(a, auth.ScopeAppsWrite); err != nil {
		return err
	}
	if s.gw.Rules != nil && s.gw.Rules.FileManaged() {
		return auth.Errorf(auth.ErrConflict, "rules_file_managed", "the route rules come from --rules-file on this server: edit the file instead")
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !isJSON(ct) {
		return auth.Errorf(auth.ErrInvalid, "unsupported_media_type", "Content-Type must be application/json")
	}
	body, err := readBody(w, r, min(s.opt.MaxBodyBytes*4, gateway.MaxRulesBytes))
	if err != nil {
		return err
	}
	rs, expect, err := gateway.ParseRules(body, "body", true)
	if err != nil {
		var pe *gateway.ParseError
		if errors.As(err, &pe) {
			p := client.Problem{Status: http.StatusBadRequest, Code: "invalid_rules", Detail: pe.Error(), Instance: r.URL.Path}
			if pe.Field != "" {
				p.Errors = []client.FieldError{{Field: pe.Field, Message: pe.Msg}}
			}
			writeProblem(w, p)
			return nil
		}
		return err
	}
	out, err := s.manage.ReplaceRules(r.Context(), a, rs, expect)
	if err != nil {
		return err
	}
	if s.gw.Rules != nil {
		if err := s.gw.Rules.Install(out); err != nil {
			// Validated above: this cannot happen, but say so if it does.
			s.log.Error("route rules stored but not installed", "error", err)
		}
	}
	writeJSON(w, http.StatusOK, ruleSetOut(out, "store"))
	return nil
}

func requireScope(a manage.Actor, scope string) error {
	if !a.RootKey.Allows(scope, "") {
		return auth.Errorf(auth.ErrForbidden, "insufficient_scope", "the root key lacks the scope "+scope)
	}
	return nil
}

func ruleSetOut(rs *auth.RuleSet, source string) client.RuleSet {
	out := client.RuleSet{Source: source, NoMatch: auth.NoMatchDeny, Rules: []client.Rule{}}
	if rs == nil {
		out.NoMatch = auth.NoMatchAnyKey
		return out
	}
	out.Version = rs.Version
	if rs.NoMatch != "" {
		out.NoMatch = rs.NoMatch
	}
	if rs.Version == 0 && source == "none" {
		out.NoMatch = auth.NoMatchAnyKey
	}
	if !rs.UpdatedAt.IsZero() {
		t := rs.UpdatedAt
		out.UpdatedAt = &t
	}
	// Same JSON shape by construction (tested): convert through it.
	b, _ := json.Marshal(rs.Rules)
	if len(rs.Rules) > 0 {
		_ = json.Unmarshal(b, &out.Rules)
	}
	return out
}
