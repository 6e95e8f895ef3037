package verify

import (
	"context"
	"errors"
	"net/netip"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/typeauth/typeauth/internal/auth"
	"github.com/typeauth/typeauth/internal/keyfmt"
)

// fakeStore counts store calls; the contract suite tests the real stores.
type fakeStore struct {
	mu         sync.Mutex
	keys       map[[32]byte]*auth.Key
	secrets    map[[32]byte]*auth.Secret
	identities map[string]*auth.Identity
	roles      map[string]*auth.Role
	overrides  map[string][]*auth.RateLimitOverride
	reads      atomic.Int64
	fail       atomic.Bool
	failSpend  atomic.Bool
	delay      time.Duration
}

func newFake() *fakeStore {
	return &fakeStore{keys: map[[32]byte]*auth.Key{}, secrets: map[[32]byte]*auth.Secret{}}
}

func (f *fakeStore) add(t testing.TB, k *auth.Key) string {
	t.Helper()
	secret, err := keyfmt.Generate("acme")
	if err != nil {
		t.Fatal(err)
	}
	h := keyfmt.Hash(secret)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys[h] = k
	f.secrets[h] = &auth.Secret{Hash: h, KeyID: k.ID}
	return secret
}

func (f *fakeStore) KeyBySecret(ctx context.Context, h [32]byte) (*auth.Key, *auth.Secret, error) {
	f.reads.Add(1)
	if f.delay > 0 {
		time.Sleep(f.delay)
	}
	if f.fail.Load() {
		return nil, nil, auth.ErrUnavailable
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	k, ok := f.keys[h]
	if !ok {
		return nil, nil, auth.ErrNotFound
	}
	kc := *k
	if k.Credits != nil {
		c := *k.Credits
		kc.Credits = &c
	}
	sc := *f.secrets[h]
	return &kc, &sc, nil
}

func (f *fakeStore) SpendCredits(ctx context.Context, keyID string, cost int64, now time.Time) (auth.SpendResult, error) {
	if f.fail.Load() || f.failSpend.Load() {
		return auth.SpendResult{}, auth.ErrUnavailable
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range f.keys {
		if k.ID == keyID && k.Credits != nil {
			if k.Credits.Remaining < cost {
				return auth.SpendResult{Remaining: k.Credits.Remaining}, nil
			}
			k.Credits.Remaining -= cost
			return auth.SpendResult{OK: true, Remaining: k.Credits.Remaining}, nil
		}
	}
	return auth.SpendResult{}, auth.ErrNotFound
}

func (f *fakeStore) set(secret string, fn func(k *auth.Key)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f.keys[keyfmt.Hash(secret)])
}

func TestDecisions(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	past, future := now.Add(-time.Second), now.Add(time.Hour)
	st := newFake()
	v := New(st, Options{Now: func() time.Time { return now }})
	valid := st.add(t, &auth.Key{ID: "key_1", AppID: "app_a", OwnerID: "u1", Enabled: true})
	disabled := st.add(t, &auth.Key{ID: "key_2", AppID: "app_a", Enabled: false})
	expired := st.add(t, &auth.Key{ID: "key_3", AppID: "app_a", Enabled: true, ExpiresAt: &past})
	notYet := st.add(t, &auth.Key{ID: "key_4", AppID: "app_a", Enabled: true, ExpiresAt: &future})
	ipKey := st.add(t, &auth.Key{ID: "key_5", AppID: "app_a", Enabled: true,
		IPAllowlist: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}})
	credits := st.add(t, &auth.Key{ID: "key_6", AppID: "app_a", Enabled: true, Credits: &auth.Credits{Remaining: 1}})
	unknown, _ := keyfmt.Generate("acme")
	bad := valid[:len(valid)-1] + "x"
	if bad == valid {
		bad = valid[:len(valid)-1] + "y"
	}

	tests := []struct {
		name string
		req  Request
		want auth.Code
		key  bool // key details expected
	}{
		{"valid", Request{Key: valid}, auth.CodeValid, true},
		{"valid in its app", Request{Key: valid, AppID: "app_a"}, auth.CodeValid, true},
		{"other app", Request{Key: valid, AppID: "app_b"}, auth.CodeForbidden, false},
		{"bad checksum", Request{Key: bad}, auth.CodeMalformed, false},
		{"garbage", Request{Key: "hello"}, auth.CodeMalformed, false},
		{"unknown", Request{Key: unknown}, auth.CodeNotFound, false},
		{"disabled", Request{Key: disabled}, auth.CodeDisabled, true},
		{"expired", Request{Key: expired}, auth.CodeExpired, true},
		{"not yet expired", Request{Key: notYet}, auth.CodeValid, true},
		{"ip allowed v4", Request{Key: ipKey, IP: netip.MustParseAddr("10.1.2.3")}, auth.CodeValid, true},
		{"ip allowed v4-mapped", Request{Key: ipKey, IP: netip.MustParseAddr("::ffff:10.1.2.3")}, auth.CodeValid, true},
		{"ip allowed v6", Request{Key: ipKey, IP: netip.MustParseAddr("2001:db8::1")}, auth.CodeValid, true},
		{"ip denied", Request{Key: ipKey, IP: netip.MustParseAddr("192.168.1.1")}, auth.CodeForbidden, true},
		{"ip missing", Request{Key: ipKey}, auth.CodeForbidden, true},
		{"credit spent", Request{Key: credits, CreditCost: 1}, auth.CodeValid, true},
		{"credits exhausted", Request{Key: credits, CreditCost: 1}, auth.CodeUsageExceeded, true},
		{"cost 0 passes at 0", Request{Key: credits, CreditCost: 0}, auth.CodeValid, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := v.Verify(context.Background(), &tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if d.Code != tt.want {
				t.Fatalf("code = %s, want %s (%s)", d.Code, tt.want, d.Reason)
			}
			if (d.Key != nil) != tt.key {
				t.Fatalf("key details shown = %v, want %v", d.Key != nil, tt.key)
			}
		})
	}
}

func TestCacheAndInvalidation(t *testing.T) {
	st := newFake()
	v := New(st, Options{})
	secret := st.add(t, &auth.Key{ID: "key_1", AppID: "app_a", Enabled: true})
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		if d, _ := v.Verify(ctx, &Request{Key: secret}); d.Code != auth.CodeValid {
			t.Fatalf("verify %d: %s", i, d.Code)
		}
	}
	if n := st.reads.Load(); n != 1 {
		t.Fatalf("store read %d times for 10 verifies, want 1", n)
	}
	// A change through management (store write + invalidate) is in force at once.
	st.set(secret, func(k *auth.Key) { k.Enabled = false })
	v.InvalidateKey("key_1")
	if d, _ := v.Verify(ctx, &Request{Key: secret}); d.Code != auth.CodeDisabled {
		t.Fatalf("after disable: %s", d.Code)
	}
	// Negative cache: an unknown key is read once, then remembered.
	unknown, _ := keyfmt.Generate("acme")
	before := st.reads.Load()
	for i := 0; i < 5; i++ {
		if d, _ := v.Verify(ctx, &Request{Key: unknown}); d.Code != auth.CodeNotFound {
			t.Fatal(d.Code)
		}
	}
	if n := st.reads.Load() - before; n != 1 {
		t.Fatalf("unknown key read %d times, want 1", n)
	}
	// Creating that key invalidates its hash: found at once.
	st.mu.Lock()
	h := keyfmt.Hash(unknown)
	st.keys[h] = &auth.Key{ID: "key_9", AppID: "app_a", Enabled: true}
	st.secrets[h] = &auth.Secret{Hash: h, KeyID: "key_9"}
	st.mu.Unlock()
	v.InvalidateKey("key_9", h)
	if d, _ := v.Verify(ctx, &Request{Key: unknown}); d.Code != auth.CodeValid {
		t.Fatalf("after create: %s", d.Code)
	}
}

func TestTTLs(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	st := newFake()
	v := New(st, Options{Now: func() time.Time { return now }, PositiveTTL: 10 * time.Second, NegativeTTL: time.Second})
	secret := st.add(t, &auth.Key{ID: "key_1", AppID: "app_a", Enabled: true})
	ctx := context.Background()
	v.Verify(ctx, &Request{Key: secret})
	st.set(secret, func(k *auth.Key) { k.Enabled = false }) // changed elsewhere, no invalidation
	now = now.Add(9 * time.Second)
	if d, _ := v.Verify(ctx, &Request{Key: secret}); d.Code != auth.CodeValid {
		t.Fatalf("within TTL: %s", d.Code)
	}
	now = now.Add(2 * time.Second)
	if d, _ := v.Verify(ctx, &Request{Key: secret}); d.Code != auth.CodeDisabled {
		t.Fatalf("after TTL: %s", d.Code)
	}
}

func TestGraceExpiry(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	st := newFake()
	v := New(st, Options{Now: func() time.Time { return now }})
	secret := st.add(t, &auth.Key{ID: "key_1", AppID: "app_a", Enabled: true})
	end := now.Add(time.Minute)
	st.mu.Lock()
	st.secrets[keyfmt.Hash(secret)].ExpiresAt = &end
	st.mu.Unlock()
	if d, _ := v.Verify(context.Background(), &Request{Key: secret}); d.Code != auth.CodeValid {
		t.Fatalf("in grace: %s", d.Code)
	}
	now = end
	if d, _ := v.Verify(context.Background(), &Request{Key: secret}); d.Code != auth.CodeNotFound {
		t.Fatalf("after grace: %s", d.Code)
	}
}

func TestConcurrentMissesCoalesce(t *testing.T) {
	st := newFake()
	st.delay = 50 * time.Millisecond
	v := New(st, Options{})
	secret := st.add(t, &auth.Key{ID: "key_1", AppID: "app_a", Enabled: true})
	var wg sync.WaitGroup
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if d, err := v.Verify(context.Background(), &Request{Key: secret}); err != nil || d.Code != auth.CodeValid {
				t.Errorf("verify: %v %s", err, d.Code)
			}
		}()
	}
	wg.Wait()
	if n := st.reads.Load(); n != 1 {
		t.Fatalf("100 concurrent misses read the store %d times, want 1", n)
	}
}

// An invalidation during a load must win: the stale answer is not cached.
func TestInvalidationDuringLoad(t *testing.T) {
	st := newFake()
	st.delay = 50 * time.Millisecond
	v := New(st, Options{})
	secret := st.add(t, &auth.Key{ID: "key_1", AppID: "app_a", Enabled: true})
	done := make(chan struct{})
	go func() {
		defer close(done)
		v.Verify(context.Background(), &Request{Key: secret}) // loads enabled
	}()
	time.Sleep(10 * time.Millisecond)
	st.set(secret, func(k *auth.Key) { k.Enabled = false })
	v.InvalidateKey("key_1")
	<-done
	if d, _ := v.Verify(context.Background(), &Request{Key: secret}); d.Code != auth.CodeDisabled {
		t.Fatalf("stale answer cached across an invalidation: %s", d.Code)
	}
}

func TestStoreErrorFailsClosed(t *testing.T) {
	st := newFake()
	v := New(st, Options{})
	secret := st.add(t, &auth.Key{ID: "key_1", AppID: "app_a", Enabled: true, Credits: &auth.Credits{Remaining: 5}})
	st.fail.Store(true)
	d, err := v.Verify(context.Background(), &Request{Key: secret, CreditCost: 1})
	if err == nil || d.Valid() || !errors.Is(err, auth.ErrUnavailable) {
		t.Fatalf("store down: decision %s, err %v; want an ErrUnavailable error", d.Code, err)
	}
}

func TestNegativeCacheBounded(t *testing.T) {
	st := newFake()
	v := New(st, Options{MaxNegative: 100})
	for i := 0; i < 1000; i++ {
		k, _ := keyfmt.Generate("acme")
		v.Verify(context.Background(), &Request{Key: k})
	}
	if _, neg := v.CacheStats(); neg > 100 {
		t.Fatalf("%d negative entries, bound 100", neg)
	}
}

func BenchmarkVerify(b *testing.B) {
	st := newFake()
	v := New(st, Options{})
	secret, _ := keyfmt.Generate("acme")
	h := keyfmt.Hash(secret)
	st.keys[h] = &auth.Key{ID: "key_1", AppID: "app_a", Enabled: true, Meta: []byte(`{"plan":"pro"}`)}
	st.secrets[h] = &auth.Secret{Hash: h, KeyID: "key_1"}
	ctx := context.Background()
	req := &Request{Key: secret, AppID: "app_a"}
	if d, _ := v.Verify(ctx, req); d.Code != auth.CodeValid {
		b.Fatal(d.Code)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if d, _ := v.Verify(ctx, req); d.Code != auth.CodeValid {
				b.Fatal(d.Code)
			}
		}
	})
}

// TestCacheMemoryPerKey measures what one cached key costs (a key with an
// owner and a small meta, as in the load benchmark) and bounds it.
func TestCacheMemoryPerKey(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 100k keys")
	}
	const n = 100_000
	st := newFake()
	secrets := make([]string, n)
	for i := range secrets {
		secrets[i] = st.add(t, &auth.Key{ID: "key_" + strconv.Itoa(i), AppID: "app_a", OwnerID: "user_" + strconv.Itoa(i),
			Enabled: true, Meta: []byte(`{"plan":"pro"}`)})
	}
	v := New(st, Options{})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, s := range secrets {
		if d, err := v.Verify(context.Background(), &Request{Key: s}); err != nil || d.Code != auth.CodeValid {
			t.Fatal(d.Code, err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("verify cache: %.0f bytes per cached key (%d keys; includes the store's copy handed over on load)", per, n)
	if per > 2048 {
		t.Fatalf("%.0f bytes per cached key; bound 2048", per)
	}
	runtime.KeepAlive(v)
}
