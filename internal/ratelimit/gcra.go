package ratelimit

import (
	"math/bits"
	"time"
)

// bucket is the GCRA state of one Key: its theoretical arrival time (TAT),
// the instant at which the bucket will be full again. A bucket is full (and
// equivalent to no bucket at all) when its TAT is not after now.
//
// The emission interval Window/Limit is rarely a whole number of
// nanoseconds (3 per second is 333,333,333⅓ ns), so the TAT is kept as a
// mixed number tat + rem/lim ns to stay exact however many units are spent.
type bucket struct {
	tat int64 // whole part of the TAT, Unix nanoseconds
	rem int64 // fractional part, in 1/lim ns: 0 <= rem < lim
	lim int64 // the Limit rem is counted in
}

// isFull reports whether b holds no spent capacity at now.
func (b bucket) isFull(now int64) bool {
	return b.tat < now || (b.tat == now && b.rem == 0)
}

// base returns the state from which a charge under a limit of L units
// starts at now: the stored TAT, or now for a full bucket. When the limit
// changed since the bucket was written (an override), the fractional part
// is rounded up to a whole nanosecond: the spent time carries over and
// rounding never grants capacity.
func (b bucket) base(now, L int64) bucket {
	if b.tat < now {
		return bucket{tat: now, lim: L}
	}
	if b.lim != L {
		if b.rem != 0 {
			b.tat++
		}
		b.rem, b.lim = 0, L
	}
	return b
}

// charge applies l at now to base (from bucket.base). It returns the bucket
// after the charge and whether it is allowed. When it is not, retry is the
// wait in nanoseconds after which the same charge would be allowed, or -1
// if it never can be (Cost > Limit).
func charge(base bucket, l *Limit, now int64) (next bucket, ok bool, retry int64) {
	if l.Cost > l.Limit {
		return base, false, -1
	}
	w := int64(l.Window)
	// increment = Cost * Window / Limit ns, exactly: q + r/Limit.
	// Cost <= Limit, so q <= Window and nothing below can overflow.
	hi, lo := bits.Mul64(uint64(l.Cost), uint64(w))
	q, r := bits.Div64(hi, lo, uint64(l.Limit))
	// rem + r < 2·Limit: summed in uint64, it cannot overflow even for a
	// Limit above MaxInt64/2.
	sum := uint64(base.rem) + r
	next = bucket{tat: base.tat + int64(q), lim: l.Limit}
	if sum >= uint64(l.Limit) {
		sum -= uint64(l.Limit)
		next.tat++
	}
	next.rem = int64(sum)
	// Allowed iff the new TAT is at most one window ahead of now.
	d := next.tat - now
	if d < w || (d == w && next.rem == 0) {
		return next, true, 0
	}
	retry = d - w
	if next.rem != 0 {
		retry++
	}
	return base, false, retry
}

// report fills st with the state of bucket b (already based for l at now).
// retry is as returned by charge.
func report(st *State, l *Limit, b bucket, now, retry int64) {
	w := int64(l.Window)
	reset := b.tat
	if b.rem != 0 {
		reset++
	}
	var remaining int64
	if d := b.tat - now; d < w || (d == w && b.rem == 0) {
		// floor(((w - d) * Limit - rem) / w), in 128 bits. The
		// quotient is at most Limit, so Div64 cannot overflow.
		hi, lo := bits.Mul64(uint64(w-d), uint64(l.Limit))
		lo, borrow := bits.Sub64(lo, uint64(b.rem), 0)
		hi -= borrow
		rq, _ := bits.Div64(hi, lo, uint64(w))
		remaining = int64(rq)
	}
	switch {
	case retry < 0: // can never succeed: report the wait until full
		retry = reset - now
	case retry > 0:
	default:
		retry = 0
	}
	*st = State{
		Name:       l.Name,
		Limit:      l.Limit,
		Remaining:  remaining,
		ResetAt:    time.Unix(0, reset).UTC(),
		RetryAfter: time.Duration(retry),
	}
}

// refund takes Cost·Window/Limit back off base (from bucket.base), never
// past now (a full bucket).
func refund(base bucket, l *Limit, now int64) bucket {
	hi, lo := bits.Mul64(uint64(min(l.Cost, l.Limit)), uint64(l.Window))
	q, r := bits.Div64(hi, lo, uint64(l.Limit))
	b := bucket{tat: base.tat - int64(q), rem: base.rem - int64(r), lim: l.Limit}
	if b.rem < 0 {
		b.rem += l.Limit
		b.tat--
	}
	if b.isFull(now) {
		return bucket{tat: now, lim: l.Limit}
	}
	return b
}
