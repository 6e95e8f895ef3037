// Package storetest is the one contract suite every auth.Store backend runs
// from its own tests:
//
//	func TestContract(t *testing.T) { storetest.Run(t, openTestStore) }
//
// open must return a fresh, migrated, empty store and close it in t.Cleanup.
// Subtests run in parallel, each on its own store.
package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/typeauth/typeauth/internal/auth"
)

// Opener returns a fresh, migrated, empty store and closes it in t.Cleanup.
type Opener func(t *testing.T) auth.Store

// Run runs the contract suite against stores made by open.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s auth.Store)
	}{
		{"Apps", testApps},
		{"AppKeyPrefixConflict", testAppKeyPrefixConflict},
		{"DeleteAppCascades", testDeleteAppCascades},
		{"KeyRoundTrip", testKeyRoundTrip},
		{"KeyWriteErrors", testKeyWriteErrors},
		{"UpdateKey", testUpdateKey},
		{"DeleteKey", testDeleteKey},
		{"Secrets", testSecrets},
		{"SpendCredits", testSpendCredits},
		{"SpendCreditsRefill", testSpendCreditsRefill},
		{"SpendCreditsConcurrent", testSpendCreditsConcurrent},
		{"AdjustCredits", testAdjustCredits},
		{"RootKeys", testRootKeys},
		{"Audit", testAudit},
		{"AuditConcurrent", testAuditConcurrent},
		{"TxRollback", testTxRollback},
		{"Pagination", testPagination},
		{"PageLimits", testPageLimits},
		{"Idempotency", testIdempotency},
		{"Unavailable", testUnavailable},
		{"Rules", testRules},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
	runIdentities(t, open)
	runRootKeyLock(t, open)
	runTokens(t, open)
}

// RunShared runs the tests that need two stores (two pools, as two replicas
// would have) on the same database. open2 returns both, migrated and empty,
// and closes them in t.Cleanup.
func RunShared(t *testing.T, open2 func(t *testing.T) (auth.Store, auth.Store)) {
	t.Run("SpendCreditsAcrossStores", func(t *testing.T) {
		t.Parallel()
		a, b := open2(t)
		testSpendAcross(t, a, b)
	})
	t.Run("AuditAcrossStores", func(t *testing.T) {
		t.Parallel()
		a, b := open2(t)
		testAuditAcross(t, a, b)
	})
}

// t0 is the suite's clock: fixed, truncated to the millisecond like every
// time the domain hands a store.
var t0 = time.Date(2025, 3, 14, 9, 26, 53, 589_000_000, time.UTC)

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func hashOf(s string) [32]byte { return sha256.Sum256([]byte(s)) }

func mustTx(t *testing.T, s auth.Store, fn func(tx auth.Tx) error) {
	t.Helper()
	if err := s.Tx(ctxT(t), fn); err != nil {
		t.Fatalf("Tx: %v", err)
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

func wantEqual[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got  %s\n want %s", what, dump(got), dump(want))
	}
}

func dump(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%+v", v)
	}
	return string(b)
}

func newApp(t *testing.T, s auth.Store, prefix string) *auth.App {
	t.Helper()
	a := &auth.App{ID: auth.NewID("app", t0), Name: "app " + prefix, KeyPrefix: prefix, CreatedAt: t0, UpdatedAt: t0}
	mustTx(t, s, func(tx auth.Tx) error { return tx.InsertApp(a) })
	return a
}

// newKey stores a key of app (changed by edit, if not nil) with one current
// secret, and returns both.
func newKey(t *testing.T, s auth.Store, appID string, edit func(k *auth.Key)) (*auth.Key, auth.Secret) {
	t.Helper()
	k := &auth.Key{ID: auth.NewID("key", t0), AppID: appID, Enabled: true, Start: "tk_abc", CreatedAt: t0, UpdatedAt: t0}
	if edit != nil {
		edit(k)
	}
	sec := auth.Secret{Hash: hashOf("secret of " + k.ID), KeyID: k.ID, Start: k.Start, CreatedAt: k.CreatedAt}
	mustTx(t, s, func(tx auth.Tx) error { return tx.InsertKey(k, sec) })
	return k, sec
}

func creditKey(t *testing.T, s auth.Store, c auth.Credits) *auth.Key {
	t.Helper()
	app := newApp(t, s, "cr")
	k, _ := newKey(t, s, app.ID, func(k *auth.Key) { k.Credits = &c })
	return k
}

func ptr[T any](v T) *T { return &v }

func testApps(t *testing.T, s auth.Store) {
	ctx := ctxT(t)
	a := newApp(t, s, "acme")
	got, err := s.GetApp(ctx, a.ID)
	if err != nil {
		t.Fatalf("GetApp: %v", err)
	}
	wantEqual(t, "GetApp", got, a)

	a2 := *a
	a2.Name, a2.KeyPrefix, a2.UpdatedAt = "renamed", "acme2", t0.Add(time.Hour)
	mustTx(t, s, func(tx auth.Tx) error {
		if err := tx.UpdateApp(&a2); err != nil {
			return err
		}
		got, err := tx.GetApp(a.ID)
		if err != nil {
			return err
		}
		wantEqual(t, "Tx.GetApp after UpdateApp", got, &a2)
		return nil
	})
	got, err = s.GetApp(ctx, a.ID)
	if err != nil {
		t.Fatalf("GetApp: %v", err)
	}
	wantEqual(t, "GetApp after UpdateApp", got, &a2)
	if got.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt location = %v, want UTC", got.CreatedAt.Location())
	}

	missing := auth.App{ID: "app_missing", Name: "x", KeyPrefix: "zzz", CreatedAt: t0, UpdatedAt: t0}
	_, err = s.GetApp(ctx, "app_missing")
	wantErr(t, "GetApp(missing)", err, auth.ErrNotFound)
	for name, fn := range map[string]func(tx auth.Tx) error{
		"Tx.GetApp":     func(tx auth.Tx) error { _, err := tx.GetApp("app_missing"); return err },
		"UpdateApp":     func(tx auth.Tx) error { return tx.UpdateApp(&missing) },
		"DeleteApp":     func(tx auth.Tx) error { return tx.DeleteApp("app_missing") },
		"InsertApp(id)": func(tx auth.Tx) error { dup := *a; dup.KeyPrefix = "other"; return tx.InsertApp(&dup) },
	} {
		want := auth.ErrNotFound
		if name == "InsertApp(id)" {
			want = auth.ErrConflict
		}
		err := s.Tx(ctx, fn)
		wantErr(t, name, err, want)
		var ae *auth.Error
		if errors.As(err, &ae) && ae.Code == "key_prefix_taken" {
			t.Errorf("%s: %v: a taken id is not a taken key prefix", name, err)
		}
	}

	mustTx(t, s, func(tx auth.Tx) error { return tx.DeleteApp(a.ID) })
	_, err = s.GetApp(ctx, a.ID)
	wantErr(t, "GetApp after DeleteApp", err, auth.ErrNotFound)
}

func testAppKeyPrefixConflict(t *testing.T, s auth.Store) {
	ctx := ctxT(t)
	a := newApp(t, s, "acme")
	b := newApp(t, s, "beta")
	tests := []struct {
		name string
		fn   func(tx auth.Tx) error
	}{
		{"insert", func(tx auth.Tx) error {
			return tx.InsertApp(&auth.App{ID: auth.NewID("app", t0), Name: "x", KeyPrefix: "acme", CreatedAt: t0, UpdatedAt: t0})
		}},
		{"update", func(tx auth.Tx) error {
			b2 := *b
			b2.KeyPrefix = a.KeyPrefix
			return tx.UpdateApp(&b2)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Tx(ctx, tc.fn)
			wantErr(t, "Tx", err, auth.ErrConflict)
			var ae *auth.Error
			if !errors.As(err, &ae) || ae.Code != "key_prefix_taken" {
				t.Fatalf("error %v: want an *auth.Error with code key_prefix_taken", err)
			}
		})
	}
	got, err := s.GetApp(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "app after failed update", got, b)
}

func testDeleteAppCascades(t *testing.T, s auth.Store) {
	ctx := ctxT(t)
	a := newApp(t, s, "acme")
	other := newApp(t, s, "other")
	k, sec := newKey(t, s, a.ID, nil)
	ok, okSec := newKey(t, s, other.ID, nil)
	mustTx(t, s, func(tx auth.Tx) error { return tx.DeleteApp(a.ID) })
	_, err := s.GetKey(ctx, k.ID)
	wantErr(t, "GetKey of deleted app's key", err, auth.ErrNotFound)
	_, _, err = s.KeyBySecret(ctx, sec.Hash)
	wantErr(t, "KeyBySecret of deleted app's key", err, auth.ErrNotFound)
	secs, err := s.SecretsOf(ctx, k.ID)
	if err != nil || len(secs) != 0 {
		t.Fatalf("SecretsOf deleted key = %v, %v; want none", secs, err)
	}
	if got, _, err := s.KeyBySecret(ctx, okSec.Hash); err != nil || got.ID != ok.ID {
		t.Fatalf("other app's key: %v, %v", got, err)
	}
}

func fullKey(appID string) func(k *auth.Key) {
	return func(k *auth.Key) {
		k.Name = "full key"
		k.OwnerID = "user_42"
		k.IdentityID = "id_7"
		k.Meta = json.RawMessage(`{"plan": "pro",  "seats":3, "nested":{"a":[1,2]}}`)
		k.Enabled = false
		k.ExpiresAt = ptr(t0.Add(30 * 24 * time.Hour))
		k.Credits = &auth.Credits{Remaining: 17, RefillAmount: 100, RefillInterval: auth.RefillMonthly,
			LastRefillAt: time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)}
		k.RateLimits = []auth.RateLimit{
			{Name: "default", Limit: 100, Duration: time.Minute, AutoApply: true},
			{Name: "burst", Limit: 5, Duration: 1500 * time.Millisecond},
		}
		k.Permissions = []string{"documents.read", "billing.write"}
		k.Roles = []string{"admin"}
		k.IPAllowlist = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::1/128")}
		k.Start = "acme_3xY"
		k.UpdatedAt = t0.Add(time.Second)
	}
}

func testKeyRoundTrip(t *testing.T, s auth.Store) {
	app := newApp(t, s, "acme")
	tests := []struct {
		name string
		edit func(k *auth.Key)
	}{
		{"minimal", nil},
		{"full", fullKey(app.ID)},
		{"empty lists", func(k *auth.Key) {
			k.RateLimits, k.Permissions, k.Roles, k.IPAllowlist = []auth.RateLimit{}, []string{}, []string{}, []netip.Prefix{}
			k.Meta = json.RawMessage(`{}`)
		}},
		{"credits without refill", func(k *auth.Key) { k.Credits = &auth.Credits{Remaining: 0} }},
		{"credits never refilled", func(k *auth.Key) {
			k.Credits = &auth.Credits{Remaining: 3, RefillAmount: 10, RefillInterval: auth.RefillDaily}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := ctxT(t)
			k, sec := newKey(t, s, app.ID, tc.edit)
			got, err := s.GetKey(ctx, k.ID)
			if err != nil {
				t.Fatalf("GetKey: %v", err)
			}
			wantEqual(t, "GetKey", got, k)
			mustTx(t, s, func(tx auth.Tx) error {
				got, err := tx.GetKey(k.ID)
				if err != nil {
					return err
				}
				wantEqual(t, "Tx.GetKey", got, k)
				return nil
			})
			gk, gs, err := s.KeyBySecret(ctx, sec.Hash)
			if err != nil {
				t.Fatalf("KeyBySecret: %v", err)
			}
			wantEqual(t, "KeyBySecret key", gk, k)
			wantEqual(t, "KeyBySecret secret", *gs, sec)
		})
	}
	_, _, err := s.KeyBySecret(ctxT(t), hashOf("nobody"))
	wantErr(t, "KeyBySecret(unknown)", err, auth.ErrNotFound)
	_, err = s.GetKey(ctxT(t), "key_missing")
	wantErr(t, "GetKey(missing)", err, auth.ErrNotFound)
	wantErr(t, "Tx.GetKey(missing)", s.Tx(ctxT(t), func(tx auth.Tx) error { _, err := tx.GetKey("key_missing"); return err }),
		auth.ErrNotFound)
}

func testKeyWriteErrors(t *testing.T, s auth.Store) {
	app := newApp(t, s, "acme")
	k, sec := newKey(t, s, app.ID, nil)
	fresh := func(appID string) *auth.Key {
		return &auth.Key{ID: auth.NewID("key", t0), AppID: appID, Enabled: true, CreatedAt: t0, UpdatedAt: t0}
	}
	tests := []struct {
		name string
		fn   func(tx auth.Tx) error
		want error
	}{
		{"duplicate key id", func(tx auth.Tx) error {
			dup := *k
			return tx.InsertKey(&dup, auth.Secret{Hash: hashOf("another"), KeyID: k.ID, CreatedAt: t0})
		}, auth.ErrConflict},
		{"duplicate secret hash", func(tx auth.Tx) error {
			n := fresh(app.ID)
			return tx.InsertKey(n, auth.Secret{Hash: sec.Hash, KeyID: n.ID, CreatedAt: t0})
		}, auth.ErrConflict},
		{"missing app", func(tx auth.Tx) error {
			n := fresh("app_missing")
			return tx.InsertKey(n, auth.Secret{Hash: hashOf("x"), KeyID: n.ID, CreatedAt: t0})
		}, auth.ErrNotFound},
		{"update missing", func(tx auth.Tx) error { return tx.UpdateKey(fresh(app.ID)) }, auth.ErrNotFound},
		{"delete missing", func(tx auth.Tx) error { return tx.DeleteKey("key_missing") }, auth.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, "Tx", s.Tx(ctxT(t), tc.fn), tc.want)
		})
	}
	keys, _, err := s.ListKeys(ctxT(t), auth.KeyFilter{}, auth.Page{})
	if err != nil || len(keys) != 1 {
		t.Fatalf("ListKeys after failed writes = %d keys, %v; want 1", len(keys), err)
	}
}

func testUpdateKey(t *testing.T, s auth.Store) {
	ctx := ctxT(t)
	app := newApp(t, s, "acme")
	k, sec := newKey(t, s, app.ID, nil)
	steps := []struct {
		name string
		edit func(k *auth.Key)
	}{
		{"fill every field", fullKey(app.ID)},
		{"clear every field", func(k *auth.Key) {
			*k = auth.Key{ID: k.ID, AppID: k.AppID, Enabled: true, CreatedAt: k.CreatedAt, UpdatedAt: t0.Add(time.Hour)}
		}},
		{"credits only", func(k *auth.Key) { k.Credits = &auth.Credits{Remaining: 5} }},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.edit(k)
			mustTx(t, s, func(tx auth.Tx) error { return tx.UpdateKey(k) })
			got, err := s.GetKey(ctx, k.ID)
			if err != nil {
				t.Fatalf("GetKey: %v", err)
			}
			wantEqual(t, "GetKey after UpdateKey", got, k)
			gk, _, err := s.KeyBySecret(ctx, sec.Hash)
			if err != nil {
				t.Fatalf("KeyBySecret: %v", err)
			}
			wantEqual(t, "KeyBySecret after UpdateKey", gk, k)
		})
	}
}

func testDeleteKey(t *testing.T, s auth.Store) {
	ctx := ctxT(t)
	app := newApp(t, s, "acme")
	k, sec := newKey(t, s, app.ID, nil)
	keep, _ := newKey(t, s, app.ID, nil)
	mustTx(t, s, func(tx auth.Tx) error {
		return tx.InsertSecret(auth.Secret{Hash: hashOf("old"), KeyID: k.ID, CreatedAt: t0, ExpiresAt: ptr(t0.Add(time.Hour))})
	})
	mustTx(t, s, func(tx auth.Tx) error { return tx.DeleteKey(k.ID) })
	_, err := s.GetKey(ctx, k.ID)
	wantErr(t, "GetKey(deleted)", err, auth.ErrNotFound)
	for _, h := range [][32]byte{sec.Hash, hashOf("old")} {
		_, _, err = s.KeyBySecret(ctx, h)
		wantErr(t, "KeyBySecret(deleted key)", err, auth.ErrNotFound)
	}
	if _, err := s.GetKey(ctx, keep.ID); err != nil {
		t.Fatalf("other key: %v", err)
	}
}

func testSecrets(t *testing.T, s auth.Store) {
	ctx := ctxT(t)
	app := newApp(t, s, "acme")
	k, first := newKey(t, s, app.ID, nil)
	now := t0.Add(time.Hour)
	grace := now.Add(10 * time.Minute)

	// Roll with a grace period: the first secret expires at grace.
	second := auth.Secret{Hash: hashOf("second"), KeyID: k.ID, Start: "tk_2nd", CreatedAt: now}
	mustTx(t, s, func(tx auth.Tx) error {
		if err := tx.ExpireSecrets(k.ID, grace, now); err != nil {
			return err
		}
		return tx.InsertSecret(second)
	})
	firstExpired := first
	firstExpired.ExpiresAt = ptr(grace)
	secs, err := s.SecretsOf(ctx, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "SecretsOf after roll with grace", secs, []auth.Secret{firstExpired, second})
	for _, want := range []auth.Secret{firstExpired, second} {
		gk, gs, err := s.KeyBySecret(ctx, want.Hash)
		if err != nil {
			t.Fatalf("KeyBySecret(%s): %v", want.Start, err)
		}
		if gk.ID != k.ID {
			t.Fatalf("KeyBySecret key = %s, want %s", gk.ID, k.ID)
		}
		wantEqual(t, "KeyBySecret secret", *gs, want)
	}

	// Roll again at once: the second (current) secret is deleted, the first
	// keeps its own expiry.
	later := now.Add(time.Minute)
	third := auth.Secret{Hash: hashOf("third"), KeyID: k.ID, Start: "tk_3rd", CreatedAt: later}
	mustTx(t, s, func(tx auth.Tx) error {
		if err := tx.ExpireSecrets(k.ID, later, later); err != nil {
			return err
		}
		return tx.InsertSecret(third)
	})
	secs, err = s.SecretsOf(ctx, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "SecretsOf after immediate roll", secs, []auth.Secret{firstExpired, third})
	_, _, err = s.KeyBySecret(ctx, second.Hash)
	wantErr(t, "KeyBySecret(deleted secret)", err, auth.ErrNotFound)

	// An expired secret is still returned, with its ExpiresAt, for the
	// verifier to judge.
	_, gs, err := s.KeyBySecret(ctx, first.Hash)
	if err != nil || gs.ExpiresAt == nil || !gs.ExpiresAt.Equal(grace) {
		t.Fatalf("KeyBySecret(old) = %+v, %v; want ExpiresAt %v", gs, err, grace)
	}

	errs := []struct {
		name string
		fn   func(tx auth.Tx) error
		want error
	}{
		{"duplicate hash", func(tx auth.Tx) error { return tx.InsertSecret(third) }, auth.ErrConflict},
		{"missing key", func(tx auth.Tx) error {
			return tx.InsertSecret(auth.Secret{Hash: hashOf("orphan"), KeyID: "key_missing", CreatedAt: t0})
		}, auth.ErrNotFound},
		{"expire missing key", func(tx auth.Tx) error { return tx.ExpireSecrets("key_missing", later, now) }, auth.ErrNotFound},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) { wantErr(t, "Tx", s.Tx(ctxT(t), tc.fn), tc.want) })
	}
	secs, err = s.SecretsOf(ctx, "key_missing")
	if err != nil || len(secs) != 0 {
		t.Fatalf("SecretsOf(missing) = %v, %v; want none, nil", secs, err)
	}
}

func testSpendCredits(t *testing.T, s auth.Store) {
	app := newApp(t, s, "acme")
	unlimited, _ := newKey(t, s, app.ID, nil)
	tests := []struct {
		name      string
		remaining int64
		cost      int64
		want      auth.SpendResult
		after     int64
	}{
		{"spend some", 10, 3, auth.SpendResult{OK: true, Remaining: 7}, 7},
		{"spend all", 10, 10, auth.SpendResult{OK: true, Remaining: 0}, 0},
		{"too much", 10, 11, auth.SpendResult{OK: false, Remaining: 10}, 10},
		{"empty", 0, 1, auth.SpendResult{OK: false, Remaining: 0}, 0},
		{"cost zero", 4, 0, auth.SpendResult{OK: true, Remaining: 4}, 4},
		{"cost zero on empty", 0, 0, auth.SpendResult{OK: true, Remaining: 0}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := ctxT(t)
			k, _ := newKey(t, s, app.ID, func(k *auth.Key) { k.Credits = &auth.Credits{Remaining: tc.remaining} })
			got, err := s.SpendCredits(ctx, k.ID, tc.cost, t0)
			if err != nil {
				t.Fatalf("SpendCredits: %v", err)
			}
			wantEqual(t, "SpendCredits", got, tc.want)
			after, err := s.GetKey(ctx, k.ID)
			if err != nil {
				t.Fatal(err)
			}
			if after.Credits.Remaining != tc.after {
				t.Fatalf("remaining after = %d, want %d", after.Credits.Remaining, tc.after)
			}
		})
	}
	ctx := ctxT(t)
	for _, cost := range []int64{0, 1} {
		_, err := s.SpendCredits(ctx, unlimited.ID, cost, t0)
		wantErr(t, "SpendCredits(no credits, cost "+strconv.FormatInt(cost, 10)+")", err, auth.ErrNotFound)
		_, err = s.SpendCredits(ctx, "key_missing", cost, t0)
		wantErr(t, "SpendCredits(missing key)", err, auth.ErrNotFound)
	}
}

func day(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, time.UTC) }

func testSpendCreditsRefill(t *testing.T, s auth.Store) {
	app := newApp(t, s, "acme")
	tests := []struct {
		name          string
		credits       auth.Credits
		now           time.Time
		cost          int64
		want          auth.SpendResult
		wantLastRefil time.Time // after the call
	}{
		{"daily due", auth.Credits{Remaining: 0, RefillAmount: 5, RefillInterval: auth.RefillDaily, LastRefillAt: day(2025, 3, 13, 0)},
			day(2025, 3, 14, 9), 1, auth.SpendResult{OK: true, Remaining: 4}, day(2025, 3, 14, 0)},
		{"daily not due", auth.Credits{Remaining: 2, RefillAmount: 5, RefillInterval: auth.RefillDaily, LastRefillAt: day(2025, 3, 14, 0)},
			day(2025, 3, 14, 23).Add(59*time.Minute + 59999*time.Millisecond), 1, auth.SpendResult{OK: true, Remaining: 1}, day(2025, 3, 14, 0)},
		{"daily at midnight", auth.Credits{Remaining: 0, RefillAmount: 5, RefillInterval: auth.RefillDaily, LastRefillAt: day(2025, 3, 14, 0)},
			day(2025, 3, 15, 0), 2, auth.SpendResult{OK: true, Remaining: 3}, day(2025, 3, 15, 0)},
		{"daily never refilled", auth.Credits{Remaining: 0, RefillAmount: 5, RefillInterval: auth.RefillDaily},
			day(2025, 3, 14, 9), 5, auth.SpendResult{OK: true, Remaining: 0}, day(2025, 3, 14, 0)},
		{"daily over several days", auth.Credits{Remaining: 1, RefillAmount: 5, RefillInterval: auth.RefillDaily, LastRefillAt: day(2025, 3, 1, 0)},
			day(2025, 3, 14, 9), 1, auth.SpendResult{OK: true, Remaining: 4}, day(2025, 3, 14, 0)},
		{"monthly not due on last ms", auth.Credits{Remaining: 1, RefillAmount: 50, RefillInterval: auth.RefillMonthly, LastRefillAt: day(2025, 1, 1, 0)},
			day(2025, 2, 1, 0).Add(-time.Millisecond), 1, auth.SpendResult{OK: true, Remaining: 0}, day(2025, 1, 1, 0)},
		{"monthly due on first day", auth.Credits{Remaining: 0, RefillAmount: 50, RefillInterval: auth.RefillMonthly, LastRefillAt: day(2025, 1, 1, 0)},
			day(2025, 2, 1, 0), 1, auth.SpendResult{OK: true, Remaining: 49}, day(2025, 2, 1, 0)},
		{"monthly across year", auth.Credits{Remaining: 0, RefillAmount: 50, RefillInterval: auth.RefillMonthly, LastRefillAt: day(2024, 12, 1, 0)},
			day(2025, 1, 1, 3), 10, auth.SpendResult{OK: true, Remaining: 40}, day(2025, 1, 1, 0)},
		{"monthly leap day to march", auth.Credits{Remaining: 0, RefillAmount: 50, RefillInterval: auth.RefillMonthly, LastRefillAt: day(2024, 2, 1, 0)},
			day(2024, 3, 1, 0), 1, auth.SpendResult{OK: true, Remaining: 49}, day(2024, 3, 1, 0)},
		{"monthly on leap day not due", auth.Credits{Remaining: 3, RefillAmount: 50, RefillInterval: auth.RefillMonthly, LastRefillAt: day(2024, 2, 1, 0)},
			day(2024, 2, 29, 23), 1, auth.SpendResult{OK: true, Remaining: 2}, day(2024, 2, 1, 0)},
		{"refill too small: no write", auth.Credits{Remaining: 0, RefillAmount: 2, RefillInterval: auth.RefillDaily, LastRefillAt: day(2025, 3, 13, 0)},
			day(2025, 3, 14, 9), 5, auth.SpendResult{OK: false, Remaining: 2}, day(2025, 3, 13, 0)},
		{"cost zero with refill due: no write", auth.Credits{Remaining: 0, RefillAmount: 7, RefillInterval: auth.RefillMonthly, LastRefillAt: day(2025, 2, 1, 0)},
			day(2025, 3, 14, 9), 0, auth.SpendResult{OK: true, Remaining: 7}, day(2025, 2, 1, 0)},
		{"refill lowers remaining", auth.Credits{Remaining: 80, RefillAmount: 10, RefillInterval: auth.RefillDaily, LastRefillAt: day(2025, 3, 13, 0)},
			day(2025, 3, 14, 9), 1, auth.SpendResult{OK: true, Remaining: 9}, day(2025, 3, 14, 0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := ctxT(t)
			c := tc.credits
			k, _ := newKey(t, s, app.ID, func(k *auth.Key) { k.Credits = &c })
			got, err := s.SpendCredits(ctx, k.ID, tc.cost, tc.now)
			if err != nil {
				t.Fatalf("SpendCredits: %v", err)
			}
			wantEqual(t, "SpendCredits", got, tc.want)
			if !got.OK || tc.cost == 0 {
				if eff := tc.credits.Effective(tc.now); got.Remaining != eff {
					t.Fatalf("Remaining %d != Credits.Effective %d", got.Remaining, eff)
				}
			}
			after, err := s.GetKey(ctx, k.ID)
			if err != nil {
				t.Fatal(err)
			}
			wantRemaining := tc.want.Remaining
			if !got.OK || tc.cost == 0 {
				wantRemaining = tc.credits.Remaining // nothing written
			}
			want := auth.Credits{Remaining: wantRemaining, RefillAmount: c.RefillAmount, RefillInterval: c.RefillInterval,
				LastRefillAt: tc.wantLastRefil}
			wantEqual(t, "credits after", *after.Credits, want)
		})
	}

	t.Run("same period refills once", func(t *testing.T) {
		ctx := ctxT(t)
		k, _ := newKey(t, s, app.ID, func(k *auth.Key) {
			k.Credits = &auth.Credits{RefillAmount: 3, RefillInterval: auth.RefillDaily, LastRefillAt: day(2025, 3, 13, 0)}
		})
		now := day(2025, 3, 14, 1)
		var oks int
		for i := 0; i < 5; i++ {
			r, err := s.SpendCredits(ctx, k.ID, 1, now.Add(time.Duration(i)*time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if r.OK {
				oks++
			}
		}
		if oks != 3 {
			t.Fatalf("%d spends succeeded in one day, want 3", oks)
		}
		r, err := s.SpendCredits(ctx, k.ID, 1, day(2025, 3, 15, 0))
		if err != nil || !r.OK || r.Remaining != 2 {
			t.Fatalf("next day: %+v, %v; want OK with 2 left", r, err)
		}
	})
}

// spendConcurrently spends 1 credit attempts times from goroutines spread
// over stores and returns how many succeeded.
func spendConcurrently(t *testing.T, keyID string, attempts int, stores ...auth.Store) int {
	t.Helper()
	ctx := ctxT(t)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		ok   int
		errs []error
	)
	for i := 0; i < attempts; i++ {
		wg.Add(1)
		go func(s auth.Store) {
			defer wg.Done()
			r, err := s.SpendCredits(ctx, keyID, 1, t0)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			} else if r.OK {
				ok++
			}
		}(stores[i%len(stores)])
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d spends failed; first: %v", len(errs), errs[0])
	}
	return ok
}

func testSpendCreditsConcurrent(t *testing.T, s auth.Store) {
	k := creditKey(t, s, auth.Credits{Remaining: 100})
	if ok := spendConcurrently(t, k.ID, 200, s); ok != 100 {
		t.Fatalf("%d spends succeeded, want exactly 100", ok)
	}
	after, err := s.GetKey(ctxT(t), k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if after.Credits.Remaining != 0 {
		t.Fatalf("remaining = %d, want 0", after.Credits.Remaining)
	}
}

func testSpendAcross(t *testing.T, a, b auth.Store) {
	k := creditKey(t, a, auth.Credits{Remaining: 100})
	if ok := spendConcurrently(t, k.ID, 200, a, b); ok != 100 {
		t.Fatalf("%d spends succeeded across two stores, want exactly 100", ok)
	}
	for _, s := range []auth.Store{a, b} {
		after, err := s.GetKey(ctxT(t), k.ID)
		if err != nil {
			t.Fatal(err)
		}
		if after.Credits.Remaining != 0 {
			t.Fatalf("remaining = %d, want 0", after.Credits.Remaining)
		}
	}
}

func testAdjustCredits(t *testing.T, s auth.Store) {
	app := newApp(t, s, "acme")
	unlimited, _ := newKey(t, s, app.ID, nil)
	tests := []struct {
		name      string
		remaining int64
		delta     int64
		set       bool
		want      int64
		wantErr   error
	}{
		{"add", 10, 5, false, 15, nil},
		{"subtract", 10, -3, false, 7, nil},
		{"floor at zero", 10, -100, false, 0, nil},
		{"set", 10, 42, true, 42, nil},
		{"set zero", 10, 0, true, 0, nil},
		{"set negative", 10, -1, true, 10, auth.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := ctxT(t)
			k, _ := newKey(t, s, app.ID, func(k *auth.Key) {
				k.Credits = &auth.Credits{Remaining: tc.remaining, RefillAmount: 9, RefillInterval: auth.RefillDaily, LastRefillAt: day(2025, 3, 14, 0)}
			})
			var got int64
			err := s.Tx(ctx, func(tx auth.Tx) error {
				var err error
				got, err = tx.AdjustCredits(k.ID, tc.delta, tc.set)
				return err
			})
			if tc.wantErr != nil {
				wantErr(t, "AdjustCredits", err, tc.wantErr)
			} else if err != nil {
				t.Fatalf("AdjustCredits: %v", err)
			} else if got != tc.want {
				t.Fatalf("AdjustCredits = %d, want %d", got, tc.want)
			}
			after, err := s.GetKey(ctx, k.ID)
			if err != nil {
				t.Fatal(err)
			}
			wantEqual(t, "credits after", *after.Credits, auth.Credits{Remaining: tc.want, RefillAmount: 9,
				RefillInterval: auth.RefillDaily, LastRefillAt: day(2025, 3, 14, 0)})
		})
	}
	for _, id := range []string{unlimited.ID, "key_missing"} {
		err := s.Tx(ctxT(t), func(tx auth.Tx) error { _, err := tx.AdjustCredits(id, 1, false); return err })
		wantErr(t, "AdjustCredits("+id+")", err, auth.ErrNotFound)
	}
}

func testRootKeys(t *testing.T, s auth.Store) {
	ctx := ctxT(t)
	if n, err := s.CountRootKeys(ctx); err != nil || n != 0 {
		t.Fatalf("CountRootKeys(empty) = %d, %v", n, err)
	}
	r1 := &auth.RootKey{ID: auth.NewID("rk", t0), Name: "bootstrap", Scopes: []string{auth.ScopeAll}, Start: "rk_abc", CreatedAt: t0}
	r2 := &auth.RootKey{ID: auth.NewID("rk", t0.Add(time.Millisecond)), Name: "gateway", Scopes: []string{auth.ScopeVerify, "keys.write:app_1"},
		Start: "rk_def", CreatedAt: t0.Add(time.Millisecond)}
	mustTx(t, s, func(tx auth.Tx) error {
		if err := tx.InsertRootKey(r1, hashOf("root1")); err != nil {
			return err
		}
		return tx.InsertRootKey(r2, hashOf("root2"))
	})
	got, err := s.RootKeyByHash(ctx, hashOf("root2"))
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "RootKeyByHash", got, r2)
	if n, err := s.CountRootKeys(ctx); err != nil || n != 2 {
		t.Fatalf("CountRootKeys = %d, %v; want 2", n, err)
	}

	revokedAt := t0.Add(time.Hour)
	mustTx(t, s, func(tx auth.Tx) error {
		if err := tx.RevokeRootKey(r1.ID, revokedAt); err != nil {
			return err
		}
		got, err := tx.GetRootKey(r1.ID)
		if err != nil {
			return err
		}
		if got.RevokedAt == nil || !got.RevokedAt.Equal(revokedAt) {
			t.Errorf("Tx.GetRootKey after revoke: RevokedAt = %v, want %v", got.RevokedAt, revokedAt)
		}
		return nil
	})
	got, err = s.RootKeyByHash(ctx, hashOf("root1"))
	if err != nil {
		t.Fatalf("RootKeyByHash(revoked): %v", err)
	}
	want := *r1
	want.RevokedAt = ptr(revokedAt)
	wantEqual(t, "RootKeyByHash(revoked)", got, &want)
	if n, err := s.CountRootKeys(ctx); err != nil || n != 1 {
		t.Fatalf("CountRootKeys after revoke = %d, %v; want 1", n, err)
	}
	list, next, err := s.ListRootKeys(ctx, auth.Page{})
	if err != nil || next != "" {
		t.Fatalf("ListRootKeys: next %q, %v", next, err)
	}
	wantEqual(t, "ListRootKeys", list, []*auth.RootKey{&want, r2})

	_, err = s.RootKeyByHash(ctx, hashOf("nobody"))
	wantErr(t, "RootKeyByHash(unknown)", err, auth.ErrNotFound)
	errs := []struct {
		name string
		fn   func(tx auth.Tx) error
		want error
	}{
		{"duplicate hash", func(tx auth.Tx) error {
			return tx.InsertRootKey(&auth.RootKey{ID: auth.NewID("rk", t0), Name: "x", Scopes: []string{}, CreatedAt: t0}, hashOf("root1"))
		}, auth.ErrConflict},
		{"duplicate id", func(tx auth.Tx) error { return tx.InsertRootKey(r2, hashOf("root3")) }, auth.ErrConflict},
		{"get missing", func(tx auth.Tx) error { _, err := tx.GetRootKey("rk_missing"); return err }, auth.ErrNotFound},
		{"revoke missing", func(tx auth.Tx) error { return tx.RevokeRootKey("rk_missing", t0) }, auth.ErrNotFound},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) { wantErr(t, "Tx", s.Tx(ctxT(t), tc.fn), tc.want) })
	}
}

func auditEntry(i int) *auth.AuditEntry {
	at := t0.Add(time.Duration(i) * time.Second)
	return &auth.AuditEntry{
		ID: auth.NewID("audit", at), Time: at, ActorID: "rk_1", Action: "key.update",
		TargetType: "key", TargetID: "key_" + strconv.Itoa(i), RemoteAddr: "192.0.2.1",
		Before: json.RawMessage(`{"name":  "old",` + "\n" + `"b":1, "a":2}`),
		After:  json.RawMessage(`{ "name":"new` + strconv.Itoa(i) + `" }`),
	}
}

// checkChain walks the chain and checks seqs 1..n, links and hashes.
func checkChain(t *testing.T, s auth.Store, n int) []*auth.AuditEntry {
	t.Helper()
	var got []*auth.AuditEntry
	var prev [32]byte
	err := s.AuditChain(ctxT(t), func(e *auth.AuditEntry) error {
		if e.Seq != int64(len(got)+1) {
			return fmt.Errorf("entry %d has seq %d", len(got)+1, e.Seq)
		}
		if e.PrevHash != prev {
			return fmt.Errorf("entry %d: prev hash does not link", e.Seq)
		}
		if e.Hash != e.ComputeHash() {
			return fmt.Errorf("entry %d: hash does not match its fields", e.Seq)
		}
		prev = e.Hash
		got = append(got, e)
		return nil
	})
	if err != nil {
		t.Fatalf("AuditChain: %v", err)
	}
	if len(got) != n {
		t.Fatalf("AuditChain gave %d entries, want %d", len(got), n)
	}
	return got
}

func testAudit(t *testing.T, s auth.Store) {
	ctx := ctxT(t)
	checkChain(t, s, 0)
	var appended []*auth.AuditEntry
	for i := 1; i <= 3; i++ {
		e := auditEntry(i)
		if i == 3 {
			e.Before, e.After = nil, json.RawMessage(`[]`)
		}
		mustTx(t, s, func(tx auth.Tx) error { return tx.AppendAudit(e) })
		appended = append(appended, e)
	}
	mustTx(t, s, func(tx auth.Tx) error { // two in one transaction
		for i := 4; i <= 5; i++ {
			e := auditEntry(i)
			if err := tx.AppendAudit(e); err != nil {
				return err
			}
			appended = append(appended, e)
		}
		return nil
	})
	if appended[0].Seq != 1 || appended[0].PrevHash != ([32]byte{}) {
		t.Fatalf("first entry: seq %d, prev hash %x; want 1 and zero", appended[0].Seq, appended[0].PrevHash)
	}
	for i, e := range appended {
		if e.Seq != int64(i+1) || e.Hash != e.ComputeHash() || (i > 0 && e.PrevHash != appended[i-1].Hash) {
			t.Fatalf("AppendAudit filled entry %d wrongly: %+v", i+1, e)
		}
	}
	chain := checkChain(t, s, 5)
	wantEqual(t, "AuditChain", chain, appended)
	if string(chain[0].Before) != `{"name":  "old",`+"\n"+`"b":1, "a":2}` {
		t.Fatalf("Before not stored verbatim: %q", chain[0].Before)
	}

	// Newest first, two per page.
	var listed []*auth.AuditEntry
	p := auth.Page{Limit: 2}
	for pages := 0; ; pages++ {
		page, next, err := s.ListAudit(ctx, p)
		if err != nil {
			t.Fatalf("ListAudit: %v", err)
		}
		listed = append(listed, page...)
		if next == "" {
			if pages != 2 {
				t.Fatalf("ListAudit took %d pages, want 3", pages+1)
			}
			break
		}
		p.Cursor = next
	}
	for i := range listed {
		wantEqual(t, "ListAudit entry", listed[i], appended[len(appended)-1-i])
	}
	if len(listed) != 5 {
		t.Fatalf("ListAudit gave %d entries, want 5", len(listed))
	}

	stop := errors.New("stop")
	calls := 0
	err := s.AuditChain(ctx, func(*auth.AuditEntry) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Fatalf("AuditChain with failing fn = %v after %d calls, want stop after 1", err, calls)
	}
}

func testAuditConcurrent(t *testing.T, s auth.Store) {
	appendConcurrently(t, 20, s)
	chain := checkChain(t, s, 20)
	seen := map[string]bool{}
	for _, e := range chain {
		seen[e.TargetID] = true
	}
	if len(seen) != 20 {
		t.Fatalf("chain holds %d distinct entries, want 20", len(seen))
	}
}

func testAuditAcross(t *testing.T, a, b auth.Store) {
	appendConcurrently(t, 20, a, b)
	checkChain(t, a, 20)
}

func appendConcurrently(t *testing.T, n int, stores ...auth.Store) {
	t.Helper()
	ctx := ctxT(t)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 1; i <= n; i++ {
		wg.Add(1)
		go func(s auth.Store) {
			defer wg.Done()
			errs <- s.Tx(ctx, func(tx auth.Tx) error { return tx.AppendAudit(auditEntry(i)) })
		}(stores[i%len(stores)])
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("AppendAudit: %v", err)
		}
	}
}

func testTxRollback(t *testing.T, s auth.Store) {
	ctx := ctxT(t)
	app := newApp(t, s, "acme")
	k, _ := newKey(t, s, app.ID, func(k *auth.Key) { k.Credits = &auth.Credits{Remaining: 10} })
	boom := errors.New("boom")
	var appended *auth.AuditEntry
	err := s.Tx(ctx, func(tx auth.Tx) error {
		other := &auth.App{ID: auth.NewID("app", t0), Name: "other", KeyPrefix: "other", CreatedAt: t0, UpdatedAt: t0}
		steps := []func() error{
			func() error { return tx.InsertApp(other) },
			func() error {
				nk := &auth.Key{ID: auth.NewID("key", t0), AppID: other.ID, CreatedAt: t0, UpdatedAt: t0}
				return tx.InsertKey(nk, auth.Secret{Hash: hashOf("rolled back"), KeyID: nk.ID, CreatedAt: t0})
			},
			func() error { k2 := *k; k2.Name = "changed"; return tx.UpdateKey(&k2) },
			func() error { _, err := tx.AdjustCredits(k.ID, 5, false); return err },
			func() error { return tx.InsertSecret(auth.Secret{Hash: hashOf("extra"), KeyID: k.ID, CreatedAt: t0}) },
			func() error {
				return tx.InsertRootKey(&auth.RootKey{ID: auth.NewID("rk", t0), Name: "x", Scopes: []string{"*"}, CreatedAt: t0}, hashOf("rk"))
			},
			func() error { appended = auditEntry(1); return tx.AppendAudit(appended) },
			func() error {
				return tx.PutIdempotency(&auth.IdempotencyRecord{ID: hashOf("idem"), Status: 201, CreatedAt: t0})
			},
			func() error { return tx.DeleteApp(app.ID) },
		}
		for i, step := range steps {
			if err := step(); err != nil {
				return fmt.Errorf("step %d: %w", i, err)
			}
		}
		return boom
	})
	if err != boom {
		t.Fatalf("Tx returned %v, want fn's error unchanged", err)
	}

	apps, _, err := s.ListApps(ctx, auth.Page{})
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "apps after rollback", apps, []*auth.App{app})
	got, err := s.GetKey(ctx, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "key after rollback", got, k)
	if secs, err := s.SecretsOf(ctx, k.ID); err != nil || len(secs) != 1 {
		t.Fatalf("secrets after rollback = %d, %v; want 1", len(secs), err)
	}
	if n, err := s.CountRootKeys(ctx); err != nil || n != 0 {
		t.Fatalf("root keys after rollback = %d, %v; want 0", n, err)
	}
	checkChain(t, s, 0)
	if _, err := s.GetIdempotency(ctx, hashOf("idem")); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("idempotency record after rollback: %v", err)
	}

	// The chain head was not advanced: the next append is seq 1.
	e := auditEntry(2)
	mustTx(t, s, func(tx auth.Tx) error { return tx.AppendAudit(e) })
	if e.Seq != 1 || e.PrevHash != ([32]byte{}) {
		t.Fatalf("append after rollback: seq %d, want 1 with zero prev hash", e.Seq)
	}
	checkChain(t, s, 1)

	// A panic in fn rolls back too.
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("panic in fn was swallowed")
			}
		}()
		_ = s.Tx(ctx, func(tx auth.Tx) error {
			if err := tx.DeleteApp(app.ID); err != nil {
				return err
			}
			panic("fn panics")
		})
	}()
	if _, err := s.GetApp(ctx, app.ID); err != nil {
		t.Fatalf("app after panicking Tx: %v", err)
	}
}

// listAll pages through list with limit and returns every id and the number
// of pages.
func listAll[T any](t *testing.T, limit int, list func(p auth.Page) ([]T, string, error), id func(T) string) ([]string, int) {
	t.Helper()
	var ids []string
	p := auth.Page{Limit: limit}
	for pages := 1; ; pages++ {
		items, next, err := list(p)
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		if len(items) > limit {
			t.Fatalf("page of %d items, limit %d", len(items), limit)
		}
		for _, it := range items {
			ids = append(ids, id(it))
		}
		if next == "" {
			return ids, pages
		}
		if pages > 100 {
			t.Fatal("pagination does not end")
		}
		p.Cursor = next
	}
}

func testPagination(t *testing.T, s auth.Store) {
	ctx := ctxT(t)
	var appIDs []string
	apps := make([]*auth.App, 5)
	for i := range apps {
		at := t0.Add(time.Duration(i) * time.Millisecond)
		apps[i] = &auth.App{ID: auth.NewID("app", at), Name: "a", KeyPrefix: "p" + strconv.Itoa(i), CreatedAt: at, UpdatedAt: at}
		appIDs = append(appIDs, apps[i].ID)
	}
	// Keys: 7 in app 0 (owners alternate u1/u2), 3 in app 1 (owner u1).
	var all, app0, u1, app0u1 []string
	mustTx(t, s, func(tx auth.Tx) error {
		for _, a := range apps {
			if err := tx.InsertApp(a); err != nil {
				return err
			}
		}
		for i := 0; i < 10; i++ {
			at := t0.Add(time.Duration(i) * time.Millisecond)
			app, owner := apps[0].ID, "u"+strconv.Itoa(1+i%2)
			if i >= 7 {
				app, owner = apps[1].ID, "u1"
			}
			k := &auth.Key{ID: auth.NewID("key", at), AppID: app, OwnerID: owner, CreatedAt: at, UpdatedAt: at}
			if err := tx.InsertKey(k, auth.Secret{Hash: hashOf(k.ID), KeyID: k.ID, CreatedAt: at}); err != nil {
				return err
			}
			all = append(all, k.ID)
			if app == apps[0].ID {
				app0 = append(app0, k.ID)
			}
			if owner == "u1" {
				u1 = append(u1, k.ID)
				if app == apps[0].ID {
					app0u1 = append(app0u1, k.ID)
				}
			}
		}
		return nil
	})

	appsList := func(p auth.Page) ([]*auth.App, string, error) { return s.ListApps(ctx, p) }
	appID := func(a *auth.App) string { return a.ID }
	for _, tc := range []struct {
		limit, pages int
	}{{2, 3}, {5, 1}, {1, 5}, {4, 2}, {50, 1}} {
		ids, pages := listAll(t, tc.limit, appsList, appID)
		wantEqual(t, "ListApps ids (limit "+strconv.Itoa(tc.limit)+")", ids, appIDs)
		if pages != tc.pages {
			t.Errorf("ListApps limit %d took %d pages, want %d", tc.limit, pages, tc.pages)
		}
	}

	keyID := func(k *auth.Key) string { return k.ID }
	filters := []struct {
		name string
		f    auth.KeyFilter
		want []string
	}{
		{"all", auth.KeyFilter{}, all},
		{"app", auth.KeyFilter{AppID: apps[0].ID}, app0},
		{"owner", auth.KeyFilter{OwnerID: "u1"}, u1},
		{"app and owner", auth.KeyFilter{AppID: apps[0].ID, OwnerID: "u1"}, app0u1},
		{"empty app", auth.KeyFilter{AppID: apps[4].ID}, nil},
		{"unknown owner", auth.KeyFilter{OwnerID: "nobody"}, nil},
	}
	for _, tc := range filters {
		t.Run("ListKeys "+tc.name, func(t *testing.T) {
			for _, limit := range []int{1, 3, 100} {
				ids, _ := listAll(t, limit, func(p auth.Page) ([]*auth.Key, string, error) { return s.ListKeys(ctx, tc.f, p) }, keyID)
				wantEqual(t, "ids", ids, tc.want)
			}
		})
	}

	for _, c := range []string{"!!not base64!!", "Zm9v!"} {
		_, _, err := s.ListApps(ctx, auth.Page{Cursor: c})
		wantErr(t, "ListApps(bad cursor)", err, auth.ErrInvalid)
		_, _, err = s.ListAudit(ctx, auth.Page{Cursor: c})
		wantErr(t, "ListAudit(bad cursor)", err, auth.ErrInvalid)
	}
}

func testPageLimits(t *testing.T, s auth.Store) {
	ctx := ctxT(t)
	const n = 1001
	mustTx(t, s, func(tx auth.Tx) error {
		for i := 0; i < n; i++ {
			at := t0.Add(time.Duration(i) * time.Millisecond)
			r := &auth.RootKey{ID: auth.NewID("rk", at), Name: "r", Scopes: []string{"verify"}, CreatedAt: at}
			if err := tx.InsertRootKey(r, hashOf("rk"+strconv.Itoa(i))); err != nil {
				return err
			}
		}
		return nil
	})
	tests := []struct {
		limit, want int
	}{{0, 50}, {-1, 50}, {7, 7}, {1000, 1000}, {5000, 1000}}
	for _, tc := range tests {
		list, next, err := s.ListRootKeys(ctx, auth.Page{Limit: tc.limit})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != tc.want || next == "" {
			t.Fatalf("ListRootKeys(limit %d) = %d items, next %q; want %d and a cursor", tc.limit, len(list), next, tc.want)
		}
	}
	if c, err := s.CountRootKeys(ctx); err != nil || c != n {
		t.Fatalf("CountRootKeys = %d, %v; want %d", c, err, n)
	}
}

// Purger is implemented by stores that can drop old idempotency records.
type Purger interface {
	PurgeIdempotency(ctx context.Context, before time.Time) (int64, error)
}

func testIdempotency(t *testing.T, s auth.Store) {
	ctx := ctxT(t)
	recs := []*auth.IdempotencyRecord{
		{ID: hashOf("a"), RequestHash: hashOf("req a"), Status: 201, Body: []byte("\x00encrypted\xff"), CreatedAt: t0},
		{ID: hashOf("b"), RequestHash: hashOf("req b"), Status: 409, Body: []byte(`{"x":1}`), CreatedAt: t0.Add(time.Hour)},
	}
	mustTx(t, s, func(tx auth.Tx) error {
		for _, r := range recs {
			if err := tx.PutIdempotency(r); err != nil {
				return err
			}
		}
		return nil
	})
	for _, r := range recs {
		got, err := s.GetIdempotency(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, "GetIdempotency", got, r)
	}
	dup := *recs[0]
	dup.Status = 500
	wantErr(t, "PutIdempotency(duplicate)", s.Tx(ctx, func(tx auth.Tx) error { return tx.PutIdempotency(&dup) }), auth.ErrConflict)
	_, err := s.GetIdempotency(ctx, hashOf("missing"))
	wantErr(t, "GetIdempotency(missing)", err, auth.ErrNotFound)

	p, ok := s.(Purger)
	if !ok {
		t.Fatal("store has no PurgeIdempotency method")
	}
	n, err := p.PurgeIdempotency(ctx, t0.Add(time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("PurgeIdempotency = %d, %v; want 1", n, err)
	}
	_, err = s.GetIdempotency(ctx, recs[0].ID)
	wantErr(t, "GetIdempotency(purged)", err, auth.ErrNotFound)
	if _, err := s.GetIdempotency(ctx, recs[1].ID); err != nil {
		t.Fatalf("GetIdempotency(kept): %v", err)
	}
}

func testUnavailable(t *testing.T, s auth.Store) {
	ctx := ctxT(t)
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	app := newApp(t, s, "acme")

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	calls := map[string]func(ctx context.Context) error{
		"Ping":         func(ctx context.Context) error { return s.Ping(ctx) },
		"GetApp":       func(ctx context.Context) error { _, err := s.GetApp(ctx, app.ID); return err },
		"SpendCredits": func(ctx context.Context) error { _, err := s.SpendCredits(ctx, "key_x", 1, t0); return err },
		"Tx": func(ctx context.Context) error {
			return s.Tx(ctx, func(tx auth.Tx) error { _, err := tx.GetApp(app.ID); return err })
		},
	}
	for name, call := range calls {
		if err := call(cancelled); !errors.Is(err, auth.ErrUnavailable) {
			t.Errorf("%s with cancelled context: %v, want ErrUnavailable", name, err)
		}
	}

	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for name, call := range calls {
		if err := call(ctx); !errors.Is(err, auth.ErrUnavailable) {
			t.Errorf("%s after Close: %v, want ErrUnavailable", name, err)
		}
	}
}
