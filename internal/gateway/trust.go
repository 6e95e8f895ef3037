package gateway

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"time"

	"github.com/typeauth/typeauth/internal/auth"
)

// KeyAuth checks the verify-scoped root key a gateway sends to prove it is
// trusted (X-TypeAuth-Gateway-Key, or gRPC metadata of the same name). Answers
// are remembered for TTL, so the hot path does not read the store on every
// call: a revoked gateway key stops working within TTL. At most max answers
// are kept; the memory is dropped when full.
type KeyAuth struct {
	authenticate func(ctx context.Context, secret string) (*auth.RootKey, error)
	ttl          time.Duration
	max          int
	now          func() time.Time

	mu sync.Mutex
	m  map[[32]byte]keyAuthEntry
}

type keyAuthEntry struct {
	ok  bool
	exp time.Time
}

// NewKeyAuth returns a KeyAuth over a root key lookup (manage.Service.Authenticate).
func NewKeyAuth(authenticate func(ctx context.Context, secret string) (*auth.RootKey, error), ttl time.Duration) *KeyAuth {
	if ttl <= 0 {
		ttl = time.Second
	}
	return &KeyAuth{authenticate: authenticate, ttl: ttl, max: 4096, now: time.Now, m: map[[32]byte]keyAuthEntry{}}
}

// ErrGatewayKey is the answer for a missing, unknown, revoked or
// insufficiently scoped gateway key.
var ErrGatewayKey = auth.Errorf(auth.ErrUnauthorized, "gateway_key_required",
	"this data plane requires a verify-scoped root key in "+HeaderGatewayKey)

// Check returns nil when secret is a root key with the verify scope,
// ErrGatewayKey when it is not, and an ErrUnavailable error when the store
// cannot say.
func (k *KeyAuth) Check(ctx context.Context, secret string) error {
	if secret == "" || len(secret) > 512 {
		return ErrGatewayKey
	}
	h := sha256.Sum256([]byte(secret))
	now := k.now()
	k.mu.Lock()
	e, hit := k.m[h]
	k.mu.Unlock()
	if hit && now.Before(e.exp) {
		if e.ok {
			return nil
		}
		return ErrGatewayKey
	}
	rk, err := k.authenticate(ctx, secret)
	ok := err == nil && rk.Allows(auth.ScopeVerify, "")
	if err != nil && !errors.Is(err, auth.ErrUnauthorized) {
		return err
	}
	k.mu.Lock()
	if len(k.m) >= k.max {
		clear(k.m)
	}
	k.m[h] = keyAuthEntry{ok: ok, exp: now.Add(k.ttl)}
	k.mu.Unlock()
	if !ok {
		return ErrGatewayKey
	}
	return nil
}
