package verify_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/typeauth/typeauth/internal/auth"
	"github.com/typeauth/typeauth/internal/jose"
	"github.com/typeauth/typeauth/internal/manage"
	"github.com/typeauth/typeauth/internal/store/sqlite"
	"github.com/typeauth/typeauth/internal/verify"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

const issuer = "https://typeauth.test"

type tenv struct {
	t     *testing.T
	ctx   context.Context
	st    *sqlite.Store
	v     *verify.Verifier
	m     *manage.Service
	clock *clock
	root  manage.Actor
	app   *auth.App
}

func newTokenEnv(t *testing.T, master bool) *tenv {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.OpenDir(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	c := &clock{now: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	v := verify.New(st, verify.Options{Now: c.Now})
	m := manage.New(st, v, c.Now, nil)
	var mk *[32]byte
	if master {
		mk = &[32]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	}
	m.EnableTokens(manage.TokenOptions{MasterKey: mk, Hooks: v, PublishDelay: 10 * time.Minute, MaxTTL: 2 * time.Hour, Leeway: 30 * time.Second, AllowHTTP: true})
	if err := v.EnableTokens(ctx, verify.TokenOptions{Store: st, Issuer: issuer, MasterKey: mk, MaxTTL: 2 * time.Hour,
		AllowHTTP: true, IssuerMinRefetch: 10 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.StopTokens)
	if _, err := m.EnsureSigningKey(ctx); err != nil {
		t.Fatal(err)
	}
	created, err := m.Bootstrap(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	e := &tenv{t: t, ctx: ctx, st: st, v: v, m: m, clock: c, root: manage.Actor{RootKey: created.RootKey}}
	e.app, err = m.CreateApp(ctx, e.root, "A", "acme", nil)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *tenv) key(edit func(k *auth.Key)) *manage.CreatedKey {
	e.t.Helper()
	k := &auth.Key{AppID: e.app.ID, OwnerID: "user_1", Enabled: true, Permissions: []string{"docs.read", "docs.write"}}
	if edit != nil {
		edit(k)
	}
	ck, err := e.m.CreateKey(e.ctx, e.root, k, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return ck
}

func (e *tenv) mint(secret string, ttl time.Duration) verify.MintResult {
	e.t.Helper()
	res, err := e.v.Mint(e.ctx, &verify.MintRequest{Key: secret, TTL: ttl})
	if err != nil {
		e.t.Fatal(err)
	}
	if res.Token == "" {
		e.t.Fatalf("no token: %s %s", res.Decision.Code, res.Decision.Reason)
	}
	return res
}

func (e *tenv) verifyToken(tok string, perms string) verify.Decision {
	e.t.Helper()
	d, err := e.v.Verify(e.ctx, &verify.Request{Token: tok, Permissions: perms})
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

func claimsOf(t *testing.T, tok string) map[string]any {
	t.Helper()
	pt, err := jose.ParseUnverified(tok)
	if err != nil {
		t.Fatal(err)
	}
	return pt.Claims.Raw
}

func TestMintAndVerifyOwnToken(t *testing.T) {
	e := newTokenEnv(t, true)
	ck := e.key(func(k *auth.Key) { k.Meta = json.RawMessage(`{"plan":"pro"}`) })
	res := e.mint(ck.Secret, 0)
	if res.ExpiresIn != time.Hour {
		t.Errorf("ExpiresIn = %v, want the app default 1h", res.ExpiresIn)
	}
	c := claimsOf(t, res.Token)
	for name, want := range map[string]string{"iss": issuer, "sub": "user_1", "aud": e.app.ID, "client_id": ck.Key.ID,
		"scope": "docs.read docs.write", "app_id": e.app.ID} {
		if c[name] != want {
			t.Errorf("claim %s = %v, want %v", name, c[name], want)
		}
	}
	if _, ok := c["meta"]; ok {
		t.Error("meta copied without token_meta_claims")
	}
	d := e.verifyToken(res.Token, "docs.read AND docs.write")
	if d.Code != auth.CodeValid || d.Token == nil || d.Token.ClientID != ck.Key.ID || d.Token.Subject != "user_1" {
		t.Fatalf("verify: %+v", d)
	}
	// A token passed as a key (a gateway's bearer credential) verifies too.
	if d, _ := e.v.Verify(e.ctx, &verify.Request{Key: res.Token}); d.Code != auth.CodeValid {
		t.Fatalf("as key: %s", d.Code)
	}
	if d := e.verifyToken(res.Token, "admin"); d.Code != auth.CodeInsufficientPermissions {
		t.Fatalf("permission query on scopes: %s", d.Code)
	}
	if d, _ := e.v.Verify(e.ctx, &verify.Request{Token: res.Token, AppID: "app_other"}); d.Code != auth.CodeForbidden {
		t.Fatalf("other app: %s", d.Code)
	}
	// Tampering breaks the signature; a garbage token is malformed.
	parts := strings.Split(res.Token, ".")
	forged := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))
	if d := e.verifyToken(forged, ""); d.Code != auth.CodeInvalidSignature {
		t.Fatalf("forged: %s", d.Code)
	}
	if d := e.verifyToken("a.b.c", ""); d.Code != auth.CodeMalformed {
		t.Fatalf("garbage: %s", d.Code)
	}
	// Expiry, with the leeway.
	e.clock.Add(time.Hour + 29*time.Second)
	if d := e.verifyToken(res.Token, ""); d.Code != auth.CodeValid {
		t.Fatalf("within leeway: %s", d.Code)
	}
	e.clock.Add(2 * time.Second)
	if d := e.verifyToken(res.Token, ""); d.Code != auth.CodeExpired {
		t.Fatalf("after exp: %s", d.Code)
	}
}

func TestMintTTLAndAudience(t *testing.T) {
	e := newTokenEnv(t, true)
	exp := e.clock.Now().Add(20 * time.Minute)
	ck := e.key(func(k *auth.Key) { k.ExpiresAt = &exp; k.OwnerID = "" })
	if res := e.mint(ck.Secret, 5*time.Minute); res.ExpiresIn != 5*time.Minute {
		t.Errorf("requested 5m: %v", res.ExpiresIn)
	}
	res := e.mint(ck.Secret, 0)
	if res.ExpiresIn != 20*time.Minute {
		t.Errorf("capped by the key's expiry: %v", res.ExpiresIn)
	}
	if c := claimsOf(t, res.Token); c["sub"] != ck.Key.ID {
		t.Errorf("sub without owner = %v, want the key id", c["sub"])
	}
	ttl := 10 * time.Minute
	auds := []string{"https://api.example.com"}
	meta := []string{"plan"}
	if _, err := e.m.UpdateAppTokens(e.ctx, e.root, e.app.ID, &manage.AppTokenPatch{MaxTTL: &ttl, Audiences: &auds, MetaClaims: &meta}); err != nil {
		t.Fatal(err)
	}
	ck2 := e.key(func(k *auth.Key) { k.Meta = json.RawMessage(`{"plan":"pro","secret":"x"}`) })
	if res := e.mint(ck2.Secret, time.Hour); res.ExpiresIn != 10*time.Minute {
		t.Errorf("capped by the app: %v", res.ExpiresIn)
	}
	res, err := e.v.Mint(e.ctx, &verify.MintRequest{Key: ck2.Secret, Audience: "https://api.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	c := claimsOf(t, res.Token)
	if c["aud"] != "https://api.example.com" || c["meta"].(map[string]any)["plan"] != "pro" || c["meta"].(map[string]any)["secret"] != nil {
		t.Errorf("claims: %v", c)
	}
	if _, err := e.v.Mint(e.ctx, &verify.MintRequest{Key: ck2.Secret, Audience: "https://evil.example.com"}); err == nil {
		t.Error("an audience outside the list was accepted")
	}
}

func TestMintRefusesBadKeys(t *testing.T) {
	e := newTokenEnv(t, true)
	ck := e.key(func(k *auth.Key) { k.Credits = &auth.Credits{Remaining: 1} })
	e.mint(ck.Secret, 0)
	res, err := e.v.Mint(e.ctx, &verify.MintRequest{Key: ck.Secret})
	if err != nil || res.Token != "" || res.Decision.Code != auth.CodeUsageExceeded {
		t.Fatalf("credits: %v %s", err, res.Decision.Code)
	}
	res, _ = e.v.Mint(e.ctx, &verify.MintRequest{Key: "acme_nope"})
	if res.Token != "" || res.Decision.Valid() {
		t.Fatalf("unknown key minted")
	}
	// On behalf, by key id.
	ck2 := e.key(nil)
	res, err = e.v.Mint(e.ctx, &verify.MintRequest{KeyID: ck2.Key.ID})
	if err != nil || res.Token == "" {
		t.Fatalf("by id: %v %s", err, res.Decision.Code)
	}
	res, _ = e.v.Mint(e.ctx, &verify.MintRequest{KeyID: "key_nope"})
	if res.Decision.Code != auth.CodeNotFound {
		t.Fatalf("unknown id: %s", res.Decision.Code)
	}
}

func TestMintWithoutMasterKey(t *testing.T) {
	e := newTokenEnv(t, false)
	ck := e.key(nil)
	_, err := e.v.Mint(e.ctx, &verify.MintRequest{Key: ck.Secret})
	var ae *auth.Error
	if !asAuthError(err, &ae) || ae.Code != "master_key_missing" || !strings.Contains(ae.Message, "TYPEAUTH_MASTER_KEY") {
		t.Fatalf("err = %v", err)
	}
	if _, err := e.m.RotateSigningKey(e.ctx, e.root, "", false); err == nil {
		t.Fatal("rotation without a master key")
	}
	rec := true
	if _, err := e.m.UpdateAppTokens(e.ctx, e.root, e.app.ID, &manage.AppTokenPatch{Recoverable: &rec}); err == nil {
		t.Fatal("recoverable without a master key")
	}
}

func asAuthError(err error, ae **auth.Error) bool {
	e, ok := err.(*auth.Error)
	*ae = e
	return ok
}

func TestRevokedAndDisabledKeysFailTheirTokens(t *testing.T) {
	e := newTokenEnv(t, true)
	ck := e.key(nil)
	tok := e.mint(ck.Secret, 0).Token
	if d := e.verifyToken(tok, ""); d.Code != auth.CodeValid {
		t.Fatal(d.Code)
	}
	if _, err := e.m.UpdateKey(e.ctx, e.root, ck.Key.ID, func(k *auth.Key) error { k.Enabled = false; return nil }); err != nil {
		t.Fatal(err)
	}
	if d := e.verifyToken(tok, ""); d.Code != auth.CodeDisabled {
		t.Fatalf("disabled key: %s", d.Code)
	}
	if _, err := e.m.UpdateKey(e.ctx, e.root, ck.Key.ID, func(k *auth.Key) error { k.Enabled = true; return nil }); err != nil {
		t.Fatal(err)
	}
	if d := e.verifyToken(tok, ""); d.Code != auth.CodeValid {
		t.Fatalf("re-enabled: %s", d.Code)
	}
	if err := e.m.RevokeKey(e.ctx, e.root, ck.Key.ID); err != nil {
		t.Fatal(err)
	}
	if d := e.verifyToken(tok, ""); d.Code != auth.CodeNotFound {
		t.Fatalf("revoked key: %s", d.Code)
	}
}

func TestJTIRevocation(t *testing.T) {
	e := newTokenEnv(t, true)
	ck := e.key(nil)
	a, b := e.mint(ck.Secret, 0), e.mint(ck.Secret, 0)
	exp := a.ExpiresAt
	if _, err := e.m.RevokeToken(e.ctx, e.root, a.JTI, &exp); err != nil {
		t.Fatal(err)
	}
	if d := e.verifyToken(a.Token, ""); d.Code != auth.CodeDisabled {
		t.Fatalf("revoked jti: %s", d.Code)
	}
	if d := e.verifyToken(b.Token, ""); d.Code != auth.CodeValid {
		t.Fatalf("other jti: %s", d.Code)
	}
	// Another replica loads the deny list from the store.
	v2 := verify.New(e.st, verify.Options{Now: e.clock.Now})
	if err := v2.EnableTokens(e.ctx, verify.TokenOptions{Store: e.st, Issuer: issuer}); err != nil {
		t.Fatal(err)
	}
	defer v2.StopTokens()
	if d, _ := v2.Verify(e.ctx, &verify.Request{Token: a.Token}); d.Code != auth.CodeDisabled {
		t.Fatalf("replica: %s", d.Code)
	}
	if d, _ := v2.Verify(e.ctx, &verify.Request{Token: b.Token}); d.Code != auth.CodeValid {
		t.Fatalf("replica, other jti: %s", d.Code)
	}
}

func kidOf(t *testing.T, tok string) string {
	t.Helper()
	pt, err := jose.ParseUnverified(tok)
	if err != nil {
		t.Fatal(err)
	}
	return pt.Header.KID
}

func jwksKids(t *testing.T, v *verify.Verifier) []string {
	t.Helper()
	set, err := jose.ParseJWKS(v.JWKS())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range set.Keys() {
		out = append(out, k.KID())
	}
	return out
}

func TestRotation(t *testing.T) {
	e := newTokenEnv(t, true)
	ck := e.key(nil)
	old := e.mint(ck.Secret, 0)
	oldKid := kidOf(t, old.Token)
	nk, err := e.m.RotateSigningKey(e.ctx, e.root, "ES256", false)
	if err != nil {
		t.Fatal(err)
	}
	if nk.Phase(e.clock.Now()) != auth.PhaseNext {
		t.Fatalf("new key phase %s, want next", nk.Phase(e.clock.Now()))
	}
	// Published before it signs.
	if kids := jwksKids(t, e.v); len(kids) != 2 {
		t.Fatalf("JWKS after rotation: %v", kids)
	}
	if k := kidOf(t, e.mint(ck.Secret, 0).Token); k != oldKid {
		t.Fatalf("a next key signed: %s", k)
	}
	e.clock.Add(10 * time.Minute)
	fresh := e.mint(ck.Secret, 0)
	if kidOf(t, fresh.Token) != nk.KID {
		t.Fatalf("new tokens not signed by the new key")
	}
	if !strings.Contains(fresh.Token, ".") || claimsOf(t, fresh.Token)["iss"] != issuer {
		t.Fatal("bad token")
	}
	if d := e.verifyToken(old.Token, ""); d.Code != auth.CodeValid {
		t.Fatalf("old token after rotation: %s", d.Code)
	}
	// The old key stays published until MaxTTL + leeway after it retired.
	e.clock.Add(2*time.Hour + 29*time.Second)
	if err := e.v.ReloadSigningKeys(e.ctx); err != nil {
		t.Fatal(err)
	}
	if kids := jwksKids(t, e.v); len(kids) != 2 {
		t.Fatalf("old key left too early: %v", kids)
	}
	e.clock.Add(2 * time.Second)
	if _, err := e.m.RotateIfDue(e.ctx, 0); err != nil { // purges expired keys
		t.Fatal(err)
	}
	if kids := jwksKids(t, e.v); len(kids) != 1 || kids[0] != nk.KID {
		t.Fatalf("JWKS after the old key expired: %v", kids)
	}
	keys, _ := e.st.SigningKeys(e.ctx)
	if len(keys) != 1 {
		t.Fatalf("expired key not deleted: %d keys", len(keys))
	}
	// Scheduled rotation: due after `every`.
	if k, err := e.m.RotateIfDue(e.ctx, 24*time.Hour); err != nil || k != nil {
		t.Fatalf("rotated too early: %v %v", k, err)
	}
	e.clock.Add(24 * time.Hour)
	k, err := e.m.RotateIfDue(e.ctx, 24*time.Hour)
	if err != nil || k == nil {
		t.Fatalf("scheduled rotation: %v %v", k, err)
	}
	if k2, _ := e.m.RotateIfDue(e.ctx, 24*time.Hour); k2 != nil {
		t.Fatal("rotated twice")
	}
}

func TestImmediateRotation(t *testing.T) {
	e := newTokenEnv(t, true)
	ck := e.key(nil)
	old := e.mint(ck.Secret, 0)
	nk, err := e.m.RotateSigningKey(e.ctx, e.root, "RS256", true)
	if err != nil {
		t.Fatal(err)
	}
	if k := kidOf(t, e.mint(ck.Secret, 0).Token); k != nk.KID {
		t.Fatalf("immediate rotation: signed by %s", k)
	}
	if d := e.verifyToken(old.Token, ""); d.Code != auth.CodeValid {
		t.Fatalf("old token: %s", d.Code)
	}
}

func TestRecoverableKeys(t *testing.T) {
	e := newTokenEnv(t, true)
	ck := e.key(nil)
	if _, err := e.m.RevealKey(e.ctx, e.root, ck.Key.ID); err == nil {
		t.Fatal("revealed a key of a non-recoverable app")
	}
	rec := true
	if _, err := e.m.UpdateAppTokens(e.ctx, e.root, e.app.ID, &manage.AppTokenPatch{Recoverable: &rec}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.RevealKey(e.ctx, e.root, ck.Key.ID); err == nil {
		t.Fatal("revealed a key created before the opt-in")
	}
	ck2 := e.key(nil)
	got, err := e.m.RevealKey(e.ctx, e.root, ck2.Key.ID)
	if err != nil || got.Secret != ck2.Secret {
		t.Fatalf("reveal: %v", err)
	}
	rolled, err := e.m.RollKey(e.ctx, e.root, ck2.Key.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := e.m.RevealKey(e.ctx, e.root, ck2.Key.ID); got.Secret != rolled.Secret {
		t.Fatal("reveal after roll does not give the new secret")
	}
	// keys.write does not imply keys.reveal.
	writer := manage.Actor{RootKey: &auth.RootKey{ID: "rk_w", Scopes: []string{"keys.write"}}}
	if _, err := e.m.RevealKey(e.ctx, writer, ck2.Key.ID); err == nil {
		t.Fatal("keys.write revealed a secret")
	}
	es, _, _ := e.st.ListAudit(e.ctx, auth.Page{Limit: 5})
	if es[0].Action != "key.reveal" || strings.Contains(string(es[0].After), rolled.Secret) {
		t.Fatalf("audit: %s %s", es[0].Action, es[0].After)
	}
}

// testIssuer is an OIDC issuer served by httptest: discovery, a JWKS that
// can rotate, and an outage switch.
type testIssuer struct {
	srv   *httptest.Server
	mu    sync.Mutex
	keys  []*jose.SigningKey
	down  atomic.Bool
	jwksN atomic.Int64
}

func newTestIssuer(t *testing.T) *testIssuer {
	ti := &testIssuer{}
	ti.rotate(t)
	ti.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ti.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			json.NewEncoder(w).Encode(map[string]string{"issuer": ti.srv.URL, "jwks_uri": ti.srv.URL + "/jwks"})
		case "/jwks":
			ti.jwksN.Add(1)
			ti.mu.Lock()
			var pubs []*jose.PublicKey
			for _, k := range ti.keys {
				pubs = append(pubs, k.Public())
			}
			ti.mu.Unlock()
			set, _ := jose.NewKeySet(pubs...)
			json.NewEncoder(w).Encode(set)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(ti.srv.Close)
	return ti
}

// rotate replaces the issuer's keys with one new key.
func (ti *testIssuer) rotate(t *testing.T) *jose.SigningKey {
	_, priv, _ := ed25519.GenerateKey(nil)
	k, err := jose.NewSigningKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	ti.mu.Lock()
	ti.keys = []*jose.SigningKey{k}
	ti.mu.Unlock()
	return k
}

func (ti *testIssuer) token(t *testing.T, k *jose.SigningKey, claims map[string]any) string {
	c := map[string]any{"iss": ti.srv.URL, "sub": "ext_1", "aud": "api", "exp": time.Date(2026, 5, 1, 13, 0, 0, 0, time.UTC).Unix(),
		"permissions": []any{"docs.read"}, "jti": "ext-jti-1"}
	for n, v := range claims {
		c[n] = v
	}
	tok, err := jose.Sign(c, k)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestThirdPartyIssuer(t *testing.T) {
	e := newTokenEnv(t, true)
	ti := newTestIssuer(t)
	k1 := ti.keys[0]
	is, err := e.m.CreateIssuer(e.ctx, e.root, &auth.Issuer{Name: "idp", Issuer: ti.srv.URL, DiscoveryURL: ti.srv.URL + "/.well-known/openid-configuration",
		Algorithms: []string{"EdDSA"}, Audiences: []string{"api"}, Leeway: 30 * time.Second, PermissionsClaim: "permissions"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok1 := ti.token(t, k1, nil)
	d := e.verifyToken(tok1, "docs.read")
	if d.Code != auth.CodeValid || d.Token.Subject != "ext_1" || d.Token.IssuerID != is.ID || len(d.Permissions) != 1 {
		t.Fatalf("third-party token: %+v", d)
	}
	if d, _ := e.v.Verify(e.ctx, &verify.Request{Key: tok1}); d.Code != auth.CodeInvalidClaims || d.Key != nil {
		t.Fatalf("third-party token as a key: %s", d.Code)
	}
	if d := e.verifyToken(tok1, "docs.write"); d.Code != auth.CodeInsufficientPermissions {
		t.Fatalf("permissions: %s", d.Code)
	}
	if d := e.verifyToken(ti.token(t, k1, map[string]any{"aud": "other"}), ""); d.Code != auth.CodeInvalidClaims {
		t.Fatalf("wrong audience: %s", d.Code)
	}
	// Unknown issuer.
	other, _ := jose.GenerateSigningKey(jose.EdDSA)
	unknown, _ := jose.Sign(map[string]any{"iss": "https://nobody", "exp": 4102444800}, other)
	if d := e.verifyToken(unknown, ""); d.Code != auth.CodeInvalidClaims {
		t.Fatalf("unknown issuer: %s", d.Code)
	}
	// Outage: the cached keys keep serving.
	ti.down.Store(true)
	if d := e.verifyToken(tok1, ""); d.Code != auth.CodeValid {
		t.Fatalf("during the outage: %s", d.Code)
	}
	ti.down.Store(false)
	// Rotation at the issuer: an unknown kid triggers a refetch; the
	// removed key's tokens then fail.
	e.clock.Add(time.Second) // past IssuerMinRefetch
	k2 := ti.rotate(t)
	if d := e.verifyToken(ti.token(t, k2, nil), ""); d.Code != auth.CodeValid {
		t.Fatalf("after the issuer rotated: %s", d.Code)
	}
	e.clock.Add(time.Second)
	if d := e.verifyToken(tok1, ""); d.Code != auth.CodeInvalidSignature {
		t.Fatalf("removed key: %s", d.Code)
	}
	// jti revocation applies to third-party tokens.
	exp := time.Date(2026, 5, 1, 13, 0, 0, 0, time.UTC)
	if _, err := e.m.RevokeToken(e.ctx, e.root, "ext-jti-1", &exp); err != nil {
		t.Fatal(err)
	}
	if d := e.verifyToken(ti.token(t, k2, nil), ""); d.Code != auth.CodeDisabled {
		t.Fatalf("revoked third-party jti: %s", d.Code)
	}
	// Deleting the issuer stops its tokens.
	if err := e.m.DeleteIssuer(e.ctx, e.root, is.ID); err != nil {
		t.Fatal(err)
	}
	if d := e.verifyToken(ti.token(t, k2, map[string]any{"jti": "x"}), ""); d.Code == auth.CodeValid {
		t.Fatal("token of a deleted issuer passed")
	}
}

func TestIssuerNeverReachedFailsClosed(t *testing.T) {
	e := newTokenEnv(t, true)
	ti := newTestIssuer(t)
	ti.down.Store(true)
	if _, err := e.m.CreateIssuer(e.ctx, e.root, &auth.Issuer{Name: "idp", Issuer: ti.srv.URL, JWKSURL: ti.srv.URL + "/jwks",
		Algorithms: []string{"EdDSA"}}, nil); err != nil {
		t.Fatal(err)
	}
	d, err := e.v.Verify(e.ctx, &verify.Request{Token: ti.token(t, ti.keys[0], nil)})
	if err == nil {
		t.Fatalf("no key ever fetched: decision %s, want an error (503)", d.Code)
	}
	ti.down.Store(false)
	e.clock.Add(time.Second)
	if d := e.verifyToken(ti.token(t, ti.keys[0], nil), ""); d.Code != auth.CodeValid {
		t.Fatalf("after recovery: %s", d.Code)
	}
}

func TestInlineIssuerAndValidation(t *testing.T) {
	e := newTokenEnv(t, true)
	k, _ := jose.GenerateSigningKey(jose.ES256)
	set, _ := jose.NewKeySet(k.Public())
	jwks, _ := json.Marshal(set)
	bad := []*auth.Issuer{
		{Name: "x", Issuer: "https://a", Algorithms: []string{"EdDSA"}},                                        // no key source
		{Name: "x", Issuer: "https://a", JWKSURL: "https://a/j", JWKS: jwks, Algorithms: []string{"ES256"}},    // two
		{Name: "x", Issuer: "https://a", JWKS: jwks, Algorithms: []string{"HS256"}},                            // symmetric
		{Name: "x", Issuer: "https://a", JWKS: jwks, Algorithms: []string{"none"}},                             // none
		{Name: "x", Issuer: "https://a", JWKS: jwks, Algorithms: []string{"ES256"}, Leeway: 301 * time.Second}, // leeway
		{Name: "x", Issuer: "https://a", JWKS: json.RawMessage(`{"keys":[]}`), Algorithms: []string{"ES256"}},  // no usable key
	}
	for i, is := range bad {
		if _, err := e.m.CreateIssuer(e.ctx, e.root, is, nil); err == nil {
			t.Errorf("bad issuer %d accepted", i)
		}
	}
	is, err := e.m.CreateIssuer(e.ctx, e.root, &auth.Issuer{Name: "static", Issuer: "https://static.example", JWKS: jwks,
		Algorithms: []string{"ES256"}, OwnerClaim: "email", Leeway: 30 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if is.OwnerClaim != "email" || is.PermissionsClaim != "scope" {
		t.Fatalf("defaults: %+v", is)
	}
	if _, err := e.m.CreateIssuer(e.ctx, e.root, &auth.Issuer{Name: "dup", Issuer: "https://static.example", JWKS: jwks,
		Algorithms: []string{"ES256"}}, nil); err == nil {
		t.Fatal("duplicate iss accepted")
	}
	tok, _ := jose.Sign(map[string]any{"iss": "https://static.example", "email": "a@example.com", "scope": "a b",
		"exp": e.clock.Now().Add(time.Minute).Unix()}, k)
	d := e.verifyToken(tok, "a AND b")
	if d.Code != auth.CodeValid || d.Token.Subject != "a@example.com" {
		t.Fatalf("inline issuer: %+v", d)
	}
	noOwner, _ := jose.Sign(map[string]any{"iss": "https://static.example", "exp": e.clock.Now().Add(time.Minute).Unix()}, k)
	if d := e.verifyToken(noOwner, ""); d.Code != auth.CodeInvalidClaims {
		t.Fatalf("missing owner claim: %s", d.Code)
	}
	// An own token is still routed to the own keys.
	ck := e.key(nil)
	if d := e.verifyToken(e.mint(ck.Secret, 0).Token, ""); d.Code != auth.CodeValid {
		t.Fatalf("own token with issuers configured: %s", d.Code)
	}
	// An update changes the policy at once.
	if _, err := e.m.UpdateIssuer(e.ctx, e.root, is.ID, func(i *auth.Issuer) { i.Audiences = []string{"must"} }); err != nil {
		t.Fatal(err)
	}
	if d := e.verifyToken(tok, ""); d.Code != auth.CodeInvalidClaims {
		t.Fatalf("after adding an audience: %s", d.Code)
	}
}

func BenchmarkVerifyOwnToken(b *testing.B) {
	for _, alg := range []jose.Alg{jose.EdDSA, jose.ES256} {
		b.Run(string(alg), func(b *testing.B) {
			t := &testing.T{}
			_ = t
			ctx := context.Background()
			st, err := sqlite.OpenDir(ctx, b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			st.Migrate(ctx)
			v := verify.New(st, verify.Options{})
			m := manage.New(st, v, nil, nil)
			mk := &[32]byte{9}
			m.EnableTokens(manage.TokenOptions{MasterKey: mk, Hooks: v, Alg: alg})
			if err := v.EnableTokens(ctx, verify.TokenOptions{Store: st, Issuer: issuer, MasterKey: mk}); err != nil {
				b.Fatal(err)
			}
			defer v.StopTokens()
			m.EnsureSigningKey(ctx)
			app, _ := m.CreateApp(ctx, manage.System, "A", "acme", nil)
			ck, _ := m.CreateKey(ctx, manage.System, &auth.Key{AppID: app.ID, Enabled: true, Permissions: []string{"a"}}, nil)
			res, err := v.Mint(ctx, &verify.MintRequest{Key: ck.Secret})
			if err != nil || res.Token == "" {
				b.Fatal(err)
			}
			req := &verify.Request{Token: res.Token}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if d, _ := v.Verify(ctx, req); d.Code != auth.CodeValid {
						b.Fatal(d.Code)
					}
				}
			})
		})
	}
}
