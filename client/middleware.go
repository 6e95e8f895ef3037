package client

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MiddlewareOptions configure Middleware.
type MiddlewareOptions struct {
	AppID       string // accept only keys of this app
	Permissions string // permission query every request must satisfy
	// Credits is the cost of each request (nil: the server default, 1).
	Credits *int64
	// CacheTTL caches VALID answers in memory for this long (0: no cache).
	// Only answers that spend nothing are cached (set Credits to 0 and use
	// no rate limits): a cached answer outlives a revocation by up to TTL.
	CacheTTL time.Duration
	// CacheSize bounds the cache (default 10,000 entries).
	CacheSize int
	// Timeout bounds each verify call (default 2s). On a timeout or any
	// error, the request is refused with 503: fail closed.
	Timeout time.Duration
	// ClientIP returns the client address to check against IP allow lists
	// (default: the request's peer address).
	ClientIP func(*http.Request) string
}

type ctxKey struct{}

// FromContext returns the verify answer Middleware stored for a request.
func FromContext(ctx context.Context) (*VerifyResponse, bool) {
	v, ok := ctx.Value(ctxKey{}).(*VerifyResponse)
	return v, ok
}

// Middleware returns net/http middleware for a backend without a gateway: it
// takes the key from Authorization: Bearer or X-API-Key, verifies it through
// TypeAuth's data plane, and calls next with the answer in the request context
// (FromContext). A denial is answered with the mapped status (401, 403, 429
// with Retry-After) and a problem+json body; a failure to verify with 503.
func (c *Client) Middleware(o MiddlewareOptions) func(http.Handler) http.Handler {
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	if o.CacheSize <= 0 {
		o.CacheSize = 10_000
	}
	cache := &verifyCache{max: o.CacheSize, m: map[[32]byte]cacheEntry{}}
	cacheable := o.CacheTTL > 0 && o.Credits != nil && *o.Credits == 0
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			key := credential(r)
			if key == "" {
				deny(w, http.StatusUnauthorized, "NOT_FOUND", "send Authorization: Bearer <key> or X-API-Key", 0)
				return
			}
			var h [32]byte
			if cacheable {
				h = sha256.Sum256([]byte(key))
				if v, ok := cache.get(h); ok {
					next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, v)))
					return
				}
			}
			ip := ""
			if o.ClientIP != nil {
				ip = o.ClientIP(r)
			} else if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
				ip = host
			}
			ctx, cancel := context.WithTimeout(r.Context(), o.Timeout)
			v, err := c.Verify(ctx, VerifyRequest{Key: key, AppID: o.AppID, Permissions: o.Permissions, Credits: o.Credits, IP: ip})
			cancel()
			if err != nil {
				w.Header().Set("Retry-After", "1")
				deny(w, http.StatusServiceUnavailable, "cannot_decide", "the key cannot be verified now", 0)
				return
			}
			if !v.Valid {
				deny(w, statusOf(v.Code), v.Code, v.Message, v.RetryAfterMs)
				return
			}
			if cacheable {
				exp := time.Now().Add(o.CacheTTL)
				if v.ExpiresAt != nil && v.ExpiresAt.Before(exp) {
					exp = *v.ExpiresAt
				}
				cache.put(h, v, exp)
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, v)))
		})
	}
}

func credential(r *http.Request) string {
	if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		return strings.TrimSpace(a[7:])
	}
	return strings.TrimSpace(r.Header.Get("X-API-Key"))
}

// statusOf maps a verify code to the HTTP status a gateway answers with.
func statusOf(code string) int {
	switch code {
	case "FORBIDDEN", "INSUFFICIENT_PERMISSIONS":
		return http.StatusForbidden
	case "RATE_LIMITED", "USAGE_EXCEEDED":
		return http.StatusTooManyRequests
	}
	return http.StatusUnauthorized
}

func deny(w http.ResponseWriter, status int, code, detail string, retryAfterMs int64) {
	h := w.Header()
	if status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="typeauth"`)
	}
	if retryAfterMs > 0 {
		h.Set("Retry-After", strconv.FormatInt((retryAfterMs+999)/1000, 10))
	}
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-TypeAuth-Code", code)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(Problem{Type: "https://typeauth.dev/problems/" + strings.ToLower(code), Title: http.StatusText(status), Status: status, Code: code, Detail: detail})
}

type cacheEntry struct {
	v   *VerifyResponse
	exp time.Time
}

// verifyCache keys answers by the SHA-256 of the key: the secret is not kept.
type verifyCache struct {
	mu  sync.Mutex
	max int
	m   map[[32]byte]cacheEntry
}

func (c *verifyCache) get(h [32]byte) (*VerifyResponse, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[h]
	if !ok || !time.Now().Before(e.exp) {
		delete(c.m, h)
		return nil, false
	}
	return e.v, true
}

func (c *verifyCache) put(h [32]byte, v *VerifyResponse, exp time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[h] = cacheEntry{v: v, exp: exp}
}
