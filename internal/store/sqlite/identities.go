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

var (
	_ auth.IdentityStore = (*Store)(nil)
	_ auth.IdentityTx    = (*tx)(nil)
)

// maxRoleNames bounds RolesByName.
const maxRoleNames = 1000

// Identities, roles and overrides each have one unique index besides their
// primary key (identities_external_id, roles_name,
// ratelimit_overrides_identifier). A taken primary key is reported as
// SQLITE_CONSTRAINT_PRIMARYKEY, so SQLITE_CONSTRAINT_UNIQUE names that index.
const (
	identityExists = "identity_exists"
	roleExists     = "role_exists"
	overrideExists = "override_exists"
)

var conflictMessages = map[string]string{
	identityExists: "an identity with this external id exists in this app",
	roleExists:     "a role with this name exists",
	overrideExists: "an override for this identifier exists in this namespace",
}

// uniqueConflict returns an ErrConflict with code when err violates the
// table's unique index, and translates err otherwise.
func uniqueConflict(op string, err error, code string) error {
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE {
		return auth.Errorf(auth.ErrConflict, code, conflictMessages[code])
	}
	return translate(op, err)
}

// GetIdentity returns the identity with this id; ErrNotFound if none.
func (s *Store) GetIdentity(ctx context.Context, id string) (*auth.Identity, error) {
	i, err := rowcodec.ScanIdentity(s.r.QueryRowContext(ctx, `SELECT `+rowcodec.IdentityColumns+` FROM identities WHERE id = ?`, id))
	if err != nil {
		return nil, translate("get identity", err)
	}
	return i, nil
}

// IdentityByExternalID returns the identity of app appID ("" for
// workspace-wide) with this external id; ErrNotFound if none.
func (s *Store) IdentityByExternalID(ctx context.Context, appID, externalID string) (*auth.Identity, error) {
	// The condition on app_id is the expression of identities_external_id.
	i, err := rowcodec.ScanIdentity(s.r.QueryRowContext(ctx, `SELECT `+rowcodec.IdentityColumns+` FROM identities
		WHERE coalesce(app_id, '') = ? AND external_id = ?`, appID, externalID))
	if err != nil {
		return nil, translate("identity by external id", err)
	}
	return i, nil
}

// ListIdentities lists identities oldest first: those of f.AppID when set
// (workspace-wide ones excluded), every identity otherwise.
func (s *Store) ListIdentities(ctx context.Context, f auth.IdentityFilter, p auth.Page) ([]*auth.Identity, string, error) {
	q := `SELECT ` + rowcodec.IdentityColumns + ` FROM identities WHERE id > ?`
	var args []any
	if f.AppID != "" {
		q += ` AND app_id = ?`
		args = append(args, f.AppID)
	}
	return listByID(ctx, s.r, "list identities", q, args, p, rowcodec.ScanIdentity,
		func(i *auth.Identity) string { return i.ID })
}

func (t *tx) GetIdentity(id string) (*auth.Identity, error) {
	i, err := rowcodec.ScanIdentity(t.tx.QueryRowContext(t.ctx, `SELECT `+rowcodec.IdentityColumns+` FROM identities WHERE id = ?`, id))
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
		return fmt.Errorf("sqlite: insert identity: %w", err)
	}
	_, err = t.tx.ExecContext(t.ctx, `INSERT INTO identities (`+rowcodec.IdentityColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...)
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
		return fmt.Errorf("sqlite: update identity: %w", err)
	}
	// rowcodec.IdentityArgs order: id, app_id, external_id, meta, rate_limits,
	// permissions, roles, created_at, updated_at.
	res, err := t.tx.ExecContext(t.ctx, `UPDATE identities SET external_id = ?, meta = ?, rate_limits = ?,
		permissions = ?, roles = ?, updated_at = ? WHERE id = ?`, append(append(args[2:7:7], args[8]), i.ID)...)
	if err != nil {
		return uniqueConflict("update identity", err, identityExists)
	}
	return oneRow("update identity", res)
}

// DeleteIdentity deletes the identity and sets identity_id to "" on the keys
// that name it. ErrNotFound if it does not exist.
func (t *tx) DeleteIdentity(id string) error {
	if err := t.execOne("delete identity", `DELETE FROM identities WHERE id = ?`, id); err != nil {
		return err
	}
	// The condition identity_id <> '' is that of the partial index keys_identity_id.
	_, err := t.tx.ExecContext(t.ctx, `UPDATE keys SET identity_id = '' WHERE identity_id = ? AND identity_id <> ''`, id)
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
		return nil, fmt.Errorf("sqlite: role %s permissions: %w", r.ID, err)
	}
	r.CreatedAt, r.UpdatedAt = rowcodec.FromMS(created), rowcodec.FromMS(updated)
	return &r, nil
}

// GetRole returns the role with this id; ErrNotFound if none.
func (s *Store) GetRole(ctx context.Context, id string) (*auth.Role, error) {
	r, err := scanRole(s.r.QueryRowContext(ctx, `SELECT `+roleColumns+` FROM roles WHERE id = ?`, id))
	if err != nil {
		return nil, translate("get role", err)
	}
	return r, nil
}

// ListRoles lists roles oldest first.
func (s *Store) ListRoles(ctx context.Context, p auth.Page) ([]*auth.Role, string, error) {
	return listByID(ctx, s.r, "list roles", `SELECT `+roleColumns+` FROM roles WHERE id > ?`, nil, p, scanRole,
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
	list, err := json.Marshal(names)
	if err != nil {
		return nil, fmt.Errorf("sqlite: roles by name: %w", err)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+roleColumns+` FROM roles
		WHERE name IN (SELECT value FROM json_each(?)) ORDER BY name`, string(list))
	if err != nil {
		return nil, translate("roles by name", err)
	}
	return collect(rows, "roles by name", scanRole)
}

func (t *tx) GetRole(id string) (*auth.Role, error) {
	r, err := scanRole(t.tx.QueryRowContext(t.ctx, `SELECT `+roleColumns+` FROM roles WHERE id = ?`, id))
	if err != nil {
		return nil, translate("get role", err)
	}
	return r, nil
}

func (t *tx) GetRoleByName(name string) (*auth.Role, error) {
	r, err := scanRole(t.tx.QueryRowContext(t.ctx, `SELECT `+roleColumns+` FROM roles WHERE name = ?`, name))
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
		return fmt.Errorf("sqlite: insert role: %w", err)
	}
	if _, err := t.tx.ExecContext(t.ctx, `INSERT INTO roles (`+roleColumns+`) VALUES (?, ?, ?, ?, ?, ?)`, args...); err != nil {
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
		return fmt.Errorf("sqlite: update role: %w", err)
	}
	res, err := t.tx.ExecContext(t.ctx, `UPDATE roles SET name = ?, description = ?, permissions = ?, updated_at = ?
		WHERE id = ?`, args[1], args[2], args[3], args[5], r.ID)
	if err != nil {
		return uniqueConflict("update role", err, roleExists)
	}
	return oneRow("update role", res)
}

// DeleteRole deletes the role; keys and identities keep its name, which then
// grants nothing. ErrNotFound if it does not exist.
func (t *tx) DeleteRole(id string) error {
	return t.execOne("delete role", `DELETE FROM roles WHERE id = ?`, id)
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
	rows, err := s.r.QueryContext(ctx, `SELECT `+overrideColumns+` FROM ratelimit_overrides
		WHERE namespace = ? ORDER BY id`, namespace)
	if err != nil {
		return nil, translate("overrides of", err)
	}
	return collect(rows, "overrides of", scanOverride)
}

// ListOverrides lists the overrides of namespace (of every namespace when
// namespace is "") oldest first.
func (s *Store) ListOverrides(ctx context.Context, namespace string, p auth.Page) ([]*auth.RateLimitOverride, string, error) {
	q := `SELECT ` + overrideColumns + ` FROM ratelimit_overrides WHERE id > ?`
	var args []any
	if namespace != "" {
		q += ` AND namespace = ?`
		args = append(args, namespace)
	}
	return listByID(ctx, s.r, "list overrides", q, args, p, scanOverride,
		func(o *auth.RateLimitOverride) string { return o.ID })
}

func (t *tx) GetOverride(id string) (*auth.RateLimitOverride, error) {
	o, err := scanOverride(t.tx.QueryRowContext(t.ctx, `SELECT `+overrideColumns+` FROM ratelimit_overrides WHERE id = ?`, id))
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
	_, err = t.tx.ExecContext(t.ctx, `INSERT INTO ratelimit_overrides (`+overrideColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
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
	res, err := t.tx.ExecContext(t.ctx, `UPDATE ratelimit_overrides SET namespace = ?, identifier = ?,
		request_limit = ?, duration_ms = ?, updated_at = ? WHERE id = ?`,
		o.Namespace, o.Identifier, o.Limit, d, rowcodec.MS(o.UpdatedAt), o.ID)
	if err != nil {
		return uniqueConflict("update override", err, overrideExists)
	}
	return oneRow("update override", res)
}

// DeleteOverride deletes the override; ErrNotFound if it does not exist.
func (t *tx) DeleteOverride(id string) error {
	return t.execOne("delete override", `DELETE FROM ratelimit_overrides WHERE id = ?`, id)
}

// oneRow reports ErrNotFound when res touched no row.
func oneRow(op string, res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return translate(op, err)
	}
	if n == 0 {
		return fmt.Errorf("sqlite: %s: %w", op, auth.ErrNotFound)
	}
	return nil
}

// collect scans every row and closes rows.
func collect[T any](rows *sql.Rows, op string, scan func(rowcodec.Scanner) (T, error)) ([]T, error) {
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
