package verify

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/typeauth/typeauth/internal/auth"
	"github.com/typeauth/typeauth/internal/ratelimit"
)

// maxLimitsPerVerify bounds the limits one verify applies.
const maxLimitsPerVerify = 64

// collectLimits lists the limits a verify applies: every auto_apply limit of
// the key and its identity at cost 1, and the limits the request names (all
// limits of that name, on the key and on the identity) at the cost it gives.
// A named limit the key and identity lack applies only when the request
// gives its limit and duration (an ad-hoc limit on the key); otherwise the
// request is refused: a limit silently skipped would let traffic through.
func collectLimits(e *entry, r *Request, buf []ratelimit.Limit) ([]ratelimit.Limit, error) {
	list := buf[:0]
	for i := range e.limits {
		l := &e.limits[i]
		if !l.auto || namedIn(r.RateLimits, l.name) {
			continue
		}
		list = append(list, ratelimit.Limit{Key: l.bucket, Name: l.name, Limit: l.limit, Window: l.window, Cost: peekCost(r, 1)})
	}
	for _, u := range r.RateLimits {
		cost := int64(1)
		if u.CostSet {
			cost = u.Cost
		}
		cost = peekCost(r, cost)
		found := false
		for i := range e.limits {
			l := &e.limits[i]
			if l.name != u.Name {
				continue
			}
			found = true
			lim := ratelimit.Limit{Key: l.bucket, Name: l.name, Limit: l.limit, Window: l.window, Cost: cost}
			if u.Limit > 0 {
				lim.Limit = u.Limit
			}
			if u.Duration > 0 {
				lim.Window = u.Duration
			}
			list = append(list, lim)
		}
		if !found {
			if u.Limit <= 0 || u.Duration <= 0 {
				return nil, auth.Errorf(auth.ErrInvalid, "unknown_ratelimit",
					"ratelimits: the key has no limit named "+u.Name+" (give limit and duration to apply one for this call)")
			}
			list = append(list, ratelimit.Limit{Key: e.tag + "k\x00" + e.key.ID + "\x00" + u.Name, Name: u.Name, Limit: u.Limit, Window: u.Duration, Cost: cost})
		}
		if len(list) > maxLimitsPerVerify {
			return nil, auth.Errorf(auth.ErrInvalid, "too_many_ratelimits", "at most 64 rate limits per verify")
		}
	}
	return list, nil
}

// peekCost is 0 for a request that only inspects.
func peekCost(r *Request, cost int64) int64 {
	if r.Peek {
		return 0
	}
	return cost
}

func namedIn(uses []RateLimitUse, name string) bool {
	for i := range uses {
		if uses[i].Name == name {
			return true
		}
	}
	return false
}

// limitBufs recycles the scratch space of a rate-limited verify: passed to
// the Limiter interface, stack buffers would escape to the heap.
var limitBufs = sync.Pool{New: func() any { return new(limitBuf) }}

type limitBuf struct {
	limits [8]ratelimit.Limit
	states [8]ratelimit.State
}

// applyLimits charges the verify's limits, all or nothing, and records their
// state in d. It reports whether a limit denied.
func (v *Verifier) applyLimits(ctx context.Context, e *entry, r *Request, now time.Time, d *Decision) (bool, error) {
	buf := limitBufs.Get().(*limitBuf)
	defer limitBufs.Put(buf)
	limits, err := collectLimits(e, r, buf.limits[:])
	if err != nil {
		*d = Decision{}
		return true, err
	}
	if len(limits) == 0 {
		return false, nil
	}
	var states []ratelimit.State
	if len(limits) > len(buf.states) {
		states = make([]ratelimit.State, len(limits))
	} else {
		states = buf.states[:len(limits)]
	}
	ok, denied, err := v.opt.Limiter.Check(ctx, now, limits, states)
	if err != nil {
		*d = Decision{}
		return true, fmt.Errorf("rate limiter: %w", err)
	}
	d.RateLimits = make([]LimitState, len(limits))
	for i, st := range states {
		d.RateLimits[i] = LimitState{Name: limits[i].Name, Limit: st.Limit, Remaining: st.Remaining, ResetAt: st.ResetAt}
	}
	if ok && r.Peek {
		// Would a real call (cost 1 each) pass? A limit with no unit left
		// would deny it.
		for i, st := range states {
			if st.Remaining < 1 {
				ok, denied = false, i
				states[i].RetryAfter = max(st.ResetAt.Sub(now)/time.Duration(max(st.Limit, 1)), time.Millisecond)
				break
			}
		}
	}
	if !ok {
		d.Code = auth.CodeRateLimited
		d.DeniedLimit = limits[denied].Name
		// Every limit that would deny carries its RetryAfter: the call can
		// pass only once the last of them has room again.
		for _, st := range states {
			d.RetryAfter = max(d.RetryAfter, st.RetryAfter)
		}
		d.Reason = "rate limit " + limits[denied].Name + " exceeded"
		return true, nil
	}
	return false, nil
}

// refunder is a Limiter that can give back capacity it charged.
type refunder interface {
	Refund(ctx context.Context, now time.Time, limits []ratelimit.Limit) error
}

// refundLimits gives back what a verify charged when a later check (credits)
// denied it, so that a denied verify spends no limit's capacity.
func (v *Verifier) refundLimits(ctx context.Context, e *entry, r *Request, now time.Time) {
	rf, ok := v.opt.Limiter.(refunder)
	if !ok || r.skipLimits {
		return // nothing was charged here
	}
	buf := limitBufs.Get().(*limitBuf)
	defer limitBufs.Put(buf)
	limits, err := collectLimits(e, r, buf.limits[:])
	if err != nil || len(limits) == 0 {
		return
	}
	if err := rf.Refund(ctx, now, limits); err != nil {
		v.opt.Logger.Warn("rate limit refund failed", "error", err)
	}
}
