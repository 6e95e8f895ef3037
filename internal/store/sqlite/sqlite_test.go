package sqlite_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/typeauth/typeauth/internal/auth"
	"github.com/typeauth/typeauth/internal/store/sqlite"
	"github.com/typeauth/typeauth/internal/store/storetest"
)

func openAt(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) auth.Store {
		return openAt(t, filepath.Join(t.TempDir(), "test.db"))
	})
	storetest.RunShared(t, func(t *testing.T) (auth.Store, auth.Store) {
		path := filepath.Join(t.TempDir(), "test.db")
		return openAt(t, path), openAt(t, path)
	})
}

func TestOpenDirAndMigrate(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	s, err := sqlite.OpenDir(ctx, dir)
	if err != nil {
		t.Fatalf("OpenDir: %v", err)
	}
	defer s.Close()
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, sqlite.FileName): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %v, want %v", path, got, want)
		}
	}
	if v, err := s.SchemaVersion(ctx); err != nil || v != 0 {
		t.Fatalf("SchemaVersion before Migrate = %d, %v; want 0", v, err)
	}
	// Open does not migrate.
	if _, err := s.GetApp(ctx, "app_x"); err == nil || errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("GetApp on an unmigrated store: %v, want a schema error", err)
	}
	for i := 0; i < 2; i++ { // idempotent
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("Migrate #%d: %v", i+1, err)
		}
	}
	if v, err := s.SchemaVersion(ctx); err != nil || v != s.LatestSchemaVersion() || v < 1 {
		t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, s.LatestSchemaVersion())
	}
	var mode, sync string
	if err := s.Pragma(ctx, "journal_mode", &mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	if err := s.Pragma(ctx, "synchronous", &sync); err != nil || sync != "2" {
		t.Errorf("synchronous = %q, %v; want 2 (FULL)", sync, err)
	}
}

func TestOpenRejectsMemory(t *testing.T) {
	if _, err := sqlite.Open(context.Background(), ":memory:"); !errors.Is(err, auth.ErrInvalid) {
		t.Fatalf("Open(:memory:) = %v, want ErrInvalid", err)
	}
}
