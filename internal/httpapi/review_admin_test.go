package httpapi

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
)

// Millisecond counts that overflow time.Duration must be refused, not wrap
// around into an accepted (and different) value.
func TestAdminDurationsDoNotWrap(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	rk, err := s.manage.Bootstrap(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	h := s.AdminHandler()
	do := func(method, path, body string) (int, string) {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+rk.Secret)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	code, body := do("POST", "/v1/apps", `{"name":"A","key_prefix":"wrap"}`)
	if code != 201 {
		t.Fatalf("create app: %d %s", code, body)
	}
	var app struct{ ID string }
	json.Unmarshal([]byte(body), &app)
	code, body = do("POST", "/v1/keys", `{"app_id":"`+app.ID+`"}`)
	if code != 201 {
		t.Fatalf("create key: %d %s", code, body)
	}
	var key struct{ ID string }
	json.Unmarshal([]byte(body), &key)

	// (2^58+1) ms * 1e6 ns wraps around int64 to exactly 1 ms.
	const wraps = "288230376151711745"
	if code, body := do("POST", "/v1/keys/"+key.ID+"/roll", `{"grace_period_ms":`+wraps+`}`); code != 400 {
		t.Errorf("roll with an overflowing grace period: %d %s, want 400", code, body)
	}
	if code, body := do("POST", "/v1/ratelimit/overrides", `{"namespace":"n","identifier":"i","limit":1,"duration_ms":`+wraps+`}`); code != 400 {
		t.Errorf("override with an overflowing duration: %d %s, want 400", code, body)
	}
}
