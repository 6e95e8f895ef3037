package cli

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/typeauth/typeauth/client"
)

func keysCreate(e *env, g globals, args []string) int {
	c := e.newCmd(g, "keys create", "--app ID [flags]",
		"Create an API key. Its secret goes to stdout once (a warning to stderr): capture it\n"+
			"with --quiet, or with --json and the \"key\" field.")
	app := c.fs.String("app", "", "`ID` of the app the key belongs to (required)")
	name := c.fs.String("name", "", "`NAME` of the key")
	owner := c.fs.String("owner", "", "owner `ID` (your customer's user or org id)")
	identity := c.fs.String("identity", "", "identity `ID` whose limits the key shares")
	meta := c.fs.String("meta", "", "metadata, a `JSON` object, e.g. '{\"plan\":\"pro\"}'")
	expires := c.fs.String("expires", "", "expiry: an RFC 3339 `TIME`, or a duration from now like 720h or 30d")
	credits := c.fs.Int64("credits", 0, "number of uses `N` (no flag: unlimited)")
	refillAmount := c.fs.Int64("refill-amount", 0, "refill the credits to `N` every --refill-interval (starts with N if no --credits)")
	refillInterval := c.fs.String("refill-interval", "", "refill `INTERVAL`: daily or monthly")
	var perms, roles, ips, rls stringList
	c.fs.Var(&perms, "permission", "grant `PERMISSION`, e.g. documents.read (repeatable)")
	c.fs.Var(&roles, "role", "grant the role named `ROLE` (repeatable)")
	c.fs.Var(&ips, "ip", "allow calls only from `CIDR` or IP (repeatable)")
	c.fs.Var(&rls, "ratelimit", "add a rate limit `SPEC`: NAME:LIMIT/DURATION[:auto], e.g. requests:100/1m (repeatable)")
	disabled := c.fs.Bool("disabled", false, "create the key disabled")
	idem := c.fs.String("idempotency-key", "", "`KEY` that makes a retried create return the first result")
	quiet := c.fs.Bool("quiet", false, "print only the secret")
	if _, code, ok := c.parse(args, 0, 0); !ok {
		return code
	}
	set := c.setFlags()
	if *app == "" {
		return c.usageError("--app is required")
	}
	if *quiet && c.g.json {
		return c.usageError("--quiet and --json exclude each other")
	}
	req := client.CreateKeyRequest{
		AppID: *app, Name: *name, OwnerID: *owner, IdentityID: *identity,
		Permissions: perms, Roles: roles, IPAllowlist: ips,
	}
	if set["meta"] {
		m, err := parseMeta(*meta, false)
		if err != nil {
			return c.usageError("%v", err)
		}
		req.Meta = m
	}
	if set["expires"] {
		t, err := parseExpiry(*expires, e.now())
		if err != nil {
			return c.usageError("%v", err)
		}
		req.ExpiresAt = &t
	}
	if set["credits"] || set["refill-amount"] || set["refill-interval"] {
		cr, err := creditsFromFlags(set, *credits, *refillAmount, *refillInterval)
		if err != nil {
			return c.usageError("%v", err)
		}
		req.Credits = cr
	}
	for _, s := range rls {
		rl, err := parseRateLimit(s)
		if err != nil {
			return c.usageError("%v", err)
		}
		req.RateLimits = append(req.RateLimits, rl)
	}
	if *disabled {
		f := false
		req.Enabled = &f
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
	k, err := cl.CreateKey(e.ctx, req, opts...)
	if err != nil {
		return c.fail(err)
	}
	return c.printCreated("key", k.Secret, raw, keyFields(&k.Key), *quiet)
}

func creditsFromFlags(set map[string]bool, credits, amount int64, interval string) (*client.Credits, error) {
	if credits < 0 {
		return nil, errors.New("--credits must not be negative")
	}
	cr := &client.Credits{Remaining: credits}
	if set["refill-amount"] != set["refill-interval"] {
		return nil, errors.New("--refill-amount and --refill-interval go together")
	}
	if set["refill-amount"] {
		if interval != "daily" && interval != "monthly" {
			return nil, fmt.Errorf("--refill-interval %q: want daily or monthly", interval)
		}
		if amount <= 0 {
			return nil, errors.New("--refill-amount must be positive")
		}
		cr.Refill = &client.Refill{Amount: amount, Interval: interval}
		if !set["credits"] {
			cr.Remaining = amount
		}
	}
	return cr, nil
}

func keysList(e *env, g globals, args []string) int {
	c := e.newCmd(g, "keys list", "--app ID | --owner OWNER [flags]", "List the keys of an app, of an owner, or of an owner in an app.")
	app := c.fs.String("app", "", "list the keys of the app `ID`")
	owner := c.fs.String("owner", "", "list the keys of the owner `OWNER`")
	limit := c.fs.Int("limit", 0, "at most `N` keys per page (default: the server's)")
	cursor := c.fs.String("cursor", "", "start at `CURSOR` (from a previous page)")
	all := c.fs.Bool("all", false, "follow cursors and list every key")
	if _, code, ok := c.parse(args, 0, 0); !ok {
		return code
	}
	if *app == "" && *owner == "" {
		return c.usageError("--app or --owner is required")
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	list, raw, err := fetchList(*all, *cursor, func(cur string, opts ...client.CallOption) (*client.List[client.Key], error) {
		return cl.ListKeys(e.ctx, client.KeyListOptions{AppID: *app, OwnerID: *owner, Cursor: cur, Limit: *limit}, opts...)
	})
	if err != nil {
		return c.fail(err)
	}
	if c.g.json {
		return c.printJSON(raw)
	}
	rows := make([][]string, len(list.Data))
	for i, k := range list.Data {
		rows[i] = []string{k.ID, orDash(k.Name), orDash(k.OwnerID), k.Start, fmtBool(k.Enabled), fmtExpiry(k.ExpiresAt), fmtCredits(k.Credits)}
	}
	c.printTable([]string{"ID", "NAME", "OWNER", "START", "ENABLED", "EXPIRES", "CREDITS"}, rows)
	c.moreHint(list.NextCursor)
	return exitOK
}

func (c *cmd) showKey(k *client.Key, raw json.RawMessage) int {
	if c.g.json {
		return c.printJSON(raw)
	}
	c.printRecord(keyFields(k))
	return exitOK
}

func keysGet(e *env, g globals, args []string) int {
	c := e.newCmd(g, "keys get", "ID [flags]", "Show a key (never its secret).")
	pos, code, ok := c.parse(args, 1, 1)
	if !ok {
		return code
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	var raw json.RawMessage
	k, err := cl.GetKey(e.ctx, pos[0], client.WithRawResponse(&raw))
	if err != nil {
		return c.fail(err)
	}
	return c.showKey(k, raw)
}

func keysUpdate(e *env, g globals, args []string) int {
	c := e.newCmd(g, "keys update", "ID [flags]", "Change a key. Only the fields given change.")
	name := c.fs.String("name", "", "new `NAME`")
	owner := c.fs.String("owner", "", "new owner `ID` (\"\" clears it)")
	meta := c.fs.String("meta", "", "new metadata, a `JSON` object (null clears it)")
	enable := c.fs.Bool("enable", false, "enable the key")
	disable := c.fs.Bool("disable", false, "disable the key")
	expires := c.fs.String("expires", "", "new expiry: an RFC 3339 `TIME`, or a duration from now like 720h or 30d")
	noExpiry := c.fs.Bool("no-expiry", false, "remove the expiry")
	var ips stringList
	c.fs.Var(&ips, "ip", "replace the IP allow list with `CIDR` or IP (repeatable)")
	clearIPs := c.fs.Bool("clear-ips", false, "remove the IP allow list")
	pos, code, ok := c.parse(args, 1, 1)
	if !ok {
		return code
	}
	set := c.setFlags()
	for _, pair := range [][2]string{{"enable", "disable"}, {"expires", "no-expiry"}, {"ip", "clear-ips"}} {
		if set[pair[0]] && set[pair[1]] {
			return c.usageError("--%s and --%s exclude each other", pair[0], pair[1])
		}
	}
	var req client.UpdateKeyRequest
	if set["name"] {
		req.Name = client.Some(*name)
	}
	if set["owner"] {
		req.OwnerID = client.Some(*owner)
		if *owner == "" {
			req.OwnerID = client.Null[string]()
		}
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
	switch {
	case set["enable"] && *enable:
		req.Enabled = client.Some(true)
	case set["disable"] && *disable:
		req.Enabled = client.Some(false)
	}
	if set["expires"] {
		t, err := parseExpiry(*expires, e.now())
		if err != nil {
			return c.usageError("%v", err)
		}
		req.ExpiresAt = client.Some(t)
	}
	if *noExpiry {
		req.ExpiresAt = client.Null[time.Time]()
	}
	if set["ip"] {
		req.IPAllowlist = client.Some([]string(ips))
	}
	if *clearIPs {
		req.IPAllowlist = client.Null[[]string]()
	}
	if !req.Name.Set && !req.OwnerID.Set && !req.Meta.Set && !req.Enabled.Set && !req.ExpiresAt.Set && !req.IPAllowlist.Set {
		return c.usageError("nothing to update")
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	var raw json.RawMessage
	k, err := cl.UpdateKey(e.ctx, pos[0], req, client.WithRawResponse(&raw))
	if err != nil {
		return c.fail(err)
	}
	return c.showKey(k, raw)
}

func keysRoll(e *env, g globals, args []string) int {
	c := e.newCmd(g, "keys roll", "ID [flags]",
		"Give a key a new secret, keeping its settings. The new secret goes to stdout once.")
	grace := c.fs.Duration("grace", 0, "keep the old secret working for `DURATION`, e.g. 1h")
	quiet := c.fs.Bool("quiet", false, "print only the new secret")
	pos, code, ok := c.parse(args, 1, 1)
	if !ok {
		return code
	}
	if *grace < 0 {
		return c.usageError("--grace must not be negative")
	}
	if *quiet && c.g.json {
		return c.usageError("--quiet and --json exclude each other")
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	var raw json.RawMessage
	k, err := cl.RollKey(e.ctx, pos[0], client.RollKeyRequest{GracePeriodMs: grace.Milliseconds()}, client.WithRawResponse(&raw))
	if err != nil {
		return c.fail(err)
	}
	return c.printCreated("key", k.Secret, raw, keyFields(&k.Key), *quiet)
}

func keysRevoke(e *env, g globals, args []string) int {
	c := e.newCmd(g, "keys revoke", "ID [flags]", "Revoke (delete) a key. It stops verifying at once.")
	pos, code, ok := c.parse(args, 1, 1)
	if !ok {
		return code
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	if err := cl.RevokeKey(e.ctx, pos[0]); err != nil {
		return c.fail(err)
	}
	if !c.g.json {
		fmt.Fprintf(e.stdout, "revoked key %s\n", pos[0])
	}
	return exitOK
}

func keysCredits(e *env, g globals, args []string) int {
	c := e.newCmd(g, "keys credits", "ID set|increment|decrement N [flags]",
		"Change a key's remaining credits (decrement stops at 0).")
	pos, code, ok := c.parse(args, 3, 3)
	if !ok {
		return code
	}
	op := pos[1]
	if op != "set" && op != "increment" && op != "decrement" {
		return c.usageError("operation %q: want set, increment or decrement", op)
	}
	n, err := strconv.ParseInt(pos[2], 10, 64)
	if err != nil || n < 0 {
		return c.usageError("%q: want a whole number ≥ 0", pos[2])
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	var raw json.RawMessage
	res, err := cl.Credits(e.ctx, pos[0], client.CreditsRequest{Op: op, Value: n}, client.WithRawResponse(&raw))
	if err != nil {
		return c.fail(err)
	}
	if c.g.json {
		return c.printJSON(raw)
	}
	c.printRecord([][2]string{{"id", pos[0]}, {"remaining", strconv.FormatInt(res.Remaining, 10)}})
	return exitOK
}

// maxStdinKey bounds what keys verify reads from stdin.
const maxStdinKey = 64 << 10

func keysVerify(e *env, g globals, args []string) int {
	c := e.newCmd(g, "keys verify", "KEY|- [flags]",
		"Verify a key on the data plane, as a gateway would. Prints the outcome code; exits 0\n"+
			"when the key is valid, 1 when not. Give - to read the key from stdin (keeps it out of\n"+
			"the process list).")
	app := c.fs.String("app", "", "require the key to belong to the app `ID`")
	credits := c.fs.Int64("credits", 0, "spend `N` credits (default: the server's, 1; 0 spends none)")
	ip := c.fs.String("ip", "", "check the caller `IP` against the key's allow list")
	perms := c.fs.String("permissions", "", "require a permission `QUERY`, e.g. \"a.read AND (b.write OR admin)\"")
	var rls stringList
	c.fs.Var(&rls, "ratelimit", "apply the key's rate limit `NAME[:COST]`, e.g. tokens:25 (repeatable)")
	pos, code, ok := c.parse(args, 1, 1)
	if !ok {
		return code
	}
	vrls, err := verifyRateLimits(rls)
	if err != nil {
		return c.usageError("%v", err)
	}
	key := pos[0]
	if key == "-" {
		k, err := readKey(e.stdin)
		if err != nil {
			return c.fail(err)
		}
		key = k
	}
	req := client.VerifyRequest{Key: key, AppID: *app, IP: *ip, Permissions: *perms, RateLimits: vrls}
	if c.setFlags()["credits"] {
		if *credits < 0 {
			return c.usageError("--credits must not be negative")
		}
		req.Credits = credits
	}
	var raw json.RawMessage
	res, err := c.dataClient().Verify(e.ctx, req, client.WithRawResponse(&raw))
	if err != nil {
		return c.fail(err)
	}
	if c.g.json {
		if code := c.printJSON(raw); code != exitOK {
			return code
		}
	} else {
		c.printRecord(verifyFields(res))
	}
	if !res.Valid {
		return exitFail
	}
	return exitOK
}

func readKey(r io.Reader) (string, error) {
	if r == nil {
		return "", errors.New("no key on stdin")
	}
	sc := bufio.NewScanner(io.LimitReader(r, maxStdinKey))
	sc.Buffer(make([]byte, 0, 4096), maxStdinKey)
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return "", fmt.Errorf("read key from stdin: %w", err)
		}
		return "", errors.New("no key on stdin")
	}
	k := strings.TrimSpace(sc.Text())
	if k == "" {
		return "", errors.New("no key on stdin")
	}
	return k, nil
}

func verifyFields(r *client.VerifyResponse) [][2]string {
	f := [][2]string{{"code", r.Code}, {"valid", fmtBool(r.Valid)}}
	add := func(k, v string) {
		if v != "" {
			f = append(f, [2]string{k, v})
		}
	}
	add("message", r.Message)
	add("key_id", r.KeyID)
	add("app_id", r.AppID)
	add("owner_id", r.OwnerID)
	add("name", r.Name)
	if r.KeyID != "" {
		add("enabled", fmtBool(r.Enabled))
		add("expires_at", fmtExpiry(r.ExpiresAt))
	}
	if r.Credits != nil {
		add("credits_remaining", strconv.FormatInt(r.Credits.Remaining, 10))
	}
	for _, rl := range r.RateLimits {
		add("ratelimit "+rl.Name, fmt.Sprintf("%d/%d remaining, resets %s", rl.Remaining, rl.Limit, fmtTime(rl.ResetAt)))
	}
	if len(r.Permissions) > 0 {
		add("permissions", fmtList(r.Permissions))
	}
	if len(r.Roles) > 0 {
		add("roles", fmtList(r.Roles))
	}
	if r.Identity != nil {
		add("identity", r.Identity.ExternalID+" ("+r.Identity.ID+")")
	}
	if len(r.MissingPermissions) > 0 {
		add("missing", fmtList(r.MissingPermissions))
	}
	if r.RetryAfterMs > 0 {
		add("retry_after", (time.Duration(r.RetryAfterMs) * time.Millisecond).String())
	}
	if m := fmtJSON(r.Meta); m != "-" {
		add("meta", m)
	}
	return f
}
