package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/typeauth/typeauth/client"
)

func createApp(t *testing.T, p *proc, name, prefix string) client.App {
	t.Helper()
	var app client.App
	if st, _ := call(t, "POST", p.Admin+"/v1/apps", p.RootKey, client.CreateAppRequest{Name: name, KeyPrefix: prefix}, &app); st != 201 {
		t.Fatalf("create app: status %d", st)
	}
	return app
}

func createKey(t *testing.T, p *proc, req client.CreateKeyRequest) client.CreatedKey {
	t.Helper()
	var k client.CreatedKey
	if st, _ := call(t, "POST", p.Admin+"/v1/keys", p.RootKey, req, &k); st != 201 {
		t.Fatalf("create key: status %d", st)
	}
	return k
}

func verifyKey(t *testing.T, p *proc, req client.VerifyRequest) client.VerifyResponse {
	t.Helper()
	var v client.VerifyResponse
	if st, _ := call(t, "POST", p.Data+"/v1/verify", "", req, &v); st != 200 {
		t.Fatalf("verify: status %d", st)
	}
	return v
}

func wantCode(t *testing.T, got client.VerifyResponse, code string) {
	t.Helper()
	if got.Code != code || got.Valid != (code == "VALID") {
		t.Fatalf("verify = %s (valid %v), want %s", got.Code, got.Valid, code)
	}
}

// TestContract walks the acceptance list of the verify path through the HTTP
// contract alone.
func TestContract(t *testing.T) {
	p := start(t, serveOpts{})
	runContract(t, p)
}

func runContract(t *testing.T, p *proc) {
	app := createApp(t, p, "Acme API", "acme")
	other := createApp(t, p, "Other API", "other")
	if !strings.HasPrefix(app.ID, "app_") {
		t.Fatalf("app id %q", app.ID)
	}
	k := createKey(t, p, client.CreateKeyRequest{AppID: app.ID, Name: "ci", OwnerID: "user_42", Meta: []byte(`{"plan":"pro"}`)})
	if !strings.HasPrefix(k.Secret, "acme_") || !strings.HasPrefix(k.ID, "key_") || !strings.HasPrefix(k.Secret, k.Start) {
		t.Fatalf("created key: id %q start %q", k.ID, k.Start)
	}

	t.Run("valid", func(t *testing.T) {
		v := verifyKey(t, p, client.VerifyRequest{Key: k.Secret, AppID: app.ID})
		wantCode(t, v, "VALID")
		if v.OwnerID != "user_42" || string(v.Meta) != `{"plan":"pro"}` || v.KeyID != k.ID || v.AppID != app.ID || !v.Enabled {
			t.Fatalf("verify answer: %+v", v)
		}
	})
	t.Run("malformed", func(t *testing.T) {
		bad := k.Secret[:len(k.Secret)-1] + map[bool]string{true: "B", false: "A"}[strings.HasSuffix(k.Secret, "A")]
		wantCode(t, verifyKey(t, p, client.VerifyRequest{Key: bad}), "MALFORMED")
		wantCode(t, verifyKey(t, p, client.VerifyRequest{Key: "not a key"}), "MALFORMED")
	})
	t.Run("not found", func(t *testing.T) {
		other := createKey(t, p, client.CreateKeyRequest{AppID: app.ID})
		call(t, "DELETE", p.Admin+"/v1/keys/"+other.ID, p.RootKey, nil, nil)
		wantCode(t, verifyKey(t, p, client.VerifyRequest{Key: other.Secret}), "NOT_FOUND")
	})
	t.Run("other app", func(t *testing.T) {
		v := verifyKey(t, p, client.VerifyRequest{Key: k.Secret, AppID: other.ID})
		wantCode(t, v, "FORBIDDEN")
		if v.OwnerID != "" || v.Meta != nil {
			t.Fatalf("FORBIDDEN for another app leaked key details: %+v", v)
		}
	})
	t.Run("disabled", func(t *testing.T) {
		d := createKey(t, p, client.CreateKeyRequest{AppID: app.ID})
		wantCode(t, verifyKey(t, p, client.VerifyRequest{Key: d.Secret}), "VALID") // cached as enabled
		if st, _ := call(t, "PATCH", p.Admin+"/v1/keys/"+d.ID, p.RootKey, map[string]any{"enabled": false}, nil); st != 200 {
			t.Fatalf("patch: %d", st)
		}
		wantCode(t, verifyKey(t, p, client.VerifyRequest{Key: d.Secret}), "DISABLED")
		call(t, "PATCH", p.Admin+"/v1/keys/"+d.ID, p.RootKey, map[string]any{"enabled": true}, nil)
		wantCode(t, verifyKey(t, p, client.VerifyRequest{Key: d.Secret}), "VALID")
	})
	t.Run("expired", func(t *testing.T) {
		past := time.Now().Add(-time.Minute).UTC()
		e := createKey(t, p, client.CreateKeyRequest{AppID: app.ID, ExpiresAt: &past})
		wantCode(t, verifyKey(t, p, client.VerifyRequest{Key: e.Secret}), "EXPIRED")
		call(t, "PATCH", p.Admin+"/v1/keys/"+e.ID, p.RootKey, map[string]any{"expires_at": nil}, nil)
		wantCode(t, verifyKey(t, p, client.VerifyRequest{Key: e.Secret}), "VALID")
	})
	t.Run("ip allow list", func(t *testing.T) {
		ipk := createKey(t, p, client.CreateKeyRequest{AppID: app.ID, IPAllowlist: []string{"10.0.0.0/8", "192.0.2.7"}})
		wantCode(t, verifyKey(t, p, client.VerifyRequest{Key: ipk.Secret, IP: "10.9.8.7"}), "VALID")
		wantCode(t, verifyKey(t, p, client.VerifyRequest{Key: ipk.Secret, IP: "192.0.2.7"}), "VALID")
		wantCode(t, verifyKey(t, p, client.VerifyRequest{Key: ipk.Secret, IP: "192.0.2.8"}), "FORBIDDEN")
		wantCode(t, verifyKey(t, p, client.VerifyRequest{Key: ipk.Secret}), "FORBIDDEN")
	})
	t.Run("credits", func(t *testing.T) {
		c := createKey(t, p, client.CreateKeyRequest{AppID: app.ID, Credits: &client.Credits{Remaining: 2}})
		v := verifyKey(t, p, client.VerifyRequest{Key: c.Secret})
		wantCode(t, v, "VALID")
		if v.Credits == nil || v.Credits.Remaining != 1 {
			t.Fatalf("credits after one verify: %+v", v.Credits)
		}
		zero := int64(0)
		wantCode(t, verifyKey(t, p, client.VerifyRequest{Key: c.Secret, Credits: &zero}), "VALID")
		two := int64(2)
		wantCode(t, verifyKey(t, p, client.VerifyRequest{Key: c.Secret, Credits: &two}), "USAGE_EXCEEDED")
		wantCode(t, verifyKey(t, p, client.VerifyRequest{Key: c.Secret}), "VALID")
		wantCode(t, verifyKey(t, p, client.VerifyRequest{Key: c.Secret}), "USAGE_EXCEEDED")
		var cr client.CreditsResponse
		call(t, "POST", p.Admin+"/v1/keys/"+c.ID+"/credits", p.RootKey, client.CreditsRequest{Op: "increment", Value: 3}, &cr)
		if cr.Remaining != 3 {
			t.Fatalf("after increment: %d", cr.Remaining)
		}
		call(t, "POST", p.Admin+"/v1/keys/"+c.ID+"/credits", p.RootKey, client.CreditsRequest{Op: "decrement", Value: 10}, &cr)
		if cr.Remaining != 0 {
			t.Fatalf("decrement floors at 0: %d", cr.Remaining)
		}
		call(t, "POST", p.Admin+"/v1/keys/"+c.ID+"/credits", p.RootKey, client.CreditsRequest{Op: "set", Value: 1}, &cr)
		wantCode(t, verifyKey(t, p, client.VerifyRequest{Key: c.Secret}), "VALID")
	})
	t.Run("roll with grace", func(t *testing.T) {
		r := createKey(t, p, client.CreateKeyRequest{AppID: app.ID, OwnerID: "roller"})
		var rolled client.CreatedKey
		if st, _ := call(t, "POST", p.Admin+"/v1/keys/"+r.ID+"/roll", p.RootKey, client.RollKeyRequest{GracePeriodMs: 60_000}, &rolled); st != 200 {
			t.Fatalf("roll: %d", st)
		}
		if rolled.ID != r.ID || rolled.Secret == r.Secret || rolled.OwnerID != "roller" {
			t.Fatalf("rolled: %+v", rolled.Key)
		}
		wantCode(t, verifyKey(t, p, client.VerifyRequest{Key: rolled.Secret}), "VALID")
		wantCode(t, verifyKey(t, p, client.VerifyRequest{Key: r.Secret}), "VALID") // in grace
		var again client.CreatedKey
		call(t, "POST", p.Admin+"/v1/keys/"+r.ID+"/roll", p.RootKey, nil, &again)
		wantCode(t, verifyKey(t, p, client.VerifyRequest{Key: rolled.Secret}), "NOT_FOUND") // no grace
		wantCode(t, verifyKey(t, p, client.VerifyRequest{Key: again.Secret}), "VALID")
	})
	t.Run("revoke is immediate", func(t *testing.T) {
		wantCode(t, verifyKey(t, p, client.VerifyRequest{Key: k.Secret}), "VALID")
		if st, _ := call(t, "DELETE", p.Admin+"/v1/keys/"+k.ID, p.RootKey, nil, nil); st != 204 {
			t.Fatalf("delete: %d", st)
		}
		wantCode(t, verifyKey(t, p, client.VerifyRequest{Key: k.Secret}), "NOT_FOUND")
		if st, _ := call(t, "GET", p.Admin+"/v1/keys/"+k.ID, p.RootKey, nil, nil); st != 404 {
			t.Fatalf("get revoked key: %d", st)
		}
	})
	t.Run("secret shown once", func(t *testing.T) {
		s := createKey(t, p, client.CreateKeyRequest{AppID: app.ID})
		_, _, raw := callRaw(t, "GET", p.Admin+"/v1/keys/"+s.ID, p.RootKey, nil)
		_, _, list := callRaw(t, "GET", p.Admin+"/v1/keys?app_id="+app.ID, p.RootKey, nil)
		_, _, audit := callRaw(t, "GET", p.Admin+"/v1/audit?limit=1000", p.RootKey, nil)
		for name, body := range map[string][]byte{"get": raw, "list": list, "audit": audit} {
			if strings.Contains(string(body), s.Secret) || strings.Contains(string(body), s.Secret[len(s.Start):]) {
				t.Fatalf("%s shows the secret", name)
			}
		}
	})
}

func TestManagementErrors(t *testing.T) {
	p := start(t, serveOpts{})
	app := createApp(t, p, "A", "aa")
	problem := func(t *testing.T, method, path, key string, body any, status int, code string) {
		t.Helper()
		st, h, raw := callRaw(t, method, p.Admin+path, key, body)
		if st != status || h.Get("Content-Type") != "application/problem+json" || !strings.Contains(string(raw), `"code":"`+code+`"`) {
			t.Fatalf("%s %s: %d %s %s; want %d %s", method, path, st, h.Get("Content-Type"), raw, status, code)
		}
	}
	problem(t, "GET", "/v1/apps", "", nil, 401, "missing_root_key")
	problem(t, "GET", "/v1/apps", "wrong-key-that-is-long-enough", nil, 401, "invalid_root_key")
	problem(t, "POST", "/v1/apps", p.RootKey, `{"name":"x","key_prefix":"aa"}`, 409, "key_prefix_taken")
	problem(t, "POST", "/v1/apps", p.RootKey, `{"name":"x","key_prefix":"Bad Prefix"}`, 400, "invalid_key_prefix")
	problem(t, "POST", "/v1/apps", p.RootKey, `{"name":"x","key_prefix":"zz","extra":1}`, 400, "invalid_request")
	problem(t, "POST", "/v1/apps", p.RootKey, `{"name":`, 400, "invalid_request")
	problem(t, "POST", "/v1/apps", p.RootKey, `{"name":"x"}{"name":"y"}`, 400, "invalid_request")
	problem(t, "POST", "/v1/apps", p.RootKey, `{"name":"`+strings.Repeat("x", 2<<20)+`"}`, 413, "body_too_large")
	problem(t, "POST", "/v1/keys", p.RootKey, `{"app_id":"app_nope"}`, 404, "app_not_found")
	problem(t, "POST", "/v1/keys", p.RootKey, `{"app_id":"`+app.ID+`","meta":[1]}`, 400, "invalid_meta")
	problem(t, "POST", "/v1/keys", p.RootKey, `{"app_id":"`+app.ID+`","ip_allowlist":["nope"]}`, 400, "invalid_ip")
	problem(t, "GET", "/v1/keys/key_nope", p.RootKey, nil, 404, "key_not_found")
	problem(t, "GET", "/v1/keys", p.RootKey, nil, 400, "missing_filter")

	// Scopes: a root key narrowed to one app and to reading.
	var ro client.CreatedRootKey
	if st, _ := call(t, "POST", p.Admin+"/v1/rootkeys", p.RootKey, client.CreateRootKeyRequest{Name: "ro", Scopes: []string{"keys.read:" + app.ID}}, &ro); st != 201 {
		t.Fatalf("create root key: %d", st)
	}
	problem(t, "POST", "/v1/keys", ro.Secret, client.CreateKeyRequest{AppID: app.ID}, 403, "insufficient_scope")
	problem(t, "GET", "/v1/apps", ro.Secret, nil, 403, "insufficient_scope")
	problem(t, "POST", "/v1/rootkeys", ro.Secret, client.CreateRootKeyRequest{Scopes: []string{"*"}}, 403, "insufficient_scope")
	if st, _ := call(t, "GET", p.Admin+"/v1/keys?app_id="+app.ID, ro.Secret, nil, nil); st != 200 {
		t.Fatalf("scoped list: %d", st)
	}
	var writer client.CreatedRootKey
	call(t, "POST", p.Admin+"/v1/rootkeys", p.RootKey, client.CreateRootKeyRequest{Scopes: []string{"keys.write:" + app.ID, "rootkeys.write"}}, &writer)
	problem(t, "POST", "/v1/rootkeys", writer.Secret, client.CreateRootKeyRequest{Scopes: []string{"apps.write"}}, 403, "scope_escalation")
	problem(t, "POST", "/v1/rootkeys", p.RootKey, client.CreateRootKeyRequest{Scopes: []string{"everything"}}, 400, "invalid_scopes")
	// Revoked root key stops at once.
	if st, _ := call(t, "DELETE", p.Admin+"/v1/rootkeys/"+ro.ID, p.RootKey, nil, nil); st != 204 {
		t.Fatalf("revoke root key: %d", st)
	}
	problem(t, "GET", "/v1/keys?app_id="+app.ID, ro.Secret, nil, 401, "invalid_root_key")

	// Data plane: bad requests are 400 problems, never a decision.
	for _, body := range []string{`{`, `[]`, `{"key":1}`, `{}`, `{"key":"x","unknown":true}`, `{"key":"x","credits":-1}`, `{"key":"x","ip":"999.1.1.1"}`} {
		st, h, raw := callRaw(t, "POST", p.Data+"/v1/verify", "", body)
		if st != 400 || h.Get("Content-Type") != "application/problem+json" {
			t.Errorf("verify %s: %d %s", body, st, raw)
		}
	}
	st, _, _ := callRaw(t, "POST", p.Data+"/v1/verify", "", `{"key":"`+strings.Repeat("a", 100<<10)+`"}`)
	if st != 413 {
		t.Errorf("oversized verify: %d", st)
	}
	// The management API is not on the data plane.
	if st, _, _ := callRaw(t, "GET", p.Data+"/v1/apps", p.RootKey, nil); st != 404 {
		t.Errorf("GET /v1/apps on the data plane: %d", st)
	}
}

func TestPaginationAndIdempotency(t *testing.T) {
	p := start(t, serveOpts{})
	app := createApp(t, p, "A", "pg")
	for i := 0; i < 7; i++ {
		createKey(t, p, client.CreateKeyRequest{AppID: app.ID, OwnerID: fmt.Sprintf("owner_%d", i%2)})
	}
	seen := map[string]bool{}
	cursor := ""
	for pages := 0; pages < 10; pages++ {
		var l client.List[client.Key]
		call(t, "GET", p.Admin+"/v1/keys?app_id="+app.ID+"&limit=3&cursor="+cursor, p.RootKey, nil, &l)
		for _, k := range l.Data {
			if seen[k.ID] {
				t.Fatalf("key %s on two pages", k.ID)
			}
			seen[k.ID] = true
		}
		if cursor = l.NextCursor; cursor == "" {
			break
		}
	}
	if len(seen) != 7 {
		t.Fatalf("paged through %d keys, want 7", len(seen))
	}
	var byOwner client.List[client.Key]
	call(t, "GET", p.Admin+"/v1/keys?owner_id=owner_1", p.RootKey, nil, &byOwner)
	if len(byOwner.Data) != 3 {
		t.Fatalf("owner_1 has %d keys, want 3", len(byOwner.Data))
	}

	req := client.CreateKeyRequest{AppID: app.ID, Name: "idem"}
	var a, b client.CreatedKey
	st1, _ := call(t, "POST", p.Admin+"/v1/keys", p.RootKey, req, &a, "Idempotency-Key", "req-1")
	st2, _ := call(t, "POST", p.Admin+"/v1/keys", p.RootKey, req, &b, "Idempotency-Key", "req-1")
	if st1 != 201 || st2 != 201 || a.ID != b.ID || a.Secret != b.Secret {
		t.Fatalf("idempotent replay: %d %d %s %s", st1, st2, a.ID, b.ID)
	}
	if st, _ := call(t, "POST", p.Admin+"/v1/keys", p.RootKey, client.CreateKeyRequest{AppID: app.ID, Name: "other"}, nil, "Idempotency-Key", "req-1"); st != 409 {
		t.Fatalf("reused Idempotency-Key with another body: %d, want 409", st)
	}
	// Concurrent identical requests create one key.
	var wg sync.WaitGroup
	ids := make([]string, 8)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var k client.CreatedKey
			call(t, "POST", p.Admin+"/v1/keys", p.RootKey, req, &k, "Idempotency-Key", "req-2")
			ids[i] = k.ID
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id != "" && id != ids[0] {
			t.Fatalf("concurrent idempotent creates made different keys: %v", ids)
		}
	}
}

// TestConcurrentCredits: 200 concurrent verifies of a key with 100 credits
// give exactly 100 VALID.
func TestConcurrentCredits(t *testing.T) {
	p := start(t, serveOpts{})
	app := createApp(t, p, "A", "cc")
	k := createKey(t, p, client.CreateKeyRequest{AppID: app.ID, Credits: &client.Credits{Remaining: 100}})
	valid := hammer(t, []*proc{p}, k.Secret, 200, 50)
	if valid != 100 {
		t.Fatalf("%d VALID answers for 100 credits", valid)
	}
	var got client.Key
	call(t, "GET", p.Admin+"/v1/keys/"+k.ID, p.RootKey, nil, &got)
	if got.Credits.Remaining != 0 {
		t.Fatalf("remaining %d after spending all", got.Credits.Remaining)
	}
}

// hammer sends n verifies with the given concurrency, spread over procs, and
// returns the number of VALID answers. Any other answer than VALID or
// USAGE_EXCEEDED fails the test.
func hammer(t *testing.T, procs []*proc, secret string, n, conc int) int {
	t.Helper()
	var valid, next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				p := procs[int(i)%len(procs)]
				var v client.VerifyResponse
				st, _ := call(t, "POST", p.Data+"/v1/verify", "", client.VerifyRequest{Key: secret}, &v)
				switch {
				case st != 200:
					t.Errorf("verify status %d", st)
				case v.Code == "VALID":
					valid.Add(1)
				case v.Code != "USAGE_EXCEEDED":
					t.Errorf("verify code %s", v.Code)
				}
			}
		}()
	}
	wg.Wait()
	return int(valid.Load())
}

func TestHealthAndOpenAPI(t *testing.T) {
	p := start(t, serveOpts{})
	app := createApp(t, p, "M", "mx")
	k := createKey(t, p, client.CreateKeyRequest{AppID: app.ID})
	verifyKey(t, p, client.VerifyRequest{Key: k.Secret})
	verifyKey(t, p, client.VerifyRequest{Key: "nope"})
	_, _, met := callRaw(t, "GET", p.Data+"/metrics", "", nil)
	for _, want := range []string{`typeauth_verify_total{code="VALID"} 1`, `typeauth_verify_total{code="MALFORMED"} 1`, "typeauth_cache_keys 1", "typeauth_verify_duration_seconds_bucket"} {
		if !strings.Contains(string(met), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(string(met), k.Secret[len(k.Start):]) {
		t.Fatal("a secret appears in /metrics")
	}
	for _, base := range []string{p.Data, p.Admin} {
		var doc map[string]any
		if st, _ := call(t, "GET", base+"/v1/openapi.json", "", nil, &doc); st != 200 || doc["openapi"] != "3.1.0" {
			t.Fatalf("openapi on %s: %d", base, st)
		}
		paths := doc["paths"].(map[string]any)
		for _, path := range []string{"/v1/verify", "/v1/apps", "/v1/keys", "/v1/keys/{id}", "/v1/keys/{id}/roll", "/v1/rootkeys", "/v1/audit"} {
			if paths[path] == nil {
				t.Errorf("openapi lacks %s", path)
			}
		}
		if st, _, _ := callRaw(t, "GET", base+"/healthz", "", nil); st != http.StatusOK {
			t.Errorf("healthz: %d", st)
		}
	}
}
