package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/typeauth/typeauth/client"
)

// pgURL returns a URL to a fresh, empty schema of the test database, dropped
// when the test ends. Without TYPEAUTH_TEST_POSTGRES_URL the test skips,
// except under CI=true, where that is a failure.
func pgURL(t *testing.T) string {
	t.Helper()
	base := os.Getenv("TYPEAUTH_TEST_POSTGRES_URL")
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("TYPEAUTH_TEST_POSTGRES_URL is not set (required under CI=true)")
		}
		t.Skip("set TYPEAUTH_TEST_POSTGRES_URL to run the PostgreSQL end-to-end tests")
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "e2e_" + hex.EncodeToString(b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, base); err == nil {
			c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
			c.Close(ctx)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func TestContractPostgres(t *testing.T) {
	p := start(t, serveOpts{databaseURL: pgURL(t)})
	runContract(t, p)
}

// TestCreditsTwoProcessesPostgres: two TypeAuth processes share one
// database; 200 concurrent verifies of a key with 100 credits, spread over
// both, give exactly 100 VALID.
func TestCreditsTwoProcessesPostgres(t *testing.T) {
	db := pgURL(t)
	root := newRootKey()
	a := start(t, serveOpts{databaseURL: db, rootKey: root})
	b := start(t, serveOpts{databaseURL: db, rootKey: root})
	app := createApp(t, a, "A", "pc")
	k := createKey(t, a, client.CreateKeyRequest{AppID: app.ID, Credits: &client.Credits{Remaining: 100}})
	if valid := hammer(t, []*proc{a, b}, k.Secret, 200, 50); valid != 100 {
		t.Fatalf("%d VALID answers for 100 credits across two processes", valid)
	}
	var got client.Key
	call(t, "GET", b.Admin+"/v1/keys/"+k.ID, root, nil, &got)
	if got.Credits.Remaining != 0 {
		t.Fatalf("remaining %d", got.Credits.Remaining)
	}
	// Each process bootstrapped nothing twice: one root key.
	var rks client.List[client.RootKey]
	call(t, "GET", b.Admin+"/v1/rootkeys", root, nil, &rks)
	if len(rks.Data) != 1 {
		t.Fatalf("%d root keys after two starts with the same TYPEAUTH_ROOT_KEY", len(rks.Data))
	}
}

func TestKill9CreditsPostgres(t *testing.T) {
	db := pgURL(t)
	root := newRootKey()
	p := start(t, serveOpts{databaseURL: db, rootKey: root})
	app := createApp(t, p, "A", "pk")
	const n = 100_000
	k := createKey(t, p, client.CreateKeyRequest{AppID: app.ID, Credits: &client.Credits{Remaining: n}})
	valid, unanswered := loadUntilKilled(t, p, k.Secret, 32)
	t.Logf("VALID answers before kill -9: %d; requests without an answer: %d", valid, unanswered)
	p2 := start(t, serveOpts{databaseURL: db, rootKey: root})
	var got client.Key
	call(t, "GET", p2.Admin+"/v1/keys/"+k.ID, root, nil, &got)
	spent := n - got.Credits.Remaining
	if spent < int64(valid) || spent > int64(valid+unanswered) {
		t.Fatalf("after restart %d credits are spent; clients saw %d VALID and %d cut-off requests", spent, valid, unanswered)
	}
}
