package ratelimit

import (
	"context"
	"fmt"
	"hash/maphash"
	"sync"
	"time"
)

// DefaultShards is the number of shards of a Local limiter when Options
// leaves it zero.
const DefaultShards = 256

// minRebuild is the peak size below which a shard's map is never rebuilt
// after a sweep: small maps are not worth the copy.
const minRebuild = 64

// Options configures a Local limiter. The zero value is usable.
type Options struct {
	// Shards is the number of independently locked maps, rounded up to a
	// power of two. Zero means DefaultShards.
	Shards int
	// MaxBuckets bounds the number of buckets held (approximately: it is
	// enforced per shard, as MaxBuckets/Shards each). A check that would
	// create a bucket in a full shard fails with ErrFull and charges
	// nothing. Zero means no bound other than the sweeper's.
	MaxBuckets int
}

// Local is an exact in-memory Limiter for one process. Buckets live in
// sharded maps, each guarded by its own mutex; a check locks the shards of
// its limits in ascending shard order, so concurrent multi-limit checks
// cannot deadlock and decide atomically.
//
// Full buckets hold no information and are removed by Sweep (see
// RunSweeper), so memory is proportional to the number of buckets spent
// within their last window.
type Local struct {
	seed        maphash.Seed
	mask        uint64
	maxPerShard int
	shards      []shard
}

type shard struct {
	mu   sync.Mutex
	m    map[string]bucket
	peak int // largest len(m) since the map was last rebuilt
	_    [40]byte
}

var _ Limiter = (*Local)(nil)

// NewLocal returns an empty Local limiter.
func NewLocal(opts Options) *Local {
	n := opts.Shards
	if n <= 0 {
		n = DefaultShards
	}
	p := 1
	for p < n {
		p <<= 1
	}
	l := &Local{seed: maphash.MakeSeed(), mask: uint64(p - 1), shards: make([]shard, p)}
	if opts.MaxBuckets > 0 {
		l.maxPerShard = max(1, opts.MaxBuckets/p)
	}
	for i := range l.shards {
		l.shards[i].m = make(map[string]bucket)
	}
	return l
}

func (l *Local) shardOf(key string) uint32 {
	return uint32(maphash.String(l.seed, key) & l.mask)
}

// Check implements Limiter. It never blocks on anything but its own shard
// mutexes and ignores ctx. It may retain the Key strings of created
// buckets: build them once rather than slicing them out of large buffers.
func (l *Local) Check(_ context.Context, now time.Time, limits []Limit, states []State) (bool, int, error) {
	if err := Validate(now, limits, states); err != nil {
		return false, -1, err
	}
	t := now.UnixNano()
	switch len(limits) {
	case 0:
		return true, -1, nil
	case 1:
		return l.checkOne(t, &limits[0], states)
	}
	return l.checkMany(t, limits, states)
}

func (l *Local) checkOne(now int64, lm *Limit, states []State) (bool, int, error) {
	sh := &l.shards[l.shardOf(lm.Key)]
	sh.mu.Lock()
	stored, exists := sh.m[lm.Key]
	base := bucket{tat: now, lim: lm.Limit}
	if exists {
		base = stored.base(now, lm.Limit)
	}
	next, ok, retry := charge(base, lm, now)
	switch {
	case ok && lm.Cost > 0:
		if !exists && l.maxPerShard > 0 && len(sh.m) >= l.maxPerShard {
			sh.mu.Unlock()
			return false, -1, fmt.Errorf("%w (%d buckets in shard)", ErrFull, l.maxPerShard)
		}
		sh.m[lm.Key] = next
		if len(sh.m) > sh.peak {
			sh.peak = len(sh.m)
		}
	case exists && stored.isFull(now):
		delete(sh.m, lm.Key) // a peek found it full: no need to keep it
	}
	sh.mu.Unlock()
	if states != nil {
		report(&states[0], lm, next, now, retry)
	}
	if !ok {
		return false, 0, nil
	}
	return true, -1, nil
}

// pending is the per-limit scratch of a multi-limit check.
type pending struct {
	shard  uint32
	exists bool   // the bucket was in the map
	dup    bool   // an earlier limit of this check has the same Key
	stored bucket // the bucket as stored in the map
	next   bucket // after this limit's charge if allowed, else its base
	retry  int64
}

const stackLimits = 8

func (l *Local) checkMany(now int64, limits []Limit, states []State) (bool, int, error) {
	var pbuf [stackLimits]pending
	var obuf [stackLimits]uint32
	p, order := pbuf[:0], obuf[:0]
	if len(limits) > stackLimits {
		p, order = make([]pending, 0, len(limits)), make([]uint32, 0, len(limits))
	}
	for i := range limits {
		s := l.shardOf(limits[i].Key)
		p = append(p, pending{shard: s})
		// insertion into a sorted, duplicate-free list of shards
		j := len(order)
		for j > 0 && order[j-1] > s {
			j--
		}
		if j == 0 || order[j-1] != s {
			order = append(order, 0)
			copy(order[j+1:], order[j:])
			order[j] = s
		}
	}
	for _, s := range order {
		l.shards[s].mu.Lock()
	}
	unlock := func() {
		for _, s := range order {
			l.shards[s].mu.Unlock()
		}
	}

	denied := -1
	for i := range limits {
		lm, pi := &limits[i], &p[i]
		cur, have := bucket{}, false
		for j := i - 1; j >= 0; j-- { // the latest earlier charge of the same bucket
			if p[j].shard == pi.shard && limits[j].Key == lm.Key {
				pi.dup, pi.exists, pi.stored = true, p[j].exists, p[j].stored
				cur, have = p[j].next, true
				break
			}
		}
		if !pi.dup {
			pi.stored, pi.exists = l.shards[pi.shard].m[lm.Key]
			cur, have = pi.stored, pi.exists
		}
		base := bucket{tat: now, lim: lm.Limit}
		if have {
			base = cur.base(now, lm.Limit)
		}
		next, ok, retry := charge(base, lm, now)
		pi.next, pi.retry = next, retry
		if !ok && denied < 0 {
			denied = i
		}
	}

	if denied < 0 && l.maxPerShard > 0 {
		for i := range limits {
			pi := &p[i]
			if limits[i].Cost > 0 && !pi.exists && !pi.dup && len(l.shards[pi.shard].m) >= l.maxPerShard {
				unlock()
				return false, -1, fmt.Errorf("%w (%d buckets in shard)", ErrFull, l.maxPerShard)
			}
		}
	}
	if denied < 0 {
		for i := range limits {
			if limits[i].Cost > 0 {
				sh := &l.shards[p[i].shard]
				sh.m[limits[i].Key] = p[i].next
				if len(sh.m) > sh.peak {
					sh.peak = len(sh.m)
				}
			}
		}
	}
	unlock()

	if states != nil {
		for i := range limits {
			lm, pi := &limits[i], &p[i]
			if denied < 0 {
				report(&states[i], lm, pi.next, now, 0)
				continue
			}
			b := bucket{tat: now, lim: lm.Limit}
			if pi.exists {
				b = pi.stored.base(now, lm.Limit)
			}
			report(&states[i], lm, b, now, pi.retry)
		}
	}
	return denied < 0, denied, nil
}

// Sweep removes the buckets that are full at now (they hold no
// information) and returns how many it removed. It locks one shard at a
// time, so checks proceed meanwhile, and rebuilds a shard's map when it has
// shrunk to a quarter of its peak (Go maps do not return memory on delete).
//
// now must not be later than the time any in-flight or future check will
// pass: a bucket removed at now is full for every check at now or later.
// RunSweeper subtracts a safety margin for that reason.
func (l *Local) Sweep(now time.Time) int {
	t := now.UnixNano()
	removed := 0
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		for k, b := range sh.m {
			if b.isFull(t) {
				delete(sh.m, k)
				removed++
			}
		}
		if sh.peak >= minRebuild && len(sh.m) <= sh.peak/4 {
			m := make(map[string]bucket, len(sh.m)) // sized for what is left
			for k, b := range sh.m {
				m[k] = b
			}
			sh.m = m
			sh.peak = len(sh.m)
		}
		sh.mu.Unlock()
	}
	return removed
}

// SweepMargin is how far behind now() RunSweeper sweeps, so that a check
// that read its clock just before a sweep still finds its bucket.
const SweepMargin = time.Second

// RunSweeper calls Sweep(now().Add(-SweepMargin)) every interval until ctx
// is done. now is the clock checks are given (time.Now in production).
func (l *Local) RunSweeper(ctx context.Context, interval time.Duration, now func() time.Time) {
	tk := time.NewTicker(interval)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
			l.Sweep(now().Add(-SweepMargin))
		}
	}
}

// Len returns the number of buckets held.
func (l *Local) Len() int {
	n := 0
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

var _ Refunder = (*Local)(nil)

// Refund implements Refunder. Buckets left full are removed.
func (l *Local) Refund(_ context.Context, now time.Time, limits []Limit) error {
	if err := Validate(now, limits, nil); err != nil {
		return err
	}
	t := now.UnixNano()
	for i := len(limits) - 1; i >= 0; i-- {
		lm := &limits[i]
		if lm.Cost == 0 {
			continue
		}
		sh := &l.shards[l.shardOf(lm.Key)]
		sh.mu.Lock()
		if stored, ok := sh.m[lm.Key]; ok {
			if b := refund(stored.base(t, lm.Limit), lm, t); b.isFull(t) {
				delete(sh.m, lm.Key)
			} else {
				sh.m[lm.Key] = b
			}
		}
		sh.mu.Unlock()
	}
	return nil
}
