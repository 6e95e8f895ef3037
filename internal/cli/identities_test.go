package cli

import (
	"strings"
	"testing"
)

// cliCase is one run of the CLI against the fake API; it is checked like a
// TestCommands case.
type cliCase struct {
	name        string
	args        []string
	env         map[string]string
	routes      map[string]reply
	wantCode    int
	wantStdout  string
	emptyStdout bool
	stdoutHas   []string
	stderrHas   []string
	wantReqs    []wantReq
	noRequests  bool
}

func runCLICases(t *testing.T, tests []cliCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeAPI(t, tt.routes)
			code, stdout, stderr := f.run(t, tt.args, tt.env, "")
			if code != tt.wantCode {
				t.Errorf("exit code = %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, stdout, stderr)
			}
			if (tt.wantStdout != "" || tt.emptyStdout) && stdout != tt.wantStdout {
				t.Errorf("stdout:\n%s\nwant:\n%s", stdout, tt.wantStdout)
			}
			for _, s := range tt.stdoutHas {
				if !strings.Contains(stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout)
				}
			}
			for _, s := range tt.stderrHas {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr)
				}
			}
			if strings.Contains(stdout+stderr, testRootKey) {
				t.Errorf("the root key was printed")
			}
			if tt.noRequests && len(f.reqs) != 0 {
				t.Errorf("sent %d requests, want none", len(f.reqs))
			}
			if tt.wantReqs != nil && len(f.reqs) != len(tt.wantReqs) {
				t.Fatalf("sent %d requests, want %d: %+v", len(f.reqs), len(tt.wantReqs), f.reqs)
			}
			for i, w := range tt.wantReqs {
				checkReq(t, f.reqs[i], w)
			}
			for _, r := range f.reqs {
				auth := r.header.Get("Authorization")
				if r.plane == "admin" && auth != "Bearer "+testRootKey {
					t.Errorf("%s %s: Authorization = %q", r.method, r.path, auth)
				}
				if r.plane == "data" && auth != "" {
					t.Errorf("data plane got Authorization %q", auth)
				}
				if ua := r.header.Get("User-Agent"); !strings.HasPrefix(ua, "typeauth-cli/") {
					t.Errorf("User-Agent = %q", ua)
				}
			}
		})
	}
}

const identityJSON = `{"id":"idt_1","app_id":"app_1","external_id":"org_42","meta":{"plan":"pro"},
	"ratelimits":[{"name":"requests","limit":100,"duration_ms":60000}],"permissions":["docs.read"],"roles":["admin"],
	"created_at":"2025-01-02T03:04:05Z","updated_at":"2025-01-02T03:04:05Z"}`

const identityRecord = `id:          idt_1
external_id: org_42
app_id:      app_1
ratelimits:  requests:100/1m0s
permissions: docs.read
roles:       admin
meta:        {"plan":"pro"}
created_at:  2025-01-02T03:04:05Z
updated_at:  2025-01-02T03:04:05Z
`

func TestIdentityCommands(t *testing.T) {
	runCLICases(t, []cliCase{
		{
			name: "identities create with every flag",
			args: []string{"identities", "create", "--external-id", "org_42", "--app", "app_1", "--meta", `{"plan": "pro"}`,
				"--ratelimit", "requests:100/1m", "--ratelimit", "burst:10/1s:auto", "--permission", "docs.read",
				"--permission", "docs.write", "--role", "admin", "--idempotency-key", "idem-7"},
			routes:     map[string]reply{"POST /v1/identities": {201, identityJSON}},
			wantStdout: identityRecord,
			wantReqs: []wantReq{{plane: "admin", method: "POST", path: "/v1/identities",
				body: `{"external_id":"org_42","app_id":"app_1","meta":{"plan":"pro"},
					"ratelimits":[{"name":"requests","limit":100,"duration_ms":60000},{"name":"burst","limit":10,"duration_ms":1000,"auto_apply":true}],
					"permissions":["docs.read","docs.write"],"roles":["admin"]}`,
				header: map[string]string{"Idempotency-Key": "idem-7"}}},
		},
		{
			name:      "identities create --json",
			args:      []string{"identities", "create", "--external-id", "org_42", "--json"},
			routes:    map[string]reply{"POST /v1/identities": {201, identityJSON}},
			stdoutHas: []string{`"external_id": "org_42"`},
			wantReqs:  []wantReq{{plane: "admin", method: "POST", path: "/v1/identities", body: `{"external_id":"org_42"}`}},
		},
		{
			name: "identities create needs --external-id", args: []string{"identities", "create", "--app", "app_1"},
			wantCode: 2, stderrHas: []string{"--external-id is required", "typeauth identities create --help"}, noRequests: true,
		},
		{
			name: "identities create bad ratelimit", args: []string{"identities", "create", "--external-id", "x", "--ratelimit", "r:1"},
			wantCode: 2, stderrHas: []string{"NAME:LIMIT/DURATION"}, noRequests: true,
		},
		{
			name: "identities create meta must be an object", args: []string{"identities", "create", "--external-id", "x", "--meta", "null"},
			wantCode: 2, stderrHas: []string{"JSON object"}, noRequests: true,
		},
		{
			name: "identities create conflict",
			args: []string{"identities", "create", "--external-id", "org_42"},
			routes: map[string]reply{"POST /v1/identities": {409,
				`{"title":"Conflict","status":409,"detail":"external id org_42 is taken","code":"external_id_taken"}`}},
			wantCode:  1,
			stderrHas: []string{"error: Conflict: external id org_42 is taken (external_id_taken)\n"},
		},
		{
			name:   "identities list",
			args:   []string{"identities", "list", "--app", "app_1", "--limit", "5"},
			routes: map[string]reply{"GET /v1/identities": {200, `{"data":[` + identityJSON + `,{"id":"idt_2","external_id":"u1","created_at":"2025-02-01T00:00:00Z"}],"next_cursor":"c2"}`}},
			wantStdout: "ID     EXTERNAL_ID  APP    RATELIMITS         PERMISSIONS  ROLES  CREATED\n" +
				"idt_1  org_42       app_1  requests:100/1m0s  docs.read    admin  2025-01-02T03:04:05Z\n" +
				"idt_2  u1           -      -                  -            -      2025-02-01T00:00:00Z\n",
			stderrHas: []string{"--cursor c2"},
			wantReqs:  []wantReq{{plane: "admin", method: "GET", path: "/v1/identities", query: "app_id=app_1&limit=5"}},
		},
		{
			name:      "identities list by external id",
			args:      []string{"identities", "list", "--external-id", "org 42", "--json"},
			routes:    map[string]reply{"GET /v1/identities": {200, `{"data":[` + identityJSON + `]}`}},
			wantReqs:  []wantReq{{plane: "admin", method: "GET", path: "/v1/identities", query: "external_id=org+42"}},
			stdoutHas: []string{`"data": [`, `"id": "idt_1"`},
		},
		{
			name: "identities list --all follows cursors",
			args: []string{"identities", "list", "--all"},
			routes: map[string]reply{
				"GET /v1/identities?":          {200, `{"data":[{"id":"idt_1","external_id":"a"}],"next_cursor":"c1"}`},
				"GET /v1/identities?cursor=c1": {200, `{"data":[{"id":"idt_2","external_id":"b"}]}`},
			},
			stdoutHas: []string{"idt_1  a", "idt_2  b"},
			wantReqs: []wantReq{
				{plane: "admin", method: "GET", path: "/v1/identities"},
				{plane: "admin", method: "GET", path: "/v1/identities", query: "cursor=c1"},
			},
		},
		{
			name:       "identities get",
			args:       []string{"identities", "get", "idt_1"},
			routes:     map[string]reply{"GET /v1/identities/idt_1": {200, identityJSON}},
			wantStdout: identityRecord,
			wantReqs:   []wantReq{{plane: "admin", method: "GET", path: "/v1/identities/idt_1"}},
		},
		{
			name: "identities get not found",
			args: []string{"identities", "get", "idt_x"},
			routes: map[string]reply{"GET /v1/identities/idt_x": {404,
				`{"title":"Not Found","status":404,"detail":"no identity idt_x","code":"identity_not_found"}`}},
			wantCode:  1,
			stderrHas: []string{"error: Not Found: no identity idt_x (identity_not_found)"},
		},
		{
			name:   "identities update sets",
			args:   []string{"identities", "update", "idt_1", "--external-id", "org_43", "--meta", `{"a":1}`, "--ratelimit", "r:5/1d"},
			routes: map[string]reply{"PATCH /v1/identities/idt_1": {200, identityJSON}},
			wantReqs: []wantReq{{plane: "admin", method: "PATCH", path: "/v1/identities/idt_1",
				body: `{"external_id":"org_43","meta":{"a":1},"ratelimits":[{"name":"r","limit":5,"duration_ms":86400000}]}`}},
			stdoutHas: []string{"external_id: org_42\n"},
		},
		{
			name:   "identities update clears",
			args:   []string{"identities", "update", "idt_1", "--meta", "null", "--clear-ratelimits"},
			routes: map[string]reply{"PATCH /v1/identities/idt_1": {200, identityJSON}},
			wantReqs: []wantReq{{plane: "admin", method: "PATCH", path: "/v1/identities/idt_1",
				body: `{"meta":null,"ratelimits":null}`}},
		},
		{
			name: "identities update nothing", args: []string{"identities", "update", "idt_1"},
			wantCode: 2, stderrHas: []string{"nothing to update"}, noRequests: true,
		},
		{
			name: "identities update conflicting flags", args: []string{"identities", "update", "idt_1", "--ratelimit", "r:1/1s", "--clear-ratelimits"},
			wantCode: 2, stderrHas: []string{"exclude each other"}, noRequests: true,
		},
		{
			name: "identities update empty external id", args: []string{"identities", "update", "idt_1", "--external-id", ""},
			wantCode: 2, stderrHas: []string{"--external-id must not be empty"}, noRequests: true,
		},
		{
			name:       "identities delete",
			args:       []string{"identities", "delete", "idt_1"},
			routes:     map[string]reply{"DELETE /v1/identities/idt_1": {204, ""}},
			wantStdout: "deleted identity idt_1\n",
			wantReqs:   []wantReq{{plane: "admin", method: "DELETE", path: "/v1/identities/idt_1"}},
		},
		{
			name:        "identities delete --json prints nothing",
			args:        []string{"identities", "delete", "idt_1", "--json"},
			routes:      map[string]reply{"DELETE /v1/identities/idt_1": {204, ""}},
			emptyStdout: true,
		},
		{
			name:       "identities permissions add",
			args:       []string{"identities", "permissions", "idt_1", "add", "docs.read", "billing.write"},
			routes:     map[string]reply{"POST /v1/identities/idt_1/permissions": {200, identityJSON}},
			wantStdout: identityRecord,
			wantReqs: []wantReq{{plane: "admin", method: "POST", path: "/v1/identities/idt_1/permissions",
				body: `{"add":["docs.read","billing.write"]}`}},
		},
		{
			name:   "identities permissions remove --json",
			args:   []string{"identities", "permissions", "idt_1", "remove", "docs.read", "--json"},
			routes: map[string]reply{"POST /v1/identities/idt_1/permissions": {200, identityJSON}},
			wantReqs: []wantReq{{plane: "admin", method: "POST", path: "/v1/identities/idt_1/permissions",
				body: `{"remove":["docs.read"]}`}},
			stdoutHas: []string{`"permissions": [`},
		},
		{
			name:   "identities roles set with nothing clears",
			args:   []string{"identities", "roles", "idt_1", "set"},
			routes: map[string]reply{"POST /v1/identities/idt_1/roles": {200, identityJSON}},
			wantReqs: []wantReq{{plane: "admin", method: "POST", path: "/v1/identities/idt_1/roles",
				body: `{"set":[]}`}},
		},
		{
			name:   "identities roles set",
			args:   []string{"identities", "roles", "idt_1", "set", "admin", "billing"},
			routes: map[string]reply{"POST /v1/identities/idt_1/roles": {200, identityJSON}},
			wantReqs: []wantReq{{plane: "admin", method: "POST", path: "/v1/identities/idt_1/roles",
				body: `{"set":["admin","billing"]}`}},
		},
		{
			name: "identities permissions bad operation", args: []string{"identities", "permissions", "idt_1", "grant", "x"},
			wantCode: 2, stderrHas: []string{`operation "grant": want add, remove or set`}, noRequests: true,
		},
		{
			name: "identities permissions add needs an item", args: []string{"identities", "permissions", "idt_1", "add"},
			wantCode: 2, stderrHas: []string{"add needs at least one PERMISSION"}, noRequests: true,
		},
		{
			name: "identities roles needs an operation", args: []string{"identities", "roles", "idt_1"},
			wantCode: 2, stderrHas: []string{"missing argument"}, noRequests: true,
		},
	})
}
