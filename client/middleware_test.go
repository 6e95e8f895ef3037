package client_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/typeauth/typeauth/client"
)

func TestMiddleware(t *testing.T) {
	var calls atomic.Int64
	data := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		var req client.VerifyRequest
		json.NewDecoder(r.Body).Decode(&req)
		resp := client.VerifyResponse{Code: "NOT_FOUND"}
		switch req.Key {
		case "good":
			resp = client.VerifyResponse{Valid: true, Code: "VALID", KeyID: "key_1", OwnerID: "user_1"}
		case "limited":
			resp = client.VerifyResponse{Code: "RATE_LIMITED", RetryAfterMs: 1500}
		}
		json.NewEncoder(w).Encode(resp)
	}))
	defer data.Close()
	zero := int64(0)
	c := client.New("http://unused", client.WithDataURL(data.URL))
	h := c.Middleware(client.MiddlewareOptions{CacheTTL: time.Minute, Credits: &zero})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, ok := client.FromContext(r.Context())
		if !ok || v.KeyID != "key_1" {
			t.Errorf("no verify answer in the context")
		}
		w.WriteHeader(204)
	}))
	do := func(hdr, val string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/x", nil)
		if hdr != "" {
			r.Header.Set(hdr, val)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	if w := do("Authorization", "Bearer good"); w.Code != 204 {
		t.Fatalf("valid: %d", w.Code)
	}
	if w := do("X-API-Key", "good"); w.Code != 204 || calls.Load() != 1 {
		t.Fatalf("cached valid: %d after %d calls, want 1 call", w.Code, calls.Load())
	}
	if w := do("", ""); w.Code != 401 || w.Header().Get("WWW-Authenticate") == "" {
		t.Fatalf("missing: %d", w.Code)
	}
	if w := do("X-API-Key", "bad"); w.Code != 401 || w.Header().Get("X-TypeAuth-Code") != "NOT_FOUND" {
		t.Fatalf("bad: %d", w.Code)
	}
	if w := do("X-API-Key", "limited"); w.Code != 429 || w.Header().Get("Retry-After") != "2" {
		t.Fatalf("limited: %d Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
	data.Close()
	if w := do("X-API-Key", "other"); w.Code != 503 {
		t.Fatalf("TypeAuth down: %d, want 503 (fail closed)", w.Code)
	}
}
