package e2e

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/typeauth/typeauth/client"
)

func rootKey(t *testing.T, p *proc, scopes ...string) string {
	t.Helper()
	var rk client.CreatedRootKey
	st, _ := call(t, "POST", p.Admin+"/v1/rootkeys", p.RootKey, client.CreateRootKeyRequest{Name: "gw", Scopes: scopes}, &rk)
	must(t, st == 201 && rk.Secret != "", "create root key: %d", st)
	return rk.Secret
}

func form(t *testing.T, url_, auth string, vals url.Values) (int, map[string]any) {
	t.Helper()
	st, _, body := callRaw(t, "POST", url_, "", vals.Encode(), "Content-Type", "application/x-www-form-urlencoded", "Authorization", auth)
	var out map[string]any
	if len(body) > 0 {
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatalf("%s: %q", url_, body)
		}
	}
	return st, out
}

func TestGatewayIntrospectionAndRevocation(t *testing.T) {
	p := start(t, serveOpts{})
	app := createApp(t, p, "A", "intro")
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	k := createKey(t, p, client.CreateKeyRequest{AppID: app.ID, OwnerID: "user_7", Name: "ci", Permissions: []string{"b.read", "a.write"}, ExpiresAt: &exp})
	victim := createKey(t, p, client.CreateKeyRequest{AppID: app.ID})
	verifyRK := rootKey(t, p, "verify")
	keysRK := rootKey(t, p, "keys.read")
	intro := p.Data + "/oauth2/introspect"

	t.Run("caller authentication", func(t *testing.T) {
		for name, auth := range map[string]string{
			"none":            "",
			"api key":         "Bearer " + k.Secret,
			"no verify scope": "Bearer " + keysRK,
			"basic, wrong":    "Basic " + base64.StdEncoding.EncodeToString([]byte("gw:nope")),
		} {
			st, out := form(t, intro, auth, url.Values{"token": {k.Secret}})
			must(t, st == 401 && out["error"] == "invalid_client", "%s: %d %v", name, st, out)
		}
	})
	t.Run("valid key, Bearer and Basic", func(t *testing.T) {
		for _, auth := range []string{"Bearer " + verifyRK, "Basic " + base64.StdEncoding.EncodeToString([]byte("gateway:"+url.QueryEscape(verifyRK)))} {
			st, out := form(t, intro, auth, url.Values{"token": {k.Secret}, "token_type_hint": {"access_token"}})
			must(t, st == 200 && out["active"] == true, "%d %v", st, out)
			must(t, out["sub"] == "user_7" && out["client_id"] == k.ID && out["scope"] == "a.write b.read", "claims %v", out)
			must(t, out["exp"] == float64(exp.Unix()) && out["iat"] != nil && out["app_id"] == app.ID, "times %v", out)
		}
	})
	t.Run("garbage and unknown are inactive, with nothing else", func(t *testing.T) {
		for _, tok := range []string{"garbage", k.Secret[:len(k.Secret)-12] + "AAAAAAAAAAAA", strings.Repeat("x", 5000)} {
			st, out := form(t, intro, "Bearer "+verifyRK, url.Values{"token": {tok}})
			must(t, st == 200 && out["active"] == false && len(out) == 1, "%d %v", st, out)
		}
	})
	t.Run("bad requests", func(t *testing.T) {
		st, out := form(t, intro, "Bearer "+verifyRK, url.Values{})
		must(t, st == 400 && out["error"] == "invalid_request", "no token: %d %v", st, out)
		st, _, _ = callRaw(t, "POST", intro, verifyRK, map[string]string{"token": k.Secret})
		must(t, st == 400, "JSON body: %d", st)
		st, _, _ = callRaw(t, "POST", intro, "", "token="+strings.Repeat("a", 20000), "Content-Type", "application/x-www-form-urlencoded", "Authorization", "Bearer "+verifyRK)
		must(t, st == 413, "oversized form: %d", st)
	})
	t.Run("revoke: own key, audited, evicted at once; always 200", func(t *testing.T) {
		st, _ := form(t, p.Data+"/oauth2/revoke", "", url.Values{"token": {victim.Secret}})
		must(t, st == 200, "revoke: %d", st)
		st, out := form(t, intro, "Bearer "+verifyRK, url.Values{"token": {victim.Secret}})
		must(t, st == 200 && out["active"] == false, "revoked key still active: %v", out)
		st, h, _ := callRaw(t, "GET", p.Data+"/v1/authorize", "", nil, "X-API-Key", victim.Secret)
		must(t, st == 401 && h.Get("X-TypeAuth-Code") == "NOT_FOUND", "revoked key authorizes: %d", st)
		var audit client.List[client.AuditEntry]
		call(t, "GET", p.Admin+"/v1/audit?limit=5", p.RootKey, nil, &audit)
		must(t, len(audit.Data) > 0 && audit.Data[0].Action == "key.delete" && audit.Data[0].ActorID == "self:"+victim.ID, "audit %+v", audit.Data[0])
		for _, tok := range []string{victim.Secret, "garbage"} {
			st, _ = form(t, p.Data+"/oauth2/revoke", "", url.Values{"token": {tok}})
			must(t, st == 200, "revoke again / garbage: %d", st)
		}
		// The other key is untouched.
		_, out = form(t, intro, "Bearer "+verifyRK, url.Values{"token": {k.Secret}})
		must(t, out["active"] == true, "an unrelated key was revoked")
	})
}

func TestGatewayRulesAPIAndFile(t *testing.T) {
	p := start(t, serveOpts{})
	app := createApp(t, p, "A", "rules")
	k := createKey(t, p, client.CreateKeyRequest{AppID: app.ID})

	var rs client.RuleSet
	call(t, "GET", p.Admin+"/v1/rules", p.RootKey, nil, &rs)
	must(t, rs.Version == 0 && rs.Source == "none" && rs.NoMatch == "any_key", "initial rules %+v", rs)

	st, _, body := callRaw(t, "PUT", p.Admin+"/v1/rules", p.RootKey, "{\n  \"rules\": [\n    {\"name\": \"x\", \"pathz\": [\"/a\"]}\n  ]\n}")
	must(t, st == 400 && strings.Contains(string(body), "3:19") && strings.Contains(string(body), "pathz"), "typo: %d %s", st, body)
	st, _, body = callRaw(t, "PUT", p.Admin+"/v1/rules", p.RootKey, `{"rules": [{"name": "x"}, {"name": "y", "paths": ["/a/**/b"]}]}`)
	must(t, st == 400 && strings.Contains(string(body), "rules[1].paths[0]"), "bad pattern: %d %s", st, body)
	st, _, _ = callRaw(t, "PUT", p.Admin+"/v1/rules", rootKey(t, p, "apps.read"), `{"rules": []}`)
	must(t, st == 403, "apps.read may not replace rules: %d", st)

	rs = putRules(t, p, map[string]any{"version": 0, "rules": []map[string]any{{"name": "only", "paths": []string{"/ok"}}}})
	must(t, rs.Version == 1, "version %d", rs.Version)
	st, _, _ = callRaw(t, "PUT", p.Admin+"/v1/rules", p.RootKey, `{"version": 0, "rules": []}`)
	must(t, st == 409, "stale version: %d", st)
	// At once on this node.
	st, _, _ = callRaw(t, "GET", p.Data+"/v1/authorize/ok", "", nil, "X-API-Key", k.Secret)
	must(t, st == 200, "/ok: %d", st)
	st, _, _ = callRaw(t, "GET", p.Data+"/v1/authorize/other", "", nil, "X-API-Key", k.Secret)
	must(t, st == 403, "no match must deny: %d", st)
	var audit client.List[client.AuditEntry]
	call(t, "GET", p.Admin+"/v1/audit?limit=1", p.RootKey, nil, &audit)
	must(t, audit.Data[0].Action == "rules.replace" && audit.Data[0].TargetID == "1", "audit %+v", audit.Data[0])

	t.Run("a second replica picks the change up within a second", func(t *testing.T) {
		url := pgURL(t) // two replicas need a shared store
		a := start(t, serveOpts{databaseURL: url})
		b := start(t, serveOpts{databaseURL: url, rootKey: a.RootKey})
		ap := createApp(t, a, "R", "repl")
		key := createKey(t, a, client.CreateKeyRequest{AppID: ap.ID})
		putRules(t, a, map[string]any{"rules": []map[string]any{{"name": "none"}}})
		putRules(t, a, map[string]any{"rules": []map[string]any{{"name": "only", "paths": []string{"/ok"}}}})
		deadline := time.Now().Add(3 * time.Second)
		for {
			st, _, _ := callRaw(t, "GET", b.Data+"/v1/authorize/other", "", nil, "X-API-Key", key.Secret)
			if st == 403 {
				break
			}
			must(t, time.Now().Before(deadline), "replica b still answers %d after 3s", st)
			time.Sleep(100 * time.Millisecond)
		}
	})

	t.Run("rules file: strict at start-up, hot reload, API refuses", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "rules.json")
		must(t, os.WriteFile(path, []byte("{\"rules\": [\n  {\"name\": \"a\", \"methdos\": [\"GET\"]}\n]}\n"), 0o600) == nil, "write")
		cmd := exec.Command(binary, "serve", "--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--grpc-addr", "off", "--data-dir", dir, "--rules-file", path)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "TYPEAUTH_ROOT_KEY=" + newRootKey()}
		out, err := cmd.CombinedOutput()
		must(t, err != nil && strings.Contains(string(out), "rules.json:2:17: methdos: unknown field"), "a typo must stop start-up with line and field: %v\n%s", err, out)

		must(t, os.WriteFile(path, []byte(`{"no_match": "deny", "rules": [{"name": "a", "paths": ["/a/**"]}]}`), 0o600) == nil, "write")
		f := start(t, serveOpts{args: []string{"--rules-file", path}})
		fa := createApp(t, f, "F", "file")
		fk := createKey(t, f, client.CreateKeyRequest{AppID: fa.ID})
		st, _, _ := callRaw(t, "GET", f.Data+"/v1/authorize/b", "", nil, "X-API-Key", fk.Secret)
		must(t, st == 403, "/b before reload: %d", st)
		st, _, _ = callRaw(t, "PUT", f.Admin+"/v1/rules", f.RootKey, `{"rules": []}`)
		must(t, st == 409, "PUT with a rules file: %d", st)
		var got client.RuleSet
		call(t, "GET", f.Admin+"/v1/rules", f.RootKey, nil, &got)
		must(t, got.Source == "file" && len(got.Rules) == 1, "GET with a rules file: %+v", got)

		// A broken edit keeps the rules in force; a good one applies without restart.
		must(t, os.WriteFile(path, []byte(`{"rules": [{"name": "a", "paths": ["/b/**"]}], "oops": 1}`), 0o600) == nil, "write")
		time.Sleep(1500 * time.Millisecond)
		st, _, _ = callRaw(t, "GET", f.Data+"/v1/authorize/a/x", "", nil, "X-API-Key", fk.Secret)
		must(t, st == 200, "a broken rules file must keep the previous rules: %d", st)
		must(t, os.WriteFile(path, []byte(`{"rules": [{"name": "b", "paths": ["/b/**"]}]}`), 0o600) == nil, "write")
		deadline := time.Now().Add(5 * time.Second)
		for {
			st, _, _ = callRaw(t, "GET", f.Data+"/v1/authorize/b", "", nil, "X-API-Key", fk.Secret)
			if st == 200 {
				break
			}
			must(t, time.Now().Before(deadline), "the edited rules file was not reloaded: %d", st)
			time.Sleep(100 * time.Millisecond)
		}
	})
}
