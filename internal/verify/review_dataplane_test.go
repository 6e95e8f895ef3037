package verify_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/typeauth/typeauth/internal/auth"
	"github.com/typeauth/typeauth/internal/jose"
	"github.com/typeauth/typeauth/internal/verify"
)

// A third-party token has no key, hence no app: a verify that narrows to an
// app (app_id) must not answer VALID for it, as a key of another app is
// FORBIDDEN. Ignoring app_id would let any trusted issuer's token pass a
// backend that asked for its own app's credentials only.
func TestThirdPartyTokenWithAppIDIsForbidden(t *testing.T) {
	e := newTokenEnv(t, true)
	k, _ := jose.GenerateSigningKey(jose.ES256)
	set, _ := jose.NewKeySet(k.Public())
	jwks, _ := json.Marshal(set)
	if _, err := e.m.CreateIssuer(e.ctx, e.root, &auth.Issuer{Name: "idp", Issuer: "https://idp.example", JWKS: jwks,
		Algorithms: []string{"ES256"}}, nil); err != nil {
		t.Fatal(err)
	}
	tok, _ := jose.Sign(map[string]any{"iss": "https://idp.example", "sub": "u1", "scope": "a",
		"exp": e.clock.Now().Add(time.Minute).Unix()}, k)
	if d := e.verifyToken(tok, ""); d.Code != auth.CodeValid {
		t.Fatalf("without app_id: %s %s", d.Code, d.Reason)
	}
	d, err := e.v.Verify(e.ctx, &verify.Request{Token: tok, AppID: e.app.ID})
	if err != nil {
		t.Fatal(err)
	}
	if d.Code != auth.CodeForbidden || d.Valid() {
		t.Fatalf("third-party token with app_id: %s, want FORBIDDEN", d.Code)
	}
}
