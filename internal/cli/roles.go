package cli

import (
	"encoding/json"
	"fmt"

	"github.com/typeauth/typeauth/client"
)

func rolesGroup() group {
	return group{"roles", "manage roles (named bundles of permissions)", []sub{
		{"create", "create a role", rolesCreate},
		{"list", "list roles", rolesList},
		{"get", "show a role", rolesGet},
		{"update", "change a role", rolesUpdate},
		{"delete", "delete a role", rolesDelete},
	}}
}

func rolesCreate(e *env, g globals, args []string) int {
	c := e.newCmd(g, "roles create", "--name NAME --permission PERMISSION [--permission PERMISSION …] [flags]",
		"Create a role: a named bundle of permissions that keys and identities are granted\n"+
			"with --role NAME.")
	name := c.fs.String("name", "", "`NAME` of the role (required), e.g. admin")
	desc := c.fs.String("description", "", "`TEXT` describing the role")
	var perms stringList
	c.fs.Var(&perms, "permission", "grant `PERMISSION`, e.g. documents.read (repeatable, at least one)")
	idem := c.fs.String("idempotency-key", "", "`KEY` that makes a retried create return the first result")
	if _, code, ok := c.parse(args, 0, 0); !ok {
		return code
	}
	if *name == "" {
		return c.usageError("--name is required")
	}
	if len(perms) == 0 {
		return c.usageError("at least one --permission is required")
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
	r, err := cl.CreateRole(e.ctx, client.CreateRoleRequest{Name: *name, Description: *desc, Permissions: perms}, opts...)
	if err != nil {
		return c.fail(err)
	}
	return c.showRole(r, raw)
}

func (c *cmd) showRole(r *client.Role, raw json.RawMessage) int {
	if c.g.json {
		return c.printJSON(raw)
	}
	c.printRecord(roleFields(r))
	return exitOK
}

func roleFields(r *client.Role) [][2]string {
	return [][2]string{
		{"id", r.ID},
		{"name", r.Name},
		{"description", orDash(r.Description)},
		{"permissions", fmtList(r.Permissions)},
		{"created_at", fmtTime(r.CreatedAt)},
		{"updated_at", fmtTime(r.UpdatedAt)},
	}
}

func rolesList(e *env, g globals, args []string) int {
	c := e.newCmd(g, "roles list", "[flags]", "List roles.")
	limit := c.fs.Int("limit", 0, "at most `N` roles per page (default: the server's)")
	cursor := c.fs.String("cursor", "", "start at `CURSOR` (from a previous page)")
	all := c.fs.Bool("all", false, "follow cursors and list every role")
	if _, code, ok := c.parse(args, 0, 0); !ok {
		return code
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	list, raw, err := fetchList(*all, *cursor, func(cur string, opts ...client.CallOption) (*client.List[client.Role], error) {
		return cl.ListRoles(e.ctx, client.ListOptions{Cursor: cur, Limit: *limit}, opts...)
	})
	if err != nil {
		return c.fail(err)
	}
	if c.g.json {
		return c.printJSON(raw)
	}
	rows := make([][]string, len(list.Data))
	for i, r := range list.Data {
		rows[i] = []string{r.ID, r.Name, fmtList(r.Permissions), orDash(r.Description), fmtTime(r.CreatedAt)}
	}
	c.printTable([]string{"ID", "NAME", "PERMISSIONS", "DESCRIPTION", "CREATED"}, rows)
	c.moreHint(list.NextCursor)
	return exitOK
}

func rolesGet(e *env, g globals, args []string) int {
	c := e.newCmd(g, "roles get", "ID [flags]", "Show a role.")
	pos, code, ok := c.parse(args, 1, 1)
	if !ok {
		return code
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	var raw json.RawMessage
	r, err := cl.GetRole(e.ctx, pos[0], client.WithRawResponse(&raw))
	if err != nil {
		return c.fail(err)
	}
	return c.showRole(r, raw)
}

func rolesUpdate(e *env, g globals, args []string) int {
	c := e.newCmd(g, "roles update", "ID [flags]",
		"Change a role. Only the fields given change; --permission replaces the whole list.\n"+
			"Keys and identities with the role get the change at once.")
	name := c.fs.String("name", "", "new `NAME` (keys and identities grant the role by name)")
	desc := c.fs.String("description", "", "new description `TEXT` (\"\" clears it)")
	var perms stringList
	c.fs.Var(&perms, "permission", "replace the permissions with `PERMISSION` (repeatable)")
	clearPerms := c.fs.Bool("clear-permissions", false, "remove every permission")
	pos, code, ok := c.parse(args, 1, 1)
	if !ok {
		return code
	}
	set := c.setFlags()
	if set["permission"] && *clearPerms {
		return c.usageError("--permission and --clear-permissions exclude each other")
	}
	var req client.UpdateRoleRequest
	if set["name"] {
		if *name == "" {
			return c.usageError("--name must not be empty")
		}
		req.Name = client.Some(*name)
	}
	if set["description"] {
		req.Description = client.Some(*desc)
		if *desc == "" {
			req.Description = client.Null[string]()
		}
	}
	if set["permission"] {
		req.Permissions = client.Some([]string(perms))
	}
	if *clearPerms {
		req.Permissions = client.Some([]string{})
	}
	if !req.Name.Set && !req.Description.Set && !req.Permissions.Set {
		return c.usageError("nothing to update")
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	var raw json.RawMessage
	r, err := cl.UpdateRole(e.ctx, pos[0], req, client.WithRawResponse(&raw))
	if err != nil {
		return c.fail(err)
	}
	return c.showRole(r, raw)
}

func rolesDelete(e *env, g globals, args []string) int {
	c := e.newCmd(g, "roles delete", "ID [flags]",
		"Delete a role. Keys and identities keep its name, which then grants nothing.")
	pos, code, ok := c.parse(args, 1, 1)
	if !ok {
		return code
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	if err := cl.DeleteRole(e.ctx, pos[0]); err != nil {
		return c.fail(err)
	}
	if !c.g.json {
		fmt.Fprintf(e.stdout, "deleted role %s\n", pos[0])
	}
	return exitOK
}

// --- add, remove or set the permissions or roles of a key or an identity

// listChange is one of the `… permissions` and `… roles` commands.
type listChange struct {
	path  string // "keys permissions"
	what  string // "a key's permissions"
	item  string // "PERMISSION"
	apply func(e *env, cl *client.Client, id string, ch client.PermissionsChange, opts ...client.CallOption) ([][2]string, error)
}

func (lc listChange) run(e *env, g globals, args []string) int {
	c := e.newCmd(g, lc.path, fmt.Sprintf("ID add|remove|set %s… [flags]", lc.item),
		fmt.Sprintf("Add, remove or set %s. set replaces the whole list (set with no %s\n"+
			"clears it). Prints the result.", lc.what, lc.item))
	pos, code, ok := c.parse(args, 2, -1)
	if !ok {
		return code
	}
	op, items := pos[1], pos[2:]
	for _, it := range items {
		if it == "" {
			return c.usageError("empty %s", lc.item)
		}
	}
	var ch client.PermissionsChange
	switch op {
	case "add":
		ch.Add = items
	case "remove":
		ch.Remove = items
	case "set":
		list := append([]string{}, items...)
		ch.Set = &list
	default:
		return c.usageError("operation %q: want add, remove or set", op)
	}
	if op != "set" && len(items) == 0 {
		return c.usageError("missing argument: %s needs at least one %s", op, lc.item)
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	var raw json.RawMessage
	fields, err := lc.apply(e, cl, pos[0], ch, client.WithRawResponse(&raw))
	if err != nil {
		return c.fail(err)
	}
	if c.g.json {
		return c.printJSON(raw)
	}
	c.printRecord(fields)
	return exitOK
}

func keysPermissions(e *env, g globals, args []string) int {
	return listChange{"keys permissions", "a key's permissions", "PERMISSION",
		func(e *env, cl *client.Client, id string, ch client.PermissionsChange, opts ...client.CallOption) ([][2]string, error) {
			k, err := cl.ChangeKeyPermissions(e.ctx, id, ch, opts...)
			if err != nil {
				return nil, err
			}
			return keyFields(k), nil
		}}.run(e, g, args)
}

func keysRoles(e *env, g globals, args []string) int {
	return listChange{"keys roles", "a key's roles", "ROLE",
		func(e *env, cl *client.Client, id string, ch client.PermissionsChange, opts ...client.CallOption) ([][2]string, error) {
			k, err := cl.ChangeKeyRoles(e.ctx, id, ch, opts...)
			if err != nil {
				return nil, err
			}
			return keyFields(k), nil
		}}.run(e, g, args)
}
