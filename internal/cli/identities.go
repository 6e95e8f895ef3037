package cli

import (
	"encoding/json"
	"fmt"

	"github.com/typeauth/typeauth/client"
)

func identitiesGroup() group {
	return group{"identities", "manage identities (customers shared by several keys)", []sub{
		{"create", "create an identity", identitiesCreate},
		{"list", "list identities, or find one by external id", identitiesList},
		{"get", "show an identity", identitiesGet},
		{"update", "change an identity", identitiesUpdate},
		{"delete", "delete an identity (its keys stay, unlinked)", identitiesDelete},
		{"permissions", "add, remove or set an identity's permissions", identitiesPermissions},
		{"roles", "add, remove or set an identity's roles", identitiesRoles},
	}}
}

func identitiesCreate(e *env, g globals, args []string) int {
	c := e.newCmd(g, "identities create", "--external-id ID [flags]",
		"Create an identity: one of your customers (a user or an org), whose rate limits,\n"+
			"permissions and roles its keys share. Link a key with 'keys create --identity ID'.")
	ext := c.fs.String("external-id", "", "your `ID` for the customer (required)")
	app := c.fs.String("app", "", "scope the identity to the app `ID` (default: shared by every app)")
	meta := c.fs.String("meta", "", "metadata, a `JSON` object, e.g. '{\"plan\":\"pro\"}'")
	var perms, roles, rls stringList
	c.fs.Var(&rls, "ratelimit", "add a rate limit `SPEC`: NAME:LIMIT/DURATION[:auto], e.g. requests:100/1m (repeatable)")
	c.fs.Var(&perms, "permission", "grant `PERMISSION`, e.g. documents.read (repeatable)")
	c.fs.Var(&roles, "role", "grant the role named `ROLE` (repeatable)")
	idem := c.fs.String("idempotency-key", "", "`KEY` that makes a retried create return the first result")
	if _, code, ok := c.parse(args, 0, 0); !ok {
		return code
	}
	if *ext == "" {
		return c.usageError("--external-id is required")
	}
	req := client.CreateIdentityRequest{ExternalID: *ext, AppID: *app, Permissions: perms, Roles: roles}
	if c.setFlags()["meta"] {
		m, err := parseMeta(*meta, false)
		if err != nil {
			return c.usageError("%v", err)
		}
		req.Meta = m
	}
	for _, s := range rls {
		rl, err := parseRateLimit(s)
		if err != nil {
			return c.usageError("%v", err)
		}
		req.RateLimits = append(req.RateLimits, rl)
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	var raw json.RawMessage
	opts := []client.CallOption{client.WithRawResponse(&raw)}
	if *idem != "" {
		opts = append(opts, client.WithIdempotencyKey(*idem))
	}
	id, err := cl.CreateIdentity(e.ctx, req, opts...)
	if err != nil {
		return c.fail(err)
	}
	return c.showIdentity(id, raw)
}

func (c *cmd) showIdentity(id *client.Identity, raw json.RawMessage) int {
	if c.g.json {
		return c.printJSON(raw)
	}
	c.printRecord(identityFields(id))
	return exitOK
}

func identityFields(id *client.Identity) [][2]string {
	return [][2]string{
		{"id", id.ID},
		{"external_id", id.ExternalID},
		{"app_id", orDash(id.AppID)},
		{"ratelimits", fmtRateLimits(id.RateLimits)},
		{"permissions", fmtList(id.Permissions)},
		{"roles", fmtList(id.Roles)},
		{"meta", fmtJSON(id.Meta)},
		{"created_at", fmtTime(id.CreatedAt)},
		{"updated_at", fmtTime(id.UpdatedAt)},
	}
}

func identitiesList(e *env, g globals, args []string) int {
	c := e.newCmd(g, "identities list", "[--app ID] [--external-id ID] [flags]",
		"List identities (of an app), or find the one with an external id.")
	app := c.fs.String("app", "", "list the identities of the app `ID`")
	ext := c.fs.String("external-id", "", "show only the identity with the external `ID`")
	limit := c.fs.Int("limit", 0, "at most `N` identities per page (default: the server's)")
	cursor := c.fs.String("cursor", "", "start at `CURSOR` (from a previous page)")
	all := c.fs.Bool("all", false, "follow cursors and list every identity")
	if _, code, ok := c.parse(args, 0, 0); !ok {
		return code
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	list, raw, err := fetchList(*all, *cursor, func(cur string, opts ...client.CallOption) (*client.List[client.Identity], error) {
		return cl.ListIdentities(e.ctx, client.IdentityListOptions{AppID: *app, ExternalID: *ext, Cursor: cur, Limit: *limit}, opts...)
	})
	if err != nil {
		return c.fail(err)
	}
	if c.g.json {
		return c.printJSON(raw)
	}
	rows := make([][]string, len(list.Data))
	for i, id := range list.Data {
		rows[i] = []string{id.ID, id.ExternalID, orDash(id.AppID), fmtRateLimits(id.RateLimits),
			fmtList(id.Permissions), fmtList(id.Roles), fmtTime(id.CreatedAt)}
	}
	c.printTable([]string{"ID", "EXTERNAL_ID", "APP", "RATELIMITS", "PERMISSIONS", "ROLES", "CREATED"}, rows)
	c.moreHint(list.NextCursor)
	return exitOK
}

func identitiesGet(e *env, g globals, args []string) int {
	c := e.newCmd(g, "identities get", "ID [flags]", "Show an identity.")
	pos, code, ok := c.parse(args, 1, 1)
	if !ok {
		return code
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	var raw json.RawMessage
	id, err := cl.GetIdentity(e.ctx, pos[0], client.WithRawResponse(&raw))
	if err != nil {
		return c.fail(err)
	}
	return c.showIdentity(id, raw)
}

func identitiesUpdate(e *env, g globals, args []string) int {
	c := e.newCmd(g, "identities update", "ID [flags]",
		"Change an identity. Only the fields given change; --ratelimit replaces every limit.\n"+
			"Change permissions and roles with 'identities permissions' and 'identities roles'.")
	ext := c.fs.String("external-id", "", "new external `ID`")
	meta := c.fs.String("meta", "", "new metadata, a `JSON` object (null clears it)")
	var rls stringList
	c.fs.Var(&rls, "ratelimit", "replace the rate limits with `SPEC`: NAME:LIMIT/DURATION[:auto] (repeatable)")
	clearRLs := c.fs.Bool("clear-ratelimits", false, "remove every rate limit")
	pos, code, ok := c.parse(args, 1, 1)
	if !ok {
		return code
	}
	set := c.setFlags()
	if set["ratelimit"] && *clearRLs {
		return c.usageError("--ratelimit and --clear-ratelimits exclude each other")
	}
	var req client.UpdateIdentityRequest
	if set["external-id"] {
		if *ext == "" {
			return c.usageError("--external-id must not be empty")
		}
		req.ExternalID = client.Some(*ext)
	}
	if set["meta"] {
		m, err := parseMeta(*meta, true)
		if err != nil {
			return c.usageError("%v", err)
		}
		req.Meta = client.Some(m)
		if m == nil {
			req.Meta = client.Null[json.RawMessage]()
		}
	}
	if set["ratelimit"] {
		out := make([]client.RateLimit, 0, len(rls))
		for _, s := range rls {
			rl, err := parseRateLimit(s)
			if err != nil {
				return c.usageError("%v", err)
			}
			out = append(out, rl)
		}
		req.RateLimits = client.Some(out)
	}
	if *clearRLs {
		req.RateLimits = client.Null[[]client.RateLimit]()
	}
	if !req.ExternalID.Set && !req.Meta.Set && !req.RateLimits.Set {
		return c.usageError("nothing to update")
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	var raw json.RawMessage
	id, err := cl.UpdateIdentity(e.ctx, pos[0], req, client.WithRawResponse(&raw))
	if err != nil {
		return c.fail(err)
	}
	return c.showIdentity(id, raw)
}

func identitiesDelete(e *env, g globals, args []string) int {
	c := e.newCmd(g, "identities delete", "ID [flags]",
		"Delete an identity. Its keys stay, unlinked: they lose its shared limits and grants.")
	pos, code, ok := c.parse(args, 1, 1)
	if !ok {
		return code
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	if err := cl.DeleteIdentity(e.ctx, pos[0]); err != nil {
		return c.fail(err)
	}
	if !c.g.json {
		fmt.Fprintf(e.stdout, "deleted identity %s\n", pos[0])
	}
	return exitOK
}

func identitiesPermissions(e *env, g globals, args []string) int {
	return listChange{"identities permissions", "an identity's permissions", "PERMISSION",
		func(e *env, cl *client.Client, id string, ch client.PermissionsChange, opts ...client.CallOption) ([][2]string, error) {
			i, err := cl.ChangeIdentityPermissions(e.ctx, id, ch, opts...)
			if err != nil {
				return nil, err
			}
			return identityFields(i), nil
		}}.run(e, g, args)
}

func identitiesRoles(e *env, g globals, args []string) int {
	return listChange{"identities roles", "an identity's roles", "ROLE",
		func(e *env, cl *client.Client, id string, ch client.PermissionsChange, opts ...client.CallOption) ([][2]string, error) {
			i, err := cl.ChangeIdentityRoles(e.ctx, id, ch, opts...)
			if err != nil {
				return nil, err
			}
			return identityFields(i), nil
		}}.run(e, g, args)
}
