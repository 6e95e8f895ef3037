package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// TestUpstreamToken: a route rule mints a short-lived JWT for the key and
// sends it upstream in place of the client's credential; a backend verifies
// it offline against the JWKS alone.
func TestUpstreamToken(t *testing.T) {
	p := start(t, serveOpts{args: []string{"--dev-master-key"}})
	var app struct{ ID string }
	call(t, "POST", p.Admin+"/v1/apps", p.RootKey, map[string]any{"name": "A", "key_prefix": "upt"}, &app)
	var key struct{ ID, Key string }
	call(t, "POST", p.Admin+"/v1/keys", p.RootKey, map[string]any{"app_id": app.ID, "owner_id": "cust_9",
		"permissions": []string{"orders.read"}, "credits": map[string]any{"remaining": 10}}, &key)
	putRules(t, p, map[string]any{"no_match": "deny", "rules": []any{
		map[string]any{"name": "orders", "paths": []string{"/orders/**"}, "apps": []string{app.ID}, "strip_credential": true,
			"upstream_token": map[string]any{"ttl_seconds": 120}},
		map[string]any{"name": "custom", "paths": []string{"/custom/**"}, "upstream_token": map[string]any{"header": "X-Caller-Token"}},
	}})
	backend, _ := fetchJWKS(t, p.Data)

	st, h, body := callRaw(t, "GET", p.Data+"/v1/authorize", "", nil, "Authorization", "Bearer "+key.Key,
		"X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/orders/42")
	if st != 200 || len(body) != 0 {
		t.Fatalf("authorize: %d %s", st, body)
	}
	// Forward-auth answers the token in X-TypeAuth-Token; the recipe forwards
	// it (ext_authz sets the rule's header itself: see the doors test).
	tok := h.Get("X-TypeAuth-Token")
	if strings.Count(tok, ".") != 2 {
		t.Fatalf("no upstream token in X-TypeAuth-Token: %q", tok)
	}
	claims, err := backend.verify(tok, time.Now())
	if err != nil {
		t.Fatalf("offline verify of the upstream token: %v", err)
	}
	if claims["sub"] != "cust_9" || claims["client_id"] != key.ID || claims["scope"] != "orders.read" {
		t.Fatalf("claims: %v", claims)
	}
	if exp, iat := claims["exp"].(float64), claims["iat"].(float64); exp-iat > 120 {
		t.Fatalf("ttl %v, rule asked 120 s", exp-iat)
	}
	// The second request reuses the token (no new signature) and spends one
	// credit for the request, none for the token.
	_, h2, _ := callRaw(t, "GET", p.Data+"/v1/authorize", "", nil, "Authorization", "Bearer "+key.Key,
		"X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/orders/43")
	if h2.Get("X-TypeAuth-Token") != tok {
		t.Fatal("a fresh token was minted for a second request within half its lifetime")
	}
	if got := h2.Get("X-TypeAuth-Credits-Remaining"); got != "8" {
		t.Fatalf("credits remaining %q after two requests of 10 credits, want 8", got)
	}
	// Another header carries the bare token.
	_, h3, _ := callRaw(t, "GET", p.Data+"/v1/authorize", "", nil, "Authorization", "Bearer "+key.Key,
		"X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/custom/x")
	if ct := h3.Get("X-TypeAuth-Token"); strings.Count(ct, ".") != 2 || ct == tok {
		t.Fatalf("custom rule token %q", ct)
	}
	// The gRPC door sets the rule's header itself (Authorization: Bearer …)
	// and does not remove it, although the rule strips the credential.
	conn, err := grpc.NewClient(p.grpcAddr(t), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := authv3.NewAuthorizationClient(conn).Check(ctx, &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
		Http: &authv3.AttributeContext_HttpRequest{Method: "GET", Host: "api", Path: "/orders/45", Headers: map[string]string{"authorization": "Bearer " + key.Key}}}}})
	if err != nil || resp.GetOkResponse() == nil {
		t.Fatalf("Check: %v %v", resp, err)
	}
	_, _, up := checkOutcome(t, resp)
	gtok, ok := strings.CutPrefix(up["authorization"], "Bearer ")
	if !ok || gtok != tok {
		t.Fatalf("gRPC upstream Authorization %q; want the minted token", up["authorization"])
	}
	if slices.Contains(resp.GetOkResponse().GetHeadersToRemove(), "authorization") {
		t.Fatal("the minted Authorization header is also in headers_to_remove")
	}

	// A revoked key gets no token.
	call(t, "DELETE", p.Admin+"/v1/keys/"+key.ID, p.RootKey, nil, nil)
	st, h4, _ := callRaw(t, "GET", p.Data+"/v1/authorize", "", nil, "Authorization", "Bearer "+key.Key,
		"X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/orders/44")
	if st != 401 || h4.Get("X-TypeAuth-Token") != "" {
		t.Fatalf("revoked key: %d %q", st, h4.Get("X-TypeAuth-Token"))
	}
}

// TestUpstreamTokenWithoutMasterKey: a rule that must mint a token fails
// closed when tokens cannot be issued.
func TestUpstreamTokenWithoutMasterKey(t *testing.T) {
	p := start(t, serveOpts{})
	var app struct{ ID string }
	call(t, "POST", p.Admin+"/v1/apps", p.RootKey, map[string]any{"name": "A", "key_prefix": "upn"}, &app)
	var key struct{ ID, Key string }
	call(t, "POST", p.Admin+"/v1/keys", p.RootKey, map[string]any{"app_id": app.ID}, &key)
	putRules(t, p, map[string]any{"rules": []any{map[string]any{"name": "r", "upstream_token": map[string]any{}}}})
	st, _, _ := callRaw(t, "GET", p.Data+"/v1/authorize", "", nil, "Authorization", "Bearer "+key.Key)
	if st < 500 {
		t.Fatalf("status %d; want a 5xx (fail closed) when no token can be minted", st)
	}
}
