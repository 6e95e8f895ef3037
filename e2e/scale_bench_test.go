package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/typeauth/typeauth/client"
)

// TestRateLimitThroughput measures one replica's verify throughput for a key
// with a rate limit, decided by the local limiter and by Redis, and for a
// key without limits, loaded alternately in the same run (BENCH.md). It is
// a measurement, not a check: it runs only with TYPEAUTH_BENCH_SCALE=1.
//
//	TYPEAUTH_BENCH_SCALE=1 TYPEAUTH_TEST_REDIS_URL=redis://127.0.0.1:6379/0 \
//	  go test -count=1 -v -run TestRateLimitThroughput ./e2e
func TestRateLimitThroughput(t *testing.T) {
	if os.Getenv("TYPEAUTH_BENCH_SCALE") != "1" {
		t.Skip("a measurement: set TYPEAUTH_BENCH_SCALE=1 to run it")
	}
	rds, prefix := redisURL(t)
	local := start(t, serveOpts{args: []string{"--log-level", "info"}})
	shared := start(t, serveOpts{args: []string{"--log-level", "info", "--redis-url", rds, "--redis-prefix", prefix}})
	limits := []client.RateLimit{{Name: "big", Limit: 1_000_000_000, DurationMs: 60_000, AutoApply: true}}
	targets := []struct {
		name, url, secret string
	}{
		{"no limit", local.Data, createKey(t, local, client.CreateKeyRequest{AppID: createApp(t, local, "B", "bn").ID}).Secret},
		{"local limiter", local.Data, createKey(t, local, client.CreateKeyRequest{AppID: createApp(t, local, "L", "bl").ID, RateLimits: limits}).Secret},
		{"redis limiter", shared.Data, createKey(t, shared, client.CreateKeyRequest{AppID: createApp(t, shared, "R", "br").ID, RateLimits: limits}).Secret},
	}
	const conns, runs = 64, 3
	dur := 5 * time.Second
	for _, c := range []int{conns, 1} {
		res := map[string][]float64{}
		p50s, p99s := map[string][]time.Duration{}, map[string][]time.Duration{}
		for _, tg := range targets {
			load(t, tg.url, tg.secret, c, time.Second) // warm-up
		}
		for range runs {
			for _, tg := range targets {
				rps, p50, p99 := load(t, tg.url, tg.secret, c, dur)
				res[tg.name] = append(res[tg.name], rps)
				p50s[tg.name] = append(p50s[tg.name], p50)
				p99s[tg.name] = append(p99s[tg.name], p99)
			}
		}
		base := median(res["no limit"])
		for _, tg := range targets {
			m := median(res[tg.name])
			t.Logf("%d conns, %s: %.0f req/s (runs %.0f), p50 %v, p99 %v; %.2f of no limit", c, tg.name, m, res[tg.name],
				medianD(p50s[tg.name]), medianD(p99s[tg.name]), m/base)
		}
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func medianD(xs []time.Duration) time.Duration {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// load runs conns keep-alive connections posting verifies of secret for d
// and returns requests/s and the p50 and p99 latencies.
func load(t *testing.T, base, secret string, conns int, d time.Duration) (float64, time.Duration, time.Duration) {
	body := []byte(`{"key":"` + secret + `"}`)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}}
	defer hc.CloseIdleConnections()
	var mu sync.Mutex
	var lat []time.Duration
	var errs int
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	for range conns {
		wg.Go(func() {
			var mine []time.Duration
			bad := 0
			buf := make([]byte, 4096)
			for time.Now().Before(deadline) {
				s := time.Now()
				resp, err := hc.Post(base+"/v1/verify", "application/json", bytes.NewReader(body))
				if err != nil {
					bad++
					continue
				}
				n, _ := resp.Body.Read(buf)
				resp.Body.Close()
				if resp.StatusCode != 200 || !bytes.Contains(buf[:n], []byte(`"VALID"`)) {
					bad++
				}
				mine = append(mine, time.Since(s))
			}
			mu.Lock()
			lat = append(lat, mine...)
			errs += bad
			mu.Unlock()
		})
	}
	wg.Wait()
	if errs > 0 {
		t.Errorf("%s: %d bad answers", base, errs)
	}
	slices.Sort(lat)
	if len(lat) == 0 {
		t.Fatal(fmt.Sprintf("%s: no answers", base))
	}
	return float64(len(lat)) / d.Seconds(), lat[len(lat)/2], lat[len(lat)*99/100]
}
