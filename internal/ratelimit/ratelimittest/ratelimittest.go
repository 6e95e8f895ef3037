// Package ratelimittest is the contract every ratelimit.Limiter passes: the
// local implementation and any remote one (Redis) run the same Run.
//
// The suite uses nothing but the Limiter interface and the now it passes to
// Check, so an implementation backed by a shared server runs it under the
// same injected times. Every Run uses bucket keys under a fresh random
// prefix, so runs against a shared server do not see each other's buckets.
package ratelimittest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/typeauth/typeauth/internal/ratelimit"
)

// lim is a limit in a step; key is a short bucket name ("a") that the
// suite turns into a unique Key.
type lim struct {
	key    string
	limit  int64
	window time.Duration
	cost   int64
}

// step is one Check (or repeat identical Checks) and what it must answer.
type step struct {
	at      time.Duration // since the suite's epoch
	limits  []lim
	repeat  int // 0 or 1: once
	allowed bool
	denied  int // index expected when !allowed
	// Checked on the last repetition when not nil: per limit.
	remaining []int64
	resetAt   []time.Duration // since the epoch
	retry     []time.Duration
}

// epoch is where the suite's clock starts: a fixed instant, whole seconds.
func epoch() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }

const (
	ms     = time.Millisecond
	sec    = time.Second
	minute = time.Minute
)

type caseT struct {
	name  string
	steps []step
}

func cases() []caseT {
	perMin := func(key string, n, cost int64) lim { return lim{key, n, minute, cost} }
	perSec := func(key string, n, cost int64) lim { return lim{key, n, sec, cost} }
	one := func(l lim) []lim { return []lim{l} }
	return []caseT{
		{"burst of exactly Limit in one instant", []step{
			{at: 0, limits: one(perMin("a", 100, 1)), allowed: true, remaining: []int64{99}, resetAt: []time.Duration{600 * ms}, retry: []time.Duration{0}},
			{at: 0, limits: one(perMin("a", 100, 1)), repeat: 99, allowed: true, remaining: []int64{0}, resetAt: []time.Duration{minute}},
			// the 101st: denied, one unit returns after Window/Limit
			{at: 0, limits: one(perMin("a", 100, 1)), denied: 0, remaining: []int64{0}, resetAt: []time.Duration{minute}, retry: []time.Duration{600 * ms}},
		}},
		{"window edges at one unit per Window/Limit", []step{
			{at: 0, limits: one(perMin("a", 100, 1)), repeat: 100, allowed: true},
			{at: 599 * ms, limits: one(perMin("a", 100, 1)), denied: 0, retry: []time.Duration{1 * ms}},
			{at: 600 * ms, limits: one(perMin("a", 100, 1)), allowed: true, remaining: []int64{0}, resetAt: []time.Duration{60*sec + 600*ms}},
			{at: 600 * ms, limits: one(perMin("a", 100, 1)), denied: 0, retry: []time.Duration{600 * ms}},
			{at: 1199 * ms, limits: one(perMin("a", 100, 1)), denied: 0, retry: []time.Duration{1 * ms}},
			{at: 1200 * ms, limits: one(perMin("a", 100, 1)), allowed: true},
			// 30 s later half the capacity is back, minus what 600 ms and 1.2 s spent
			{at: 30 * sec, limits: one(perMin("a", 100, 0)), allowed: true, remaining: []int64{48}, resetAt: []time.Duration{61200 * ms}},
			{at: 30 * sec, limits: one(perMin("a", 100, 1)), repeat: 48, allowed: true, remaining: []int64{0}},
			{at: 30 * sec, limits: one(perMin("a", 100, 1)), denied: 0},
			// a full window after the bucket's reset, it is full
			{at: 90 * sec, limits: one(perMin("a", 100, 0)), allowed: true, remaining: []int64{100}, resetAt: []time.Duration{90 * sec}},
			{at: 90 * sec, limits: one(perMin("a", 100, 1)), repeat: 100, allowed: true},
			{at: 90 * sec, limits: one(perMin("a", 100, 1)), denied: 0},
		}},
		{"steady rate after the burst", []step{
			{at: 0, limits: one(perSec("a", 10, 1)), repeat: 10, allowed: true},
			{at: 100 * ms, limits: one(perSec("a", 10, 1)), allowed: true},
			{at: 100 * ms, limits: one(perSec("a", 10, 1)), denied: 0},
			{at: 200 * ms, limits: one(perSec("a", 10, 1)), allowed: true},
			{at: 250 * ms, limits: one(perSec("a", 10, 1)), denied: 0, retry: []time.Duration{50 * ms}},
			{at: 1200 * ms, limits: one(perSec("a", 10, 1)), repeat: 10, allowed: true},
			{at: 1200 * ms, limits: one(perSec("a", 10, 1)), denied: 0},
		}},
		{"cost greater than one", []step{
			{at: 0, limits: one(perSec("a", 10, 3)), allowed: true, remaining: []int64{7}, resetAt: []time.Duration{300 * ms}},
			{at: 0, limits: one(perSec("a", 10, 3)), repeat: 2, allowed: true, remaining: []int64{1}},
			{at: 0, limits: one(perSec("a", 10, 3)), denied: 0, remaining: []int64{1}, retry: []time.Duration{200 * ms}},
			{at: 0, limits: one(perSec("a", 10, 1)), allowed: true, remaining: []int64{0}, resetAt: []time.Duration{sec}},
			{at: 299 * ms, limits: one(perSec("a", 10, 3)), denied: 0, retry: []time.Duration{1 * ms}},
			{at: 300 * ms, limits: one(perSec("a", 10, 3)), allowed: true, remaining: []int64{0}},
			{at: 1300 * ms, limits: one(perSec("a", 10, 10)), allowed: true, remaining: []int64{0}},
		}},
		{"cost above the limit is denied and charges nothing", []step{
			{at: 0, limits: one(perSec("a", 10, 11)), denied: 0, remaining: []int64{10}, resetAt: []time.Duration{0}, retry: []time.Duration{0}},
			{at: 0, limits: one(perSec("a", 10, 10)), allowed: true, remaining: []int64{0}},
		}},
		{"cost 0 peeks and charges nothing", []step{
			{at: 0, limits: one(perMin("a", 100, 0)), allowed: true, remaining: []int64{100}, resetAt: []time.Duration{0}, retry: []time.Duration{0}},
			{at: 0, limits: one(perMin("a", 100, 1)), allowed: true, remaining: []int64{99}},
			{at: 0, limits: one(perMin("a", 100, 0)), repeat: 5, allowed: true, remaining: []int64{99}, resetAt: []time.Duration{600 * ms}},
			{at: 0, limits: one(perMin("a", 100, 1)), repeat: 99, allowed: true, remaining: []int64{0}},
			// exhausted but not over: a peek is allowed and says 0 remain
			{at: 0, limits: one(perMin("a", 100, 0)), allowed: true, remaining: []int64{0}, resetAt: []time.Duration{minute}},
		}},
		{"several limits: a denial charges none of them", []step{
			{at: 0, limits: []lim{perMin("a", 2, 1), perMin("b", 10, 1)}, repeat: 2, allowed: true, remaining: []int64{0, 8}},
			{at: 0, limits: []lim{perMin("a", 2, 1), perMin("b", 10, 1)}, denied: 0,
				remaining: []int64{0, 8}, resetAt: []time.Duration{minute, 12 * sec}, retry: []time.Duration{30 * sec, 0}},
			{at: 0, limits: []lim{perMin("b", 10, 1), perMin("a", 2, 1)}, denied: 1,
				remaining: []int64{8, 0}, retry: []time.Duration{0, 30 * sec}},
			{at: 0, limits: one(perMin("b", 10, 0)), allowed: true, remaining: []int64{8}},
			{at: 0, limits: one(perMin("b", 10, 1)), allowed: true, remaining: []int64{7}},
		}},
		{"several limits: denied is the first limit that denies", []step{
			{at: 0, limits: one(perMin("b", 1, 1)), allowed: true},
			{at: 0, limits: one(perMin("c", 1, 1)), allowed: true},
			{at: 0, limits: []lim{perMin("a", 1, 1), perMin("b", 1, 1), perMin("c", 1, 1)}, denied: 1, remaining: []int64{1, 0, 0},
				retry: []time.Duration{0, minute, minute}},
			{at: 0, limits: one(perMin("a", 1, 1)), allowed: true},
		}},
		{"several limits: RetryAfter on every limit that denies", []step{
			{at: 0, limits: []lim{perMin("a", 2, 2), perSec("b", 10, 10), perMin("c", 5, 0)}, allowed: true},
			{at: 0, limits: []lim{perMin("a", 2, 1), perSec("b", 10, 1), perMin("c", 5, 1)}, denied: 0,
				remaining: []int64{0, 0, 5}, retry: []time.Duration{30 * sec, 100 * ms, 0}},
		}},
		{"several limits: all charged when all allow", []step{
			{at: 0, limits: []lim{perMin("a", 5, 2), perSec("b", 10, 1), perMin("c", 100, 0)}, allowed: true,
				remaining: []int64{3, 9, 100}, resetAt: []time.Duration{24 * sec, 100 * ms, 0}, retry: []time.Duration{0, 0, 0}},
			{at: 0, limits: []lim{perMin("a", 5, 0), perSec("b", 10, 0)}, allowed: true, remaining: []int64{3, 9}},
		}},
		{"many limits in one check", []step{
			{at: 0, limits: []lim{perMin("a", 9, 1), perMin("b", 9, 1), perMin("c", 9, 1), perMin("d", 9, 1), perMin("e", 9, 1),
				perMin("f", 9, 1), perMin("g", 9, 1), perMin("h", 9, 1), perMin("i", 9, 1), perMin("j", 1, 1)}, repeat: 1, allowed: true,
				remaining: []int64{8, 8, 8, 8, 8, 8, 8, 8, 8, 0}},
			{at: 0, limits: []lim{perMin("a", 9, 1), perMin("b", 9, 1), perMin("c", 9, 1), perMin("d", 9, 1), perMin("e", 9, 1),
				perMin("f", 9, 1), perMin("g", 9, 1), perMin("h", 9, 1), perMin("i", 9, 1), perMin("j", 1, 1)}, denied: 9,
				remaining: []int64{8, 8, 8, 8, 8, 8, 8, 8, 8, 0}},
			{at: 0, limits: []lim{perMin("a", 9, 0), perMin("i", 9, 0)}, allowed: true, remaining: []int64{8, 8}},
		}},
		{"the same bucket twice in one check is charged cumulatively", []step{
			{at: 0, limits: []lim{perMin("a", 10, 6), perMin("a", 10, 5)}, denied: 1, remaining: []int64{10, 10}},
			{at: 0, limits: one(perMin("a", 10, 0)), allowed: true, remaining: []int64{10}},
			{at: 0, limits: []lim{perMin("a", 10, 5), perMin("a", 10, 5)}, allowed: true, remaining: []int64{5, 0}},
			{at: 0, limits: one(perMin("a", 10, 1)), denied: 0},
		}},
		{"buckets are independent", []step{
			{at: 0, limits: one(perMin("a", 3, 3)), allowed: true},
			{at: 0, limits: one(perMin("a", 3, 1)), denied: 0},
			{at: 0, limits: one(perMin("b", 3, 3)), allowed: true},
		}},
		{"a changed limit keeps the time already spent", []step{
			{at: 0, limits: one(perMin("a", 100, 1)), repeat: 50, allowed: true, remaining: []int64{50}},
			// 50 of 100/min spent 30 s of the window: at 10/min that leaves 5
			{at: 0, limits: one(perMin("a", 10, 0)), allowed: true, remaining: []int64{5}, resetAt: []time.Duration{30 * sec}},
			{at: 0, limits: one(perMin("a", 10, 1)), repeat: 5, allowed: true},
			{at: 0, limits: one(perMin("a", 10, 1)), denied: 0, retry: []time.Duration{6 * sec}},
		}},
		{"a shrunk window leaves the bucket over its limit", []step{
			{at: 0, limits: one(perMin("a", 100, 100)), allowed: true},
			{at: 0, limits: one(lim{"a", 100, 10 * sec, 0}), denied: 0, remaining: []int64{0}, resetAt: []time.Duration{minute}, retry: []time.Duration{50 * sec}},
			{at: 50 * sec, limits: one(lim{"a", 100, 10 * sec, 0}), allowed: true, remaining: []int64{0}},
			{at: 50*sec + 100*ms, limits: one(lim{"a", 100, 10 * sec, 1}), allowed: true, remaining: []int64{0}},
		}},
		{"an earlier now than a previous check is still exact", []step{
			{at: sec, limits: one(perSec("a", 10, 10)), allowed: true},
			{at: 500 * ms, limits: one(perSec("a", 10, 0)), denied: 0, remaining: []int64{0}, retry: []time.Duration{500 * ms}},
			{at: 500 * ms, limits: one(perSec("a", 10, 1)), denied: 0, retry: []time.Duration{600 * ms}},
			{at: 1100 * ms, limits: one(perSec("a", 10, 1)), allowed: true},
		}},
		{"an interval that is not a whole nanosecond stays exact", []step{
			// 3 per second: one unit every 333,333,333⅓ ns
			{at: 0, limits: one(perSec("a", 3, 1)), repeat: 3, allowed: true},
			{at: 333333333, limits: one(perSec("a", 3, 1)), denied: 0, retry: []time.Duration{1}},
			{at: 333333334, limits: one(perSec("a", 3, 1)), allowed: true},
			{at: 666666666, limits: one(perSec("a", 3, 1)), denied: 0, retry: []time.Duration{1}},
			{at: 666666667, limits: one(perSec("a", 3, 1)), allowed: true},
			{at: 999999999, limits: one(perSec("a", 3, 1)), denied: 0, retry: []time.Duration{1}},
			{at: sec, limits: one(perSec("a", 3, 1)), allowed: true, remaining: []int64{0}, resetAt: []time.Duration{2 * sec}},
			// a long run: 3 per second, exactly, for 1000 s
			{at: 1000 * sec, limits: one(perSec("a", 3, 1)), repeat: 3, allowed: true},
			{at: 1000 * sec, limits: one(perSec("a", 3, 1)), denied: 0},
			{at: 1000*sec + 333333333, limits: one(perSec("a", 3, 1)), denied: 0},
			{at: 1000*sec + 333333334, limits: one(perSec("a", 3, 1)), allowed: true},
			// 7 per 10 ms, cost 2, over many windows
			{at: 2000 * sec, limits: one(lim{"b", 7, 10 * ms, 2}), repeat: 3, allowed: true, remaining: []int64{1}},
			{at: 2000 * sec, limits: one(lim{"b", 7, 10 * ms, 2}), denied: 0, retry: []time.Duration{1428572}},
			{at: 2000*sec + 1428572, limits: one(lim{"b", 7, 10 * ms, 2}), allowed: true, remaining: []int64{0}},
		}},
	}
}

// Run runs the contract suite. newLimiter returns the Limiter under test;
// it is called once per subtest and may return the same shared backend.
func Run(t *testing.T, newLimiter func(t *testing.T) ratelimit.Limiter) {
	t.Helper()
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	prefix := "rltest-" + hex.EncodeToString(b[:]) + ":"

	for _, c := range cases() {
		t.Run(c.name, func(t *testing.T) {
			lm := newLimiter(t)
			keyPrefix := prefix + c.name + ":"
			for i, s := range c.steps {
				runStep(t, lm, keyPrefix, i, s)
			}
		})
	}
	t.Run("invalid checks are errors, not denials", func(t *testing.T) { testInvalid(t, newLimiter(t), prefix+"invalid:") })
	t.Run("no limits is allowed", func(t *testing.T) {
		ok, denied, err := newLimiter(t).Check(context.Background(), epoch(), nil, nil)
		if !ok || denied != -1 || err != nil {
			t.Fatalf("Check(no limits) = %v, %d, %v; want true, -1, nil", ok, denied, err)
		}
	})
	t.Run("nil states", func(t *testing.T) {
		l := newLimiter(t)
		ls := []ratelimit.Limit{{Key: prefix + "nilstates", Name: "n", Limit: 1, Window: minute, Cost: 1}}
		for i, want := range []bool{true, false} {
			ok, _, err := l.Check(context.Background(), epoch(), ls, nil)
			if err != nil || ok != want {
				t.Fatalf("check %d = %v, %v; want %v", i, ok, err, want)
			}
		}
	})
	t.Run("refund", func(t *testing.T) {
		l := newLimiter(t)
		if _, ok := l.(ratelimit.Refunder); !ok {
			t.Skip("the Limiter does not implement Refunder")
		}
		testRefund(t, l, prefix+"refund:")
	})
	t.Run("concurrent checks admit exactly Limit", func(t *testing.T) {
		testConcurrentExact(t, newLimiter(t), prefix+"concurrent:")
	})
	t.Run("concurrent multi-limit checks are atomic", func(t *testing.T) {
		testConcurrentAtomic(t, newLimiter(t), prefix+"atomic:")
	})
}

func runStep(t *testing.T, l ratelimit.Limiter, prefix string, i int, s step) {
	t.Helper()
	now := epoch().Add(s.at)
	limits := make([]ratelimit.Limit, len(s.limits))
	for j, x := range s.limits {
		limits[j] = ratelimit.Limit{Key: prefix + x.key, Name: x.key, Limit: x.limit, Window: x.window, Cost: x.cost}
	}
	wantDenied := -1
	if !s.allowed {
		wantDenied = s.denied
	}
	n := max(1, s.repeat)
	states := make([]ratelimit.State, len(limits))
	for r := 0; r < n; r++ {
		ok, denied, err := l.Check(context.Background(), now, limits, states)
		if err != nil {
			t.Fatalf("step %d (check %d of %d): %v", i, r+1, n, err)
		}
		if ok != s.allowed || denied != wantDenied {
			t.Fatalf("step %d at +%v (check %d of %d) %s: allowed %v denied %d; want %v %d (states %+v)",
				i, s.at, r+1, n, describe(s.limits), ok, denied, s.allowed, wantDenied, states)
		}
	}
	for j := range limits {
		st := states[j]
		where := fmt.Sprintf("step %d at +%v, limit %d (%s): ", i, s.at, j, describe(s.limits[j:j+1]))
		if st.Name != limits[j].Name || st.Limit != limits[j].Limit {
			t.Errorf("%sName, Limit = %q, %d; want %q, %d", where, st.Name, st.Limit, limits[j].Name, limits[j].Limit)
		}
		if s.remaining != nil && st.Remaining != s.remaining[j] {
			t.Errorf("%sRemaining = %d; want %d", where, st.Remaining, s.remaining[j])
		}
		if s.resetAt != nil && !st.ResetAt.Equal(epoch().Add(s.resetAt[j])) {
			t.Errorf("%sResetAt = +%v; want +%v", where, st.ResetAt.Sub(epoch()), s.resetAt[j])
		}
		if s.retry != nil && st.RetryAfter != s.retry[j] {
			t.Errorf("%sRetryAfter = %v; want %v", where, st.RetryAfter, s.retry[j])
		}
		if st.Remaining < 0 || st.Remaining > st.Limit {
			t.Errorf("%sRemaining = %d outside [0, %d]", where, st.Remaining, st.Limit)
		}
		if st.ResetAt.Before(now) {
			t.Errorf("%sResetAt %v before now %v", where, st.ResetAt, now)
		}
	}
}

func describe(ls []lim) string {
	s := ""
	for i, l := range ls {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s %d/%v cost %d", l.key, l.limit, l.window, l.cost)
	}
	return s
}

func testInvalid(t *testing.T, l ratelimit.Limiter, prefix string) {
	good := ratelimit.Limit{Key: prefix + "ok", Name: "ok", Limit: 10, Window: minute, Cost: 1}
	bad := map[string]func(*ratelimit.Limit){
		"empty key":      func(x *ratelimit.Limit) { x.Key = "" },
		"zero limit":     func(x *ratelimit.Limit) { x.Limit = 0 },
		"negative limit": func(x *ratelimit.Limit) { x.Limit = -1 },
		"zero window":    func(x *ratelimit.Limit) { x.Window = 0 },
		"huge window":    func(x *ratelimit.Limit) { x.Window = ratelimit.MaxWindow + 1 },
		"negative cost":  func(x *ratelimit.Limit) { x.Cost = -1 },
	}
	for name, mut := range bad {
		x := good
		mut(&x)
		// the valid limit first: it must not be charged either
		ok, denied, err := l.Check(context.Background(), epoch(), []ratelimit.Limit{good, x}, make([]ratelimit.State, 2))
		if ok || denied != -1 || !errors.Is(err, ratelimit.ErrInvalid) {
			t.Errorf("%s: Check = %v, %d, %v; want false, -1, ErrInvalid", name, ok, denied, err)
		}
	}
	ok, denied, err := l.Check(context.Background(), epoch(), []ratelimit.Limit{good, good}, make([]ratelimit.State, 1))
	if ok || denied != -1 || !errors.Is(err, ratelimit.ErrInvalid) {
		t.Errorf("short states: Check = %v, %d, %v; want false, -1, ErrInvalid", ok, denied, err)
	}
	for _, now := range []time.Time{{}, time.Unix(0, 0), time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)} {
		ok, denied, err := l.Check(context.Background(), now, []ratelimit.Limit{good}, nil)
		if ok || denied != -1 || !errors.Is(err, ratelimit.ErrInvalid) {
			t.Errorf("now %v: Check = %v, %d, %v; want false, -1, ErrInvalid", now, ok, denied, err)
		}
	}
	st := make([]ratelimit.State, 1)
	peek := good
	peek.Cost = 0
	if _, _, err := l.Check(context.Background(), epoch(), []ratelimit.Limit{peek}, st); err != nil || st[0].Remaining != 10 {
		t.Errorf("after invalid checks: Remaining = %d, %v; want 10 (nothing charged)", st[0].Remaining, err)
	}
}

// testConcurrentExact: 1,000 goroutines against 100 per minute at the same
// instant: exactly 100 are allowed.
func testConcurrentExact(t *testing.T, l ratelimit.Limiter, prefix string) {
	const goroutines, limit = 1000, 100
	ls := []ratelimit.Limit{{Key: prefix + "a", Name: "a", Limit: limit, Window: minute, Cost: 1}}
	var allowed, denied, failed atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range goroutines {
		wg.Go(func() {
			<-start
			var st [1]ratelimit.State
			ok, _, err := l.Check(context.Background(), epoch(), ls, st[:])
			switch {
			case err != nil:
				failed.Add(1)
			case ok:
				allowed.Add(1)
			default:
				denied.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	if allowed.Load() != limit || denied.Load() != goroutines-limit || failed.Load() != 0 {
		t.Fatalf("allowed %d, denied %d, failed %d; want %d, %d, 0",
			allowed.Load(), denied.Load(), failed.Load(), limit, goroutines-limit)
	}
}

// testConcurrentAtomic: goroutines check {a: 10/min, b: 100/min} in both
// orders at once: exactly 10 pass and b is charged exactly 10 times, which
// only holds if denials charge nothing and checks do not interleave.
func testConcurrentAtomic(t *testing.T, l ratelimit.Limiter, prefix string) {
	const goroutines = 1000
	a := ratelimit.Limit{Key: prefix + "a", Name: "a", Limit: 10, Window: minute, Cost: 1}
	b := ratelimit.Limit{Key: prefix + "b", Name: "b", Limit: 100, Window: minute, Cost: 1}
	var allowed, failed atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range goroutines {
		ls := []ratelimit.Limit{a, b}
		if i%2 == 1 {
			ls = []ratelimit.Limit{b, a}
		}
		wg.Go(func() {
			<-start
			ok, _, err := l.Check(context.Background(), epoch(), ls, make([]ratelimit.State, 2))
			if err != nil {
				failed.Add(1)
			} else if ok {
				allowed.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	if allowed.Load() != 10 || failed.Load() != 0 {
		t.Fatalf("allowed %d, failed %d; want 10, 0", allowed.Load(), failed.Load())
	}
	b.Cost = 0
	st := make([]ratelimit.State, 1)
	if _, _, err := l.Check(context.Background(), epoch(), []ratelimit.Limit{b}, st); err != nil || st[0].Remaining != 90 {
		t.Fatalf("b Remaining = %d, %v; want 90", st[0].Remaining, err)
	}
}

// testRefund: a refund with the same limits and now undoes a check exactly,
// even after other charges, and never fills a bucket past full.
func testRefund(t *testing.T, l ratelimit.Limiter, prefix string) {
	ctx := context.Background()
	rf := l.(ratelimit.Refunder)
	a := ratelimit.Limit{Key: prefix + "a", Name: "a", Limit: 3, Window: sec, Cost: 1}
	b := ratelimit.Limit{Key: prefix + "b", Name: "b", Limit: 10, Window: minute, Cost: 4}
	remaining := func(at time.Duration) (int64, int64) {
		t.Helper()
		pa, pb := a, b
		pa.Cost, pb.Cost = 0, 0
		st := make([]ratelimit.State, 2)
		if _, _, err := l.Check(ctx, epoch().Add(at), []ratelimit.Limit{pa, pb}, st); err != nil {
			t.Fatal(err)
		}
		return st[0].Remaining, st[1].Remaining
	}
	both := []ratelimit.Limit{a, b}
	for i := range 2 {
		if ok, _, err := l.Check(ctx, epoch(), both, nil); !ok || err != nil {
			t.Fatalf("check %d: %v %v", i, ok, err)
		}
	}
	if err := rf.Refund(ctx, epoch(), both); err != nil {
		t.Fatal(err)
	}
	if ra, rb := remaining(0); ra != 2 || rb != 6 {
		t.Fatalf("after one refund: remaining %d, %d; want 2, 6", ra, rb)
	}
	// refunds past full leave the bucket full
	for range 3 {
		if err := rf.Refund(ctx, epoch(), both); err != nil {
			t.Fatal(err)
		}
	}
	if ra, rb := remaining(0); ra != 3 || rb != 10 {
		t.Fatalf("after more refunds than charges: remaining %d, %d; want 3, 10", ra, rb)
	}
	// exact with a fractional interval (3/s) and partial refill
	for range 3 {
		l.Check(ctx, epoch().Add(2*sec), []ratelimit.Limit{a}, nil)
	}
	if err := rf.Refund(ctx, epoch().Add(2*sec), []ratelimit.Limit{a}); err != nil {
		t.Fatal(err)
	}
	if ok, _, _ := l.Check(ctx, epoch().Add(2*sec), []ratelimit.Limit{a}, nil); !ok {
		t.Fatal("the refunded unit cannot be spent again")
	}
	if ok, _, _ := l.Check(ctx, epoch().Add(2*sec+333333333), []ratelimit.Limit{a}, nil); ok {
		t.Fatal("a refund gave back more than one unit")
	}
	bad := a
	bad.Limit = 0
	if err := rf.Refund(ctx, epoch(), []ratelimit.Limit{bad}); !errors.Is(err, ratelimit.ErrInvalid) {
		t.Fatalf("Refund(invalid) = %v; want ErrInvalid", err)
	}
}
