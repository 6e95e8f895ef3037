package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/typeauth/typeauth/internal/auth"
)

// runIdentities runs the contract of identities, roles and rate limit
// overrides (auth.IdentityStore, auth.IdentityTx).
func runIdentities(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s auth.Store)
	}{
		{"IdentityRoundTrip", testIdentityRoundTrip},
		{"IdentityWriteErrors", testIdentityWriteErrors},
		{"IdentityScopes", testIdentityScopes},
		{"UpdateIdentity", testUpdateIdentity},
		{"DeleteIdentityUnlinksKeys", testDeleteIdentityUnlinksKeys},
		{"DeleteAppDeletesIdentities", testDeleteAppDeletesIdentities},
		{"Roles", testRoles},
		{"RolesByName", testRolesByName},
		{"Overrides", testOverrides},
		{"IdentityPagination", testIdentityPagination},
		{"IdentityTxRollback", testIdentityTxRollback},
		{"ConstraintReaderUnavailable", testConstraintReaderUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// identitiesByID sorts identities as the listings order them: ids made in
// the same millisecond sort in no particular order.
func identitiesByID(is ...*auth.Identity) []*auth.Identity {
	sort.Slice(is, func(a, b int) bool { return is[a].ID < is[b].ID })
	return is
}

// wantCode checks that err is an *auth.Error of kind want with this code.
func wantCode(t *testing.T, what string, err, want error, code string) {
	t.Helper()
	wantErr(t, what, err, want)
	var ae *auth.Error
	if !errors.As(err, &ae) || ae.Code != code {
		t.Fatalf("%s: error %v: want an *auth.Error with code %s", what, err, code)
	}
}

// wantNoCode checks that err is of kind want and carries none of the codes
// (a taken id is not a taken name).
func wantNoCode(t *testing.T, what string, err, want error) {
	t.Helper()
	wantErr(t, what, err, want)
	var ae *auth.Error
	if errors.As(err, &ae) && ae.Code != "" {
		t.Fatalf("%s: error %v has code %s, want none", what, err, ae.Code)
	}
}

// newIdentity stores an identity of appID ("" for workspace-wide) with this
// external id (changed by edit, if not nil).
func newIdentity(t *testing.T, s auth.Store, appID, externalID string, edit func(i *auth.Identity)) *auth.Identity {
	t.Helper()
	i := &auth.Identity{ID: auth.NewID("id", t0), AppID: appID, ExternalID: externalID, CreatedAt: t0, UpdatedAt: t0}
	if edit != nil {
		edit(i)
	}
	mustTx(t, s, func(tx auth.Tx) error { return tx.InsertIdentity(i) })
	return i
}

func fullIdentity(i *auth.Identity) {
	i.Meta = json.RawMessage(`{"plan": "pro",  "seats":3, "nested":{"a":[1,2]}}`)
	i.RateLimits = []auth.RateLimit{
		{Name: "default", Limit: 100, Duration: time.Minute, AutoApply: true},
		{Name: "burst", Limit: 5, Duration: 1500 * time.Millisecond},
	}
	i.Permissions = []string{"documents.read", "billing.write"}
	i.Roles = []string{"admin", "support"}
	i.UpdatedAt = t0.Add(time.Second)
}

// checkIdentity reads i back every way there is and compares.
func checkIdentity(t *testing.T, s auth.Store, i *auth.Identity) {
	t.Helper()
	ctx := ctxT(t)
	got, err := s.GetIdentity(ctx, i.ID)
	if err != nil {
		t.Fatalf("GetIdentity: %v", err)
	}
	wantEqual(t, "GetIdentity", got, i)
	got, err = s.IdentityByExternalID(ctx, i.AppID, i.ExternalID)
	if err != nil {
		t.Fatalf("IdentityByExternalID: %v", err)
	}
	wantEqual(t, "IdentityByExternalID", got, i)
	mustTx(t, s, func(tx auth.Tx) error {
		got, err := tx.GetIdentity(i.ID)
		if err != nil {
			return err
		}
		wantEqual(t, "Tx.GetIdentity", got, i)
		return nil
	})
}

func testIdentityRoundTrip(t *testing.T, s auth.Store) {
	app := newApp(t, s, "acme")
	tests := []struct {
		name  string
		appID string
		edit  func(i *auth.Identity)
	}{
		{"minimal workspace-wide", "", nil},
		{"minimal in app", app.ID, nil},
		{"full workspace-wide", "", fullIdentity},
		{"full in app", app.ID, fullIdentity},
		{"empty lists", app.ID, func(i *auth.Identity) {
			i.RateLimits, i.Permissions, i.Roles = []auth.RateLimit{}, []string{}, []string{}
			i.Meta = json.RawMessage(`{}`)
		}},
	}
	for n, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			i := newIdentity(t, s, tc.appID, "ext_"+strconv.Itoa(n), tc.edit)
			checkIdentity(t, s, i)
		})
	}

	ctx := ctxT(t)
	_, err := s.GetIdentity(ctx, "id_missing")
	wantErr(t, "GetIdentity(missing)", err, auth.ErrNotFound)
	_, err = s.IdentityByExternalID(ctx, "", "nobody")
	wantErr(t, "IdentityByExternalID(missing)", err, auth.ErrNotFound)
	_, err = s.IdentityByExternalID(ctx, "app_missing", "ext_0")
	wantErr(t, "IdentityByExternalID(missing app)", err, auth.ErrNotFound)
	wantErr(t, "Tx.GetIdentity(missing)", s.Tx(ctx, func(tx auth.Tx) error {
		_, err := tx.GetIdentity("id_missing")
		return err
	}), auth.ErrNotFound)
}

func testIdentityWriteErrors(t *testing.T, s auth.Store) {
	app := newApp(t, s, "acme")
	ws := newIdentity(t, s, "", "cust_1", nil)
	inApp := newIdentity(t, s, app.ID, "cust_1", nil)
	other := newIdentity(t, s, app.ID, "cust_2", nil)
	fresh := func(appID, ext string) *auth.Identity {
		return &auth.Identity{ID: auth.NewID("id", t0), AppID: appID, ExternalID: ext, CreatedAt: t0, UpdatedAt: t0}
	}
	codes := []struct {
		name string
		fn   func(tx auth.Tx) error
	}{
		{"insert taken external id in app", func(tx auth.Tx) error { return tx.InsertIdentity(fresh(app.ID, "cust_1")) }},
		{"insert taken workspace-wide external id", func(tx auth.Tx) error { return tx.InsertIdentity(fresh("", "cust_1")) }},
		{"update to taken external id", func(tx auth.Tx) error {
			o := *other
			o.ExternalID = inApp.ExternalID
			return tx.UpdateIdentity(&o)
		}},
	}
	for _, tc := range codes {
		t.Run(tc.name, func(t *testing.T) {
			wantCode(t, "Tx", s.Tx(ctxT(t), tc.fn), auth.ErrConflict, "identity_exists")
		})
	}
	plain := []struct {
		name string
		fn   func(tx auth.Tx) error
		want error
	}{
		{"duplicate id", func(tx auth.Tx) error { dup := *ws; dup.ExternalID = "cust_9"; return tx.InsertIdentity(&dup) }, auth.ErrConflict},
		{"missing app", func(tx auth.Tx) error { return tx.InsertIdentity(fresh("app_missing", "cust_9")) }, auth.ErrNotFound},
		{"update missing", func(tx auth.Tx) error { return tx.UpdateIdentity(fresh(app.ID, "cust_9")) }, auth.ErrNotFound},
		{"delete missing", func(tx auth.Tx) error { return tx.DeleteIdentity("id_missing") }, auth.ErrNotFound},
		{"delete empty id", func(tx auth.Tx) error { return tx.DeleteIdentity("") }, auth.ErrNotFound},
	}
	for _, tc := range plain {
		t.Run(tc.name, func(t *testing.T) {
			wantNoCode(t, "Tx", s.Tx(ctxT(t), tc.fn), tc.want)
		})
	}
	list, _, err := s.ListIdentities(ctxT(t), auth.IdentityFilter{}, auth.Page{})
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "identities after failed writes", list, identitiesByID(ws, inApp, other))
}

// testIdentityScopes: external ids are unique per app, and separately among
// workspace-wide identities.
func testIdentityScopes(t *testing.T, s auth.Store) {
	ctx := ctxT(t)
	a := newApp(t, s, "acme")
	b := newApp(t, s, "beta")
	ws := newIdentity(t, s, "", "cust", nil)
	ia := newIdentity(t, s, a.ID, "cust", nil)
	ib := newIdentity(t, s, b.ID, "cust", nil)
	for _, want := range []*auth.Identity{ws, ia, ib} {
		got, err := s.IdentityByExternalID(ctx, want.AppID, "cust")
		if err != nil {
			t.Fatalf("IdentityByExternalID(%q): %v", want.AppID, err)
		}
		wantEqual(t, "IdentityByExternalID("+want.AppID+")", got, want)
	}
	// The app filter lists the app's identities only; no filter lists all.
	got, _, err := s.ListIdentities(ctx, auth.IdentityFilter{AppID: a.ID}, auth.Page{})
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "ListIdentities(app a)", got, []*auth.Identity{ia})
	got, _, err = s.ListIdentities(ctx, auth.IdentityFilter{}, auth.Page{})
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "ListIdentities(all)", got, identitiesByID(ws, ia, ib))
}

func testUpdateIdentity(t *testing.T, s auth.Store) {
	app := newApp(t, s, "acme")
	for _, appID := range []string{"", app.ID} {
		i := newIdentity(t, s, appID, "cust", nil)
		steps := []struct {
			name string
			edit func(i *auth.Identity)
		}{
			{"fill every field", func(i *auth.Identity) { fullIdentity(i); i.ExternalID = "cust_renamed" }},
			{"clear every field", func(i *auth.Identity) {
				*i = auth.Identity{ID: i.ID, AppID: i.AppID, ExternalID: "cust", CreatedAt: i.CreatedAt, UpdatedAt: t0.Add(time.Hour)}
			}},
		}
		for _, st := range steps {
			t.Run(fmt.Sprintf("%s (app %q)", st.name, appID), func(t *testing.T) {
				st.edit(i)
				mustTx(t, s, func(tx auth.Tx) error { return tx.UpdateIdentity(i) })
				checkIdentity(t, s, i)
			})
		}
	}
	// The old external id is free again after a rename.
	i := newIdentity(t, s, app.ID, "before", nil)
	i.ExternalID = "after"
	mustTx(t, s, func(tx auth.Tx) error { return tx.UpdateIdentity(i) })
	newIdentity(t, s, app.ID, "before", nil)
	_, err := s.IdentityByExternalID(ctxT(t), app.ID, "after")
	if err != nil {
		t.Fatalf("IdentityByExternalID(after): %v", err)
	}
}

func testDeleteIdentityUnlinksKeys(t *testing.T, s auth.Store) {
	ctx := ctxT(t)
	app := newApp(t, s, "acme")
	doomed := newIdentity(t, s, app.ID, "doomed", nil)
	kept := newIdentity(t, s, "", "kept", nil)
	k1, _ := newKey(t, s, app.ID, func(k *auth.Key) { k.IdentityID = doomed.ID })
	k2, _ := newKey(t, s, app.ID, func(k *auth.Key) { k.IdentityID = doomed.ID; k.Name = "second" })
	k3, _ := newKey(t, s, app.ID, func(k *auth.Key) { k.IdentityID = kept.ID })
	k4, _ := newKey(t, s, app.ID, nil)

	mustTx(t, s, func(tx auth.Tx) error { return tx.DeleteIdentity(doomed.ID) })
	_, err := s.GetIdentity(ctx, doomed.ID)
	wantErr(t, "GetIdentity(deleted)", err, auth.ErrNotFound)
	_, err = s.IdentityByExternalID(ctx, app.ID, "doomed")
	wantErr(t, "IdentityByExternalID(deleted)", err, auth.ErrNotFound)
	k1.IdentityID, k2.IdentityID = "", ""
	for _, want := range []*auth.Key{k1, k2, k3, k4} {
		got, err := s.GetKey(ctx, want.ID)
		if err != nil {
			t.Fatalf("GetKey: %v", err)
		}
		wantEqual(t, "key after DeleteIdentity", got, want)
	}
	checkIdentity(t, s, kept)
	// The external id is free again.
	newIdentity(t, s, app.ID, "doomed", nil)
}

func testDeleteAppDeletesIdentities(t *testing.T, s auth.Store) {
	ctx := ctxT(t)
	a := newApp(t, s, "acme")
	b := newApp(t, s, "beta")
	ia := newIdentity(t, s, a.ID, "cust", fullIdentity)
	ib := newIdentity(t, s, b.ID, "cust", nil)
	ws := newIdentity(t, s, "", "cust", nil)
	mustTx(t, s, func(tx auth.Tx) error { return tx.DeleteApp(a.ID) })
	_, err := s.GetIdentity(ctx, ia.ID)
	wantErr(t, "GetIdentity of deleted app's identity", err, auth.ErrNotFound)
	_, err = s.IdentityByExternalID(ctx, a.ID, "cust")
	wantErr(t, "IdentityByExternalID of deleted app", err, auth.ErrNotFound)
	got, _, err := s.ListIdentities(ctx, auth.IdentityFilter{}, auth.Page{})
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "identities after DeleteApp", got, identitiesByID(ib, ws))
}

func newRole(t *testing.T, s auth.Store, name string, edit func(r *auth.Role)) *auth.Role {
	t.Helper()
	r := &auth.Role{ID: auth.NewID("role", t0), Name: name, CreatedAt: t0, UpdatedAt: t0}
	if edit != nil {
		edit(r)
	}
	mustTx(t, s, func(tx auth.Tx) error { return tx.InsertRole(r) })
	return r
}

func checkRole(t *testing.T, s auth.Store, r *auth.Role) {
	t.Helper()
	got, err := s.GetRole(ctxT(t), r.ID)
	if err != nil {
		t.Fatalf("GetRole: %v", err)
	}
	wantEqual(t, "GetRole", got, r)
	mustTx(t, s, func(tx auth.Tx) error {
		got, err := tx.GetRole(r.ID)
		if err != nil {
			return err
		}
		wantEqual(t, "Tx.GetRole", got, r)
		got, err = tx.GetRoleByName(r.Name)
		if err != nil {
			return err
		}
		wantEqual(t, "Tx.GetRoleByName", got, r)
		return nil
	})
}

func testRoles(t *testing.T, s auth.Store) {
	ctx := ctxT(t)
	minimal := newRole(t, s, "viewer", nil)
	full := newRole(t, s, "admin", func(r *auth.Role) {
		r.Description = "Everything, including billing."
		r.Permissions = []string{"documents.*", "billing.write"}
		r.UpdatedAt = t0.Add(time.Second)
	})
	empty := newRole(t, s, "nobody", func(r *auth.Role) { r.Permissions = []string{} })
	for _, r := range []*auth.Role{minimal, full, empty} {
		checkRole(t, s, r)
	}

	// Update: fill, then clear.
	minimal.Name, minimal.Description, minimal.Permissions = "reader", "reads", []string{"documents.read"}
	minimal.UpdatedAt = t0.Add(time.Hour)
	mustTx(t, s, func(tx auth.Tx) error { return tx.UpdateRole(minimal) })
	checkRole(t, s, minimal)
	minimal.Description, minimal.Permissions = "", nil
	mustTx(t, s, func(tx auth.Tx) error { return tx.UpdateRole(minimal) })
	checkRole(t, s, minimal)
	// The old name is free again.
	newRole(t, s, "viewer", nil)

	fresh := &auth.Role{ID: auth.NewID("role", t0), Name: "fresh", CreatedAt: t0, UpdatedAt: t0}
	codes := map[string]func(tx auth.Tx) error{
		"insert taken name": func(tx auth.Tx) error {
			return tx.InsertRole(&auth.Role{ID: auth.NewID("role", t0), Name: "admin", CreatedAt: t0, UpdatedAt: t0})
		},
		"update to taken name": func(tx auth.Tx) error { r := *minimal; r.Name = "admin"; return tx.UpdateRole(&r) },
	}
	for name, fn := range codes {
		wantCode(t, name, s.Tx(ctx, fn), auth.ErrConflict, "role_exists")
	}
	plain := map[string]struct {
		fn   func(tx auth.Tx) error
		want error
	}{
		"duplicate id":  {func(tx auth.Tx) error { r := *full; r.Name = "other"; return tx.InsertRole(&r) }, auth.ErrConflict},
		"get missing":   {func(tx auth.Tx) error { _, err := tx.GetRole("role_missing"); return err }, auth.ErrNotFound},
		"by name none":  {func(tx auth.Tx) error { _, err := tx.GetRoleByName("ghost"); return err }, auth.ErrNotFound},
		"update absent": {func(tx auth.Tx) error { return tx.UpdateRole(fresh) }, auth.ErrNotFound},
		"delete absent": {func(tx auth.Tx) error { return tx.DeleteRole("role_missing") }, auth.ErrNotFound},
	}
	for name, tc := range plain {
		wantNoCode(t, name, s.Tx(ctx, tc.fn), tc.want)
	}
	_, err := s.GetRole(ctx, "role_missing")
	wantErr(t, "GetRole(missing)", err, auth.ErrNotFound)
	checkRole(t, s, full)

	// Deleting a role leaves its name on keys and identities.
	app := newApp(t, s, "acme")
	k, _ := newKey(t, s, app.ID, func(k *auth.Key) { k.Roles = []string{"admin"} })
	i := newIdentity(t, s, app.ID, "cust", func(i *auth.Identity) { i.Roles = []string{"admin"} })
	mustTx(t, s, func(tx auth.Tx) error { return tx.DeleteRole(full.ID) })
	_, err = s.GetRole(ctx, full.ID)
	wantErr(t, "GetRole(deleted)", err, auth.ErrNotFound)
	if got, err := s.RolesByName(ctx, []string{"admin"}); err != nil || len(got) != 0 {
		t.Fatalf("RolesByName(deleted) = %s, %v; want none", dump(got), err)
	}
	gotKey, err := s.GetKey(ctx, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "key after DeleteRole", gotKey, k)
	checkIdentity(t, s, i)
}

func testRolesByName(t *testing.T, s auth.Store) {
	ctx := ctxT(t)
	a := newRole(t, s, "a", func(r *auth.Role) { r.Permissions = []string{"x.read"} })
	b := newRole(t, s, "b", nil)
	newRole(t, s, "c", nil)
	tests := []struct {
		name  string
		names []string
		want  []*auth.Role
	}{
		{"nil", nil, nil},
		{"empty", []string{}, nil},
		{"unknown only", []string{"ghost", ""}, nil},
		{"known and unknown", []string{"b", "ghost", "a"}, []*auth.Role{a, b}},
		{"duplicates", []string{"a", "a", "b", "a"}, []*auth.Role{a, b}},
		{"case matters", []string{"A", "B"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.RolesByName(ctx, tc.names)
			if err != nil {
				t.Fatalf("RolesByName: %v", err)
			}
			if len(got) == 0 && len(tc.want) == 0 {
				return
			}
			wantEqual(t, "RolesByName", got, tc.want)
		})
	}
	many := make([]string, 1000)
	for i := range many {
		many[i] = "role_" + strconv.Itoa(i)
	}
	many[999] = "c"
	got, err := s.RolesByName(ctx, many)
	if err != nil || len(got) != 1 || got[0].Name != "c" {
		t.Fatalf("RolesByName(1000 names) = %s, %v; want role c", dump(got), err)
	}
	_, err = s.RolesByName(ctx, append(many, "a"))
	wantErr(t, "RolesByName(1001 names)", err, auth.ErrInvalid)
}

func newOverride(t *testing.T, s auth.Store, at time.Time, namespace, identifier string) *auth.RateLimitOverride {
	t.Helper()
	o := &auth.RateLimitOverride{ID: auth.NewID("ovr", at), Namespace: namespace, Identifier: identifier,
		Limit: 10, Duration: time.Minute, CreatedAt: at, UpdatedAt: at}
	mustTx(t, s, func(tx auth.Tx) error { return tx.InsertOverride(o) })
	return o
}

func checkOverride(t *testing.T, s auth.Store, o *auth.RateLimitOverride) {
	t.Helper()
	mustTx(t, s, func(tx auth.Tx) error {
		got, err := tx.GetOverride(o.ID)
		if err != nil {
			return err
		}
		wantEqual(t, "Tx.GetOverride", got, o)
		return nil
	})
}

func testOverrides(t *testing.T, s auth.Store) {
	ctx := ctxT(t)
	exact := newOverride(t, s, t0, "api", "user_1")
	pattern := newOverride(t, s, t0.Add(time.Millisecond), "api", "user_*")
	elsewhere := newOverride(t, s, t0.Add(2*time.Millisecond), "uploads", "user_1") // same identifier, other namespace
	for _, o := range []*auth.RateLimitOverride{exact, pattern, elsewhere} {
		checkOverride(t, s, o)
	}
	got, err := s.OverridesOf(ctx, "api")
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "OverridesOf(api)", got, []*auth.RateLimitOverride{exact, pattern})
	if got, err := s.OverridesOf(ctx, "nothing"); err != nil || len(got) != 0 {
		t.Fatalf("OverridesOf(unknown) = %s, %v; want none", dump(got), err)
	}

	pattern.Limit, pattern.Duration, pattern.Identifier, pattern.UpdatedAt = 1_000_000, 24*time.Hour, "user_**", t0.Add(time.Hour)
	mustTx(t, s, func(tx auth.Tx) error { return tx.UpdateOverride(pattern) })
	checkOverride(t, s, pattern)
	pattern.Limit, pattern.Duration = 0, 1500*time.Millisecond
	mustTx(t, s, func(tx auth.Tx) error { return tx.UpdateOverride(pattern) })
	checkOverride(t, s, pattern)

	fresh := &auth.RateLimitOverride{ID: auth.NewID("ovr", t0), Namespace: "api", Identifier: "fresh",
		Limit: 1, Duration: time.Second, CreatedAt: t0, UpdatedAt: t0}
	codes := map[string]func(tx auth.Tx) error{
		"insert taken identifier": func(tx auth.Tx) error {
			o := *fresh
			o.Identifier = "user_1"
			return tx.InsertOverride(&o)
		},
		"update to taken identifier": func(tx auth.Tx) error {
			o := *elsewhere
			o.Namespace = "api"
			return tx.UpdateOverride(&o)
		},
	}
	for name, fn := range codes {
		wantCode(t, name, s.Tx(ctx, fn), auth.ErrConflict, "override_exists")
	}
	plain := map[string]struct {
		fn   func(tx auth.Tx) error
		want error
	}{
		"duplicate id":  {func(tx auth.Tx) error { o := *exact; o.Identifier = "other"; return tx.InsertOverride(&o) }, auth.ErrConflict},
		"get missing":   {func(tx auth.Tx) error { _, err := tx.GetOverride("ovr_missing"); return err }, auth.ErrNotFound},
		"update absent": {func(tx auth.Tx) error { return tx.UpdateOverride(fresh) }, auth.ErrNotFound},
		"delete absent": {func(tx auth.Tx) error { return tx.DeleteOverride("ovr_missing") }, auth.ErrNotFound},
		// Durations are stored in milliseconds: a finer one would not round-trip.
		"sub-millisecond duration": {func(tx auth.Tx) error {
			o := *fresh
			o.Duration = 1500 * time.Microsecond
			return tx.InsertOverride(&o)
		}, auth.ErrInvalid},
	}
	for name, tc := range plain {
		err := s.Tx(ctx, tc.fn)
		wantErr(t, name, err, tc.want)
		var ae *auth.Error
		if errors.As(err, &ae) && ae.Code == "override_exists" {
			t.Fatalf("%s: %v: not a taken identifier", name, err)
		}
	}

	mustTx(t, s, func(tx auth.Tx) error { return tx.DeleteOverride(exact.ID) })
	wantErr(t, "GetOverride(deleted)", s.Tx(ctx, func(tx auth.Tx) error {
		_, err := tx.GetOverride(exact.ID)
		return err
	}), auth.ErrNotFound)
	got, err = s.OverridesOf(ctx, "api")
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "OverridesOf(api) after delete", got, []*auth.RateLimitOverride{pattern})
	// The identifier is free again.
	newOverride(t, s, t0, "api", "user_1")
}

func testIdentityPagination(t *testing.T, s auth.Store) {
	ctx := ctxT(t)
	a := newApp(t, s, "acme")
	b := newApp(t, s, "beta")
	// 9 identities: i%3 == 0 workspace-wide, 1 in app a, 2 in app b.
	var all, inA []string
	var roleIDs, overrideIDs, apiIDs []string
	mustTx(t, s, func(tx auth.Tx) error {
		for i := 0; i < 9; i++ {
			at := t0.Add(time.Duration(i) * time.Millisecond)
			appID := [...]string{"", a.ID, b.ID}[i%3]
			id := &auth.Identity{ID: auth.NewID("id", at), AppID: appID, ExternalID: "cust_" + strconv.Itoa(i), CreatedAt: at, UpdatedAt: at}
			if err := tx.InsertIdentity(id); err != nil {
				return err
			}
			all = append(all, id.ID)
			if appID == a.ID {
				inA = append(inA, id.ID)
			}
			r := &auth.Role{ID: auth.NewID("role", at), Name: "role_" + strconv.Itoa(i), CreatedAt: at, UpdatedAt: at}
			if err := tx.InsertRole(r); err != nil {
				return err
			}
			roleIDs = append(roleIDs, r.ID)
			ns := "api"
			if i%2 == 1 {
				ns = "uploads"
			}
			o := &auth.RateLimitOverride{ID: auth.NewID("ovr", at), Namespace: ns, Identifier: "user_" + strconv.Itoa(i),
				Limit: int64(i), Duration: time.Second, CreatedAt: at, UpdatedAt: at}
			if err := tx.InsertOverride(o); err != nil {
				return err
			}
			overrideIDs = append(overrideIDs, o.ID)
			if ns == "api" {
				apiIDs = append(apiIDs, o.ID)
			}
		}
		return nil
	})

	identityID := func(i *auth.Identity) string { return i.ID }
	roleID := func(r *auth.Role) string { return r.ID }
	overrideID := func(o *auth.RateLimitOverride) string { return o.ID }
	empty := newApp(t, s, "empty")
	for _, limit := range []int{1, 2, 4, 100} {
		name := " (limit " + strconv.Itoa(limit) + ")"
		ids, _ := listAll(t, limit, func(p auth.Page) ([]*auth.Identity, string, error) {
			return s.ListIdentities(ctx, auth.IdentityFilter{}, p)
		}, identityID)
		wantEqual(t, "ListIdentities all"+name, ids, all)
		ids, _ = listAll(t, limit, func(p auth.Page) ([]*auth.Identity, string, error) {
			return s.ListIdentities(ctx, auth.IdentityFilter{AppID: a.ID}, p)
		}, identityID)
		wantEqual(t, "ListIdentities app"+name, ids, inA)
		ids, _ = listAll(t, limit, func(p auth.Page) ([]*auth.Identity, string, error) {
			return s.ListIdentities(ctx, auth.IdentityFilter{AppID: empty.ID}, p)
		}, identityID)
		wantEqual(t, "ListIdentities empty app"+name, ids, nil)
		ids, _ = listAll(t, limit, func(p auth.Page) ([]*auth.Role, string, error) { return s.ListRoles(ctx, p) }, roleID)
		wantEqual(t, "ListRoles"+name, ids, roleIDs)
		ids, _ = listAll(t, limit, func(p auth.Page) ([]*auth.RateLimitOverride, string, error) {
			return s.ListOverrides(ctx, "", p)
		}, overrideID)
		wantEqual(t, "ListOverrides all"+name, ids, overrideIDs)
		ids, _ = listAll(t, limit, func(p auth.Page) ([]*auth.RateLimitOverride, string, error) {
			return s.ListOverrides(ctx, "api", p)
		}, overrideID)
		wantEqual(t, "ListOverrides api"+name, ids, apiIDs)
	}
	_, pages := listAll(t, 3, func(p auth.Page) ([]*auth.Identity, string, error) {
		return s.ListIdentities(ctx, auth.IdentityFilter{}, p)
	}, identityID)
	if pages != 3 {
		t.Errorf("ListIdentities of 9 with limit 3 took %d pages, want 3", pages)
	}

	for _, c := range []string{"!!not base64!!", "Zm9v!"} {
		_, _, err := s.ListIdentities(ctx, auth.IdentityFilter{}, auth.Page{Cursor: c})
		wantErr(t, "ListIdentities(bad cursor)", err, auth.ErrInvalid)
		_, _, err = s.ListRoles(ctx, auth.Page{Cursor: c})
		wantErr(t, "ListRoles(bad cursor)", err, auth.ErrInvalid)
		_, _, err = s.ListOverrides(ctx, "api", auth.Page{Cursor: c})
		wantErr(t, "ListOverrides(bad cursor)", err, auth.ErrInvalid)
	}
}

func testIdentityTxRollback(t *testing.T, s auth.Store) {
	ctx := ctxT(t)
	app := newApp(t, s, "acme")
	ident := newIdentity(t, s, app.ID, "cust", fullIdentity)
	k, _ := newKey(t, s, app.ID, func(k *auth.Key) { k.IdentityID = ident.ID })
	role := newRole(t, s, "admin", nil)
	ovr := newOverride(t, s, t0, "api", "user_1")
	boom := errors.New("boom")
	err := s.Tx(ctx, func(tx auth.Tx) error {
		steps := []func() error{
			func() error {
				return tx.InsertIdentity(&auth.Identity{ID: auth.NewID("id", t0), ExternalID: "new", CreatedAt: t0, UpdatedAt: t0})
			},
			func() error { i := *ident; i.ExternalID = "changed"; return tx.UpdateIdentity(&i) },
			func() error { return tx.DeleteIdentity(ident.ID) },
			func() error {
				return tx.InsertRole(&auth.Role{ID: auth.NewID("role", t0), Name: "new", CreatedAt: t0, UpdatedAt: t0})
			},
			func() error { r := *role; r.Name = "changed"; return tx.UpdateRole(&r) },
			func() error { return tx.DeleteRole(role.ID) },
			func() error {
				return tx.InsertOverride(&auth.RateLimitOverride{ID: auth.NewID("ovr", t0), Namespace: "api", Identifier: "new",
					Limit: 1, Duration: time.Second, CreatedAt: t0, UpdatedAt: t0})
			},
			func() error { o := *ovr; o.Limit = 99; return tx.UpdateOverride(&o) },
			func() error { return tx.DeleteOverride(ovr.ID) },
		}
		for i, step := range steps {
			if err := step(); err != nil {
				return fmt.Errorf("step %d: %w", i, err)
			}
		}
		return boom
	})
	if err != boom {
		t.Fatalf("Tx returned %v, want fn's error unchanged", err)
	}
	ids, _, err := s.ListIdentities(ctx, auth.IdentityFilter{}, auth.Page{})
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "identities after rollback", ids, []*auth.Identity{ident})
	gotKey, err := s.GetKey(ctx, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "key after rollback", gotKey, k)
	roles, _, err := s.ListRoles(ctx, auth.Page{})
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "roles after rollback", roles, []*auth.Role{role})
	ovrs, _, err := s.ListOverrides(ctx, "", auth.Page{})
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "overrides after rollback", ovrs, []*auth.RateLimitOverride{ovr})
}

// testConstraintReaderUnavailable: what the verify path reads answers
// ErrUnavailable, not ErrNotFound, when the store cannot serve it (a denial
// must not stand in for an outage).
func testConstraintReaderUnavailable(t *testing.T, s auth.Store) {
	ctx := ctxT(t)
	ident := newIdentity(t, s, "", "cust", nil)
	newRole(t, s, "admin", nil)
	newOverride(t, s, t0, "api", "user_1")
	calls := map[string]func(ctx context.Context) error{
		"GetIdentity": func(ctx context.Context) error { _, err := s.GetIdentity(ctx, ident.ID); return err },
		"RolesByName": func(ctx context.Context) error { _, err := s.RolesByName(ctx, []string{"admin"}); return err },
		"OverridesOf": func(ctx context.Context) error { _, err := s.OverridesOf(ctx, "api"); return err },
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	for name, call := range calls {
		if err := call(ctx); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := call(cancelled); !errors.Is(err, auth.ErrUnavailable) {
			t.Errorf("%s with cancelled context: %v, want ErrUnavailable", name, err)
		}
	}
}
