package cli

import (
	"strings"
	"testing"
)

const overrideJSON = `{"id":"ovr_1","namespace":"login","identifier":"10.0.*","limit":5,"duration_ms":60000,
	"created_at":"2025-01-02T03:04:05Z","updated_at":"2025-01-02T03:04:05Z"}`

func TestRateLimitCommands(t *testing.T) {
	runCLICases(t, []cliCase{
		{
			name: "ratelimit check allowed goes to the data plane without the root key",
			args: []string{"ratelimit", "check", "--namespace", "login", "--identifier", "1.2.3.4", "--limit", "10", "--duration", "1m", "--cost", "2"},
			env:  map[string]string{"TYPEAUTH_ROOT_KEY": ""},
			routes: map[string]reply{"POST /v1/ratelimit": {200,
				`{"success":true,"limit":10,"remaining":8,"reset_at":"2025-06-01T12:01:00Z"}`}},
			wantStdout: "success:   true\nlimit:     10\nremaining: 8\nreset_at:  2025-06-01T12:01:00Z\n",
			wantReqs: []wantReq{{plane: "data", method: "POST", path: "/v1/ratelimit",
				body:   `{"namespace":"login","identifier":"1.2.3.4","limit":10,"duration_ms":60000,"cost":2}`,
				header: map[string]string{"Authorization": ""}}},
		},
		{
			name: "ratelimit check limited exits 1",
			args: []string{"ratelimit", "check", "--namespace", "login", "--identifier", "u1", "--limit", "5", "--duration", "1d"},
			routes: map[string]reply{"POST /v1/ratelimit": {200,
				`{"success":false,"limit":5,"remaining":0,"reset_at":"2025-06-02T00:00:00Z","retry_after_ms":1500,"override_id":"ovr_1"}`}},
			wantCode: 1,
			wantStdout: "success:     false\nlimit:       5\nremaining:   0\nreset_at:    2025-06-02T00:00:00Z\n" +
				"retry_after: 1.5s\noverride_id: ovr_1\n",
			wantReqs: []wantReq{{plane: "data", method: "POST", path: "/v1/ratelimit",
				body: `{"namespace":"login","identifier":"u1","limit":5,"duration_ms":86400000}`}},
		},
		{
			name:      "ratelimit check --json limited exits 1",
			args:      []string{"ratelimit", "check", "--namespace", "n", "--identifier", "i", "--limit", "1", "--duration", "1s", "--cost", "0", "--json"},
			routes:    map[string]reply{"POST /v1/ratelimit": {200, `{"success":false,"limit":1,"remaining":0,"reset_at":"2025-06-01T12:00:01Z"}`}},
			wantCode:  1,
			stdoutHas: []string{`"success": false`},
			wantReqs: []wantReq{{plane: "data", method: "POST", path: "/v1/ratelimit",
				body: `{"namespace":"n","identifier":"i","limit":1,"duration_ms":1000,"cost":0}`}},
		},
		{
			name: "ratelimit check needs its flags", args: []string{"ratelimit", "check", "--namespace", "n", "--limit", "1", "--duration", "1s"},
			wantCode: 2, stderrHas: []string{"--identifier is required", "typeauth ratelimit check --help"}, noRequests: true,
		},
		{
			name: "ratelimit check bad duration", args: []string{"ratelimit", "check", "--namespace", "n", "--identifier", "i", "--limit", "1", "--duration", "soon"},
			wantCode: 2, stderrHas: []string{`--duration "soon"`}, noRequests: true,
		},
		{
			name: "ratelimit check bad limit", args: []string{"ratelimit", "check", "--namespace", "n", "--identifier", "i", "--limit", "0", "--duration", "1s"},
			wantCode: 2, stderrHas: []string{"--limit must be positive"}, noRequests: true,
		},
		{
			name: "ratelimit check negative cost", args: []string{"ratelimit", "check", "--namespace", "n", "--identifier", "i", "--limit", "1", "--duration", "1s", "--cost", "-1"},
			wantCode: 2, stderrHas: []string{"--cost must not be negative"}, noRequests: true,
		},
		{
			name:      "ratelimit check server error",
			args:      []string{"ratelimit", "check", "--namespace", "n", "--identifier", "i", "--limit", "1", "--duration", "1s"},
			routes:    map[string]reply{"POST /v1/ratelimit": {503, `{"title":"Service Unavailable","status":503,"code":"store_unavailable"}`}},
			wantCode:  1,
			stderrHas: []string{"error: Service Unavailable (store_unavailable)"},
		},

		// overrides
		{
			name: "ratelimit overrides create",
			args: []string{"ratelimit", "overrides", "create", "--namespace", "login", "--identifier", "10.0.*", "--limit", "5",
				"--duration", "1m", "--idempotency-key", "k1"},
			routes: map[string]reply{"POST /v1/ratelimit/overrides": {201, overrideJSON}},
			wantStdout: "id:         ovr_1\nnamespace:  login\nidentifier: 10.0.*\nlimit:      5/1m0s\n" +
				"created_at: 2025-01-02T03:04:05Z\nupdated_at: 2025-01-02T03:04:05Z\n",
			wantReqs: []wantReq{{plane: "admin", method: "POST", path: "/v1/ratelimit/overrides",
				body:   `{"namespace":"login","identifier":"10.0.*","limit":5,"duration_ms":60000}`,
				header: map[string]string{"Idempotency-Key": "k1"}}},
		},
		{
			name:      "ratelimit overrides create --json",
			args:      []string{"ratelimit", "overrides", "create", "--namespace", "login", "--identifier", "x", "--limit", "5", "--duration", "1m", "--json"},
			routes:    map[string]reply{"POST /v1/ratelimit/overrides": {201, overrideJSON}},
			stdoutHas: []string{`"id": "ovr_1"`},
		},
		{
			name: "ratelimit overrides create needs its flags", args: []string{"ratelimit", "overrides", "create", "--namespace", "login"},
			wantCode: 2, stderrHas: []string{"--identifier is required", "typeauth ratelimit overrides create --help"}, noRequests: true,
		},
		{
			name:   "ratelimit overrides list",
			args:   []string{"ratelimit", "overrides", "list", "--namespace", "login"},
			routes: map[string]reply{"GET /v1/ratelimit/overrides": {200, `{"data":[` + overrideJSON + `],"next_cursor":"c9"}`}},
			wantStdout: "ID     IDENTIFIER  LIMIT  DURATION  CREATED\n" +
				"ovr_1  10.0.*      5      1m0s      2025-01-02T03:04:05Z\n",
			stderrHas: []string{"--cursor c9"},
			wantReqs:  []wantReq{{plane: "admin", method: "GET", path: "/v1/ratelimit/overrides", query: "namespace=login"}},
		},
		{
			name:      "ratelimit overrides list paging --json",
			args:      []string{"ratelimit", "overrides", "list", "--namespace", "login", "--limit", "2", "--cursor", "c9", "--json"},
			routes:    map[string]reply{"GET /v1/ratelimit/overrides": {200, `{"data":[]}`}},
			wantReqs:  []wantReq{{plane: "admin", method: "GET", path: "/v1/ratelimit/overrides", query: "cursor=c9&limit=2&namespace=login"}},
			stdoutHas: []string{`"data": []`},
		},
		{
			name: "ratelimit overrides list needs a namespace", args: []string{"ratelimit", "overrides", "list"},
			wantCode: 2, stderrHas: []string{"--namespace is required"}, noRequests: true,
		},
		{
			name:       "ratelimit overrides delete",
			args:       []string{"ratelimit", "overrides", "delete", "ovr_1"},
			routes:     map[string]reply{"DELETE /v1/ratelimit/overrides/ovr_1": {204, ""}},
			wantStdout: "deleted override ovr_1\n",
			wantReqs:   []wantReq{{plane: "admin", method: "DELETE", path: "/v1/ratelimit/overrides/ovr_1"}},
		},
		{
			name: "ratelimit overrides without a command", args: []string{"ratelimit", "overrides"},
			wantCode: 2, stderrHas: []string{"Usage: typeauth ratelimit overrides <command>"}, noRequests: true,
		},
		{
			name: "ratelimit overrides unknown command", args: []string{"ratelimit", "overrides", "frob"},
			wantCode: 2, stderrHas: []string{`unknown command "ratelimit overrides frob"`}, noRequests: true,
		},

		// keys verify --ratelimit
		{
			name: "keys verify with rate limits and a permission query",
			args: []string{"keys", "verify", "acme_k", "--ratelimit", "requests", "--ratelimit", "tokens:25", "--ratelimit", "probe:0",
				"--permissions", "docs.read AND (billing.write OR admin)"},
			routes: map[string]reply{"POST /v1/verify": {200, `{"valid":false,"code":"RATE_LIMITED","key_id":"key_1","enabled":true,
				"identity":{"id":"idt_1","external_id":"org_42"},
				"ratelimits":[{"name":"tokens","limit":100,"remaining":0,"reset_at":"2025-06-01T12:01:00Z"}],"retry_after_ms":2000}`}},
			wantCode:  1,
			stdoutHas: []string{"code:             RATE_LIMITED\n", "ratelimit tokens: 0/100 remaining, resets 2025-06-01T12:01:00Z\n", "identity:         org_42 (idt_1)\n"},
			wantReqs: []wantReq{{plane: "data", method: "POST", path: "/v1/verify",
				body: `{"key":"acme_k","permissions":"docs.read AND (billing.write OR admin)",
					"ratelimits":[{"name":"requests"},{"name":"tokens","cost":25},{"name":"probe","cost":0}]}`}},
		},
		{
			name: "keys verify bad --ratelimit", args: []string{"keys", "verify", "k", "--ratelimit", "tokens:-1"},
			wantCode: 2, stderrHas: []string{"COST must be a whole number"}, noRequests: true,
		},
		{
			name: "keys verify --ratelimit needs a name", args: []string{"keys", "verify", "k", "--ratelimit", ":3"},
			wantCode: 2, stderrHas: []string{"want NAME[:COST]"}, noRequests: true,
		},
	})
}

// TestNewCommandsHelp covers what TestHelp does not reach: the commands of
// the nested `ratelimit overrides` group, and the flags each new command lists.
func TestNewCommandsHelp(t *testing.T) {
	f := newFakeAPI(t, nil)
	var cases [][]string
	for _, s := range overridesGroup().subs {
		cases = append(cases,
			[]string{"ratelimit", "overrides", s.name, "--help"},
			[]string{"ratelimit", "overrides", s.name, "-h"},
			[]string{"help", "ratelimit", "overrides", s.name},
			[]string{"ratelimit", "overrides", "help", s.name},
		)
	}
	for _, args := range cases {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, stdout, stderr := f.run(t, args, nil, "")
			if code != 0 || stderr != "" {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			for _, s := range []string{"Usage: typeauth ratelimit overrides ", "--json", "--admin-url URL", "--url URL", "-h, --help"} {
				if !strings.Contains(stdout, s) {
					t.Errorf("help lacks %q:\n%s", s, stdout)
				}
			}
		})
	}
	for _, args := range [][]string{{"ratelimit", "overrides", "--help"}, {"ratelimit", "overrides", "help"}, {"help", "ratelimit", "overrides"}} {
		code, stdout, stderr := f.run(t, args, nil, "")
		if code != 0 || stderr != "" || !strings.Contains(stdout, "Usage: typeauth ratelimit overrides <command>") ||
			!strings.Contains(stdout, "  create") || !strings.Contains(stdout, "--admin-url URL") {
			t.Errorf("%v: exit %d, stderr %q, stdout:\n%s", args, code, stderr, stdout)
		}
	}

	flags := map[string][]string{
		"identities create":          {"--external-id ID", "--app ID", "--meta JSON", "--ratelimit SPEC", "--permission PERMISSION", "--role ROLE", "--idempotency-key KEY"},
		"identities list":            {"--app ID", "--external-id ID", "--limit N", "--cursor CURSOR", "--all"},
		"identities update":          {"--external-id ID", "--meta JSON", "--ratelimit SPEC", "--clear-ratelimits"},
		"identities permissions":     {"ID add|remove|set PERMISSION…"},
		"identities roles":           {"ID add|remove|set ROLE…"},
		"keys permissions":           {"ID add|remove|set PERMISSION…"},
		"keys roles":                 {"ID add|remove|set ROLE…"},
		"keys verify":                {"--ratelimit NAME[:COST]", "--permissions QUERY"},
		"roles create":               {"--name NAME", "--description TEXT", "--permission PERMISSION", "--idempotency-key KEY"},
		"roles list":                 {"--limit N", "--cursor CURSOR", "--all"},
		"roles update":               {"--name NAME", "--description TEXT", "--permission PERMISSION", "--clear-permissions"},
		"ratelimit check":            {"--namespace NAMESPACE", "--identifier ID", "--limit N", "--duration DURATION", "--cost N"},
		"ratelimit overrides create": {"--namespace NAMESPACE", "--identifier PATTERN", "--limit N", "--duration DURATION"},
		"ratelimit overrides list":   {"--namespace NAMESPACE", "--limit N", "--cursor CURSOR", "--all"},
	}
	for cmdline, want := range flags {
		_, stdout, _ := f.run(t, append(strings.Fields(cmdline), "--help"), nil, "")
		for _, fl := range want {
			if !strings.Contains(stdout, fl) {
				t.Errorf("%s --help lacks %q:\n%s", cmdline, fl, stdout)
			}
		}
	}

	_, top, _ := f.run(t, []string{"--help"}, nil, "")
	for _, s := range []string{"  identities ", "  roles ", "  ratelimit "} {
		if !strings.Contains(top, s) {
			t.Errorf("top-level help lacks %q:\n%s", s, top)
		}
	}
	if len(f.reqs) != 0 {
		t.Errorf("help sent %d requests", len(f.reqs))
	}
}
