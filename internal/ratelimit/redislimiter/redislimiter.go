// Package redislimiter is a ratelimit.Limiter shared by every TypeAuth
// replica, on Redis: the same GCRA, with the same exact arithmetic and the
// same answers as ratelimit.Local (both run package ratelimittest), decided
// for all the limits of one Check by one Lua script, in one round trip.
//
// # Key design
//
// A bucket lives at the Redis key Prefix + K, where K is the Limit.Key. The
// verifier builds its Keys with a Redis hash tag that names the owner whose
// slot holds them:
//
//	{k:<key id>}k\x00<key id>\x00<name>        limits of a key without an identity
//	{i:<identity id>}k\x00<key id>\x00<name>   limits of a key with an identity
//	{i:<identity id>}i\x00<identity id>\x00<name>   shared limits of an identity
//	{ns:<namespace>\x00<identifier>}…           stand-alone limits
//
// A Key without a hash tag is wrapped in one ("{" + Key + "}"), so every Key
// names exactly one Redis Cluster slot. All the buckets one verify touches
// (its key's and its identity's) therefore share one slot, and the script
// that decides them all runs on one node: a verify is one round trip and
// atomic even on a cluster.
//
// The trade-off: the limits of every key of one identity live in the
// identity's slot. That costs nothing extra: every verify of any of those
// keys already touches the identity's shared bucket, so that slot already
// carries all of that traffic; a cluster spreads load per owner (key or
// identity), never below. A key linked to an identity later (or unlinked)
// moves its buckets to another slot: its limits start full once (documented;
// never more than one window of extra capacity).
//
// # Expiry
//
// A bucket is written with PEXPIRE set to when it will be full again plus
// Options.ExpiryMargin, so idle buckets vanish by themselves. The margin
// covers clock skew between replicas (each passes its own now) and must
// exceed it: a bucket that expired while a lagging replica still sees it
// partly spent would give that replica back capacity.
//
// # Failures
//
// Every call has a deadline (Options.Timeout). On a Redis error or timeout
// Check returns the error and the caller fails closed (or falls back, see
// Failover). A Check whose reply was lost after Redis ran it may have
// charged its buckets: a lost reply over-charges, never over-admits.
package redislimiter

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/typeauth/typeauth/internal/auth"
	"github.com/typeauth/typeauth/internal/ratelimit"
)

// Options configures a Limiter.
type Options struct {
	// Prefix is put before every bucket key (e.g. "ta:"). It must not
	// contain '{' or '}' (it would change the hash slot).
	Prefix string
	// Timeout bounds each round trip (default 250ms).
	Timeout time.Duration
	// ExpiryMargin is added to every bucket's time to live (default 10s).
	ExpiryMargin time.Duration
}

// Limiter is a ratelimit.Limiter and ratelimit.Refunder on Redis.
type Limiter struct {
	rdb    redis.Scripter
	opt    Options
	check  *redis.Script
	refund *redis.Script
	margin string
}

var (
	_ ratelimit.Limiter  = (*Limiter)(nil)
	_ ratelimit.Refunder = (*Limiter)(nil)
)

// New returns a Limiter on rdb (a *redis.Client, *redis.ClusterClient or
// any UniversalClient).
func New(rdb redis.Scripter, opt Options) (*Limiter, error) {
	if strings.ContainsAny(opt.Prefix, "{}") {
		return nil, fmt.Errorf("redislimiter: prefix %q must not contain '{' or '}'", opt.Prefix)
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 250 * time.Millisecond
	}
	if opt.ExpiryMargin <= 0 {
		opt.ExpiryMargin = 10 * time.Second
	}
	return &Limiter{rdb: rdb, opt: opt, check: redis.NewScript(checkScript), refund: redis.NewScript(refundScript),
		margin: strconv.FormatInt(opt.ExpiryMargin.Milliseconds(), 10)}, nil
}

// redisKey maps a Limit.Key to its Redis key: Prefix + Key when Key starts
// with a hash tag, else Prefix + "{" + Key + "}".
func (l *Limiter) redisKey(k string) string {
	if len(k) > 1 && k[0] == '{' && strings.IndexByte(k[1:], '}') > 0 {
		return l.opt.Prefix + k
	}
	return l.opt.Prefix + "{" + k + "}"
}

// increment returns c·w/L as q + r/L (c <= L), exactly.
func increment(c, w, L int64) (q, r int64) {
	hi, lo := bits.Mul64(uint64(c), uint64(w))
	uq, ur := bits.Div64(hi, lo, uint64(L))
	return int64(uq), int64(ur)
}

// limbs appends x (>= 0) as two decimal limbs, x/1e9 and x%1e9.
func limbs(args []any, x int64) []any {
	return append(args, strconv.FormatInt(x/1e9, 10), strconv.FormatInt(x%1e9, 10))
}

// parseBucket parses a stored bucket: "<tat h> <tat l> <rem h> <rem l> <lim>".
func parseBucket(s string) (ratelimit.Bucket, error) {
	f := strings.Fields(s)
	if len(f) != 5 {
		return ratelimit.Bucket{}, errors.New("malformed bucket")
	}
	var v [5]int64
	for i := range f {
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil || n < 0 || (i%2 == 1 && i < 4 && n >= 1e9) {
			return ratelimit.Bucket{}, errors.New("malformed bucket")
		}
		v[i] = n
	}
	b := ratelimit.Bucket{TAT: v[0]*1e9 + v[1], Rem: v[2]*1e9 + v[3], Lim: v[4]}
	if b.Lim < 1 || b.Rem >= b.Lim || b.TAT < 0 {
		return ratelimit.Bucket{}, errors.New("malformed bucket")
	}
	return b, nil
}

// Check implements ratelimit.Limiter, in one round trip.
func (l *Limiter) Check(ctx context.Context, now time.Time, limits []ratelimit.Limit, states []ratelimit.State) (bool, int, error) {
	if err := ratelimit.Validate(now, limits, states); err != nil {
		return false, -1, err
	}
	if len(limits) == 0 {
		return true, -1, nil
	}
	t := now.UnixNano()
	keys := make([]string, len(limits))
	args := make([]any, 0, 3+11*len(limits))
	args = append(limbs(args, t), l.margin)
	for i := range limits {
		lm := &limits[i]
		keys[i] = l.redisKey(lm.Key)
		impossible, charges := "0", "0"
		var q, r int64
		if lm.Cost > lm.Limit {
			impossible = "1"
		} else {
			q, r = increment(lm.Cost, int64(lm.Window), lm.Limit)
		}
		if lm.Cost > 0 {
			charges = "1"
		}
		args = append(args, strconv.FormatInt(lm.Limit, 10))
		args = limbs(args, lm.Limit)
		args = limbs(args, int64(lm.Window))
		args = limbs(args, q)
		args = limbs(args, r)
		args = append(args, impossible, charges)
	}
	cctx, cancel := context.WithTimeout(ctx, l.opt.Timeout)
	defer cancel()
	res, err := l.check.Run(cctx, l.rdb, keys, args...).Slice()
	if err != nil {
		return false, -1, fmt.Errorf("redislimiter: check: %w: %w", auth.ErrUnavailable, err)
	}
	if len(res) != len(limits)+1 {
		return false, -1, fmt.Errorf("redislimiter: check: %d values in the reply for %d limits", len(res), len(limits))
	}
	scriptDenied, ok := res[len(limits)].(int64)
	if !ok {
		return false, -1, errors.New("redislimiter: check: malformed reply")
	}
	stored := make([]ratelimit.Bucket, len(limits))
	exists := make([]bool, len(limits))
	for i := range limits {
		if s, isStr := res[i].(string); isStr {
			// A value the script cannot parse either (another format)
			// counts as no bucket on both sides: it starts full.
			if b, err := parseBucket(s); err == nil {
				stored[i], exists[i] = b, true
			}
		}
	}
	allowed, denied := ratelimit.Replay(t, limits, stored, exists, states)
	if int64(denied) != scriptDenied {
		// The script and the Go arithmetic disagree: a bug, never a
		// decision to trust.
		return false, -1, fmt.Errorf("redislimiter: check: the script denied %d, the replay %d", scriptDenied, denied)
	}
	return allowed, denied, nil
}

// Refund implements ratelimit.Refunder, in one round trip.
func (l *Limiter) Refund(ctx context.Context, now time.Time, limits []ratelimit.Limit) error {
	if err := ratelimit.Validate(now, limits, nil); err != nil {
		return err
	}
	if len(limits) == 0 {
		return nil
	}
	keys := make([]string, len(limits))
	args := make([]any, 0, 3+8*len(limits))
	args = append(limbs(args, now.UnixNano()), l.margin)
	for i := range limits {
		lm := &limits[i]
		keys[i] = l.redisKey(lm.Key)
		q, r := increment(min(lm.Cost, lm.Limit), int64(lm.Window), lm.Limit)
		charges := "0"
		if lm.Cost > 0 {
			charges = "1"
		}
		args = append(args, strconv.FormatInt(lm.Limit, 10))
		args = limbs(args, lm.Limit)
		args = limbs(args, q)
		args = limbs(args, r)
		args = append(args, charges)
	}
	cctx, cancel := context.WithTimeout(ctx, l.opt.Timeout)
	defer cancel()
	if err := l.refund.Run(cctx, l.rdb, keys, args...).Err(); err != nil {
		return fmt.Errorf("redislimiter: refund: %w: %w", auth.ErrUnavailable, err)
	}
	return nil
}
