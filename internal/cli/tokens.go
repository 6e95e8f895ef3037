package cli

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/typeauth/typeauth/internal/config"
	"github.com/typeauth/typeauth/internal/jose"
	"github.com/typeauth/typeauth/internal/manage"
	"github.com/typeauth/typeauth/internal/verify"
)

// devMasterKeyFile is where --dev-master-key keeps its key.
const devMasterKeyFile = "master.key"

// tokenRuntime is the token machinery of a running serve.
type tokenRuntime struct {
	cfg config.TokenConfig
	st  store
	v   *verify.Verifier
	m   *manage.Service
	log *slog.Logger
}

// setupTokens enables JWT issuing and verification: reads (or, in dev mode,
// creates) the master key, loads signing keys and trusted issuers, and
// creates the first signing key. dataAddr is the bound data-plane address
// (the default issuer).
func setupTokens(ctx context.Context, cfg config.Config, st store, v *verify.Verifier, m *manage.Service, log *slog.Logger, dataAddr string, tls bool) (*tokenRuntime, error) {
	tc := cfg.Tokens
	master := tc.MasterKey
	if master == nil && tc.DevMasterKey {
		k, created, err := devMasterKey(cfg.DataDir)
		if err != nil {
			return nil, err
		}
		master = k
		log.Warn("!!! DEVELOPMENT MASTER KEY IN USE !!! --dev-master-key: the master key that seals token signing keys and recoverable secrets is stored in plaintext next to the database; anyone who can read the data directory can forge tokens. Never use this in production: set TYPEAUTH_MASTER_KEY instead",
			"file", filepath.Join(cfg.DataDir, devMasterKeyFile), "generated", created)
	}
	if master == nil {
		log.Warn("no master key: token issuing (POST /v1/tokens) and recoverable keys are off; tokens are still verified. Set TYPEAUTH_MASTER_KEY (32 random bytes, standard base64: openssl rand -base64 32) or TYPEAUTH_MASTER_KEY_FILE, or use --dev-master-key locally")
	}
	iss := tc.IssuerURL
	if iss == "" {
		scheme := "http://"
		if tls {
			scheme = "https://"
		}
		iss = scheme + dataAddr
	}
	m.EnableTokens(manage.TokenOptions{MasterKey: master, Hooks: v, Alg: jose.Alg(tc.SigningKeyAlg), PublishDelay: tc.PublishDelay,
		MaxTTL: tc.MaxTTL, Leeway: tc.Leeway, AllowHTTP: tc.IssuerAllowHTTP})
	if err := v.EnableTokens(ctx, verify.TokenOptions{Store: st, Issuer: iss, MasterKey: master, Leeway: tc.Leeway, MaxTTL: tc.MaxTTL,
		Refresh: tc.Refresh, AllowHTTP: tc.IssuerAllowHTTP, IssuerRefresh: tc.IssuerRefresh, IssuerMinRefetch: tc.IssuerMinRefetch,
		Logger: log}); err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	if k, err := m.EnsureSigningKey(ctx); err != nil {
		v.StopTokens()
		return nil, fmt.Errorf("create the first signing key: %w", err)
	} else if k != nil {
		log.Info("signing key created", "kid", k.KID, "alg", k.Alg)
	}
	log.Info("tokens", "issuer", iss, "issuing", master != nil, "rotation", tc.SigningKeyRotation)
	return &tokenRuntime{cfg: tc, st: st, v: v, m: m, log: log}, nil
}

// devMasterKey reads dir/master.key, creating it (0600) when missing.
func devMasterKey(dir string) (*[32]byte, bool, error) {
	path := filepath.Join(dir, devMasterKeyFile)
	if b, err := os.ReadFile(path); err == nil {
		k, err := jose.ParseMasterKey(string(b))
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", path, err)
		}
		return &k, false, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, false, fmt.Errorf("dev master key: %w", err)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, false, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("dev master key: %w", err)
	}
	_, werr := f.WriteString(base64.StdEncoding.EncodeToString(raw[:]) + "\n")
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		return nil, false, fmt.Errorf("dev master key: %w", err)
	}
	return &raw, true, nil
}

// run reloads token state and rotates signing keys on schedule until ctx
// is done.
func (t *tokenRuntime) run(ctx context.Context, wg *sync.WaitGroup) {
	wg.Add(2)
	go func() { defer wg.Done(); t.v.RunTokens(ctx) }()
	go func() {
		defer wg.Done()
		tick := time.Minute
		if r := t.cfg.SigningKeyRotation; r > 0 && r/10 < tick {
			tick = max(r/10, 100*time.Millisecond)
		}
		if t.cfg.MaxTTL/4 < tick {
			tick = max(t.cfg.MaxTTL/4, 100*time.Millisecond)
		}
		tk := time.NewTicker(tick)
		defer tk.Stop()
		lastPurge := time.Now()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
			}
			if k, err := t.m.RotateIfDue(ctx, t.cfg.SigningKeyRotation); err != nil && ctx.Err() == nil {
				t.log.Warn("scheduled signing key rotation", "error", err)
			} else if k != nil {
				t.log.Info("signing key rotated on schedule", "kid", k.KID, "activate_at", k.ActivateAt)
			}
			if time.Since(lastPurge) > time.Hour {
				lastPurge = time.Now()
				if _, err := t.st.PurgeRevokedTokens(ctx, time.Now()); err != nil && ctx.Err() == nil {
					t.log.Warn("purge revoked tokens", "error", err)
				}
			}
		}
	}()
}
