package e2e

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// offlineBackend verifies TypeAuth's tokens the way a backend would, from
// the JWKS alone, with the standard library only (no internal/jose): a
// second, independent implementation of the checks that matter.
type offlineBackend struct {
	issuer string
	keys   map[string]ed25519.PublicKey
}

func fetchJWKS(t *testing.T, data string) (*offlineBackend, http.Header) {
	t.Helper()
	resp, err := http.Get(data + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct{ Kty, Crv, X, Kid, Alg, Use string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	b := &offlineBackend{issuer: data, keys: map[string]ed25519.PublicKey{}}
	for _, k := range set.Keys {
		if k.Kty != "OKP" || k.Crv != "Ed25519" || k.Alg != "EdDSA" || k.Use != "sig" {
			continue
		}
		x, err := base64.RawURLEncoding.DecodeString(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			t.Fatalf("bad JWK x for %s", k.Kid)
		}
		b.keys[k.Kid] = ed25519.PublicKey(x)
	}
	return b, resp.Header
}

// verify checks header, signature, iss, exp and typ; it returns the claims.
func (b *offlineBackend) verify(tok string, now time.Time) (map[string]any, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a compact JWS")
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return nil, err
	}
	var hdr struct{ Alg, Kid, Typ string }
	if err := json.Unmarshal(hb, &hdr); err != nil {
		return nil, err
	}
	if hdr.Alg != "EdDSA" || hdr.Typ != "at+jwt" {
		return nil, fmt.Errorf("header %+v", hdr)
	}
	pub, ok := b.keys[hdr.Kid]
	if !ok {
		return nil, fmt.Errorf("unknown kid %s", hdr.Kid)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, err
	}
	if !ed25519.Verify(pub, []byte(parts[0]+"."+parts[1]), sig) {
		return nil, errors.New("bad signature")
	}
	pb, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, err
	}
	var claims map[string]any
	if err := json.Unmarshal(pb, &claims); err != nil {
		return nil, err
	}
	if claims["iss"] != b.issuer {
		return nil, fmt.Errorf("iss %v", claims["iss"])
	}
	exp, _ := claims["exp"].(float64)
	if float64(now.Unix()) >= exp {
		return nil, errors.New("expired")
	}
	return claims, nil
}

func kidOf(t *testing.T, tok string) string {
	t.Helper()
	hb, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	var hdr struct{ Kid string }
	json.Unmarshal(hb, &hdr)
	return hdr.Kid
}

type tokenAnswer struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Code        string `json:"code"`
}

func exchange(t *testing.T, p *proc, key string, body any) (int, tokenAnswer) {
	t.Helper()
	var out tokenAnswer
	st, _ := call(t, "POST", p.Data+"/v1/tokens", key, body, &out)
	return st, out
}

type verifyAnswer struct {
	Valid       bool     `json:"valid"`
	Code        string   `json:"code"`
	KeyID       string   `json:"key_id"`
	OwnerID     string   `json:"owner_id"`
	Permissions []string `json:"permissions"`
	Token       *struct {
		Issuer, Subject string
		ClientID        string `json:"client_id"`
	} `json:"token"`
}

func verifyTok(t *testing.T, p *proc, tok, perms string) (int, verifyAnswer) {
	t.Helper()
	var out verifyAnswer
	st, _ := call(t, "POST", p.Data+"/v1/verify", "", map[string]any{"token": tok, "permissions": perms}, &out)
	return st, out
}

func TestTokensExchangeRotateRevoke(t *testing.T) {
	dir := t.TempDir()
	p := start(t, serveOpts{dataDir: dir, args: []string{"--dev-master-key", "--signing-key-publish-delay", "1s", "--token-max-ttl", "4s",
		"--token-leeway", "1s", "--token-refresh", "100ms", "--jwks-max-age", "1s"}})
	if !strings.Contains(p.stderr.String(), "DEVELOPMENT MASTER KEY") {
		t.Error("no loud warning for --dev-master-key")
	}
	var app struct {
		ID          string `json:"id"`
		Recoverable bool   `json:"recoverable"`
	}
	if st, _ := call(t, "POST", p.Admin+"/v1/apps", p.RootKey, map[string]any{"name": "A", "key_prefix": "tok", "recoverable": true,
		"token_meta_claims": []string{"plan"}}, &app); st != 201 || !app.Recoverable {
		t.Fatalf("create app: %d %+v", st, app)
	}
	var key struct{ ID, Key string }
	call(t, "POST", p.Admin+"/v1/keys", p.RootKey, map[string]any{"app_id": app.ID, "owner_id": "cust_1",
		"permissions": []string{"docs.read"}, "meta": map[string]any{"plan": "pro", "internal": "x"}}, &key)

	// Exchange, then verify offline against the JWKS alone.
	st, tok := exchange(t, p, key.Key, map[string]any{"ttl_seconds": 60})
	if st != 200 || tok.TokenType != "Bearer" || tok.ExpiresIn != 4 || tok.AccessToken == "" {
		t.Fatalf("exchange: %d %+v", st, tok) // capped at --token-max-ttl
	}
	backend, hdr := fetchJWKS(t, p.Data)
	if cc := hdr.Get("Cache-Control"); !strings.Contains(cc, "max-age=1") {
		t.Errorf("JWKS Cache-Control %q", cc)
	}
	claims, err := backend.verify(tok.AccessToken, time.Now())
	if err != nil {
		t.Fatalf("offline verify: %v", err)
	}
	if claims["sub"] != "cust_1" || claims["client_id"] != key.ID || claims["scope"] != "docs.read" || claims["aud"] != app.ID ||
		claims["jti"] == nil || claims["meta"].(map[string]any)["plan"] != "pro" || claims["meta"].(map[string]any)["internal"] != nil {
		t.Fatalf("claims: %v", claims)
	}
	var disc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	call(t, "GET", p.Data+"/.well-known/openid-configuration", "", nil, &disc)
	if disc.JWKSURI != p.Data+"/.well-known/jwks.json" {
		t.Errorf("discovery: %+v", disc)
	}
	// At TypeAuth too, with a permission query on the scopes.
	if st, v := verifyTok(t, p, tok.AccessToken, "docs.read"); st != 200 || v.Code != "VALID" || v.KeyID != key.ID || v.OwnerID != "cust_1" {
		t.Fatalf("verify: %d %+v", st, v)
	}
	if _, v := verifyTok(t, p, tok.AccessToken, "docs.write"); v.Code != "INSUFFICIENT_PERMISSIONS" {
		t.Fatalf("permission query: %s", v.Code)
	}

	// Rotation: the new key is published first, signs after the delay.
	oldKid := kidOf(t, tok.AccessToken)
	var nk struct{ KID, State string }
	if st, _ := call(t, "POST", p.Admin+"/v1/signing-keys/rotate", p.RootKey, nil, &nk); st != 201 || nk.State != "next" {
		t.Fatalf("rotate: %d %+v", st, nk)
	}
	if b, _ := fetchJWKS(t, p.Data); len(b.keys) != 2 || b.keys[nk.KID] == nil {
		t.Fatalf("the next key is not published: %v", b.keys)
	}
	_, before := exchange(t, p, key.Key, nil)
	if kidOf(t, before.AccessToken) != oldKid {
		t.Fatal("the next key signed before its activation")
	}
	time.Sleep(1200 * time.Millisecond)
	_, after := exchange(t, p, key.Key, nil)
	if kidOf(t, after.AccessToken) != nk.KID {
		t.Fatal("new tokens do not use the new kid")
	}
	backend, _ = fetchJWKS(t, p.Data)
	for _, tk := range []string{before.AccessToken, after.AccessToken} {
		if _, err := backend.verify(tk, time.Now()); err != nil {
			t.Fatalf("offline verify across the rotation: %v", err)
		}
		if _, v := verifyTok(t, p, tk, ""); v.Code != "VALID" {
			t.Fatalf("verify across the rotation: %s", v.Code)
		}
	}

	// jti revocation.
	var rev struct{ JTI string }
	if st, _ := call(t, "POST", p.Admin+"/v1/tokens/revoke", p.RootKey, map[string]any{"token": after.AccessToken}, &rev); st != 200 || rev.JTI == "" {
		t.Fatalf("revoke jti: %d", st)
	}
	if _, v := verifyTok(t, p, after.AccessToken, ""); v.Code != "DISABLED" {
		t.Fatalf("revoked jti: %s", v.Code)
	}

	// Recoverable key reveal.
	var revealed struct{ Key string }
	if st, _ := call(t, "POST", p.Admin+"/v1/keys/"+key.ID+"/reveal", p.RootKey, nil, &revealed); st != 200 || revealed.Key != key.Key {
		t.Fatalf("reveal: %d", st)
	}
	var reader struct{ Key string }
	call(t, "POST", p.Admin+"/v1/rootkeys", p.RootKey, map[string]any{"scopes": []string{"keys.write", "keys.read"}}, &reader)
	if st, _ := call(t, "POST", p.Admin+"/v1/keys/"+key.ID+"/reveal", reader.Key, nil, nil); st != 403 {
		t.Fatalf("reveal with keys.write: %d", st)
	}

	// Revoking the key makes its tokens fail at TypeAuth.
	_, third := exchange(t, p, key.Key, nil)
	if st, _ := call(t, "DELETE", p.Admin+"/v1/keys/"+key.ID, p.RootKey, nil, nil); st != 204 {
		t.Fatalf("revoke key: %d", st)
	}
	if _, v := verifyTok(t, p, third.AccessToken, ""); v.Valid {
		t.Fatalf("token of a revoked key: %s", v.Code)
	}
	if st, ans := exchange(t, p, key.Key, nil); st != 401 || ans.Code != "not_found" {
		t.Fatalf("exchange with a revoked key: %d %+v", st, ans)
	}

	// The old key leaves the JWKS once every token it signed has expired
	// (retired at activation, + token-max-ttl 4s + leeway 1s).
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := fetchJWKS(t, p.Data)
		if b.keys[oldKid] == nil {
			if b.keys[nk.KID] == nil {
				t.Fatal("the new key left the JWKS")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the old key never left the JWKS")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if _, err := backend.verify(before.AccessToken, time.Now()); err == nil {
		t.Fatal("an old token still verifies after it expired")
	}
	// The master key is never logged.
	mk, err := os.ReadFile(filepath.Join(dir, "master.key"))
	if err != nil || len(strings.TrimSpace(string(mk))) != 44 {
		t.Fatalf("master.key: %v", err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "master.key")); fi.Mode().Perm() != 0o600 {
		t.Errorf("master.key mode %v", fi.Mode().Perm())
	}
	if strings.Contains(p.stderr.String()+p.stdout.String(), strings.TrimSpace(string(mk))) {
		t.Fatal("the master key appears in the output")
	}
}

func TestTokensRFC8693AndOnBehalf(t *testing.T) {
	p := start(t, serveOpts{args: []string{"--dev-master-key"}})
	var app struct{ ID string }
	call(t, "POST", p.Admin+"/v1/apps", p.RootKey, map[string]any{"name": "A", "key_prefix": "rfc", "token_audiences": []string{"https://api.example"}}, &app)
	var key struct{ ID, Key string }
	call(t, "POST", p.Admin+"/v1/keys", p.RootKey, map[string]any{"app_id": app.ID}, &key)

	form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:token-exchange"}, "subject_token": {key.Key},
		"subject_token_type": {"urn:typeauth:params:oauth:token-type:api_key"}, "audience": {"https://api.example"}}
	resp, err := http.Post(p.Data+"/v1/tokens", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var out struct {
		AccessToken     string `json:"access_token"`
		IssuedTokenType string `json:"issued_token_type"`
	}
	json.Unmarshal(b, &out)
	if resp.StatusCode != 200 || out.IssuedTokenType != "urn:ietf:params:oauth:token-type:access_token" {
		t.Fatalf("RFC 8693: %d %s", resp.StatusCode, b)
	}
	backend, _ := fetchJWKS(t, p.Data)
	if c, err := backend.verify(out.AccessToken, time.Now()); err != nil || c["aud"] != "https://api.example" {
		t.Fatalf("offline: %v %v", err, c)
	}
	form.Set("subject_token", "rfc_bogus")
	resp, _ = http.Post(p.Data+"/v1/tokens", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(b), "invalid_grant") {
		t.Fatalf("bad subject token: %d %s", resp.StatusCode, b)
	}

	// Forward-auth accepts TypeAuth's own tokens as bearer credentials.
	_, h, body := callRaw(t, "GET", p.Data+"/v1/authorize", out.AccessToken, nil)
	if h.Get("X-TypeAuth-Key-Id") != key.ID || len(body) != 0 {
		t.Fatalf("authorize with a token: %v %s", h, body)
	}

	// A verify-scoped root key exchanges on behalf of a key id.
	var gw struct{ Key string }
	call(t, "POST", p.Admin+"/v1/rootkeys", p.RootKey, map[string]any{"scopes": []string{"verify"}}, &gw)
	if st, tok := exchange(t, p, gw.Key, map[string]any{"key_id": key.ID}); st != 200 || tok.AccessToken == "" {
		t.Fatalf("on behalf: %d %+v", st, tok)
	}
	var other struct{ Key string }
	call(t, "POST", p.Admin+"/v1/rootkeys", p.RootKey, map[string]any{"scopes": []string{"keys.read"}}, &other)
	if st, _ := exchange(t, p, other.Key, map[string]any{"key_id": key.ID}); st != 403 {
		t.Fatalf("on behalf without verify: %d", st)
	}
	if st, _ := exchange(t, p, key.Key, map[string]any{"audience": "https://evil.example"}); st != 400 {
		t.Fatalf("audience outside the list: %d", st)
	}
}

func TestTokensWithoutMasterKey(t *testing.T) {
	p := start(t, serveOpts{})
	if !strings.Contains(p.stderr.String(), "no master key") {
		t.Error("start-up does not say that token issuing is off")
	}
	var app struct{ ID string }
	call(t, "POST", p.Admin+"/v1/apps", p.RootKey, map[string]any{"name": "A", "key_prefix": "nomk"}, &app)
	var key struct{ Key string }
	call(t, "POST", p.Admin+"/v1/keys", p.RootKey, map[string]any{"app_id": app.ID}, &key)
	var prob struct{ Code, Detail string }
	st, _ := call(t, "POST", p.Data+"/v1/tokens", key.Key, nil, &prob)
	if st != 503 || prob.Code != "master_key_missing" || !strings.Contains(prob.Detail, "TYPEAUTH_MASTER_KEY") {
		t.Fatalf("exchange without a master key: %d %+v", st, prob)
	}
	if st, _ := call(t, "POST", p.Admin+"/v1/apps", p.RootKey, map[string]any{"name": "B", "key_prefix": "nomk2", "recoverable": true}, &prob); st != 400 || prob.Code != "master_key_missing" {
		t.Fatalf("recoverable app without a master key: %d %+v", st, prob)
	}
}
