package verify

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/typeauth/typeauth/internal/auth"
)

func TestPermissions(t *testing.T) {
	st := newFake()
	st.roles = map[string]*auth.Role{"editor": {Name: "editor", Permissions: []string{"documents.write", "documents.read"}}}
	st.identities = map[string]*auth.Identity{"id_1": {ID: "id_1", ExternalID: "acme", Permissions: []string{"billing.read"}, Roles: []string{"viewer"}}}
	st.roles["viewer"] = &auth.Role{Name: "viewer", Permissions: []string{"reports.read"}}
	v := New(st, Options{})
	secret := st.add(t, &auth.Key{ID: "key_1", AppID: "app_a", Enabled: true, IdentityID: "id_1",
		Permissions: []string{"admin.users"}, Roles: []string{"editor", "deleted_role"}})
	ctx := context.Background()
	tests := []struct {
		query   string
		want    auth.Code
		missing []string
	}{
		{"admin.users", auth.CodeValid, nil},
		{"documents.write", auth.CodeValid, nil},               // from the key's role
		{"billing.read AND reports.read", auth.CodeValid, nil}, // from the identity and its role
		{"documents.read AND (billing.write OR admin.users)", auth.CodeValid, nil},
		{"billing.write", auth.CodeInsufficientPermissions, []string{"billing.write"}},
		{"documents.read AND (billing.write OR admin)", auth.CodeInsufficientPermissions, []string{"billing.write", "admin"}},
		{"documents.*", auth.CodeInsufficientPermissions, []string{"documents.*"}}, // literal in a query
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			d, err := v.Verify(ctx, &Request{Key: secret, Permissions: tt.query})
			if err != nil {
				t.Fatal(err)
			}
			if d.Code != tt.want || !slices.Equal(d.Missing, tt.missing) {
				t.Fatalf("%s missing %v, want %s %v", d.Code, d.Missing, tt.want, tt.missing)
			}
		})
	}
	d, _ := v.Verify(ctx, &Request{Key: secret})
	want := []string{"admin.users", "billing.read", "documents.read", "documents.write", "reports.read"}
	if !slices.Equal(d.Permissions, want) || d.Identity == nil || d.Identity.ExternalID != "acme" {
		t.Fatalf("effective permissions %v, identity %+v", d.Permissions, d.Identity)
	}
	if _, err := v.Verify(ctx, &Request{Key: secret, Permissions: "a AND (b"}); err == nil {
		t.Fatal("a malformed query must be an error, not a decision")
	}
}

func TestPermissionWildcards(t *testing.T) {
	for _, wild := range []bool{false, true} {
		st := newFake()
		v := New(st, Options{PermissionWildcards: wild})
		secret := st.add(t, &auth.Key{ID: "key_1", AppID: "a", Enabled: true, Permissions: []string{"documents.*"}})
		super := st.add(t, &auth.Key{ID: "key_2", AppID: "a", Enabled: true, Permissions: []string{"*"}})
		for _, c := range []struct {
			key, q string
			want   bool
		}{
			{secret, "documents.read", wild},
			{secret, "documents.sub.write", wild},
			{secret, "documents", false},
			{secret, "documentsx.read", false},
			{secret, "documents.*", true},
			{super, "anything.at.all", wild},
		} {
			d, err := v.Verify(context.Background(), &Request{Key: c.key, Permissions: c.q})
			if err != nil || d.Valid() != c.want {
				t.Errorf("wildcards=%v %q: %s %v", wild, c.q, d.Code, err)
			}
		}
	}
}

func TestRateLimitsOnVerify(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	st := newFake()
	st.identities = map[string]*auth.Identity{"id_1": {ID: "id_1", RateLimits: []auth.RateLimit{{Name: "shared", Limit: 5, Duration: time.Minute, AutoApply: true}}}}
	v := New(st, Options{Now: func() time.Time { return now }})
	k1 := st.add(t, &auth.Key{ID: "key_1", AppID: "a", Enabled: true, IdentityID: "id_1",
		RateLimits: []auth.RateLimit{{Name: "requests", Limit: 3, Duration: time.Minute, AutoApply: true}, {Name: "tokens", Limit: 100, Duration: time.Minute}}})
	k2 := st.add(t, &auth.Key{ID: "key_2", AppID: "a", Enabled: true, IdentityID: "id_1"})
	ctx := context.Background()
	verify := func(key string, uses ...RateLimitUse) Decision {
		t.Helper()
		d, err := v.Verify(ctx, &Request{Key: key, RateLimits: uses})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	// key_1: 3 per minute on the key, 5 per minute shared with key_2.
	for i := 0; i < 3; i++ {
		if d := verify(k1); d.Code != auth.CodeValid || len(d.RateLimits) != 2 {
			t.Fatalf("verify %d: %s %+v", i, d.Code, d.RateLimits)
		}
	}
	d := verify(k1)
	if d.Code != auth.CodeRateLimited || d.DeniedLimit != "requests" || d.RetryAfter != 20*time.Second {
		t.Fatalf("4th: %s %q %v", d.Code, d.DeniedLimit, d.RetryAfter)
	}
	// The denied verify charged nothing on the shared limit: key_2 still has 2.
	for i := 0; i < 2; i++ {
		if d := verify(k2); d.Code != auth.CodeValid {
			t.Fatalf("key_2 verify %d: %s", i, d.Code)
		}
	}
	if d := verify(k2); d.Code != auth.CodeRateLimited || d.DeniedLimit != "shared" {
		t.Fatalf("shared limit: %s %q", d.Code, d.DeniedLimit)
	}
	// A named limit at a cost, after a minute.
	now = now.Add(time.Minute)
	if d := verify(k1, RateLimitUse{Name: "tokens", Cost: 60, CostSet: true}); d.Code != auth.CodeValid {
		t.Fatalf("tokens 60: %s", d.Code)
	}
	if d := verify(k1, RateLimitUse{Name: "tokens", Cost: 60, CostSet: true}); d.Code != auth.CodeRateLimited || d.DeniedLimit != "tokens" {
		t.Fatalf("tokens 120: %s %q", d.Code, d.DeniedLimit)
	}
	// Cost 0 peeks.
	if d := verify(k1, RateLimitUse{Name: "tokens", Cost: 0, CostSet: true}); d.Code != auth.CodeValid {
		t.Fatalf("peek: %s", d.Code)
	}
	// Unknown names fail unless the call gives the limit.
	if _, err := v.Verify(ctx, &Request{Key: k1, RateLimits: []RateLimitUse{{Name: "nope"}}}); err == nil {
		t.Fatal("an unknown limit name must be refused")
	}
	if d := verify(k1, RateLimitUse{Name: "adhoc", Limit: 1, Duration: time.Hour}); d.Code != auth.CodeValid {
		t.Fatalf("ad-hoc: %s", d.Code)
	}
	if d := verify(k1, RateLimitUse{Name: "adhoc", Limit: 1, Duration: time.Hour}); d.Code != auth.CodeRateLimited {
		t.Fatalf("ad-hoc 2nd: %s", d.Code)
	}
}

// 1,000 concurrent verifies against a key limited to 100 per minute: exactly 100 VALID.
func TestRateLimitConcurrentExact(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	st := newFake()
	v := New(st, Options{Now: func() time.Time { return now }})
	secret := st.add(t, &auth.Key{ID: "key_1", AppID: "a", Enabled: true, RateLimits: []auth.RateLimit{{Name: "r", Limit: 100, Duration: time.Minute, AutoApply: true}}})
	var valid atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 1000; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if d, err := v.Verify(context.Background(), &Request{Key: secret}); err == nil && d.Valid() {
				valid.Add(1)
			}
		}()
	}
	wg.Wait()
	if valid.Load() != 100 {
		t.Fatalf("%d VALID, want exactly 100", valid.Load())
	}
}

// A verify denied for credits gives back the rate-limit capacity it took.
func TestCreditDenialRefundsLimits(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	st := newFake()
	v := New(st, Options{Now: func() time.Time { return now }})
	secret := st.add(t, &auth.Key{ID: "key_1", AppID: "a", Enabled: true, Credits: &auth.Credits{Remaining: 0},
		RateLimits: []auth.RateLimit{{Name: "r", Limit: 2, Duration: time.Minute, AutoApply: true}}})
	for i := 0; i < 5; i++ {
		if d, _ := v.Verify(context.Background(), &Request{Key: secret, CreditCost: 1}); d.Code != auth.CodeUsageExceeded {
			t.Fatalf("verify %d: %s", i, d.Code)
		}
	}
	st.set(secret, func(k *auth.Key) { k.Credits.Remaining = 10 })
	for i := 0; i < 2; i++ {
		if d, _ := v.Verify(context.Background(), &Request{Key: secret, CreditCost: 1}); d.Code != auth.CodeValid {
			t.Fatalf("after top-up %d: %s (limit capacity was spent by denied verifies)", i, d.Code)
		}
	}
}

func BenchmarkVerifyWithLimit(b *testing.B) {
	st := newFake()
	v := New(st, Options{})
	secret := st.add(b, &auth.Key{ID: "key_1", AppID: "a", Enabled: true,
		RateLimits: []auth.RateLimit{{Name: "r", Limit: 1 << 40, Duration: time.Second, AutoApply: true}}})
	ctx := context.Background()
	req := &Request{Key: secret}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if d, _ := v.Verify(ctx, req); d.Code != auth.CodeValid {
			b.Fatal(d.Code)
		}
	}
}

// Peek (introspection) spends neither credits nor rate-limit capacity.
func TestPeekSpendsNothing(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	st := newFake()
	v := New(st, Options{Now: func() time.Time { return now }})
	secret := st.add(t, &auth.Key{ID: "key_1", AppID: "a", Enabled: true, Credits: &auth.Credits{Remaining: 1},
		RateLimits: []auth.RateLimit{{Name: "r", Limit: 1, Duration: time.Minute, AutoApply: true}}})
	for i := 0; i < 5; i++ {
		if d, err := v.Verify(context.Background(), &Request{Key: secret, CreditCost: 1, Peek: true}); err != nil || d.Code != auth.CodeValid || d.Remaining != 1 {
			t.Fatalf("peek %d: %s %d %v", i, d.Code, d.Remaining, err)
		}
	}
	if d, _ := v.Verify(context.Background(), &Request{Key: secret, CreditCost: 1}); d.Code != auth.CodeValid {
		t.Fatalf("real verify after peeks: %s", d.Code)
	}
	if d, _ := v.Verify(context.Background(), &Request{Key: secret, CreditCost: 1, Peek: true}); d.Valid() {
		t.Fatalf("peek of an exhausted key passed: %s", d.Code)
	}
}

// A credit spend that fails (store down) gives back the limits it took: the
// verify was not decided, so it spent nothing.
func TestStoreErrorOnCreditsRefundsLimits(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	st := newFake()
	v := New(st, Options{Now: func() time.Time { return now }})
	secret := st.add(t, &auth.Key{ID: "key_1", AppID: "a", Enabled: true, Credits: &auth.Credits{Remaining: 10},
		RateLimits: []auth.RateLimit{{Name: "r", Limit: 1, Duration: time.Minute, AutoApply: true}}})
	if d, err := v.Verify(context.Background(), &Request{Key: secret, CreditCost: 1}); err != nil || !d.Valid() {
		t.Fatalf("warm-up: %s %v", d.Code, err) // loads the key, spends the one unit
	}
	now = now.Add(time.Minute) // the unit is back
	st.failSpend.Store(true)
	if _, err := v.Verify(context.Background(), &Request{Key: secret, CreditCost: 1}); err == nil {
		t.Fatal("a failed credit spend must be an error")
	}
	st.failSpend.Store(false)
	if d, _ := v.Verify(context.Background(), &Request{Key: secret, CreditCost: 1}); d.Code != auth.CodeValid {
		t.Fatalf("after the store came back: %s (the undecided verify kept the limit's unit)", d.Code)
	}
}
