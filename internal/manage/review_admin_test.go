package manage_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/typeauth/typeauth/internal/auth"
	"github.com/typeauth/typeauth/internal/manage"
)

// A root key that holds rootkeys.write but not "*" must not be able to
// revoke a root key holding scopes it lacks (it could not have created it):
// otherwise a narrow key removes every full-scope key and no one can ever
// hand out "*" again.
func TestRevokeRootKeyCannotRemoveBroaderKey(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	rk, err := e.svc.CreateRootKey(ctx, e.root, "rk-admin", []string{auth.ScopeRootKeysWrite}, nil)
	if err != nil {
		t.Fatal(err)
	}
	narrow := manage.Actor{RootKey: rk.RootKey}
	err = e.svc.RevokeRootKey(ctx, narrow, e.root.RootKey.ID)
	if !errors.Is(err, auth.ErrForbidden) {
		t.Fatalf("a rootkeys.write key revoked a * key: %v, want ErrForbidden", err)
	}
	// Within its own scopes it still revokes.
	ro, err := e.svc.CreateRootKey(ctx, narrow, "ro", []string{auth.ScopeRootKeysRead}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RevokeRootKey(ctx, narrow, ro.RootKey.ID); err != nil {
		t.Fatalf("revoking a narrower key: %v", err)
	}
}

// Incrementing credits past MaxInt64 is bad input: a 400, and the stored
// value is unchanged (not an overflow, a float in SQLite, or a 500).
func TestAdjustCreditsOverflow(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	app, err := e.svc.CreateApp(ctx, e.root, "A", "ov", nil)
	if err != nil {
		t.Fatal(err)
	}
	ck, err := e.svc.CreateKey(ctx, e.root, &auth.Key{AppID: app.ID, Enabled: true, Credits: &auth.Credits{Remaining: 10}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.AdjustCredits(ctx, e.root, ck.Key.ID, manage.CreditIncrement, math.MaxInt64)
	if !errors.Is(err, auth.ErrInvalid) {
		t.Fatalf("increment to overflow: %v, want ErrInvalid", err)
	}
	k, err := e.svc.GetKey(ctx, e.root, ck.Key.ID)
	if err != nil {
		t.Fatal(err)
	}
	if k.Credits == nil || k.Credits.Remaining != 10 {
		t.Fatalf("credits after a refused increment: %+v", k.Credits)
	}
	// Up to the maximum is fine.
	rem, err := e.svc.AdjustCredits(ctx, e.root, ck.Key.ID, manage.CreditIncrement, math.MaxInt64-10)
	if err != nil || rem != math.MaxInt64 {
		t.Fatalf("increment to the maximum: %d, %v", rem, err)
	}
	if d := e.verify(t, ck.Secret); d.Code != auth.CodeValid {
		t.Fatalf("verify after a large increment: %s", d.Code)
	}
}

// A key rolled while its app was not recoverable must not reveal its old
// (rolled-away) secret once the app opts in again: the stale sealed secret
// must not outlive the roll.
func TestRevealAfterRecoverableToggleIsNotStale(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var mk [32]byte
	mk[0] = 1
	e.svc.EnableTokens(manage.TokenOptions{MasterKey: &mk})
	yes, no := true, false
	at, err := e.svc.CreateAppWithTokens(ctx, e.root, "R", "rv", &manage.AppTokenPatch{Recoverable: &yes}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ck, err := e.svc.CreateKey(ctx, e.root, &auth.Key{AppID: at.App.ID, Enabled: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.UpdateAppTokens(ctx, e.root, at.App.ID, &manage.AppTokenPatch{Recoverable: &no}); err != nil {
		t.Fatal(err)
	}
	rolled, err := e.svc.RollKey(ctx, e.root, ck.Key.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.UpdateAppTokens(ctx, e.root, at.App.ID, &manage.AppTokenPatch{Recoverable: &yes}); err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.RevealKey(ctx, e.root, ck.Key.ID)
	if err == nil && got.Secret != rolled.Secret {
		t.Fatalf("reveal returned the rolled-away secret (still valid: %v)", e.verify(t, got.Secret).Code == auth.CodeValid)
	}
	if err != nil && !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("reveal: %v", err)
	}
}

// Narrowed scopes name an app id, whatever the scope family; identities.*
// may be narrowed as docs/api.md says.
func TestNarrowedScopeSyntax(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	app, err := e.svc.CreateApp(ctx, e.root, "A", "ns", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range []string{"apps.read:not an app\x00", "apps.write:", "verify:" + app.ID} {
		if _, err := e.svc.CreateRootKey(ctx, e.root, "bad", []string{sc}, nil); !errors.Is(err, auth.ErrInvalid) {
			t.Errorf("scope %q: %v, want ErrInvalid", sc, err)
		}
	}
	rk, err := e.svc.CreateRootKey(ctx, e.root, "ids", []string{"identities.write:" + app.ID}, nil)
	if err != nil {
		t.Fatalf("identities.write narrowed to an app: %v", err)
	}
	narrow := manage.Actor{RootKey: rk.RootKey}
	if _, err := e.svc.CreateIdentity(ctx, narrow, &auth.Identity{AppID: app.ID, ExternalID: "c1"}, nil); err != nil {
		t.Fatalf("identity in its app: %v", err)
	}
	if _, err := e.svc.CreateIdentity(ctx, narrow, &auth.Identity{ExternalID: "ws"}, nil); !errors.Is(err, auth.ErrForbidden) {
		t.Fatalf("workspace-wide identity with a narrowed key: %v", err)
	}
	if _, _, err := e.svc.ListIdentities(ctx, narrow, auth.IdentityFilter{}, auth.Page{}); !errors.Is(err, auth.ErrForbidden) {
		t.Fatalf("listing every identity with a narrowed key: %v", err)
	}
}

// Re-creating a deleted role that keys still name applies at once on the
// node that made the change, like any other role change.
func TestCreateRoleEvictsCache(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	app, _ := e.svc.CreateApp(ctx, e.root, "A", "rc", nil)
	role, err := e.svc.CreateRole(ctx, e.root, &auth.Role{Name: "editor", Permissions: []string{"doc.write"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ck, err := e.svc.CreateKey(ctx, e.root, &auth.Key{AppID: app.ID, Enabled: true, Roles: []string{"editor"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.DeleteRole(ctx, e.root, role.ID); err != nil {
		t.Fatal(err)
	}
	if d := e.verify(t, ck.Secret); slices.Contains(d.Permissions, "doc.write") {
		t.Fatalf("deleted role still grants: %v", d.Permissions)
	}
	if _, err := e.svc.CreateRole(ctx, e.root, &auth.Role{Name: "editor", Permissions: []string{"doc.write"}}, nil); err != nil {
		t.Fatal(err)
	}
	if d := e.verify(t, ck.Secret); !slices.Contains(d.Permissions, "doc.write") {
		t.Fatalf("re-created role not applied on this node: %v", d.Permissions)
	}
}
