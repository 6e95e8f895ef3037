package postgres

import (
	"context"
	"errors"
	"fmt"
	"github.com/typeauth/typeauth/internal/store/rowcodec"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/typeauth/typeauth/internal/auth"
)

var (
	_ auth.TokenReader = (*Store)(nil)
	_ auth.TokenTx     = (*tx)(nil)
)

func collectRows[T any](rows pgx.Rows, scan func(rowcodec.Scanner) (T, error)) ([]T, error) {
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
	rows, err := s.pool.Query(ctx, `SELECT `+rowcodec.SigningKeyColumns+` FROM signing_keys ORDER BY created_at, kid`)
	if err != nil {
		return nil, translate("signing keys", err)
	}
	out, err := collectRows(rows, rowcodec.ScanSigningKey)
	return out, translate("signing keys", err)
}

func (s *Store) Issuers(ctx context.Context) ([]*auth.Issuer, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+rowcodec.IssuerColumns+` FROM issuers ORDER BY id`)
	if err != nil {
		return nil, translate("issuers", err)
	}
	out, err := collectRows(rows, rowcodec.ScanIssuer)
	return out, translate("issuers", err)
}

func (s *Store) GetIssuer(ctx context.Context, id string) (*auth.Issuer, error) {
	i, err := rowcodec.ScanIssuer(s.pool.QueryRow(ctx, `SELECT `+rowcodec.IssuerColumns+` FROM issuers WHERE id = $1`, id))
	if err != nil {
		return nil, translate("get issuer", err)
	}
	return i, nil
}

func (s *Store) RevokedTokens(ctx context.Context, now time.Time) ([]auth.RevokedToken, error) {
	rows, err := s.pool.Query(ctx, `SELECT jti, expires_at, revoked_at FROM revoked_tokens WHERE expires_at > $1 ORDER BY jti`, rowcodec.MS(now))
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
	tag, err := s.pool.Exec(ctx, `DELETE FROM revoked_tokens WHERE expires_at <= $1`, rowcodec.MS(before))
	if err != nil {
		return 0, translate("purge revoked tokens", err)
	}
	return tag.RowsAffected(), nil
}

func (s *Store) TokenSettings(ctx context.Context, appID string) (*auth.TokenSettings, error) {
	ts, err := rowcodec.ScanTokenSettings(s.pool.QueryRow(ctx, `SELECT `+rowcodec.TokenSettingsColumns+` FROM apps WHERE id = $1`, appID))
	if err != nil {
		return nil, translate("token settings", err)
	}
	return ts, nil
}

func (s *Store) SealedSecret(ctx context.Context, keyID string) ([]byte, error) {
	var b []byte
	if err := s.pool.QueryRow(ctx, `SELECT secret_sealed FROM keys WHERE id = $1`, keyID).Scan(&b); err != nil {
		return nil, translate("sealed secret", err)
	}
	if b == nil {
		return nil, fmt.Errorf("postgres: sealed secret: %w", auth.ErrNotFound)
	}
	return b, nil
}

// ---- write side ----

func (t *tx) SigningKeys() ([]*auth.SigningKey, error) {
	rows, err := t.tx.Query(t.ctx, `SELECT `+rowcodec.SigningKeyColumns+` FROM signing_keys ORDER BY created_at, kid FOR UPDATE`)
	if err != nil {
		return nil, translate("signing keys", err)
	}
	out, err := collectRows(rows, rowcodec.ScanSigningKey)
	return out, translate("signing keys", err)
}

func (t *tx) InsertSigningKey(k *auth.SigningKey) error {
	_, err := t.tx.Exec(t.ctx, `INSERT INTO signing_keys (`+rowcodec.SigningKeyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		k.KID, k.Alg, []byte(k.PublicJWK), k.Sealed, k.State, rowcodec.MS(k.CreatedAt), rowcodec.MS(k.ActivateAt), rowcodec.NullMS(k.RetireAt), rowcodec.NullMS(k.ExpiresAt))
	return translate("insert signing key", err)
}

func (t *tx) UpdateSigningKey(k *auth.SigningKey) error {
	return t.execOne("update signing key", `UPDATE signing_keys SET state = $1, retire_at = $2, expires_at = $3 WHERE kid = $4`,
		k.State, rowcodec.NullMS(k.RetireAt), rowcodec.NullMS(k.ExpiresAt), k.KID)
}

func (t *tx) DeleteSigningKey(kid string) error {
	return t.execOne("delete signing key", `DELETE FROM signing_keys WHERE kid = $1`, kid)
}

func (t *tx) GetIssuer(id string) (*auth.Issuer, error) {
	i, err := rowcodec.ScanIssuer(t.tx.QueryRow(t.ctx, `SELECT `+rowcodec.IssuerColumns+` FROM issuers WHERE id = $1 FOR UPDATE`, id))
	if err != nil {
		return nil, translate("get issuer", err)
	}
	return i, nil
}

func issuerConflict(op string, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" && pe.ConstraintName == "issuers_issuer" {
		return auth.Errorf(auth.ErrConflict, "issuer_exists", "another trusted issuer has this issuer (iss)")
	}
	return translate(op, err)
}

func (t *tx) InsertIssuer(i *auth.Issuer) error {
	args, err := rowcodec.IssuerArgs(i)
	if err != nil {
		return fmt.Errorf("postgres: insert issuer: %w", err)
	}
	_, err = t.tx.Exec(t.ctx, `INSERT INTO issuers (`+rowcodec.IssuerColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`, args...)
	if err != nil {
		return issuerConflict("insert issuer", err)
	}
	return nil
}

func (t *tx) UpdateIssuer(i *auth.Issuer) error {
	args, err := rowcodec.IssuerArgs(i)
	if err != nil {
		return fmt.Errorf("postgres: update issuer: %w", err)
	}
	tag, err := t.tx.Exec(t.ctx, `UPDATE issuers SET name = $1, issuer = $2, jwks_url = $3, discovery_url = $4, jwks = $5,
		algorithms = $6, audiences = $7, leeway_ms = $8, required_claims = $9, owner_claim = $10, permissions_claim = $11,
		updated_at = $12 WHERE id = $13`, append(append(args[1:12:12], args[13]), i.ID)...)
	if err != nil {
		return issuerConflict("update issuer", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: update issuer: %w", auth.ErrNotFound)
	}
	return nil
}

func (t *tx) DeleteIssuer(id string) error {
	return t.execOne("delete issuer", `DELETE FROM issuers WHERE id = $1`, id)
}

func (t *tx) CountIssuers() (int, error) {
	var n int
	if err := t.tx.QueryRow(t.ctx, `SELECT count(*) FROM issuers`).Scan(&n); err != nil {
		return 0, translate("count issuers", err)
	}
	return n, nil
}

func (t *tx) RevokeToken(r auth.RevokedToken) error {
	_, err := t.tx.Exec(t.ctx, `INSERT INTO revoked_tokens (jti, expires_at, revoked_at) VALUES ($1, $2, $3)
		ON CONFLICT (jti) DO UPDATE SET expires_at = greatest(revoked_tokens.expires_at, excluded.expires_at)`,
		r.JTI, rowcodec.MS(r.ExpiresAt), rowcodec.MS(r.RevokedAt))
	return translate("revoke token", err)
}

func (t *tx) GetTokenSettings(appID string) (*auth.TokenSettings, error) {
	ts, err := rowcodec.ScanTokenSettings(t.tx.QueryRow(t.ctx, `SELECT `+rowcodec.TokenSettingsColumns+` FROM apps WHERE id = $1`, appID))
	if err != nil {
		return nil, translate("get token settings", err)
	}
	return ts, nil
}

func (t *tx) PutTokenSettings(s *auth.TokenSettings) error {
	auds, err := rowcodec.JSONText(s.Audiences)
	if err != nil {
		return fmt.Errorf("postgres: put token settings: %w", err)
	}
	meta, err := rowcodec.JSONText(s.MetaClaims)
	if err != nil {
		return fmt.Errorf("postgres: put token settings: %w", err)
	}
	return t.execOne("put token settings", `UPDATE apps SET recoverable = $1, max_token_ttl_ms = $2, token_audiences = $3,
		token_meta_claims = $4 WHERE id = $5`, s.Recoverable, s.MaxTTL.Milliseconds(), auds, meta, s.AppID)
}

func (t *tx) PutSealedSecret(keyID string, sealed []byte) error {
	return t.execOne("put sealed secret", `UPDATE keys SET secret_sealed = $1 WHERE id = $2`, rowcodec.NullBytes(sealed), keyID)
}
