package cluster_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/typeauth/typeauth/internal/auth"
	"github.com/typeauth/typeauth/internal/cluster"
	"github.com/typeauth/typeauth/internal/faultproxy"
	"github.com/typeauth/typeauth/internal/manage"
	"github.com/typeauth/typeauth/internal/store/postgres"
	"github.com/typeauth/typeauth/internal/verify"
)

// freshSchema returns a URL to a new schema of TYPEAUTH_TEST_POSTGRES_URL,
// dropped when the test ends (skips without it, fails under CI=true).
func freshSchema(t *testing.T) string {
	t.Helper()
	base := os.Getenv("TYPEAUTH_TEST_POSTGRES_URL")
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("TYPEAUTH_TEST_POSTGRES_URL is not set (required when CI=true)")
		}
		t.Skip("TYPEAUTH_TEST_POSTGRES_URL is not set")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var b [6]byte
	rand.Read(b[:])
	schema := "cluster_test_" + hex.EncodeToString(b[:])
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, base); err == nil {
			c.Exec(ctx, `DROP SCHEMA `+schema+` CASCADE`)
			c.Close(ctx)
		}
	})
	u, _ := url.Parse(base)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func withHost(t *testing.T, dsn, hostport string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = hostport
	return u.String()
}

func hostOf(t *testing.T, dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// TestRevokeReachesOtherReplica: replica A revokes, replica B (its own
// store handle, its own cache) answers NOT_FOUND within the bound; then the
// link between B and PostgreSQL is cut and restored repeatedly, and B
// neither leaks goroutines nor connections and catches up each time.
func TestRevokeReachesOtherReplica(t *testing.T) {
	dsn := freshSchema(t)
	ctx := context.Background()
	stA, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer stA.Close()
	if err := stA.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	proxy, err := faultproxy.Start(hostOf(t, dsn))
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()

	baseline := runtime.NumGoroutine()
	stB, err := postgres.Open(ctx, withHost(t, dsn, proxy.Addr()), postgres.WithMaxConns(4))
	if err != nil {
		t.Fatal(err)
	}
	vA := verify.New(stA, verify.Options{})
	vB := verify.New(stB, verify.Options{StoreTimeout: time.Second, StaleWindow: time.Minute})
	m := manage.New(stA, vA, nil, nil)
	invCtx, stopInv := context.WithCancel(ctx)
	inv := cluster.New(stB, vB, cluster.Options{PollInterval: 250 * time.Millisecond, Timeout: time.Second, Reconnect: 100 * time.Millisecond})
	wait, err := inv.Start(invCtx)
	if err != nil {
		t.Fatal(err)
	}

	app, err := m.CreateApp(ctx, manage.System, "A", "cl", nil)
	if err != nil {
		t.Fatal(err)
	}
	newKey := func() (string, string) {
		t.Helper()
		ck, err := m.CreateKey(ctx, manage.System, &auth.Key{AppID: app.ID, Enabled: true}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return ck.Key.ID, ck.Secret
	}
	code := func(v *verify.Verifier, secret string) auth.Code {
		t.Helper()
		d, err := v.Verify(ctx, &verify.Request{Key: secret})
		if err != nil {
			return "ERROR"
		}
		return d.Code
	}
	untilNotFound := func(secret string, within time.Duration) time.Duration {
		t.Helper()
		start := time.Now()
		for time.Since(start) < within {
			if code(vB, secret) == auth.CodeNotFound {
				return time.Since(start)
			}
			time.Sleep(200 * time.Microsecond)
		}
		t.Fatalf("the revoked key still passes on B after %v", within)
		return 0
	}

	var lat []time.Duration
	for range 20 {
		id, secret := newKey()
		if c := code(vB, secret); c != auth.CodeValid {
			t.Fatalf("new key on B: %s", c)
		}
		start := time.Now()
		if err := m.RevokeKey(ctx, manage.System, id); err != nil {
			t.Fatal(err)
		}
		untilNotFound(secret, 2*time.Second)
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	t.Logf("revoke on A → NOT_FOUND on B (LISTEN/NOTIFY): p50 %v, p99 %v, max %v (20 revokes)", lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1])
	if lat[len(lat)*99/100] > time.Second {
		t.Errorf("p99 %v over the 1s bound", lat[len(lat)*99/100])
	}

	// Fault cycles: cut B from PostgreSQL, revoke on A meanwhile, restore.
	for cycle := range 8 {
		id, secret := newKey()
		if c := code(vB, secret); c != auth.CodeValid {
			t.Fatalf("cycle %d: new key on B: %s", cycle, c)
		}
		proxy.Cut()
		if err := m.RevokeKey(ctx, manage.System, id); err != nil {
			t.Fatal(err)
		}
		// B is cut off: it serves its cached copy (within the TTL) and
		// fails closed on what it never loaded.
		other, otherSecret := newKey()
		_ = other
		if c := code(vB, otherSecret); c != "ERROR" {
			t.Fatalf("cycle %d: a key B never loaded, with the store cut: %s; want an error (503)", cycle, c)
		}
		time.Sleep(300 * time.Millisecond)
		proxy.Restore()
		untilNotFound(secret, 5*time.Second)
		if c := code(vB, otherSecret); c != auth.CodeValid {
			t.Fatalf("cycle %d: after restore: %s", cycle, c)
		}
	}
	if inv.Applied() == 0 {
		t.Fatal("nothing applied")
	}
	// Connections through the proxy: B's pool (max 4) and one listener.
	if n := proxy.Conns(); n > 2*(4+1) {
		t.Errorf("%d proxied connections (both sides) after the cycles; want at most %d", n, 2*(4+1))
	}
	stopInv()
	wait()
	stB.Close()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > baseline+2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > baseline+2 {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Fatalf("%d goroutines after the fault cycles and shutdown; %d before:\n%s", n, baseline, trim(string(buf)))
	}
}

func trim(s string) string {
	if len(s) > 8000 {
		return s[:8000] + "…"
	}
	return strings.TrimSpace(s)
}
