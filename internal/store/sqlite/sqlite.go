// Package sqlite is the embedded TypeAuth store: one SQLite file, through
// modernc.org/sqlite (pure Go, no cgo).
//
// A Store holds two pools on the same file. The writer pool has exactly one
// connection: every transaction (begun IMMEDIATE), every credit spend and every
// other write goes through it, so writes never race each other for the lock
// inside one process. The reader pool has several read-only connections; in
// WAL mode they read concurrently with the writer. Writes are durable when
// they return (journal_mode=WAL, synchronous=FULL).
//
// Open does not create the schema: call Migrate.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/typeauth/typeauth/internal/auth"
)

var _ auth.Store = (*Store)(nil)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// FileName is the database file OpenDir creates inside its directory.
const FileName = "typeauth.db"

// Store is a TypeAuth store on one SQLite file.
type Store struct {
	w *sql.DB // one connection: all writes
	r *sql.DB // read-only connections
}

type options struct {
	busyTimeout time.Duration
	readConns   int
}

// Option tunes Open.
type Option func(*options)

// WithBusyTimeout sets how long a statement waits for a lock held by another
// connection or process before failing with ErrUnavailable (default 5 s).
func WithBusyTimeout(d time.Duration) Option { return func(o *options) { o.busyTimeout = d } }

// WithReadConns sets the size of the reader pool (default 8).
func WithReadConns(n int) Option { return func(o *options) { o.readConns = n } }

// Open opens (creating it if needed) the SQLite database at dsnOrPath: a file
// path, or a "file:" URI. Query parameters given in a URI are kept; Open adds
// its own pragmas. In-memory databases are not supported (WAL and the two
// pools need a file). Open checks that the file can be used but does not
// migrate it.
func Open(ctx context.Context, dsnOrPath string, opts ...Option) (*Store, error) {
	o := options{busyTimeout: 5 * time.Second, readConns: 8}
	for _, opt := range opts {
		opt(&o)
	}
	if o.readConns < 1 {
		o.readConns = 1
	}
	if dsnOrPath == "" || strings.Contains(dsnOrPath, ":memory:") || strings.Contains(dsnOrPath, "mode=memory") {
		return nil, fmt.Errorf("sqlite: open %q: a database file is required: %w", dsnOrPath, auth.ErrInvalid)
	}
	sep := "?"
	if strings.HasPrefix(dsnOrPath, "file:") && strings.Contains(dsnOrPath, "?") {
		sep = "&"
	}
	busy := "_pragma=busy_timeout(" + strconv.FormatInt(o.busyTimeout.Milliseconds(), 10) + ")"
	common := busy + "&_pragma=foreign_keys(1)"
	wdsn := dsnOrPath + sep + common + "&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate"
	rdsn := dsnOrPath + sep + common + "&_pragma=query_only(1)"

	w, err := sql.Open("sqlite", wdsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	// The writer connects first: it switches the file to WAL before any
	// reader opens it.
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, translate("open", err)
	}
	r, err := sql.Open("sqlite", rdsn)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	r.SetMaxOpenConns(o.readConns)
	r.SetMaxIdleConns(o.readConns)
	r.SetConnMaxLifetime(0)
	r.SetConnMaxIdleTime(0)
	if err := r.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return nil, translate("open", err)
	}
	return &Store{w: w, r: r}, nil
}

// OpenDir opens dir/typeauth.db, creating dir (mode 0700) and the file
// (mode 0600) if needed.
func OpenDir(ctx context.Context, dir string, opts ...Option) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: create data dir: %w", err)
	}
	path := filepath.Join(dir, FileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: create database file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("sqlite: create database file: %w", err)
	}
	return Open(ctx, path, opts...)
}

// Close closes both pools.
func (s *Store) Close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}

// Ping checks that both pools can reach the file.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return translate("ping", err)
	}
	if err := s.r.PingContext(ctx); err != nil {
		return translate("ping", err)
	}
	return nil
}

type migration struct {
	version int
	name    string
	sql     string
}

func loadMigrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var migs []migration
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		if !ok || !strings.HasSuffix(name, ".sql") {
			return nil, fmt.Errorf("sqlite: bad migration file name %q", name)
		}
		v, err := strconv.Atoi(num)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("sqlite: bad migration file name %q", name)
		}
		b, err := migrationFiles.ReadFile("migrations/" + name)
		if err != nil {
			return nil, err
		}
		migs = append(migs, migration{version: v, name: name, sql: string(b)})
	}
	sort.Slice(migs, func(i, j int) bool { return migs[i].version < migs[j].version })
	for i := 1; i < len(migs); i++ {
		if migs[i].version == migs[i-1].version {
			return nil, fmt.Errorf("sqlite: duplicate migration version %d", migs[i].version)
		}
	}
	return migs, nil
}

// LatestSchemaVersion is the version Migrate brings the schema to.
func (s *Store) LatestSchemaVersion() int {
	migs, err := loadMigrations()
	if err != nil || len(migs) == 0 {
		return 0
	}
	return migs[len(migs)-1].version
}

// SchemaVersion returns the highest applied migration (0 before Migrate).
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var n int
	err := s.r.QueryRowContext(ctx,
		`SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'`).Scan(&n)
	if err != nil {
		return 0, translate("schema version", err)
	}
	if n == 0 {
		return 0, nil
	}
	var v int
	if err := s.r.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, translate("schema version", err)
	}
	return v, nil
}

// Migrate applies every embedded migration not yet recorded in
// schema_migrations, each in its own IMMEDIATE transaction. It is safe to run
// from several processes at once: the write lock serializes them and each
// re-checks what is applied after taking it.
func (s *Store) Migrate(ctx context.Context) error {
	migs, err := loadMigrations()
	if err != nil {
		return err
	}
	if _, err := s.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL
	) STRICT`); err != nil {
		return translate("migrate", err)
	}
	for _, m := range migs {
		if err := s.applyMigration(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) applyMigration(ctx context.Context, m migration) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return translate("migrate", err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.version).Scan(&n); err != nil {
		return translate("migrate", err)
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return fmt.Errorf("sqlite: migration %s: %w", m.name, translate("migrate", err))
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.version, m.name, time.Now().UnixMilli()); err != nil {
		return translate("migrate", err)
	}
	if err := tx.Commit(); err != nil {
		return translate("migrate", err)
	}
	return nil
}

// PurgeIdempotency deletes idempotency records created before before and
// returns how many it deleted.
func (s *Store) PurgeIdempotency(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM idempotency WHERE created_at < ?`, before.UnixMilli())
	if err != nil {
		return 0, translate("purge idempotency", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, translate("purge idempotency", err)
	}
	return n, nil
}

// translate maps a driver error to the auth sentinels, by SQLite extended
// result code. Errors that do not come from SQLite itself (a cancelled
// context, a closed pool, a broken connection, an undecodable row) mean the
// store cannot serve the call: ErrUnavailable. Other SQLite errors are wrapped
// as they are.
func translate(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlite: %s: %w", op, auth.ErrNotFound)
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return fmt.Errorf("sqlite: %s: %w: %w", op, auth.ErrUnavailable, err)
	}
	code := se.Code()
	switch code {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return fmt.Errorf("sqlite: %s: %w: %w", op, auth.ErrConflict, err)
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return fmt.Errorf("sqlite: %s: %w: %w", op, auth.ErrNotFound, err)
	}
	switch code & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR,
		sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_INTERRUPT, sqlite3.SQLITE_NOTADB,
		sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_PROTOCOL, sqlite3.SQLITE_NOLFS, sqlite3.SQLITE_PERM,
		sqlite3.SQLITE_NOMEM:
		return fmt.Errorf("sqlite: %s: %w: %w", op, auth.ErrUnavailable, err)
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}
