package cli

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/typeauth/typeauth/client"
	"github.com/typeauth/typeauth/internal/auth"
)

func rootkeysCreate(e *env, g globals, args []string) int {
	c := e.newCmd(g, "rootkeys create", "--scope SCOPE [--scope SCOPE …] [flags]",
		"Create a root key for the management API. Its secret goes to stdout once.\n"+
			"Scopes: "+strings.Join(auth.KnownScopes, ", ")+"; a scope may be narrowed to one app\n"+
			"as SCOPE:APP_ID (e.g. keys.write:app_123).")
	name := c.fs.String("name", "", "`NAME` of the root key")
	var scopes stringList
	c.fs.Var(&scopes, "scope", "grant `SCOPE` (repeatable, at least one)")
	quiet := c.fs.Bool("quiet", false, "print only the secret")
	if _, code, ok := c.parse(args, 0, 0); !ok {
		return code
	}
	if len(scopes) == 0 {
		return c.usageError("at least one --scope is required")
	}
	if *quiet && c.g.json {
		return c.usageError("--quiet and --json exclude each other")
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	var raw json.RawMessage
	rk, err := cl.CreateRootKey(e.ctx, client.CreateRootKeyRequest{Name: *name, Scopes: scopes}, client.WithRawResponse(&raw))
	if err != nil {
		return c.fail(err)
	}
	return c.printCreated("root key", rk.Secret, raw, rootKeyFields(&rk.RootKey), *quiet)
}

func rootkeysList(e *env, g globals, args []string) int {
	c := e.newCmd(g, "rootkeys list", "[flags]", "List root keys (never their secrets).")
	limit := c.fs.Int("limit", 0, "at most `N` root keys per page (default: the server's)")
	cursor := c.fs.String("cursor", "", "start at `CURSOR` (from a previous page)")
	all := c.fs.Bool("all", false, "follow cursors and list every root key")
	if _, code, ok := c.parse(args, 0, 0); !ok {
		return code
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	list, raw, err := fetchList(*all, *cursor, func(cur string, opts ...client.CallOption) (*client.List[client.RootKey], error) {
		return cl.ListRootKeys(e.ctx, client.ListOptions{Cursor: cur, Limit: *limit}, opts...)
	})
	if err != nil {
		return c.fail(err)
	}
	if c.g.json {
		return c.printJSON(raw)
	}
	rows := make([][]string, len(list.Data))
	for i, r := range list.Data {
		revoked := "-"
		if r.RevokedAt != nil {
			revoked = fmtTime(*r.RevokedAt)
		}
		rows[i] = []string{r.ID, orDash(r.Name), r.Start, fmtList(r.Scopes), fmtTime(r.CreatedAt), revoked}
	}
	c.printTable([]string{"ID", "NAME", "START", "SCOPES", "CREATED", "REVOKED"}, rows)
	c.moreHint(list.NextCursor)
	return exitOK
}

func rootkeysRevoke(e *env, g globals, args []string) int {
	c := e.newCmd(g, "rootkeys revoke", "ID [flags]", "Revoke a root key.")
	pos, code, ok := c.parse(args, 1, 1)
	if !ok {
		return code
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	if err := cl.RevokeRootKey(e.ctx, pos[0]); err != nil {
		return c.fail(err)
	}
	if !c.g.json {
		fmt.Fprintf(e.stdout, "revoked root key %s\n", pos[0])
	}
	return exitOK
}
