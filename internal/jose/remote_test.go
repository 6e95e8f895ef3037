package jose

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeIssuer is an OIDC issuer on httptest: discovery, JWKS, rotation and
// outages under the test's control.
type fakeIssuer struct {
	srv       *httptest.Server
	mu        sync.Mutex
	keys      []*SigningKey
	down      bool
	slow      bool
	body      []byte // overrides the JWKS body when set
	discHits  atomic.Int64
	jwksHits  atomic.Int64
	discIssue string // overrides the issuer in discovery when set
}

func newFakeIssuer(t *testing.T, keys ...*SigningKey) *fakeIssuer {
	t.Helper()
	fi := &fakeIssuer{keys: keys}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		fi.discHits.Add(1)
		fi.mu.Lock()
		down, iss := fi.down, fi.discIssue
		fi.mu.Unlock()
		if down {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		if iss == "" {
			iss = fi.srv.URL
		}
		json.NewEncoder(w).Encode(map[string]string{"issuer": iss, "jwks_uri": fi.srv.URL + "/keys"})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		fi.jwksHits.Add(1)
		fi.mu.Lock()
		down, slow, body := fi.down, fi.slow, fi.body
		var pubs []*PublicKey
		for _, k := range fi.keys {
			pubs = append(pubs, k.Public())
		}
		fi.mu.Unlock()
		if slow {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			return
		}
		if down {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		if body == nil {
			ks, _ := NewKeySet(pubs...)
			body, _ = json.Marshal(ks)
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Write(body)
	})
	fi.srv = httptest.NewTLSServer(mux)
	t.Cleanup(fi.srv.Close)
	return fi
}

func (fi *fakeIssuer) set(f func(fi *fakeIssuer)) {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	f(fi)
}

// reset clears the failure modes (mu held).
func (fi *fakeIssuer) reset() { fi.down, fi.slow, fi.body, fi.discIssue = false, false, nil, "" }

// testClock is an injected clock.
type testClock struct{ ns atomic.Int64 }

func newTestClock() *testClock           { c := &testClock{}; c.ns.Store(testNow.UnixNano()); return c }
func (c *testClock) Now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *testClock) Add(d time.Duration) { c.ns.Add(int64(d)) }

func remoteFor(t *testing.T, fi *fakeIssuer, clk *testClock, mod func(*RemoteOptions)) *RemoteKeySet {
	t.Helper()
	o := RemoteOptions{
		Client:       fi.srv.Client(),
		DiscoveryURL: fi.srv.URL + "/.well-known/openid-configuration",
		Issuer:       fi.srv.URL,
		Now:          clk.Now,
		FetchTimeout: 2 * time.Second,
	}
	if mod != nil {
		mod(&o)
	}
	r, err := NewRemoteKeySet(o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func remoteVerifier(t *testing.T, r *RemoteKeySet, fi *fakeIssuer, clk *testClock) *Verifier {
	t.Helper()
	v, err := NewVerifier(r, Policy{Issuer: fi.srv.URL, Algorithms: []Alg{EdDSA, ES256, RS256}, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func issuerToken(t *testing.T, fi *fakeIssuer, clk *testClock, k *SigningKey) string {
	t.Helper()
	tok, err := Sign(map[string]any{"iss": fi.srv.URL, "sub": "u", "exp": clk.Now().Add(24 * time.Hour).Unix()}, k)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func mustGen(t *testing.T, alg Alg) *SigningKey {
	t.Helper()
	k, err := GenerateSigningKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestRemoteDiscoveryAndRotation(t *testing.T) {
	a, b := mustGen(t, EdDSA), mustGen(t, ES256)
	fi := newFakeIssuer(t, a)
	clk := newTestClock()
	r := remoteFor(t, fi, clk, nil)
	v := remoteVerifier(t, r, fi, clk)
	ctx := t.Context()

	if err := r.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if fi.discHits.Load() != 1 || fi.jwksHits.Load() != 1 {
		t.Fatalf("discovery %d, jwks %d", fi.discHits.Load(), fi.jwksHits.Load())
	}
	tokA, tokB := issuerToken(t, fi, clk, a), issuerToken(t, fi, clk, b)
	wantVerdict(t, v, tokA, "", "")

	// Rotation step 1: B published beside A. A token for B (unknown kid)
	// triggers a refetch once the minimum interval has passed.
	fi.set(func(fi *fakeIssuer) { fi.keys = []*SigningKey{a, b} })
	clk.Add(DefaultMinRefetchInterval)
	wantVerdict(t, v, tokB, "", "")
	wantVerdict(t, v, tokA, "", "")

	// Rotation step 2: A removed. After the refresh, A's tokens fail.
	fi.set(func(fi *fakeIssuer) { fi.keys = []*SigningKey{b} })
	if err := r.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	wantVerdict(t, v, tokA, CodeInvalidSignature, "kid")
	wantVerdict(t, v, tokB, "", "")
}

func TestRemoteOutageKeepsServing(t *testing.T) {
	a := mustGen(t, EdDSA)
	fi := newFakeIssuer(t, a)
	clk := newTestClock()
	r := remoteFor(t, fi, clk, func(o *RemoteOptions) { o.FetchTimeout = 200 * time.Millisecond })
	v := remoteVerifier(t, r, fi, clk)
	ctx := t.Context()
	if err := r.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	tok := issuerToken(t, fi, clk, a)

	cases := []struct {
		name string
		mod  func(*fakeIssuer)
	}{
		{"503", func(fi *fakeIssuer) { fi.down = true }},
		{"hangs past the timeout", func(fi *fakeIssuer) { fi.slow = true }},
		{"garbage body", func(fi *fakeIssuer) { fi.body = []byte("<html>") }},
		{"empty key set", func(fi *fakeIssuer) { fi.body = []byte(`{"keys":[]}`) }},
		{"body over 1 MiB", func(fi *fakeIssuer) { fi.body = []byte(`{"keys":[],"pad":"` + strings.Repeat("x", 1<<20) + `"}`) }},
		{"discovery names another issuer", func(fi *fakeIssuer) { fi.discIssue = "https://evil.test" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fi.set(func(fi *fakeIssuer) { fi.reset(); tc.mod(fi) })
			start := time.Now()
			if err := r.Refresh(ctx); err == nil {
				t.Fatal("refresh succeeded")
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("refresh took %v", d)
			}
			if st := r.Status(); st.LastError == "" || st.Keys != 1 {
				t.Fatalf("status %+v", st)
			}
			wantVerdict(t, v, tok, "", "")
		})
	}
	fi.set(func(fi *fakeIssuer) { fi.reset() })
	if err := r.Refresh(ctx); err != nil || r.Status().LastError != "" {
		t.Fatalf("recovery: %v", err)
	}
}

func TestRemoteBodyLimit(t *testing.T) {
	a := mustGen(t, EdDSA)
	fi := newFakeIssuer(t, a)
	ks, _ := NewKeySet(a.Public())
	valid, _ := json.Marshal(ks)
	padded := append(valid[:len(valid)-1], []byte(`,"pad":"`+strings.Repeat("x", 4096)+`"}`)...)
	clk := newTestClock()
	r := remoteFor(t, fi, clk, func(o *RemoteOptions) { o.MaxBodySize = 4096 })
	fi.set(func(fi *fakeIssuer) { fi.body = padded })
	if err := r.Refresh(t.Context()); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Fatalf("a valid JWKS over MaxBodySize was accepted: %v", err)
	}
	fi.set(func(fi *fakeIssuer) { fi.body = valid })
	if err := r.Refresh(t.Context()); err != nil {
		t.Fatalf("within the limit: %v", err)
	}
}

func TestRemoteNeverFetchedIsNotAVerdict(t *testing.T) {
	a := mustGen(t, EdDSA)
	fi := newFakeIssuer(t, a)
	fi.set(func(fi *fakeIssuer) { fi.down = true })
	clk := newTestClock()
	r := remoteFor(t, fi, clk, nil)
	v := remoteVerifier(t, r, fi, clk)
	_, err := v.Verify(t.Context(), issuerToken(t, fi, clk, a))
	if !errors.Is(err, ErrUnavailable) || CodeOf(err) != "" {
		t.Fatalf("want ErrUnavailable (fail closed, not a verdict), got %v", err)
	}
}

func TestRemoteUnknownKIDRateLimit(t *testing.T) {
	a, stranger := mustGen(t, EdDSA), mustGen(t, EdDSA)
	fi := newFakeIssuer(t, a)
	clk := newTestClock()
	r := remoteFor(t, fi, clk, func(o *RemoteOptions) { o.MinRefetchInterval = time.Minute })
	v := remoteVerifier(t, r, fi, clk)
	if err := r.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	bad := issuerToken(t, fi, clk, stranger)
	hits := func() int64 { return fi.jwksHits.Load() }

	// Within the interval of the last fetch: no refetch at all.
	for range 20 {
		wantVerdict(t, v, bad, CodeInvalidSignature, "kid")
	}
	if hits() != 1 {
		t.Fatalf("%d fetches within the interval, want 1", hits())
	}
	// After the interval: exactly one refetch for many concurrent lookups.
	clk.Add(time.Minute)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := v.Verify(t.Context(), bad); CodeOf(err) != CodeInvalidSignature {
				t.Errorf("got %v", err)
			}
		})
	}
	wg.Wait()
	if hits() != 2 {
		t.Fatalf("%d fetches, want 2", hits())
	}
	// Known kids never fetch.
	good := issuerToken(t, fi, clk, a)
	clk.Add(time.Hour)
	for range 5 {
		wantVerdict(t, v, good, "", "")
	}
	if hits() != 2 {
		t.Fatalf("known kid fetched: %d", hits())
	}
}

func TestRemoteBackgroundRefresh(t *testing.T) {
	a, b := mustGen(t, EdDSA), mustGen(t, EdDSA)
	fi := newFakeIssuer(t, a)
	clk := newTestClock()
	ticks := make(chan time.Time)
	var waits []time.Duration
	var wmu sync.Mutex
	r := remoteFor(t, fi, clk, func(o *RemoteOptions) {
		o.RefreshInterval = 5 * time.Minute
		o.After = func(d time.Duration) <-chan time.Time {
			wmu.Lock()
			waits = append(waits, d)
			wmu.Unlock()
			return ticks
		}
	})
	v := remoteVerifier(t, r, fi, clk)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()

	waitFetches := func(n int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for r.Status().Fetches < n || r.Status().LastAttempt.IsZero() {
			if time.Now().After(deadline) {
				t.Fatalf("fetches %d, want %d", r.Status().Fetches, n)
			}
			time.Sleep(time.Millisecond)
		}
		// the fetch is recorded before it completes; wait for its result
		for r.Status().LastSuccess.IsZero() && r.Status().LastError == "" {
			if time.Now().After(deadline) {
				t.Fatal("fetch did not complete")
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitFetches(1)
	tokA, tokB := issuerToken(t, fi, clk, a), issuerToken(t, fi, clk, b)
	wantVerdict(t, v, tokA, "", "")

	// Rotate to B; unknown-kid refetch is rate limited (clock not advanced),
	// so only the background tick brings B in.
	fi.set(func(fi *fakeIssuer) { fi.keys = []*SigningKey{b} })
	wantVerdict(t, v, tokB, CodeInvalidSignature, "kid")
	ticks <- clk.Now()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := v.Verify(t.Context(), tokB); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("background refresh did not pick up the new key")
		}
		time.Sleep(time.Millisecond)
	}
	wantVerdict(t, v, tokA, CodeInvalidSignature, "kid")

	// A failed refresh schedules the retry after MinRefetchInterval.
	fi.set(func(fi *fakeIssuer) { fi.down = true })
	before := r.Status().Fetches
	ticks <- clk.Now()
	for r.Status().LastError == "" {
		if time.Now().After(deadline) || r.Status().Fetches > before+1 {
			t.Fatal("failed refresh not recorded")
		}
		time.Sleep(time.Millisecond)
	}
	wantVerdict(t, v, tokB, "", "") // still serving

	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}
	wmu.Lock()
	defer wmu.Unlock()
	if len(waits) < 3 || waits[0] != 5*time.Minute || waits[len(waits)-1] != DefaultMinRefetchInterval {
		t.Fatalf("waits %v", waits)
	}
}

func TestRemoteOptions(t *testing.T) {
	c := http.DefaultClient
	cases := []struct {
		name string
		o    RemoteOptions
	}{
		{"no client", RemoteOptions{JWKSURL: "https://x.test/jwks"}},
		{"no URL", RemoteOptions{Client: c}},
		{"both URLs", RemoteOptions{Client: c, JWKSURL: "https://x.test/jwks", DiscoveryURL: "https://x.test/d", Issuer: "i"}},
		{"discovery without issuer", RemoteOptions{Client: c, DiscoveryURL: "https://x.test/d"}},
		{"http", RemoteOptions{Client: c, JWKSURL: "http://x.test/jwks"}},
		{"file", RemoteOptions{Client: c, JWKSURL: "file:///etc/passwd"}},
		{"userinfo", RemoteOptions{Client: c, JWKSURL: "https://u:p@x.test/jwks"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewRemoteKeySet(tc.o); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	if _, err := NewRemoteKeySet(RemoteOptions{Client: c, JWKSURL: "http://127.0.0.1/jwks", AllowHTTP: true}); err != nil {
		t.Fatalf("AllowHTTP: %v", err)
	}
}

func TestRemoteDirectJWKSURL(t *testing.T) {
	a := mustGen(t, RS256)
	fi := newFakeIssuer(t, a)
	clk := newTestClock()
	r := remoteFor(t, fi, clk, func(o *RemoteOptions) { o.DiscoveryURL, o.JWKSURL = "", fi.srv.URL+"/keys" })
	v := remoteVerifier(t, r, fi, clk)
	// No explicit Refresh: the first lookup fetches.
	wantVerdict(t, v, issuerToken(t, fi, clk, a), "", "")
	if fi.discHits.Load() != 0 || fi.jwksHits.Load() != 1 {
		t.Fatalf("discovery %d jwks %d", fi.discHits.Load(), fi.jwksHits.Load())
	}
}
