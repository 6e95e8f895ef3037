package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// MaxWindow is the longest Window a Limit may have. It keeps all arithmetic
// on Unix nanoseconds far from int64 overflow; a limit "per ten years" is not
// a rate limit but a quota (see credits).
const MaxWindow = 10 * 365 * 24 * time.Hour

// ErrInvalid is returned (wrapped) by Check for a malformed call: an empty
// Key, Limit < 1, Window outside (0, MaxWindow], Cost < 0, a states slice
// shorter than limits, or a now before 1970 or after 2116 (such as a zero
// time.Time). It is a programming or configuration error, never a
// denial.
var ErrInvalid = errors.New("ratelimit: invalid check")

// ErrFull is returned (wrapped) by a limiter that has reached its configured
// bucket capacity and cannot create the bucket a check needs. The check
// charged nothing; callers must fail closed.
var ErrFull = errors.New("ratelimit: bucket capacity reached")

// Limit is one rate limit to apply in a Check: at most Limit units per
// Window, this call spending Cost units.
type Limit struct {
	// Key identifies the bucket, e.g. "key:<key id>:<name>" or
	// "identity:<identity id>:<name>". Checks with the same Key share
	// capacity. Implementations treat it as opaque (a Redis implementation
	// may map it to a hash-tagged key).
	Key string
	// Name is the user-facing limit name, echoed in State.
	Name string
	// Limit is the capacity: units allowed per Window (and the largest burst).
	Limit int64
	// Window is the time in which Limit units are replenished.
	Window time.Duration
	// Cost is what this call spends. 0 peeks: it reports the state and
	// charges nothing. Cost > Limit is always denied.
	Cost int64
}

// State is the state of one limit's bucket as reported by Check.
type State struct {
	Name  string
	Limit int64
	// Remaining is how many units of cost 1 could be spent right now.
	Remaining int64
	// ResetAt is when the bucket is full again (Remaining == Limit) if
	// nothing more is spent. It equals now for a full bucket.
	ResetAt time.Time
	// RetryAfter is zero unless this limit denied the check; then it is
	// the time after which the same check would succeed if nothing else
	// were spent meanwhile. For Cost > Limit, which can never succeed, it
	// is the time until the bucket is full.
	RetryAfter time.Duration
}

// Limiter applies several rate limits as one atomic decision.
//
// Check decides whether a call may spend limits[i].Cost on every bucket
// limits[i].Key at time now. It is all-or-nothing: when every limit allows,
// all are charged; when any limit denies, none is charged, so a denied call
// spends no capacity of the other limits. Several limits with the same Key
// in one check are charged cumulatively, in order.
//
// allowed reports the decision. denied is the index in limits of the first
// limit that denied, or -1. When states is not nil it must have
// len(states) >= len(limits); Check fills states[i] for every limit: after
// an allowed check, the state right after limit i was charged; after a
// denied check, the unchanged state of each bucket, with RetryAfter set on
// every limit that denied (the earliest of them being states[denied]), so
// the caller's Retry-After is the largest RetryAfter.
//
// now is the only clock: implementations must not read the time themselves,
// so that tests (and replicas) are exact under an injected clock.
//
// An empty limits slice is allowed. On error (ErrInvalid, ErrFull, or a
// backend failure such as a Redis timeout) allowed is false, denied is -1,
// nothing was charged as far as the implementation can tell, and the caller
// must fail closed. A Limiter is safe for concurrent use. A remote
// implementation must decide all limits of one Check in one round trip.
type Limiter interface {
	Check(ctx context.Context, now time.Time, limits []Limit, states []State) (allowed bool, denied int, err error)
}

// maxNow bounds the clock (year 2116) so that Unix nanoseconds plus a few
// windows cannot overflow.
const maxNow = 1 << 62

// Validate returns an error wrapping ErrInvalid if now, limits and states
// are not a valid Check call. Every implementation calls it first, so all
// reject the same calls (a remote one without a round trip).
func Validate(now time.Time, limits []Limit, states []State) error {
	if s := now.Unix(); s <= 0 || s > maxNow/int64(time.Second) {
		return fmt.Errorf("%w: time %v out of range", ErrInvalid, now)
	}
	if states != nil && len(states) < len(limits) {
		return fmt.Errorf("%w: %d states for %d limits", ErrInvalid, len(states), len(limits))
	}
	for i := range limits {
		if l := &limits[i]; !l.valid() {
			return fmt.Errorf("%w: limit %d (%q): limit %d, window %v, cost %d, key length %d",
				ErrInvalid, i, l.Name, l.Limit, l.Window, l.Cost, len(l.Key))
		}
	}
	return nil
}

func (l *Limit) valid() bool {
	return l.Key != "" && l.Limit > 0 && l.Window > 0 && l.Window <= MaxWindow && l.Cost >= 0
}

// Refunder is implemented by a Limiter that can give back capacity a Check
// charged, for a verify denied after its limits were charged (e.g. by
// credits), so that a denied verify spends no limit's capacity.
//
// Refund undoes limits[i].Cost on each bucket, as of now. Called with the
// same limits and now as the Check it undoes, it is exact even if other
// checks charged the same buckets in between; it never makes a bucket more
// than full. Invalid limits are an ErrInvalid error and refund nothing.
type Refunder interface {
	Refund(ctx context.Context, now time.Time, limits []Limit) error
}
