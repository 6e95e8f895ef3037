package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"github.com/typeauth/typeauth/internal/store/rowcodec"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/typeauth/typeauth/internal/auth"
)

var (
	_ auth.IdentityStore = (*Store)(nil)
	_ auth.IdentityTx    = (*tx)(nil)
)

// maxRoleNames bounds RolesByName.
const maxRoleNames = 1000

// Each unique index besides a primary key, and the code of its conflict.
const (
	identityExists = "identity_exists"
	roleExists     = "role_exists"
	overrideExists = "override_exists"
)

var uniqueIndexes = map[string]struct{ code, message string }{
	"identities_external_id":         {identityExists, "an identity with this external id exists in this app"},
	"roles_name":                     {roleExists, "a role with this name exists"},
	"ratelimit_overrides_identifier": {overrideExists, "an override for this identifier exists in this namespace"},
}

// uniqueConflict returns an ErrConflict with code when err violates the
// unique index of that code (by SQLSTATE and constraint name), and translates
// err otherwise (a taken primary key is a plain ErrConflict).
func uniqueConflict(op string, err error, code string) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		if u, ok := uniqueIndexes[pe.ConstraintName]; ok && u.code == code {
			return auth.Errorf(auth.ErrConflict, u.code, u.message)
		}
	}
	return translate(op, err)
}

// GetIdentity returns the identity with this id; ErrNotFound if none.
func (s *Store) GetIdentity(ctx context.Context, id string) (*auth.Identity, error) {
	i, err := rowcodec.ScanIdentity(s.pool.QueryRow(ctx, `SELECT `+rowcodec.IdentityColumns+` FROM identities WHERE id = $1`, id))
	if err != nil {
		return nil, translate("get identity", err)
	}
	return i, nil
}

// IdentityByExternalID returns the identity of app appID ("" for
// workspace-wide) with this external id; ErrNotFound if none.
func (s *Store) IdentityByExternalID(ctx context.Context, appID, externalID string) (*auth.Identity, error) {
	// The condition on app_id is the expression of identities_external_id.
	i, err := rowcodec.ScanIdentity(s.pool.QueryRow(ctx, `SELECT `+rowcodec.IdentityColumns+` FROM identities
		WHERE coalesce(app_id, '') = $1 AND external_id = $2`, appID, externalID))
	if err != nil {
		return nil, translate("identity by external id", err)
	}
	return i, nil
}

// ListIdentities lists identities oldest first: those of f.AppID when set
// (workspace-wide ones excluded), every identity otherwise.
func (s *Store) ListIdentities(ctx context.Context, f auth.IdentityFilter, p auth.Page) ([]*auth.Identity, string, error) {
	q := `SELECT ` + rowcodec.IdentityColumns + ` FROM identities WHERE id > $1`
	var args []any
	if f.AppID != "" {
		q += ` AND app_id = $2`
		args = append(args, f.AppID)
	}
	return listByID(ctx, s.pool, "list identities", q, args, p, rowcodec.ScanIdentity,
		func(i *auth.Identity) string { return i.ID })
}

func (t *tx) GetIdentity(id string) (*auth.Identity, error) {
	i, err := rowcodec.ScanIdentity(t.tx.QueryRow(t.ctx, `SELECT `+rowcodec.IdentityColumns+` FROM identities WHERE id = $1 FOR UPDATE`, id))
	if err != nil {
		return nil, translate("get identity", err)
	}
	return i, nil
}

// InsertIdentity stores i. ErrConflict (code identity_exists) if its app
// already has an identity with this external id, ErrConflict if the id is
// taken; ErrNotFound if its app does not exist.
func (t *tx) InsertIdentity(i *auth.Identity) error {
	args, err := rowcodec.IdentityArgs(i)
	if err != nil {
		return fmt.Errorf("postgres: insert identity: %w", err)
	}
	_, err = t.tx.Exec(t.ctx, `INSERT INTO identities (`+rowcodec.IdentityColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, args...)
	if err != nil {
		return uniqueConflict("insert identity", err, identityExists)
	}
	return nil
}

// UpdateIdentity writes every field of i but its id, app and creation time.
// ErrNotFound if it does not exist; ErrConflict (code identity_exists) if the
// new external id is taken in its app.
func (t *tx) UpdateIdentity(i *auth.Identity) error {
	args, err := rowcodec.IdentityArgs(i)
	if err != nil {
		return fmt.Errorf("postgres: update identity: %w", err)
	}
	// rowcodec.IdentityArgs order: id, app_id, external_id, meta, rate_limits,
	// permissions, roles, created_at, updated_at.
	tag, err := t.tx.Exec(t.ctx, `UPDATE identities SET external_id = $1, meta = $2, rate_limits = $3,
		permissions = $4, roles = $5, updated_at = $6 WHERE id = $7`, append(append(args[2:7:7], args[8]), i.ID)...)
	if err != nil {
		return uniqueConflict("update identity", err, identityExists)
	}
	return oneRow("update identity", tag)
}

// DeleteIdentity deletes the identity and sets identity_id to "" on the keys
// that name it. ErrNotFound if it does not exist.
func (t *tx) DeleteIdentity(id string) error {
	if err := t.execOne("delete identity", `DELETE FROM identities WHERE id = $1`, id); err != nil {
		return err
	}
	// The condition identity_id <> '' is that of the partial index keys_identity_id.
	_, err := t.tx.Exec(t.ctx, `UPDATE keys SET identity_id = '' WHERE identity_id = $1 AND identity_id <> ''`, id)
	return translate("delete identity", err)
}

// Roles.

const roleColumns = `id, name, description, permissions, created_at, updated_at`

func scanRole(sc rowcodec.Scanner) (*auth.Role, error) {
	var (
		r                auth.Role
		perms            sql.NullString
		created, updated int64
	)
	if err := sc.Scan(&r.ID, &r.Name, &r.Description, &perms, &created, &updated); err != nil {
		return nil, err
	}
	var err error
	if r.Permissions, err = rowcodec.FromJSONText[string](perms); err != nil {
		return nil, fmt.Errorf("postgres: role %s permissions: %w", r.ID, err)
	}
	r.CreatedAt, r.UpdatedAt = rowcodec.FromMS(created), rowcodec.FromMS(updated)
	return &r, nil
}

// GetRole returns the role with this id; ErrNotFound if none.
func (s *Store) GetRole(ctx context.Context, id string) (*auth.Role, error) {
	r, err := scanRole(s.pool.QueryRow(ctx, `SELECT `+roleColumns+` FROM roles WHERE id = $1`, id))
	if err != nil {
		return nil, translate("get role", err)
	}
	return r, nil
}

// ListRoles lists roles oldest first.
func (s *Store) ListRoles(ctx context.Context, p auth.Page) ([]*auth.Role, string, error) {
	return listByID(ctx, s.pool, "list roles", `SELECT `+roleColumns+` FROM roles WHERE id > $1`, nil, p, scanRole,
		func(r *auth.Role) string { return r.ID })
}

// RolesByName returns the roles with these names, ordered by name, in one
// query; unknown names are skipped. ErrInvalid for more than 1000 names.
func (s *Store) RolesByName(ctx context.Context, names []string) ([]*auth.Role, error) {
	if len(names) > maxRoleNames {
		return nil, auth.Errorf(auth.ErrInvalid, "too_many_roles", fmt.Sprintf("at most %d role names may be looked up at once", maxRoleNames))
	}
	if len(names) == 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT `+roleColumns+` FROM roles WHERE name = ANY($1) ORDER BY name`, names)
	if err != nil {
		return nil, translate("roles by name", err)
	}
	return collect(rows, "roles by name", scanRole)
}

func (t *tx) GetRole(id string) (*auth.Role, error) {
	r, err := scanRole(t.tx.QueryRow(t.ctx, `SELECT `+roleColumns+` FROM roles WHERE id = $1 FOR UPDATE`, id))
	if err != nil {
		return nil, translate("get role", err)
	}
	return r, nil
}

func (t *tx) GetRoleByName(name string) (*auth.Role, error) {
	r, err := scanRole(t.tx.QueryRow(t.ctx, `SELECT `+roleColumns+` FROM roles WHERE name = $1 FOR UPDATE`, name))
	if err != nil {
		return nil, translate("get role by name", err)
	}
	return r, nil
}

func roleArgs(r *auth.Role) ([]any, error) {
	perms, err := rowcodec.JSONText(r.Permissions)
	if err != nil {
		return nil, err
	}
	return []any{r.ID, r.Name, r.Description, perms, rowcodec.MS(r.CreatedAt), rowcodec.MS(r.UpdatedAt)}, nil
}

// InsertRole stores r. ErrConflict (code role_exists) if the name is taken,
// ErrConflict if the id is.
func (t *tx) InsertRole(r *auth.Role) error {
	args, err := roleArgs(r)
	if err != nil {
		return fmt.Errorf("postgres: insert role: %w", err)
	}
	if _, err := t.tx.Exec(t.ctx, `INSERT INTO roles (`+roleColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`, args...); err != nil {
		return uniqueConflict("insert role", err, roleExists)
	}
	return nil
}

// UpdateRole writes every field of r but its id and creation time.
// ErrNotFound if it does not exist; ErrConflict (code role_exists) if the new
// name is taken. Keys and identities name roles: renaming one detaches it
// from them.
func (t *tx) UpdateRole(r *auth.Role) error {
	args, err := roleArgs(r)
	if err != nil {
		return fmt.Errorf("postgres: update role: %w", err)
	}
	tag, err := t.tx.Exec(t.ctx, `UPDATE roles SET name = $1, description = $2, permissions = $3, updated_at = $4
		WHERE id = $5`, args[1], args[2], args[3], args[5], r.ID)
	if err != nil {
		return uniqueConflict("update role", err, roleExists)
	}
	return oneRow("update role", tag)
}

// DeleteRole deletes the role; keys and identities keep its name, which then
// grants nothing. ErrNotFound if it does not exist.
func (t *tx) DeleteRole(id string) error {
	return t.execOne("delete role", `DELETE FROM roles WHERE id = $1`, id)
}

// Rate limit overrides.

const overrideColumns = `id, namespace, identifier, request_limit, duration_ms, created_at, updated_at`

func scanOverride(sc rowcodec.Scanner) (*auth.RateLimitOverride, error) {
	var (
		o                          auth.RateLimitOverride
		duration, created, updated int64
	)
	if err := sc.Scan(&o.ID, &o.Namespace, &o.Identifier, &o.Limit, &duration, &created, &updated); err != nil {
		return nil, err
	}
	o.Duration = time.Duration(duration) * time.Millisecond
	o.CreatedAt, o.UpdatedAt = rowcodec.FromMS(created), rowcodec.FromMS(updated)
	return &o, nil
}

// durationMS is d in whole milliseconds, as stored; ErrInvalid if d has a
// finer part, which would not round-trip.
func durationMS(d time.Duration) (int64, error) {
	if d%time.Millisecond != 0 {
		return 0, auth.Errorf(auth.ErrInvalid, "invalid_duration", "an override duration must be a whole number of milliseconds")
	}
	return d.Milliseconds(), nil
}

// OverridesOf returns every override of the namespace, oldest first.
func (s *Store) OverridesOf(ctx context.Context, namespace string) ([]*auth.RateLimitOverride, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+overrideColumns+` FROM ratelimit_overrides
		WHERE namespace = $1 ORDER BY id`, namespace)
	if err != nil {
		return nil, translate("overrides of", err)
	}
	return collect(rows, "overrides of", scanOverride)
}

// ListOverrides lists the overrides of namespace (of every namespace when
// namespace is "") oldest first.
func (s *Store) ListOverrides(ctx context.Context, namespace string, p auth.Page) ([]*auth.RateLimitOverride, string, error) {
	q := `SELECT ` + overrideColumns + ` FROM ratelimit_overrides WHERE id > $1`
	var args []any
	if namespace != "" {
		q += ` AND namespace = $2`
		args = append(args, namespace)
	}
	return listByID(ctx, s.pool, "list overrides", q, args, p, scanOverride,
		func(o *auth.RateLimitOverride) string { return o.ID })
}

func (t *tx) GetOverride(id string) (*auth.RateLimitOverride, error) {
	o, err := scanOverride(t.tx.QueryRow(t.ctx, `SELECT `+overrideColumns+` FROM ratelimit_overrides WHERE id = $1 FOR UPDATE`, id))
	if err != nil {
		return nil, translate("get override", err)
	}
	return o, nil
}

// InsertOverride stores o. ErrConflict (code override_exists) if its
// namespace has an override for this identifier, ErrConflict if the id is
// taken; ErrInvalid if the duration is not a whole number of milliseconds.
func (t *tx) InsertOverride(o *auth.RateLimitOverride) error {
	d, err := durationMS(o.Duration)
	if err != nil {
		return err
	}
	_, err = t.tx.Exec(t.ctx, `INSERT INTO ratelimit_overrides (`+overrideColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		o.ID, o.Namespace, o.Identifier, o.Limit, d, rowcodec.MS(o.CreatedAt), rowcodec.MS(o.UpdatedAt))
	if err != nil {
		return uniqueConflict("insert override", err, overrideExists)
	}
	return nil
}

// UpdateOverride writes every field of o but its id and creation time.
// ErrNotFound if it does not exist; ErrConflict (code override_exists) if the
// new namespace and identifier are taken.
func (t *tx) UpdateOverride(o *auth.RateLimitOverride) error {
	d, err := durationMS(o.Duration)
	if err != nil {
		return err
	}
	tag, err := t.tx.Exec(t.ctx, `UPDATE ratelimit_overrides SET namespace = $1, identifier = $2,
		request_limit = $3, duration_ms = $4, updated_at = $5 WHERE id = $6`,
		o.Namespace, o.Identifier, o.Limit, d, rowcodec.MS(o.UpdatedAt), o.ID)
	if err != nil {
		return uniqueConflict("update override", err, overrideExists)
	}
	return oneRow("update override", tag)
}

// DeleteOverride deletes the override; ErrNotFound if it does not exist.
func (t *tx) DeleteOverride(id string) error {
	return t.execOne("delete override", `DELETE FROM ratelimit_overrides WHERE id = $1`, id)
}

// oneRow reports ErrNotFound when tag counts no row.
func oneRow(op string, tag pgconn.CommandTag) error {
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: %s: %w", op, auth.ErrNotFound)
	}
	return nil
}

// collect scans every row and closes rows.
func collect[T any](rows pgx.Rows, op string, scan func(rowcodec.Scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, translate(op, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(op, err)
	}
	return out, nil
}
