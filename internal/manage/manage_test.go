package manage_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/typeauth/typeauth/internal/auth"
	"github.com/typeauth/typeauth/internal/manage"
	"github.com/typeauth/typeauth/internal/store/sqlite"
	"github.com/typeauth/typeauth/internal/verify"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

type env struct {
	svc   *manage.Service
	v     *verify.Verifier
	clock *clock
	root  manage.Actor
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.OpenDir(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	c := &clock{now: time.Date(2026, 1, 31, 22, 0, 0, 0, time.UTC)}
	v := verify.New(st, verify.Options{Now: c.Now})
	svc := manage.New(st, v, c.Now, nil)
	created, err := svc.Bootstrap(ctx, "")
	if err != nil || created == nil {
		t.Fatalf("bootstrap: %v", err)
	}
	return &env{svc: svc, v: v, clock: c, root: manage.Actor{RootKey: created.RootKey, RemoteAddr: "127.0.0.1"}}
}

func (e *env) verify(t *testing.T, secret string) verify.Decision {
	t.Helper()
	d, err := e.v.Verify(context.Background(), &verify.Request{Key: secret, CreditCost: 1})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestRefillWithInjectedClock(t *testing.T) {
	for _, tt := range []struct {
		iv      auth.RefillInterval
		advance time.Duration // to the start of the next period from 2026-01-31 22:00
	}{
		{auth.RefillDaily, 2 * time.Hour},
		{auth.RefillMonthly, 2 * time.Hour}, // Feb 1 is a new month too
	} {
		t.Run(string(tt.iv), func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			app, err := e.svc.CreateApp(ctx, e.root, "A", "rf", nil)
			if err != nil {
				t.Fatal(err)
			}
			ck, err := e.svc.CreateKey(ctx, e.root, &auth.Key{AppID: app.ID, Enabled: true,
				Credits: &auth.Credits{Remaining: 2, RefillAmount: 2, RefillInterval: tt.iv}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range []auth.Code{auth.CodeValid, auth.CodeValid, auth.CodeUsageExceeded} {
				if d := e.verify(t, ck.Secret); d.Code != want {
					t.Fatalf("verify %d: %s, want %s", i, d.Code, want)
				}
			}
			e.clock.Add(tt.advance - time.Millisecond) // still in the same period
			if d := e.verify(t, ck.Secret); d.Code != auth.CodeUsageExceeded {
				t.Fatalf("just before the period ends: %s", d.Code)
			}
			e.clock.Add(time.Millisecond)
			d := e.verify(t, ck.Secret)
			if d.Code != auth.CodeValid || d.Remaining != 1 {
				t.Fatalf("after refill: %s, remaining %d", d.Code, d.Remaining)
			}
			if tt.iv == auth.RefillMonthly {
				e.clock.Add(24 * time.Hour) // Feb 2: same month, no refill
				e.verify(t, ck.Secret)
				if d := e.verify(t, ck.Secret); d.Code != auth.CodeUsageExceeded {
					t.Fatalf("monthly refilled within the month: %s", d.Code)
				}
			}
		})
	}
}

func TestBootstrapOnce(t *testing.T) {
	e := newEnv(t)
	again, err := e.svc.Bootstrap(context.Background(), "")
	if err != nil || again != nil {
		t.Fatalf("second bootstrap: %v %v", again, err)
	}
}

func TestIdempotency(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	app, _ := e.svc.CreateApp(ctx, e.root, "A", "id", nil)
	idem := manage.NewIdempotency("root-secret", "k1", []byte("POST /v1/keys {}"))
	a, err := e.svc.CreateKey(ctx, e.root, &auth.Key{AppID: app.ID, Enabled: true}, idem)
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.svc.CreateKey(ctx, e.root, &auth.Key{AppID: app.ID, Enabled: true}, idem)
	if err != nil || b.Key.ID != a.Key.ID || b.Secret != a.Secret {
		t.Fatalf("replay: %v %+v", err, b)
	}
	// Another caller (another root secret) with the same Idempotency-Key is another request.
	other := manage.NewIdempotency("other-root", "k1", []byte("POST /v1/keys {}"))
	c, err := e.svc.CreateKey(ctx, e.root, &auth.Key{AppID: app.ID, Enabled: true}, other)
	if err != nil || c.Key.ID == a.Key.ID {
		t.Fatalf("other caller got the first caller's answer")
	}
	changed := manage.NewIdempotency("root-secret", "k1", []byte("POST /v1/keys {\"name\":\"x\"}"))
	_, err = e.svc.CreateKey(ctx, e.root, &auth.Key{AppID: app.ID, Enabled: true}, changed)
	var ae *auth.Error
	if !errors.As(err, &ae) || ae.Code != "idempotency_key_reused" {
		t.Fatalf("reuse with another body: %v", err)
	}
	// After the window, the key may be used afresh.
	e.clock.Add(manage.IdempotencyWindow + time.Minute)
	if _, err := e.svc.CreateKey(ctx, e.root, &auth.Key{AppID: app.ID, Enabled: true}, changed); err != nil && !errors.Is(err, auth.ErrConflict) {
		t.Fatal(err)
	}
}

func TestScopes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	app, _ := e.svc.CreateApp(ctx, e.root, "A", "sc", nil)
	other, _ := e.svc.CreateApp(ctx, e.root, "B", "sd", nil)
	rk, err := e.svc.CreateRootKey(ctx, e.root, "narrow", []string{"keys.write:" + app.ID}, nil)
	if err != nil {
		t.Fatal(err)
	}
	narrow := manage.Actor{RootKey: rk.RootKey}
	if _, err := e.svc.CreateKey(ctx, narrow, &auth.Key{AppID: app.ID, Enabled: true}, nil); err != nil {
		t.Fatalf("in scope: %v", err)
	}
	ok, _ := e.svc.CreateKey(ctx, e.root, &auth.Key{AppID: other.ID, Enabled: true}, nil)
	for name, err := range map[string]error{
		"create in other app": func() error { _, err := e.svc.CreateKey(ctx, narrow, &auth.Key{AppID: other.ID}, nil); return err }(),
		"list apps":           func() error { _, _, err := e.svc.ListApps(ctx, narrow, auth.Page{}); return err }(),
		"list by owner only": func() error {
			_, _, err := e.svc.ListKeys(ctx, narrow, auth.KeyFilter{OwnerID: "x"}, auth.Page{})
			return err
		}(),
		"audit": func() error { _, _, err := e.svc.ListAudit(ctx, narrow, auth.Page{}); return err }(),
	} {
		if !errors.Is(err, auth.ErrForbidden) {
			t.Errorf("%s: %v, want ErrForbidden", name, err)
		}
	}
	// A key of an app the root key has no key scope on does not exist for
	// it (404, so that ids cannot be probed); one it can read but not
	// write is a 403.
	if err := e.svc.RevokeKey(ctx, narrow, ok.Key.ID); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("revoke in other app: %v, want ErrNotFound", err)
	}
	if _, err := e.svc.GetKey(ctx, narrow, ok.Key.ID); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("get in other app: %v, want ErrNotFound", err)
	}
	if d := e.verify(t, ok.Secret); d.Code != auth.CodeValid {
		t.Fatalf("a refused revoke changed the key: %s", d.Code)
	}
	ro, err := e.svc.CreateRootKey(ctx, e.root, "ro", []string{"keys.read:" + other.ID}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RevokeKey(ctx, manage.Actor{RootKey: ro.RootKey}, ok.Key.ID); !errors.Is(err, auth.ErrForbidden) {
		t.Errorf("revoke with read scope on the key's app: %v, want ErrForbidden", err)
	}
}

func TestAuditChainOfWrites(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	app, _ := e.svc.CreateApp(ctx, e.root, "A", "au", nil)
	k, _ := e.svc.CreateKey(ctx, e.root, &auth.Key{AppID: app.ID, Enabled: true, Credits: &auth.Credits{Remaining: 5}}, nil)
	e.svc.UpdateKey(ctx, e.root, k.Key.ID, func(k *auth.Key) error { k.Name = "renamed"; return nil })
	e.svc.AdjustCredits(ctx, e.root, k.Key.ID, manage.CreditIncrement, 5)
	e.svc.RollKey(ctx, e.root, k.Key.ID, time.Minute)
	e.svc.RevokeKey(ctx, e.root, k.Key.ID)
	e.svc.UpdateApp(ctx, e.root, app.ID, ptr("B"))
	e.svc.DeleteApp(ctx, e.root, app.ID)
	entries, _, err := e.svc.ListAudit(ctx, e.root, auth.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for i := len(entries) - 1; i >= 0; i-- {
		actions = append(actions, entries[i].Action)
		if string(entries[i].Before)+string(entries[i].After) != "" && containsSecret(entries[i], k.Secret) {
			t.Fatalf("audit entry %d holds the secret", entries[i].Seq)
		}
	}
	want := []string{"rootkey.create", "app.create", "key.create", "key.update", "key.credits", "key.roll", "key.delete", "app.update", "app.delete"}
	if len(actions) != len(want) {
		t.Fatalf("actions %v, want %v", actions, want)
	}
	for i := range want {
		if actions[i] != want[i] {
			t.Fatalf("actions %v, want %v", actions, want)
		}
	}
	rep, err := e.svc.VerifyAudit(ctx, e.root)
	if err != nil || !rep.OK || rep.Checked != int64(len(want)) {
		t.Fatalf("chain: %+v %v", rep, err)
	}
}

func containsSecret(e *auth.AuditEntry, secret string) bool {
	body := string(e.Before) + string(e.After)
	return len(secret) > 10 && (contains(body, secret) || contains(body, secret[10:]))
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func ptr[T any](v T) *T { return &v }

func TestLastRootKeyCannotBeRevoked(t *testing.T) {
	e := newEnv(t)
	err := e.svc.RevokeRootKey(context.Background(), e.root, e.root.RootKey.ID)
	var ae *auth.Error
	if !errors.As(err, &ae) || ae.Code != "last_root_key" {
		t.Fatalf("revoking the last root key: %v", err)
	}
}
