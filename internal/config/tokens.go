package config

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/typeauth/typeauth/internal/jose"
)

// TokenConfig configures JWT issuing and verification.
type TokenConfig struct {
	// MasterKey (TYPEAUTH_MASTER_KEY or _FILE) seals signing keys and
	// recoverable secrets. Never logged: Redacted clears it.
	MasterKey *[32]byte
	// DevMasterKey generates (or reuses) <data-dir>/master.key: local
	// development only, refused with PostgreSQL.
	DevMasterKey bool
	// IssuerURL is the iss of issued tokens (default http://<--addr>).
	IssuerURL          string
	SigningKeyAlg      string        // EdDSA (default), ES256 or RS256
	SigningKeyRotation time.Duration // scheduled rotation (0: off)
	PublishDelay       time.Duration // a new key is in the JWKS this long before it signs
	JWKSMaxAge         time.Duration // Cache-Control max-age of the JWKS
	MaxTTL             time.Duration // cap on every token's lifetime
	Leeway             time.Duration // exp/nbf/iat leeway of own tokens
	Refresh            time.Duration // how often replicas reload keys, deny list, issuers
	IssuerAllowHTTP    bool          // trusted issuers over plain http (tests only)
	IssuerRefresh      time.Duration // background refresh of issuers' key sets
	IssuerMinRefetch   time.Duration // at most one unknown-kid refetch per interval
}

func tokenDefaults() TokenConfig {
	return TokenConfig{SigningKeyAlg: "EdDSA", SigningKeyRotation: 720 * time.Hour, PublishDelay: 10 * time.Minute,
		JWKSMaxAge: 5 * time.Minute, MaxTTL: 24 * time.Hour, Leeway: 30 * time.Second, Refresh: 5 * time.Second,
		IssuerRefresh: jose.DefaultRefreshInterval, IssuerMinRefetch: jose.DefaultMinRefetchInterval}
}

// tokenFlags registers the token flags; the returned function runs after
// parsing (it reads the master key).
func tokenFlags(fs *flag.FlagSet, getenv func(string) string, c *TokenConfig) func() error {
	*c = tokenDefaults()
	var durErr []string
	dur := func(p *time.Duration, name, env, usage string) {
		if v := getenv(env); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				durErr = append(durErr, env)
			}
			*p = d
		}
		fs.DurationVar(p, name, *p, usage+" (env "+env+")")
	}
	boolean := func(p *bool, name, env, usage string) {
		*p = getenv(env) == "true"
		fs.BoolVar(p, name, *p, usage+" (env "+env+"=true)")
	}
	str := func(p *string, name, env, usage string) {
		if v := getenv(env); v != "" {
			*p = v
		}
		fs.StringVar(p, name, *p, usage+" (env "+env+")")
	}
	masterFile := getenv("TYPEAUTH_MASTER_KEY_FILE")
	fs.StringVar(&masterFile, "master-key-file", masterFile, "file holding the master key: 32 random bytes, standard base64 (env TYPEAUTH_MASTER_KEY_FILE; or set TYPEAUTH_MASTER_KEY)")
	boolean(&c.DevMasterKey, "dev-master-key", "TYPEAUTH_DEV_MASTER_KEY", "DEVELOPMENT ONLY: generate a master key into <data-dir>/master.key when none is given (not with PostgreSQL)")
	str(&c.IssuerURL, "issuer-url", "TYPEAUTH_ISSUER_URL", "iss of issued tokens and base of the discovery document (default http://<--addr>)")
	str(&c.SigningKeyAlg, "signing-key-alg", "TYPEAUTH_SIGNING_KEY_ALG", "algorithm of generated signing keys: EdDSA, ES256 or RS256")
	dur(&c.SigningKeyRotation, "signing-key-rotation", "TYPEAUTH_SIGNING_KEY_ROTATION", "rotate the signing key this often (0: only through the API)")
	dur(&c.PublishDelay, "signing-key-publish-delay", "TYPEAUTH_SIGNING_KEY_PUBLISH_DELAY", "a rotated-in key is in the JWKS this long before it signs (keep it above --jwks-max-age)")
	dur(&c.JWKSMaxAge, "jwks-max-age", "TYPEAUTH_JWKS_MAX_AGE", "Cache-Control max-age of /.well-known/jwks.json")
	dur(&c.MaxTTL, "token-max-ttl", "TYPEAUTH_TOKEN_MAX_TTL", "longest lifetime of any issued token (an app's max_token_ttl_seconds is capped by it); a retired key stays in the JWKS this long plus --token-leeway")
	dur(&c.Leeway, "token-leeway", "TYPEAUTH_TOKEN_LEEWAY", "clock leeway for exp, nbf and iat of TypeAuth's own tokens (at most 5m)")
	dur(&c.Refresh, "token-refresh", "TYPEAUTH_TOKEN_REFRESH", "how often signing keys, revoked jtis and trusted issuers are reloaded from the store")
	boolean(&c.IssuerAllowHTTP, "issuers-allow-http", "TYPEAUTH_ISSUERS_ALLOW_HTTP", "TESTS ONLY: let trusted issuers use plain http:// URLs")
	dur(&c.IssuerRefresh, "issuer-refresh", "TYPEAUTH_ISSUER_REFRESH", "how often a trusted issuer's JWKS is fetched again")
	dur(&c.IssuerMinRefetch, "issuer-min-refetch", "TYPEAUTH_ISSUER_MIN_REFETCH", "at most one fetch per interval triggered by an unknown kid (and the retry delay after a failed fetch)")
	return func() error {
		if len(durErr) > 0 {
			return fmt.Errorf("%s: want a duration such as 30s", strings.Join(durErr, ", "))
		}
		raw, from := getenv("TYPEAUTH_MASTER_KEY"), "TYPEAUTH_MASTER_KEY"
		if raw == "" && masterFile != "" {
			b, err := os.ReadFile(masterFile)
			if err != nil {
				return fmt.Errorf("master key file: %w", err)
			}
			raw, from = string(b), "the master key file"
		}
		if raw == "" {
			return nil
		}
		k, err := jose.ParseMasterKey(raw)
		if err != nil {
			return fmt.Errorf("%s must be 32 random bytes in standard base64 (e.g. `openssl rand -base64 32`): %w", from, err)
		}
		c.MasterKey = &k
		return nil
	}
}

func (c *Config) validateTokens() []error {
	t := &c.Tokens
	var errs []error
	if t.DevMasterKey && c.DatabaseURL != "" {
		errs = append(errs, errors.New("--dev-master-key cannot be used with PostgreSQL: replicas must share one master key; set TYPEAUTH_MASTER_KEY"))
	}
	if t.DevMasterKey && t.MasterKey != nil {
		errs = append(errs, errors.New("--dev-master-key and TYPEAUTH_MASTER_KEY go not together: unset one"))
	}
	if t.IssuerURL != "" {
		u, err := url.Parse(t.IssuerURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			errs = append(errs, errors.New("--issuer-url must be an http(s):// URL without query or fragment"))
		}
		t.IssuerURL = strings.TrimRight(t.IssuerURL, "/")
	}
	if !jose.Alg(t.SigningKeyAlg).Supported() {
		errs = append(errs, fmt.Errorf("--signing-key-alg %q: want EdDSA, ES256 or RS256", t.SigningKeyAlg))
	}
	check := func(name string, d, lo, hi time.Duration) {
		if d < lo || d > hi {
			errs = append(errs, fmt.Errorf("--%s must be between %s and %s", name, lo, hi))
		}
	}
	if t.SigningKeyRotation != 0 {
		check("signing-key-rotation", t.SigningKeyRotation, time.Second, 10*365*24*time.Hour)
	}
	check("signing-key-publish-delay", t.PublishDelay, 0, 7*24*time.Hour)
	check("jwks-max-age", t.JWKSMaxAge, 0, 24*time.Hour)
	check("token-max-ttl", t.MaxTTL, time.Second, 7*24*time.Hour)
	check("token-leeway", t.Leeway, time.Second, jose.MaxLeeway)
	check("token-refresh", t.Refresh, 10*time.Millisecond, 10*time.Minute)
	check("issuer-refresh", t.IssuerRefresh, time.Second, 24*time.Hour)
	check("issuer-min-refetch", t.IssuerMinRefetch, 10*time.Millisecond, time.Hour)
	return errs
}

// redacted hides the master key.
func (t TokenConfig) redacted() TokenConfig {
	t.MasterKey = nil
	return t
}
