package redislimiter_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"math"
	mrand "math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/typeauth/typeauth/internal/ratelimit"
	"github.com/typeauth/typeauth/internal/ratelimit/ratelimittest"
	"github.com/typeauth/typeauth/internal/ratelimit/redislimiter"
)

// redisClient connects to TYPEAUTH_TEST_REDIS_URL; without it the test
// skips, except under CI=true, where that is a failure.
func redisClient(t testing.TB) *redis.Client {
	t.Helper()
	u := os.Getenv("TYPEAUTH_TEST_REDIS_URL")
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("TYPEAUTH_TEST_REDIS_URL is not set (required under CI=true)")
		}
		t.Skip("set TYPEAUTH_TEST_REDIS_URL to run the Redis limiter tests")
	}
	opt, err := redis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	opt.PoolSize = 64
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("redis: %v", err)
	}
	return c
}

// prefix returns a fresh key prefix, whose keys are deleted when the test ends.
func prefix(t testing.TB, c *redis.Client) string {
	b := make([]byte, 6)
	rand.Read(b)
	p := "tatest:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, p+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
	})
	return p
}

func TestContract(t *testing.T) {
	c := redisClient(t)
	ratelimittest.Run(t, func(t *testing.T) ratelimit.Limiter {
		l, err := redislimiter.New(c, redislimiter.Options{Prefix: prefix(t, c), Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return l
	})
}

// TestKeyDesign: tagged keys keep their tag; untagged ones get the whole
// key as tag; buckets expire once full again plus the margin.
func TestKeyDesign(t *testing.T) {
	c := redisClient(t)
	p := prefix(t, c)
	l, err := redislimiter.New(c, redislimiter.Options{Prefix: p, ExpiryMargin: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ls := []ratelimit.Limit{
		{Key: "{i:id_1}k\x00key_1\x00a", Name: "a", Limit: 10, Window: time.Minute, Cost: 1},
		{Key: "{i:id_1}i\x00id_1\x00b", Name: "b", Limit: 10, Window: 2 * time.Second, Cost: 1},
		{Key: "plain", Name: "c", Limit: 10, Window: time.Minute, Cost: 0},
	}
	if ok, _, err := l.Check(context.Background(), now, ls, nil); !ok || err != nil {
		t.Fatal(ok, err)
	}
	ctx := context.Background()
	ttlA := c.PTTL(ctx, p+"{i:id_1}k\x00key_1\x00a").Val()
	ttlB := c.PTTL(ctx, p+"{i:id_1}i\x00id_1\x00b").Val()
	if ttlA < 6*time.Second || ttlA > 7100*time.Millisecond {
		t.Errorf("ttl of a 10/min bucket after one unit = %v; want 6s + 1s margin", ttlA)
	}
	if ttlB < 1100*time.Millisecond || ttlB > 1300*time.Millisecond {
		t.Errorf("ttl of a 10/2s bucket after one unit = %v; want 200ms + 1s margin", ttlB)
	}
	if n := c.Exists(ctx, p+"{plain}").Val(); n != 0 {
		t.Errorf("a peek wrote a bucket")
	}
	if _, err := redislimiter.New(c, redislimiter.Options{Prefix: "a{b}"}); err == nil {
		t.Error("a prefix with a hash tag was accepted")
	}
}

// TestTimeout: a Check against an unreachable Redis fails within its
// timeout, with an error (the caller fails closed).
func TestTimeout(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	defer c.Close()
	l, _ := redislimiter.New(c, redislimiter.Options{Timeout: 200 * time.Millisecond})
	start := time.Now()
	ok, denied, err := l.Check(context.Background(), time.Now(), []ratelimit.Limit{{Key: "x", Name: "x", Limit: 1, Window: time.Second, Cost: 1}}, nil)
	if ok || denied != -1 || err == nil {
		t.Fatalf("Check = %v, %d, %v; want an error", ok, denied, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Check took %v", d)
	}
}

func BenchmarkCheck(b *testing.B) {
	c := redisClient(b)
	l, _ := redislimiter.New(c, redislimiter.Options{Prefix: prefix(b, c)})
	ls := []ratelimit.Limit{
		{Key: "{k:key_1}k\x00key_1\x00a", Name: "a", Limit: 1 << 40, Window: time.Minute, Cost: 1},
		{Key: "{k:key_1}k\x00key_1\x00b", Name: "b", Limit: 1 << 40, Window: time.Hour, Cost: 1},
	}
	st := make([]ratelimit.State, 2)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if ok, _, err := l.Check(context.Background(), time.Now(), ls, st); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
}

// TestSameAsLocal drives the Redis limiter and the local one with the same
// random checks (huge limits and windows included, where the script's limb
// arithmetic matters) and requires identical answers.
func TestSameAsLocal(t *testing.T) {
	c := redisClient(t)
	rl, _ := redislimiter.New(c, redislimiter.Options{Prefix: prefix(t, c), Timeout: 5 * time.Second})
	local := ratelimit.NewLocal(ratelimit.Options{})
	rng := mrand.New(mrand.NewPCG(1, 2))
	limits := []int64{1, 3, 7, 100, 1_000_003, 1 << 53, math.MaxInt64 / 3, math.MaxInt64}
	windows := []time.Duration{time.Nanosecond, 10 * time.Millisecond, time.Second, time.Minute, 1000 * time.Hour, ratelimit.MaxWindow}
	type shape struct {
		limit  int64
		window time.Duration
	}
	shapes := map[string]shape{}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3000 {
		n := 1 + rng.IntN(3)
		ls := make([]ratelimit.Limit, n)
		for j := range ls {
			key := string(rune('a' + rng.IntN(5)))
			s, ok := shapes[key]
			if !ok || rng.IntN(10) == 0 {
				s = shape{limits[rng.IntN(len(limits))], windows[rng.IntN(len(windows))]}
				shapes[key] = s
			}
			cost := int64(rng.IntN(3))
			switch rng.IntN(8) {
			case 0:
				cost = s.limit
			case 1:
				cost = s.limit / 2
			case 2:
				if s.limit < math.MaxInt64 {
					cost = s.limit + 1
				}
			}
			ls[j] = ratelimit.Limit{Key: key, Name: key, Limit: s.limit, Window: s.window, Cost: cost}
		}
		now = now.Add(time.Duration(rng.Int64N(int64(2 * time.Second))))
		if rng.IntN(20) == 0 {
			now = now.Add(-time.Duration(rng.Int64N(int64(time.Second))))
		}
		ws, gs := make([]ratelimit.State, n), make([]ratelimit.State, n)
		wok, wd, werr := local.Check(context.Background(), now, ls, ws)
		gok, gd, gerr := rl.Check(context.Background(), now, ls, gs)
		if werr != nil || gerr != nil || wok != gok || wd != gd {
			t.Fatalf("check %d %+v: local %v %d %v; redis %v %d %v", i, ls, wok, wd, werr, gok, gd, gerr)
		}
		for j := range ws {
			if ws[j] != gs[j] {
				t.Fatalf("check %d %+v, state %d: local %+v; redis %+v", i, ls, j, ws[j], gs[j])
			}
		}
		if rng.IntN(10) == 0 && wok {
			if err := local.Refund(context.Background(), now, ls); err != nil {
				t.Fatal(err)
			}
			if err := rl.Refund(context.Background(), now, ls); err != nil {
				t.Fatal(err)
			}
		}
	}
}
