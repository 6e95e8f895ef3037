// Package postgres is the shared TypeAuth store for several replicas, on
// PostgreSQL through a pgx connection pool.
//
// Transactions run at READ COMMITTED; read-modify-write paths lock the rows
// they change (the Tx getters read with SELECT … FOR UPDATE, audit appends
// lock the one-row chain head), and SpendCredits is one conditional UPDATE, so
// concurrent writers from any number of processes stay exact. Commits are
// durable when they return (synchronous_commit=on unless the URL says
// otherwise).
//
// Tables live in the first schema of the search_path, which the URL may set
// (options=-c search_path=NAME, or search_path=NAME). Open does not create
// the schema: call Migrate.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/typeauth/typeauth/internal/auth"
)

var _ auth.Store = (*Store)(nil)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Store is a TypeAuth store on a PostgreSQL database.
type Store struct {
	pool *pgxpool.Pool
}

type options struct {
	maxConns int32
}

// Option tunes Open.
type Option func(*options)

// WithMaxConns sets the pool size (default: pgxpool's, or pool_max_conns in
// the URL).
func WithMaxConns(n int32) Option { return func(o *options) { o.maxConns = n } }

// Open connects to the database at url (postgres://…) and checks that it
// answers. It does not migrate.
func Open(ctx context.Context, url string, opts ...Option) (*Store, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parse error may quote the URL, password included.
		return nil, fmt.Errorf("postgres: invalid database URL: %w", auth.ErrInvalid)
	}
	if o.maxConns > 0 {
		cfg.MaxConns = o.maxConns
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["synchronous_commit"]; !ok {
		cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "on"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, translate("open", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, translate("open", err)
	}
	return &Store{pool: pool}, nil
}

// Close closes the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	return translate("ping", s.pool.Ping(ctx))
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
			return nil, fmt.Errorf("postgres: bad migration file name %q", name)
		}
		v, err := strconv.Atoi(num)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("postgres: bad migration file name %q", name)
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
			return nil, fmt.Errorf("postgres: duplicate migration version %d", migs[i].version)
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
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return 0, translate("schema version", err)
	}
	if !exists {
		return 0, nil
	}
	var v int
	if err := s.pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, translate("schema version", err)
	}
	return v, nil
}

// migrateLock is the first key of the session advisory lock Migrate holds;
// the second is a hash of the schema, so that migrations of different schemas
// do not wait for each other.
const migrateLock = 0x74617574 // "taut"

// Migrate applies every embedded migration not yet recorded in
// schema_migrations, each in its own transaction. It holds a session advisory
// lock meanwhile, so processes starting at once migrate one after the other
// and the later ones find nothing left to do.
func (s *Store) Migrate(ctx context.Context) (err error) {
	migs, err := loadMigrations()
	if err != nil {
		return err
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return translate("migrate", err)
	}
	defer conn.Release()
	const key2 = `hashtext(coalesce(current_schema(), ''))`
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1, `+key2+`)`, int32(migrateLock)); err != nil {
		return translate("migrate: lock", err)
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, uerr := conn.Exec(uctx, `SELECT pg_advisory_unlock($1, `+key2+`)`, int32(migrateLock)); uerr != nil {
			// Do not hand a connection that may still hold the lock back to
			// the pool.
			conn.Conn().Close(uctx)
			if err == nil {
				err = translate("migrate: unlock", uerr)
			}
		}
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at BIGINT  NOT NULL
	)`); err != nil {
		return translate("migrate", err)
	}
	for _, m := range migs {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE version = $1`, m.version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.version, m.name, time.Now().UnixMilli())
			return err
		})
		if err != nil {
			return fmt.Errorf("postgres: migration %s: %w", m.name, translate("migrate", err))
		}
	}
	return nil
}

// PurgeIdempotency deletes idempotency records created before before and
// returns how many it deleted.
func (s *Store) PurgeIdempotency(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM idempotency WHERE created_at < $1`, before.UnixMilli())
	if err != nil {
		return 0, translate("purge idempotency", err)
	}
	return tag.RowsAffected(), nil
}

// translate maps a driver error to the auth sentinels, by SQLSTATE. Errors
// that do not come from the server (a cancelled context, a closed pool, a
// broken connection, an undecodable row) mean the store cannot serve the
// call: ErrUnavailable. Other server errors are wrapped as they are.
func translate(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("postgres: %s: %w", op, auth.ErrNotFound)
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return fmt.Errorf("postgres: %s: %w: %w", op, auth.ErrUnavailable, err)
	}
	switch pe.Code {
	case "23505": // unique_violation
		return fmt.Errorf("postgres: %s: %w: %w", op, auth.ErrConflict, err)
	case "23503": // foreign_key_violation
		return fmt.Errorf("postgres: %s: %w: %w", op, auth.ErrNotFound, err)
	case "40001", "40P01": // serialization_failure, deadlock_detected: retry later
		return fmt.Errorf("postgres: %s: %w: %w", op, auth.ErrUnavailable, err)
	}
	class := pe.Code
	if len(class) > 2 {
		class = class[:2]
	}
	switch class {
	case "08", // connection exception
		"53", // insufficient resources
		"57", // operator intervention (query_canceled, admin_shutdown, cannot_connect_now)
		"58": // system error
		return fmt.Errorf("postgres: %s: %w: %w", op, auth.ErrUnavailable, err)
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}
