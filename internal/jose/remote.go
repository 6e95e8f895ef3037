package jose

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// RemoteKeySet defaults.
const (
	DefaultRefreshInterval    = 15 * time.Minute
	DefaultMinRefetchInterval = time.Minute
	DefaultFetchTimeout       = 10 * time.Second
	DefaultMaxBodySize        = 1 << 20
)

// RemoteOptions configures a RemoteKeySet. Client and exactly one of
// JWKSURL or DiscoveryURL are required; Issuer is required with
// DiscoveryURL.
type RemoteOptions struct {
	// Client performs every request (inject timeouts, proxies, TLS here).
	Client *http.Client
	// JWKSURL is fetched directly.
	JWKSURL string
	// DiscoveryURL is an OIDC discovery document
	// (…/.well-known/openid-configuration); its jwks_uri is then fetched.
	DiscoveryURL string
	// Issuer must equal the discovery document's issuer exactly.
	Issuer string
	// RefreshInterval between background refreshes (default 15 min).
	RefreshInterval time.Duration
	// MinRefetchInterval: at most one fetch per interval is triggered by
	// unknown kids, and a failed background refresh is retried after it
	// (default 1 min).
	MinRefetchInterval time.Duration
	// FetchTimeout bounds one refresh, discovery included (default 10 s).
	FetchTimeout time.Duration
	// MaxBodySize bounds each response body (default and maximum 1 MiB).
	MaxBodySize int64
	// AllowHTTP permits http:// URLs (local development only).
	AllowHTTP bool
	// Now is the clock (default time.Now); After waits (default time.After).
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time
	// Logger receives refresh failures (default: discard).
	Logger *slog.Logger
}

// RemoteStatus describes the last refresh attempts.
type RemoteStatus struct {
	LastAttempt time.Time
	LastSuccess time.Time
	LastError   string // "" after a success
	Fetches     int    // attempts so far
	Keys        int    // keys currently served
}

// RemoteKeySet serves the keys of a remote issuer: fetched through the
// injected client with a timeout and a body size limit, cached, refreshed in
// the background by Run, refetched on an unknown kid at most once per
// MinRefetchInterval. A failed fetch never replaces the last good key set.
// It implements KeyResolver and is safe for concurrent use.
type RemoteKeySet struct {
	o   RemoteOptions
	cur atomic.Pointer[KeySet]
	sem chan struct{} // one fetch at a time; acquired with the caller's ctx

	mu sync.Mutex // guards st
	st RemoteStatus
}

// NewRemoteKeySet validates opts. It does not fetch: call Refresh (at start)
// and run Run in a goroutine.
func NewRemoteKeySet(o RemoteOptions) (*RemoteKeySet, error) {
	if o.Client == nil {
		return nil, errors.New("jose: remote key set needs an http.Client")
	}
	if (o.JWKSURL == "") == (o.DiscoveryURL == "") {
		return nil, errors.New("jose: set exactly one of JWKSURL and DiscoveryURL")
	}
	if o.DiscoveryURL != "" && o.Issuer == "" {
		return nil, errors.New("jose: discovery needs the expected issuer")
	}
	for _, u := range []string{o.JWKSURL, o.DiscoveryURL} {
		if u != "" {
			if err := checkURL(u, o.AllowHTTP); err != nil {
				return nil, err
			}
		}
	}
	if o.RefreshInterval <= 0 {
		o.RefreshInterval = DefaultRefreshInterval
	}
	if o.MinRefetchInterval <= 0 {
		o.MinRefetchInterval = DefaultMinRefetchInterval
	}
	if o.FetchTimeout <= 0 {
		o.FetchTimeout = DefaultFetchTimeout
	}
	if o.MaxBodySize <= 0 || o.MaxBodySize > MaxJWKSSize {
		o.MaxBodySize = DefaultMaxBodySize
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.After == nil {
		o.After = time.After
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &RemoteKeySet{o: o, sem: make(chan struct{}, 1)}, nil
}

func checkURL(raw string, allowHTTP bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil {
		return errors.New("jose: invalid key set URL")
	}
	if u.Scheme != "https" && !(allowHTTP && u.Scheme == "http") {
		return errors.New("jose: key set URL must be https")
	}
	return nil
}

// KeySet returns the key set currently served, or nil before the first
// successful fetch.
func (r *RemoteKeySet) KeySet() *KeySet { return r.cur.Load() }

// Status returns the refresh status.
func (r *RemoteKeySet) Status() RemoteStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.st
	if ks := r.cur.Load(); ks != nil {
		st.Keys = ks.Len()
	}
	return st
}

// ResolveKey implements KeyResolver. On an unknown kid it refetches, unless
// a fetch was attempted less than MinRefetchInterval ago. It returns
// ErrKeyNotFound when the served set has no such key, and an error wrapping
// ErrUnavailable when no key set was ever fetched.
func (r *RemoteKeySet) ResolveKey(ctx context.Context, kid string, alg Alg) (*PublicKey, error) {
	if ks := r.cur.Load(); ks != nil {
		if k, ok := ks.Lookup(kid, alg); ok {
			return k, nil
		}
	}
	if err := r.refresh(ctx, true); err != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, ctx.Err())
	}
	ks := r.cur.Load()
	if ks == nil {
		return nil, fmt.Errorf("%w: issuer keys never fetched", ErrUnavailable)
	}
	if k, ok := ks.Lookup(kid, alg); ok {
		return k, nil
	}
	return nil, ErrKeyNotFound
}

// Refresh fetches the key set now. On failure the last good set keeps
// serving and the error is returned.
func (r *RemoteKeySet) Refresh(ctx context.Context) error { return r.refresh(ctx, false) }

// errRateLimited means a kid-triggered refetch was skipped.
var errRateLimited = errors.New("jose: refetch rate limited")

func (r *RemoteKeySet) refresh(ctx context.Context, limited bool) error {
	select {
	case r.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-r.sem }()

	now := r.o.Now()
	r.mu.Lock()
	if limited && !r.st.LastAttempt.IsZero() && now.Sub(r.st.LastAttempt) < r.o.MinRefetchInterval {
		r.mu.Unlock()
		return errRateLimited
	}
	r.st.LastAttempt = now
	r.st.Fetches++
	r.mu.Unlock()

	ks, err := r.fetch(ctx)

	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.st.LastError = err.Error()
		r.o.Logger.Warn("jose: key set refresh failed", "url", r.o.JWKSURL+r.o.DiscoveryURL, "err", err)
		return err
	}
	r.cur.Store(ks)
	r.st.LastSuccess = now
	r.st.LastError = ""
	return nil
}

// Run refreshes immediately, then every RefreshInterval (MinRefetchInterval
// after a failure), until ctx is done.
func (r *RemoteKeySet) Run(ctx context.Context) {
	for {
		wait := r.o.RefreshInterval
		if err := r.Refresh(ctx); err != nil {
			wait = r.o.MinRefetchInterval
		}
		select {
		case <-ctx.Done():
			return
		case <-r.o.After(wait):
		}
	}
}

func (r *RemoteKeySet) fetch(ctx context.Context) (*KeySet, error) {
	ctx, cancel := context.WithTimeout(ctx, r.o.FetchTimeout)
	defer cancel()
	jwksURL := r.o.JWKSURL
	if r.o.DiscoveryURL != "" {
		body, err := r.get(ctx, r.o.DiscoveryURL)
		if err != nil {
			return nil, fmt.Errorf("discovery: %w", err)
		}
		doc, err := decodeStrictObject(body, nil, maxJSONDepth)
		if err != nil {
			return nil, fmt.Errorf("discovery: %w", err)
		}
		if iss, _ := doc["issuer"].(string); iss != r.o.Issuer {
			return nil, errors.New("discovery: issuer does not match")
		}
		u, _ := doc["jwks_uri"].(string)
		if err := checkURL(u, r.o.AllowHTTP); err != nil {
			return nil, fmt.Errorf("discovery: jwks_uri: %w", err)
		}
		jwksURL = u
	}
	body, err := r.get(ctx, jwksURL)
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	return ParseJWKS(body)
}

func (r *RemoteKeySet) get(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := r.o.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	if resp.ContentLength > r.o.MaxBodySize {
		return nil, errors.New("body too large")
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, r.o.MaxBodySize+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > r.o.MaxBodySize {
		return nil, errors.New("body too large")
	}
	return body, nil
}
