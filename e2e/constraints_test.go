package e2e

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/typeauth/typeauth/client"
)

func i64(v int64) *int64 { return &v }

// TestIdentitiesRolesPermissions drives issue-4 features through HTTP.
func TestIdentitiesRolesPermissions(t *testing.T) {
	p := start(t, serveOpts{})
	app := createApp(t, p, "A", "ip")
	var role client.Role
	if st, _ := call(t, "POST", p.Admin+"/v1/roles", p.RootKey, client.CreateRoleRequest{Name: "editor", Permissions: []string{"documents.read", "documents.write"}}, &role); st != 201 {
		t.Fatalf("create role: %d", st)
	}
	var ident client.Identity
	if st, _ := call(t, "POST", p.Admin+"/v1/identities", p.RootKey, client.CreateIdentityRequest{ExternalID: "acme-corp", AppID: app.ID,
		Meta: []byte(`{"tier":"gold"}`), Permissions: []string{"billing.read"},
		RateLimits: []client.RateLimit{{Name: "shared", Limit: 4, DurationMs: 60_000, AutoApply: true}}}, &ident); st != 201 {
		t.Fatalf("create identity: %d", st)
	}
	if st, _ := call(t, "POST", p.Admin+"/v1/identities", p.RootKey, client.CreateIdentityRequest{ExternalID: "acme-corp", AppID: app.ID}, nil); st != 409 {
		t.Fatalf("duplicate external_id: %d", st)
	}
	k := createKey(t, p, client.CreateKeyRequest{AppID: app.ID, IdentityID: ident.ID, Roles: []string{"editor"}})
	other := createKey(t, p, client.CreateKeyRequest{AppID: app.ID, IdentityID: ident.ID})

	v := verifyKey(t, p, client.VerifyRequest{Key: k.Secret, Permissions: "documents.write AND billing.read"})
	wantCode(t, v, "VALID")
	if v.Identity == nil || v.Identity.ExternalID != "acme-corp" || string(v.Identity.Meta) != `{"tier":"gold"}` {
		t.Fatalf("identity in answer: %+v", v.Identity)
	}
	v = verifyKey(t, p, client.VerifyRequest{Key: k.Secret, Permissions: "admin OR (billing.write AND documents.read)"})
	wantCode(t, v, "INSUFFICIENT_PERMISSIONS")
	if strings.Join(v.MissingPermissions, ",") != "admin,billing.write" {
		t.Fatalf("missing: %v", v.MissingPermissions)
	}
	st, _, raw := callRaw(t, "POST", p.Data+"/v1/verify", "", `{"key":"`+k.Secret+`","permissions":"a AND (b"}`)
	if st != 400 || !strings.Contains(string(raw), "invalid_permission_query") || !strings.Contains(string(raw), " at ") {
		t.Fatalf("bad query: %d %s", st, raw)
	}
	// Attach a permission to the other key; a role change applies at once.
	call(t, "POST", p.Admin+"/v1/keys/"+other.ID+"/permissions", p.RootKey, client.PermissionsChange{Add: []string{"admin"}}, nil)
	wantCode(t, verifyKey(t, p, client.VerifyRequest{Key: other.Secret, Permissions: "admin"}), "VALID")
	call(t, "PATCH", p.Admin+"/v1/roles/"+role.ID, p.RootKey, map[string]any{"permissions": []string{"documents.read"}}, nil)
	wantCode(t, verifyKey(t, p, client.VerifyRequest{Key: k.Secret, Permissions: "documents.write"}), "INSUFFICIENT_PERMISSIONS")

	// The identity's limit (4 per minute) is shared by both keys. Two VALID
	// verifies above spent 2 units; the denied ones (permissions, a bad
	// query) spent nothing. So 2 more pass, then every verify is limited.
	var valid, limited int
	for i := 0; i < 8; i++ {
		key := k.Secret
		if i%2 == 1 {
			key = other.Secret
		}
		v := verifyKey(t, p, client.VerifyRequest{Key: key})
		switch v.Code {
		case "VALID":
			valid++
		case "RATE_LIMITED":
			limited++
			if v.RetryAfterMs <= 0 || len(v.RateLimits) == 0 {
				t.Fatalf("RATE_LIMITED without retry_after_ms or states: %+v", v)
			}
		default:
			t.Fatalf("code %s", v.Code)
		}
	}
	if valid != 2 || limited != 6 {
		t.Fatalf("shared identity limit: %d valid, %d limited; want 2 and 6", valid, limited)
	}
}

// TestRateLimitExactOverHTTP: 1,000 concurrent verifies against a key
// limited to 100 per minute give exactly 100 VALID.
func TestRateLimitExactOverHTTP(t *testing.T) {
	p := start(t, serveOpts{})
	app := createApp(t, p, "A", "rl")
	k := createKey(t, p, client.CreateKeyRequest{AppID: app.ID, RateLimits: []client.RateLimit{{Name: "requests", Limit: 100, DurationMs: 60_000, AutoApply: true}}})
	var valid, limited atomic.Int64
	var wg sync.WaitGroup
	var next atomic.Int64
	for w := 0; w < 50; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= 1000 {
				var v client.VerifyResponse
				call(t, "POST", p.Data+"/v1/verify", "", client.VerifyRequest{Key: k.Secret}, &v)
				switch v.Code {
				case "VALID":
					valid.Add(1)
				case "RATE_LIMITED":
					limited.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if valid.Load() != 100 || limited.Load() != 900 {
		t.Fatalf("%d VALID, %d RATE_LIMITED; want 100 and 900", valid.Load(), limited.Load())
	}
}

func TestStandaloneRateLimit(t *testing.T) {
	p := start(t, serveOpts{})
	check := func(id string, cost *int64) client.RateLimitResponse {
		t.Helper()
		var r client.RateLimitResponse
		if st, _ := call(t, "POST", p.Data+"/v1/ratelimit", "", client.RateLimitRequest{Namespace: "login", Identifier: id, Limit: 2, DurationMs: 60_000, Cost: cost}, &r); st != 200 {
			t.Fatalf("ratelimit: %d", st)
		}
		return r
	}
	if r := check("1.2.3.4", nil); !r.Success || r.Remaining != 1 || r.Limit != 2 {
		t.Fatalf("first: %+v", r)
	}
	check("1.2.3.4", nil)
	if r := check("1.2.3.4", nil); r.Success || r.RetryAfterMs <= 0 {
		t.Fatalf("third: %+v", r)
	}
	if r := check("1.2.3.4", i64(0)); !r.Success && r.Remaining != 0 {
		t.Fatalf("peek: %+v", r)
	}
	// Overrides: exact beats a wildcard; a wildcard applies to its matches.
	for _, o := range []client.CreateOverrideRequest{{Namespace: "login", Identifier: "10.*", Limit: 5, DurationMs: 60_000}, {Namespace: "login", Identifier: "10.0.0.1", Limit: 1, DurationMs: 60_000}} {
		if st, _ := call(t, "POST", p.Admin+"/v1/ratelimit/overrides", p.RootKey, o, nil); st != 201 {
			t.Fatalf("override: %d", st)
		}
	}
	if r := check("10.9.9.9", nil); r.Limit != 5 || r.OverrideID == "" {
		t.Fatalf("wildcard override: %+v", r)
	}
	if r := check("10.0.0.1", nil); r.Limit != 1 {
		t.Fatalf("exact override: %+v", r)
	}
	if r := check("10.0.0.1", nil); r.Success {
		t.Fatalf("exact override allows 1: %+v", r)
	}
	if st, _, _ := callRaw(t, "POST", p.Data+"/v1/ratelimit", "", `{"namespace":"x","identifier":"y","limit":0,"duration_ms":1000}`); st != 400 {
		t.Fatalf("limit 0: %d", st)
	}
}
