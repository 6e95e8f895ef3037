package cli

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/typeauth/typeauth/client"
)

func ratelimitGroup() group {
	return group{"ratelimit", "rate-limit any identifier; manage limit overrides", []sub{
		{"check", "spend from an identifier's limit on the data plane", ratelimitCheck},
		{"overrides", "manage the overrides of a namespace's limit", ratelimitOverrides},
	}}
}

func overridesGroup() group {
	return group{"ratelimit overrides", "manage the overrides of a namespace's limit", []sub{
		{"create", "override the limit for matching identifiers", overridesCreate},
		{"list", "list the overrides of a namespace", overridesList},
		{"delete", "delete an override", overridesDelete},
	}}
}

func ratelimitCheck(e *env, g globals, args []string) int {
	c := e.newCmd(g, "ratelimit check", "--namespace NS --identifier ID --limit N --duration DURATION [flags]",
		"Spend from the limit of an identifier (an IP, a user id, …) in a namespace, on the data\n"+
			"plane: LIMIT requests per DURATION unless an override sets another. Exits 0 when the\n"+
			"request is allowed, 1 when it is limited.")
	ns := c.fs.String("namespace", "", "`NAMESPACE` of the limit (required), e.g. login")
	ident := c.fs.String("identifier", "", "`ID` to limit (required), e.g. an IP or a user id")
	limit := c.fs.Int64("limit", 0, "allow `N` requests per --duration (required)")
	dur := c.fs.String("duration", "", "window `DURATION` (required), e.g. 1s, 1m, 1h, 1d")
	cost := c.fs.Int64("cost", 0, "spend `N` (default: the server's, 1; 0 only reports)")
	if _, code, ok := c.parse(args, 0, 0); !ok {
		return code
	}
	set := c.setFlags()
	for _, f := range []string{"namespace", "identifier", "limit", "duration"} {
		if !set[f] {
			return c.usageError("--%s is required", f)
		}
	}
	if *ns == "" || *ident == "" {
		return c.usageError("--namespace and --identifier must not be empty")
	}
	if *limit <= 0 {
		return c.usageError("--limit must be positive")
	}
	d, err := parseWindow(*dur)
	if err != nil {
		return c.usageError("%v", err)
	}
	req := client.RateLimitRequest{Namespace: *ns, Identifier: *ident, Limit: *limit, DurationMs: d.Milliseconds()}
	if set["cost"] {
		if *cost < 0 {
			return c.usageError("--cost must not be negative")
		}
		req.Cost = cost
	}
	var raw json.RawMessage
	res, err := c.dataClient().RateLimit(e.ctx, req, client.WithRawResponse(&raw))
	if err != nil {
		return c.fail(err)
	}
	if c.g.json {
		if code := c.printJSON(raw); code != exitOK {
			return code
		}
	} else {
		c.printRecord(rateLimitFields(res))
	}
	if !res.Success {
		return exitFail
	}
	return exitOK
}

func rateLimitFields(r *client.RateLimitResponse) [][2]string {
	f := [][2]string{
		{"success", fmtBool(r.Success)},
		{"limit", strconv.FormatInt(r.Limit, 10)},
		{"remaining", strconv.FormatInt(r.Remaining, 10)},
		{"reset_at", fmtTime(r.ResetAt)},
	}
	if r.RetryAfterMs > 0 {
		f = append(f, [2]string{"retry_after", fmtMs(r.RetryAfterMs)})
	}
	if r.OverrideID != "" {
		f = append(f, [2]string{"override_id", r.OverrideID})
	}
	return f
}

func fmtMs(ms int64) string { return (time.Duration(ms) * time.Millisecond).String() }

// parseWindow reads a rate-limit window: a duration (with whole days) of at
// least 1ms.
func parseWindow(s string) (time.Duration, error) {
	d, err := parseDuration(s)
	if err != nil || d < time.Millisecond {
		return 0, fmt.Errorf("--duration %q: want a duration of at least 1ms, e.g. 1s, 1m or 1d", s)
	}
	return d, nil
}

// --- overrides

// ratelimitOverrides runs `ratelimit overrides <command>`, a nested group.
func ratelimitOverrides(e *env, g globals, args []string) int {
	gr := overridesGroup()
	if len(args) == 0 {
		overridesUsage(e.stderr, gr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help":
		overridesUsage(e.stdout, gr)
		return exitOK
	case "help":
		if len(args) == 1 {
			overridesUsage(e.stdout, gr)
			return exitOK
		}
	}
	return e.runGroup(g, gr, args)
}

// overridesUsage is the group usage plus the global flags, which `ratelimit
// overrides` accepts as a command of the ratelimit group.
func overridesUsage(w io.Writer, gr group) {
	groupUsage(w, gr)
	fmt.Fprint(w, "\nGlobal flags:\n")
	g := globals{adminURL: DefaultAdminURL}
	fs := flag.NewFlagSet("typeauth "+gr.name, flag.ContinueOnError)
	g.register(fs)
	printFlags(w, fs, isGlobalFlag, [2]string{"-h, --help", "show this help"})
}

func overridesCreate(e *env, g globals, args []string) int {
	c := e.newCmd(g, "ratelimit overrides create", "--namespace NS --identifier PATTERN --limit N --duration DURATION [flags]",
		"Override the limit of 'ratelimit check' for the identifiers of a namespace that PATTERN\n"+
			"matches: an exact identifier, or a pattern where * matches any characters (e.g. 10.0.*).")
	ns := c.fs.String("namespace", "", "`NAMESPACE` of the limit (required)")
	ident := c.fs.String("identifier", "", "identifier or `PATTERN` (required)")
	limit := c.fs.Int64("limit", 0, "allow `N` requests per --duration (required)")
	dur := c.fs.String("duration", "", "window `DURATION` (required), e.g. 1s, 1m, 1h, 1d")
	idem := c.fs.String("idempotency-key", "", "`KEY` that makes a retried create return the first result")
	if _, code, ok := c.parse(args, 0, 0); !ok {
		return code
	}
	set := c.setFlags()
	for _, f := range []string{"namespace", "identifier", "limit", "duration"} {
		if !set[f] {
			return c.usageError("--%s is required", f)
		}
	}
	if *ns == "" || *ident == "" {
		return c.usageError("--namespace and --identifier must not be empty")
	}
	if *limit <= 0 {
		return c.usageError("--limit must be positive")
	}
	d, err := parseWindow(*dur)
	if err != nil {
		return c.usageError("%v", err)
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
	o, err := cl.CreateOverride(e.ctx, client.CreateOverrideRequest{Namespace: *ns, Identifier: *ident, Limit: *limit, DurationMs: d.Milliseconds()}, opts...)
	if err != nil {
		return c.fail(err)
	}
	if c.g.json {
		return c.printJSON(raw)
	}
	c.printRecord(overrideFields(o))
	return exitOK
}

func overrideFields(o *client.RateLimitOverride) [][2]string {
	return [][2]string{
		{"id", o.ID},
		{"namespace", o.Namespace},
		{"identifier", o.Identifier},
		{"limit", fmt.Sprintf("%d/%s", o.Limit, fmtMs(o.DurationMs))},
		{"created_at", fmtTime(o.CreatedAt)},
		{"updated_at", fmtTime(o.UpdatedAt)},
	}
}

func overridesList(e *env, g globals, args []string) int {
	c := e.newCmd(g, "ratelimit overrides list", "--namespace NS [flags]", "List the overrides of a namespace.")
	ns := c.fs.String("namespace", "", "`NAMESPACE` whose overrides to list (required)")
	limit := c.fs.Int("limit", 0, "at most `N` overrides per page (default: the server's)")
	cursor := c.fs.String("cursor", "", "start at `CURSOR` (from a previous page)")
	all := c.fs.Bool("all", false, "follow cursors and list every override")
	if _, code, ok := c.parse(args, 0, 0); !ok {
		return code
	}
	if strings.TrimSpace(*ns) == "" {
		return c.usageError("--namespace is required")
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	list, raw, err := fetchList(*all, *cursor, func(cur string, opts ...client.CallOption) (*client.List[client.RateLimitOverride], error) {
		return cl.ListOverrides(e.ctx, *ns, client.ListOptions{Cursor: cur, Limit: *limit}, opts...)
	})
	if err != nil {
		return c.fail(err)
	}
	if c.g.json {
		return c.printJSON(raw)
	}
	rows := make([][]string, len(list.Data))
	for i, o := range list.Data {
		rows[i] = []string{o.ID, o.Identifier, strconv.FormatInt(o.Limit, 10), fmtMs(o.DurationMs), fmtTime(o.CreatedAt)}
	}
	c.printTable([]string{"ID", "IDENTIFIER", "LIMIT", "DURATION", "CREATED"}, rows)
	c.moreHint(list.NextCursor)
	return exitOK
}

func overridesDelete(e *env, g globals, args []string) int {
	c := e.newCmd(g, "ratelimit overrides delete", "ID [flags]", "Delete an override.")
	pos, code, ok := c.parse(args, 1, 1)
	if !ok {
		return code
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	if err := cl.DeleteOverride(e.ctx, pos[0]); err != nil {
		return c.fail(err)
	}
	if !c.g.json {
		fmt.Fprintf(e.stdout, "deleted override %s\n", pos[0])
	}
	return exitOK
}

// --- keys verify --ratelimit

// parseVerifyRateLimit reads NAME[:COST], e.g. "requests" or "tokens:25".
func parseVerifyRateLimit(s string) (client.VerifyRateLimit, error) {
	name, cost, hasCost := strings.Cut(s, ":")
	if name == "" {
		return client.VerifyRateLimit{}, fmt.Errorf("--ratelimit %q: want NAME[:COST], e.g. requests or tokens:25", s)
	}
	rl := client.VerifyRateLimit{Name: name}
	if hasCost {
		n, err := strconv.ParseInt(cost, 10, 64)
		if err != nil || n < 0 {
			return client.VerifyRateLimit{}, fmt.Errorf("--ratelimit %q: COST must be a whole number ≥ 0", s)
		}
		rl.Cost = &n
	}
	return rl, nil
}

// verifyRateLimits reads the --ratelimit flags of keys verify.
func verifyRateLimits(specs []string) ([]client.VerifyRateLimit, error) {
	var out []client.VerifyRateLimit
	for _, s := range specs {
		rl, err := parseVerifyRateLimit(s)
		if err != nil {
			return nil, err
		}
		out = append(out, rl)
	}
	return out, nil
}
