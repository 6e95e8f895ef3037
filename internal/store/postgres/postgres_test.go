package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/typeauth/typeauth/internal/auth"
	"github.com/typeauth/typeauth/internal/store/postgres"
	"github.com/typeauth/typeauth/internal/store/storetest"
)

// baseURL returns TYPEAUTH_TEST_POSTGRES_URL; without it the test is skipped,
// or fails when CI=true.
func baseURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("TYPEAUTH_TEST_POSTGRES_URL")
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("TYPEAUTH_TEST_POSTGRES_URL is not set (required when CI=true)")
		}
		t.Skip("TYPEAUTH_TEST_POSTGRES_URL is not set; e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	}
	return u
}

// freshSchema creates a schema with a random name, drops it in t.Cleanup, and
// returns a URL whose search_path is that schema.
func freshSchema(t *testing.T) string {
	t.Helper()
	base := baseURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var b [8]byte
	rand.Read(b[:])
	schema := "typeauth_test_" + hex.EncodeToString(b[:])
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("connect for cleanup: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("options", "-c search_path="+schema)
	// pgx decodes the query with PathUnescape: a space must be %20, not +.
	u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
	return u.String()
}

func open(t *testing.T, dsn string) *postgres.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openMigrated(t *testing.T, dsn string) *postgres.Store {
	t.Helper()
	s := open(t, dsn)
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}

func TestContract(t *testing.T) {
	baseURL(t)
	storetest.Run(t, func(t *testing.T) auth.Store { return openMigrated(t, freshSchema(t)) })
	storetest.RunShared(t, func(t *testing.T) (auth.Store, auth.Store) {
		dsn := freshSchema(t)
		return openMigrated(t, dsn), openMigrated(t, dsn)
	})
}

func TestMigrateConcurrently(t *testing.T) {
	dsn := freshSchema(t)
	ctx := context.Background()
	stores := []*postgres.Store{open(t, dsn), open(t, dsn), open(t, dsn)}
	if v, err := stores[0].SchemaVersion(ctx); err != nil || v != 0 {
		t.Fatalf("SchemaVersion before Migrate = %d, %v; want 0", v, err)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(stores))
	for i, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Migrate(ctx)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Migrate #%d: %v", i, err)
		}
	}
	for _, s := range stores {
		if v, err := s.SchemaVersion(ctx); err != nil || v != s.LatestSchemaVersion() || v < 1 {
			t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, s.LatestSchemaVersion())
		}
	}
	if err := stores[0].Migrate(ctx); err != nil {
		t.Fatalf("Migrate again: %v", err)
	}
}

func TestSearchPathParam(t *testing.T) {
	// search_path given directly as a URL parameter works too.
	dsn := freshSchema(t)
	u, _ := url.Parse(dsn)
	q := u.Query()
	schema := q.Get("options")[len("-c search_path="):]
	q.Del("options")
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	s := openMigrated(t, u.String())
	if _, err := s.GetApp(context.Background(), "app_x"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("GetApp: %v, want ErrNotFound", err)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := postgres.Open(ctx, "postgres://user:hunter2@[bad"); !errors.Is(err, auth.ErrInvalid) {
		t.Fatalf("Open(bad URL) = %v, want ErrInvalid", err)
	} else if contains(err.Error(), "hunter2") {
		t.Fatalf("error leaks the password: %v", err)
	}
	// Nothing listens on port 1.
	if _, err := postgres.Open(ctx, "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2"); !errors.Is(err, auth.ErrUnavailable) {
		t.Fatalf("Open(unreachable) = %v, want ErrUnavailable", err)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
