package client

import (
	"context"
	"iter"
	"net/http"
	"net/url"
)

// IdentityListOptions selects one page of identities, by app and/or external
// id. With ExternalID the answer holds at most that one identity.
type IdentityListOptions struct {
	AppID      string
	ExternalID string
	Cursor     string
	Limit      int
}

func (o IdentityListOptions) values() url.Values {
	v := ListOptions{Cursor: o.Cursor, Limit: o.Limit}.values()
	if o.AppID != "" {
		v.Set("app_id", o.AppID)
	}
	if o.ExternalID != "" {
		v.Set("external_id", o.ExternalID)
	}
	return v
}

// --- identities

// CreateIdentity creates an identity (POST /v1/identities): an external owner
// whose limits and permissions several keys share. A taken external id is a
// 409 *Error. Pass WithIdempotencyKey to make a retry safe.
func (c *Client) CreateIdentity(ctx context.Context, req CreateIdentityRequest, opts ...CallOption) (*Identity, error) {
	return call[Identity](ctx, c, http.MethodPost, admin, "/v1/identities", nil, req, opts)
}

// GetIdentity returns one identity; a 404 *Error if it does not exist.
func (c *Client) GetIdentity(ctx context.Context, id string, opts ...CallOption) (*Identity, error) {
	p, err := idPath("/v1/identities/", id)
	if err != nil {
		return nil, err
	}
	return call[Identity](ctx, c, http.MethodGet, admin, p, nil, nil, opts)
}

// ListIdentities returns one page of identities (of an app), or the identity
// with o.ExternalID (a 404 *Error if there is none).
func (c *Client) ListIdentities(ctx context.Context, o IdentityListOptions, opts ...CallOption) (*List[Identity], error) {
	return call[List[Identity]](ctx, c, http.MethodGet, admin, "/v1/identities", o.values(), nil, opts)
}

// AllIdentities iterates over every identity matching o, following cursors.
func (c *Client) AllIdentities(ctx context.Context, o IdentityListOptions) iter.Seq2[Identity, error] {
	return paginate(o.Cursor, func(cursor string) (*List[Identity], error) {
		o.Cursor = cursor
		return c.ListIdentities(ctx, o)
	})
}

// UpdateIdentity changes the fields req sets (PATCH /v1/identities/{id}); a
// Null field is cleared.
func (c *Client) UpdateIdentity(ctx context.Context, id string, req UpdateIdentityRequest, opts ...CallOption) (*Identity, error) {
	p, err := idPath("/v1/identities/", id)
	if err != nil {
		return nil, err
	}
	return call[Identity](ctx, c, http.MethodPatch, admin, p, nil, req, opts)
}

// DeleteIdentity deletes an identity (DELETE /v1/identities/{id}). Its keys
// stay, unlinked.
func (c *Client) DeleteIdentity(ctx context.Context, id string, opts ...CallOption) error {
	p, err := idPath("/v1/identities/", id)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, admin, p, nil, nil, nil, opts)
}

// ChangeIdentityPermissions adds, removes or sets an identity's permissions
// (POST /v1/identities/{id}/permissions) and returns the identity.
func (c *Client) ChangeIdentityPermissions(ctx context.Context, id string, ch PermissionsChange, opts ...CallOption) (*Identity, error) {
	p, err := idPath("/v1/identities/", id)
	if err != nil {
		return nil, err
	}
	return call[Identity](ctx, c, http.MethodPost, admin, p+"/permissions", nil, ch, opts)
}

// ChangeIdentityRoles adds, removes or sets an identity's roles
// (POST /v1/identities/{id}/roles) and returns the identity.
func (c *Client) ChangeIdentityRoles(ctx context.Context, id string, ch PermissionsChange, opts ...CallOption) (*Identity, error) {
	p, err := idPath("/v1/identities/", id)
	if err != nil {
		return nil, err
	}
	return call[Identity](ctx, c, http.MethodPost, admin, p+"/roles", nil, ch, opts)
}

// --- key permissions and roles

// ChangeKeyPermissions adds, removes or sets a key's permissions
// (POST /v1/keys/{id}/permissions) and returns the key.
func (c *Client) ChangeKeyPermissions(ctx context.Context, id string, ch PermissionsChange, opts ...CallOption) (*Key, error) {
	p, err := idPath("/v1/keys/", id)
	if err != nil {
		return nil, err
	}
	return call[Key](ctx, c, http.MethodPost, admin, p+"/permissions", nil, ch, opts)
}

// ChangeKeyRoles adds, removes or sets a key's roles
// (POST /v1/keys/{id}/roles) and returns the key.
func (c *Client) ChangeKeyRoles(ctx context.Context, id string, ch PermissionsChange, opts ...CallOption) (*Key, error) {
	p, err := idPath("/v1/keys/", id)
	if err != nil {
		return nil, err
	}
	return call[Key](ctx, c, http.MethodPost, admin, p+"/roles", nil, ch, opts)
}

// --- roles

// CreateRole creates a role (POST /v1/roles): a named bundle of permissions.
// A taken name is a 409 *Error.
func (c *Client) CreateRole(ctx context.Context, req CreateRoleRequest, opts ...CallOption) (*Role, error) {
	return call[Role](ctx, c, http.MethodPost, admin, "/v1/roles", nil, req, opts)
}

// GetRole returns one role; a 404 *Error if it does not exist.
func (c *Client) GetRole(ctx context.Context, id string, opts ...CallOption) (*Role, error) {
	p, err := idPath("/v1/roles/", id)
	if err != nil {
		return nil, err
	}
	return call[Role](ctx, c, http.MethodGet, admin, p, nil, nil, opts)
}

// ListRoles returns one page of roles.
func (c *Client) ListRoles(ctx context.Context, o ListOptions, opts ...CallOption) (*List[Role], error) {
	return call[List[Role]](ctx, c, http.MethodGet, admin, "/v1/roles", o.values(), nil, opts)
}

// AllRoles iterates over every role, following cursors from o.
func (c *Client) AllRoles(ctx context.Context, o ListOptions) iter.Seq2[Role, error] {
	return paginate(o.Cursor, func(cursor string) (*List[Role], error) {
		o.Cursor = cursor
		return c.ListRoles(ctx, o)
	})
}

// UpdateRole changes the fields req sets (PATCH /v1/roles/{id}).
func (c *Client) UpdateRole(ctx context.Context, id string, req UpdateRoleRequest, opts ...CallOption) (*Role, error) {
	p, err := idPath("/v1/roles/", id)
	if err != nil {
		return nil, err
	}
	return call[Role](ctx, c, http.MethodPatch, admin, p, nil, req, opts)
}

// DeleteRole deletes a role (DELETE /v1/roles/{id}). Keys and identities keep
// its name, which then grants nothing.
func (c *Client) DeleteRole(ctx context.Context, id string, opts ...CallOption) error {
	p, err := idPath("/v1/roles/", id)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, admin, p, nil, nil, nil, opts)
}

// --- rate-limit overrides

// CreateOverride sets the stand-alone limit for the identifiers of a
// namespace that req.Identifier matches (POST /v1/ratelimit/overrides).
func (c *Client) CreateOverride(ctx context.Context, req CreateOverrideRequest, opts ...CallOption) (*RateLimitOverride, error) {
	return call[RateLimitOverride](ctx, c, http.MethodPost, admin, "/v1/ratelimit/overrides", nil, req, opts)
}

// ListOverrides returns one page of the overrides of a namespace.
func (c *Client) ListOverrides(ctx context.Context, namespace string, o ListOptions, opts ...CallOption) (*List[RateLimitOverride], error) {
	q := o.values()
	if namespace != "" {
		q.Set("namespace", namespace)
	}
	return call[List[RateLimitOverride]](ctx, c, http.MethodGet, admin, "/v1/ratelimit/overrides", q, nil, opts)
}

// AllOverrides iterates over every override of a namespace, following cursors from o.
func (c *Client) AllOverrides(ctx context.Context, namespace string, o ListOptions) iter.Seq2[RateLimitOverride, error] {
	return paginate(o.Cursor, func(cursor string) (*List[RateLimitOverride], error) {
		o.Cursor = cursor
		return c.ListOverrides(ctx, namespace, o)
	})
}

// DeleteOverride deletes an override (DELETE /v1/ratelimit/overrides/{id}).
func (c *Client) DeleteOverride(ctx context.Context, id string, opts ...CallOption) error {
	p, err := idPath("/v1/ratelimit/overrides/", id)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, admin, p, nil, nil, nil, opts)
}

// --- data plane

// RateLimit spends req.Cost (default 1) of the limit of req.Identifier in
// req.Namespace on the data plane (POST /v1/ratelimit). Being limited is a
// response with Success false, not an error; an error means TypeAuth could
// not decide.
func (c *Client) RateLimit(ctx context.Context, req RateLimitRequest, opts ...CallOption) (*RateLimitResponse, error) {
	return call[RateLimitResponse](ctx, c, http.MethodPost, data, "/v1/ratelimit", nil, req, opts)
}
