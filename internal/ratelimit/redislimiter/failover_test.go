package redislimiter_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/typeauth/typeauth/internal/auth"
	"github.com/typeauth/typeauth/internal/ratelimit"
	"github.com/typeauth/typeauth/internal/ratelimit/redislimiter"
)

// flaky is a Limiter (and ping) that fails while broken is set.
type flaky struct {
	broken atomic.Bool
	calls  atomic.Int64
	inner  *ratelimit.Local
}

var errDown = errors.New("dial tcp: connection refused")

func (f *flaky) Check(ctx context.Context, now time.Time, ls []ratelimit.Limit, st []ratelimit.State) (bool, int, error) {
	f.calls.Add(1)
	if f.broken.Load() {
		return false, -1, errDown
	}
	return f.inner.Check(ctx, now, ls, st)
}

func (f *flaky) ping(context.Context) error {
	if f.broken.Load() {
		return errDown
	}
	return nil
}

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuf) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func TestFailover(t *testing.T) {
	for _, policy := range []redislimiter.Policy{redislimiter.PolicyClosed, redislimiter.PolicyLocal} {
		t.Run(string(policy), func(t *testing.T) {
			fl := &flaky{inner: ratelimit.NewLocal(ratelimit.Options{})}
			var logs lockedBuf
			f := redislimiter.NewFailover(fl, fl.ping, redislimiter.FailoverOptions{Policy: policy, Replicas: 3,
				ProbeInterval: 10 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { f.Run(ctx); close(done) }()
			defer func() { cancel(); <-done }()

			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			ls := []ratelimit.Limit{{Key: "k", Name: "k", Limit: 100, Window: time.Minute, Cost: 1}}
			if ok, _, err := f.Check(ctx, now, ls, nil); !ok || err != nil || !f.Up() {
				t.Fatalf("healthy: %v %v", ok, err)
			}
			fl.broken.Store(true)
			admitted, failed := 0, 0
			for range 2 { // below the threshold: fail closed, stay up
				if _, _, err := f.Check(ctx, now, ls, nil); !errors.Is(err, auth.ErrUnavailable) || !f.Up() {
					t.Fatalf("failure below the threshold: %v, up %v", err, f.Up())
				}
			}
			for range 200 {
				ok, _, err := f.Check(ctx, now, ls, nil)
				switch {
				case err != nil:
					if !errors.Is(err, auth.ErrUnavailable) {
						t.Fatalf("error %v does not wrap ErrUnavailable", err)
					}
					failed++
				case ok:
					admitted++
				}
			}
			if f.Up() || f.Outages() != 1 || f.DegradedChecks() != 200 {
				t.Fatalf("up %v outages %d degraded %d", f.Up(), f.Outages(), f.DegradedChecks())
			}
			if c := fl.calls.Load(); c != 4 {
				t.Errorf("%d calls reached the broken Redis; want 3 (then the policy applies at once)", c-1)
			}
			switch policy {
			case redislimiter.PolicyClosed:
				if admitted != 0 || failed != 200 {
					t.Fatalf("closed: %d admitted, %d failed", admitted, failed)
				}
			case redislimiter.PolicyLocal:
				if admitted != 33 || failed != 0 {
					t.Fatalf("local at 100/3: %d admitted, %d failed; want 33, 0", admitted, failed)
				}
			}
			if n := strings.Count(logs.String(), "redis unreachable"); n != 1 {
				t.Fatalf("%d 'unreachable' log lines; want 1:\n%s", n, logs.String())
			}
			fl.broken.Store(false)
			deadline := time.Now().Add(2 * time.Second)
			for !f.Up() && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if !f.Up() || !strings.Contains(logs.String(), "redis reachable again") {
				t.Fatalf("did not recover: %s", logs.String())
			}
			if ok, _, err := f.Check(ctx, now, ls, nil); !ok || err != nil {
				t.Fatalf("after recovery: %v %v", ok, err)
			}
			// invalid checks stay ErrInvalid and do not mark Redis down
			bad := []ratelimit.Limit{{Key: "", Name: "x", Limit: 1, Window: time.Second}}
			if _, _, err := f.Check(ctx, now, bad, nil); !errors.Is(err, ratelimit.ErrInvalid) || !f.Up() {
				t.Fatalf("invalid: %v, up %v", err, f.Up())
			}
		})
	}
}
