package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/typeauth/typeauth/internal/auth"
	"github.com/typeauth/typeauth/internal/jose"
)

// The token path: JWTs are verified here, TypeAuth's own (against its
// signing keys, no network) and those of trusted issuers (against their
// remote or inline key sets). An own token stands for the key it was minted
// from: that key must still exist and be enabled, and its jti must not be
// on the deny list. Everything a key verify checks besides the secret (app,
// expiry, IP allow list, rate limits, credits) applies to it too; the
// permission query runs against the token's scopes.

// TokenStore is what the token path reads.
type TokenStore interface {
	auth.TokenReader
	GetKey(ctx context.Context, id string) (*auth.Key, error) // ErrNotFound
}

// TokenOptions enable the token path (see EnableTokens).
type TokenOptions struct {
	Store TokenStore
	// Issuer is the iss of TypeAuth's own tokens (e.g. http://127.0.0.1:8080).
	Issuer string
	// MasterKey opens the sealed signing keys; nil: tokens are verified
	// but not issued (Mint answers master_key_missing).
	MasterKey *[32]byte
	// Leeway for exp, nbf and iat of own tokens (default 30s).
	Leeway time.Duration
	// MaxTTL caps every issued token's lifetime (default 24h).
	MaxTTL time.Duration
	// Refresh is how often signing keys, the jti deny list and trusted
	// issuers are read again from the store (default 5s): changes made on
	// other replicas apply within it.
	Refresh time.Duration
	// HTTPClient fetches trusted issuers' keys (default: 10s timeout).
	HTTPClient *http.Client
	// AllowHTTP lets trusted issuers use http:// URLs (tests only).
	AllowHTTP bool
	// IssuerRefresh and IssuerMinRefetch tune the remote key sets (defaults
	// 15m and 1m).
	IssuerRefresh    time.Duration
	IssuerMinRefetch time.Duration
	Logger           *slog.Logger
}

// TokenInfo describes a verified token.
type TokenInfo struct {
	Issuer    string
	Subject   string // the owner (the owner claim of a trusted issuer)
	ClientID  string // own tokens: the key it was minted from
	Audience  []string
	ID        string // jti
	IssuedAt  time.Time
	ExpiresAt time.Time
	Own       bool   // issued by this TypeAuth
	IssuerID  string // the trusted issuer's id (third-party tokens)
	Claims    map[string]any
}

// LooksLikeJWT reports whether a credential has the shape of a compact JWS
// (three dot-separated segments). API keys never contain a dot.
func LooksLikeJWT(s string) bool {
	return strings.Count(s, ".") == 2 && len(s) > 4
}

type tokens struct {
	o       TokenOptions
	now     func() time.Time
	log     *slog.Logger
	own     *jose.Verifier
	ring    atomic.Pointer[keyRing]
	issuers atomic.Pointer[issuerSet]
	deny    denyList
	byID    idCache

	bg     context.Context
	stop   context.CancelFunc
	reload sync.Mutex // serializes reloads of issuers
}

// keyRing is the signing keys as loaded: what is published and who signs.
type keyRing struct {
	set      *jose.KeySet // published public keys (nil: none)
	jwks     []byte       // the JWK Set document
	keys     []*auth.SigningKey
	private  map[string]*jose.SigningKey // opened private keys by kid
	openErr  error                       // why some key could not be opened
	loadedAt time.Time
}

type trusted struct {
	is     *auth.Issuer
	v      *jose.Verifier
	remote *jose.RemoteKeySet
	cancel context.CancelFunc
}

type issuerSet struct {
	byIss map[string]*trusted
	byID  map[string]*trusted
}

// EnableTokens turns the token path on and loads signing keys, the deny
// list and trusted issuers. Call it once, before the verifier serves; then
// run RunTokens in a goroutine.
func (v *Verifier) EnableTokens(ctx context.Context, o TokenOptions) error {
	if o.Store == nil || o.Issuer == "" {
		return errors.New("verify: tokens need a store and an issuer")
	}
	if o.Leeway <= 0 {
		o.Leeway = 30 * time.Second
	}
	if o.MaxTTL <= 0 {
		o.MaxTTL = 24 * time.Hour
	}
	if o.Refresh <= 0 {
		o.Refresh = 5 * time.Second
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if o.Logger == nil {
		o.Logger = v.opt.Logger
	}
	t := &tokens{o: o, now: v.opt.Now, log: o.Logger}
	t.bg, t.stop = context.WithCancel(context.Background())
	t.issuers.Store(&issuerSet{})
	t.ring.Store(&keyRing{jwks: []byte(`{"keys":[]}`)})
	own, err := jose.NewVerifier(ownResolver{t}, jose.Policy{Issuer: o.Issuer, Algorithms: []jose.Alg{jose.EdDSA, jose.ES256, jose.RS256},
		Types: []string{jose.TypeAccessToken}, Leeway: o.Leeway, RequiredClaims: []string{"jti", "client_id"}, Now: v.opt.Now})
	if err != nil {
		return err
	}
	t.own = own
	v.tok = t
	return errors.Join(v.ReloadSigningKeys(ctx), v.ReloadRevocations(ctx), v.ReloadIssuers(ctx))
}

// RunTokens reloads signing keys, the deny list and trusted issuers every
// Refresh until ctx is done, then stops the issuers' key set refreshes.
func (v *Verifier) RunTokens(ctx context.Context) {
	t := v.tok
	if t == nil {
		return
	}
	defer t.stop()
	tick := time.NewTicker(t.o.Refresh)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for name, fn := range map[string]func(context.Context) error{"signing keys": v.ReloadSigningKeys,
			"revoked tokens": v.ReloadRevocations, "issuers": v.ReloadIssuers} {
			if err := fn(ctx); err != nil && ctx.Err() == nil {
				t.log.Warn("reload "+name, "error", err)
			}
		}
	}
}

// StopTokens stops the trusted issuers' background refreshes (RunTokens
// does it when its context ends).
func (v *Verifier) StopTokens() {
	if v.tok != nil {
		v.tok.stop()
	}
}

func (t *tokens) storeCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
}

// ReloadSigningKeys reads the signing keys again (management calls it after
// a rotation on this node).
func (v *Verifier) ReloadSigningKeys(ctx context.Context) error {
	t := v.tok
	if t == nil {
		return nil
	}
	sctx, cancel := t.storeCtx(ctx)
	defer cancel()
	keys, err := t.o.Store.SigningKeys(sctx)
	if err != nil {
		return fmt.Errorf("load signing keys: %w", err)
	}
	now := t.now()
	prev := t.ring.Load()
	r := &keyRing{keys: keys, private: make(map[string]*jose.SigningKey), loadedAt: now}
	var pubs []*jose.PublicKey
	for _, k := range keys {
		if !k.Published(now) {
			continue
		}
		pub, err := jose.ParseJWKS([]byte(`{"keys":[` + string(k.PublicJWK) + `]}`))
		if err != nil || pub.Len() != 1 {
			t.log.Error("signing key: stored public JWK is unusable", "kid", k.KID)
			continue
		}
		pubs = append(pubs, pub.Keys()[0])
		if t.o.MasterKey == nil || k.Phase(now) == auth.PhaseRetired {
			continue
		}
		if sk, ok := prev.private[k.KID]; ok {
			r.private[k.KID] = sk
			continue
		}
		sk, err := jose.OpenSigningKey(*t.o.MasterKey, k.KID, k.Sealed)
		if err != nil {
			r.openErr = fmt.Errorf("signing key %s: %w", k.KID, err)
			t.log.Error("signing key cannot be opened with this master key: tokens cannot be issued until a key is rotated", "kid", k.KID)
			continue
		}
		r.private[k.KID] = sk
	}
	if len(pubs) > 0 {
		set, err := jose.NewKeySet(pubs...)
		if err != nil {
			return fmt.Errorf("signing keys: %w", err)
		}
		r.set = set
		if r.jwks, err = json.Marshal(set); err != nil {
			return err
		}
	} else {
		r.jwks = []byte(`{"keys":[]}`)
	}
	t.ring.Store(r)
	return nil
}

// ReloadRevocations reads the jti deny list again.
func (v *Verifier) ReloadRevocations(ctx context.Context) error {
	t := v.tok
	if t == nil {
		return nil
	}
	sctx, cancel := t.storeCtx(ctx)
	defer cancel()
	now := t.now()
	list, err := t.o.Store.RevokedTokens(sctx, now)
	if err != nil {
		return fmt.Errorf("load revoked tokens: %w", err)
	}
	m := make(map[string]time.Time, len(list))
	for _, r := range list {
		m[r.JTI] = r.ExpiresAt
	}
	t.deny.replace(m, now)
	return nil
}

// RevokeToken puts a jti on this node's deny list at once (management
// stores it; other replicas load it within Refresh).
func (v *Verifier) RevokeToken(jti string, exp time.Time) {
	if v.tok != nil {
		v.tok.deny.add(jti, exp)
	}
}

// ReloadIssuers reads the trusted issuers again: new ones start fetching
// their keys, changed ones are rebuilt, deleted ones stop.
func (v *Verifier) ReloadIssuers(ctx context.Context) error {
	t := v.tok
	if t == nil {
		return nil
	}
	t.reload.Lock()
	defer t.reload.Unlock()
	sctx, cancel := t.storeCtx(ctx)
	defer cancel()
	list, err := t.o.Store.Issuers(sctx)
	if err != nil {
		return fmt.Errorf("load issuers: %w", err)
	}
	old := t.issuers.Load()
	next := &issuerSet{byIss: make(map[string]*trusted, len(list)), byID: make(map[string]*trusted, len(list))}
	for _, is := range list {
		if cur := old.byID[is.ID]; cur != nil && cur.is.UpdatedAt.Equal(is.UpdatedAt) && cur.is.Issuer == is.Issuer {
			next.byIss[is.Issuer], next.byID[is.ID] = cur, cur
			continue
		}
		tr, err := t.build(is)
		if err != nil {
			t.log.Error("trusted issuer is unusable and is skipped", "id", is.ID, "issuer", is.Issuer, "error", err)
			continue
		}
		next.byIss[is.Issuer], next.byID[is.ID] = tr, tr
	}
	t.issuers.Store(next)
	for id, tr := range old.byID {
		if next.byID[id] != tr && tr.cancel != nil {
			tr.cancel()
		}
	}
	return nil
}

// IssuerStatus reports the key set state of a trusted issuer (ok false if
// this node does not serve it).
func (v *Verifier) IssuerStatus(id string) (st jose.RemoteStatus, remote, ok bool) {
	if v.tok == nil {
		return st, false, false
	}
	tr := v.tok.issuers.Load().byID[id]
	if tr == nil {
		return st, false, false
	}
	if tr.remote == nil {
		return st, false, true
	}
	return tr.remote.Status(), true, true
}

func (t *tokens) build(is *auth.Issuer) (*trusted, error) {
	algs := make([]jose.Alg, len(is.Algorithms))
	for i, a := range is.Algorithms {
		algs[i] = jose.Alg(a)
	}
	leeway := is.Leeway
	if leeway == 0 {
		leeway = jose.NoLeeway
	}
	p := jose.Policy{Issuer: is.Issuer, Algorithms: algs, Audiences: is.Audiences, RequiredClaims: is.RequiredClaims,
		Leeway: leeway, Now: t.now}
	tr := &trusted{is: is}
	var res jose.KeyResolver
	if len(is.JWKS) > 0 {
		set, err := jose.ParseJWKS(is.JWKS)
		if err != nil {
			return nil, err
		}
		res = set
	} else {
		rs, err := jose.NewRemoteKeySet(jose.RemoteOptions{Client: t.o.HTTPClient, JWKSURL: is.JWKSURL, DiscoveryURL: is.DiscoveryURL,
			Issuer: is.Issuer, RefreshInterval: t.o.IssuerRefresh, MinRefetchInterval: t.o.IssuerMinRefetch,
			AllowHTTP: t.o.AllowHTTP, Now: t.now, Logger: t.log})
		if err != nil {
			return nil, err
		}
		tr.remote, res = rs, rs
	}
	v, err := jose.NewVerifier(res, p)
	if err != nil {
		return nil, err
	}
	tr.v = v
	if tr.remote != nil {
		ctx, cancel := context.WithCancel(t.bg)
		tr.cancel = cancel
		go tr.remote.Run(ctx)
	}
	return tr, nil
}

type ownResolver struct{ t *tokens }

func (r ownResolver) ResolveKey(ctx context.Context, kid string, alg jose.Alg) (*jose.PublicKey, error) {
	ring := r.t.ring.Load()
	if ring.set == nil {
		return nil, jose.ErrKeyNotFound
	}
	return ring.set.ResolveKey(ctx, kid, alg)
}

// JWKS returns TypeAuth's published JWK Set document.
func (v *Verifier) JWKS() []byte {
	if v.tok == nil {
		return []byte(`{"keys":[]}`)
	}
	return v.tok.ring.Load().jwks
}

// TokenIssuer returns the iss of own tokens ("" when tokens are off).
func (v *Verifier) TokenIssuer() string {
	if v.tok == nil {
		return ""
	}
	return v.tok.o.Issuer
}

// verdict turns a jose error into a decision, or an error when the verifier
// could not decide (fail closed).
func verdict(err error) (Decision, error) {
	if c := jose.CodeOf(err); c != "" {
		var je *jose.Error
		errors.As(err, &je)
		return Decision{Code: auth.Code(c), Reason: je.Reason}, nil
	}
	if errors.Is(err, jose.ErrUnavailable) {
		return Decision{}, auth.Errorf(auth.ErrUnavailable, "issuer_unavailable",
			"the keys of the token's issuer could not be fetched yet: retry later")
	}
	return Decision{}, fmt.Errorf("token: %w", err)
}

func (v *Verifier) verifyToken(ctx context.Context, r *Request, token string) (Decision, error) {
	t := v.tok
	if t == nil {
		return Decision{Code: auth.CodeMalformed, Reason: "token verification is not enabled"}, nil
	}
	var tr *trusted
	if is := t.issuers.Load(); len(is.byIss) > 0 {
		ut, err := jose.ParseUnverified(token)
		if err != nil {
			return verdict(err)
		}
		if ut.Claims.Issuer != t.o.Issuer {
			if tr = is.byIss[ut.Claims.Issuer]; tr == nil {
				return Decision{Code: auth.CodeInvalidClaims, Reason: "unknown issuer"}, nil
			}
		}
	}
	if tr != nil {
		if r.Token == "" {
			// A JWT passed as a key comes from a door that expects a key
			// in every VALID answer (Decision.Key); a third-party token
			// has none. Such doors must pass it as Request.Token.
			return Decision{Code: auth.CodeInvalidClaims, Reason: "a third-party token must be sent as token, not as key"}, nil
		}
		return v.verifyThirdParty(ctx, r, token, tr)
	}
	jt, err := t.own.Verify(ctx, token)
	if err != nil {
		return verdict(err)
	}
	now := v.opt.Now()
	c := &jt.Claims
	info := &TokenInfo{Issuer: c.Issuer, Subject: c.Subject, Audience: c.Audience, ID: c.ID, IssuedAt: c.IssuedAt,
		ExpiresAt: c.ExpiresAt, Own: true, Claims: c.Raw}
	info.ClientID, _ = c.Raw["client_id"].(string)
	if info.ClientID == "" || info.ID == "" {
		return Decision{Code: auth.CodeInvalidClaims, Reason: "client_id and jti are required"}, nil
	}
	if t.deny.has(info.ID, now) {
		return Decision{Code: auth.CodeDisabled, Reason: "the token was revoked", Token: info}, nil
	}
	e, err := v.keyByID(ctx, info.ClientID, now)
	if err != nil {
		return Decision{}, err
	}
	if e.key == nil {
		return Decision{Code: auth.CodeNotFound, Reason: "the key this token was issued for was revoked", Token: info}, nil
	}
	perms := newPermSet(scopes(c.Raw["scope"]), v.opt.PermissionWildcards)
	d, err := v.decide(ctx, e, r, now, &perms)
	if err != nil {
		return d, err
	}
	d.Token = info
	return d, nil
}

func (v *Verifier) verifyThirdParty(ctx context.Context, r *Request, token string, tr *trusted) (Decision, error) {
	jt, err := tr.v.Verify(ctx, token)
	if err != nil {
		return verdict(err)
	}
	now := v.opt.Now()
	c := &jt.Claims
	info := &TokenInfo{Issuer: c.Issuer, Subject: c.Subject, Audience: c.Audience, ID: c.ID, IssuedAt: c.IssuedAt,
		ExpiresAt: c.ExpiresAt, IssuerID: tr.is.ID, Claims: c.Raw}
	if tr.is.OwnerClaim != "" && tr.is.OwnerClaim != "sub" {
		owner, ok := c.Raw[tr.is.OwnerClaim].(string)
		if !ok {
			return Decision{Code: auth.CodeInvalidClaims, Reason: "the owner claim is missing or not a string"}, nil
		}
		info.Subject = owner
	}
	if info.ID != "" && v.tok.deny.has(info.ID, now) {
		return Decision{Code: auth.CodeDisabled, Reason: "the token was revoked", Token: info}, nil
	}
	if r.AppID != "" {
		// No key, hence no app: narrowing to an app refuses it, as a key
		// of another app is refused (never ignored).
		return Decision{Code: auth.CodeForbidden, Reason: "a third-party token belongs to no app"}, nil
	}
	pc := tr.is.PermissionsClaim
	if pc == "" {
		pc = "scope"
	}
	perms := newPermSet(scopes(c.Raw[pc]), v.opt.PermissionWildcards)
	d := Decision{Permissions: perms.list, Token: info}
	if r.Permissions != "" {
		q, err := v.queries.parse(r.Permissions)
		if err != nil {
			return Decision{}, err
		}
		if !q.Eval(perms.has) {
			d.Code, d.Missing, d.Reason = auth.CodeInsufficientPermissions, q.Missing(perms.has), "missing permissions"
			return d, nil
		}
	}
	if len(r.RateLimits) > 0 {
		// Ad-hoc limits (limit and duration given) apply per subject of
		// the issuer; a named stored limit does not exist for a token.
		e := &entry{key: &auth.Key{ID: "tok:" + tr.is.ID + ":" + info.Subject}}
		e.tag = "{" + e.key.ID + "}"
		if denied, err := v.applyLimits(ctx, e, r, now, &d); err != nil || denied {
			return d, err
		}
	}
	d.Code = auth.CodeValid
	return d, nil
}

// scopes reads a permissions claim: a space-separated string (OAuth scope)
// or an array of strings. Anything else grants nothing.
func scopes(v any) []string {
	switch x := v.(type) {
	case string:
		return strings.Fields(x)
	case []any:
		out := make([]string, 0, len(x))
		for _, s := range x {
			if s, ok := s.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// ---- the jti deny list ----

type denyList struct {
	mu     sync.RWMutex
	loaded map[string]time.Time // from the store
	local  map[string]time.Time // revoked on this node, kept until exp
}

func (d *denyList) has(jti string, now time.Time) bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if exp, ok := d.loaded[jti]; ok && now.Before(exp) {
		return true
	}
	exp, ok := d.local[jti]
	return ok && now.Before(exp)
}

func (d *denyList) replace(m map[string]time.Time, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.loaded = m
	for jti, exp := range d.local {
		if !now.Before(exp) {
			delete(d.local, jti)
		}
	}
}

func (d *denyList) add(jti string, exp time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.local == nil {
		d.local = make(map[string]time.Time)
	}
	if cur, ok := d.local[jti]; !ok || exp.After(cur) {
		d.local[jti] = exp
	}
}

// ---- keys by id, for own tokens ----

// idCache holds keys looked up by id (the client_id of own tokens), resolved
// like the secret cache. Invalidations by management apply at once.
type idCache struct {
	mu  sync.Mutex
	gen uint64
	m   map[string]*entry
}

const maxIDEntries = 100_000

func (c *idCache) get(id string) *entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[id]
}

func (c *idCache) put(id string, e *entry, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if c.m == nil || len(c.m) >= maxIDEntries {
		c.m = make(map[string]*entry)
	}
	c.m[id] = e
}

func (c *idCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// invalidate drops one key ("" drops all).
func (c *idCache) invalidate(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if id == "" {
		clear(c.m)
		return
	}
	delete(c.m, id)
}

// keyByID returns the resolved entry of a key by id (e.key nil: no such
// key), from the cache or the store.
func (v *Verifier) keyByID(ctx context.Context, id string, now time.Time) (*entry, error) {
	c := &v.tok.byID
	if e := c.get(id); e != nil {
		ttl := v.opt.PositiveTTL
		if e.key == nil {
			ttl = v.opt.NegativeTTL
		}
		if now.Sub(e.loadedAt) < ttl {
			return e, nil
		}
	}
	gen := c.generation()
	ch := v.flight.DoChan(fmt.Sprintf("id\x00%s\x00%d", id, gen), func() (any, error) {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), v.opt.StoreTimeout)
		defer cancel()
		k, err := v.tok.o.Store.GetKey(lctx, id)
		e := &entry{loadedAt: now, secret: &auth.Secret{}}
		switch {
		case errors.Is(err, auth.ErrNotFound):
		case err != nil:
			return nil, fmt.Errorf("load key by id: %w", err)
		default:
			e.key = k
			if err := v.resolve(lctx, e); err != nil {
				return nil, err
			}
		}
		c.put(id, e, gen)
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

// signer returns the key that signs at now: the live key with the latest
// activation at or before now that is not retired.
func (r *keyRing) signer(now time.Time) (*auth.SigningKey, *jose.SigningKey) {
	var best *auth.SigningKey
	for _, k := range r.keys {
		if k.Phase(now) != auth.PhaseActive {
			continue
		}
		if best == nil || k.ActivateAt.After(best.ActivateAt) {
			best = k
		}
	}
	if best == nil {
		return nil, nil
	}
	return best, r.private[best.KID]
}

// SupportedAlgs lists the algorithms of own tokens, for discovery.
func SupportedAlgs() []string {
	return slices.Clone([]string{string(jose.EdDSA), string(jose.ES256), string(jose.RS256)})
}
