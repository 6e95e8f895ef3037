// Package httpapi serves TypeAuth's two HTTP planes: the data plane for
// gateways (verify) and the management plane (apps, keys, root keys, audit).
// All routes are in routes.go; decode, encode and writeError exist once.
package httpapi

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/typeauth/typeauth/internal/gateway"
	"github.com/typeauth/typeauth/internal/manage"
	"github.com/typeauth/typeauth/internal/verify"
)

// Options configure the server.
type Options struct {
	MaxBodyBytes int64 // default 1 MiB
	// Ready reports whether the store is open and migrated.
	Ready func(ctx context.Context) error
	// Gateway configures the gateway doors (forward-auth, rules, trust).
	Gateway GatewayOptions
	// Metrics serves GET /metrics (Prometheus); nil answers 404.
	Metrics http.Handler
	// Tokens configures the token endpoints (JWKS caching).
	Tokens TokenHTTPOptions
}

// Server holds the dependencies of every handler.
type Server struct {
	verifier *verify.Verifier
	gateway  *gateway.Decider
	gw       GatewayOptions
	// gatewayKeys checks X-TypeAuth-Gateway-Key when the data plane requires it.
	gatewayKeys *gateway.KeyAuth
	manage      *manage.Service
	log         *slog.Logger
	opt         Options

	openapiOnce sync.Once
	openapi     []byte
}

// New returns a Server.
func New(v *verify.Verifier, m *manage.Service, log *slog.Logger, opt Options) *Server {
	if opt.MaxBodyBytes <= 0 {
		opt.MaxBodyBytes = 1 << 20
	}
	if opt.Ready == nil {
		opt.Ready = func(context.Context) error { return nil }
	}
	if opt.Gateway.Decider == nil {
		opt.Gateway.Decider = gateway.New(v, gateway.Options{})
	}
	return &Server{verifier: v, gateway: opt.Gateway.Decider, gw: opt.Gateway, manage: m, log: log, opt: opt,
		gatewayKeys: gateway.NewKeyAuth(m.Authenticate, 0)}
}

// DataHandler serves the data plane.
func (s *Server) DataHandler() http.Handler {
	return s.middleware(s.dataGuard(s.mux(DataPlane)), "data")
}

// AdminHandler serves the management plane.
func (s *Server) AdminHandler() http.Handler { return s.middleware(s.mux(AdminPlane), "admin") }

// statusWriter records the status for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// middleware recovers panics (answering 500, never crashing the process) and
// logs one line per request at debug level: method, path (never the query,
// which may hold a credential), status and duration.
func (s *Server) middleware(next http.Handler, plane string) http.Handler {
	debug := s.log.Enabled(context.Background(), slog.LevelDebug)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("handler panic", "plane", plane, "method", r.Method, "path", r.URL.Path, "panic", v)
				writeProblemStatus(w, r, http.StatusInternalServerError, "internal", "an internal error occurred")
			}
		}()
		if !debug {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		s.log.LogAttrs(r.Context(), slog.LevelDebug, "request", slog.String("plane", plane), slog.String("method", r.Method),
			slog.String("path", r.URL.Path), slog.Int("status", sw.status), slog.Duration("duration", time.Since(start)),
			slog.String("remote", remoteHost(r)))
	})
}

func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// bearer returns the credential of an "Authorization: Bearer …" header.
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

func handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
}

func (s *Server) handleReadyz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.opt.Ready(ctx); err != nil {
			s.log.Warn("not ready", "error", err)
			writeProblemStatus(w, r, http.StatusServiceUnavailable, "not_ready", "the store is not ready")
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ready\n"))
	})
}

func (s *Server) handleMetrics() http.Handler {
	if s.opt.Metrics != nil {
		return s.opt.Metrics
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeProblemStatus(w, r, http.StatusNotFound, "metrics_disabled", "metrics are not enabled")
	})
}
