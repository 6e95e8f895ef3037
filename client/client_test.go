package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/typeauth/typeauth/client"
)

const rootKey = "tark_SECRETrootKEY0123456789abcdefXYZ"

// recorded is one request as the fake server saw it.
type recorded struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   string
}

// fake answers every request with status and body, and records it.
type fake struct {
	t      *testing.T
	status int
	ctype  string
	body   string
	got    []recorded
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		f.t.Errorf("read body: %v", err)
	}
	f.got = append(f.got, recorded{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), string(b)})
	ct := f.ctype
	if ct == "" {
		ct = "application/json"
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(f.status)
	io.WriteString(w, f.body)
}

func newFake(t *testing.T, status int, body string) (*fake, *client.Client) {
	t.Helper()
	f := &fake{t: t, status: status, body: body}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c := client.New(srv.URL+"/", client.WithRootKey(rootKey), client.WithUserAgent("typeauth-test/1"))
	return f, c
}

// jsonEqual compares two JSON texts semantically ("" means no body).
func jsonEqual(t *testing.T, got, want string) bool {
	t.Helper()
	if got == "" || want == "" {
		return got == want
	}
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("request body is not JSON: %v: %s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want JSON: %v", err)
	}
	return reflect.DeepEqual(g, w)
}

func TestRoutes(t *testing.T) {
	ctx := context.Background()
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	enabled := false
	cost := int64(3)
	tests := []struct {
		name      string
		status    int
		resp      string
		call      func(c *client.Client) (any, error)
		method    string
		path      string
		query     string
		body      string
		want      any
		dataPlane bool
	}{
		{
			name: "CreateApp", status: 201, resp: `{"id":"app_1","name":"Acme","key_prefix":"acme"}`,
			call: func(c *client.Client) (any, error) {
				return c.CreateApp(ctx, client.CreateAppRequest{Name: "Acme", KeyPrefix: "acme"})
			},
			method: "POST", path: "/v1/apps", body: `{"name":"Acme","key_prefix":"acme"}`,
			want: &client.App{ID: "app_1", Name: "Acme", KeyPrefix: "acme"},
		},
		{
			name: "GetApp", status: 200, resp: `{"id":"app_1"}`,
			call:   func(c *client.Client) (any, error) { return c.GetApp(ctx, "app_1") },
			method: "GET", path: "/v1/apps/app_1",
			want: &client.App{ID: "app_1"},
		},
		{
			name: "GetApp escapes the id", status: 200, resp: `{"id":"x"}`,
			call:   func(c *client.Client) (any, error) { return c.GetApp(ctx, "a/b?c") },
			method: "GET", path: "/v1/apps/a/b?c", // decoded by the server
			want: &client.App{ID: "x"},
		},
		{
			name: "ListApps", status: 200, resp: `{"data":[{"id":"app_1"},{"id":"app_2"}],"next_cursor":"c2"}`,
			call: func(c *client.Client) (any, error) {
				return c.ListApps(ctx, client.ListOptions{Cursor: "c1", Limit: 2})
			},
			method: "GET", path: "/v1/apps", query: "cursor=c1&limit=2",
			want: &client.List[client.App]{Data: []client.App{{ID: "app_1"}, {ID: "app_2"}}, NextCursor: "c2"},
		},
		{
			name: "ListApps without options", status: 200, resp: `{"data":[]}`,
			call:   func(c *client.Client) (any, error) { return c.ListApps(ctx, client.ListOptions{}) },
			method: "GET", path: "/v1/apps",
			want: &client.List[client.App]{Data: []client.App{}},
		},
		{
			name: "UpdateApp", status: 200, resp: `{"id":"app_1","name":"New"}`,
			call: func(c *client.Client) (any, error) {
				return c.UpdateApp(ctx, "app_1", client.UpdateAppRequest{Name: client.Some("New")})
			},
			method: "PATCH", path: "/v1/apps/app_1", body: `{"name":"New"}`,
			want: &client.App{ID: "app_1", Name: "New"},
		},
		{
			name: "DeleteApp", status: 204,
			call:   func(c *client.Client) (any, error) { return nil, c.DeleteApp(ctx, "app_1") },
			method: "DELETE", path: "/v1/apps/app_1",
		},
		{
			name: "CreateKey", status: 201, resp: `{"id":"key_1","app_id":"app_1","key":"acme_s3cr3t","start":"acme_s3"}`,
			call: func(c *client.Client) (any, error) {
				return c.CreateKey(ctx, client.CreateKeyRequest{
					AppID: "app_1", Name: "n", OwnerID: "o", Meta: json.RawMessage(`{"plan":"pro"}`),
					ExpiresAt: &exp, Enabled: &enabled,
					Credits:     &client.Credits{Remaining: 10, Refill: &client.Refill{Amount: 10, Interval: "daily"}},
					Permissions: []string{"a.read"}, IPAllowlist: []string{"10.0.0.0/8"},
				})
			},
			method: "POST", path: "/v1/keys",
			body: `{"app_id":"app_1","name":"n","owner_id":"o","meta":{"plan":"pro"},"expires_at":"2030-01-02T03:04:05Z",
				"enabled":false,"credits":{"remaining":10,"refill":{"amount":10,"interval":"daily"}},
				"permissions":["a.read"],"ip_allowlist":["10.0.0.0/8"]}`,
			want: &client.CreatedKey{Key: client.Key{ID: "key_1", AppID: "app_1", Start: "acme_s3"}, Secret: "acme_s3cr3t"},
		},
		{
			name: "GetKey", status: 200, resp: `{"id":"key_1","enabled":true}`,
			call:   func(c *client.Client) (any, error) { return c.GetKey(ctx, "key_1") },
			method: "GET", path: "/v1/keys/key_1",
			want: &client.Key{ID: "key_1", Enabled: true},
		},
		{
			name: "ListKeys", status: 200, resp: `{"data":[{"id":"key_1"}]}`,
			call: func(c *client.Client) (any, error) {
				return c.ListKeys(ctx, client.KeyListOptions{AppID: "app_1", OwnerID: "u 1", Cursor: "c", Limit: 5})
			},
			method: "GET", path: "/v1/keys", query: "app_id=app_1&cursor=c&limit=5&owner_id=u+1",
			want: &client.List[client.Key]{Data: []client.Key{{ID: "key_1"}}},
		},
		{
			name: "UpdateKey sets, clears and leaves fields", status: 200, resp: `{"id":"key_1"}`,
			call: func(c *client.Client) (any, error) {
				return c.UpdateKey(ctx, "key_1", client.UpdateKeyRequest{
					Name: client.Some("n2"), ExpiresAt: client.Null[time.Time](), Enabled: client.Some(false),
				})
			},
			method: "PATCH", path: "/v1/keys/key_1", body: `{"name":"n2","enabled":false,"expires_at":null}`,
			want: &client.Key{ID: "key_1"},
		},
		{
			name: "RollKey", status: 200, resp: `{"id":"key_2","key":"acme_new"}`,
			call: func(c *client.Client) (any, error) {
				return c.RollKey(ctx, "key_1", client.RollKeyRequest{GracePeriodMs: 3600000})
			},
			method: "POST", path: "/v1/keys/key_1/roll", body: `{"grace_period_ms":3600000}`,
			want: &client.CreatedKey{Key: client.Key{ID: "key_2"}, Secret: "acme_new"},
		},
		{
			name: "RevokeKey", status: 204,
			call:   func(c *client.Client) (any, error) { return nil, c.RevokeKey(ctx, "key_1") },
			method: "DELETE", path: "/v1/keys/key_1",
		},
		{
			name: "Credits", status: 200, resp: `{"remaining":7}`,
			call: func(c *client.Client) (any, error) {
				return c.Credits(ctx, "key_1", client.CreditsRequest{Op: "decrement", Value: 3})
			},
			method: "POST", path: "/v1/keys/key_1/credits", body: `{"op":"decrement","value":3}`,
			want: &client.CreditsResponse{Remaining: 7},
		},
		{
			name: "CreateRootKey", status: 201, resp: `{"id":"rk_1","scopes":["keys.read"],"key":"tark_x"}`,
			call: func(c *client.Client) (any, error) {
				return c.CreateRootKey(ctx, client.CreateRootKeyRequest{Name: "ci", Scopes: []string{"keys.read"}})
			},
			method: "POST", path: "/v1/rootkeys", body: `{"name":"ci","scopes":["keys.read"]}`,
			want: &client.CreatedRootKey{RootKey: client.RootKey{ID: "rk_1", Scopes: []string{"keys.read"}}, Secret: "tark_x"},
		},
		{
			name: "ListRootKeys", status: 200, resp: `{"data":[{"id":"rk_1"}]}`,
			call:   func(c *client.Client) (any, error) { return c.ListRootKeys(ctx, client.ListOptions{Limit: 10}) },
			method: "GET", path: "/v1/rootkeys", query: "limit=10",
			want: &client.List[client.RootKey]{Data: []client.RootKey{{ID: "rk_1"}}},
		},
		{
			name: "RevokeRootKey", status: 204,
			call:   func(c *client.Client) (any, error) { return nil, c.RevokeRootKey(ctx, "rk_1") },
			method: "DELETE", path: "/v1/rootkeys/rk_1",
		},
		{
			name: "ListAudit", status: 200, resp: `{"data":[{"id":"aud_1","seq":1}]}`,
			call:   func(c *client.Client) (any, error) { return c.ListAudit(ctx, client.ListOptions{Limit: 50}) },
			method: "GET", path: "/v1/audit", query: "limit=50",
			want: &client.List[client.AuditEntry]{Data: []client.AuditEntry{{ID: "aud_1", Seq: 1}}},
		},
		{
			name: "VerifyAudit", status: 200, resp: `{"ok":false,"checked":4,"first_broken_seq":3,"first_broken_id":"aud_3","reason":"hash mismatch"}`,
			call:   func(c *client.Client) (any, error) { return c.VerifyAudit(ctx) },
			method: "POST", path: "/v1/audit/verify",
			want: &client.AuditVerifyResult{Checked: 4, FirstBrokenSeq: 3, FirstBrokenID: "aud_3", Reason: "hash mismatch"},
		},
		{
			name: "Verify", status: 200, resp: `{"valid":false,"code":"USAGE_EXCEEDED","key_id":"key_1"}`,
			call: func(c *client.Client) (any, error) {
				return c.Verify(ctx, client.VerifyRequest{Key: "acme_k", AppID: "app_1", Credits: &cost, IP: "1.2.3.4"})
			},
			method: "POST", path: "/v1/verify", body: `{"key":"acme_k","app_id":"app_1","credits":3,"ip":"1.2.3.4"}`,
			want:      &client.VerifyResponse{Code: "USAGE_EXCEEDED", KeyID: "key_1"},
			dataPlane: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, c := newFake(t, tt.status, tt.resp)
			got, err := tt.call(c)
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			if len(f.got) != 1 {
				t.Fatalf("server saw %d requests, want 1", len(f.got))
			}
			r := f.got[0]
			if r.Method != tt.method || r.Path != tt.path || r.RawQuery != tt.query {
				t.Errorf("request = %s %s?%s, want %s %s?%s", r.Method, r.Path, r.RawQuery, tt.method, tt.path, tt.query)
			}
			if !jsonEqual(t, r.Body, tt.body) {
				t.Errorf("body = %s\nwant   %s", r.Body, tt.body)
			}
			if tt.body != "" && r.Header.Get("Content-Type") != "application/json" {
				t.Errorf("Content-Type = %q", r.Header.Get("Content-Type"))
			}
			wantAuth := "Bearer " + rootKey
			if tt.dataPlane {
				wantAuth = "" // the root key is for the management plane only
			}
			if got := r.Header.Get("Authorization"); got != wantAuth {
				t.Errorf("Authorization = %q, want %q", got, wantAuth)
			}
			if ua := r.Header.Get("User-Agent"); ua != "typeauth-test/1" {
				t.Errorf("User-Agent = %q", ua)
			}
			if r.Header.Get("Idempotency-Key") != "" {
				t.Errorf("unexpected Idempotency-Key")
			}
			if tt.want != nil && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("result = %+v\nwant     %+v", got, tt.want)
			}
		})
	}
}

func TestIdempotencyKey(t *testing.T) {
	f, c := newFake(t, 201, `{"id":"key_1","key":"s"}`)
	_, err := c.CreateKey(context.Background(), client.CreateKeyRequest{AppID: "app_1"}, client.WithIdempotencyKey("idem-123"))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.got[0].Header.Get("Idempotency-Key"); got != "idem-123" {
		t.Errorf("Idempotency-Key = %q", got)
	}
}

func TestRawResponse(t *testing.T) {
	body := `{"id":"app_1","future_field":42}`
	_, c := newFake(t, 200, body)
	var raw json.RawMessage
	app, err := c.GetApp(context.Background(), "app_1", client.WithRawResponse(&raw))
	if err != nil {
		t.Fatal(err)
	}
	if string(raw) != body || app.ID != "app_1" {
		t.Errorf("raw = %s, app = %+v", raw, app)
	}
}

func TestProblem(t *testing.T) {
	f, c := newFake(t, 400, `{"type":"https://typeauth.dev/problems/invalid","title":"Invalid request","status":400,
		"detail":"2 fields are invalid","code":"invalid_request","instance":"/v1/keys",
		"errors":[{"field":"app_id","message":"required"},{"field":"ip_allowlist[0]","message":"not a CIDR"}]}`)
	f.ctype = "application/problem+json"
	_, err := c.CreateKey(context.Background(), client.CreateKeyRequest{})
	var e *client.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T), want *client.Error", err, err)
	}
	want := &client.Error{
		Status: 400, Code: "invalid_request", Title: "Invalid request", Detail: "2 fields are invalid",
		Type: "https://typeauth.dev/problems/invalid", Instance: "/v1/keys",
		FieldErrors: []client.FieldError{{Field: "app_id", Message: "required"}, {Field: "ip_allowlist[0]", Message: "not a CIDR"}},
	}
	if !reflect.DeepEqual(e, want) {
		t.Errorf("error = %+v\nwant    %+v", e, want)
	}
	if !client.IsInvalid(err) || client.IsNotFound(err) {
		t.Errorf("IsInvalid/IsNotFound wrong")
	}
	msg := err.Error()
	for _, s := range []string{"Invalid request", "2 fields are invalid", "invalid_request", "400", "app_id: required"} {
		if !strings.Contains(msg, s) {
			t.Errorf("error text %q lacks %q", msg, s)
		}
	}
}

func TestStatusHelpers(t *testing.T) {
	tests := []struct {
		status int
		is     func(error) bool
	}{
		{404, client.IsNotFound},
		{401, client.IsUnauthorized},
		{403, client.IsForbidden},
		{409, client.IsConflict},
		{422, client.IsInvalid},
		{429, client.IsRateLimited},
	}
	for _, tt := range tests {
		_, c := newFake(t, tt.status, `{"title":"x"}`)
		err := c.DeleteApp(context.Background(), "app_1")
		if !tt.is(err) {
			t.Errorf("status %d: helper false for %v", tt.status, err)
		}
		wrapped := errors.Join(errors.New("context"), err)
		if !tt.is(wrapped) {
			t.Errorf("status %d: helper false through a wrap", tt.status)
		}
	}
	if client.IsNotFound(errors.New("plain")) || client.IsNotFound(nil) {
		t.Error("IsNotFound true for a non-API error")
	}
}

func TestNonJSONError(t *testing.T) {
	tests := []struct {
		ctype, body, wantTitle, wantDetail string
	}{
		{"text/html", "<html>bad gateway</html>", "Bad Gateway", ""},
		{"text/plain; charset=utf-8", "upstream connect error\nmore", "Bad Gateway", "upstream connect error"},
		{"application/json", "not json", "Bad Gateway", ""},
	}
	for _, tt := range tests {
		f, c := newFake(t, 502, tt.body)
		f.ctype = tt.ctype
		_, err := c.GetApp(context.Background(), "app_1")
		e, ok := client.AsError(err)
		if !ok || e.Status != 502 || e.Title != tt.wantTitle || e.Detail != tt.wantDetail {
			t.Errorf("%s: err = %#v", tt.ctype, err)
		}
	}
}

func TestRootKeyNeverInErrors(t *testing.T) {
	// A hostile or buggy server echoes the Authorization header everywhere.
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := r.Header.Get("Authorization")
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusUnauthorized)
		json.NewEncoder(w).Encode(client.Problem{
			Title: "bad " + a, Status: 401, Detail: "you sent " + a, Code: "unauthorized", Instance: a,
			Errors: []client.FieldError{{Field: "authorization", Message: a}},
		})
	})
	srv := httptest.NewServer(echo)
	defer srv.Close()
	c := client.New(srv.URL, client.WithRootKey(rootKey))
	_, err := c.GetKey(context.Background(), "key_1")
	if err == nil {
		t.Fatal("want an error")
	}
	e, _ := client.AsError(err)
	if strings.Contains(err.Error(), rootKey) || strings.Contains(e.Title+e.Detail+e.Instance+e.FieldErrors[0].Message, rootKey) {
		t.Errorf("root key leaked: %v", err)
	}
	if !strings.Contains(err.Error(), "[REDACTED]") {
		t.Errorf("want a redaction marker in %v", err)
	}

	// Transport errors do not carry it either.
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	c = client.New(dead.URL, client.WithRootKey(rootKey))
	_, err = c.GetKey(context.Background(), "key_1")
	if err == nil || strings.Contains(err.Error(), rootKey) {
		t.Errorf("transport error = %v", err)
	}
}

func TestBodyLimit(t *testing.T) {
	big := `{"id":"` + strings.Repeat("a", client.MaxResponseBytes) + `"}`
	_, c := newFake(t, 200, big)
	_, err := c.GetApp(context.Background(), "app_1")
	if err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Errorf("err = %v, want a size error", err)
	}
}

func TestEmptyIDAndBadResponses(t *testing.T) {
	f, c := newFake(t, 200, ``)
	if _, err := c.GetKey(context.Background(), ""); err == nil {
		t.Error("empty id: want an error")
	}
	if len(f.got) != 0 {
		t.Error("empty id: a request was sent")
	}
	if _, err := c.GetKey(context.Background(), "key_1"); err == nil {
		t.Error("empty 200 body: want an error")
	}
	f.body = `{"id":`
	if _, err := c.GetKey(context.Background(), "key_1"); err == nil {
		t.Error("broken JSON: want an error")
	}
}

func TestContextCanceled(t *testing.T) {
	_, c := newFake(t, 200, `{}`)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.GetApp(ctx, "app_1")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestDataURL(t *testing.T) {
	tests := []struct {
		admin string
		opts  []client.Option
		want  string
	}{
		{"http://127.0.0.1:8081", nil, "http://127.0.0.1:8080"},
		{"http://127.0.0.1:8081/", nil, "http://127.0.0.1:8080"},
		{"https://[::1]:8081/base", nil, "https://[::1]:8080/base"},
		{"http://auth.internal:9000", nil, "http://auth.internal:9000"},
		{"https://auth.example.com/admin/", nil, "https://auth.example.com/admin"},
		{"http://127.0.0.1:8081", []client.Option{client.WithDataURL("http://gw:7000/")}, "http://gw:7000"},
	}
	for _, tt := range tests {
		c := client.New(tt.admin, tt.opts...)
		if got := c.DataURL(); got != tt.want {
			t.Errorf("New(%q).DataURL() = %q, want %q", tt.admin, got, tt.want)
		}
	}
}

func TestVerifyGoesToDataPlane(t *testing.T) {
	adminFake := &fake{t: t, status: 200, body: `{}`}
	dataFake := &fake{t: t, status: 200, body: `{"valid":true,"code":"VALID"}`}
	adm, dat := httptest.NewServer(adminFake), httptest.NewServer(dataFake)
	defer adm.Close()
	defer dat.Close()
	c := client.New(adm.URL, client.WithRootKey(rootKey), client.WithDataURL(dat.URL))
	res, err := c.Verify(context.Background(), client.VerifyRequest{Key: "k"})
	if err != nil || !res.Valid {
		t.Fatalf("Verify = %+v, %v", res, err)
	}
	if len(adminFake.got) != 0 || len(dataFake.got) != 1 {
		t.Fatalf("admin saw %d, data saw %d", len(adminFake.got), len(dataFake.got))
	}
	if dataFake.got[0].Header.Get("Authorization") != "" {
		t.Error("root key sent to the data plane")
	}
}

func TestAllKeysFollowsCursors(t *testing.T) {
	pages := map[string]string{
		"":   `{"data":[{"id":"k1"},{"id":"k2"}],"next_cursor":"c1"}`,
		"c1": `{"data":[{"id":"k3"}],"next_cursor":"c2"}`,
		"c2": `{"data":[]}`,
	}
	var queries []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		queries = append(queries, r.URL.RawQuery)
		io.WriteString(w, pages[r.URL.Query().Get("cursor")])
	}))
	defer srv.Close()
	c := client.New(srv.URL)
	var ids []string
	for k, err := range c.AllKeys(context.Background(), client.KeyListOptions{AppID: "app_1"}) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, k.ID)
	}
	if strings.Join(ids, ",") != "k1,k2,k3" {
		t.Errorf("ids = %v", ids)
	}
	want := []string{"app_id=app_1", "app_id=app_1&cursor=c1", "app_id=app_1&cursor=c2"}
	if !reflect.DeepEqual(queries, want) {
		t.Errorf("queries = %v, want %v", queries, want)
	}

	// Stopping early stops fetching.
	queries = nil
	for range c.AllKeys(context.Background(), client.KeyListOptions{AppID: "app_1"}) {
		break
	}
	if len(queries) != 1 {
		t.Errorf("early stop fetched %d pages", len(queries))
	}
}

func TestDo(t *testing.T) {
	f, c := newFake(t, 201, `{"id":"role_1"}`)
	var out map[string]any
	err := c.Do(context.Background(), http.MethodPost, "/v1/roles", nil, map[string]any{"name": "admin"}, &out)
	if err != nil || out["id"] != "role_1" {
		t.Fatalf("Do = %v, %v", out, err)
	}
	if f.got[0].Path != "/v1/roles" || f.got[0].Header.Get("Authorization") != "Bearer "+rootKey {
		t.Errorf("request = %+v", f.got[0])
	}
}
