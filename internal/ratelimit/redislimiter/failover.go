package redislimiter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/typeauth/typeauth/internal/auth"
	"github.com/typeauth/typeauth/internal/ratelimit"
)

// Policy says what a Failover does while Redis is unreachable.
type Policy string

const (
	// PolicyClosed fails every check that needs a limit: the verify
	// answers 503 and the gateway denies. Limits are never exceeded.
	PolicyClosed Policy = "closed"
	// PolicyLocal decides on this replica alone, at Limit/Replicas per
	// replica (at least 1): with the load spread evenly the cluster admits
	// about Limit, never more than Replicas × ⌈Limit/Replicas⌉.
	PolicyLocal Policy = "local"
)

// FailoverOptions configures a Failover.
type FailoverOptions struct {
	Policy   Policy // default PolicyClosed
	Replicas int64  // for PolicyLocal (default 1)
	// ProbeInterval is how often an unreachable Redis is pinged (default 500ms).
	ProbeInterval time.Duration
	// ProbeTimeout bounds each ping (default 250ms).
	ProbeTimeout time.Duration
	// Failures is how many consecutive failed checks mark Redis down
	// (default 3): one slow answer under load does not switch every
	// replica's limits to the policy.
	Failures int64
	Logger   *slog.Logger
}

// Failover is a Limiter over Redis that survives Redis outages by policy.
//
// While Redis answers, every check goes to it. The first check that fails
// with anything but ErrInvalid, after Failures in a row, marks Redis down
// (logged once, at the
// transition; a failed check before that fails closed), and from then on
// checks do not wait for Redis: they follow
// the policy at once. Run pings Redis in the background every
// ProbeInterval while it is down and marks it up (logged once) when it
// answers; the local fallback's buckets are then dropped.
type Failover struct {
	primary  ratelimit.Limiter
	ping     func(ctx context.Context) error
	opt      FailoverOptions
	local    atomic.Pointer[ratelimit.Local]
	down     atomic.Bool
	failures atomic.Int64  // consecutive failed checks while up
	degraded atomic.Uint64 // checks decided while down
	outages  atomic.Uint64
}

var (
	_ ratelimit.Limiter  = (*Failover)(nil)
	_ ratelimit.Refunder = (*Failover)(nil)
)

// NewFailover wraps primary (normally a *Limiter); ping checks that Redis
// answers (e.g. client.Ping(ctx).Err()).
func NewFailover(primary ratelimit.Limiter, ping func(ctx context.Context) error, opt FailoverOptions) *Failover {
	if opt.Policy == "" {
		opt.Policy = PolicyClosed
	}
	if opt.Replicas < 1 {
		opt.Replicas = 1
	}
	if opt.ProbeInterval <= 0 {
		opt.ProbeInterval = 500 * time.Millisecond
	}
	if opt.ProbeTimeout <= 0 {
		opt.ProbeTimeout = 250 * time.Millisecond
	}
	if opt.Failures <= 0 {
		opt.Failures = 3
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	f := &Failover{primary: primary, ping: ping, opt: opt}
	f.local.Store(ratelimit.NewLocal(ratelimit.Options{MaxBuckets: 1_000_000}))
	return f
}

// Up reports whether Redis is considered reachable.
func (f *Failover) Up() bool { return !f.down.Load() }

// DegradedChecks returns how many checks were decided without Redis.
func (f *Failover) DegradedChecks() uint64 { return f.degraded.Load() }

// Outages returns how many times Redis was marked down.
func (f *Failover) Outages() uint64 { return f.outages.Load() }

// Status is a one-line description for operators (readiness body, logs).
func (f *Failover) Status() string {
	if !f.down.Load() {
		return "redis: up"
	}
	if f.opt.Policy == PolicyLocal {
		return fmt.Sprintf("redis: down; rate limits are local at limit/%d per replica", f.opt.Replicas)
	}
	return "redis: down; rate-limited verifies fail closed (503)"
}

func (f *Failover) markDown(err error) {
	if f.down.CompareAndSwap(false, true) {
		f.outages.Add(1)
		f.opt.Logger.Warn("redis unreachable: "+f.Status(), "error", err)
	}
}

// Run probes Redis while it is down, until ctx ends. It also sweeps the
// local fallback's full buckets.
func (f *Failover) Run(ctx context.Context) {
	tk := time.NewTicker(f.opt.ProbeInterval)
	defer tk.Stop()
	sweeps := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
		}
		if sweeps++; sweeps%20 == 0 {
			f.local.Load().Sweep(time.Now().Add(-ratelimit.SweepMargin))
		}
		if !f.down.Load() {
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, f.opt.ProbeTimeout)
		err := f.ping(pctx)
		cancel()
		if err == nil {
			// A fresh local limiter for the next outage: its buckets
			// are stale by then.
			f.local.Store(ratelimit.NewLocal(ratelimit.Options{MaxBuckets: 1_000_000}))
			f.opt.Logger.Info("redis reachable again: rate limits are shared and exact")
			f.failures.Store(0)
			f.down.Store(false)
		}
	}
}

// Check implements ratelimit.Limiter.
func (f *Failover) Check(ctx context.Context, now time.Time, limits []ratelimit.Limit, states []ratelimit.State) (bool, int, error) {
	if len(limits) == 0 {
		return f.primary.Check(ctx, now, limits, states)
	}
	if !f.down.Load() {
		ok, denied, err := f.primary.Check(ctx, now, limits, states)
		if err == nil || errors.Is(err, ratelimit.ErrInvalid) {
			if err == nil && f.failures.Load() != 0 {
				f.failures.Store(0)
			}
			return ok, denied, err
		}
		if ctx.Err() != nil {
			// The caller went away: not Redis's fault.
			return false, -1, err
		}
		if f.failures.Add(1) < f.opt.Failures {
			return false, -1, fmt.Errorf("rate limits: %w: %w", auth.ErrUnavailable, err)
		}
		f.markDown(err)
	}
	f.degraded.Add(1)
	if f.opt.Policy != PolicyLocal {
		if err := ratelimit.Validate(now, limits, states); err != nil {
			return false, -1, err
		}
		return false, -1, fmt.Errorf("rate limits: redis unreachable (policy closed): %w", auth.ErrUnavailable)
	}
	return f.local.Load().Check(ctx, now, f.scaled(limits), states)
}

// scaled returns limits at Limit/Replicas (at least 1).
func (f *Failover) scaled(limits []ratelimit.Limit) []ratelimit.Limit {
	if f.opt.Replicas == 1 {
		return limits
	}
	s := make([]ratelimit.Limit, len(limits))
	for i, l := range limits {
		l.Limit = max(1, l.Limit/f.opt.Replicas)
		s[i] = l
	}
	return s
}

// Refund implements ratelimit.Refunder: on Redis while it is up, else on
// the local fallback.
func (f *Failover) Refund(ctx context.Context, now time.Time, limits []ratelimit.Limit) error {
	if !f.down.Load() {
		if rf, ok := f.primary.(ratelimit.Refunder); ok {
			return rf.Refund(ctx, now, limits)
		}
		return nil
	}
	if f.opt.Policy == PolicyLocal {
		return f.local.Load().Refund(ctx, now, f.scaled(limits))
	}
	return nil
}
