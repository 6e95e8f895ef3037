package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"github.com/typeauth/typeauth/internal/store/rowcodec"
	"strconv"
	"time"

	"github.com/typeauth/typeauth/internal/auth"
)

// KeyBySecret returns the key that has a secret with this hash, and that
// secret. It returns the secret even when its ExpiresAt has passed: the caller
// (the verifier) compares Secret.ExpiresAt with its own clock. ErrNotFound if
// no secret has this hash.
func (s *Store) KeyBySecret(ctx context.Context, hash [32]byte) (*auth.Key, *auth.Secret, error) {
	var (
		h       []byte
		sec     auth.Secret
		created int64
		expires sql.NullInt64
	)
	k, err := rowcodec.ScanKey(s.r.QueryRowContext(ctx, `SELECT `+prefixed("k.", rowcodec.KeyColumns)+`,
		s.hash, s.start, s.created_at, s.expires_at
		FROM key_secrets s JOIN keys k ON k.id = s.key_id WHERE s.hash = ?`, hash[:]),
		&h, &sec.Start, &created, &expires)
	if err != nil {
		return nil, nil, translate("key by secret", err)
	}
	if sec.Hash, err = rowcodec.Hash32(h); err != nil {
		return nil, nil, err
	}
	sec.KeyID, sec.CreatedAt, sec.ExpiresAt = k.ID, rowcodec.FromMS(created), rowcodec.FromNullMS(expires)
	return k, &sec, nil
}

// periodStarts returns the daily and monthly refill period starts at now.
func periodStarts(now time.Time) (day, month int64) {
	return rowcodec.MS(auth.RefillDaily.PeriodStart(now)), rowcodec.MS(auth.RefillMonthly.PeriodStart(now))
}

// The period start of the key's refill interval (NULL if none); a refill is
// due when refill_amount > 0 and the last refill is older than it.
const (
	spendPeriodStart = `(CASE refill_interval WHEN 'daily' THEN :day WHEN 'monthly' THEN :month END)`
	spendDue         = `(coalesce(refill_amount, 0) > 0 AND ` + spendPeriodStart + ` IS NOT NULL AND
		(last_refill_at IS NULL OR last_refill_at < ` + spendPeriodStart + `))`
	spendEffective = `(CASE WHEN ` + spendDue + ` THEN refill_amount ELSE credits_remaining END)`
)

// SpendCredits applies a due refill and takes cost credits in one
// conditional UPDATE on the writer connection; it returns after the commit is
// synced (synchronous=FULL). When too few credits remain it writes nothing
// and reports the effective remaining. ErrNotFound if the key does not exist
// or has no credits.
func (s *Store) SpendCredits(ctx context.Context, keyID string, cost int64, now time.Time) (auth.SpendResult, error) {
	if cost < 0 {
		return auth.SpendResult{}, auth.Errorf(auth.ErrInvalid, "invalid_cost", "credit cost must not be negative")
	}
	day, month := periodStarts(now)
	if cost > 0 {
		var remaining int64
		err := s.w.QueryRowContext(ctx, `UPDATE keys SET
			credits_remaining = `+spendEffective+` - :cost,
			last_refill_at = CASE WHEN `+spendDue+` THEN `+spendPeriodStart+` ELSE last_refill_at END
			WHERE id = :id AND credits_remaining IS NOT NULL AND `+spendEffective+` >= :cost
			RETURNING credits_remaining`,
			sql.Named("id", keyID), sql.Named("cost", cost), sql.Named("day", day), sql.Named("month", month),
		).Scan(&remaining)
		if err == nil {
			return auth.SpendResult{OK: true, Remaining: remaining}, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return auth.SpendResult{}, translate("spend credits", err)
		}
	}
	// Not enough credits, or nothing to spend: report the effective remaining.
	var remaining sql.NullInt64
	err := s.r.QueryRowContext(ctx, `SELECT `+spendEffective+` FROM keys WHERE id = :id`,
		sql.Named("id", keyID), sql.Named("day", day), sql.Named("month", month)).Scan(&remaining)
	if err != nil {
		return auth.SpendResult{}, translate("spend credits", err)
	}
	if !remaining.Valid {
		return auth.SpendResult{}, fmt.Errorf("sqlite: spend credits: key has no credits: %w", auth.ErrNotFound)
	}
	return auth.SpendResult{OK: cost == 0, Remaining: remaining.Int64}, nil
}

// GetApp returns the app with this id; ErrNotFound if none.
func (s *Store) GetApp(ctx context.Context, id string) (*auth.App, error) {
	a, err := rowcodec.ScanApp(s.r.QueryRowContext(ctx, `SELECT `+rowcodec.AppColumns+` FROM apps WHERE id = ?`, id))
	if err != nil {
		return nil, translate("get app", err)
	}
	return a, nil
}

// ListApps lists apps oldest first.
func (s *Store) ListApps(ctx context.Context, p auth.Page) ([]*auth.App, string, error) {
	return listByID(ctx, s.r, "list apps", `SELECT `+rowcodec.AppColumns+` FROM apps WHERE id > ?`, nil, p, rowcodec.ScanApp,
		func(a *auth.App) string { return a.ID })
}

// GetKey returns the key with this id; ErrNotFound if none.
func (s *Store) GetKey(ctx context.Context, id string) (*auth.Key, error) {
	k, err := rowcodec.ScanKey(s.r.QueryRowContext(ctx, `SELECT `+rowcodec.KeyColumns+` FROM keys WHERE id = ?`, id))
	if err != nil {
		return nil, translate("get key", err)
	}
	return k, nil
}

// ListKeys lists keys oldest first, narrowed by f.AppID and f.OwnerID when set.
func (s *Store) ListKeys(ctx context.Context, f auth.KeyFilter, p auth.Page) ([]*auth.Key, string, error) {
	q := `SELECT ` + rowcodec.KeyColumns + ` FROM keys WHERE id > ?`
	var args []any
	if f.AppID != "" {
		q += ` AND app_id = ?`
		args = append(args, f.AppID)
	}
	if f.OwnerID != "" {
		q += ` AND owner_id = ?`
		args = append(args, f.OwnerID)
	}
	return listByID(ctx, s.r, "list keys", q, args, p, func(sc rowcodec.Scanner) (*auth.Key, error) { return rowcodec.ScanKey(sc) },
		func(k *auth.Key) string { return k.ID })
}

// SecretsOf returns every secret of the key, oldest first.
func (s *Store) SecretsOf(ctx context.Context, keyID string) ([]auth.Secret, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+rowcodec.SecretColumns+` FROM key_secrets WHERE key_id = ?
		ORDER BY created_at, hash`, keyID)
	if err != nil {
		return nil, translate("secrets of", err)
	}
	defer rows.Close()
	var out []auth.Secret
	for rows.Next() {
		sec, err := rowcodec.ScanSecret(rows)
		if err != nil {
			return nil, translate("secrets of", err)
		}
		out = append(out, *sec)
	}
	if err := rows.Err(); err != nil {
		return nil, translate("secrets of", err)
	}
	return out, nil
}

// RootKeyByHash returns the root key with this hash, revoked or not (the
// caller checks RevokedAt); ErrNotFound if none.
func (s *Store) RootKeyByHash(ctx context.Context, hash [32]byte) (*auth.RootKey, error) {
	r, err := rowcodec.ScanRootKey(s.r.QueryRowContext(ctx, `SELECT `+rowcodec.RootKeyColumns+` FROM root_keys WHERE hash = ?`, hash[:]))
	if err != nil {
		return nil, translate("root key by hash", err)
	}
	return r, nil
}

// ListRootKeys lists root keys (revoked ones included) oldest first.
func (s *Store) ListRootKeys(ctx context.Context, p auth.Page) ([]*auth.RootKey, string, error) {
	return listByID(ctx, s.r, "list root keys", `SELECT `+rowcodec.RootKeyColumns+` FROM root_keys WHERE id > ?`, nil, p,
		rowcodec.ScanRootKey, func(r *auth.RootKey) string { return r.ID })
}

// CountRootKeys counts root keys that are not revoked.
func (s *Store) CountRootKeys(ctx context.Context) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM root_keys WHERE revoked_at IS NULL`).Scan(&n); err != nil {
		return 0, translate("count root keys", err)
	}
	return n, nil
}

// ListAudit lists audit entries newest first.
func (s *Store) ListAudit(ctx context.Context, p auth.Page) ([]*auth.AuditEntry, string, error) {
	limit := rowcodec.PageLimit(p)
	var before int64 = 1<<63 - 1
	if p.Cursor != "" {
		var err error
		if before, err = rowcodec.DecodeSeqCursor(p.Cursor); err != nil {
			return nil, "", err
		}
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+rowcodec.AuditColumns+` FROM audit WHERE seq < ? ORDER BY seq DESC LIMIT ?`,
		before, limit+1)
	if err != nil {
		return nil, "", translate("list audit", err)
	}
	defer rows.Close()
	var out []*auth.AuditEntry
	for rows.Next() {
		e, err := rowcodec.ScanAudit(rows)
		if err != nil {
			return nil, "", translate("list audit", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, "", translate("list audit", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = rowcodec.EncodeCursor(strconv.FormatInt(out[limit-1].Seq, 10))
	}
	return out, next, nil
}

// AuditChain calls fn for every audit entry, oldest first. It reads in
// batches, so fn may be slow without holding a transaction open.
func (s *Store) AuditChain(ctx context.Context, fn func(*auth.AuditEntry) error) error {
	const batch = 500
	var after int64
	for {
		entries, err := s.auditBatch(ctx, after, batch)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(entries) < batch {
			return nil
		}
		after = entries[len(entries)-1].Seq
	}
}

func (s *Store) auditBatch(ctx context.Context, after int64, n int) ([]*auth.AuditEntry, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+rowcodec.AuditColumns+` FROM audit WHERE seq > ? ORDER BY seq LIMIT ?`, after, n)
	if err != nil {
		return nil, translate("audit chain", err)
	}
	defer rows.Close()
	var out []*auth.AuditEntry
	for rows.Next() {
		e, err := rowcodec.ScanAudit(rows)
		if err != nil {
			return nil, translate("audit chain", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, translate("audit chain", err)
	}
	return out, nil
}

// GetIdempotency returns the record with this id; ErrNotFound if none.
func (s *Store) GetIdempotency(ctx context.Context, id [32]byte) (*auth.IdempotencyRecord, error) {
	var r auth.IdempotencyRecord
	var rid, rh []byte
	var created int64
	err := s.r.QueryRowContext(ctx, `SELECT id, request_hash, status, body, created_at FROM idempotency WHERE id = ?`,
		id[:]).Scan(&rid, &rh, &r.Status, &r.Body, &created)
	if err != nil {
		return nil, translate("get idempotency", err)
	}
	if r.ID, err = rowcodec.Hash32(rid); err != nil {
		return nil, err
	}
	if r.RequestHash, err = rowcodec.Hash32(rh); err != nil {
		return nil, err
	}
	r.CreatedAt = rowcodec.FromMS(created)
	return &r, nil
}

// querier is *sql.DB or *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// listByID runs q (whose first placeholder is "id > ?") ordered by id, one
// page at a time; the cursor is the last id returned.
func listByID[T any](ctx context.Context, db querier, op, q string, args []any, p auth.Page,
	scan func(rowcodec.Scanner) (T, error), id func(T) string) ([]T, string, error) {
	limit := rowcodec.PageLimit(p)
	after := ""
	if p.Cursor != "" {
		var err error
		if after, err = rowcodec.DecodeCursor(p.Cursor); err != nil {
			return nil, "", err
		}
	}
	rows, err := db.QueryContext(ctx, q+` ORDER BY id LIMIT ?`, append(append([]any{after}, args...), limit+1)...)
	if err != nil {
		return nil, "", translate(op, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, "", translate(op, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, "", translate(op, err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = rowcodec.EncodeCursor(id(out[limit-1]))
	}
	return out, next, nil
}

// prefixed qualifies each column of a column list with p.
func prefixed(p, cols string) string {
	out := make([]byte, 0, len(cols)*2)
	start := true
	for i := 0; i < len(cols); i++ {
		c := cols[i]
		if start && c != ' ' && c != '\t' && c != '\n' {
			out = append(out, p...)
			start = false
		}
		if c == ',' {
			start = true
		}
		out = append(out, c)
	}
	return string(out)
}
