package e2e

import (
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/typeauth/typeauth/internal/jose"
)

// localIssuer is a third-party OIDC issuer served over plain http (TypeAuth
// runs with --issuers-allow-http, a test-only option): discovery, a JWKS it
// can rotate, and an outage switch.
type localIssuer struct {
	srv  *httptest.Server
	mu   sync.Mutex
	keys []*jose.SigningKey
	down atomic.Bool
}

func newLocalIssuer(t *testing.T) *localIssuer {
	li := &localIssuer{}
	li.rotate(t)
	li.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if li.down.Load() {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			json.NewEncoder(w).Encode(map[string]string{"issuer": li.srv.URL, "jwks_uri": li.srv.URL + "/keys"})
		case "/keys":
			li.mu.Lock()
			var pubs []*jose.PublicKey
			for _, k := range li.keys {
				pubs = append(pubs, k.Public())
			}
			li.mu.Unlock()
			set, _ := jose.NewKeySet(pubs...)
			json.NewEncoder(w).Encode(set)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(li.srv.Close)
	return li
}

// rotate replaces the published keys with one new key and returns it.
func (li *localIssuer) rotate(t *testing.T) *jose.SigningKey {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(nil)
	k, err := jose.NewSigningKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	li.mu.Lock()
	li.keys = []*jose.SigningKey{k}
	li.mu.Unlock()
	return k
}

func (li *localIssuer) sign(t *testing.T, k *jose.SigningKey, sub string) string {
	t.Helper()
	tok, err := jose.Sign(map[string]any{"iss": li.srv.URL, "sub": sub, "aud": "orders-api", "scope": "orders.read orders.write",
		"exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix()}, k)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestTokensTrustedIssuer(t *testing.T) {
	p := start(t, serveOpts{args: []string{"--issuers-allow-http", "--issuer-min-refetch", "200ms", "--issuer-refresh", "1h"}})
	li := newLocalIssuer(t)
	k1 := li.keys[0]

	var is struct {
		ID     string `json:"id"`
		KeySet *struct {
			Keys int `json:"keys"`
		} `json:"key_set"`
	}
	st, _ := call(t, "POST", p.Admin+"/v1/issuers", p.RootKey, map[string]any{"name": "local idp", "issuer": li.srv.URL,
		"discovery_url": li.srv.URL + "/.well-known/openid-configuration", "algorithms": []string{"EdDSA"}, "audiences": []string{"orders-api"}}, &is)
	if st != 201 || is.ID == "" {
		t.Fatalf("create issuer: %d", st)
	}
	if st, _ := call(t, "POST", p.Admin+"/v1/issuers", p.RootKey, map[string]any{"name": "bad", "issuer": "https://x.example",
		"jwks_url": "https://x.example/keys", "algorithms": []string{"HS256"}}, nil); st != 400 {
		t.Fatalf("HS256 issuer: %d", st)
	}

	tok1 := li.sign(t, k1, "ext_user")
	st, v := verifyTok(t, p, tok1, "orders.read AND orders.write")
	if st != 200 || v.Code != "VALID" || v.OwnerID != "ext_user" || len(v.Permissions) != 2 {
		t.Fatalf("third-party token: %d %+v", st, v)
	}
	if _, v := verifyTok(t, p, tok1, "orders.delete"); v.Code != "INSUFFICIENT_PERMISSIONS" {
		t.Fatalf("permission query: %s", v.Code)
	}
	call(t, "GET", p.Admin+"/v1/issuers/"+is.ID, p.RootKey, nil, &is)
	if is.KeySet == nil || is.KeySet.Keys != 1 {
		t.Fatalf("key set state: %+v", is.KeySet)
	}
	// A third-party JWT passed as a key is refused: doors that pass keys
	// expect a key in every VALID answer; they must send it as a token.
	var asKey verifyAnswer
	call(t, "POST", p.Data+"/v1/verify", "", map[string]any{"key": tok1}, &asKey)
	if asKey.Valid || asKey.Code != "INVALID_CLAIMS" {
		t.Fatalf("third-party JWT as key: %s", asKey.Code)
	}

	// Outage: the last good key set keeps serving.
	li.down.Store(true)
	if _, v := verifyTok(t, p, tok1, ""); v.Code != "VALID" {
		t.Fatalf("during the outage: %s", v.Code)
	}
	li.down.Store(false)

	// The issuer rotates: a token with the new kid triggers a refetch; the
	// removed key's tokens are refused.
	time.Sleep(300 * time.Millisecond)
	k2 := li.rotate(t)
	tok2 := li.sign(t, k2, "ext_user")
	if _, v := verifyTok(t, p, tok2, ""); v.Code != "VALID" {
		t.Fatalf("after the issuer rotated: %s", v.Code)
	}
	if _, v := verifyTok(t, p, tok1, ""); v.Code != "INVALID_SIGNATURE" {
		t.Fatalf("token of the removed key: %s", v.Code)
	}

	// Deleting the issuer stops its tokens.
	if st, _ := call(t, "DELETE", p.Admin+"/v1/issuers/"+is.ID, p.RootKey, nil, nil); st != 204 {
		t.Fatalf("delete issuer: %d", st)
	}
	if _, v := verifyTok(t, p, tok2, ""); v.Valid {
		t.Fatal("token of a deleted issuer passed")
	}
}

func TestTokensIssuerNeverReachedIs503(t *testing.T) {
	p := start(t, serveOpts{args: []string{"--issuers-allow-http", "--issuer-min-refetch", "100ms"}})
	li := newLocalIssuer(t)
	li.down.Store(true)
	st, _ := call(t, "POST", p.Admin+"/v1/issuers", p.RootKey, map[string]any{"name": "down", "issuer": li.srv.URL,
		"jwks_url": li.srv.URL + "/keys", "algorithms": []string{"EdDSA"}}, nil)
	if st != 201 {
		t.Fatalf("create issuer: %d", st)
	}
	tok := li.sign(t, li.keys[0], "u")
	if st, _ := verifyTok(t, p, tok, ""); st != 503 {
		t.Fatalf("issuer never reached: %d, want 503 (fail closed)", st)
	}
	li.down.Store(false)
	time.Sleep(200 * time.Millisecond)
	if st, v := verifyTok(t, p, tok, ""); st != 200 || v.Code != "VALID" {
		t.Fatalf("after the issuer came up: %d %s", st, v.Code)
	}
}
