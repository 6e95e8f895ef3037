package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/typeauth/typeauth/internal/store/rowcodec"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/typeauth/typeauth/internal/auth"
)

// Tx runs fn in one IMMEDIATE transaction on the writer connection: it holds
// the database write lock from the start, so transactions are serializable.
// It commits when fn returns nil and rolls back otherwise, returning fn's
// error as is. fn must not call the Store's write methods (SpendCredits, Tx):
// the single writer connection is taken by this transaction.
func (s *Store) Tx(ctx context.Context, fn func(auth.Tx) error) (err error) {
	sqlTx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return translate("begin", err)
	}
	done := false
	defer func() {
		if !done {
			sqlTx.Rollback()
		}
	}()
	if err := fn(&tx{ctx: ctx, tx: sqlTx}); err != nil {
		return err
	}
	done = true
	if err := sqlTx.Commit(); err != nil {
		return translate("commit", err)
	}
	return nil
}

type tx struct {
	ctx context.Context
	tx  *sql.Tx
}

var _ auth.Tx = (*tx)(nil)

// exec runs an UPDATE or DELETE and reports ErrNotFound when it touched no row.
func (t *tx) execOne(op, q string, args ...any) error {
	res, err := t.tx.ExecContext(t.ctx, q, args...)
	if err != nil {
		return translate(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return translate(op, err)
	}
	if n == 0 {
		return fmt.Errorf("sqlite: %s: %w", op, auth.ErrNotFound)
	}
	return nil
}

func (t *tx) GetApp(id string) (*auth.App, error) {
	a, err := rowcodec.ScanApp(t.tx.QueryRowContext(t.ctx, `SELECT `+rowcodec.AppColumns+` FROM apps WHERE id = ?`, id))
	if err != nil {
		return nil, translate("get app", err)
	}
	return a, nil
}

// appConflict names which unique constraint of apps err violates.
func appConflict(op string, err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE {
		// The only unique index on apps besides the primary key.
		return auth.Errorf(auth.ErrConflict, "key_prefix_taken", "key prefix is taken by another app")
	}
	return translate(op, err)
}

func (t *tx) InsertApp(a *auth.App) error {
	_, err := t.tx.ExecContext(t.ctx, `INSERT INTO apps (`+rowcodec.AppColumns+`) VALUES (?, ?, ?, ?, ?)`,
		a.ID, a.Name, a.KeyPrefix, rowcodec.MS(a.CreatedAt), rowcodec.MS(a.UpdatedAt))
	if err != nil {
		return appConflict("insert app", err)
	}
	return nil
}

func (t *tx) UpdateApp(a *auth.App) error {
	res, err := t.tx.ExecContext(t.ctx, `UPDATE apps SET name = ?, key_prefix = ?, updated_at = ? WHERE id = ?`,
		a.Name, a.KeyPrefix, rowcodec.MS(a.UpdatedAt), a.ID)
	if err != nil {
		return appConflict("update app", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return translate("update app", err)
	} else if n == 0 {
		return fmt.Errorf("sqlite: update app: %w", auth.ErrNotFound)
	}
	return nil
}

func (t *tx) DeleteApp(id string) error {
	return t.execOne("delete app", `DELETE FROM apps WHERE id = ?`, id)
}

func (t *tx) GetKey(id string) (*auth.Key, error) {
	k, err := rowcodec.ScanKey(t.tx.QueryRowContext(t.ctx, `SELECT `+rowcodec.KeyColumns+` FROM keys WHERE id = ?`, id))
	if err != nil {
		return nil, translate("get key", err)
	}
	return k, nil
}

// InsertKey stores k and its first secret (whose KeyID defaults to k.ID).
// ErrConflict if the key id or the secret hash exists; ErrNotFound if the app
// does not.
func (t *tx) InsertKey(k *auth.Key, s auth.Secret) error {
	args, err := rowcodec.KeyArgs(k)
	if err != nil {
		return fmt.Errorf("sqlite: insert key: %w", err)
	}
	if _, err := t.tx.ExecContext(t.ctx, `INSERT INTO keys (`+rowcodec.KeyColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...); err != nil {
		return translate("insert key", err)
	}
	if s.KeyID == "" {
		s.KeyID = k.ID
	}
	return t.InsertSecret(s)
}

// UpdateKey writes every field of k but its id, app and creation time,
// credits included.
func (t *tx) UpdateKey(k *auth.Key) error {
	args, err := rowcodec.KeyArgs(k)
	if err != nil {
		return fmt.Errorf("sqlite: update key: %w", err)
	}
	// rowcodec.KeyArgs order: id, app_id, then the updatable columns, created_at, updated_at.
	return t.execOne("update key", `UPDATE keys SET name = ?, owner_id = ?, identity_id = ?, meta = ?, enabled = ?,
		expires_at = ?, credits_remaining = ?, refill_amount = ?, refill_interval = ?, last_refill_at = ?,
		rate_limits = ?, permissions = ?, roles = ?, ip_allowlist = ?, start = ?, updated_at = ?
		WHERE id = ?`, append(append(args[2:17:17], args[18]), k.ID)...)
}

// DeleteKey deletes the key and its secrets; ErrNotFound if it does not exist.
func (t *tx) DeleteKey(id string) error {
	return t.execOne("delete key", `DELETE FROM keys WHERE id = ?`, id)
}

// InsertSecret adds a secret to a key. ErrConflict if the hash exists;
// ErrNotFound if the key does not.
func (t *tx) InsertSecret(s auth.Secret) error {
	_, err := t.tx.ExecContext(t.ctx, `INSERT INTO key_secrets (`+rowcodec.SecretColumns+`) VALUES (?, ?, ?, ?, ?)`,
		s.Hash[:], s.KeyID, s.Start, rowcodec.MS(s.CreatedAt), rowcodec.NullMS(s.ExpiresAt))
	return translate("insert secret", err)
}

// ExpireSecrets sets expires_at = at on the key's current secrets (those with
// no expiry), or deletes them when at is not after now. Old secrets keep the
// expiry they have. Call it before InsertSecret when rolling a key.
// ErrNotFound if the key does not exist.
func (t *tx) ExpireSecrets(keyID string, at, now time.Time) error {
	var one int
	if err := t.tx.QueryRowContext(t.ctx, `SELECT 1 FROM keys WHERE id = ?`, keyID).Scan(&one); err != nil {
		return translate("expire secrets", err)
	}
	var err error
	if at.After(now) {
		_, err = t.tx.ExecContext(t.ctx, `UPDATE key_secrets SET expires_at = ? WHERE key_id = ? AND expires_at IS NULL`,
			rowcodec.MS(at), keyID)
	} else {
		_, err = t.tx.ExecContext(t.ctx, `DELETE FROM key_secrets WHERE key_id = ? AND expires_at IS NULL`, keyID)
	}
	return translate("expire secrets", err)
}

// AdjustCredits adds delta to the remaining credits (flooring at 0) or, when
// set, sets them to delta (ErrInvalid if negative). It does not apply a due
// refill. ErrNotFound if the key does not exist or has no credits.
func (t *tx) AdjustCredits(keyID string, delta int64, set bool) (int64, error) {
	if set && delta < 0 {
		return 0, auth.Errorf(auth.ErrInvalid, "invalid_credits", "remaining credits must not be negative")
	}
	var remaining int64
	err := t.tx.QueryRowContext(t.ctx, `UPDATE keys SET
		credits_remaining = CASE WHEN ?1 THEN ?2 ELSE max(0, credits_remaining + ?2) END
		WHERE id = ?3 AND credits_remaining IS NOT NULL RETURNING credits_remaining`,
		set, delta, keyID).Scan(&remaining)
	if err != nil {
		return 0, translate("adjust credits", err)
	}
	return remaining, nil
}

// InsertRootKey stores a root key under hash; ErrConflict if the id or the
// hash exists.
func (t *tx) InsertRootKey(r *auth.RootKey, hash [32]byte) error {
	scopes, err := json.Marshal(r.Scopes)
	if err != nil {
		return fmt.Errorf("sqlite: insert root key: %w", err)
	}
	if r.Scopes == nil {
		scopes = []byte("[]")
	}
	_, err = t.tx.ExecContext(t.ctx, `INSERT INTO root_keys (id, name, scopes, start, hash, created_at, revoked_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, r.ID, r.Name, string(scopes), r.Start, hash[:], rowcodec.MS(r.CreatedAt), rowcodec.NullMS(r.RevokedAt))
	return translate("insert root key", err)
}

func (t *tx) GetRootKey(id string) (*auth.RootKey, error) {
	r, err := rowcodec.ScanRootKey(t.tx.QueryRowContext(t.ctx, `SELECT `+rowcodec.RootKeyColumns+` FROM root_keys WHERE id = ?`, id))
	if err != nil {
		return nil, translate("get root key", err)
	}
	return r, nil
}

// RevokeRootKey sets revoked_at (a key already revoked keeps its first
// revocation time). ErrNotFound if the root key does not exist.
func (t *tx) RevokeRootKey(id string, at time.Time) error {
	return t.execOne("revoke root key", `UPDATE root_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?`,
		rowcodec.MS(at), id)
}

// LockActiveRootKeys counts the active root keys; the transaction's write
// lock already serializes it with every other write.
func (t *tx) LockActiveRootKeys() (int, error) {
	var n int
	if err := t.tx.QueryRowContext(t.ctx, `SELECT count(*) FROM root_keys WHERE revoked_at IS NULL`).Scan(&n); err != nil {
		return 0, translate("lock root keys", err)
	}
	return n, nil
}

// AppendAudit reads the chain head, fills e.Seq, e.PrevHash and e.Hash
// (e.Time is first truncated to the millisecond and made UTC, as stored; an
// empty e.ID gets a new one), inserts e and advances the head. The write lock
// held by the transaction serializes appends.
func (t *tx) AppendAudit(e *auth.AuditEntry) error {
	var seq int64
	var prev []byte
	if err := t.tx.QueryRowContext(t.ctx, `SELECT seq, hash FROM audit_head WHERE one = 1`).Scan(&seq, &prev); err != nil {
		return translate("append audit", err)
	}
	prevHash, err := rowcodec.Hash32(prev)
	if err != nil {
		return err
	}
	e.Time = rowcodec.FromMS(rowcodec.MS(e.Time))
	if e.ID == "" {
		e.ID = auth.NewID("audit", e.Time)
	}
	e.Seq, e.PrevHash = seq+1, prevHash
	e.Hash = e.ComputeHash()
	if _, err := t.tx.ExecContext(t.ctx, `INSERT INTO audit (`+rowcodec.AuditColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.Seq, e.ID, rowcodec.MS(e.Time), e.ActorID, e.Action, e.TargetType, e.TargetID, e.RemoteAddr,
		rowcodec.NullBytes(e.Before), rowcodec.NullBytes(e.After), e.PrevHash[:], e.Hash[:]); err != nil {
		return translate("append audit", err)
	}
	return t.execOne("append audit", `UPDATE audit_head SET seq = ?, hash = ? WHERE one = 1`, e.Seq, e.Hash[:])
}

// PutIdempotency stores r; ErrConflict if its id exists.
func (t *tx) PutIdempotency(r *auth.IdempotencyRecord) error {
	_, err := t.tx.ExecContext(t.ctx, `INSERT INTO idempotency (id, request_hash, status, body, created_at)
		VALUES (?, ?, ?, ?, ?)`, r.ID[:], r.RequestHash[:], r.Status, rowcodec.NullBytes(r.Body), rowcodec.MS(r.CreatedAt))
	return translate("put idempotency", err)
}
