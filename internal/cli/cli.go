// Package cli is the typeauth command line: `serve` and `migrate` run the
// server; the other commands are clients of the management API and the data
// plane, built on the public Go SDK (package client).
//
// Exit codes: 0 success; 1 an error, an invalid key (keys verify) or a broken
// audit chain (audit verify); 2 a usage error.
package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/typeauth/typeauth/client"
)

// Defaults for where the client commands call.
const (
	DefaultAdminURL = "http://127.0.0.1:8081"
	DefaultDataURL  = "http://127.0.0.1:8080"
)

// requestTimeout bounds each API call of a client command.
const requestTimeout = 30 * time.Second

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// env is what every command gets: the process's context, environment and
// streams, and a clock.
type env struct {
	ctx    context.Context
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	now    func() time.Time
}

// Run runs the typeauth command line with args (without the program name)
// and returns the process exit code.
func Run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{ctx: ctx, getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr, now: time.Now}
	return e.run(args)
}

// globals are the flags every client command accepts (also before the command).
type globals struct {
	json     bool
	adminURL string
	dataURL  string // empty: derived from adminURL by the client
}

func (g *globals) register(fs *flag.FlagSet) {
	fs.BoolVar(&g.json, "json", g.json, "print the API's JSON (indented) instead of a table")
	fs.StringVar(&g.adminURL, "admin-url", g.adminURL, "management API `URL` (env TYPEAUTH_ADMIN_URL)")
	fs.StringVar(&g.dataURL, "url", g.dataURL,
		"data-plane `URL` (env TYPEAUTH_URL; default "+DefaultDataURL+", or derived from --admin-url: port 8081 becomes 8080)")
}

func isGlobalFlag(name string) bool {
	switch name {
	case "json", "admin-url", "url":
		return true
	}
	return false
}

// group is a command with subcommands (apps, keys, …).
type group struct {
	name, summary string
	subs          []sub
}

type sub struct {
	name, summary string
	run           func(e *env, g globals, args []string) int
}

func groups() []group {
	return []group{
		{"apps", "manage apps (protected APIs)", []sub{
			{"create", "create an app", appsCreate},
			{"list", "list apps", appsList},
			{"get", "show an app", appsGet},
			{"update", "rename an app", appsUpdate},
			{"delete", "delete an app", appsDelete},
		}},
		{"keys", "manage API keys; verify a key", []sub{
			{"create", "create a key (its secret is shown once)", keysCreate},
			{"list", "list the keys of an app or an owner", keysList},
			{"get", "show a key", keysGet},
			{"update", "change a key", keysUpdate},
			{"roll", "give a key a new secret", keysRoll},
			{"revoke", "revoke (delete) a key", keysRevoke},
			{"credits", "set, increment or decrement a key's credits", keysCredits},
			{"permissions", "add, remove or set a key's permissions", keysPermissions},
			{"roles", "add, remove or set a key's roles", keysRoles},
			{"verify", "verify a key on the data plane", keysVerify},
			{"reveal", "show the secret of a recoverable key again", keysReveal},
		}},
		identitiesGroup(),
		rolesGroup(),
		tokensGroup(),
		signingKeysGroup(),
		issuersGroup(),
		ratelimitGroup(),
		{"rootkeys", "manage root keys (management credentials)", []sub{
			{"create", "create a root key (its secret is shown once)", rootkeysCreate},
			{"list", "list root keys", rootkeysList},
			{"revoke", "revoke a root key", rootkeysRevoke},
		}},
		{"audit", "read and check the audit log", []sub{
			{"list", "list audit entries", auditList},
			{"verify", "check the audit hash chain", auditVerify},
		}},
	}
}

func findGroup(name string) (group, bool) {
	for _, g := range groups() {
		if g.name == name {
			return g, true
		}
	}
	return group{}, false
}

func (e *env) defaultGlobals() globals {
	g := globals{adminURL: e.getenv("TYPEAUTH_ADMIN_URL"), dataURL: e.getenv("TYPEAUTH_URL")}
	if g.adminURL == "" {
		g.adminURL = DefaultAdminURL
	}
	return g
}

func (e *env) run(args []string) int {
	g := e.defaultGlobals()
	fs := flag.NewFlagSet("typeauth", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	g.register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			e.topUsage(e.stdout)
			return exitOK
		}
		fmt.Fprintf(e.stderr, "error: %v\n", err)
		e.topUsage(e.stderr)
		return exitUsage
	}
	rest := fs.Args()
	if len(rest) == 0 {
		e.topUsage(e.stderr)
		return exitUsage
	}
	return e.dispatch(g, rest[0], rest[1:])
}

func (e *env) dispatch(g globals, name string, args []string) int {
	switch name {
	case "serve":
		return serveCmd(e.ctx, args, e.getenv, e.stdout, e.stderr)
	case "migrate":
		return migrateCmd(e.ctx, args, e.getenv, e.stdout, e.stderr)
	case "version":
		return versionCmd(e, args)
	case "help":
		return e.help(g, args)
	}
	if gr, ok := findGroup(name); ok {
		return e.runGroup(g, gr, args)
	}
	fmt.Fprintf(e.stderr, "error: unknown command %q\nRun 'typeauth help' for usage.\n", name)
	return exitUsage
}

func (e *env) help(g globals, args []string) int {
	if len(args) == 0 {
		e.topUsage(e.stdout)
		return exitOK
	}
	return e.dispatch(g, args[0], append(args[1:len(args):len(args)], "--help"))
}

func (e *env) runGroup(g globals, gr group, args []string) int {
	if len(args) == 0 {
		groupUsage(e.stderr, gr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help":
		groupUsage(e.stdout, gr)
		return exitOK
	case "help":
		if len(args) == 1 {
			groupUsage(e.stdout, gr)
			return exitOK
		}
		return e.runGroup(g, gr, []string{args[1], "--help"})
	}
	for _, s := range gr.subs {
		if s.name == args[0] {
			return s.run(e, g, args[1:])
		}
	}
	fmt.Fprintf(e.stderr, "error: unknown command \"%s %s\"\nRun 'typeauth %s --help' for usage.\n", gr.name, args[0], gr.name)
	return exitUsage
}

func (e *env) topUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: typeauth [global flags] <command> [arguments]

TypeAuth authenticates API keys for API gateways. The client commands call the
management API with the root key in TYPEAUTH_ROOT_KEY.

Commands:
`)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  serve\trun the TypeAuth server\n")
	fmt.Fprintf(tw, "  migrate\tapply the database migrations and exit\n")
	for _, gr := range groups() {
		fmt.Fprintf(tw, "  %s\t%s\n", gr.name, gr.summary)
	}
	fmt.Fprintf(tw, "  version\tprint the version\n")
	fmt.Fprintf(tw, "  help\tshow help for a command\n")
	tw.Flush()
	fmt.Fprint(w, `
Global flags (before the command, or on any client command):
`)
	g := globals{adminURL: DefaultAdminURL}
	fs := flag.NewFlagSet("typeauth", flag.ContinueOnError)
	g.register(fs)
	printFlags(w, fs, func(string) bool { return true }, [2]string{"-h, --help", "show help"})
	fmt.Fprint(w, `
Environment:
  TYPEAUTH_ROOT_KEY       root key for the management API (or TYPEAUTH_ROOT_KEY_FILE: a file holding it)
  TYPEAUTH_ADMIN_URL      management API URL (default `+DefaultAdminURL+`)
  TYPEAUTH_URL            data-plane URL (default `+DefaultDataURL+`)

Run 'typeauth <command> --help' for a command's usage.
`)
}

func groupUsage(w io.Writer, gr group) {
	fmt.Fprintf(w, "Usage: typeauth %s <command> [arguments] [flags]\n\n%s.\n\nCommands:\n",
		gr.name, strings.ToUpper(gr.summary[:1])+gr.summary[1:])
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, s := range gr.subs {
		fmt.Fprintf(tw, "  %s\t%s\n", s.name, s.summary)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nRun 'typeauth %s <command> --help' for a command's flags.\n", gr.name)
}

// cmd is one leaf command being run: its flags and usage.
type cmd struct {
	e       *env
	fs      *flag.FlagSet
	path    string // "keys create"
	args    string // "--app ID [flags]"
	summary string
	g       *globals
}

// newCmd starts a leaf command: a FlagSet with the global flags registered.
func (e *env) newCmd(g globals, path, args, summary string) *cmd {
	fs := flag.NewFlagSet("typeauth "+path, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c := &cmd{e: e, fs: fs, path: path, args: args, summary: summary, g: &g}
	c.g.register(fs)
	return c
}

func (c *cmd) usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: typeauth %s %s\n\n%s\n", c.path, c.args, c.summary)
	var own bool
	c.fs.VisitAll(func(f *flag.Flag) { own = own || !isGlobalFlag(f.Name) })
	if own {
		fmt.Fprint(w, "\nFlags:\n")
		printFlags(w, c.fs, func(n string) bool { return !isGlobalFlag(n) })
	}
	fmt.Fprint(w, "\nGlobal flags:\n")
	printFlags(w, c.fs, func(n string) bool { return isGlobalFlag(n) }, [2]string{"-h, --help", "show this help"})
}

// printFlags prints the flags that keep selects, one a line, then extra lines.
func printFlags(w io.Writer, fs *flag.FlagSet, keep func(string) bool, extra ...[2]string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fs.VisitAll(func(f *flag.Flag) {
		if !keep(f.Name) {
			return
		}
		name, usage := flag.UnquoteUsage(f)
		arg := "--" + f.Name
		if name != "" {
			arg += " " + name
		}
		switch f.DefValue {
		case "", "false", "0", "0s":
		default:
			usage += " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(tw, "  %s\t%s\n", arg, usage)
	})
	for _, x := range extra {
		fmt.Fprintf(tw, "  %s\t%s\n", x[0], x[1])
	}
	tw.Flush()
}

// parse parses args, flags and positional arguments in any order, and checks
// the number of positional arguments. When ok is false the command returns
// code (help was printed, or a usage error).
func (c *cmd) parse(args []string, minPos, maxPos int) (pos []string, code int, ok bool) {
	pos, err := parseInterspersed(c.fs, args)
	if err == nil && (len(pos) < minPos || (maxPos >= 0 && len(pos) > maxPos)) {
		switch {
		case maxPos == 0:
			err = fmt.Errorf("unexpected argument %q", pos[0])
		case len(pos) < minPos:
			err = fmt.Errorf("missing argument: want %s", c.args)
		default:
			err = fmt.Errorf("too many arguments: want %s", c.args)
		}
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.usage(c.e.stdout)
			return nil, exitOK, false
		}
		return nil, c.usageError(err.Error()), false
	}
	return pos, 0, true
}

// usageError reports a misuse of the command and returns exit code 2.
func (c *cmd) usageError(format string, a ...any) int {
	fmt.Fprintf(c.e.stderr, "error: "+format+"\nRun 'typeauth %s --help' for usage.\n", append(a, c.path)...)
	return exitUsage
}

// parseInterspersed lets flags follow positional arguments (`keys get ID
// --json`); everything after a "--" is positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		used := len(args) - len(rest)
		if used > 0 && args[used-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// setFlags returns the names of the flags given on the command line.
func (c *cmd) setFlags() map[string]bool {
	set := map[string]bool{}
	c.fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// client returns an SDK client for the management API (with the root key) and
// the data plane.
func (c *cmd) client() (*client.Client, error) {
	key := c.e.getenv("TYPEAUTH_ROOT_KEY")
	if key == "" {
		if file := c.e.getenv("TYPEAUTH_ROOT_KEY_FILE"); file != "" {
			b, err := os.ReadFile(file)
			if err != nil {
				return nil, fmt.Errorf("read TYPEAUTH_ROOT_KEY_FILE: %w", err)
			}
			key = strings.TrimSpace(string(b))
		}
	}
	if key == "" {
		return nil, errors.New("no root key: set TYPEAUTH_ROOT_KEY (or TYPEAUTH_ROOT_KEY_FILE)")
	}
	return c.newClient(client.WithRootKey(key)), nil
}

// dataClient returns an SDK client for the data plane only (no root key).
func (c *cmd) dataClient() *client.Client { return c.newClient() }

func (c *cmd) newClient(opts ...client.Option) *client.Client {
	opts = append(opts, client.WithUserAgent("typeauth-cli/"+moduleVersion()),
		client.WithHTTPClient(&http.Client{Timeout: requestTimeout}))
	if c.g.dataURL != "" {
		opts = append(opts, client.WithDataURL(c.g.dataURL))
	}
	return client.New(c.g.adminURL, opts...)
}

// fail prints err the way users read it and returns exit code 1:
// "error: <title>: <detail> (code)".
func (c *cmd) fail(err error) int {
	w := c.e.stderr
	ae, ok := client.AsError(err)
	if !ok {
		fmt.Fprintf(w, "error: %v\n", err)
		return exitFail
	}
	msg := ae.Title
	if ae.Detail != "" {
		msg += ": " + ae.Detail
	}
	if ae.Code != "" {
		msg += " (" + ae.Code + ")"
	} else {
		msg += fmt.Sprintf(" (HTTP %d)", ae.Status)
	}
	fmt.Fprintf(w, "error: %s\n", msg)
	for _, fe := range ae.FieldErrors {
		fmt.Fprintf(w, "  %s: %s\n", fe.Field, fe.Message)
	}
	return exitFail
}

// printJSON prints the API's JSON, indented.
func (c *cmd) printJSON(raw json.RawMessage) int {
	if len(raw) == 0 {
		return exitOK
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, bytes.TrimSpace(raw), "", "  "); err != nil {
		return c.fail(fmt.Errorf("bad JSON from the server: %w", err))
	}
	buf.WriteByte('\n')
	c.e.stdout.Write(buf.Bytes())
	return exitOK
}

// printRecord prints key: value lines, aligned.
func (c *cmd) printRecord(fields [][2]string) {
	tw := tabwriter.NewWriter(c.e.stdout, 0, 4, 1, ' ', 0)
	for _, f := range fields {
		fmt.Fprintf(tw, "%s:\t%s\n", f[0], f[1])
	}
	tw.Flush()
}

// printTable prints a header and rows, aligned.
func (c *cmd) printTable(header []string, rows [][]string) {
	tw := tabwriter.NewWriter(c.e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
}

// secretWarning goes to stderr so that stdout can be captured by scripts.
func (c *cmd) secretWarning(what string) {
	fmt.Fprintf(c.e.stderr, "Save this %s now: it will not be shown again.\n", what)
}

func versionCmd(e *env, args []string) int {
	c := e.newCmd(globals{}, "version", "", "Print the version of typeauth.")
	if _, code, ok := c.parse(args, 0, 0); !ok {
		return code
	}
	fmt.Fprintf(e.stdout, "typeauth %s\n", version())
	return exitOK
}

// moduleVersion is the main module's version ("(devel)" for a local build).
func moduleVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// version reports the module version and VCS revision from the build info.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" {
		v += " " + rev + dirty
	}
	return v + " " + bi.GoVersion
}
