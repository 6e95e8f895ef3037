package verify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/typeauth/typeauth/internal/auth"
	"github.com/typeauth/typeauth/internal/ratelimit"
)

// Stand-alone rate limiting: limit anything (an IP, a user) by namespace and
// identifier, without a key. Overrides (managed by API) change the limit of
// matching identifiers.

// overridesTTL bounds how long a namespace's overrides are served from
// memory; changes through this node apply at once (InvalidateAll).
const overridesTTL = 10 * time.Second

type nsOverrides struct {
	list     []*auth.RateLimitOverride
	loadedAt time.Time
}

type overrideCache struct {
	mu  sync.RWMutex
	gen uint64
	m   map[string]*nsOverrides
}

// RateLimitRequest is one stand-alone check.
type RateLimitRequest struct {
	Namespace  string
	Identifier string
	Limit      int64
	Window     time.Duration
	Cost       int64
}

// RateLimitResult is the answer of a stand-alone check.
type RateLimitResult struct {
	Success    bool
	Limit      int64
	Remaining  int64
	ResetAt    time.Time
	RetryAfter time.Duration
	OverrideID string
}

// RateLimit applies a stand-alone limit. An error means the limiter or the
// store failed: callers must fail closed.
func (v *Verifier) RateLimit(ctx context.Context, r *RateLimitRequest) (RateLimitResult, error) {
	now := v.opt.Now()
	limit, window := r.Limit, r.Window
	var res RateLimitResult
	o, err := v.override(ctx, r.Namespace, r.Identifier, now)
	if err != nil {
		return res, err
	}
	if o != nil {
		limit, window, res.OverrideID = o.Limit, o.Duration, o.ID
	}
	if limit == 0 {
		// An override of 0 blocks the identifier.
		return RateLimitResult{Limit: 0, ResetAt: now, RetryAfter: window, OverrideID: res.OverrideID}, nil
	}
	var b strings.Builder
	b.Grow(4 + len(r.Namespace) + len(r.Identifier))
	b.WriteString("ns:")
	b.WriteString(r.Namespace)
	b.WriteByte(0)
	b.WriteString(r.Identifier)
	lim := [1]ratelimit.Limit{{Key: b.String(), Name: r.Namespace, Limit: limit, Window: window, Cost: r.Cost}}
	var st [1]ratelimit.State
	ok, _, err := v.opt.Limiter.Check(ctx, now, lim[:], st[:])
	if err != nil {
		return res, fmt.Errorf("rate limiter: %w", err)
	}
	res.Success, res.Limit, res.Remaining, res.ResetAt, res.RetryAfter = ok, limit, st[0].Remaining, st[0].ResetAt, st[0].RetryAfter
	return res, nil
}

// override finds the override for an identifier: the exact one, else the
// longest matching pattern.
func (v *Verifier) override(ctx context.Context, ns, id string, now time.Time) (*auth.RateLimitOverride, error) {
	c := &v.overrides
	c.mu.RLock()
	e := c.m[ns]
	gen := c.gen
	c.mu.RUnlock()
	if e == nil || now.Sub(e.loadedAt) >= overridesTTL {
		reader, ok := v.store.(auth.ConstraintReader)
		if !ok {
			return nil, nil
		}
		sctx, cancel := context.WithTimeout(ctx, v.opt.StoreTimeout)
		list, err := reader.OverridesOf(sctx, ns)
		cancel()
		if err != nil && !errors.Is(err, auth.ErrNotFound) {
			return nil, fmt.Errorf("load overrides: %w", err)
		}
		e = &nsOverrides{list: list, loadedAt: now}
		c.mu.Lock()
		if c.gen == gen {
			if c.m == nil || len(c.m) > 10_000 {
				c.m = make(map[string]*nsOverrides)
			}
			c.m[ns] = e
		}
		c.mu.Unlock()
	}
	var best *auth.RateLimitOverride
	for _, o := range e.list {
		if o.Identifier == id {
			return o, nil
		}
		if strings.IndexByte(o.Identifier, '*') >= 0 && Glob(o.Identifier, id) && (best == nil || len(o.Identifier) > len(best.Identifier)) {
			best = o
		}
	}
	return best, nil
}

func (c *overrideCache) invalidate() {
	c.mu.Lock()
	c.gen++
	clear(c.m)
	c.mu.Unlock()
}

// Glob reports whether s matches pattern, where '*' matches any run of
// characters (including none) and every other byte matches itself. It runs
// in O(len(pattern)·len(s)) at worst, without allocating.
func Glob(pattern, s string) bool {
	px, sx := 0, 0
	starPx, starSx := -1, 0
	for sx < len(s) {
		switch {
		case px < len(pattern) && pattern[px] == '*':
			starPx, starSx = px, sx
			px++
		case px < len(pattern) && pattern[px] == s[sx]:
			px++
			sx++
		case starPx >= 0:
			starSx++
			px, sx = starPx+1, starSx
		default:
			return false
		}
	}
	for px < len(pattern) && pattern[px] == '*' {
		px++
	}
	return px == len(pattern)
}
