package cli

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/typeauth/typeauth/client"
)

func auditList(e *env, g globals, args []string) int {
	c := e.newCmd(g, "audit list", "[flags]", "List audit entries: every management change, who made it, when and from where.")
	limit := c.fs.Int("limit", 0, "at most `N` entries per page (default: the server's)")
	cursor := c.fs.String("cursor", "", "start at `CURSOR` (from a previous page)")
	all := c.fs.Bool("all", false, "follow cursors and list every entry")
	if _, code, ok := c.parse(args, 0, 0); !ok {
		return code
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	list, raw, err := fetchList(*all, *cursor, func(cur string, opts ...client.CallOption) (*client.List[client.AuditEntry], error) {
		return cl.ListAudit(e.ctx, client.ListOptions{Cursor: cur, Limit: *limit}, opts...)
	})
	if err != nil {
		return c.fail(err)
	}
	if c.g.json {
		return c.printJSON(raw)
	}
	rows := make([][]string, len(list.Data))
	for i, a := range list.Data {
		rows[i] = []string{strconv.FormatInt(a.Seq, 10), fmtTime(a.Time), a.ActorID, a.Action,
			a.TargetType + " " + a.TargetID, orDash(a.RemoteAddr)}
	}
	c.printTable([]string{"SEQ", "TIME", "ACTOR", "ACTION", "TARGET", "REMOTE"}, rows)
	c.moreHint(list.NextCursor)
	return exitOK
}

// maxAuditScan bounds the search for the broken entry's details.
const maxAuditScan = 10000

func auditVerify(e *env, g globals, args []string) int {
	c := e.newCmd(g, "audit verify", "[flags]",
		"Check the audit log's hash chain. Exits 0 when it is intact, 1 when it is broken\n"+
			"(and prints the first broken entry).")
	if _, code, ok := c.parse(args, 0, 0); !ok {
		return code
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	var raw json.RawMessage
	res, err := cl.VerifyAudit(e.ctx, client.WithRawResponse(&raw))
	if err != nil {
		return c.fail(err)
	}
	if c.g.json {
		if code := c.printJSON(raw); code != exitOK {
			return code
		}
	} else if res.OK {
		c.printRecord([][2]string{{"audit chain", "ok"}, {"checked", strconv.FormatInt(res.Checked, 10)}})
	} else {
		fields := [][2]string{
			{"audit chain", "BROKEN"},
			{"checked", strconv.FormatInt(res.Checked, 10)},
			{"first_broken_seq", strconv.FormatInt(res.FirstBrokenSeq, 10)},
			{"first_broken_id", orDash(res.FirstBrokenID)},
			{"reason", orDash(res.Reason)},
		}
		if a := c.findAudit(cl, res); a != nil {
			fields = append(fields, [][2]string{
				{"time", fmtTime(a.Time)},
				{"actor_id", a.ActorID},
				{"action", a.Action},
				{"target", a.TargetType + " " + a.TargetID},
				{"remote_addr", orDash(a.RemoteAddr)},
				{"prev_hash", a.PrevHash},
				{"hash", a.Hash},
			}...)
		}
		c.printRecord(fields)
	}
	if !res.OK {
		fmt.Fprintln(e.stderr, "error: the audit chain is broken")
		return exitFail
	}
	return exitOK
}

// findAudit looks up the first broken entry in the log, within a bound; nil
// if it is not found (the verify result still identifies it).
func (c *cmd) findAudit(cl *client.Client, res *client.AuditVerifyResult) *client.AuditEntry {
	if res.FirstBrokenID == "" && res.FirstBrokenSeq == 0 {
		return nil
	}
	n := 0
	for a, err := range cl.AllAudit(c.e.ctx, client.ListOptions{}) {
		if err != nil {
			return nil
		}
		if (res.FirstBrokenID != "" && a.ID == res.FirstBrokenID) ||
			(res.FirstBrokenID == "" && a.Seq == res.FirstBrokenSeq) {
			return &a
		}
		if n++; n >= maxAuditScan {
			return nil
		}
	}
	return nil
}
