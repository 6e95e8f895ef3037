package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/typeauth/typeauth/internal/auth"
)

func runTokens(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s auth.Store)
	}{
		{"SigningKeys", testSigningKeys},
		{"Issuers", testIssuers},
		{"RevokedTokens", testRevokedTokens},
		{"TokenSettings", testTokenSettings},
		{"SealedSecrets", testSealedSecrets},
		{"TokensUnavailable", testTokensUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

func testSigningKeys(t *testing.T, s auth.Store) {
	ctx := ctxT(t)
	keys, err := s.SigningKeys(ctx)
	if err != nil || len(keys) != 0 {
		t.Fatalf("SigningKeys on an empty store: %v, %v", keys, err)
	}
	a := &auth.SigningKey{KID: "kid-a", Alg: "EdDSA", PublicJWK: json.RawMessage(`{"kty":"OKP","crv":"Ed25519","x":"abc"}`),
		Sealed: []byte{1, 2, 3}, State: auth.SigningKeyLive, CreatedAt: t0, ActivateAt: t0}
	b := &auth.SigningKey{KID: "kid-b", Alg: "ES256", PublicJWK: json.RawMessage(`{"kty":"EC"}`),
		Sealed: []byte{4, 5}, State: auth.SigningKeyLive, CreatedAt: t0.Add(time.Second), ActivateAt: t0.Add(time.Hour)}
	mustTx(t, s, func(tx auth.Tx) error {
		if err := tx.InsertSigningKey(a); err != nil {
			return err
		}
		return tx.InsertSigningKey(b)
	})
	err = s.Tx(ctx, func(tx auth.Tx) error { return tx.InsertSigningKey(a) })
	wantErr(t, "InsertSigningKey twice", err, auth.ErrConflict)

	keys, err = s.SigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "SigningKeys", keys, []*auth.SigningKey{a, b})

	retire, expires := t0.Add(time.Hour), t0.Add(2*time.Hour)
	a.RetireAt, a.ExpiresAt = &retire, &expires
	mustTx(t, s, func(tx auth.Tx) error {
		in, err := tx.SigningKeys()
		if err != nil {
			return err
		}
		if len(in) != 2 {
			t.Errorf("tx.SigningKeys: %d keys, want 2", len(in))
		}
		return tx.UpdateSigningKey(a)
	})
	keys, _ = s.SigningKeys(ctx)
	wantEqual(t, "after UpdateSigningKey", keys[0], a)
	if got := a.Phase(t0.Add(90 * time.Minute)); got != auth.PhaseRetired {
		t.Errorf("Phase = %s, want retired", got)
	}

	err = s.Tx(ctx, func(tx auth.Tx) error { return tx.UpdateSigningKey(&auth.SigningKey{KID: "nope", State: "live"}) })
	wantErr(t, "UpdateSigningKey unknown", err, auth.ErrNotFound)
	mustTx(t, s, func(tx auth.Tx) error { return tx.DeleteSigningKey("kid-a") })
	err = s.Tx(ctx, func(tx auth.Tx) error { return tx.DeleteSigningKey("kid-a") })
	wantErr(t, "DeleteSigningKey twice", err, auth.ErrNotFound)
	keys, _ = s.SigningKeys(ctx)
	wantEqual(t, "after delete", keys, []*auth.SigningKey{b})
}

func testIssuers(t *testing.T, s auth.Store) {
	ctx := ctxT(t)
	full := &auth.Issuer{ID: auth.NewID("iss", t0), Name: "Auth0", Issuer: "https://tenant.example.com/",
		DiscoveryURL: "https://tenant.example.com/.well-known/openid-configuration", Algorithms: []string{"RS256", "ES256"},
		Audiences: []string{"api://a"}, Leeway: 30 * time.Second, RequiredClaims: []string{"email"},
		OwnerClaim: "sub", PermissionsClaim: "permissions", CreatedAt: t0, UpdatedAt: t0}
	inline := &auth.Issuer{ID: auth.NewID("iss", t0.Add(time.Millisecond)), Name: "static", Issuer: "https://static.example.com",
		JWKS: json.RawMessage(`{"keys":[]}`), Algorithms: []string{"EdDSA"}, OwnerClaim: "sub", PermissionsClaim: "scope",
		CreatedAt: t0, UpdatedAt: t0}
	mustTx(t, s, func(tx auth.Tx) error {
		if err := tx.InsertIssuer(full); err != nil {
			return err
		}
		return tx.InsertIssuer(inline)
	})
	got, err := s.GetIssuer(ctx, full.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "GetIssuer", got, full)
	all, err := s.Issuers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "Issuers", all, []*auth.Issuer{full, inline})

	dup := *inline
	dup.ID = auth.NewID("iss", t0.Add(2*time.Millisecond))
	dup.Issuer = full.Issuer
	err = s.Tx(ctx, func(tx auth.Tx) error { return tx.InsertIssuer(&dup) })
	wantCode(t, "InsertIssuer same iss", err, auth.ErrConflict, "issuer_exists")

	upd := *inline
	upd.Issuer = full.Issuer
	err = s.Tx(ctx, func(tx auth.Tx) error { return tx.UpdateIssuer(&upd) })
	wantCode(t, "UpdateIssuer to a taken iss", err, auth.ErrConflict, "issuer_exists")

	upd = *inline
	upd.Name, upd.Audiences, upd.UpdatedAt = "renamed", []string{"x"}, t0.Add(time.Minute)
	mustTx(t, s, func(tx auth.Tx) error {
		n, err := tx.CountIssuers()
		if err != nil || n != 2 {
			t.Errorf("CountIssuers = %d, %v; want 2", n, err)
		}
		in, err := tx.GetIssuer(upd.ID)
		if err != nil {
			return err
		}
		wantEqual(t, "tx.GetIssuer", in, inline)
		return tx.UpdateIssuer(&upd)
	})
	got, _ = s.GetIssuer(ctx, upd.ID)
	wantEqual(t, "after UpdateIssuer", got, &upd)

	mustTx(t, s, func(tx auth.Tx) error { return tx.DeleteIssuer(full.ID) })
	_, err = s.GetIssuer(ctx, full.ID)
	wantErr(t, "GetIssuer deleted", err, auth.ErrNotFound)
	err = s.Tx(ctx, func(tx auth.Tx) error { return tx.DeleteIssuer(full.ID) })
	wantErr(t, "DeleteIssuer twice", err, auth.ErrNotFound)
	err = s.Tx(ctx, func(tx auth.Tx) error { return tx.UpdateIssuer(full) })
	wantErr(t, "UpdateIssuer deleted", err, auth.ErrNotFound)
}

func testRevokedTokens(t *testing.T, s auth.Store) {
	ctx := ctxT(t)
	mustTx(t, s, func(tx auth.Tx) error {
		for i, jti := range []string{"a", "b", "c"} {
			if err := tx.RevokeToken(auth.RevokedToken{JTI: jti, ExpiresAt: t0.Add(time.Duration(i+1) * time.Minute), RevokedAt: t0}); err != nil {
				return err
			}
		}
		// Revoking again keeps the later expiry.
		if err := tx.RevokeToken(auth.RevokedToken{JTI: "a", ExpiresAt: t0.Add(10 * time.Minute), RevokedAt: t0}); err != nil {
			return err
		}
		return tx.RevokeToken(auth.RevokedToken{JTI: "b", ExpiresAt: t0, RevokedAt: t0})
	})
	got, err := s.RevokedTokens(ctx, t0.Add(90*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "RevokedTokens", got, []auth.RevokedToken{
		{JTI: "a", ExpiresAt: t0.Add(10 * time.Minute), RevokedAt: t0},
		{JTI: "b", ExpiresAt: t0.Add(2 * time.Minute), RevokedAt: t0},
		{JTI: "c", ExpiresAt: t0.Add(3 * time.Minute), RevokedAt: t0},
	})
	n, err := s.PurgeRevokedTokens(ctx, t0.Add(3*time.Minute))
	if err != nil || n != 2 {
		t.Fatalf("PurgeRevokedTokens = %d, %v; want 2", n, err)
	}
	got, _ = s.RevokedTokens(ctx, t0)
	if len(got) != 1 || got[0].JTI != "a" {
		t.Fatalf("after purge: %v", got)
	}
}

func testTokenSettings(t *testing.T, s auth.Store) {
	ctx := ctxT(t)
	app := newApp(t, s, "ts")
	got, err := s.TokenSettings(ctx, app.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "default settings", got, &auth.TokenSettings{AppID: app.ID})
	if got.TTL() != auth.DefaultTokenTTL {
		t.Errorf("TTL = %v", got.TTL())
	}
	want := &auth.TokenSettings{AppID: app.ID, MaxTTL: 10 * time.Minute, Audiences: []string{"https://api.example.com"},
		MetaClaims: []string{"plan"}, Recoverable: true}
	mustTx(t, s, func(tx auth.Tx) error { return tx.PutTokenSettings(want) })
	got, _ = s.TokenSettings(ctx, app.ID)
	wantEqual(t, "TokenSettings", got, want)
	mustTx(t, s, func(tx auth.Tx) error {
		in, err := tx.GetTokenSettings(app.ID)
		wantEqual(t, "tx.GetTokenSettings", in, want)
		return err
	})
	// The app itself is unchanged by its settings.
	a, _ := s.GetApp(ctx, app.ID)
	wantEqual(t, "app", a, app)

	_, err = s.TokenSettings(ctx, "app_nope")
	wantErr(t, "TokenSettings of an unknown app", err, auth.ErrNotFound)
	err = s.Tx(ctx, func(tx auth.Tx) error { return tx.PutTokenSettings(&auth.TokenSettings{AppID: "app_nope"}) })
	wantErr(t, "PutTokenSettings of an unknown app", err, auth.ErrNotFound)
}

func testSealedSecrets(t *testing.T, s auth.Store) {
	ctx := ctxT(t)
	app := newApp(t, s, "ss")
	k, _ := newKey(t, s, app.ID, nil)
	_, err := s.SealedSecret(ctx, k.ID)
	wantErr(t, "SealedSecret before any", err, auth.ErrNotFound)
	mustTx(t, s, func(tx auth.Tx) error { return tx.PutSealedSecret(k.ID, []byte("sealed")) })
	got, err := s.SealedSecret(ctx, k.ID)
	if err != nil || string(got) != "sealed" {
		t.Fatalf("SealedSecret = %q, %v", got, err)
	}
	// Updating the key keeps it.
	mustTx(t, s, func(tx auth.Tx) error { k.Name = "renamed"; return tx.UpdateKey(k) })
	if got, _ := s.SealedSecret(ctx, k.ID); string(got) != "sealed" {
		t.Fatalf("after UpdateKey: %q", got)
	}
	mustTx(t, s, func(tx auth.Tx) error { return tx.PutSealedSecret(k.ID, nil) })
	_, err = s.SealedSecret(ctx, k.ID)
	wantErr(t, "SealedSecret cleared", err, auth.ErrNotFound)
	err = s.Tx(ctx, func(tx auth.Tx) error { return tx.PutSealedSecret("key_nope", []byte("x")) })
	wantErr(t, "PutSealedSecret unknown key", err, auth.ErrNotFound)
	mustTx(t, s, func(tx auth.Tx) error { return tx.DeleteKey(k.ID) })
	_, err = s.SealedSecret(ctx, k.ID)
	wantErr(t, "SealedSecret of a deleted key", err, auth.ErrNotFound)
}

func testTokensUnavailable(t *testing.T, s auth.Store) {
	ctx, cancel := context.WithCancel(ctxT(t))
	cancel()
	calls := map[string]func() error{
		"SigningKeys":   func() error { _, err := s.SigningKeys(ctx); return err },
		"Issuers":       func() error { _, err := s.Issuers(ctx); return err },
		"RevokedTokens": func() error { _, err := s.RevokedTokens(ctx, t0); return err },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, auth.ErrUnavailable) {
			t.Errorf("%s with cancelled context: %v, want ErrUnavailable", name, err)
		}
	}
}
