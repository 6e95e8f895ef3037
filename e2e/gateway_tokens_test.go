package e2e

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/typeauth/typeauth/client"
	"github.com/typeauth/typeauth/internal/jose"
)

// tokenVectors are the JWT vectors of the shared door table: TypeAuth's own
// tokens and those of a trusted third-party issuer (a local httptest issuer
// registered with a static inline JWKS).
type tokenVectors struct {
	own, ownBadSig, ownNone            string
	tp, tpExpired, tpNoPerm, tpUnknown string
	iss                                string
}

func newTokenVectors(t *testing.T, p *proc, keySecret string) *tokenVectors {
	t.Helper()
	tv := &tokenVectors{}
	st, own := exchange(t, p, keySecret, map[string]any{"ttl_seconds": 600})
	must(t, st == 200 && own.AccessToken != "", "exchange: %d %+v", st, own)
	tv.own = own.AccessToken
	parts := strings.Split(tv.own, ".")
	sig := []byte(parts[2])
	i := len(sig) / 2
	if sig[i] == 'A' {
		sig[i] = 'B'
	} else {
		sig[i] = 'A'
	}
	tv.ownBadSig = parts[0] + "." + parts[1] + "." + string(sig)
	b64 := base64.RawURLEncoding.EncodeToString
	tv.ownNone = b64([]byte(`{"alg":"none","typ":"at+jwt"}`)) + "." + parts[1] + "."

	li := newLocalIssuer(t)
	tv.iss = li.srv.URL
	set, err := jose.NewKeySet(li.keys[0].Public())
	must(t, err == nil, "key set: %v", err)
	jwks, _ := json.Marshal(set)
	st, _ = call(t, "POST", p.Admin+"/v1/issuers", p.RootKey, map[string]any{"name": "doors idp", "issuer": li.srv.URL,
		"jwks": json.RawMessage(jwks), "algorithms": []string{"EdDSA"}, "audiences": []string{"orders-api"}}, nil)
	must(t, st == 201, "create issuer: %d", st)
	sign := func(claims map[string]any) string {
		tok, err := jose.Sign(claims, li.keys[0])
		must(t, err == nil, "sign: %v", err)
		return tok
	}
	now := time.Now()
	tv.tp = sign(map[string]any{"iss": li.srv.URL, "sub": "ext_user", "aud": "orders-api", "scope": "orders.read orders.write",
		"exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "jti": "tp-1"})
	tv.tpExpired = sign(map[string]any{"iss": li.srv.URL, "sub": "ext_user", "aud": "orders-api", "scope": "orders.read",
		"exp": now.Add(-time.Hour).Unix(), "iat": now.Add(-2 * time.Hour).Unix()})
	tv.tpNoPerm = sign(map[string]any{"iss": li.srv.URL, "sub": "ext_user", "aud": "orders-api", "scope": "billing.read",
		"exp": now.Add(time.Hour).Unix(), "iat": now.Unix()})
	_, other, _ := ed25519.GenerateKey(nil)
	ok, _ := jose.NewSigningKey(other)
	tok, _ := jose.Sign(map[string]any{"iss": "https://stranger.example", "sub": "x", "exp": now.Add(time.Hour).Unix()}, ok)
	tv.tpUnknown = tok
	return tv
}

func (tv *tokenVectors) vectors(bearer func(string) map[string]string, ordersUp map[string]string, appID string) []doorVector {
	return []doorVector{
		{name: "own token", method: "GET", path: "/orders/1", hdr: bearer(tv.own), status: 200, code: "VALID", upstream: ordersUp,
			removeHdr: []string{"authorization"}},
		{name: "own token, any-issuer rule", method: "GET", path: "/tp/1", hdr: bearer(tv.own), status: 200, code: "VALID",
			upstream: map[string]string{"X-TypeAuth-Key-Id": ordersUp["X-TypeAuth-Key-Id"], "X-TypeAuth-App-Id": appID, "X-TypeAuth-Meta-Plan": "pro"},
			absent:   []string{"X-TypeAuth-Issuer"}},
		{name: "own token, multi app", method: "GET", path: "/multi/x", hdr: bearer(tv.own), status: 200, code: "VALID",
			upstream: map[string]string{"X-TypeAuth-App-Id": appID}},
		{name: "own token, bad signature", method: "GET", path: "/orders/1", hdr: bearer(tv.ownBadSig), status: 401, code: "INVALID_SIGNATURE"},
		{name: "own token, alg none", method: "GET", path: "/orders/1", hdr: bearer(tv.ownNone), status: 401, code: "INVALID_SIGNATURE"},
		{name: "third-party token", method: "GET", path: "/tp/1", hdr: bearer(tv.tp), status: 200, code: "VALID",
			upstream: map[string]string{"X-TypeAuth-Owner-Id": "ext_user", "X-TypeAuth-Permissions": "orders.read orders.write",
				"X-TypeAuth-Issuer": tv.iss, "X-TypeAuth-Expires-At": time.Unix(tv.expOf(tv.tp), 0).UTC().Format(time.RFC3339)},
			absent: []string{"X-TypeAuth-Key-Id", "X-TypeAuth-App-Id", "X-TypeAuth-Meta-Plan", "X-TypeAuth-Credits-Remaining"}},
		{name: "third-party token, default rule headers", method: "GET", host: "api.example.com", path: "/h", hdr: bearer(tv.tp), status: 200, code: "VALID",
			upstream: map[string]string{"X-TypeAuth-Owner-Id": "ext_user", "X-TypeAuth-Issuer": tv.iss},
			absent:   []string{"X-TypeAuth-Key-Id", "X-TypeAuth-App-Id", "X-TypeAuth-Credits-Remaining"}},
		{name: "third-party token, missing permission", method: "GET", path: "/tp/1", hdr: bearer(tv.tpNoPerm), status: 403, code: "INSUFFICIENT_PERMISSIONS"},
		{name: "third-party token, rule with apps", method: "GET", path: "/orders/1", hdr: bearer(tv.tp), status: 403, code: "FORBIDDEN"},
		{name: "third-party token, multi app", method: "GET", path: "/multi/x", hdr: bearer(tv.tp), status: 403, code: "FORBIDDEN"},
		{name: "third-party token, expired", method: "GET", path: "/tp/1", hdr: bearer(tv.tpExpired), status: 401, code: "EXPIRED"},
		{name: "third-party token, expired, rule with apps", method: "GET", path: "/orders/1", hdr: bearer(tv.tpExpired), status: 401, code: "EXPIRED"},
		{name: "token of an unknown issuer", method: "GET", path: "/tp/1", hdr: bearer(tv.tpUnknown), status: 401, code: "INVALID_CLAIMS"},
		{name: "JWT-shaped garbage", method: "GET", path: "/tp/1", hdr: bearer("a.b.c"), status: 401, code: "MALFORMED"},
	}
}

// expOf reads a token's exp without verifying it.
func (tv *tokenVectors) expOf(tok string) int64 {
	b, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	var c struct{ Exp json.Number }
	json.Unmarshal(b, &c)
	n, _ := strconv.ParseInt(c.Exp.String(), 10, 64)
	return n
}

// TestGatewayTokensIntrospectRevokeCache: RFC 7662 introspection of own and
// third-party JWTs, RFC 7009 revocation of an own JWT (its jti, never its
// key), and the forward-auth cache hint capped by the token's exp.
func TestGatewayTokensIntrospectRevokeCache(t *testing.T) {
	p := start(t, serveOpts{args: []string{"--dev-master-key", "--issuers-allow-http", "--authorize-cache-max-age", "1h"}})
	app := createApp(t, p, "A", "tokgw")
	k := createKey(t, p, client.CreateKeyRequest{AppID: app.ID, OwnerID: "user_9", Permissions: []string{"b.read", "a.write"}})
	verifyRK := rootKey(t, p, "verify")
	intro := p.Data + "/oauth2/introspect"
	introspect := func(tok string) map[string]any {
		t.Helper()
		st, out := form(t, intro, "Bearer "+verifyRK, url.Values{"token": {tok}})
		must(t, st == 200, "introspect: %d %v", st, out)
		return out
	}

	st, own := exchange(t, p, k.Secret, map[string]any{"ttl_seconds": 120})
	must(t, st == 200, "exchange: %d", st)
	tv := newTokenVectors(t, p, k.Secret)
	claims := func(tok string) map[string]any {
		b, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
		var c map[string]any
		json.Unmarshal(b, &c)
		return c
	}

	t.Run("introspect own token", func(t *testing.T) {
		out := introspect(own.AccessToken)
		c := claims(own.AccessToken)
		must(t, out["active"] == true && out["sub"] == "user_9" && out["client_id"] == k.ID && out["scope"] == "a.write b.read", "%v", out)
		must(t, out["token_type"] == "Bearer" && out["iss"] == p.Data && out["jti"] == c["jti"] && out["exp"] == c["exp"] && out["iat"] == c["iat"], "%v vs %v", out, c)
		must(t, out["app_id"] == app.ID, "app_id %v", out["app_id"])
	})
	t.Run("introspect third-party token", func(t *testing.T) {
		out := introspect(tv.tp)
		c := claims(tv.tp)
		must(t, out["active"] == true && out["sub"] == "ext_user" && out["scope"] == "orders.read orders.write" && out["iss"] == tv.iss, "%v", out)
		must(t, out["jti"] == "tp-1" && out["exp"] == c["exp"] && out["iat"] == c["iat"] && out["token_type"] == "Bearer", "%v", out)
		_, hasApp := out["app_id"]
		must(t, !hasApp, "third-party token with an app_id: %v", out)
	})
	t.Run("invalid tokens are inactive, with nothing else", func(t *testing.T) {
		for name, tok := range map[string]string{"bad signature": tv.ownBadSig, "alg none": tv.ownNone, "expired": tv.tpExpired,
			"unknown issuer": tv.tpUnknown, "garbage": "a.b.c"} {
			out := introspect(tok)
			must(t, out["active"] == false && len(out) == 1, "%s: %v", name, out)
		}
	})
	t.Run("cache hint capped by the token's exp", func(t *testing.T) {
		hdr := []string{"X-Forwarded-Method", "GET", "X-Forwarded-Host", "api.test", "X-Forwarded-Uri", "/x"}
		for name, tc := range map[string]struct {
			tok string
			max int64
		}{"own": {own.AccessToken, 120}, "third-party": {tv.tp, 3600}} {
			st, h, _ := callRaw(t, "GET", p.Data+"/v1/authorize", "", nil, append(hdr, "Authorization", "Bearer "+tc.tok)...)
			must(t, st == 200, "%s: %d", name, st)
			var age int64
			_, err := fmt.Sscanf(h.Get("Cache-Control"), "max-age=%d", &age)
			must(t, err == nil && age > 0 && age <= tc.max, "%s: Cache-Control %q, want max-age <= %d", name, h.Get("Cache-Control"), tc.max)
		}
	})
	t.Run("revoke own token: its jti, not its key", func(t *testing.T) {
		st, _, _ := callRaw(t, "POST", p.Data+"/oauth2/revoke", "", url.Values{"token": {own.AccessToken}}.Encode(), "Content-Type", "application/x-www-form-urlencoded")
		must(t, st == 200, "revoke: %d", st)
		must(t, introspect(own.AccessToken)["active"] == false, "revoked token still active")
		must(t, introspect(k.Secret)["active"] == true, "revoking a token revoked its key")
		_, v := verifyTok(t, p, own.AccessToken, "")
		must(t, v.Code == "DISABLED", "revoked token verifies as %s", v.Code)
	})
}
