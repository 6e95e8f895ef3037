package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/typeauth/typeauth/internal/store/rowcodec"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/typeauth/typeauth/internal/auth"
)

// Tx runs fn in one READ COMMITTED transaction. The Tx getters (GetApp,
// GetKey, GetRootKey) lock the row they read (FOR UPDATE) so that
// read-modify-write sequences are not interleaved with concurrent writers,
// SpendCredits included. It commits when fn returns nil and rolls back
// otherwise, returning fn's error as is.
func (s *Store) Tx(ctx context.Context, fn func(auth.Tx) error) error {
	pgTx, err := s.pool.BeginTx(ctx, pgx.TxOptions{})
	if err != nil {
		return translate("begin", err)
	}
	done := false
	defer func() {
		if !done {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			pgTx.Rollback(rctx)
		}
	}()
	if err := fn(&tx{ctx: ctx, tx: pgTx}); err != nil {
		return err
	}
	done = true
	if err := pgTx.Commit(ctx); err != nil {
		return translate("commit", err)
	}
	return nil
}

type tx struct {
	ctx context.Context
	tx  pgx.Tx
}

var _ auth.Tx = (*tx)(nil)

// execOne runs an UPDATE or DELETE and reports ErrNotFound when it touched no
// row.
func (t *tx) execOne(op, q string, args ...any) error {
	tag, err := t.tx.Exec(t.ctx, q, args...)
	if err != nil {
		return translate(op, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: %s: %w", op, auth.ErrNotFound)
	}
	return nil
}

func (t *tx) GetApp(id string) (*auth.App, error) {
	a, err := rowcodec.ScanApp(t.tx.QueryRow(t.ctx, `SELECT `+rowcodec.AppColumns+` FROM apps WHERE id = $1 FOR UPDATE`, id))
	if err != nil {
		return nil, translate("get app", err)
	}
	return a, nil
}

// appConflict names which unique constraint of apps err violates.
func appConflict(op string, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" && pe.ConstraintName == "apps_key_prefix" {
		return auth.Errorf(auth.ErrConflict, "key_prefix_taken", "key prefix is taken by another app")
	}
	return translate(op, err)
}

func (t *tx) InsertApp(a *auth.App) error {
	_, err := t.tx.Exec(t.ctx, `INSERT INTO apps (`+rowcodec.AppColumns+`) VALUES ($1, $2, $3, $4, $5)`,
		a.ID, a.Name, a.KeyPrefix, rowcodec.MS(a.CreatedAt), rowcodec.MS(a.UpdatedAt))
	if err != nil {
		return appConflict("insert app", err)
	}
	return nil
}

func (t *tx) UpdateApp(a *auth.App) error {
	tag, err := t.tx.Exec(t.ctx, `UPDATE apps SET name = $1, key_prefix = $2, updated_at = $3 WHERE id = $4`,
		a.Name, a.KeyPrefix, rowcodec.MS(a.UpdatedAt), a.ID)
	if err != nil {
		return appConflict("update app", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: update app: %w", auth.ErrNotFound)
	}
	return nil
}

func (t *tx) DeleteApp(id string) error {
	return t.execOne("delete app", `DELETE FROM apps WHERE id = $1`, id)
}

func (t *tx) GetKey(id string) (*auth.Key, error) {
	k, err := rowcodec.ScanKey(t.tx.QueryRow(t.ctx, `SELECT `+rowcodec.KeyColumns+` FROM keys WHERE id = $1 FOR UPDATE`, id))
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
		return fmt.Errorf("postgres: insert key: %w", err)
	}
	if _, err := t.tx.Exec(t.ctx, `INSERT INTO keys (`+rowcodec.KeyColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)`, args...); err != nil {
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
		return fmt.Errorf("postgres: update key: %w", err)
	}
	// rowcodec.KeyArgs order: id, app_id, then the updatable columns, created_at, updated_at.
	return t.execOne("update key", `UPDATE keys SET name = $1, owner_id = $2, identity_id = $3, meta = $4,
		enabled = $5, expires_at = $6, credits_remaining = $7, refill_amount = $8, refill_interval = $9,
		last_refill_at = $10, rate_limits = $11, permissions = $12, roles = $13, ip_allowlist = $14, start = $15,
		updated_at = $16 WHERE id = $17`, append(append(args[2:17:17], args[18]), k.ID)...)
}

// DeleteKey deletes the key and its secrets; ErrNotFound if it does not exist.
func (t *tx) DeleteKey(id string) error {
	return t.execOne("delete key", `DELETE FROM keys WHERE id = $1`, id)
}

// InsertSecret adds a secret to a key. ErrConflict if the hash exists;
// ErrNotFound if the key does not.
func (t *tx) InsertSecret(s auth.Secret) error {
	_, err := t.tx.Exec(t.ctx, `INSERT INTO key_secrets (`+rowcodec.SecretColumns+`) VALUES ($1, $2, $3, $4, $5)`,
		s.Hash[:], s.KeyID, s.Start, rowcodec.MS(s.CreatedAt), rowcodec.NullMS(s.ExpiresAt))
	return translate("insert secret", err)
}

// ExpireSecrets sets expires_at = at on the key's current secrets (those with
// no expiry), or deletes them when at is not after now. Old secrets keep the
// expiry they have. It locks the key row first, so concurrent rolls of one
// key run one after the other. Call it before InsertSecret when rolling a
// key. ErrNotFound if the key does not exist.
func (t *tx) ExpireSecrets(keyID string, at, now time.Time) error {
	var one int
	if err := t.tx.QueryRow(t.ctx, `SELECT 1 FROM keys WHERE id = $1 FOR UPDATE`, keyID).Scan(&one); err != nil {
		return translate("expire secrets", err)
	}
	var err error
	if at.After(now) {
		_, err = t.tx.Exec(t.ctx, `UPDATE key_secrets SET expires_at = $1 WHERE key_id = $2 AND expires_at IS NULL`,
			rowcodec.MS(at), keyID)
	} else {
		_, err = t.tx.Exec(t.ctx, `DELETE FROM key_secrets WHERE key_id = $1 AND expires_at IS NULL`, keyID)
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
	err := t.tx.QueryRow(t.ctx, `UPDATE keys SET
		credits_remaining = CASE WHEN $1::boolean THEN $2::bigint ELSE greatest(0, credits_remaining + $2::bigint) END
		WHERE id = $3 AND credits_remaining IS NOT NULL RETURNING credits_remaining`,
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
		return fmt.Errorf("postgres: insert root key: %w", err)
	}
	if r.Scopes == nil {
		scopes = []byte("[]")
	}
	_, err = t.tx.Exec(t.ctx, `INSERT INTO root_keys (id, name, scopes, start, hash, created_at, revoked_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, r.ID, r.Name, string(scopes), r.Start, hash[:], rowcodec.MS(r.CreatedAt), rowcodec.NullMS(r.RevokedAt))
	return translate("insert root key", err)
}

func (t *tx) GetRootKey(id string) (*auth.RootKey, error) {
	r, err := rowcodec.ScanRootKey(t.tx.QueryRow(t.ctx, `SELECT `+rowcodec.RootKeyColumns+` FROM root_keys WHERE id = $1 FOR UPDATE`, id))
	if err != nil {
		return nil, translate("get root key", err)
	}
	return r, nil
}

// RevokeRootKey sets revoked_at (a key already revoked keeps its first
// revocation time). ErrNotFound if the root key does not exist.
func (t *tx) RevokeRootKey(id string, at time.Time) error {
	return t.execOne("revoke root key", `UPDATE root_keys SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2`,
		rowcodec.MS(at), id)
}

// LockActiveRootKeys locks every active root key (SELECT … FOR UPDATE) and
// counts them: a concurrent revocation waits, then sees this one's result.
func (t *tx) LockActiveRootKeys() (int, error) {
	rows, err := t.tx.Query(t.ctx, `SELECT id FROM root_keys WHERE revoked_at IS NULL ORDER BY id FOR UPDATE`)
	if err != nil {
		return 0, translate("lock root keys", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		n++
	}
	if err := rows.Err(); err != nil {
		return 0, translate("lock root keys", err)
	}
	return n, nil
}

// AppendAudit locks the chain head (SELECT … FOR UPDATE: concurrent appends,
// from any process, wait until this transaction ends), fills e.Seq,
// e.PrevHash and e.Hash (e.Time is first truncated to the millisecond and made
// UTC, as stored; an empty e.ID gets a new one), inserts e and advances the
// head.
func (t *tx) AppendAudit(e *auth.AuditEntry) error {
	var seq int64
	var prev []byte
	if err := t.tx.QueryRow(t.ctx, `SELECT seq, hash FROM audit_head WHERE one = 1 FOR UPDATE`).Scan(&seq, &prev); err != nil {
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
	if _, err := t.tx.Exec(t.ctx, `INSERT INTO audit (`+rowcodec.AuditColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		e.Seq, e.ID, rowcodec.MS(e.Time), e.ActorID, e.Action, e.TargetType, e.TargetID, e.RemoteAddr,
		rowcodec.NullBytes(e.Before), rowcodec.NullBytes(e.After), e.PrevHash[:], e.Hash[:]); err != nil {
		return translate("append audit", err)
	}
	// Delivered to every replica's listener when (and only if) the
	// transaction commits: see ListenChanges and internal/cluster.
	if _, err := t.tx.Exec(t.ctx, `SELECT pg_notify(`+changesChannel+`, $1)`,
		strconv.FormatInt(e.Seq, 10)+" "+e.TargetType+" "+e.TargetID); err != nil {
		return translate("append audit: notify", err)
	}
	return t.execOne("append audit", `UPDATE audit_head SET seq = $1, hash = $2 WHERE one = 1`, e.Seq, e.Hash[:])
}

// PutIdempotency stores r; ErrConflict if its id exists.
func (t *tx) PutIdempotency(r *auth.IdempotencyRecord) error {
	_, err := t.tx.Exec(t.ctx, `INSERT INTO idempotency (id, request_hash, status, body, created_at)
		VALUES ($1, $2, $3, $4, $5)`, r.ID[:], r.RequestHash[:], r.Status, rowcodec.NullBytes(r.Body), rowcodec.MS(r.CreatedAt))
	return translate("put idempotency", err)
}
