package httpapi

import (
	"errors"
	"net/http"
	"strings"

	"github.com/typeauth/typeauth/client"
	"github.com/typeauth/typeauth/internal/auth"
	"github.com/typeauth/typeauth/internal/gateway"
)

// guardExempt are the data-plane routes open to any caller in every trust
// mode: probes, the API document, and the OAuth2 endpoints, which
// authenticate their caller themselves (a root key, or the token revoked).
func guardExempt(path string) bool {
	switch path {
	case "/healthz", "/readyz", "/v1/openapi.json", "/oauth2/introspect", "/oauth2/revoke":
		return true
	}
	return strings.HasPrefix(path, "/.well-known/")
}

// dataGuard makes every other data-plane call prove it comes from a trusted
// gateway: a verify-scoped root key in X-TypeAuth-Gateway-Key (not in
// Authorization, which carries the client's credential), or a client
// certificate signed by the configured CA. New routes are guarded unless
// listed above.
func (s *Server) dataGuard(next http.Handler) http.Handler {
	switch s.gw.Auth {
	case DataAuthGatewayKey:
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !guardExempt(r.URL.Path) {
				if err := s.gatewayKeys.Check(r.Context(), r.Header.Get(gateway.HeaderGatewayKey)); err != nil {
					if errors.Is(err, auth.ErrUnauthorized) {
						writeProblem(w, client.Problem{Status: http.StatusUnauthorized, Code: "gateway_key_required", Instance: r.URL.Path,
							Detail: "this data plane answers trusted gateways only: send a verify-scoped root key in " + gateway.HeaderGatewayKey})
						return
					}
					writeError(w, r, s.log, err)
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	case DataAuthMTLS:
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !guardExempt(r.URL.Path) && (r.TLS == nil || len(r.TLS.VerifiedChains) == 0) {
				writeProblem(w, client.Problem{Status: http.StatusUnauthorized, Code: "client_certificate_required", Instance: r.URL.Path,
					Detail: "this data plane answers trusted gateways only: present a client certificate signed by the configured CA"})
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	return next
}
