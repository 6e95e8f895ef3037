// Package config reads TypeAuth's configuration once, from flags and
// TYPEAUTH_* environment variables (flags win), validates it, and hands it
// down. Nothing reads configuration after start-up.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is everything `typeauth serve` needs.
type Config struct {
	Addr        string // data plane listener
	AdminAddr   string // management plane listener
	DataDir     string // SQLite files when DatabaseURL is empty
	DatabaseURL string // postgres://… selects PostgreSQL
	RedisURL    string
	RootKey     string // bootstrap root key (secret)
	LogFormat   string // text or json
	LogLevel    string // debug, info, warn, error

	ShutdownTimeout time.Duration
	NegativeTTL     time.Duration
	CacheTTL        time.Duration
	StoreTimeout    time.Duration
	MaxBodyBytes    int64
	// PermissionWildcards lets a granted "documents.*" satisfy
	// "documents.read" (and "*" everything).
	PermissionWildcards bool

	// Gateway integration.
	GRPCAddr       string         // Envoy ext_authz listener ("" or "off": none)
	RulesFile      string         // route rules file (JSON); when set, the API cannot change rules
	TrustedProxies []netip.Prefix // peers whose ClientIPHeader is believed
	ClientIPHeader string         // header carrying the client address (default X-Forwarded-For)
	TLSCertFile    string         // TLS on every listener when set (with TLSKeyFile)
	TLSKeyFile     string
	TLSClientCA    string        // CA of gateway client certificates (--data-plane-auth mtls)
	DataPlaneAuth  string        // none, gateway-key or mtls
	AuthorizeCache time.Duration // max-age hint on allowed forward-auth answers (0: no-store)

	Tokens TokenConfig // JWT issuing and verification (tokens.go)

	// Scale-out (several replicas on PostgreSQL + Redis).
	RedisPrefix        string        // prefix of every Redis key (default "ta:")
	RedisTimeout       time.Duration // bound of each Redis call
	RedisFailurePolicy string        // closed or local: what rate limits do while Redis is down
	Replicas           int64         // replicas sharing the limits (for --redis-failure-policy local)
	StaleWindow        time.Duration // how long past --cache-ttl cached keys verify while the store is down
	InvalidationPoll   time.Duration // how often the change feed is polled (PostgreSQL)
}

// Defaults returns the configuration of `typeauth serve` with no flags.
func Defaults() Config {
	return Config{
		Addr:            "127.0.0.1:8080",
		AdminAddr:       "127.0.0.1:8081",
		DataDir:         "./typeauth-data",
		LogFormat:       "text",
		LogLevel:        "info",
		ShutdownTimeout: 15 * time.Second,
		NegativeTTL:     5 * time.Second,
		CacheTTL:        0, // chosen by store: see EffectiveCacheTTL
		StoreTimeout:    2 * time.Second,
		MaxBodyBytes:    1 << 20,
		GRPCAddr:        "127.0.0.1:9191",
		ClientIPHeader:  "X-Forwarded-For",
		DataPlaneAuth:   "none",
		Tokens:          tokenDefaults(),

		RedisPrefix:        "ta:",
		RedisTimeout:       250 * time.Millisecond,
		RedisFailurePolicy: "closed",
		Replicas:           1,
		StaleWindow:        5 * time.Minute,
		InvalidationPoll:   500 * time.Millisecond,
	}
}

// Load parses args (after "serve") over the environment.
func Load(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	c := Defaults()
	fs := flag.NewFlagSet("typeauth serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	str := func(p *string, name, env, usage string) {
		if v := getenv(env); v != "" {
			*p = v
		}
		fs.StringVar(p, name, *p, usage+" (env "+env+")")
	}
	dur := func(p *time.Duration, name, env, usage string) {
		if v := getenv(env); v != "" {
			if d, err := time.ParseDuration(v); err == nil {
				*p = d
			} else {
				*p = -1 // reported by Validate
			}
		}
		fs.DurationVar(p, name, *p, usage+" (env "+env+")")
	}
	str(&c.Addr, "addr", "TYPEAUTH_ADDR", "data plane listen address")
	str(&c.AdminAddr, "admin-addr", "TYPEAUTH_ADMIN_ADDR", "management plane listen address")
	str(&c.DataDir, "data-dir", "TYPEAUTH_DATA_DIR", "directory of the embedded SQLite store")
	str(&c.DatabaseURL, "database-url", "TYPEAUTH_DATABASE_URL", "postgres:// URL to use PostgreSQL instead of SQLite")
	str(&c.RedisURL, "redis-url", "TYPEAUTH_REDIS_URL", "redis:// URL for shared rate limits and invalidation")
	str(&c.LogFormat, "log-format", "TYPEAUTH_LOG_FORMAT", "log format: text or json")
	str(&c.LogLevel, "log-level", "TYPEAUTH_LOG_LEVEL", "log level: debug, info, warn or error")
	dur(&c.ShutdownTimeout, "shutdown-timeout", "TYPEAUTH_SHUTDOWN_TIMEOUT", "how long to drain connections on SIGINT/SIGTERM")
	dur(&c.NegativeTTL, "negative-cache-ttl", "TYPEAUTH_NEGATIVE_CACHE_TTL", "how long an unknown key is remembered as unknown")
	dur(&c.CacheTTL, "cache-ttl", "TYPEAUTH_CACHE_TTL", "how long a cached key is served before it is read again (default 10m on SQLite, 30s on PostgreSQL)")
	dur(&c.StoreTimeout, "store-timeout", "TYPEAUTH_STORE_TIMEOUT", "timeout of each store call on the verify path")
	str(&c.GRPCAddr, "grpc-addr", "TYPEAUTH_GRPC_ADDR", "Envoy ext_authz gRPC listen address (\"off\" to disable)")
	str(&c.RulesFile, "rules-file", "TYPEAUTH_RULES_FILE", "route rules file (JSON), reloaded on change; the API cannot change rules then")
	proxies := getenv("TYPEAUTH_TRUSTED_PROXIES")
	fs.StringVar(&proxies, "trusted-proxies", proxies, "comma-separated CIDRs/IPs of proxies whose --client-ip-header is believed (env TYPEAUTH_TRUSTED_PROXIES)")
	str(&c.ClientIPHeader, "client-ip-header", "TYPEAUTH_CLIENT_IP_HEADER", "header holding the client address, set by a trusted proxy")
	str(&c.TLSCertFile, "tls-cert-file", "TYPEAUTH_TLS_CERT_FILE", "PEM certificate: serve TLS on every listener (reloaded on change)")
	str(&c.TLSKeyFile, "tls-key-file", "TYPEAUTH_TLS_KEY_FILE", "PEM private key of --tls-cert-file")
	str(&c.TLSClientCA, "tls-client-ca-file", "TYPEAUTH_TLS_CLIENT_CA_FILE", "PEM CA that signs gateway client certificates (with --data-plane-auth mtls)")
	str(&c.DataPlaneAuth, "data-plane-auth", "TYPEAUTH_DATA_PLANE_AUTH", "how gateways prove trust: none, gateway-key (verify-scoped root key in X-TypeAuth-Gateway-Key) or mtls")
	dur(&c.AuthorizeCache, "authorize-cache-max-age", "TYPEAUTH_AUTHORIZE_CACHE_MAX_AGE", "Cache-Control max-age on allowed /v1/authorize answers (0: no-store)")
	str(&c.RedisPrefix, "redis-prefix", "TYPEAUTH_REDIS_PREFIX", "prefix of every Redis key (several deployments can share one Redis)")
	dur(&c.RedisTimeout, "redis-timeout", "TYPEAUTH_REDIS_TIMEOUT", "timeout of each Redis call")
	str(&c.RedisFailurePolicy, "redis-failure-policy", "TYPEAUTH_REDIS_FAILURE_POLICY", "while Redis is unreachable: closed (rate-limited verifies answer 503) or local (each replica enforces limit/--replicas)")
	if v := getenv("TYPEAUTH_REPLICAS"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			c.Replicas = n
		} else {
			c.Replicas = -1 // reported by Validate
		}
	}
	fs.Int64Var(&c.Replicas, "replicas", c.Replicas, "number of replicas sharing Redis, for --redis-failure-policy local (env TYPEAUTH_REPLICAS)")
	dur(&c.StaleWindow, "stale-window", "TYPEAUTH_STALE_WINDOW", "how long past --cache-ttl a cached key keeps verifying while the store is unreachable (keys with credits never do)")
	dur(&c.InvalidationPoll, "invalidation-poll", "TYPEAUTH_INVALIDATION_POLL", "how often each replica reads the change feed (PostgreSQL): the worst-case bound for a change made elsewhere")
	c.PermissionWildcards = getenv("TYPEAUTH_PERMISSION_WILDCARDS") == "true"
	fs.BoolVar(&c.PermissionWildcards, "permission-wildcards", c.PermissionWildcards, "let granted permissions ending in .* (and *) match every permission below them (env TYPEAUTH_PERMISSION_WILDCARDS=true)")
	tokensLoaded := tokenFlags(fs, getenv, &c.Tokens)
	rootFile := getenv("TYPEAUTH_ROOT_KEY_FILE")
	fs.StringVar(&rootFile, "root-key-file", rootFile, "file holding the bootstrap root key (env TYPEAUTH_ROOT_KEY_FILE; or set TYPEAUTH_ROOT_KEY)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err := tokensLoaded(); err != nil {
		return c, err
	}
	if strings.TrimSpace(proxies) != "" {
		for _, p := range strings.Split(proxies, ",") {
			pf, err := parsePrefix(strings.TrimSpace(p))
			if err != nil {
				return c, fmt.Errorf("--trusted-proxies: %q is not an IP address or CIDR", p)
			}
			c.TrustedProxies = append(c.TrustedProxies, pf)
		}
	}
	c.RootKey = getenv("TYPEAUTH_ROOT_KEY")
	if c.RootKey == "" && rootFile != "" {
		b, err := os.ReadFile(rootFile)
		if err != nil {
			return c, fmt.Errorf("root key file: %w", err)
		}
		c.RootKey = strings.TrimSpace(string(b))
	}
	return c, c.Validate()
}

// Validate reports every invalid field at once.
func (c *Config) Validate() error {
	var errs []error
	for name, addr := range map[string]string{"addr": c.Addr, "admin-addr": c.AdminAddr} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			errs = append(errs, fmt.Errorf("--%s %q: want host:port", name, addr))
		}
	}
	if c.Addr == c.AdminAddr && !strings.HasSuffix(c.Addr, ":0") {
		errs = append(errs, errors.New("--addr and --admin-addr must differ: the data and management planes are separate listeners"))
	}
	if c.DatabaseURL != "" {
		u, err := url.Parse(c.DatabaseURL)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			errs = append(errs, errors.New("--database-url must be a postgres:// URL"))
		}
	} else if c.DataDir == "" {
		errs = append(errs, errors.New("--data-dir must not be empty"))
	}
	if c.RedisURL != "" {
		u, err := url.Parse(c.RedisURL)
		if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") {
			errs = append(errs, errors.New("--redis-url must be a redis://, rediss:// or unix:// URL"))
		}
	}
	if strings.ContainsAny(c.RedisPrefix, "{}") {
		errs = append(errs, errors.New("--redis-prefix must not contain '{' or '}' (it would change the hash slot)"))
	}
	if c.RedisFailurePolicy != "closed" && c.RedisFailurePolicy != "local" {
		errs = append(errs, fmt.Errorf("--redis-failure-policy %q: want closed or local", c.RedisFailurePolicy))
	}
	if c.Replicas < 1 || c.Replicas > 10_000 {
		errs = append(errs, errors.New("--replicas must be between 1 and 10000"))
	}
	if c.StaleWindow < 0 || c.StaleWindow > 24*time.Hour {
		errs = append(errs, errors.New("--stale-window must be between 0 and 24h"))
	}
	if c.InvalidationPoll < 10*time.Millisecond || c.InvalidationPoll > time.Minute {
		errs = append(errs, errors.New("--invalidation-poll must be between 10ms and 1m"))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("--log-format %q: want text or json", c.LogFormat))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("--log-level %q: want debug, info, warn or error", c.LogLevel))
	}
	for name, d := range map[string]time.Duration{"shutdown-timeout": c.ShutdownTimeout, "negative-cache-ttl": c.NegativeTTL,
		"store-timeout": c.StoreTimeout, "redis-timeout": c.RedisTimeout} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("--%s must be a positive duration such as 5s", name))
		}
	}
	if c.CacheTTL < 0 {
		errs = append(errs, errors.New("--cache-ttl must be a positive duration such as 30s"))
	}
	if c.GRPCAddr == "off" {
		c.GRPCAddr = ""
	}
	if c.GRPCAddr != "" {
		if _, _, err := net.SplitHostPort(c.GRPCAddr); err != nil {
			errs = append(errs, fmt.Errorf("--grpc-addr %q: want host:port or off", c.GRPCAddr))
		}
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		errs = append(errs, errors.New("--tls-cert-file and --tls-key-file go together"))
	}
	switch c.DataPlaneAuth {
	case "none", "gateway-key":
	case "mtls":
		if c.TLSClientCA == "" || c.TLSCertFile == "" {
			errs = append(errs, errors.New("--data-plane-auth mtls needs --tls-cert-file, --tls-key-file and --tls-client-ca-file"))
		}
	default:
		errs = append(errs, fmt.Errorf("--data-plane-auth %q: want none, gateway-key or mtls", c.DataPlaneAuth))
	}
	if c.TLSClientCA != "" && c.DataPlaneAuth != "mtls" {
		errs = append(errs, errors.New("--tls-client-ca-file is used only with --data-plane-auth mtls"))
	}
	if c.ClientIPHeader == "" || len(c.ClientIPHeader) > 100 || strings.ContainsAny(c.ClientIPHeader, " :\t\r\n") {
		errs = append(errs, fmt.Errorf("--client-ip-header %q: want a header name", c.ClientIPHeader))
	}
	if c.AuthorizeCache < 0 || c.AuthorizeCache > time.Hour {
		errs = append(errs, errors.New("--authorize-cache-max-age must be between 0 and 1h"))
	}
	errs = append(errs, c.validateTokens()...)
	return errors.Join(errs...)
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

// EffectiveCacheTTL is --cache-ttl, or its default for the store: on SQLite
// (one node) every change evicts the cache at once, so the TTL is only a
// safety net and can be long; on PostgreSQL other replicas' changes arrive
// through the change feed within a second, and the TTL bounds anything it
// could miss.
func (c *Config) EffectiveCacheTTL() time.Duration {
	switch {
	case c.CacheTTL > 0:
		return c.CacheTTL
	case c.DatabaseURL != "":
		return 30 * time.Second
	}
	return 10 * time.Minute
}

// Redacted returns the configuration with secrets hidden, for logging.
func (c Config) Redacted() Config {
	if c.RootKey != "" {
		c.RootKey = "[redacted]"
	}
	c.Tokens = c.Tokens.redacted()
	c.DatabaseURL = redactURL(c.DatabaseURL)
	c.RedisURL = redactURL(c.RedisURL)
	return c
}

func redactURL(s string) string {
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil {
		return "[unparseable, redacted]"
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "redacted")
		}
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "redacted")
		u.RawQuery = q.Encode()
	}
	return u.String()
}
