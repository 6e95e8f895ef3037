package gateway

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/typeauth/typeauth/internal/auth"
	"github.com/typeauth/typeauth/internal/verify"
)

// upstreamToken is a rule's instruction to mint a token for the upstream.
type upstreamToken struct {
	header   string // canonical; "Authorization" carries "Bearer <token>"
	ttl      time.Duration
	audience string
}

// maxMinted bounds the cache of minted upstream tokens.
const maxMinted = 10_000

// mintCache reuses a minted token while more than half its lifetime is
// left, so a busy key costs one signature per ttl/2, not one per request.
// An entry is tied to the exact cached key it was minted from: any change
// to the key, its roles or its identity reloads the key, and the next
// request mints afresh.
type mintCache struct {
	mu sync.Mutex
	m  map[string]minted
}

type minted struct {
	key   *auth.Key
	token string
	exp   time.Time
	ttl   time.Duration
}

func (c *mintCache) get(id string, k *auth.Key, now time.Time) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[id]
	if !ok || e.key != k || e.exp.Sub(now) < e.ttl/2 {
		return "", false
	}
	return e.token, true
}

func (c *mintCache) put(id string, e minted) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxMinted {
		c.m = make(map[string]minted)
	}
	c.m[id] = e
}

// upstreamTokenHeader mints (or reuses) the token a rule sends upstream for
// an allowed key. The key was verified and charged already: minting spends
// nothing more. An error means no token could be issued (no master key,
// store down): the door must fail closed, never forward without it.
func (d *Decider) upstreamTokenHeader(ctx context.Context, ut *upstreamToken, k *auth.Key, ip verify.Request, now time.Time) ([2]string, error) {
	id := k.ID + "\x00" + ut.audience + "\x00" + strconv.FormatInt(int64(ut.ttl), 10)
	tok, ok := d.minted.get(id, k, now)
	if !ok {
		res, err := d.verifier.Mint(ctx, &verify.MintRequest{KeyID: k.ID, TTL: ut.ttl, Audience: ut.audience, IP: ip.IP,
			Charged: true})
		if err != nil {
			return [2]string{}, err
		}
		if res.Token == "" {
			// The key changed between the verify and the mint (revoked,
			// disabled): refuse rather than forward without a token.
			return [2]string{}, auth.Errorf(auth.ErrUnavailable, "upstream_token_refused", "the key could not be exchanged for a token: "+string(res.Decision.Code))
		}
		tok = res.Token
		d.minted.put(id, minted{key: k, token: tok, exp: res.ExpiresAt, ttl: res.ExpiresIn})
	}
	if ut.header == "Authorization" {
		return [2]string{ut.header, "Bearer " + tok}, nil
	}
	return [2]string{ut.header, tok}, nil
}
