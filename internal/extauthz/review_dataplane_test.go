package extauthz_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/typeauth/typeauth/internal/auth"
	"github.com/typeauth/typeauth/internal/extauthz"
	"github.com/typeauth/typeauth/internal/gateway"
	"github.com/typeauth/typeauth/internal/httpapi"
	"github.com/typeauth/typeauth/internal/manage"
	"github.com/typeauth/typeauth/internal/store/sqlite"
	"github.com/typeauth/typeauth/internal/verify"
)

type reviewEnv struct {
	dec    *gateway.Decider
	srv    *httpapi.Server
	appID  string
	secret string
}

func newReviewEnv(t *testing.T) *reviewEnv {
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
	v := verify.New(st, verify.Options{})
	m := manage.New(st, v, nil, nil)
	app, err := m.CreateApp(ctx, manage.System, "A", "rev", nil)
	if err != nil {
		t.Fatal(err)
	}
	k, err := m.CreateKey(ctx, manage.System, &auth.Key{AppID: app.ID, OwnerID: "user_1", Enabled: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	dec := gateway.New(v, gateway.Options{})
	srv := httpapi.New(v, m, slog.New(slog.DiscardHandler), httpapi.Options{Gateway: httpapi.GatewayOptions{Decider: dec}})
	return &reviewEnv{dec: dec, srv: srv, appID: app.ID, secret: k.Secret}
}

func (e *reviewEnv) authorize(t *testing.T, method string, hdr http.Header) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("GET", "/v1/authorize", nil)
	req.Header = hdr
	req.Header.Set("X-Forwarded-Method", method)
	req.Header.Set("X-Forwarded-Uri", "/admin/x")
	req.Header.Set("X-Forwarded-Host", "api.example.com")
	w := httptest.NewRecorder()
	e.srv.DataHandler().ServeHTTP(w, req)
	return w
}

// Many backends (CGI, WSGI, Rack, PHP) read X_TypeAuth_Owner_Id and
// X-TypeAuth-Owner-Id as the same header: a client-sent underscore variant
// of a reserved header is an identity forgery. The forward-auth door refuses
// it like any client X-TypeAuth-* header; ext_authz removes it.
func TestUnderscoreReservedHeadersNeverReachTheBackend(t *testing.T) {
	e := newReviewEnv(t)
	w := e.authorize(t, "GET", http.Header{"X-Api-Key": {e.secret}, "X_typeauth_owner_id": {"admin"}})
	if w.Code != http.StatusForbidden {
		t.Fatalf("forward-auth with X_TypeAuth_Owner_Id: %d, want 403", w.Code)
	}
	s := extauthz.New(e.dec, slog.New(slog.DiscardHandler))
	resp, err := s.Check(context.Background(), &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
		Method: "GET", Host: "api.example.com", Path: "/x", Headers: map[string]string{"authorization": "Bearer " + e.secret, "x_typeauth_owner_id": "admin"}}}}})
	if err != nil || resp.GetOkResponse() == nil {
		t.Fatalf("ext_authz: %v %v", resp, err)
	}
	if !slices.Contains(resp.GetOkResponse().GetHeadersToRemove(), "x_typeauth_owner_id") {
		t.Fatalf("ext_authz keeps x_typeauth_owner_id: removes %v", resp.GetOkResponse().GetHeadersToRemove())
	}
}

// The gateway's X-TypeAuth-App-Id narrows which app's keys pass. A gateway
// that adds its value to a client-sent one must not see the client's win:
// two values are refused.
func TestConflictingAppIDHeadersAreRefused(t *testing.T) {
	e := newReviewEnv(t)
	w := e.authorize(t, "GET", http.Header{"X-Api-Key": {e.secret}, "X-Typeauth-App-Id": {e.appID, "app_gatewaysown"}})
	if w.Code != http.StatusForbidden {
		t.Fatalf("two X-TypeAuth-App-Id values: %d, want 403", w.Code)
	}
	if w := e.authorize(t, "GET", http.Header{"X-Api-Key": {e.secret}, "X-Typeauth-App-Id": {e.appID}}); w.Code != http.StatusOK {
		t.Fatalf("one X-TypeAuth-App-Id value: %d, want 200", w.Code)
	}
}

// HTTP methods are matched case-insensitively: "post" must not skip the
// rule written for POST and fall through to a more permissive one (some
// servers and frameworks upper-case the method).
func TestRuleMethodsMatchAnyCase(t *testing.T) {
	e := newReviewEnv(t)
	rs, _, err := gateway.ParseRules([]byte(`{"rules": [
		{"name": "admin-write", "methods": ["POST"], "paths": ["/admin/**"], "permissions": "admin"},
		{"name": "open", "paths": ["/**"], "anonymous": true}]}`), "t", false)
	if err != nil {
		t.Fatal(err)
	}
	tab, err := gateway.Compile(rs, "t")
	if err != nil {
		t.Fatal(err)
	}
	e.dec.SetTable(tab)
	for _, m := range []string{"POST", "post", "Post"} {
		w := e.authorize(t, m, http.Header{})
		if w.Code != http.StatusUnauthorized || w.Header().Get("X-TypeAuth-Rule") != "admin-write" {
			t.Errorf("%s /admin/x without a key: %d rule %q, want 401 by admin-write", m, w.Code, w.Header().Get("X-TypeAuth-Rule"))
		}
	}
}
