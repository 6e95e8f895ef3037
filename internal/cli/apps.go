package cli

import (
	"encoding/json"
	"fmt"

	"github.com/typeauth/typeauth/client"
)

func appsCreate(e *env, g globals, args []string) int {
	c := e.newCmd(g, "apps create", "--name NAME --prefix PREFIX [flags]",
		"Create an app: one protected API, whose keys start with PREFIX_.")
	name := c.fs.String("name", "", "`NAME` of the app (required)")
	prefix := c.fs.String("prefix", "", "key `PREFIX`, e.g. acme for keys acme_…")
	if _, code, ok := c.parse(args, 0, 0); !ok {
		return code
	}
	if *name == "" {
		return c.usageError("--name is required")
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	var raw json.RawMessage
	app, err := cl.CreateApp(e.ctx, client.CreateAppRequest{Name: *name, KeyPrefix: *prefix}, client.WithRawResponse(&raw))
	if err != nil {
		return c.fail(err)
	}
	return c.showApp(app, raw)
}

func (c *cmd) showApp(app *client.App, raw json.RawMessage) int {
	if c.g.json {
		return c.printJSON(raw)
	}
	c.printRecord(appFields(app))
	return exitOK
}

func appsList(e *env, g globals, args []string) int {
	c := e.newCmd(g, "apps list", "[flags]", "List apps.")
	limit := c.fs.Int("limit", 0, "at most `N` apps per page (default: the server's)")
	cursor := c.fs.String("cursor", "", "start at `CURSOR` (from a previous page)")
	all := c.fs.Bool("all", false, "follow cursors and list every app")
	if _, code, ok := c.parse(args, 0, 0); !ok {
		return code
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	list, raw, err := fetchList(*all, *cursor, func(cur string, opts ...client.CallOption) (*client.List[client.App], error) {
		return cl.ListApps(e.ctx, client.ListOptions{Cursor: cur, Limit: *limit}, opts...)
	})
	if err != nil {
		return c.fail(err)
	}
	if c.g.json {
		return c.printJSON(raw)
	}
	rows := make([][]string, len(list.Data))
	for i, a := range list.Data {
		rows[i] = []string{a.ID, a.Name, a.KeyPrefix, fmtTime(a.CreatedAt)}
	}
	c.printTable([]string{"ID", "NAME", "PREFIX", "CREATED"}, rows)
	c.moreHint(list.NextCursor)
	return exitOK
}

func appsGet(e *env, g globals, args []string) int {
	c := e.newCmd(g, "apps get", "ID [flags]", "Show an app.")
	pos, code, ok := c.parse(args, 1, 1)
	if !ok {
		return code
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	var raw json.RawMessage
	app, err := cl.GetApp(e.ctx, pos[0], client.WithRawResponse(&raw))
	if err != nil {
		return c.fail(err)
	}
	return c.showApp(app, raw)
}

func appsUpdate(e *env, g globals, args []string) int {
	c := e.newCmd(g, "apps update", "ID --name NAME [flags]", "Rename an app.")
	name := c.fs.String("name", "", "new `NAME`")
	pos, code, ok := c.parse(args, 1, 1)
	if !ok {
		return code
	}
	var req client.UpdateAppRequest
	if c.setFlags()["name"] {
		req.Name = client.Some(*name)
	} else {
		return c.usageError("nothing to update: give --name")
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	var raw json.RawMessage
	app, err := cl.UpdateApp(e.ctx, pos[0], req, client.WithRawResponse(&raw))
	if err != nil {
		return c.fail(err)
	}
	return c.showApp(app, raw)
}

func appsDelete(e *env, g globals, args []string) int {
	c := e.newCmd(g, "apps delete", "ID [flags]", "Delete an app.")
	pos, code, ok := c.parse(args, 1, 1)
	if !ok {
		return code
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	if err := cl.DeleteApp(e.ctx, pos[0]); err != nil {
		return c.fail(err)
	}
	if !c.g.json {
		fmt.Fprintf(e.stdout, "deleted app %s\n", pos[0])
	}
	return exitOK
}
