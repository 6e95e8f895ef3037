package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"github.com/typeauth/typeauth/internal/store/rowcodec"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/typeauth/typeauth/internal/auth"
)

var (
	_ auth.TokenReader = (*Store)(nil)
	_ auth.TokenTx     = (*tx)(nil)
)

func collectRows[T any](rows *sql.Rows, scan func(rowcodec.Scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// ---- read side ----

func (s *Store) SigningKeys(ctx context.Context) ([]*auth.SigningKey, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+rowcodec.SigningKeyColumns+` FROM signing_keys ORDER BY created_at, kid`)
	if err != nil {
		return nil, translate("signing keys", err)
	}
	out, err := collectRows(rows, rowcodec.ScanSigningKey)
	return out, translate("signing keys", err)
}

func (s *Store) Issuers(ctx context.Context) ([]*auth.Issuer, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+rowcodec.IssuerColumns+` FROM issuers ORDER BY id`)
	if err != nil {
		return nil, translate("issuers", err)
	}
	out, err := collectRows(rows, rowcodec.ScanIssuer)
	return out, translate("issuers", err)
}

func (s *Store) GetIssuer(ctx context.Context, id string) (*auth.Issuer, error) {
	i, err := rowcodec.ScanIssuer(s.r.QueryRowContext(ctx, `SELECT `+rowcodec.IssuerColumns+` FROM issuers WHERE id = ?`, id))
	if err != nil {
		return nil, translate("get issuer", err)
	}
	return i, nil
}

func (s *Store) RevokedTokens(ctx context.Context, now time.Time) ([]auth.RevokedToken, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT jti, expires_at, revoked_at FROM revoked_tokens WHERE expires_at > ? ORDER BY jti`, rowcodec.MS(now))
	if err != nil {
		return nil, translate("revoked tokens", err)
	}
	out, err := collectRows(rows, func(sc rowcodec.Scanner) (auth.RevokedToken, error) {
		var r auth.RevokedToken
		var exp, rev int64
		err := sc.Scan(&r.JTI, &exp, &rev)
		r.ExpiresAt, r.RevokedAt = rowcodec.FromMS(exp), rowcodec.FromMS(rev)
		return r, err
	})
	return out, translate("revoked tokens", err)
}

func (s *Store) PurgeRevokedTokens(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM revoked_tokens WHERE expires_at <= ?`, rowcodec.MS(before))
	if err != nil {
		return 0, translate("purge revoked tokens", err)
	}
	n, err := res.RowsAffected()
	return n, translate("purge revoked tokens", err)
}

func (s *Store) TokenSettings(ctx context.Context, appID string) (*auth.TokenSettings, error) {
	ts, err := rowcodec.ScanTokenSettings(s.r.QueryRowContext(ctx, `SELECT `+rowcodec.TokenSettingsColumns+` FROM apps WHERE id = ?`, appID))
	if err != nil {
		return nil, translate("token settings", err)
	}
	return ts, nil
}

func (s *Store) SealedSecret(ctx context.Context, keyID string) ([]byte, error) {
	var b []byte
	if err := s.r.QueryRowContext(ctx, `SELECT secret_sealed FROM keys WHERE id = ?`, keyID).Scan(&b); err != nil {
		return nil, translate("sealed secret", err)
	}
	if b == nil {
		return nil, fmt.Errorf("sqlite: sealed secret: %w", auth.ErrNotFound)
	}
	return b, nil
}

// ---- write side ----

func (t *tx) SigningKeys() ([]*auth.SigningKey, error) {
	rows, err := t.tx.QueryContext(t.ctx, `SELECT `+rowcodec.SigningKeyColumns+` FROM signing_keys ORDER BY created_at, kid`)
	if err != nil {
		return nil, translate("signing keys", err)
	}
	out, err := collectRows(rows, rowcodec.ScanSigningKey)
	return out, translate("signing keys", err)
}

func (t *tx) InsertSigningKey(k *auth.SigningKey) error {
	_, err := t.tx.ExecContext(t.ctx, `INSERT INTO signing_keys (`+rowcodec.SigningKeyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.KID, k.Alg, []byte(k.PublicJWK), k.Sealed, k.State, rowcodec.MS(k.CreatedAt), rowcodec.MS(k.ActivateAt), rowcodec.NullMS(k.RetireAt), rowcodec.NullMS(k.ExpiresAt))
	return translate("insert signing key", err)
}

func (t *tx) UpdateSigningKey(k *auth.SigningKey) error {
	return t.execOne("update signing key", `UPDATE signing_keys SET state = ?, retire_at = ?, expires_at = ? WHERE kid = ?`,
		k.State, rowcodec.NullMS(k.RetireAt), rowcodec.NullMS(k.ExpiresAt), k.KID)
}

func (t *tx) DeleteSigningKey(kid string) error {
	return t.execOne("delete signing key", `DELETE FROM signing_keys WHERE kid = ?`, kid)
}

func (t *tx) GetIssuer(id string) (*auth.Issuer, error) {
	i, err := rowcodec.ScanIssuer(t.tx.QueryRowContext(t.ctx, `SELECT `+rowcodec.IssuerColumns+` FROM issuers WHERE id = ?`, id))
	if err != nil {
		return nil, translate("get issuer", err)
	}
	return i, nil
}

func issuerConflict(op string, err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE {
		return auth.Errorf(auth.ErrConflict, "issuer_exists", "another trusted issuer has this issuer (iss)")
	}
	return translate(op, err)
}

func (t *tx) InsertIssuer(i *auth.Issuer) error {
	args, err := rowcodec.IssuerArgs(i)
	if err != nil {
		return fmt.Errorf("sqlite: insert issuer: %w", err)
	}
	_, err = t.tx.ExecContext(t.ctx, `INSERT INTO issuers (`+rowcodec.IssuerColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...)
	if err != nil {
		return issuerConflict("insert issuer", err)
	}
	return nil
}

func (t *tx) UpdateIssuer(i *auth.Issuer) error {
	args, err := rowcodec.IssuerArgs(i)
	if err != nil {
		return fmt.Errorf("sqlite: update issuer: %w", err)
	}
	res, err := t.tx.ExecContext(t.ctx, `UPDATE issuers SET name = ?, issuer = ?, jwks_url = ?, discovery_url = ?, jwks = ?,
		algorithms = ?, audiences = ?, leeway_ms = ?, required_claims = ?, owner_claim = ?, permissions_claim = ?,
		updated_at = ? WHERE id = ?`, append(append(args[1:12:12], args[13]), i.ID)...)
	if err != nil {
		return issuerConflict("update issuer", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return translate("update issuer", err)
	} else if n == 0 {
		return fmt.Errorf("sqlite: update issuer: %w", auth.ErrNotFound)
	}
	return nil
}

func (t *tx) DeleteIssuer(id string) error {
	return t.execOne("delete issuer", `DELETE FROM issuers WHERE id = ?`, id)
}

func (t *tx) CountIssuers() (int, error) {
	var n int
	if err := t.tx.QueryRowContext(t.ctx, `SELECT count(*) FROM issuers`).Scan(&n); err != nil {
		return 0, translate("count issuers", err)
	}
	return n, nil
}

func (t *tx) RevokeToken(r auth.RevokedToken) error {
	_, err := t.tx.ExecContext(t.ctx, `INSERT INTO revoked_tokens (jti, expires_at, revoked_at) VALUES (?, ?, ?)
		ON CONFLICT (jti) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)`,
		r.JTI, rowcodec.MS(r.ExpiresAt), rowcodec.MS(r.RevokedAt))
	return translate("revoke token", err)
}

func (t *tx) GetTokenSettings(appID string) (*auth.TokenSettings, error) {
	ts, err := rowcodec.ScanTokenSettings(t.tx.QueryRowContext(t.ctx, `SELECT `+rowcodec.TokenSettingsColumns+` FROM apps WHERE id = ?`, appID))
	if err != nil {
		return nil, translate("get token settings", err)
	}
	return ts, nil
}

func (t *tx) PutTokenSettings(s *auth.TokenSettings) error {
	auds, err := rowcodec.JSONText(s.Audiences)
	if err != nil {
		return fmt.Errorf("sqlite: put token settings: %w", err)
	}
	meta, err := rowcodec.JSONText(s.MetaClaims)
	if err != nil {
		return fmt.Errorf("sqlite: put token settings: %w", err)
	}
	return t.execOne("put token settings", `UPDATE apps SET recoverable = ?, max_token_ttl_ms = ?, token_audiences = ?,
		token_meta_claims = ? WHERE id = ?`, s.Recoverable, s.MaxTTL.Milliseconds(), auds, meta, s.AppID)
}

func (t *tx) PutSealedSecret(keyID string, sealed []byte) error {
	return t.execOne("put sealed secret", `UPDATE keys SET secret_sealed = ? WHERE id = ?`, rowcodec.NullBytes(sealed), keyID)
}
