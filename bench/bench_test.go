package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/typeauth/typeauth/client"
)

// Real wrk 4.1.0 reports (run with --latency).
const wrkOK = `Running 2s test @ http://127.0.0.1:39999/v1/verify
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.38ms    2.85ms  23.08ms   85.41%
    Req/Sec    19.93k     2.42k   25.64k    72.50%
  Latency Distribution
     50%    1.48ms
     75%    3.64ms
     90%    6.30ms
     99%   12.15ms
  79501 requests in 2.00s, 18.26MB read
Requests/sec:  39675.81
Transfer/sec:      9.11MB
`

const wrkErrors = `Running 1s test @ http://127.0.0.1:39999/nope
  1 threads and 2 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   137.47us  218.04us   4.13ms   96.98%
    Req/Sec    16.76k     3.46k   24.46k    81.82%
  Latency Distribution
     50%  112.00us
     75%  136.00us
     90%  182.00us
     99%    1.00ms
  18327 requests in 1.10s, 3.08MB read
  Socket errors: connect 0, read 3, write 1, timeout 2
  Non-2xx or 3xx responses: 18327
Requests/sec:  16672.61
Transfer/sec:      2.80MB
`

func TestParseWrk(t *testing.T) {
	tests := []struct {
		name string
		out  string
		want result
	}{
		{"ok", wrkOK, result{rps: 39675.81, p50: 1480 * time.Microsecond, p99: 12150 * time.Microsecond,
			requests: 79501, elapsed: 2 * time.Second}},
		{"errors", wrkErrors, result{rps: 16672.61, p50: 112 * time.Microsecond, p99: time.Millisecond,
			requests: 18327, elapsed: 1100 * time.Millisecond, non2xx: 18327, sockErrs: 6}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseWrk(tt.out)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("parseWrk:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseWrkIncomplete(t *testing.T) {
	noLatency := strings.Replace(wrkOK, "     99%   12.15ms\n", "", 1)
	for _, out := range []string{"", "unable to connect to 127.0.0.1:1 Connection refused", noLatency} {
		if _, err := parseWrk(out); err == nil {
			t.Errorf("parseWrk(%.40q): no error", out)
		}
	}
}

func TestParseWrkDuration(t *testing.T) {
	tests := map[string]time.Duration{
		"812.00us": 812 * time.Microsecond,
		"1.52ms":   1520 * time.Microsecond,
		"10.00s":   10 * time.Second,
		"1.50m":    90 * time.Second,
		"1.00h":    time.Hour,
	}
	for in, want := range tests {
		if got, err := parseWrkDuration(in); err != nil || got != want {
			t.Errorf("parseWrkDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "ms", "1.5", "-1ms", "1.5xs"} {
		if _, err := parseWrkDuration(in); err == nil {
			t.Errorf("parseWrkDuration(%q): no error", in)
		}
	}
}

func TestHistBuckets(t *testing.T) {
	// Every value falls in a bucket whose bounds hold it, and buckets tile
	// the range without gaps.
	for _, v := range []uint64{0, 1, 127, 128, 129, 255, 256, 257, 1000, 123456789, 1 << 40, 1<<63 - 1, 1<<64 - 1} {
		i := histIndex(v)
		if i < 0 || i >= histBuckets {
			t.Fatalf("histIndex(%d) = %d, out of range", v, i)
		}
		if lo, hi := histLow(i), histHigh(i); v < lo || v > hi {
			t.Errorf("value %d in bucket %d = [%d, %d]", v, i, lo, hi)
		}
	}
	for i := 1; i < histBuckets; i++ {
		if histLow(i) != histHigh(i-1)+1 {
			t.Fatalf("gap between bucket %d (high %d) and %d (low %d)", i-1, histHigh(i-1), i, histLow(i))
		}
	}
}

func TestPercentile(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h hist
	var vals []time.Duration
	for i := 0; i < 100000; i++ {
		// Log-normal-ish latencies from 20 µs to ~50 ms.
		d := time.Duration(20000 * (1 + rng.ExpFloat64()*rng.ExpFloat64()*30))
		vals = append(vals, d)
		h.record(d)
	}
	slices.Sort(vals)
	for _, p := range []float64{1, 50, 90, 99, 99.9, 100} {
		exact := percentileSorted(vals, p)
		got := h.percentile(p)
		if diff := float64(got-exact) / float64(exact); diff > 0.008 || diff < -0.008 {
			t.Errorf("p%v: histogram %v, exact %v (%.2f%% off)", p, got, exact, diff*100)
		}
	}
	if got := h.percentile(100); got != vals[len(vals)-1] && float64(vals[len(vals)-1]-got)/float64(got) > 0.008 {
		t.Errorf("p100 = %v, max %v", got, vals[len(vals)-1])
	}

	// Nearest rank on a small known set.
	small := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for p, want := range map[float64]time.Duration{50: 5, 90: 9, 99: 10, 100: 10, 0.1: 1} {
		if got := percentileSorted(small, p); got != want {
			t.Errorf("percentileSorted(1..10, %v) = %v, want %v", p, got, want)
		}
	}
	var hs hist
	for _, d := range small {
		hs.record(d)
	}
	if got := hs.percentile(50); got != 5 {
		t.Errorf("hist p50 of 1..10 ns = %v, want 5ns", got)
	}
	var empty hist
	if empty.percentile(99) != 0 {
		t.Error("empty histogram: want 0")
	}
}

func TestMedian(t *testing.T) {
	if got := median([]float64{3, 1, 2}); got != 2 {
		t.Errorf("median(3,1,2) = %v", got)
	}
	if got := median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("median(4,1,3,2) = %v", got)
	}
}

func TestReadResponse(t *testing.T) {
	tests := []struct {
		name, raw string
		status    int
		body      string
		close     bool
	}{
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 14\r\n\r\n{\"valid\":true}", 200, `{"valid":true}`, false},
		{"empty", "HTTP/1.1 200 OK\r\nX-Typeauth-Key-Id: key_1\r\nContent-Length: 0\r\n\r\n", 200, "", false},
		{"chunked", "HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n3;x=y\r\nefg\r\n0\r\n\r\n", 401, "abcdefg", false},
		{"close", "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 2\r\n\r\nno", 503, "no", true},
		{"204", "HTTP/1.1 204 No Content\r\n\r\n", 204, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Two responses back to back: the first must not eat the second.
			br := bufio.NewReader(strings.NewReader(tt.raw + tt.raw))
			for i := 0; i < 2; i++ {
				status, body, closeConn, err := readResponse(br, nil)
				if err != nil || status != tt.status || string(body) != tt.body || closeConn != tt.close {
					t.Fatalf("#%d: got %d %q close=%v err=%v", i, status, body, closeConn, err)
				}
			}
		})
	}
	for _, raw := range []string{"garbage\r\n\r\n", "HTTP/1.1 2x0 OK\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"} {
		if _, _, _, err := readResponse(bufio.NewReader(strings.NewReader(raw)), nil); err == nil {
			t.Errorf("readResponse(%q): no error", raw)
		}
	}
}

func TestAppendBody(t *testing.T) {
	wl := &workload{endpoint: "verify", appID: "app_1", secrets: []string{"bench_abc", `we"ird\<key>`}}
	for i := range wl.secrets {
		want, _ := json.Marshal(client.VerifyRequest{Key: wl.secrets[i], AppID: wl.appID})
		if got := wl.appendBody(nil, i); string(got) != string(want) {
			t.Errorf("appendBody = %s, want %s", got, want)
		}
	}
}

func TestSecretFormat(t *testing.T) {
	s := newSecret("bench")
	if len(s) != len("bench_")+28+6 || !strings.HasPrefix(s, "bench_") {
		t.Errorf("newSecret = %q", s)
	}
}

// TestGoLoad runs the built-in generator for a moment against a server that
// answers like the baseline, then against one that answers 500.
func TestGoLoad(t *testing.T) {
	wl := &workload{endpoint: "verify", appID: "app_1", secrets: []string{newSecret("bench"), newSecret("bench")}}
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req client.VerifyRequest
		if r.URL.Path != "/v1/verify" || json.NewDecoder(r.Body).Decode(&req) != nil || req.AppID != "app_1" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		json.NewEncoder(w).Encode(client.VerifyResponse{Valid: true, Code: "VALID"})
	}))
	defer ok.Close()
	r := goLoad(context.Background(), strings.TrimPrefix(ok.URL, "http://"), wl, 4, 200*time.Millisecond)
	if r.requests == 0 || r.errors() != 0 || r.p50 <= 0 || r.p99 < r.p50 {
		t.Errorf("good server: %+v", r)
	}

	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer bad.Close()
	r = goLoad(context.Background(), strings.TrimPrefix(bad.URL, "http://"), wl, 2, 100*time.Millisecond)
	if r.requests == 0 || r.non2xx != r.requests || r.firstErr == "" {
		t.Errorf("failing server: %+v", r)
	}
}

// TestGoLoadOnePass checks that a fill pass requests every key exactly once.
func TestGoLoadOnePass(t *testing.T) {
	wl := &workload{endpoint: "verify", appID: "app_1"}
	for i := 0; i < 103; i++ {
		wl.secrets = append(wl.secrets, newSecret("bench"))
	}
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req client.VerifyRequest
		json.NewDecoder(r.Body).Decode(&req)
		mu.Lock()
		seen[req.Key]++
		mu.Unlock()
		json.NewEncoder(w).Encode(client.VerifyResponse{Valid: true, Code: "VALID"})
	}))
	defer srv.Close()
	r := goLoadN(context.Background(), strings.TrimPrefix(srv.URL, "http://"), wl, 8, 10*time.Second, true)
	if r.requests != 103 || r.errors() != 0 {
		t.Fatalf("one pass: %+v", r)
	}
	for _, s := range wl.secrets {
		if seen[s] != 1 {
			t.Errorf("key requested %d times", seen[s])
		}
	}
}
