package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/typeauth/typeauth/client"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ",") }

func (s *stringList) Set(v string) error {
	*s = append(*s, v)
	return nil
}

// fetchList fetches one page, or with all every page following cursors. It
// returns the items and the JSON to print: the page as the API sent it, or
// for all the pages' items merged into one {"data": […]}.
func fetchList[T any](all bool, cursor string,
	fetch func(cursor string, opts ...client.CallOption) (*client.List[T], error),
) (*client.List[T], json.RawMessage, error) {
	out := &client.List[T]{Data: []T{}}
	items := []json.RawMessage{}
	seen := map[string]bool{}
	for {
		var raw json.RawMessage
		page, err := fetch(cursor, client.WithRawResponse(&raw))
		if err != nil {
			return nil, nil, err
		}
		if !all {
			return page, raw, nil
		}
		var p struct {
			Data []json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, nil, fmt.Errorf("decode page: %w", err)
		}
		out.Data = append(out.Data, page.Data...)
		items = append(items, p.Data...)
		seen[cursor] = true
		if page.NextCursor == "" {
			break
		}
		if seen[page.NextCursor] {
			return nil, nil, errors.New("the server returned a cursor it returned before; stopping")
		}
		cursor = page.NextCursor
	}
	merged, err := json.Marshal(struct {
		Data []json.RawMessage `json:"data"`
	}{items})
	return out, merged, err
}

// moreHint tells, on stderr, how to get the next page.
func (c *cmd) moreHint(next string) {
	if next != "" {
		fmt.Fprintf(c.e.stderr, "More results: add --cursor %s (or --all).\n", next)
	}
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func fmtExpiry(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return fmtTime(*t)
}

func fmtList(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ",")
}

func fmtBool(b bool) string { return strconv.FormatBool(b) }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func fmtCredits(cr *client.Credits) string {
	if cr == nil {
		return "unlimited"
	}
	s := strconv.FormatInt(cr.Remaining, 10)
	if r := cr.Refill; r != nil {
		s += fmt.Sprintf(" (refill to %d %s", r.Amount, r.Interval)
		if r.LastRefillAt != nil {
			s += ", last " + fmtTime(*r.LastRefillAt)
		}
		s += ")"
	}
	return s
}

func fmtRateLimits(rls []client.RateLimit) string {
	if len(rls) == 0 {
		return "-"
	}
	parts := make([]string, len(rls))
	for i, rl := range rls {
		parts[i] = fmt.Sprintf("%s:%d/%s", rl.Name, rl.Limit, time.Duration(rl.DurationMs)*time.Millisecond)
		if rl.AutoApply {
			parts[i] += ":auto"
		}
	}
	return strings.Join(parts, ",")
}

func fmtJSON(raw json.RawMessage) string {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || string(t) == "null" {
		return "-"
	}
	var buf bytes.Buffer
	if json.Compact(&buf, t) != nil {
		return string(t)
	}
	return buf.String()
}

func appFields(a *client.App) [][2]string {
	return [][2]string{
		{"id", a.ID},
		{"name", a.Name},
		{"key_prefix", a.KeyPrefix},
		{"created_at", fmtTime(a.CreatedAt)},
		{"updated_at", fmtTime(a.UpdatedAt)},
	}
}

func keyFields(k *client.Key) [][2]string {
	f := [][2]string{
		{"id", k.ID},
		{"app_id", k.AppID},
		{"name", orDash(k.Name)},
		{"owner_id", orDash(k.OwnerID)},
	}
	if k.IdentityID != "" {
		f = append(f, [2]string{"identity_id", k.IdentityID})
	}
	return append(f, [][2]string{
		{"start", k.Start},
		{"enabled", fmtBool(k.Enabled)},
		{"expires_at", fmtExpiry(k.ExpiresAt)},
		{"credits", fmtCredits(k.Credits)},
		{"ratelimits", fmtRateLimits(k.RateLimits)},
		{"permissions", fmtList(k.Permissions)},
		{"roles", fmtList(k.Roles)},
		{"ip_allowlist", fmtList(k.IPAllowlist)},
		{"meta", fmtJSON(k.Meta)},
		{"created_at", fmtTime(k.CreatedAt)},
		{"updated_at", fmtTime(k.UpdatedAt)},
	}...)
}

func rootKeyFields(r *client.RootKey) [][2]string {
	f := [][2]string{
		{"id", r.ID},
		{"name", orDash(r.Name)},
		{"scopes", fmtList(r.Scopes)},
		{"start", r.Start},
		{"created_at", fmtTime(r.CreatedAt)},
	}
	if r.RevokedAt != nil {
		f = append(f, [2]string{"revoked_at", fmtTime(*r.RevokedAt)})
	}
	return f
}

// withSecret puts the secret right after the id.
func withSecret(fields [][2]string, secret string) [][2]string {
	out := make([][2]string, 0, len(fields)+1)
	out = append(out, fields[0], [2]string{"key", secret})
	return append(out, fields[1:]...)
}

// printCreated prints a created or rolled credential: its secret on stdout
// (alone with --quiet, in the record otherwise, or in the JSON), and the
// warning that it will not be shown again on stderr.
func (c *cmd) printCreated(what, secret string, raw json.RawMessage, fields [][2]string, quiet bool) int {
	switch {
	case c.g.json:
		if code := c.printJSON(raw); code != exitOK {
			return code
		}
	case quiet:
		fmt.Fprintln(c.e.stdout, secret)
	default:
		c.printRecord(withSecret(fields, secret))
	}
	c.secretWarning(what)
	return exitOK
}

// parseDuration is time.ParseDuration that also accepts whole days ("30d").
func parseDuration(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		if days, err := strconv.Atoi(n); err == nil {
			return time.Duration(days) * 24 * time.Hour, nil
		}
	}
	return time.ParseDuration(s)
}

// parseExpiry reads an RFC 3339 time or a duration from now.
func parseExpiry(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	d, err := parseDuration(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--expires %q: want an RFC 3339 time or a duration like 720h or 30d", s)
	}
	if d <= 0 {
		return time.Time{}, fmt.Errorf("--expires %q: must be in the future", s)
	}
	return now.Add(d).UTC().Truncate(time.Second), nil
}

// parseMeta reads a JSON object (or, when allowNull, null).
func parseMeta(s string, allowNull bool) (json.RawMessage, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(s)); err != nil {
		return nil, fmt.Errorf("--meta: not valid JSON: %v", err)
	}
	b := buf.Bytes()
	if string(b) == "null" && allowNull {
		return nil, nil
	}
	if len(b) == 0 || b[0] != '{' {
		return nil, errors.New("--meta: must be a JSON object")
	}
	return json.RawMessage(b), nil
}

// parseRateLimit reads NAME:LIMIT/DURATION[:auto], e.g. "requests:100/1m".
func parseRateLimit(s string) (client.RateLimit, error) {
	bad := fmt.Errorf("--ratelimit %q: want NAME:LIMIT/DURATION[:auto], e.g. requests:100/1m", s)
	name, rest, ok := strings.Cut(s, ":")
	if !ok || name == "" {
		return client.RateLimit{}, bad
	}
	rest, auto := strings.CutSuffix(rest, ":auto")
	lim, dur, ok := strings.Cut(rest, "/")
	if !ok {
		return client.RateLimit{}, bad
	}
	n, err := strconv.ParseInt(lim, 10, 64)
	if err != nil || n <= 0 {
		return client.RateLimit{}, bad
	}
	d, err := parseDuration(dur)
	if err != nil || d < time.Millisecond {
		return client.RateLimit{}, bad
	}
	return client.RateLimit{Name: name, Limit: n, DurationMs: d.Milliseconds(), AutoApply: auto}, nil
}
