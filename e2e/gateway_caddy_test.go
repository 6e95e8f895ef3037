package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/typeauth/typeauth/client"
)

// startCaddy runs Caddy as this test's own process with the shipped recipe
// (docs/gateways/caddy.md), admin endpoint off.
func startCaddy(t *testing.T, typeauthAddr, backendAddr string) string {
	t.Helper()
	bin := needTool(t, "caddy")
	dir := t.TempDir()
	listen := freePort(t)
	site := substitute(t, recipe(t, "caddy.md"),
		":80 {", "http://"+listen+" {",
		"forward_auth 127.0.0.1:8080 {", "forward_auth "+typeauthAddr+" {",
		"reverse_proxy 127.0.0.1:3000", "reverse_proxy "+backendAddr)
	conf := "{\n\tadmin off\n\tauto_https off\n}\n\n" + site
	path := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	check := exec.Command(bin, "validate", "--config", path, "--adapter", "caddyfile")
	check.Env = env
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("caddy rejects the recipe: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "run", "--config", path, "--adapter", "caddyfile")
	cmd.Env = env
	runGateway(t, cmd, listen)
	return "http://" + listen
}

func TestGatewayCaddy(t *testing.T) {
	needTool(t, "caddy")
	p := start(t, serveOpts{args: []string{"--trusted-proxies", "127.0.0.1"}})
	app := createApp(t, p, "Shop", "shop")
	k := createKey(t, p, client.CreateKeyRequest{AppID: app.ID, OwnerID: "user_7"})
	daily := createKey(t, p, client.CreateKeyRequest{AppID: app.ID, Credits: &client.Credits{Remaining: 1, Refill: &client.Refill{Amount: 1, Interval: "daily"}}})
	limited := createKey(t, p, client.CreateKeyRequest{AppID: app.ID, RateLimits: []client.RateLimit{{Name: "requests", Limit: 1, DurationMs: 60_000}}})
	be := newBackend(t)
	gw := startCaddy(t, hostPort(p.Data), hostPort(be.URL))

	t.Run("valid key: identity at the backend, no credential, no forged header", func(t *testing.T) {
		st, _, body := get(t, gw+"/orders/42", "Authorization", "Bearer "+k.Secret,
			"X-TypeAuth-Owner-Id", "admin", "X-TypeAuth-Role", "root")
		must(t, st == 200 && body == "backend ok\n", "status %d body %q", st, body)
		r := be.last(t)
		must(t, r.Header.Get("X-TypeAuth-Key-Id") == k.ID && r.Header.Get("X-TypeAuth-App-Id") == app.ID, "identity headers %v", r.Header)
		must(t, r.Header.Get("X-TypeAuth-Owner-Id") == "user_7", "owner %q: a forged value reached the backend", r.Header.Values("X-TypeAuth-Owner-Id"))
		must(t, r.Header.Get("X-TypeAuth-Role") == "", "a client X-TypeAuth-* header reached the backend")
		must(t, r.Header.Get("Authorization") == "", "the backend saw the credential")
	})
	t.Run("forged owner without a key never reaches the backend", func(t *testing.T) {
		before := be.count()
		st, _, _ := get(t, gw+"/orders", "X-TypeAuth-Owner-Id", "admin")
		must(t, st == 401 && be.count() == before, "status %d, backend count %d→%d", st, before, be.count())
	})
	for _, tc := range []struct {
		name   string
		hdr    []string
		status int
		code   string
	}{
		{"missing", nil, 401, "NOT_FOUND"},
		{"malformed", []string{"X-API-Key", "nope"}, 401, "MALFORMED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, h, body := get(t, gw+"/orders", tc.hdr...)
			must(t, st == tc.status && h.Get("X-TypeAuth-Code") == tc.code, "status %d code %q (%s)", st, h.Get("X-TypeAuth-Code"), body)
			must(t, h.Get("WWW-Authenticate") != "", "401 without WWW-Authenticate")
			var pb client.Problem
			must(t, json.Unmarshal([]byte(body), &pb) == nil && pb.Code == tc.code, "problem body %q", body)
		})
	}
	t.Run("usage exceeded: 429 with Retry-After", func(t *testing.T) {
		get(t, gw+"/x", "X-API-Key", daily.Secret)
		st, h, _ := get(t, gw+"/x", "X-API-Key", daily.Secret)
		ra, err := strconv.Atoi(h.Get("Retry-After"))
		must(t, st == 429 && h.Get("X-TypeAuth-Code") == "USAGE_EXCEEDED" && err == nil && ra > 0, "status %d code %q Retry-After %q", st, h.Get("X-TypeAuth-Code"), h.Get("Retry-After"))
	})
	t.Run("rate limited: 429 with Retry-After and RateLimit-*", func(t *testing.T) {
		putRules(t, p, map[string]any{"no_match": "any_key", "rules": []map[string]any{
			{"name": "limited", "paths": []string{"/limited/**"}, "ratelimits": []map[string]any{{"name": "requests"}}, "credits": 0},
		}})
		st, _, body := get(t, gw+"/limited/a", "X-API-Key", limited.Secret)
		if st == 503 {
			t.Skip("RATE_LIMITED: rate limits are not enforced by this build yet; enable when verify wires them")
		}
		must(t, st == 200, "first: %d %s", st, body)
		st, h, _ := get(t, gw+"/limited/a", "X-API-Key", limited.Secret)
		ra, err := strconv.Atoi(h.Get("Retry-After"))
		must(t, st == 429 && h.Get("X-TypeAuth-Code") == "RATE_LIMITED" && err == nil && ra > 0, "status %d code %q Retry-After %q", st, h.Get("X-TypeAuth-Code"), h.Get("Retry-After"))
		must(t, h.Get("RateLimit-Remaining") == "0", "RateLimit-Remaining %q", h.Get("RateLimit-Remaining"))
	})
	t.Run("TypeAuth stopped: the gateway fails closed", func(t *testing.T) {
		p.stop()
		before := be.count()
		st, _, _ := get(t, gw+"/orders", "Authorization", "Bearer "+k.Secret)
		must(t, st >= 500 && be.count() == before, "status %d, backend reached: %v", st, be.count() != before)
	})
}
