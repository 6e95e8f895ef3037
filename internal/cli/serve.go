package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"

	"github.com/typeauth/typeauth/internal/auth"
	"github.com/typeauth/typeauth/internal/config"
	"github.com/typeauth/typeauth/internal/extauthz"
	"github.com/typeauth/typeauth/internal/gateway"
	"github.com/typeauth/typeauth/internal/httpapi"
	"github.com/typeauth/typeauth/internal/manage"
	"github.com/typeauth/typeauth/internal/metrics"
	"github.com/typeauth/typeauth/internal/ratelimit"
	"github.com/typeauth/typeauth/internal/store/postgres"
	"github.com/typeauth/typeauth/internal/store/sqlite"
	"github.com/typeauth/typeauth/internal/verify"
)

const serveUsage = `Usage: typeauth serve [flags]

Runs TypeAuth: the data plane (verify, for gateways) and the management plane
(apps, keys, root keys, audit). With no flags it stores everything in SQLite
under ./typeauth-data and listens on 127.0.0.1:8080 (data) and 127.0.0.1:8081
(management).

On first start with an empty store, TYPEAUTH_ROOT_KEY (or the file named by
TYPEAUTH_ROOT_KEY_FILE) becomes the first root key; when unset, one is
generated and printed once on standard output.

Flags:
`

func serveCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if wantsHelp(args) {
		fmt.Fprint(stdout, serveUsage)
		_, _ = config.Load([]string{"-h"}, func(string) string { return "" }, stdout)
		return 0
	}
	cfg, err := config.Load(args, getenv, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "typeauth serve: %v\n", err)
		return 2
	}
	if err := Serve(ctx, cfg, stdout, stderr, nil); err != nil {
		fmt.Fprintf(stderr, "typeauth serve: %v\n", err)
		return 1
	}
	return 0
}

func migrateCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if wantsHelp(args) {
		fmt.Fprint(stdout, "Usage: typeauth migrate [--data-dir D | --database-url postgres://…]\n\nApplies the embedded schema migrations and exits. `typeauth serve` also does this at start.\n")
		return 0
	}
	cfg, err := config.Load(args, getenv, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "typeauth migrate: %v\n", err)
		return 2
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "typeauth migrate: %v\n", err)
		return 1
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		fmt.Fprintf(stderr, "typeauth migrate: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, "migrations applied")
	return 0
}

func wantsHelp(args []string) bool {
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			return true
		}
	}
	return false
}

// store is what serve needs of a backend beyond the contract.
type store interface {
	auth.Store
	Migrate(ctx context.Context) error
}

func openStore(ctx context.Context, cfg config.Config) (store, error) {
	if cfg.DatabaseURL != "" {
		return postgres.Open(ctx, cfg.DatabaseURL)
	}
	return sqlite.OpenDir(ctx, cfg.DataDir)
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Serve runs TypeAuth until ctx is done, then shuts down gracefully: stop
// accepting, drain in-flight requests, close the store. onReady, if not nil,
// is called with the bound addresses once both listeners accept.
func Serve(ctx context.Context, cfg config.Config, stdout, stderr io.Writer, onReady func(dataAddr, adminAddr string)) error {
	log := newLogger(cfg, stderr)
	red := cfg.Redacted()
	log.Info("starting", "addr", red.Addr, "admin_addr", red.AdminAddr, "store", storeName(red))

	st, err := openStore(ctx, cfg)
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}

	met := metrics.New()
	limiter := ratelimit.NewLocal(ratelimit.Options{})
	sweepCtx, stopSweep := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSweep()
	go limiter.RunSweeper(sweepCtx, 10*time.Second, time.Now)
	scale, err := newScaleOut(cfg, log, met)
	if err != nil {
		return err
	}
	defer scale.close()
	var lim ratelimit.Limiter = limiter
	if scale.limiter != nil {
		lim = scale.limiter
	}
	v := verify.New(st, verify.Options{NegativeTTL: cfg.NegativeTTL, PositiveTTL: cfg.EffectiveCacheTTL(), StoreTimeout: cfg.StoreTimeout,
		StaleWindow: cfg.StaleWindow, Limiter: lim, PermissionWildcards: cfg.PermissionWildcards, Logger: log, Observer: met})
	met.GaugeFunc("typeauth_cache_keys", "Keys held in the verify cache.", func() float64 { p, _ := v.CacheStats(); return float64(p) })
	met.GaugeFunc("typeauth_cache_unknown_keys", "Unknown keys remembered in the negative cache.", func() float64 { _, n := v.CacheStats(); return float64(n) })
	met.GaugeFunc("typeauth_ratelimit_buckets", "Rate-limit buckets held by the local limiter.", func() float64 { return float64(limiter.Len()) })
	m := manage.New(st, v, nil, log)
	created, err := m.Bootstrap(ctx, cfg.RootKey)
	if err != nil {
		return fmt.Errorf("bootstrap root key: %w", err)
	}
	switch {
	case created != nil && cfg.RootKey == "":
		fmt.Fprintf(stdout, "\nA root key was generated for this new store. It is shown only this once:\n\n    %s\n\nUse it as TYPEAUTH_ROOT_KEY for the CLI, or as Authorization: Bearer on the management API.\n\n", created.Secret)
		log.Info("root key generated", "id", created.RootKey.ID)
	case created != nil:
		log.Info("root key created from TYPEAUTH_ROOT_KEY", "id", created.RootKey.ID)
	case cfg.RootKey != "":
		if _, err := m.Authenticate(ctx, cfg.RootKey); err != nil {
			log.Warn("TYPEAUTH_ROOT_KEY is not a root key of this store and was ignored: the store already has root keys")
		}
	}

	dec := gateway.New(v, gateway.Options{CacheMaxAge: cfg.AuthorizeCache})
	rules := gateway.NewLoader(dec, st, cfg.RulesFile, time.Second, log)
	if err := rules.Load(ctx); err != nil {
		return fmt.Errorf("route rules: %w", err)
	}
	var certs *httpapi.CertReloader
	if cfg.TLSCertFile != "" {
		if certs, err = httpapi.NewCertReloader(cfg.TLSCertFile, cfg.TLSKeyFile, cfg.TLSClientCA, log); err != nil {
			return err
		}
	}
	mtls := cfg.DataPlaneAuth == httpapi.DataAuthMTLS
	srv := httpapi.New(v, m, log, httpapi.Options{MaxBodyBytes: cfg.MaxBodyBytes, Ready: st.Ping, Metrics: met.Handler(), Tokens: httpapi.TokenHTTPOptions{JWKSMaxAge: cfg.Tokens.JWKSMaxAge}, Gateway: httpapi.GatewayOptions{
		Decider: dec, Rules: rules, TrustedProxies: cfg.TrustedProxies, ClientIPHeader: cfg.ClientIPHeader, Auth: cfg.DataPlaneAuth}})
	dataLn, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on --addr: %w", err)
	}
	adminLn, err := net.Listen("tcp", cfg.AdminAddr)
	if err != nil {
		dataLn.Close()
		return fmt.Errorf("listen on --admin-addr: %w", err)
	}
	tokRT, err := setupTokens(ctx, cfg, st, v, m, log, dataLn.Addr().String(), certs != nil)
	if err != nil {
		dataLn.Close()
		adminLn.Close()
		return err
	}
	servers := []*http.Server{newHTTPServer(srv.DataHandler(), log), newHTTPServer(srv.AdminHandler(), log)}
	if certs != nil {
		servers[0].TLSConfig = certs.ServerConfig(mtls)
		servers[1].TLSConfig = certs.ServerConfig(false)
	}
	lns := []net.Listener{dataLn, adminLn}
	errc := make(chan error, 3)
	for i := range servers {
		go func() {
			serve := servers[i].Serve
			if servers[i].TLSConfig != nil {
				serve = func(ln net.Listener) error { return servers[i].ServeTLS(ln, "", "") }
			}
			if err := serve(lns[i]); !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	grpcSrv, grpcAddr, err := startGRPC(cfg, dec, m, certs, log, errc)
	if err != nil {
		dataLn.Close()
		adminLn.Close()
		return err
	}
	log.Info("listening", "data", dataLn.Addr().String(), "admin", adminLn.Addr().String(), "grpc", grpcAddr, "tls", certs != nil)
	if onReady != nil {
		onReady(dataLn.Addr().String(), adminLn.Addr().String())
	}

	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); rules.Run(bg) }()
	tokRT.run(bg, &wg)
	if err := scale.run(bg, cfg, st, v, log, met, &wg); err != nil {
		errc <- err // shuts down like a failed listener
	}
	if p, ok := st.(interface {
		PurgeIdempotency(context.Context, time.Time) (int64, error)
	}); ok {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(time.Hour)
			defer t.Stop()
			for {
				select {
				case <-bg.Done():
					return
				case <-t.C:
					if _, err := p.PurgeIdempotency(bg, time.Now().Add(-manage.IdempotencyWindow)); err != nil {
						log.Warn("purge idempotency records", "error", err)
					}
				}
			}
		}()
	}

	var serveErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down: draining connections", "timeout", cfg.ShutdownTimeout)
	case serveErr = <-errc:
		log.Error("listener failed", "error", serveErr)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if grpcSrv != nil {
		grpcSrv.stop(sctx)
	}
	for _, s := range servers {
		if err := s.Shutdown(sctx); err != nil {
			log.Warn("shutdown", "error", err)
		}
	}
	stopBG()
	wg.Wait()
	log.Info("stopped")
	return serveErr
}

func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

func storeName(cfg config.Config) string {
	if cfg.DatabaseURL != "" {
		return "postgres " + cfg.DatabaseURL
	}
	return "sqlite " + strings.TrimRight(cfg.DataDir, "/") + "/typeauth.db"
}

// grpcServer is the running ext_authz listener.
type grpcServer struct {
	gs *grpc.Server
	hs *health.Server
}

// startGRPC starts the Envoy ext_authz listener, unless --grpc-addr is off.
func startGRPC(cfg config.Config, dec *gateway.Decider, m *manage.Service, certs *httpapi.CertReloader, log *slog.Logger, errc chan<- error) (*grpcServer, string, error) {
	if cfg.GRPCAddr == "" {
		return nil, "", nil
	}
	var creds credentials.TransportCredentials
	if certs != nil {
		creds = credentials.NewTLS(certs.ServerConfig(cfg.DataPlaneAuth == httpapi.DataAuthMTLS, "h2"))
	}
	trust := extauthz.Trust{RequireClientCert: cfg.DataPlaneAuth == httpapi.DataAuthMTLS}
	if cfg.DataPlaneAuth == httpapi.DataAuthGatewayKey {
		trust.GatewayKeys = gateway.NewKeyAuth(m.Authenticate, 0)
	}
	ln, err := net.Listen("tcp", cfg.GRPCAddr)
	if err != nil {
		return nil, "", fmt.Errorf("listen on --grpc-addr: %w", err)
	}
	gs, hs := extauthz.NewGRPCServer(dec, log, creds, trust)
	go func() {
		if err := gs.Serve(ln); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			errc <- err
		}
	}()
	return &grpcServer{gs: gs, hs: hs}, ln.Addr().String(), nil
}

// stop reports NOT_SERVING, drains in-flight checks until ctx ends, then stops.
func (g *grpcServer) stop(ctx context.Context) {
	g.hs.Shutdown()
	done := make(chan struct{})
	go func() { g.gs.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		g.gs.Stop()
	}
}
