package verify

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/typeauth/typeauth/internal/auth"
	"github.com/typeauth/typeauth/internal/jose"
)

// MintRequest asks for a token in exchange for a key.
type MintRequest struct {
	// Key is the API key being exchanged; or KeyID names it when a root key
	// (checked by the caller) exchanges on its behalf.
	Key   string
	KeyID string
	// TTL requested (0: the app's maximum).
	TTL time.Duration
	// Audience requested ("": the app id).
	Audience string
	IP       netip.Addr
	// CreditCost is taken from the key's credits (default 1 when not set).
	CreditCost    int64
	CreditCostSet bool
	// Charged says the caller verified and charged this key for the same
	// request already: the key is checked (enabled, expiry, app, IP) but no
	// credits or rate limits are spent or applied again.
	Charged bool
}

// MintResult is an issued token, or the decision that refused the key.
type MintResult struct {
	Decision  Decision
	Token     string // "" when the decision is not VALID
	ExpiresIn time.Duration
	ExpiresAt time.Time
	KID       string
	JTI       string
}

// ErrMasterKeyMissing is why tokens cannot be issued without a master key.
var ErrMasterKeyMissing = auth.Errorf(auth.ErrUnavailable, "master_key_missing",
	"token issuing is off: no master key. Set TYPEAUTH_MASTER_KEY (32 random bytes, standard base64, e.g. `openssl rand -base64 32`) or TYPEAUTH_MASTER_KEY_FILE, or run with --dev-master-key for local development")

// Mint verifies the key like a verify (disabled, expired, IP, rate limits
// and credits apply) and, when it is VALID, issues an RFC 9068 access token
// for it. An error means no token could be issued (master key missing, no
// signing key, store down, bad audience); a refused key is a Decision.
func (v *Verifier) Mint(ctx context.Context, m *MintRequest) (MintResult, error) {
	t := v.tok
	if t == nil || t.o.MasterKey == nil {
		return MintResult{}, ErrMasterKeyMissing
	}
	now := v.opt.Now()
	kid, sk := t.ring.Load().signer(now)
	if sk == nil {
		if kid != nil || t.ring.Load().openErr != nil {
			return MintResult{}, auth.Errorf(auth.ErrUnavailable, "signing_key_unusable",
				"the active signing key cannot be opened with this master key: rotate the signing keys (POST /v1/signing-keys/rotate with immediate true) or restore the master key")
		}
		return MintResult{}, auth.Errorf(auth.ErrUnavailable, "no_signing_key", "no signing key is active yet: retry shortly")
	}
	cost := int64(1)
	if m.CreditCostSet {
		cost = m.CreditCost
	}
	r := &Request{Key: m.Key, IP: m.IP, CreditCost: cost}
	if m.Charged {
		r.CreditCost, r.skipLimits = 0, true
	}
	var d Decision
	var err error
	if m.KeyID != "" {
		var e *entry
		if e, err = v.keyByID(ctx, m.KeyID, now); err != nil {
			return MintResult{}, err
		}
		if e.key == nil {
			return MintResult{Decision: Decision{Code: auth.CodeNotFound}}, nil
		}
		d, err = v.decide(ctx, e, r, now, &e.perms)
	} else {
		if !isKeyShaped(m.Key) {
			return MintResult{Decision: Decision{Code: auth.CodeMalformed, Reason: "an API key is required"}}, nil
		}
		d, err = v.Verify(ctx, r)
	}
	if err != nil || !d.Valid() {
		return MintResult{Decision: d}, err
	}
	k := d.Key
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), v.opt.StoreTimeout)
	settings, err := t.o.Store.TokenSettings(sctx, k.AppID)
	cancel()
	if err != nil {
		if errors.Is(err, auth.ErrNotFound) {
			return MintResult{Decision: Decision{Code: auth.CodeNotFound}}, nil
		}
		return MintResult{}, err
	}
	aud := k.AppID
	if m.Audience != "" && m.Audience != k.AppID {
		if !slices.Contains(settings.Audiences, m.Audience) {
			return MintResult{}, auth.Errorf(auth.ErrInvalid, "audience_not_allowed",
				"audience must be the app id or one of the app's token_audiences")
		}
		aud = m.Audience
	}
	ttl := min(settings.TTL(), t.o.MaxTTL)
	if m.TTL > 0 && m.TTL < ttl {
		ttl = m.TTL
	}
	// Whole seconds from iat, as the claims carry them; never after the
	// key's own expiry.
	iat := now.Unix()
	expSec := iat + int64(ttl/time.Second)
	if k.ExpiresAt != nil && k.ExpiresAt.Unix() < expSec {
		expSec = k.ExpiresAt.Unix()
	}
	if expSec <= iat {
		return MintResult{Decision: Decision{Code: auth.CodeExpired, Key: k, Reason: "the key expires within a second"}}, nil
	}
	var jb [16]byte
	_, _ = rand.Read(jb[:])
	jti := base64.RawURLEncoding.EncodeToString(jb[:])
	sub := k.OwnerID
	if sub == "" {
		sub = k.ID
	}
	claims := map[string]any{
		"iss": t.o.Issuer, "sub": sub, "aud": aud, "exp": expSec, "iat": iat, "jti": jti,
		"client_id": k.ID, "app_id": k.AppID,
	}
	if len(d.Permissions) > 0 {
		claims["scope"] = strings.Join(d.Permissions, " ")
	}
	if d.Identity != nil {
		claims["identity_id"] = d.Identity.ID
	}
	if meta := metaClaims(k.Meta, settings.MetaClaims); meta != nil {
		claims["meta"] = meta
	}
	tok, err := jose.Sign(claims, sk)
	if err != nil {
		return MintResult{}, auth.Errorf(auth.ErrInvalid, "token_refused", "the token cannot be built from this key's data: "+err.Error())
	}
	return MintResult{Decision: d, Token: tok, ExpiresIn: time.Duration(expSec-iat) * time.Second,
		ExpiresAt: time.Unix(expSec, 0).UTC(), KID: sk.KID(), JTI: jti}, nil
}

// isKeyShaped is a cheap check that the credential is not a token.
func isKeyShaped(s string) bool { return s != "" && !LooksLikeJWT(s) }

// metaClaims copies the named fields of a key's meta.
func metaClaims(meta json.RawMessage, names []string) map[string]json.RawMessage {
	if len(meta) == 0 || len(names) == 0 {
		return nil
	}
	var all map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(meta))
	if err := dec.Decode(&all); err != nil {
		return nil
	}
	out := make(map[string]json.RawMessage)
	for _, n := range names {
		if v, ok := all[n]; ok {
			out[n] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
