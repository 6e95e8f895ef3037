package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/typeauth/typeauth/internal/auth"
	"github.com/typeauth/typeauth/internal/manage"
	"github.com/typeauth/typeauth/internal/store/sqlite"
	"github.com/typeauth/typeauth/internal/verify"
)

func newServer(t testing.TB) *Server {
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
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	return New(v, manage.New(st, v, nil, log), log, Options{Ready: st.Ping})
}

// Every route in the table is served by its plane(s) and documented; no
// other route is served.
func TestRoutesServedAndDocumented(t *testing.T) {
	s := newServer(t)
	doc := s.OpenAPI()
	paths := doc["paths"].(map[string]any)
	for _, rt := range s.routes() {
		item, ok := paths[rt.path].(map[string]any)
		if !ok {
			t.Errorf("%s is not documented", rt.path)
			continue
		}
		method := rt.method
		if method == "" {
			method = "GET"
		}
		if item[strings.ToLower(method)] == nil {
			t.Errorf("%s %s is not documented", method, rt.path)
		}
		for plane, h := range map[Plane]http.Handler{DataPlane: s.DataHandler(), AdminPlane: s.AdminHandler()} {
			path := strings.ReplaceAll(rt.path, "{id}", "x_1")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader("{}")))
			notRouted := rec.Code == 404 && strings.Contains(rec.Body.String(), "route_not_found")
			if served := rt.plane&plane != 0; served == notRouted {
				t.Errorf("%s %s on plane %d: served=%v but got %d %s", method, rt.path, plane, served, rec.Code, rec.Body)
			}
		}
	}
	// The document must be valid JSON and name the contract's verify fields.
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{`"valid"`, `"code"`, `"key_id"`, `"owner_id"`, `"meta"`, `"credits"`, `"expires_at"`, `"key_prefix"`, `"grace_period_ms"`, `"ip_allowlist"`} {
		if !strings.Contains(string(b), f) {
			t.Errorf("OpenAPI document lacks %s", f)
		}
	}
}

func TestPanicIsA500(t *testing.T) {
	s := newServer(t)
	h := s.middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }), "data")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 500 || rec.Header().Get("Content-Type") != "application/problem+json" || strings.Contains(rec.Body.String(), "boom") {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
}

func TestVerifyTokenWhenTokensAreOff(t *testing.T) {
	s := newServer(t)
	for _, body := range []string{`{"token":"a.b.c"}`} {
		rec := httptest.NewRecorder()
		s.DataHandler().ServeHTTP(rec, httptest.NewRequest("POST", "/v1/verify", strings.NewReader(body)))
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"MALFORMED"`) {
			t.Errorf("%s: %d %s", body, rec.Code, rec.Body)
		}
	}
}

// BenchmarkVerifyHTTP measures the verify handler in process (decode,
// verify from the cache, encode) for a valid key.
func BenchmarkVerifyHTTP(b *testing.B) {
	s := newServer(b)
	ctx := context.Background()
	if _, err := s.manage.Bootstrap(ctx, "bench-root-key-0123456789"); err != nil {
		b.Fatal(err)
	}
	a, _ := s.manage.Authenticate(ctx, "bench-root-key-0123456789")
	actor := manage.Actor{RootKey: a}
	app, err := s.manage.CreateApp(ctx, actor, "A", "bench", nil)
	if err != nil {
		b.Fatal(err)
	}
	k, err := s.manage.CreateKey(ctx, actor, &auth.Key{AppID: app.ID, Enabled: true, OwnerID: "u1", Meta: []byte(`{"plan":"pro"}`)}, nil)
	if err != nil {
		b.Fatal(err)
	}
	h := s.DataHandler()
	body := `{"key":"` + k.Secret + `","app_id":"` + app.ID + `"}`
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/verify", strings.NewReader(body)))
	if !strings.Contains(rec.Body.String(), `"valid":true`) {
		b.Fatal(rec.Body.String())
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/verify", strings.NewReader(body)))
	}
}

// Every $ref in the OpenAPI document resolves, and every operation has an
// operationId (unique) and a success response.
func TestOpenAPIRefsResolve(t *testing.T) {
	s := newServer(t)
	doc := s.OpenAPI()
	b, _ := json.Marshal(doc)
	var tree any
	json.Unmarshal(b, &tree)
	schemas := tree.(map[string]any)["components"].(map[string]any)["schemas"].(map[string]any)
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				name := strings.TrimPrefix(ref, "#/components/schemas/")
				if _, ok := schemas[name]; !ok {
					t.Errorf("unresolved $ref %s", ref)
				}
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(tree)
	ids := map[string]bool{}
	for path, item := range tree.(map[string]any)["paths"].(map[string]any) {
		for method, op := range item.(map[string]any) {
			o := op.(map[string]any)
			id, _ := o["operationId"].(string)
			if id == "" || ids[id] {
				t.Errorf("%s %s: operationId %q missing or repeated", method, path, id)
			}
			ids[id] = true
			if len(o["responses"].(map[string]any)) < 2 {
				t.Errorf("%s %s: responses %v", method, path, o["responses"])
			}
		}
	}
	if len(ids) < 60 {
		t.Errorf("only %d operations documented", len(ids))
	}
}
