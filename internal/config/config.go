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
	"net/url"
	"os"
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
		CacheTTL:        30 * time.Second,
		StoreTimeout:    2 * time.Second,
		MaxBodyBytes:    1 << 20,
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
	dur(&c.CacheTTL, "cache-ttl", "TYPEAUTH_CACHE_TTL", "how long a cached key is served before it is read again")
	dur(&c.StoreTimeout, "store-timeout", "TYPEAUTH_STORE_TIMEOUT", "timeout of each store call on the verify path")
	rootFile := getenv("TYPEAUTH_ROOT_KEY_FILE")
	fs.StringVar(&rootFile, "root-key-file", rootFile, "file holding the bootstrap root key (env TYPEAUTH_ROOT_KEY_FILE; or set TYPEAUTH_ROOT_KEY)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
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
		errs = append(errs, errors.New("--redis-url: Redis-backed limits are not available in this version; unset it"))
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
		"cache-ttl": c.CacheTTL, "store-timeout": c.StoreTimeout} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("--%s must be a positive duration such as 5s", name))
		}
	}
	return errors.Join(errs...)
}

// Redacted returns the configuration with secrets hidden, for logging.
func (c Config) Redacted() Config {
	if c.RootKey != "" {
		c.RootKey = "[redacted]"
	}
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
