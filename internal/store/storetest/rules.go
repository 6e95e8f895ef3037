package storetest

import (
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/typeauth/typeauth/internal/auth"
)

// testRules checks the rule set: empty at version 0, replaced as a whole with
// its audit entry in one transaction, optimistic version checks, rollback.
func testRules(t *testing.T, s auth.Store) {
	ctx := ctxT(t)
	rs, err := s.Rules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rs.Version != 0 || len(rs.Rules) != 0 {
		t.Fatalf("fresh store: rule set %+v, want version 0 and no rules", rs)
	}
	if v, err := s.RulesVersion(ctx); err != nil || v != 0 {
		t.Fatalf("RulesVersion = %d, %v; want 0", v, err)
	}

	cost := int64(3)
	want := []auth.Rule{
		{Name: "orders", Hosts: []string{"api.example.com"}, Methods: []string{"GET", "POST"}, Paths: []string{"/orders/**"},
			Apps: []string{"app_1", "app_2"}, Credentials: []auth.CredentialSource{{Type: auth.SourceBearer}, {Type: auth.SourceQuery, Name: "api_key"}},
			Permissions: "orders.read AND (orders.write OR admin)", RateLimits: []auth.RuleRateLimit{{Name: "requests", Cost: &cost}},
			Credits: &cost, UpstreamHeaders: []string{"key_id", "meta.plan"}, StripCredential: true},
		{Name: "public", Paths: []string{"/health"}, Anonymous: true},
	}
	at := t0.Add(time.Hour)
	in := &auth.RuleSet{NoMatch: auth.NoMatchAnyKey, Rules: want}
	audit := auditEntry(1)
	if err := s.ReplaceRules(ctx, in, 0, at, func(tx auth.Tx, prev *auth.RuleSet) error {
		if prev.Version != 0 || len(prev.Rules) != 0 {
			t.Errorf("prev = %+v, want the empty version 0", prev)
		}
		return tx.AppendAudit(audit)
	}); err != nil {
		t.Fatalf("ReplaceRules: %v", err)
	}
	if in.Version != 1 || !in.UpdatedAt.Equal(at) {
		t.Fatalf("ReplaceRules set version %d updated %v, want 1 and %v", in.Version, in.UpdatedAt, at)
	}
	got, err := s.Rules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 1 || got.NoMatch != auth.NoMatchAnyKey || !got.UpdatedAt.Equal(at) || !reflect.DeepEqual(got.Rules, want) {
		t.Fatalf("Rules = %+v\nwant version 1, any_key, %+v", got, want)
	}
	entries, _, err := s.ListAudit(ctx, auth.Page{Limit: 10})
	if err != nil || len(entries) != 1 || entries[0].ID != audit.ID {
		t.Fatalf("audit entry not stored with the rules: %v %v", entries, err)
	}

	// A stale version is refused and changes nothing.
	err = s.ReplaceRules(ctx, &auth.RuleSet{}, 0, at, nil)
	wantErr(t, "ReplaceRules stale", err, auth.ErrConflict)
	// fn failing rolls the replacement back.
	boom := errors.New("boom")
	if err := s.ReplaceRules(ctx, &auth.RuleSet{}, 1, at, func(_ auth.Tx, prev *auth.RuleSet) error {
		if prev.Version != 1 || !reflect.DeepEqual(prev.Rules, want) {
			t.Errorf("prev = %+v, want version 1", prev)
		}
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("ReplaceRules with failing fn: %v", err)
	}
	if v, _ := s.RulesVersion(ctx); v != 1 {
		t.Fatalf("version %d after a refused and a rolled back replace, want 1", v)
	}
	// Unconditional replace; an empty list stays an empty (not absent) list; "" no_match is stored as deny.
	empty := &auth.RuleSet{}
	if err := s.ReplaceRules(ctx, empty, -1, at, nil); err != nil || empty.Version != 2 {
		t.Fatalf("unconditional ReplaceRules: version %d, %v", empty.Version, err)
	}
	got, err = s.Rules(ctx)
	if err != nil || got.Version != 2 || len(got.Rules) != 0 || got.NoMatch != auth.NoMatchDeny {
		t.Fatalf("after emptying: %+v %v", got, err)
	}

	// Concurrent replaces at the same version: exactly one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.ReplaceRules(ctx, &auth.RuleSet{Rules: want[1:]}, 2, at, nil)
			if err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			} else if !errors.Is(err, auth.ErrConflict) && !errors.Is(err, auth.ErrUnavailable) {
				t.Errorf("concurrent ReplaceRules: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d concurrent replaces at version 2 succeeded, want exactly 1", wins)
	}
}
