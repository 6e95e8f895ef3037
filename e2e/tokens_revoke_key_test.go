package e2e

import (
	"testing"
)

// TestSigningKeyRevoke: a withdrawn signing key leaves the JWKS at once, its
// tokens fail at TypeAuth, and issuing goes on with a new key.
func TestSigningKeyRevoke(t *testing.T) {
	p := start(t, serveOpts{args: []string{"--dev-master-key", "--token-refresh", "100ms"}})
	var app struct{ ID string }
	call(t, "POST", p.Admin+"/v1/apps", p.RootKey, map[string]any{"name": "A", "key_prefix": "skr"}, &app)
	var key struct{ ID, Key string }
	call(t, "POST", p.Admin+"/v1/keys", p.RootKey, map[string]any{"app_id": app.ID, "owner_id": "c1"}, &key)
	st, tok := exchange(t, p, key.Key, map[string]any{"ttl_seconds": 300})
	if st != 200 {
		t.Fatalf("exchange: %d", st)
	}
	kid := kidOf(t, tok.AccessToken)
	if _, v := verifyTok(t, p, tok.AccessToken, ""); v.Code != "VALID" {
		t.Fatalf("before revoke: %s", v.Code)
	}
	var out struct{ KID, State string }
	if st, _ := call(t, "POST", p.Admin+"/v1/signing-keys/"+kid+"/revoke", p.RootKey, nil, &out); st != 200 || out.State != "revoked" {
		t.Fatalf("revoke signing key: %d %+v", st, out)
	}
	if b, _ := fetchJWKS(t, p.Data); b.keys[kid] != nil {
		t.Fatal("a revoked signing key is still in the JWKS")
	}
	if _, v := verifyTok(t, p, tok.AccessToken, ""); v.Valid {
		t.Fatalf("a token of a revoked signing key still verifies: %s", v.Code)
	}
	st, tok2 := exchange(t, p, key.Key, map[string]any{"ttl_seconds": 300})
	if st != 200 || kidOf(t, tok2.AccessToken) == kid {
		t.Fatalf("issuing after revocation: %d, kid %s", st, kidOf(t, tok2.AccessToken))
	}
	if _, v := verifyTok(t, p, tok2.AccessToken, ""); v.Code != "VALID" {
		t.Fatalf("new token: %s", v.Code)
	}
	if st, _ := call(t, "POST", p.Admin+"/v1/signing-keys/nope/revoke", p.RootKey, nil, nil); st != 404 {
		t.Fatalf("unknown kid: %d", st)
	}
	var audit struct {
		Data []struct{ Action string } `json:"data"`
	}
	call(t, "GET", p.Admin+"/v1/audit?limit=20", p.RootKey, nil, &audit)
	found := false
	for _, e := range audit.Data {
		found = found || e.Action == "signing_key.revoke"
	}
	if !found {
		t.Fatal("no signing_key.revoke audit entry")
	}
}
