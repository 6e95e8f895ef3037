package e2e

import (
	"testing"

	"github.com/typeauth/typeauth/client"
)

func TestAuthorize(t *testing.T) {
	p := start(t, serveOpts{})
	app := createApp(t, p, "A", "fa")
	other := createApp(t, p, "B", "fb")
	k := createKey(t, p, client.CreateKeyRequest{AppID: app.ID, OwnerID: "user_7"})
	one := createKey(t, p, client.CreateKeyRequest{AppID: app.ID, Credits: &client.Credits{Remaining: 1}})
	off := createKey(t, p, client.CreateKeyRequest{AppID: app.ID, Enabled: new(bool)})

	tests := []struct {
		name   string
		method string
		path   string
		hdr    []string
		status int
		code   string
	}{
		{"bearer", "GET", "/v1/authorize", []string{"Authorization", "Bearer " + k.Secret}, 200, "VALID"},
		{"x-api-key, any method and sub-path", "POST", "/v1/authorize/orders/42", []string{"X-API-Key", k.Secret}, 200, "VALID"},
		{"narrowed to its app", "GET", "/v1/authorize", []string{"X-API-Key", k.Secret, "X-TypeAuth-App-Id", app.ID}, 200, "VALID"},
		{"narrowed to another app", "GET", "/v1/authorize", []string{"X-API-Key", k.Secret, "X-TypeAuth-App-Id", other.ID}, 403, "FORBIDDEN"},
		{"no credential", "GET", "/v1/authorize", nil, 401, "NOT_FOUND"},
		{"malformed", "GET", "/v1/authorize", []string{"Authorization", "Bearer nope"}, 401, "MALFORMED"},
		{"disabled", "GET", "/v1/authorize", []string{"X-API-Key", off.Secret}, 401, "DISABLED"},
		{"one credit", "GET", "/v1/authorize", []string{"X-API-Key", one.Secret}, 200, "VALID"},
		{"credits exhausted", "GET", "/v1/authorize", []string{"X-API-Key", one.Secret}, 429, "USAGE_EXCEEDED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, h, body := callRaw(t, tt.method, p.Data+tt.path, "", nil, tt.hdr...)
			if st != tt.status || h.Get("X-TypeAuth-Code") != tt.code {
				t.Fatalf("status %d code %q, want %d %q (%s)", st, h.Get("X-TypeAuth-Code"), tt.status, tt.code, body)
			}
			if st == 200 {
				if len(body) != 0 {
					t.Fatalf("allowed answer has a body: %q", body)
				}
				if h.Get("X-TypeAuth-App-Id") != app.ID || h.Get("X-TypeAuth-Key-Id") == "" {
					t.Fatalf("identity headers missing: %v", h)
				}
				return
			}
			if h.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("denial content type %q", h.Get("Content-Type"))
			}
			if st == 401 && h.Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
		})
	}
	_, h, _ := callRaw(t, "GET", p.Data+"/v1/authorize", "", nil, "Authorization", "Bearer "+k.Secret)
	if h.Get("X-TypeAuth-Owner-Id") != "user_7" {
		t.Fatalf("owner header %q", h.Get("X-TypeAuth-Owner-Id"))
	}
}
