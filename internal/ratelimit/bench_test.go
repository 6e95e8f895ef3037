package ratelimit_test

import (
	"context"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/typeauth/typeauth/internal/ratelimit"
)

// BenchmarkCheck is the verify hot path: one limit on an existing bucket,
// with the clock advancing so that every check is allowed.
func BenchmarkCheck(b *testing.B) {
	l := ratelimit.NewLocal(ratelimit.Options{})
	ls := []ratelimit.Limit{{Key: "key:key_2YkS8bT6cXnQ:requests", Name: "requests", Limit: 1000, Window: time.Second, Cost: 1}}
	st := make([]ratelimit.State, 1)
	ctx := context.Background()
	now := t0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Millisecond)
		if ok, _, err := l.Check(ctx, now, ls, st); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkCheckDenied: the same bucket, exhausted.
func BenchmarkCheckDenied(b *testing.B) {
	l := ratelimit.NewLocal(ratelimit.Options{})
	ls := []ratelimit.Limit{{Key: "key:key_2YkS8bT6cXnQ:requests", Name: "requests", Limit: 10, Window: time.Hour, Cost: 10}}
	st := make([]ratelimit.State, 1)
	ctx := context.Background()
	l.Check(ctx, t0, ls, st)
	b.ReportAllocs()
	for b.Loop() {
		if ok, _, _ := l.Check(ctx, t0, ls, st); ok {
			b.Fatal("allowed")
		}
	}
}

// BenchmarkCheckMany: a key limit and an identity limit in one check.
func BenchmarkCheckMany(b *testing.B) {
	l := ratelimit.NewLocal(ratelimit.Options{})
	ls := []ratelimit.Limit{
		{Key: "key:key_2YkS8bT6cXnQ:requests", Name: "requests", Limit: 1000, Window: time.Second, Cost: 1},
		{Key: "identity:id_9fQ2mWk1:requests", Name: "tenant", Limit: 1000, Window: time.Second, Cost: 1},
	}
	st := make([]ratelimit.State, 2)
	ctx := context.Background()
	now := t0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Millisecond)
		if ok, _, err := l.Check(ctx, now, ls, st); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkCheckParallel: GOMAXPROCS goroutines on 10,000 keys.
func BenchmarkCheckParallel(b *testing.B) {
	const keys = 10_000
	l := ratelimit.NewLocal(ratelimit.Options{})
	names := make([]string, keys)
	for i := range names {
		names[i] = "key:key_" + strconv.Itoa(1e9+i) + ":requests"
	}
	var clock atomic.Int64
	clock.Store(t0.UnixNano())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ls := []ratelimit.Limit{{Name: "requests", Limit: 1 << 40, Window: time.Second, Cost: 1}}
		st := make([]ratelimit.State, 1)
		ctx := context.Background()
		i := 0
		for pb.Next() {
			ls[0].Key = names[i%keys]
			i += 7919
			if ok, _, err := l.Check(ctx, time.Unix(0, clock.Add(1)), ls, st); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
}

// BenchmarkCheckParallelHot: GOMAXPROCS goroutines on one key.
func BenchmarkCheckParallelHot(b *testing.B) {
	l := ratelimit.NewLocal(ratelimit.Options{})
	var clock atomic.Int64
	clock.Store(t0.UnixNano())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ls := []ratelimit.Limit{{Key: "key:hot:requests", Name: "requests", Limit: 1 << 40, Window: time.Second, Cost: 1}}
		st := make([]ratelimit.State, 1)
		ctx := context.Background()
		for pb.Next() {
			if ok, _, err := l.Check(ctx, time.Unix(0, clock.Add(1)), ls, st); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
}

// BenchmarkIdleBuckets reports the heap held per idle bucket.
func BenchmarkIdleBuckets(b *testing.B) {
	const n = 1_000_000
	var ms runtime.MemStats
	for b.Loop() {
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		before := ms.HeapAlloc
		l := ratelimit.NewLocal(ratelimit.Options{})
		ls := []ratelimit.Limit{{Name: "requests", Limit: 100, Window: time.Minute, Cost: 1}}
		b.StartTimer()
		for i := range n {
			ls[0].Key = "key:key_" + strconv.FormatUint(uint64(1e15+i), 16) + ":requests"
			l.Check(context.Background(), t0, ls, nil)
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapAlloc-before)/n, "bytes/bucket")
		runtime.KeepAlive(l)
		b.StartTimer()
	}
}
