// Package verify is the hot path: a credential in, a decision out. It reads
// keys from an in-memory cache and touches the store on a miss only (misses
// for one secret coalesce), or to spend credits, which must be durable before
// a VALID answer. It knows nothing of HTTP or gRPC.
package verify

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/typeauth/typeauth/internal/auth"
	"github.com/typeauth/typeauth/internal/keyfmt"
	"github.com/typeauth/typeauth/internal/ratelimit"
)

// Options tune the verifier. Zero values take the defaults.
type Options struct {
	// NegativeTTL is how long an unknown secret is remembered as unknown
	// (default 5s). A key created on this node is found at once regardless.
	NegativeTTL time.Duration
	// PositiveTTL is how long a cached key is served before it is read again
	// from the store (default 30s). Changes made through this node take
	// effect at once; the TTL bounds staleness of changes made elsewhere.
	PositiveTTL time.Duration
	// StoreTimeout bounds every store call on the verify path (default 2s).
	StoreTimeout time.Duration
	// StaleWindow is how long past PositiveTTL a cached key keeps
	// verifying when the store cannot be read (default 0: never). Only
	// keys loaded before are served stale, never one with credits (a
	// credit must be durably spent); unknown keys fail closed. While the
	// store is failing, refreshes are retried at most every StoreRetry.
	StaleWindow time.Duration
	// StoreRetry is how long after a failed refresh stale keys are served
	// without trying the store again (default 1s).
	StoreRetry time.Duration
	// MaxNegative bounds the number of negative entries (default 100,000).
	MaxNegative int
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Limiter enforces rate limits (default: an exact in-memory limiter).
	Limiter ratelimit.Limiter
	// PermissionWildcards lets a granted "documents.*" satisfy any
	// permission below "documents." and a granted "*" satisfy all. Off by
	// default: names then match exactly.
	PermissionWildcards bool
	Logger              *slog.Logger
	// Observer, if set, is told every outcome.
	Observer Observer
}

// Verifier answers verify requests.
type Verifier struct {
	store  auth.KeyReader
	cache  *cache
	flight singleflight.Group
	opt    Options
	// storeDownUntil (Unix ns): until then, a stale entry inside the stale
	// window is served without trying the store.
	storeDownUntil atomic.Int64
	overrides      overrideCache
	queries        queryCache
	tok            *tokens // nil until EnableTokens
}

// New returns a Verifier reading from store.
func New(store auth.KeyReader, opt Options) *Verifier {
	if opt.NegativeTTL <= 0 {
		opt.NegativeTTL = 5 * time.Second
	}
	if opt.PositiveTTL <= 0 {
		opt.PositiveTTL = 30 * time.Second
	}
	if opt.StoreTimeout <= 0 {
		opt.StoreTimeout = 2 * time.Second
	}
	if opt.StoreRetry <= 0 {
		opt.StoreRetry = time.Second
	}
	if opt.MaxNegative <= 0 {
		opt.MaxNegative = 100_000
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Limiter == nil {
		opt.Limiter = ratelimit.NewLocal(ratelimit.Options{})
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	return &Verifier{store: store, cache: newCache(opt.MaxNegative), opt: opt}
}

// Request is one verification.
type Request struct {
	Key string
	// Token is a JWT to verify instead of a key (TypeAuth's own, or one of
	// a trusted issuer). A Key that looks like a JWT is verified as one too.
	Token string
	AppID string // "" accepts a key of any app
	// CreditCost is taken from the key's credits on success (0 spends none).
	CreditCost int64
	// IP is the client address, checked against the key's allow list.
	// The zero Addr means unknown: a key with an allow list then fails.
	IP netip.Addr
	// Permissions is a permission query the key must satisfy, e.g.
	// "documents.read AND (billing.write OR admin)"; "" requires none.
	Permissions string
	// RateLimits names the key's (or its identity's) limits to apply, on
	// top of those marked auto_apply.
	RateLimits []RateLimitUse
	// Peek inspects without spending: credits and every rate limit are
	// checked at cost 0 (a key out of credits or over a limit still fails).
	// For introspection and revocation, which must not use up a caller's
	// allowance.
	Peek bool

	skipLimits bool // set by Mint for a key charged by its caller already
}

// RateLimitUse applies one named limit at a cost. Limit and Duration, when
// set, override the stored limit for this call.
type RateLimitUse struct {
	Name     string
	Cost     int64 // default 1 when not set; use CostSet for an explicit 0
	CostSet  bool
	Limit    int64
	Duration time.Duration
}

// LimitState is one rate limit's state after a verify.
type LimitState struct {
	Name      string
	Limit     int64
	Remaining int64
	ResetAt   time.Time
}

// Decision is the answer. Key is set whenever the credential was found and
// belongs to the requested app, even when denied, so that callers can say
// which key was refused.
type Decision struct {
	Code     auth.Code
	Key      *auth.Key
	Identity *auth.Identity // the key's identity, if it has one
	// Permissions are the key's effective permissions: its own, its
	// roles', its identity's and the identity's roles', sorted.
	Permissions []string
	HasCredits  bool
	Remaining   int64 // credits left, when HasCredits
	Reason      string
	// RateLimits is the state of every limit applied; on RATE_LIMITED,
	// DeniedLimit names the one that denied and RetryAfter when to retry.
	RateLimits  []LimitState
	DeniedLimit string
	RetryAfter  time.Duration
	// Missing lists the permissions that were missing (INSUFFICIENT_PERMISSIONS).
	Missing []string
	// Token describes the verified token, for a token verify.
	Token *TokenInfo
}

// Valid reports whether the decision allows the request.
func (d *Decision) Valid() bool { return d.Code == auth.CodeValid }

// Observer is told every outcome (metrics).
type Observer interface {
	Decided(code auth.Code, took time.Duration)
	Failed()
}

// Verify decides. An error means the verifier could not decide (the store
// failed): the caller must fail closed. A denial is a Decision, not an error.
func (v *Verifier) Verify(ctx context.Context, r *Request) (Decision, error) {
	if v.opt.Observer == nil {
		return v.verify(ctx, r)
	}
	start := time.Now()
	d, err := v.verify(ctx, r)
	if err != nil {
		v.opt.Observer.Failed()
	} else {
		v.opt.Observer.Decided(d.Code, time.Since(start))
	}
	return d, err
}

func (v *Verifier) verify(ctx context.Context, r *Request) (Decision, error) {
	if r.Token != "" {
		return v.verifyToken(ctx, r, r.Token)
	}
	if _, err := keyfmt.Check(r.Key); err != nil {
		if v.tok != nil && LooksLikeJWT(r.Key) {
			// A gateway door passed a bearer JWT as the key.
			return v.verifyToken(ctx, r, r.Key)
		}
		return Decision{Code: auth.CodeMalformed, Reason: err.Error()}, nil
	}
	h := keyfmt.Hash(r.Key)
	now := v.opt.Now()
	e, err := v.lookup(ctx, &h, now)
	if err != nil {
		return Decision{}, err
	}
	if e.key == nil || subtle.ConstantTimeCompare(e.secret.Hash[:], h[:]) != 1 {
		return Decision{Code: auth.CodeNotFound}, nil
	}
	if e.secret.ExpiresAt != nil && !now.Before(*e.secret.ExpiresAt) {
		// The grace period of a rolled secret has ended.
		v.cache.drop(h)
		return Decision{Code: auth.CodeNotFound}, nil
	}
	return v.decide(ctx, e, r, now, &e.perms)
}

// decide applies everything but the secret to a found key: app, enabled,
// expiry, IP allow list, the permission query (against perms), rate limits
// and credits. The token path calls it with the permissions of the token.
func (v *Verifier) decide(ctx context.Context, e *entry, r *Request, now time.Time, perms *permSet) (Decision, error) {
	k := e.key
	if r.AppID != "" && r.AppID != k.AppID {
		return Decision{Code: auth.CodeForbidden, Reason: "key belongs to another app"}, nil
	}
	d := Decision{Key: k, Identity: e.identity, Permissions: perms.list}
	if k.Credits != nil {
		d.HasCredits = true
		d.Remaining = k.Credits.Effective(now)
	}
	switch {
	case !k.Enabled:
		d.Code = auth.CodeDisabled
		return d, nil
	case k.ExpiresAt != nil && !now.Before(*k.ExpiresAt):
		d.Code = auth.CodeExpired
		return d, nil
	case len(k.IPAllowlist) > 0 && !ipAllowed(k.IPAllowlist, r.IP):
		d.Code = auth.CodeForbidden
		d.Reason = "client ip is not in the key's allow list"
		return d, nil
	}
	if r.Permissions != "" {
		q, err := v.queries.parse(r.Permissions)
		if err != nil {
			return Decision{}, err
		}
		if !q.Eval(perms.has) {
			d.Code = auth.CodeInsufficientPermissions
			d.Missing = q.Missing(perms.has)
			d.Reason = "missing permissions"
			return d, nil
		}
	}
	if (len(e.limits) > 0 || len(r.RateLimits) > 0) && !r.skipLimits {
		if denied, err := v.applyLimits(ctx, e, r, now, &d); err != nil || denied {
			return d, err
		}
	}
	if k.Credits != nil {
		cost := peekCost(r, r.CreditCost)
		if cost < 0 {
			cost = 0
		}
		sctx, cancel := context.WithTimeout(ctx, v.opt.StoreTimeout)
		res, err := v.store.SpendCredits(sctx, k.ID, cost, now)
		cancel()
		if err != nil {
			// Not decided, or denied: give back what the limits took.
			v.refundLimits(ctx, e, r, now)
		}
		if errors.Is(err, auth.ErrNotFound) {
			// Deleted (or credits removed) since it was cached.
			v.cache.invalidate(k.ID)
			return Decision{Code: auth.CodeNotFound}, nil
		}
		if err != nil {
			return Decision{}, fmt.Errorf("spend credits: %w", err)
		}
		d.Remaining = res.Remaining
		if r.Peek && res.Remaining < r.CreditCost {
			res.OK = false // a real call would not pass
		}
		if !res.OK {
			v.refundLimits(ctx, e, r, now)
			d.Code = auth.CodeUsageExceeded
			d.Reason = "not enough credits left: " + strconv.FormatInt(res.Remaining, 10)
			return d, nil
		}
	}
	d.Code = auth.CodeValid
	return d, nil
}

func ipAllowed(list []netip.Prefix, ip netip.Addr) bool {
	if !ip.IsValid() {
		return false
	}
	ip = ip.Unmap()
	for _, p := range list {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// lookup returns the cache entry for h, loading it from the store on a miss
// or when it is older than its TTL. Concurrent misses for h share one load.
//
// When the store fails, a key loaded less than PositiveTTL + StaleWindow
// ago is served from the cache (stale) unless it has credits; while the
// store keeps failing, such keys are served without retrying the store
// more often than every StoreRetry.
func (v *Verifier) lookup(ctx context.Context, h *[32]byte, now time.Time) (*entry, error) {
	e := v.cache.get(h)
	if e != nil {
		ttl := v.opt.PositiveTTL
		if e.key == nil {
			ttl = v.opt.NegativeTTL
		}
		if now.Sub(e.loadedAt) < ttl {
			return e, nil
		}
		if v.servableStale(e, now) && now.UnixNano() < v.storeDownUntil.Load() {
			return e, nil
		}
	}
	fresh, err := v.load(ctx, *h, now)
	if err != nil && e != nil && ctx.Err() == nil && v.servableStale(e, now) {
		return e, nil
	}
	return fresh, err
}

// servableStale reports whether e may be served past its TTL because the
// store cannot be read.
func (v *Verifier) servableStale(e *entry, now time.Time) bool {
	return e.key != nil && e.key.Credits == nil && v.opt.StaleWindow > 0 &&
		now.Sub(e.loadedAt) < v.opt.PositiveTTL+v.opt.StaleWindow
}

// load reads h from the store (a cache miss). It takes h by value so that the
// hit path's hash never escapes to the heap.
func (v *Verifier) load(ctx context.Context, h [32]byte, now time.Time) (*entry, error) {
	gen := v.cache.gen.Load()
	// The flight key includes the generation: a verify that starts after an
	// invalidation never joins a load that started before it.
	fk := make([]byte, 0, 40)
	fk = append(fk, h[:]...)
	fk = strconv.AppendUint(fk, gen, 10)
	ch := v.flight.DoChan(string(fk), func() (any, error) {
		// The load must not be cancelled by the first caller going away.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), v.opt.StoreTimeout)
		defer cancel()
		k, s, err := v.store.KeyBySecret(lctx, h)
		e := &entry{loadedAt: now}
		switch {
		case errors.Is(err, auth.ErrNotFound):
			e.secret = &auth.Secret{}
		case err != nil:
			v.storeDownUntil.Store(now.Add(v.opt.StoreRetry).UnixNano())
			return nil, fmt.Errorf("load key: %w", err)
		default:
			e.key, e.secret = k, s
			if err := v.resolve(lctx, e); err != nil {
				v.storeDownUntil.Store(now.Add(v.opt.StoreRetry).UnixNano())
				return nil, err
			}
		}
		if v.storeDownUntil.Load() != 0 {
			v.storeDownUntil.Store(0)
		}
		v.cache.put(h, e, gen)
		return e, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*entry), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// InvalidateKey makes the next verify of any secret of the key, and of the
// given hashes, read the store. Management calls it after every committed
// change, before answering.
func (v *Verifier) InvalidateKey(keyID string, hashes ...[32]byte) {
	v.cache.invalidate(keyID, hashes...)
	if v.tok != nil {
		v.tok.byID.invalidate(keyID)
	}
}

// InvalidateAll empties the cache.
func (v *Verifier) InvalidateAll() {
	v.cache.invalidateAll()
	v.overrides.invalidate()
	if v.tok != nil {
		v.tok.byID.invalidate("")
	}
}

// CacheStats reports the number of cached keys and unknown secrets.
func (v *Verifier) CacheStats() (positive, negative int) { return v.cache.len() }
