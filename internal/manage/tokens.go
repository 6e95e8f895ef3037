package manage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/typeauth/typeauth/internal/auth"
	"github.com/typeauth/typeauth/internal/jose"
	"github.com/typeauth/typeauth/internal/keyfmt"
	"github.com/typeauth/typeauth/internal/wire"
)

// TokenHooks is what management tells the token path after a change, so
// that it applies on this node at once (other replicas reload on their own).
type TokenHooks interface {
	ReloadSigningKeys(ctx context.Context) error
	ReloadIssuers(ctx context.Context) error
	RevokeToken(jti string, exp time.Time)
}

// TokenOptions configure the token use cases.
type TokenOptions struct {
	// MasterKey seals signing keys and recoverable secrets; nil: token
	// issuing and recoverable keys are refused.
	MasterKey *[32]byte
	Hooks     TokenHooks
	// Alg of generated signing keys (default EdDSA).
	Alg jose.Alg
	// PublishDelay: a rotated-in key is published this long before it
	// signs (default 10m; it should exceed the JWKS cache max-age).
	PublishDelay time.Duration
	// MaxTTL caps every token's lifetime; a retired key stays published
	// MaxTTL + Leeway after it stops signing (default 24h).
	MaxTTL time.Duration
	Leeway time.Duration // default 30s
	// AllowHTTP accepts http:// issuer URLs (tests only).
	AllowHTTP bool
}

type noHooks struct{}

func (noHooks) ReloadSigningKeys(context.Context) error { return nil }
func (noHooks) ReloadIssuers(context.Context) error     { return nil }
func (noHooks) RevokeToken(string, time.Time)           {}

// EnableTokens configures the token use cases. Call it before serving.
func (s *Service) EnableTokens(o TokenOptions) {
	if o.Hooks == nil {
		o.Hooks = noHooks{}
	}
	if o.Alg == "" {
		o.Alg = jose.EdDSA
	}
	if o.PublishDelay < 0 {
		o.PublishDelay = 0
	}
	if o.MaxTTL <= 0 {
		o.MaxTTL = 24 * time.Hour
	}
	if o.Leeway <= 0 {
		o.Leeway = 30 * time.Second
	}
	s.tok = o
}

// errMasterKeyMissing refuses what needs the master key.
var errMasterKeyMissing = auth.Errorf(auth.ErrInvalid, "master_key_missing",
	"this needs a master key: set TYPEAUTH_MASTER_KEY (32 random bytes, standard base64, e.g. `openssl rand -base64 32`) or TYPEAUTH_MASTER_KEY_FILE, or run with --dev-master-key for local development")

// ---- signing keys ----

// signingKeyView is how a signing key shows in the audit log (never its
// sealed private key).
func signingKeyView(k *auth.SigningKey) map[string]any {
	return map[string]any{"kid": k.KID, "alg": k.Alg, "state": k.State, "activate_at": k.ActivateAt,
		"retire_at": k.RetireAt, "expires_at": k.ExpiresAt}
}

// ListSigningKeys lists every stored signing key, oldest first.
func (s *Service) ListSigningKeys(ctx context.Context, a Actor) ([]*auth.SigningKey, error) {
	if err := a.require(auth.ScopeSigningKeysRead, ""); err != nil {
		return nil, err
	}
	return s.store.SigningKeys(ctx)
}

// RotateSigningKey creates a signing key of alg ("" for the default). It is
// published at once and signs after the publish delay (at once when
// immediate, or when no key signs yet); the keys signing before stop then,
// and stay published until every token they signed has expired.
func (s *Service) RotateSigningKey(ctx context.Context, a Actor, alg string, immediate bool) (*auth.SigningKey, error) {
	if err := a.require(auth.ScopeSigningKeysWrite, ""); err != nil {
		return nil, err
	}
	return s.rotate(ctx, a, alg, immediate, nil)
}

// rotate does the rotation; when due is not nil it runs inside the
// transaction and the rotation happens only if it returns true.
func (s *Service) rotate(ctx context.Context, a Actor, alg string, immediate bool, due func(keys []*auth.SigningKey, now time.Time) bool) (*auth.SigningKey, error) {
	if s.tok.MasterKey == nil {
		return nil, errMasterKeyMissing
	}
	if alg == "" {
		alg = string(s.tok.Alg)
	}
	if !jose.Alg(alg).Supported() {
		return nil, invalid("invalid_alg", `alg must be "EdDSA", "ES256" or "RS256"`)
	}
	gen, err := jose.GenerateSigningKey(jose.Alg(alg))
	if err != nil {
		return nil, err
	}
	sealed, err := jose.SealSigningKey(*s.tok.MasterKey, gen)
	if err != nil {
		return nil, err
	}
	pub, err := json.Marshal(gen.Public())
	if err != nil {
		return nil, err
	}
	var out *auth.SigningKey
	err = s.store.Tx(ctx, func(tx auth.Tx) error {
		keys, err := tx.SigningKeys()
		if err != nil {
			return err
		}
		now := s.clock()
		if due != nil && !due(keys, now) {
			return nil
		}
		activate := now.Add(s.tok.PublishDelay)
		if immediate || !anySigns(keys, now, activate) {
			activate = now
		}
		nk := &auth.SigningKey{KID: gen.KID(), Alg: alg, PublicJWK: pub, Sealed: sealed, State: auth.SigningKeyLive,
			CreatedAt: now, ActivateAt: activate}
		for _, k := range keys {
			if k.State != auth.SigningKeyLive || (k.RetireAt != nil && !k.RetireAt.After(activate)) {
				continue
			}
			before := signingKeyView(k)
			retire, expires := activate, activate.Add(s.tok.MaxTTL+s.tok.Leeway)
			k.RetireAt, k.ExpiresAt = &retire, &expires
			if err := tx.UpdateSigningKey(k); err != nil {
				return err
			}
			if err := s.audit(tx, a, "signing_key.retire", "signing_key", k.KID, before, signingKeyView(k)); err != nil {
				return err
			}
		}
		if err := tx.InsertSigningKey(nk); err != nil {
			return err
		}
		out = nk
		return s.audit(tx, a, "signing_key.create", "signing_key", nk.KID, nil, signingKeyView(nk))
	})
	if err != nil || out == nil {
		return nil, err
	}
	if err := s.tok.Hooks.ReloadSigningKeys(ctx); err != nil {
		s.log.Warn("reload signing keys after rotation", "error", err)
	}
	return out, nil
}

// RevokeSigningKey withdraws a signing key at once: it leaves the JWKS, and
// every token it signed fails verification from then on (on other replicas
// within the change-feed bound). If it was the key signing, the next key
// signs, or a new one is created when there is none. ErrNotFound if unknown.
func (s *Service) RevokeSigningKey(ctx context.Context, a Actor, kid string) (*auth.SigningKey, error) {
	if err := a.require(auth.ScopeSigningKeysWrite, ""); err != nil {
		return nil, err
	}
	var out *auth.SigningKey
	err := s.store.Tx(ctx, func(tx auth.Tx) error {
		keys, err := tx.SigningKeys()
		if err != nil {
			return err
		}
		for _, k := range keys {
			if k.KID != kid {
				continue
			}
			if k.State == auth.SigningKeyRevoked {
				out = k
				return nil
			}
			before := signingKeyView(k)
			k.State = auth.SigningKeyRevoked
			if err := tx.UpdateSigningKey(k); err != nil {
				return err
			}
			out = k
			return s.audit(tx, a, "signing_key.revoke", "signing_key", kid, before, signingKeyView(k))
		}
		return notFound("signing_key")
	})
	if err != nil {
		return nil, err
	}
	if err := s.tok.Hooks.ReloadSigningKeys(ctx); err != nil {
		s.log.Warn("reload signing keys after revocation", "error", err)
	}
	if s.tok.MasterKey != nil {
		// Issuing must go on: make sure a live key signs.
		if _, err := s.EnsureSigningKey(ctx); err != nil {
			s.log.Warn("create a signing key after revocation", "error", err)
		}
	}
	return out, nil
}

// anySigns reports whether some live key signs at now or will before at.
func anySigns(keys []*auth.SigningKey, now, at time.Time) bool {
	for _, k := range keys {
		if k.State != auth.SigningKeyLive {
			continue
		}
		if p := k.Phase(now); p == auth.PhaseActive || p == auth.PhaseNext {
			return true
		}
	}
	return false
}

// EnsureSigningKey creates the first signing key (active at once) when no
// live key signs or is about to. It does nothing without a master key.
func (s *Service) EnsureSigningKey(ctx context.Context) (*auth.SigningKey, error) {
	if s.tok.MasterKey == nil {
		return nil, nil
	}
	return s.rotate(ctx, System, "", true, func(keys []*auth.SigningKey, now time.Time) bool {
		return !anySigns(keys, now, now)
	})
}

// RotateIfDue rotates when the newest key was activated every ago or more
// and no newer key is waiting, and deletes keys past their expiry. The
// scheduler in serve calls it.
func (s *Service) RotateIfDue(ctx context.Context, every time.Duration) (*auth.SigningKey, error) {
	if s.tok.MasterKey == nil {
		return nil, nil
	}
	if err := s.purgeSigningKeys(ctx); err != nil {
		return nil, err
	}
	if every <= 0 {
		return nil, nil
	}
	return s.rotate(ctx, System, "", false, func(keys []*auth.SigningKey, now time.Time) bool {
		var newest *auth.SigningKey
		for _, k := range keys {
			if k.State == auth.SigningKeyLive && (newest == nil || k.ActivateAt.After(newest.ActivateAt)) {
				newest = k
			}
		}
		return newest == nil || !now.Before(newest.ActivateAt.Add(every))
	})
}

func (s *Service) purgeSigningKeys(ctx context.Context) error {
	now := s.clock()
	keys, err := s.store.SigningKeys(ctx)
	if err != nil {
		return err
	}
	var gone []string
	for _, k := range keys {
		if k.ExpiresAt != nil && !now.Before(*k.ExpiresAt) {
			gone = append(gone, k.KID)
		}
	}
	if len(gone) == 0 {
		return nil
	}
	err = s.store.Tx(ctx, func(tx auth.Tx) error {
		for _, kid := range gone {
			if err := tx.DeleteSigningKey(kid); err != nil && !errors.Is(err, auth.ErrNotFound) {
				return err
			}
			if err := s.audit(tx, System, "signing_key.delete", "signing_key", kid, map[string]any{"kid": kid}, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		err = s.tok.Hooks.ReloadSigningKeys(ctx)
	}
	return err
}

// ---- trusted issuers ----

// IssuerPatch changes the fields it sets.
type IssuerPatch func(i *auth.Issuer)

func (s *Service) validateIssuer(i *auth.Issuer) error {
	if err := validText("name", i.Name, 200, true); err != nil {
		return err
	}
	if i.Issuer == "" || len(i.Issuer) > 512 || strings.ContainsAny(i.Issuer, " \t\r\n") {
		return invalid("invalid_issuer", "issuer (the exact iss of the tokens) is required: at most 512 characters, no spaces")
	}
	n := 0
	for _, v := range []bool{i.JWKSURL != "", i.DiscoveryURL != "", len(i.JWKS) > 0} {
		if v {
			n++
		}
	}
	if n != 1 {
		return invalid("invalid_key_source", "give exactly one of jwks_url, discovery_url and jwks")
	}
	for field, u := range map[string]string{"jwks_url": i.JWKSURL, "discovery_url": i.DiscoveryURL} {
		if u == "" {
			continue
		}
		pu, err := url.Parse(u)
		if err != nil || pu.Host == "" || len(u) > 2048 || (pu.Scheme != "https" && !(s.tok.AllowHTTP && pu.Scheme == "http")) {
			return invalid("invalid_"+field, field+" must be an https:// URL")
		}
	}
	if len(i.JWKS) > 0 {
		if _, err := jose.ParseJWKS(i.JWKS); err != nil {
			return invalid("invalid_jwks", "jwks must be a JWK Set with at least one usable public key (EdDSA, ES256 or RS256 ≥ 2048 bits)")
		}
	}
	if len(i.Algorithms) == 0 {
		return invalid("invalid_algorithms", `algorithms is required: a list of "EdDSA", "ES256", "RS256"`)
	}
	i.Algorithms = dedupe(i.Algorithms)
	for _, a := range i.Algorithms {
		if !jose.Alg(a).Supported() {
			return invalid("invalid_algorithms", fmt.Sprintf("algorithm %q is not accepted: only EdDSA, ES256 and RS256 (never none or a symmetric one)", a))
		}
	}
	if i.Leeway < 0 || i.Leeway > jose.MaxLeeway {
		return invalid("invalid_leeway", "leeway_seconds must be between 0 and 300")
	}
	if len(i.Audiences) > 20 || len(i.RequiredClaims) > 20 {
		return invalid("invalid_issuer", "at most 20 audiences and 20 required_claims")
	}
	for _, list := range [][]string{i.Audiences, i.RequiredClaims} {
		for _, v := range list {
			if v == "" || len(v) > 256 {
				return invalid("invalid_issuer", "audiences and required_claims must be 1-256 characters each")
			}
		}
	}
	if i.OwnerClaim == "" {
		i.OwnerClaim = "sub"
	}
	if i.PermissionsClaim == "" {
		i.PermissionsClaim = "scope"
	}
	if len(i.OwnerClaim) > 64 || len(i.PermissionsClaim) > 64 {
		return invalid("invalid_issuer", "owner_claim and permissions_claim must be at most 64 characters")
	}
	return nil
}

// CreateIssuer adds a trusted issuer. ErrConflict (issuer_exists) if another
// has the same iss.
func (s *Service) CreateIssuer(ctx context.Context, a Actor, in *auth.Issuer, idem *Idempotency) (*auth.Issuer, error) {
	if err := a.require(auth.ScopeIssuersWrite, ""); err != nil {
		return nil, err
	}
	if err := s.validateIssuer(in); err != nil {
		return nil, err
	}
	out, err := idempotent(ctx, s, idem, func(tx auth.Tx) (*auth.Issuer, error) {
		n, err := tx.CountIssuers()
		if err != nil {
			return nil, err
		}
		if n >= auth.MaxIssuers {
			return nil, invalid("too_many_issuers", fmt.Sprintf("at most %d trusted issuers", auth.MaxIssuers))
		}
		now := s.clock()
		is := *in
		is.ID, is.CreatedAt, is.UpdatedAt = auth.NewID("iss", now), now, now
		if err := tx.InsertIssuer(&is); err != nil {
			return nil, err
		}
		return &is, s.audit(tx, a, "issuer.create", "issuer", is.ID, nil, issuerView(&is))
	})
	if err != nil {
		return nil, err
	}
	s.issuersChanged(ctx)
	return out, nil
}

func issuerView(i *auth.Issuer) map[string]any {
	return map[string]any{"id": i.ID, "name": i.Name, "issuer": i.Issuer, "jwks_url": i.JWKSURL, "discovery_url": i.DiscoveryURL,
		"inline_jwks": len(i.JWKS) > 0, "algorithms": i.Algorithms, "audiences": i.Audiences, "leeway_seconds": int64(i.Leeway / time.Second),
		"required_claims": i.RequiredClaims, "owner_claim": i.OwnerClaim, "permissions_claim": i.PermissionsClaim}
}

func (s *Service) issuersChanged(ctx context.Context) {
	if err := s.tok.Hooks.ReloadIssuers(ctx); err != nil {
		s.log.Warn("reload issuers", "error", err)
	}
}

func (s *Service) GetIssuer(ctx context.Context, a Actor, id string) (*auth.Issuer, error) {
	if err := a.require(auth.ScopeIssuersRead, ""); err != nil {
		return nil, err
	}
	is, err := s.store.GetIssuer(ctx, id)
	if errors.Is(err, auth.ErrNotFound) {
		return nil, notFound("issuer")
	}
	return is, err
}

func (s *Service) ListIssuers(ctx context.Context, a Actor) ([]*auth.Issuer, error) {
	if err := a.require(auth.ScopeIssuersRead, ""); err != nil {
		return nil, err
	}
	return s.store.Issuers(ctx)
}

// UpdateIssuer applies patch and stores the result.
func (s *Service) UpdateIssuer(ctx context.Context, a Actor, id string, patch IssuerPatch) (*auth.Issuer, error) {
	if err := a.require(auth.ScopeIssuersWrite, ""); err != nil {
		return nil, err
	}
	var out *auth.Issuer
	err := s.store.Tx(ctx, func(tx auth.Tx) error {
		before, err := tx.GetIssuer(id)
		if err != nil {
			return err
		}
		after := *before
		patch(&after)
		if err := s.validateIssuer(&after); err != nil {
			return err
		}
		after.ID, after.CreatedAt, after.UpdatedAt = before.ID, before.CreatedAt, s.clock()
		if !after.UpdatedAt.After(before.UpdatedAt) {
			after.UpdatedAt = before.UpdatedAt.Add(time.Millisecond) // replicas rebuild on a change of UpdatedAt
		}
		if err := tx.UpdateIssuer(&after); err != nil {
			return err
		}
		out = &after
		return s.audit(tx, a, "issuer.update", "issuer", id, issuerView(before), issuerView(&after))
	})
	if errors.Is(err, auth.ErrNotFound) {
		return nil, notFound("issuer")
	}
	if err != nil {
		return nil, err
	}
	s.issuersChanged(ctx)
	return out, nil
}

// DeleteIssuer removes a trusted issuer: its tokens stop verifying.
func (s *Service) DeleteIssuer(ctx context.Context, a Actor, id string) error {
	if err := a.require(auth.ScopeIssuersWrite, ""); err != nil {
		return err
	}
	err := s.store.Tx(ctx, func(tx auth.Tx) error {
		before, err := tx.GetIssuer(id)
		if err != nil {
			return err
		}
		if err := tx.DeleteIssuer(id); err != nil {
			return err
		}
		return s.audit(tx, a, "issuer.delete", "issuer", id, issuerView(before), nil)
	})
	if errors.Is(err, auth.ErrNotFound) {
		return notFound("issuer")
	}
	if err == nil {
		s.issuersChanged(ctx)
	}
	return err
}

// ---- revocation ----

// RevokeToken puts a jti on the deny list until exp (nil: until every token
// TypeAuth can have issued with it has expired). It needs keys.write on all
// apps: a jti does not say which app it belongs to.
func (s *Service) RevokeToken(ctx context.Context, a Actor, jti string, exp *time.Time) (auth.RevokedToken, error) {
	if err := a.require(auth.ScopeKeysWrite, ""); err != nil {
		return auth.RevokedToken{}, err
	}
	if jti == "" || len(jti) > 256 {
		return auth.RevokedToken{}, invalid("invalid_jti", "jti is required (at most 256 characters)")
	}
	now := s.clock()
	maxExp := now.Add(s.tok.MaxTTL + s.tok.Leeway)
	r := auth.RevokedToken{JTI: jti, ExpiresAt: maxExp, RevokedAt: now}
	if exp != nil {
		// Keep it past the token's exp by the leeway verifiers grant.
		r.ExpiresAt = exp.UTC().Truncate(time.Millisecond).Add(jose.MaxLeeway)
		if !r.ExpiresAt.After(now) {
			return r, invalid("invalid_expires_at", "the token has already expired")
		}
	}
	err := s.store.Tx(ctx, func(tx auth.Tx) error {
		if err := tx.RevokeToken(r); err != nil {
			return err
		}
		return s.audit(tx, a, "token.revoke", "token", jti, nil, map[string]any{"jti": jti, "expires_at": r.ExpiresAt})
	})
	if err != nil {
		return r, err
	}
	s.tok.Hooks.RevokeToken(r.JTI, r.ExpiresAt)
	return r, nil
}

// ---- app token settings and recoverable keys ----

// AppTokenPatch changes an app's token settings (nil fields are kept).
type AppTokenPatch struct {
	Recoverable *bool
	MaxTTL      *time.Duration
	Audiences   *[]string
	MetaClaims  *[]string
}

func (p *AppTokenPatch) empty() bool {
	return p == nil || (p.Recoverable == nil && p.MaxTTL == nil && p.Audiences == nil && p.MetaClaims == nil)
}

func (s *Service) applyTokenPatch(ts *auth.TokenSettings, p *AppTokenPatch) error {
	if p.Recoverable != nil {
		if *p.Recoverable && s.tok.MasterKey == nil {
			return errMasterKeyMissing
		}
		ts.Recoverable = *p.Recoverable
	}
	if p.MaxTTL != nil {
		cap := s.tok.MaxTTL
		if cap <= 0 {
			cap = 24 * time.Hour
		}
		if *p.MaxTTL < 0 || (*p.MaxTTL > 0 && *p.MaxTTL < time.Second) || *p.MaxTTL > cap {
			return invalid("invalid_max_token_ttl", fmt.Sprintf("max_token_ttl_seconds must be between 1 and %d (0: the default, 3600)", int64(cap/time.Second)))
		}
		ts.MaxTTL = p.MaxTTL.Truncate(time.Second)
	}
	check := func(field string, list []string, max int) error {
		if len(list) > 20 {
			return invalid("invalid_"+field, "at most 20 "+field)
		}
		for _, v := range list {
			if v == "" || len(v) > max || strings.ContainsAny(v, " \t\r\n") {
				return invalid("invalid_"+field, fmt.Sprintf("%s must be 1-%d characters without spaces", field, max))
			}
		}
		return nil
	}
	if p.Audiences != nil {
		if err := check("token_audiences", *p.Audiences, 256); err != nil {
			return err
		}
		ts.Audiences = dedupe(*p.Audiences)
	}
	if p.MetaClaims != nil {
		if err := check("token_meta_claims", *p.MetaClaims, 64); err != nil {
			return err
		}
		ts.MetaClaims = dedupe(*p.MetaClaims)
	}
	return nil
}

// AppWithTokens is an app and its token settings.
type AppWithTokens struct {
	App    *auth.App
	Tokens *auth.TokenSettings
}

// CreateAppWithTokens creates an app with token settings, in one
// transaction (CreateApp without them).
func (s *Service) CreateAppWithTokens(ctx context.Context, a Actor, name, prefix string, p *AppTokenPatch, idem *Idempotency) (*AppWithTokens, error) {
	if p.empty() {
		app, err := s.CreateApp(ctx, a, name, prefix, idem)
		if err != nil {
			return nil, err
		}
		return &AppWithTokens{App: app, Tokens: &auth.TokenSettings{AppID: app.ID}}, nil
	}
	var ts auth.TokenSettings
	if err := s.applyTokenPatch(&ts, p); err != nil {
		return nil, err
	}
	return s.createApp(ctx, a, name, prefix, &ts, idem)
}

// UpdateAppTokens changes an app's token settings.
func (s *Service) UpdateAppTokens(ctx context.Context, a Actor, id string, p *AppTokenPatch) (*auth.TokenSettings, error) {
	if err := a.require(auth.ScopeAppsWrite, id); err != nil {
		return nil, err
	}
	var out *auth.TokenSettings
	err := s.store.Tx(ctx, func(tx auth.Tx) error {
		var err error
		out, err = s.updateAppTokensTx(tx, a, id, p)
		return err
	})
	if errors.Is(err, auth.ErrNotFound) {
		return nil, notFound("app")
	}
	return out, err
}

// updateAppTokensTx applies a token-settings patch inside tx, audited.
func (s *Service) updateAppTokensTx(tx auth.Tx, a Actor, id string, p *AppTokenPatch) (*auth.TokenSettings, error) {
	before, err := tx.GetTokenSettings(id)
	if err != nil {
		return nil, err
	}
	after := *before
	after.Audiences, after.MetaClaims = slices.Clone(before.Audiences), slices.Clone(before.MetaClaims)
	if err := s.applyTokenPatch(&after, p); err != nil {
		return nil, err
	}
	after.AppID = id
	if err := tx.PutTokenSettings(&after); err != nil {
		return nil, err
	}
	return &after, s.audit(tx, a, "app.tokens", "app", id, tokenSettingsView(before), tokenSettingsView(&after))
}

func tokenSettingsView(ts *auth.TokenSettings) map[string]any {
	return map[string]any{"recoverable": ts.Recoverable, "max_token_ttl_seconds": int64(ts.MaxTTL / time.Second),
		"token_audiences": ts.Audiences, "token_meta_claims": ts.MetaClaims}
}

// AppTokens returns an app's token settings.
func (s *Service) AppTokens(ctx context.Context, a Actor, id string) (*auth.TokenSettings, error) {
	if err := a.require(auth.ScopeAppsRead, id); err != nil {
		return nil, err
	}
	ts, err := s.store.TokenSettings(ctx, id)
	if errors.Is(err, auth.ErrNotFound) {
		return nil, notFound("app")
	}
	return ts, err
}

func secretAD(keyID string) []byte { return []byte("typeauth key secret\x00" + keyID) }

// sealSecret stores the secret of a key of a recoverable app, sealed under
// the master key; it does nothing for other apps.
func (s *Service) sealSecret(tx auth.Tx, appID, keyID, secret string) error {
	ts, err := tx.GetTokenSettings(appID)
	if err != nil || !ts.Recoverable {
		return err
	}
	if s.tok.MasterKey == nil {
		return errMasterKeyMissing
	}
	sealed, err := jose.Seal(*s.tok.MasterKey, []byte(secret), secretAD(keyID))
	if err != nil {
		return err
	}
	return tx.PutSealedSecret(keyID, sealed)
}

// RevealKey returns the current secret of a key of a recoverable app. It
// needs the keys.reveal scope (not implied by keys.write) and is audited
// (the audit entry never holds the secret).
func (s *Service) RevealKey(ctx context.Context, a Actor, id string) (*CreatedKey, error) {
	k, err := s.store.GetKey(ctx, id)
	if errors.Is(err, auth.ErrNotFound) {
		return nil, notFound("key")
	} else if err != nil {
		return nil, err
	}
	if err := a.requireKeyAccess(auth.ScopeKeysReveal, k.AppID); err != nil {
		return nil, err
	}
	ts, err := s.store.TokenSettings(ctx, k.AppID)
	if err != nil {
		return nil, err
	}
	if !ts.Recoverable {
		return nil, auth.Errorf(auth.ErrForbidden, "not_recoverable", "the key's app did not opt into recoverable keys")
	}
	if s.tok.MasterKey == nil {
		return nil, errMasterKeyMissing
	}
	sealed, err := s.store.SealedSecret(ctx, id)
	if errors.Is(err, auth.ErrNotFound) {
		return nil, auth.Errorf(auth.ErrNotFound, "secret_not_recoverable", "this key's secret was not stored recoverable (created or rolled before the app opted in)")
	} else if err != nil {
		return nil, err
	}
	secret, err := jose.Open(*s.tok.MasterKey, sealed, secretAD(id))
	if err != nil {
		return nil, auth.Errorf(auth.ErrUnavailable, "master_key_mismatch", "the master key does not open this key's secret")
	}
	err = s.store.Tx(ctx, func(tx auth.Tx) error {
		return s.audit(tx, a, "key.reveal", "key", id, nil, map[string]any{"start": k.Start})
	})
	if err != nil {
		return nil, err
	}
	return &CreatedKey{Key: k, Secret: string(secret)}, nil
}

func (s *Service) createApp(ctx context.Context, a Actor, name, prefix string, ts *auth.TokenSettings, idem *Idempotency) (*AppWithTokens, error) {
	if err := a.require(auth.ScopeAppsWrite, ""); err != nil {
		return nil, err
	}
	if err := validText("name", name, 200, true); err != nil {
		return nil, err
	}
	if !keyfmt.ValidPrefix(prefix) {
		return nil, invalid("invalid_key_prefix", "key_prefix must be 1-20 characters of a-z, 0-9 and _, start with a letter and not end with _")
	}
	return idempotent(ctx, s, idem, func(tx auth.Tx) (*AppWithTokens, error) {
		now := s.clock()
		app := &auth.App{ID: auth.NewID("app", now), Name: name, KeyPrefix: prefix, CreatedAt: now, UpdatedAt: now}
		if err := tx.InsertApp(app); err != nil {
			return nil, err
		}
		nts := *ts
		nts.AppID = app.ID
		if err := tx.PutTokenSettings(&nts); err != nil {
			return nil, err
		}
		after := map[string]any{"app": wire.App(app), "tokens": tokenSettingsView(&nts)}
		return &AppWithTokens{App: app, Tokens: &nts}, s.audit(tx, a, "app.create", "app", app.ID, nil, after)
	})
}
