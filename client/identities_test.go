package client_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/typeauth/typeauth/client"
)

func TestIdentityRoleOverrideRoutes(t *testing.T) {
	ctx := context.Background()
	two := int64(2)
	reset := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	set := []string{"a.read"}
	empty := []string{}
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
		// identities
		{
			name: "CreateIdentity", status: 201, resp: `{"id":"id_1","external_id":"org_1","permissions":["a.read"]}`,
			call: func(c *client.Client) (any, error) {
				return c.CreateIdentity(ctx, client.CreateIdentityRequest{
					ExternalID: "org_1", AppID: "app_1", Meta: json.RawMessage(`{"plan":"pro"}`),
					RateLimits:  []client.RateLimit{{Name: "requests", Limit: 100, DurationMs: 60000, AutoApply: true}},
					Permissions: []string{"a.read"}, Roles: []string{"admin"},
				})
			},
			method: "POST", path: "/v1/identities",
			body: `{"external_id":"org_1","app_id":"app_1","meta":{"plan":"pro"},
				"ratelimits":[{"name":"requests","limit":100,"duration_ms":60000,"auto_apply":true}],
				"permissions":["a.read"],"roles":["admin"]}`,
			want: &client.Identity{ID: "id_1", ExternalID: "org_1", Permissions: []string{"a.read"}},
		},
		{
			name: "CreateIdentity sends only what is set", status: 201, resp: `{"id":"id_1","external_id":"org_1"}`,
			call: func(c *client.Client) (any, error) {
				return c.CreateIdentity(ctx, client.CreateIdentityRequest{ExternalID: "org_1"})
			},
			method: "POST", path: "/v1/identities", body: `{"external_id":"org_1"}`,
			want: &client.Identity{ID: "id_1", ExternalID: "org_1"},
		},
		{
			name: "GetIdentity escapes the id", status: 200, resp: `{"id":"id/1"}`,
			call:   func(c *client.Client) (any, error) { return c.GetIdentity(ctx, "id/1") },
			method: "GET", path: "/v1/identities/id/1",
			want: &client.Identity{ID: "id/1"},
		},
		{
			name: "ListIdentities", status: 200, resp: `{"data":[{"id":"id_1"}],"next_cursor":"c2"}`,
			call: func(c *client.Client) (any, error) {
				return c.ListIdentities(ctx, client.IdentityListOptions{AppID: "app_1", Cursor: "c1", Limit: 5})
			},
			method: "GET", path: "/v1/identities", query: "app_id=app_1&cursor=c1&limit=5",
			want: &client.List[client.Identity]{Data: []client.Identity{{ID: "id_1"}}, NextCursor: "c2"},
		},
		{
			name: "ListIdentities by external id", status: 200, resp: `{"data":[{"id":"id_1","external_id":"org 1"}]}`,
			call: func(c *client.Client) (any, error) {
				return c.ListIdentities(ctx, client.IdentityListOptions{ExternalID: "org 1"})
			},
			method: "GET", path: "/v1/identities", query: "external_id=org+1",
			want: &client.List[client.Identity]{Data: []client.Identity{{ID: "id_1", ExternalID: "org 1"}}},
		},
		{
			name: "UpdateIdentity sets, clears and leaves fields", status: 200, resp: `{"id":"id_1"}`,
			call: func(c *client.Client) (any, error) {
				return c.UpdateIdentity(ctx, "id_1", client.UpdateIdentityRequest{
					ExternalID: client.Some("org_2"), Meta: client.Null[json.RawMessage](),
					RateLimits: client.Some([]client.RateLimit{{Name: "r", Limit: 1, DurationMs: 1000}}),
				})
			},
			method: "PATCH", path: "/v1/identities/id_1",
			body: `{"external_id":"org_2","meta":null,"ratelimits":[{"name":"r","limit":1,"duration_ms":1000}]}`,
			want: &client.Identity{ID: "id_1"},
		},
		{
			name: "DeleteIdentity", status: 204,
			call:   func(c *client.Client) (any, error) { return nil, c.DeleteIdentity(ctx, "id_1") },
			method: "DELETE", path: "/v1/identities/id_1",
		},
		{
			name: "ChangeIdentityPermissions", status: 200, resp: `{"id":"id_1","permissions":["b"]}`,
			call: func(c *client.Client) (any, error) {
				return c.ChangeIdentityPermissions(ctx, "id_1", client.PermissionsChange{Add: []string{"b"}, Remove: []string{"a"}})
			},
			method: "POST", path: "/v1/identities/id_1/permissions", body: `{"add":["b"],"remove":["a"]}`,
			want: &client.Identity{ID: "id_1", Permissions: []string{"b"}},
		},
		{
			name: "ChangeIdentityRoles set to empty", status: 200, resp: `{"id":"id_1","roles":[]}`,
			call: func(c *client.Client) (any, error) {
				return c.ChangeIdentityRoles(ctx, "id_1", client.PermissionsChange{Set: &empty})
			},
			method: "POST", path: "/v1/identities/id_1/roles", body: `{"set":[]}`,
			want: &client.Identity{ID: "id_1", Roles: []string{}},
		},

		// keys
		{
			name: "ChangeKeyPermissions", status: 200, resp: `{"id":"key_1","permissions":["a.read"]}`,
			call: func(c *client.Client) (any, error) {
				return c.ChangeKeyPermissions(ctx, "key_1", client.PermissionsChange{Set: &set})
			},
			method: "POST", path: "/v1/keys/key_1/permissions", body: `{"set":["a.read"]}`,
			want: &client.Key{ID: "key_1", Permissions: []string{"a.read"}},
		},
		{
			name: "ChangeKeyRoles", status: 200, resp: `{"id":"key_1","roles":["admin"]}`,
			call: func(c *client.Client) (any, error) {
				return c.ChangeKeyRoles(ctx, "key_1", client.PermissionsChange{Add: []string{"admin"}})
			},
			method: "POST", path: "/v1/keys/key_1/roles", body: `{"add":["admin"]}`,
			want: &client.Key{ID: "key_1", Roles: []string{"admin"}},
		},

		// roles
		{
			name: "CreateRole", status: 201, resp: `{"id":"role_1","name":"admin","permissions":["*"]}`,
			call: func(c *client.Client) (any, error) {
				return c.CreateRole(ctx, client.CreateRoleRequest{Name: "admin", Description: "all", Permissions: []string{"*"}})
			},
			method: "POST", path: "/v1/roles", body: `{"name":"admin","description":"all","permissions":["*"]}`,
			want: &client.Role{ID: "role_1", Name: "admin", Permissions: []string{"*"}},
		},
		{
			name: "GetRole", status: 200, resp: `{"id":"role_1"}`,
			call:   func(c *client.Client) (any, error) { return c.GetRole(ctx, "role_1") },
			method: "GET", path: "/v1/roles/role_1",
			want: &client.Role{ID: "role_1"},
		},
		{
			name: "ListRoles", status: 200, resp: `{"data":[{"id":"role_1"}]}`,
			call:   func(c *client.Client) (any, error) { return c.ListRoles(ctx, client.ListOptions{Limit: 3}) },
			method: "GET", path: "/v1/roles", query: "limit=3",
			want: &client.List[client.Role]{Data: []client.Role{{ID: "role_1"}}},
		},
		{
			name: "UpdateRole", status: 200, resp: `{"id":"role_1","name":"ops"}`,
			call: func(c *client.Client) (any, error) {
				return c.UpdateRole(ctx, "role_1", client.UpdateRoleRequest{Name: client.Some("ops"), Description: client.Null[string]()})
			},
			method: "PATCH", path: "/v1/roles/role_1", body: `{"name":"ops","description":null}`,
			want: &client.Role{ID: "role_1", Name: "ops"},
		},
		{
			name: "DeleteRole", status: 204,
			call:   func(c *client.Client) (any, error) { return nil, c.DeleteRole(ctx, "role_1") },
			method: "DELETE", path: "/v1/roles/role_1",
		},

		// overrides
		{
			name: "CreateOverride", status: 201, resp: `{"id":"ovr_1","namespace":"login","identifier":"10.*","limit":5,"duration_ms":60000}`,
			call: func(c *client.Client) (any, error) {
				return c.CreateOverride(ctx, client.CreateOverrideRequest{Namespace: "login", Identifier: "10.*", Limit: 5, DurationMs: 60000})
			},
			method: "POST", path: "/v1/ratelimit/overrides",
			body: `{"namespace":"login","identifier":"10.*","limit":5,"duration_ms":60000}`,
			want: &client.RateLimitOverride{ID: "ovr_1", Namespace: "login", Identifier: "10.*", Limit: 5, DurationMs: 60000},
		},
		{
			name: "ListOverrides", status: 200, resp: `{"data":[{"id":"ovr_1"}]}`,
			call: func(c *client.Client) (any, error) {
				return c.ListOverrides(ctx, "log in", client.ListOptions{Cursor: "c", Limit: 2})
			},
			method: "GET", path: "/v1/ratelimit/overrides", query: "cursor=c&limit=2&namespace=log+in",
			want: &client.List[client.RateLimitOverride]{Data: []client.RateLimitOverride{{ID: "ovr_1"}}},
		},
		{
			name: "DeleteOverride", status: 204,
			call:   func(c *client.Client) (any, error) { return nil, c.DeleteOverride(ctx, "ovr_1") },
			method: "DELETE", path: "/v1/ratelimit/overrides/ovr_1",
		},

		// data plane
		{
			name: "RateLimit", status: 200,
			resp: `{"success":false,"limit":10,"remaining":0,"reset_at":"2030-01-02T03:04:05Z","retry_after_ms":1500,"override_id":"ovr_1"}`,
			call: func(c *client.Client) (any, error) {
				return c.RateLimit(ctx, client.RateLimitRequest{Namespace: "login", Identifier: "1.2.3.4", Limit: 10, DurationMs: 60000, Cost: &two})
			},
			method: "POST", path: "/v1/ratelimit",
			body:      `{"namespace":"login","identifier":"1.2.3.4","limit":10,"duration_ms":60000,"cost":2}`,
			want:      &client.RateLimitResponse{Limit: 10, ResetAt: reset, RetryAfterMs: 1500, OverrideID: "ovr_1"},
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
				wantAuth = ""
			}
			if got := r.Header.Get("Authorization"); got != wantAuth {
				t.Errorf("Authorization = %q, want %q", got, wantAuth)
			}
			if tt.want != nil && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("result = %+v\nwant     %+v", got, tt.want)
			}
		})
	}
}

func TestIdentityEmptyIDs(t *testing.T) {
	ctx := context.Background()
	f, c := newFake(t, 200, `{}`)
	ch := client.PermissionsChange{Add: []string{"a"}}
	calls := map[string]func() error{
		"GetIdentity":    func() error { _, err := c.GetIdentity(ctx, ""); return err },
		"UpdateIdentity": func() error { _, err := c.UpdateIdentity(ctx, "", client.UpdateIdentityRequest{}); return err },
		"DeleteIdentity": func() error { return c.DeleteIdentity(ctx, "") },
		"ChangeIdentityPermissions": func() error {
			_, err := c.ChangeIdentityPermissions(ctx, "", ch)
			return err
		},
		"ChangeIdentityRoles":  func() error { _, err := c.ChangeIdentityRoles(ctx, "", ch); return err },
		"ChangeKeyPermissions": func() error { _, err := c.ChangeKeyPermissions(ctx, "", ch); return err },
		"ChangeKeyRoles":       func() error { _, err := c.ChangeKeyRoles(ctx, "", ch); return err },
		"GetRole":              func() error { _, err := c.GetRole(ctx, ""); return err },
		"UpdateRole":           func() error { _, err := c.UpdateRole(ctx, "", client.UpdateRoleRequest{}); return err },
		"DeleteRole":           func() error { return c.DeleteRole(ctx, "") },
		"DeleteOverride":       func() error { return c.DeleteOverride(ctx, "") },
	}
	for name, call := range calls {
		if err := call(); err == nil {
			t.Errorf("%s with an empty id: want an error", name)
		}
	}
	if len(f.got) != 0 {
		t.Errorf("empty ids sent %d requests", len(f.got))
	}
}

func TestIdentityConflictIsAnError(t *testing.T) {
	f, c := newFake(t, 409, `{"title":"Conflict","status":409,"code":"external_id_taken"}`)
	f.ctype = "application/problem+json"
	_, err := c.CreateIdentity(context.Background(), client.CreateIdentityRequest{ExternalID: "org_1"},
		client.WithIdempotencyKey("idem-9"))
	if !client.IsConflict(err) {
		t.Fatalf("err = %v, want a 409", err)
	}
	if e, _ := client.AsError(err); e.Code != "external_id_taken" {
		t.Errorf("code = %q", e.Code)
	}
	if got := f.got[0].Header.Get("Idempotency-Key"); got != "idem-9" {
		t.Errorf("Idempotency-Key = %q", got)
	}
}

func TestRateLimitGoesToDataPlane(t *testing.T) {
	adminFake := &fake{t: t, status: 200, body: `{}`}
	dataFake := &fake{t: t, status: 200, body: `{"success":true,"limit":10,"remaining":9,"reset_at":"2030-01-02T03:04:05Z"}`}
	adm, dat := httptest.NewServer(adminFake), httptest.NewServer(dataFake)
	defer adm.Close()
	defer dat.Close()
	c := client.New(adm.URL, client.WithRootKey(rootKey), client.WithDataURL(dat.URL))
	res, err := c.RateLimit(context.Background(), client.RateLimitRequest{Namespace: "n", Identifier: "i", Limit: 10, DurationMs: 1000})
	if err != nil || !res.Success || res.Remaining != 9 {
		t.Fatalf("RateLimit = %+v, %v", res, err)
	}
	if len(adminFake.got) != 0 || len(dataFake.got) != 1 {
		t.Fatalf("admin saw %d, data saw %d", len(adminFake.got), len(dataFake.got))
	}
	if dataFake.got[0].Header.Get("Authorization") != "" {
		t.Error("root key sent to the data plane")
	}
	if !jsonEqual(t, dataFake.got[0].Body, `{"namespace":"n","identifier":"i","limit":10,"duration_ms":1000}`) {
		t.Errorf("body = %s (cost must be left out when nil)", dataFake.got[0].Body)
	}
}

func TestAllIdentitiesAndRolesFollowCursors(t *testing.T) {
	var queries []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		queries = append(queries, r.URL.Path+"?"+r.URL.RawQuery)
		if r.URL.Query().Get("cursor") == "" {
			w.Write([]byte(`{"data":[{"id":"x1"}],"next_cursor":"c1"}`))
			return
		}
		w.Write([]byte(`{"data":[{"id":"x2"}]}`))
	}))
	defer srv.Close()
	c := client.New(srv.URL)
	ctx := context.Background()
	var ids []string
	for id, err := range c.AllIdentities(ctx, client.IdentityListOptions{AppID: "app_1"}) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id.ID)
	}
	for r, err := range c.AllRoles(ctx, client.ListOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	for o, err := range c.AllOverrides(ctx, "login", client.ListOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, o.ID)
	}
	if strings.Join(ids, ",") != "x1,x2,x1,x2,x1,x2" {
		t.Errorf("ids = %v", ids)
	}
	want := []string{
		"/v1/identities?app_id=app_1", "/v1/identities?app_id=app_1&cursor=c1",
		"/v1/roles?", "/v1/roles?cursor=c1",
		"/v1/ratelimit/overrides?namespace=login", "/v1/ratelimit/overrides?cursor=c1&namespace=login",
	}
	if !reflect.DeepEqual(queries, want) {
		t.Errorf("queries = %v\nwant      %v", queries, want)
	}
}
