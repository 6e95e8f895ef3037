package verify

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/typeauth/typeauth/internal/auth"
	"github.com/typeauth/typeauth/internal/keyfmt"
)

// TestStaleWindow: with the store down, keys loaded before keep verifying
// until PositiveTTL + StaleWindow, retrying the store at most every
// StoreRetry; unknown keys and keys with credits fail closed.
func TestStaleWindow(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	now := t0
	st := newFake()
	v := New(st, Options{Now: func() time.Time { return now }, PositiveTTL: 10 * time.Second,
		StaleWindow: time.Minute, StoreRetry: time.Second})
	plain := st.add(t, &auth.Key{ID: "key_1", AppID: "app_a", Enabled: true})
	credits := st.add(t, &auth.Key{ID: "key_2", AppID: "app_a", Enabled: true, Credits: &auth.Credits{Remaining: 10}})
	never := st.add(t, &auth.Key{ID: "key_3", AppID: "app_a", Enabled: true})
	unknown, _ := keyfmt.Generate("acme")
	verify := func(key string) (auth.Code, error) {
		t.Helper()
		d, err := v.Verify(context.Background(), &Request{Key: key})
		return d.Code, err
	}
	for _, k := range []string{plain, credits} {
		if c, err := verify(k); c != auth.CodeValid || err != nil {
			t.Fatalf("healthy: %v %v", c, err)
		}
	}
	st.fail.Store(true)
	now = t0.Add(11 * time.Second) // past the TTL
	reads := st.reads.Load()
	if c, err := verify(plain); c != auth.CodeValid || err != nil {
		t.Fatalf("stale key with the store down: %v %v; want VALID", c, err)
	}
	if st.reads.Load() != reads+1 {
		t.Fatalf("the refresh was not tried")
	}
	now = now.Add(500 * time.Millisecond)
	if c, err := verify(plain); c != auth.CodeValid || err != nil {
		t.Fatalf("%v %v", c, err)
	}
	if st.reads.Load() != reads+1 {
		t.Fatalf("the store was tried again within StoreRetry")
	}
	now = now.Add(time.Second)
	if c, err := verify(plain); c != auth.CodeValid || err != nil || st.reads.Load() != reads+2 {
		t.Fatalf("after StoreRetry: %v %v, %d reads; want VALID after one more try", c, err, st.reads.Load()-reads)
	}
	if _, err := verify(credits); !errors.Is(err, auth.ErrUnavailable) {
		t.Fatalf("key with credits, store down: %v; want ErrUnavailable", err)
	}
	for name, k := range map[string]string{"never loaded": never, "unknown": unknown} {
		if _, err := verify(k); !errors.Is(err, auth.ErrUnavailable) {
			t.Fatalf("%s key, store down: %v; want ErrUnavailable", name, err)
		}
	}
	now = t0.Add(70 * time.Second) // past TTL + StaleWindow
	if _, err := verify(plain); !errors.Is(err, auth.ErrUnavailable) {
		t.Fatalf("past the stale window: %v; want ErrUnavailable", err)
	}
	st.fail.Store(false)
	st.set(plain, func(k *auth.Key) { k.Enabled = false })
	if c, err := verify(plain); c != auth.CodeDisabled || err != nil {
		t.Fatalf("store back: %v %v; want the fresh answer DISABLED", c, err)
	}
}

// TestStaleWindowOff: without a stale window a failed refresh fails closed.
func TestStaleWindowOff(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	st := newFake()
	v := New(st, Options{Now: func() time.Time { return now }, PositiveTTL: time.Second})
	k := st.add(t, &auth.Key{ID: "key_1", AppID: "app_a", Enabled: true})
	if d, err := v.Verify(context.Background(), &Request{Key: k}); err != nil || !d.Valid() {
		t.Fatal(d.Code, err)
	}
	st.fail.Store(true)
	now = now.Add(2 * time.Second)
	if _, err := v.Verify(context.Background(), &Request{Key: k}); !errors.Is(err, auth.ErrUnavailable) {
		t.Fatalf("%v; want ErrUnavailable", err)
	}
}
