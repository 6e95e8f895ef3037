package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisURL returns TYPEAUTH_TEST_REDIS_URL and a fresh key prefix whose keys
// are deleted when the test ends. Without the variable the test skips,
// except under CI=true, where that is a failure.
func redisURL(t *testing.T) (string, string) {
	t.Helper()
	u := os.Getenv("TYPEAUTH_TEST_REDIS_URL")
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("TYPEAUTH_TEST_REDIS_URL is not set (required under CI=true)")
		}
		t.Skip("set TYPEAUTH_TEST_REDIS_URL to run the Redis end-to-end tests")
	}
	b := make([]byte, 6)
	rand.Read(b)
	prefix := "e2e:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		opt, err := redis.ParseURL(u)
		if err != nil {
			return
		}
		c := redis.NewClient(opt)
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
	})
	return u, prefix
}

// urlHost returns the host:port of a URL.
func urlHost(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// viaHost returns raw with its host:port replaced.
func viaHost(t *testing.T, raw, hostport string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = hostport
	return u.String()
}

// startReplicas starts n `typeauth serve` processes sharing db and Redis,
// one after the other (the first migrates and bootstraps the root key).
func startReplicas(t *testing.T, n int, db, rds, prefix string, extra ...string) []*proc {
	t.Helper()
	root := newRootKey()
	args := append([]string{"--redis-url", rds, "--redis-prefix", prefix, "--replicas", "3", "--invalidation-poll", "250ms"}, extra...)
	var ps []*proc
	for range n {
		ps = append(ps, start(t, serveOpts{databaseURL: db, rootKey: root, args: args}))
	}
	return ps
}

var loadClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// verifyRaw posts a verify and returns the HTTP status and the code ("" when
// the status is not 200; "NO_ANSWER" when the request got no answer).
func verifyRaw(base, secret string) (int, string) {
	body, _ := json.Marshal(map[string]any{"key": secret})
	resp, err := loadClient.Post(base+"/v1/verify", "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, "NO_ANSWER"
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return resp.StatusCode, ""
	}
	var v struct{ Code string }
	json.Unmarshal(raw, &v)
	return 200, v.Code
}

// httpGet returns the status and body of a GET.
func httpGet(url string) (int, string) {
	resp, err := loadClient.Get(url)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

// eventually polls cond every 10ms until it holds or within passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < within {
		if cond() {
			return time.Since(start)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s: not within %v", what, within)
	return 0
}

// percentile returns the p-th percentile (0..100) of ds.
func percentile(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(0, min(len(s)-1, i-1))]
}

// metric returns the value line of a Prometheus metric ("" if absent).
func metric(body, name string) string {
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, name+" ") {
			return strings.TrimPrefix(line, name+" ")
		}
	}
	return ""
}
