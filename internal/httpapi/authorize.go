package httpapi

import (
	"net"
	"net/http"
	"net/netip"

	"github.com/typeauth/typeauth/client"
	"github.com/typeauth/typeauth/internal/gateway"
)

// handleAuthorize is the forward-auth door (nginx auth_request, Traefik
// ForwardAuth, Caddy forward_auth, Envoy HTTP ext_authz). An allowed answer
// is 200 with identity headers and an empty body (with a body, nginx opens a
// new upstream connection per subrequest); a denial is the mapped status with
// X-TypeAuth-Code and a problem+json body; a failure to decide is 503, which
// every gateway treats as a denial (fail closed).
func (s *Server) handleAuthorize() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := gateway.Request{
			Method:   firstNonEmpty(r.Header.Get("X-Forwarded-Method"), r.Header.Get("X-Original-Method"), r.Method),
			Host:     firstNonEmpty(r.Header.Get("X-Forwarded-Host"), r.Host),
			Path:     firstNonEmpty(r.Header.Get("X-Forwarded-Uri"), r.Header.Get("X-Original-URI"), r.URL.RequestURI()),
			Headers:  r.Header,
			AppID:    r.Header.Get("X-TypeAuth-App-Id"),
			ClientIP: clientIP(r),
		}
		d, err := s.gateway.Decide(r.Context(), &req)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set(gateway.HeaderCode, string(d.Code))
		if d.Allow {
			for _, kv := range d.Upstream {
				h.Set(kv[0], kv[1])
			}
			h.Set("Content-Length", "0")
			w.WriteHeader(http.StatusOK)
			return
		}
		for _, kv := range d.Response {
			h.Set(kv[0], kv[1])
		}
		writeProblem(w, client.Problem{Status: d.Status, Code: string(d.Code), Detail: d.Detail, Instance: req.Path})
	})
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// clientIP is the address of the caller. Forwarded client addresses are not
// trusted here: that needs a configured list of trusted proxies.
func clientIP(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	a, _ := netip.ParseAddr(host)
	return a
}
