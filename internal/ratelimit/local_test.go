package ratelimit_test

import (
	"context"
	"errors"
	"math"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/typeauth/typeauth/internal/ratelimit"
	"github.com/typeauth/typeauth/internal/ratelimit/ratelimittest"
)

func TestLocalContract(t *testing.T) {
	ratelimittest.Run(t, func(t *testing.T) ratelimit.Limiter { return ratelimit.NewLocal(ratelimit.Options{}) })
}

func TestLocalContractOneShard(t *testing.T) {
	// every bucket in one shard: multi-limit checks lock it once
	ratelimittest.Run(t, func(t *testing.T) ratelimit.Limiter { return ratelimit.NewLocal(ratelimit.Options{Shards: 1}) })
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func check(t *testing.T, l *ratelimit.Local, now time.Time, ls ...ratelimit.Limit) bool {
	t.Helper()
	ok, _, err := l.Check(context.Background(), now, ls, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestSweepEvictsOnlyFullBuckets(t *testing.T) {
	l := ratelimit.NewLocal(ratelimit.Options{Shards: 4})
	a := ratelimit.Limit{Key: "a", Name: "a", Limit: 10, Window: time.Minute, Cost: 1}
	b := ratelimit.Limit{Key: "b", Name: "b", Limit: 10, Window: time.Second, Cost: 1}
	for range 10 {
		check(t, l, t0, a)
	}
	check(t, l, t0, b)
	peek := b
	peek.Cost = 0
	check(t, l, t0, peek) // a peek never creates a bucket
	check(t, l, t0, ratelimit.Limit{Key: "c", Name: "c", Limit: 1, Window: time.Second})
	if n := l.Len(); n != 2 {
		t.Fatalf("Len = %d; want 2", n)
	}
	cases := []struct {
		at      time.Duration
		removed int
		left    int
	}{
		{0, 0, 2},
		{100*time.Millisecond - 1, 0, 2}, // b: one unit per 100 ms, not full yet
		{100 * time.Millisecond, 1, 1},   // b is full: dropped
		{time.Minute - 1, 0, 1},          // a is not
		{time.Minute, 1, 0},
	}
	for _, c := range cases {
		if got := l.Sweep(t0.Add(c.at)); got != c.removed || l.Len() != c.left {
			t.Fatalf("Sweep(+%v) removed %d, left %d; want %d, %d", c.at, got, l.Len(), c.removed, c.left)
		}
	}
	// a swept bucket behaves as a full one: exactly 10 again
	for i := range 11 {
		if got := check(t, l, t0.Add(time.Minute), a); got != (i < 10) {
			t.Fatalf("after sweep, check %d = %v", i, got)
		}
	}
}

func TestPeekOfFullBucketDropsIt(t *testing.T) {
	l := ratelimit.NewLocal(ratelimit.Options{})
	a := ratelimit.Limit{Key: "a", Name: "a", Limit: 10, Window: time.Second, Cost: 1}
	check(t, l, t0, a)
	a.Cost = 0
	check(t, l, t0.Add(time.Second), a)
	if l.Len() != 0 {
		t.Fatalf("Len = %d; want 0", l.Len())
	}
}

func TestMaxBuckets(t *testing.T) {
	l := ratelimit.NewLocal(ratelimit.Options{Shards: 1, MaxBuckets: 2})
	lim := func(k string) ratelimit.Limit {
		return ratelimit.Limit{Key: k, Name: k, Limit: 5, Window: time.Second, Cost: 1}
	}
	check(t, l, t0, lim("a"))
	check(t, l, t0, lim("b"))
	for _, ls := range [][]ratelimit.Limit{{lim("c")}, {lim("a"), lim("c")}} {
		ok, denied, err := l.Check(context.Background(), t0, ls, nil)
		if ok || denied != -1 || !errors.Is(err, ratelimit.ErrFull) {
			t.Fatalf("Check(%d limits) at capacity = %v, %d, %v; want false, -1, ErrFull", len(ls), ok, denied, err)
		}
	}
	// nothing was charged by the failed multi-limit check; existing buckets still work
	st := make([]ratelimit.State, 1)
	if ok, _, err := l.Check(context.Background(), t0, []ratelimit.Limit{lim("a")}, st); !ok || err != nil || st[0].Remaining != 3 {
		t.Fatalf("a: %v %v remaining %d; want true, nil, 3", ok, err, st[0].Remaining)
	}
	l.Sweep(t0.Add(time.Second))
	check(t, l, t0.Add(time.Second), lim("c"))
}

func TestRunSweeper(t *testing.T) {
	l := ratelimit.NewLocal(ratelimit.Options{})
	check(t, l, t0, ratelimit.Limit{Key: "a", Name: "a", Limit: 1, Window: time.Second, Cost: 1})
	ctx, cancel := context.WithCancel(context.Background())
	swept := make(chan struct{})
	var once sync.Once
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.RunSweeper(ctx, time.Millisecond, func() time.Time {
			once.Do(func() { close(swept) })
			// SweepMargin is subtracted: this sweeps at exactly t0+1s
			return t0.Add(time.Second + ratelimit.SweepMargin)
		})
	}()
	<-swept
	cancel()
	<-done
	if l.Len() != 0 {
		t.Fatalf("Len = %d after sweeping; want 0", l.Len())
	}
}

// TestIdleBucketMemory creates 1,000,000 buckets, measures the heap they
// hold, and checks that a sweep after their window returns it.
func TestIdleBucketMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 1M buckets")
	}
	const n = 1_000_000
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	l := ratelimit.NewLocal(ratelimit.Options{})
	// each bucket spent entirely: it stays (idle) for a whole window
	ls := []ratelimit.Limit{{Name: "requests", Limit: 100, Window: time.Minute, Cost: 100}}
	for i := range n {
		// a realistic key: "key:" + a key id + ":" + limit name (30 bytes)
		ls[0].Key = "key:key_" + strconv.FormatUint(uint64(1e15+i), 16) + ":requests"
		if ok, _, err := l.Check(context.Background(), t0, ls, nil); !ok || err != nil {
			t.Fatal(ok, err)
		}
	}
	held := heap()
	if l.Len() != n {
		t.Fatalf("Len = %d; want %d", l.Len(), n)
	}
	per := float64(held-before) / n
	t.Logf("%d idle buckets: %.1f MiB, %.1f bytes per bucket (key %d bytes)", n, float64(held-before)/(1<<20), per, len(ls[0].Key))
	if per > 160 {
		t.Errorf("%.1f bytes per bucket; want at most 160", per)
	}
	if got := l.Sweep(t0.Add(time.Minute - time.Nanosecond)); got != 0 {
		t.Fatalf("swept %d buckets before their window passed", got)
	}
	if got := l.Sweep(t0.Add(time.Minute)); got != n {
		t.Fatalf("swept %d; want %d", got, n)
	}
	after := heap()
	t.Logf("after sweep: %.1f MiB above the start (%d buckets)", (float64(after)-float64(before))/(1<<20), l.Len())
	if after > before+(held-before)/20 {
		t.Errorf("heap after sweep %d bytes above start; want under 5%% of the %d held", after-before, held-before)
	}
	runtime.KeepAlive(l)
}

// TestHugeLimitNoOverflow: with a Limit above MaxInt64/2 the fractional
// parts of two charges sum past MaxInt64; they must carry, not wrap.
func TestHugeLimitNoOverflow(t *testing.T) {
	l := ratelimit.NewLocal(ratelimit.Options{})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const L = math.MaxInt64
	st := make([]ratelimit.State, 1)
	for _, cost := range []int64{2, L / 2} {
		if ok, _, err := l.Check(context.Background(), now, []ratelimit.Limit{{Key: "a", Name: "a", Limit: L, Window: time.Minute, Cost: cost}}, st); !ok || err != nil {
			t.Fatal(ok, err)
		}
	}
	// 2·60e9/L + (L/2)·60e9/L = 30 s exactly, plus a fraction below 1 ns.
	if want := now.Add(30*time.Second + time.Nanosecond); !st[0].ResetAt.Equal(want) {
		t.Fatalf("ResetAt = %v; want %v", st[0].ResetAt, want)
	}
}
