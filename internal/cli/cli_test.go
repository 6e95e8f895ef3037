package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

const testRootKey = "tark_testROOTkey0123456789"

// fixedNow is the clock of every test run.
func fixedNow() time.Time { return time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC) }

// apiReq is one request the fake API received.
type apiReq struct {
	plane, method, path, query, body string
	header                           http.Header
}

type reply struct {
	status int
	body   string
}

// fakeAPI answers both planes from a table keyed "METHOD /path" or
// "METHOD /path?query", and records every request.
type fakeAPI struct {
	t          *testing.T
	mu         sync.Mutex
	routes     map[string]reply
	reqs       []apiReq
	admin, dat *httptest.Server
}

func newFakeAPI(t *testing.T, routes map[string]reply) *fakeAPI {
	t.Helper()
	f := &fakeAPI{t: t, routes: routes}
	f.admin = httptest.NewServer(f.handler("admin"))
	f.dat = httptest.NewServer(f.handler("data"))
	t.Cleanup(f.admin.Close)
	t.Cleanup(f.dat.Close)
	return f
}

func (f *fakeAPI) handler(plane string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, apiReq{plane, r.Method, r.URL.Path, r.URL.RawQuery, string(b), r.Header.Clone()})
		rep, ok := f.routes[r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery]
		if !ok {
			rep, ok = f.routes[r.Method+" "+r.URL.Path]
		}
		f.mu.Unlock()
		if !ok {
			rep = reply{404, `{"type":"about:blank","title":"Not Found","status":404,"code":"route_not_found"}`}
		}
		if rep.status >= 400 {
			w.Header().Set("Content-Type", "application/problem+json")
		} else {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(rep.status)
		io.WriteString(w, rep.body)
		if rep.body != "" {
			io.WriteString(w, "\n") // as json.Encoder writes it
		}
	})
}

// run runs the CLI against the fake with the test environment plus env.
func (f *fakeAPI) run(t *testing.T, args []string, extra map[string]string, stdin string) (code int, stdout, stderr string) {
	t.Helper()
	vars := map[string]string{
		"TYPEAUTH_ROOT_KEY":  testRootKey,
		"TYPEAUTH_ADMIN_URL": f.admin.URL,
		"TYPEAUTH_URL":       f.dat.URL,
	}
	for k, v := range extra {
		vars[k] = v
	}
	var out, errb bytes.Buffer
	e := &env{
		ctx:    context.Background(),
		getenv: func(k string) string { return vars[k] },
		stdin:  strings.NewReader(stdin),
		stdout: &out,
		stderr: &errb,
		now:    fixedNow,
	}
	code = e.run(args)
	return code, out.String(), errb.String()
}

const (
	appJSON = `{"id":"app_1","name":"Acme API","key_prefix":"acme","created_at":"2025-01-02T03:04:05Z","updated_at":"2025-01-02T03:04:05Z"}`
	keyJSON = `{"id":"key_1","app_id":"app_1","name":"ci","owner_id":"user_9","meta":{"plan":"pro"},"enabled":true,
		"expires_at":null,"credits":{"remaining":5,"refill":{"amount":100,"interval":"daily"}},"ratelimits":[],
		"permissions":["docs.read","docs.write"],"roles":[],"ip_allowlist":[],"start":"acme_3xT",
		"created_at":"2025-01-02T03:04:05Z","updated_at":"2025-01-02T03:04:05Z"}`
	createdKeyJSON = `{"id":"key_1","key":"acme_SECRETsecret123","app_id":"app_1","name":"ci","owner_id":"user_9","meta":{"plan":"pro"},
		"enabled":true,"expires_at":"2025-07-01T12:00:00Z","credits":null,"ratelimits":[],"permissions":[],"roles":[],
		"ip_allowlist":[],"start":"acme_SEC","created_at":"2025-01-02T03:04:05Z","updated_at":"2025-01-02T03:04:05Z"}`
	rootKeyJSON = `{"id":"rk_2","name":"ci","scopes":["keys.read","verify"],"start":"tark_ab","created_at":"2025-01-02T03:04:05Z"}`
	auditJSON   = `{"id":"aud_3","seq":3,"time":"2025-01-02T03:04:05Z","actor_id":"rk_1","action":"key.create","target_type":"key",
		"target_id":"key_1","remote_addr":"10.0.0.1","prev_hash":"aa","hash":"bb"}`
)

const keyRecord = `id:           key_1
app_id:       app_1
name:         ci
owner_id:     user_9
start:        acme_3xT
enabled:      true
expires_at:   never
credits:      5 (refill to 100 daily)
ratelimits:   -
permissions:  docs.read,docs.write
roles:        -
ip_allowlist: -
meta:         {"plan":"pro"}
created_at:   2025-01-02T03:04:05Z
updated_at:   2025-01-02T03:04:05Z
`

func indent(t *testing.T, s string) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, []byte(s), "", "  "); err != nil {
		t.Fatal(err)
	}
	return buf.String() + "\n"
}

// wantReq is a request a case expects, in order; body "" means no body
// check, and a JSON body is compared semantically.
type wantReq struct {
	plane, method, path, query, body string
	header                           map[string]string
}

func TestCommands(t *testing.T) {
	tests := []struct {
		name        string
		args        []string
		env         map[string]string
		stdin       string
		routes      map[string]reply
		wantCode    int
		wantStdout  string   // exact when not ""
		emptyStdout bool     // stdout must be empty
		stdoutHas   []string // substrings
		stderrHas   []string // substrings
		wantReqs    []wantReq
		noRequests  bool
	}{
		// apps
		{
			name:     "apps create",
			args:     []string{"apps", "create", "--name", "Acme API", "--prefix", "acme"},
			routes:   map[string]reply{"POST /v1/apps": {201, appJSON}},
			wantCode: 0,
			wantStdout: "id:         app_1\nname:       Acme API\nkey_prefix: acme\n" +
				"created_at: 2025-01-02T03:04:05Z\nupdated_at: 2025-01-02T03:04:05Z\n",
			wantReqs: []wantReq{{plane: "admin", method: "POST", path: "/v1/apps", body: `{"name":"Acme API","key_prefix":"acme"}`,
				header: map[string]string{"Authorization": "Bearer " + testRootKey, "Content-Type": "application/json"}}},
		},
		{
			name:      "apps create --json prints the API's JSON",
			args:      []string{"apps", "create", "--name=Acme API", "--prefix=acme", "--json"},
			routes:    map[string]reply{"POST /v1/apps": {201, appJSON}},
			stdoutHas: []string{"{\n  \"id\": \"app_1\",\n  \"name\": \"Acme API\",\n  \"key_prefix\": \"acme\","},
		},
		{
			name:       "apps create needs --name",
			args:       []string{"apps", "create", "--prefix", "acme"},
			wantCode:   2,
			stderrHas:  []string{"error: --name is required", "typeauth apps create --help"},
			noRequests: true,
		},
		{
			name: "apps list",
			args: []string{"apps", "list", "--limit", "2"},
			routes: map[string]reply{"GET /v1/apps": {200, `{"data":[` + appJSON +
				`,{"id":"app_2","name":"B","key_prefix":"b","created_at":"2025-02-01T00:00:00Z"}],"next_cursor":"cur2"}`}},
			wantStdout: "ID     NAME      PREFIX  CREATED\n" +
				"app_1  Acme API  acme    2025-01-02T03:04:05Z\n" +
				"app_2  B         b       2025-02-01T00:00:00Z\n",
			stderrHas: []string{"--cursor cur2"},
			wantReqs:  []wantReq{{plane: "admin", method: "GET", path: "/v1/apps", query: "limit=2"}},
		},
		{
			name: "apps list --all --json merges the pages",
			args: []string{"--json", "apps", "list", "--all"},
			routes: map[string]reply{
				"GET /v1/apps?":          {200, `{"data":[{"id":"app_1"}],"next_cursor":"c1"}`},
				"GET /v1/apps?cursor=c1": {200, `{"data":[{"id":"app_2"}]}`},
			},
			wantStdout: "{\n  \"data\": [\n    {\n      \"id\": \"app_1\"\n    },\n    {\n      \"id\": \"app_2\"\n    }\n  ]\n}\n",
			wantReqs: []wantReq{
				{plane: "admin", method: "GET", path: "/v1/apps"},
				{plane: "admin", method: "GET", path: "/v1/apps", query: "cursor=c1"},
			},
		},
		{
			name:      "apps get with the flag after the id",
			args:      []string{"apps", "get", "app_1", "--json"},
			routes:    map[string]reply{"GET /v1/apps/app_1": {200, appJSON}},
			stdoutHas: []string{`"key_prefix": "acme"`},
			wantReqs:  []wantReq{{plane: "admin", method: "GET", path: "/v1/apps/app_1"}},
		},
		{
			name:      "apps update",
			args:      []string{"apps", "update", "app_1", "--name", "New"},
			routes:    map[string]reply{"PATCH /v1/apps/app_1": {200, appJSON}},
			stdoutHas: []string{"id:         app_1\n"},
			wantReqs:  []wantReq{{plane: "admin", method: "PATCH", path: "/v1/apps/app_1", body: `{"name":"New"}`}},
		},
		{
			name:       "apps update with nothing to change",
			args:       []string{"apps", "update", "app_1"},
			wantCode:   2,
			stderrHas:  []string{"nothing to update"},
			noRequests: true,
		},
		{
			name:       "apps delete",
			args:       []string{"apps", "delete", "app_1"},
			routes:     map[string]reply{"DELETE /v1/apps/app_1": {204, ""}},
			wantStdout: "deleted app app_1\n",
			wantReqs:   []wantReq{{plane: "admin", method: "DELETE", path: "/v1/apps/app_1"}},
		},
		{
			name:       "apps get needs exactly one id",
			args:       []string{"apps", "get", "a", "b"},
			wantCode:   2,
			stderrHas:  []string{"too many arguments"},
			noRequests: true,
		},

		// keys
		{
			name: "keys create with every flag",
			args: []string{"keys", "create", "--app", "app_1", "--name", "ci", "--owner", "user_9", "--identity", "id_1",
				"--meta", `{"plan": "pro"}`, "--expires", "720h", "--credits", "50", "--refill-amount", "100",
				"--refill-interval", "monthly", "--permission", "docs.read", "--permission", "docs.write", "--role", "admin",
				"--ip", "10.0.0.0/8", "--ip", "192.168.1.1", "--ratelimit", "requests:100/1m", "--ratelimit", "burst:10/1s:auto",
				"--disabled", "--idempotency-key", "idem-1"},
			routes: map[string]reply{"POST /v1/keys": {201, createdKeyJSON}},
			stdoutHas: []string{"id:           key_1\nkey:          acme_SECRETsecret123\napp_id:       app_1\n",
				"expires_at:   2025-07-01T12:00:00Z\n"},
			stderrHas: []string{"will not be shown again"},
			wantReqs: []wantReq{{plane: "admin", method: "POST", path: "/v1/keys",
				body: `{"app_id":"app_1","name":"ci","owner_id":"user_9","identity_id":"id_1","meta":{"plan":"pro"},
					"expires_at":"2025-07-01T12:00:00Z","enabled":false,
					"credits":{"remaining":50,"refill":{"amount":100,"interval":"monthly"}},
					"ratelimits":[{"name":"requests","limit":100,"duration_ms":60000},{"name":"burst","limit":10,"duration_ms":1000,"auto_apply":true}],
					"permissions":["docs.read","docs.write"],"roles":["admin"],"ip_allowlist":["10.0.0.0/8","192.168.1.1"]}`,
				header: map[string]string{"Idempotency-Key": "idem-1"}}},
		},
		{
			name:       "keys create --quiet prints only the secret",
			args:       []string{"keys", "create", "--app", "app_1", "--quiet", "--expires", "2030-01-01T00:00:00+02:00", "--refill-amount", "10", "--refill-interval", "daily"},
			routes:     map[string]reply{"POST /v1/keys": {201, createdKeyJSON}},
			wantStdout: "acme_SECRETsecret123\n",
			stderrHas:  []string{"will not be shown again"},
			wantReqs: []wantReq{{plane: "admin", method: "POST", path: "/v1/keys",
				body: `{"app_id":"app_1","expires_at":"2029-12-31T22:00:00Z","credits":{"remaining":10,"refill":{"amount":10,"interval":"daily"}}}`}},
		},
		{
			name:      "keys create --json",
			args:      []string{"keys", "create", "--app", "app_1", "--json"},
			routes:    map[string]reply{"POST /v1/keys": {201, createdKeyJSON}},
			stdoutHas: []string{`"key": "acme_SECRETsecret123"`},
			stderrHas: []string{"will not be shown again"},
		},
		{
			name: "keys create usage errors", args: []string{"keys", "create", "--name", "x"},
			wantCode: 2, stderrHas: []string{"--app is required"}, noRequests: true,
		},
		{
			name: "keys create refill needs both flags", args: []string{"keys", "create", "--app", "a", "--refill-amount", "5"},
			wantCode: 2, stderrHas: []string{"go together"}, noRequests: true,
		},
		{
			name: "keys create bad interval", args: []string{"keys", "create", "--app", "a", "--refill-amount", "5", "--refill-interval", "weekly"},
			wantCode: 2, stderrHas: []string{"daily or monthly"}, noRequests: true,
		},
		{
			name: "keys create meta must be an object", args: []string{"keys", "create", "--app", "a", "--meta", "[1]"},
			wantCode: 2, stderrHas: []string{"JSON object"}, noRequests: true,
		},
		{
			name: "keys create bad expiry", args: []string{"keys", "create", "--app", "a", "--expires", "tomorrow"},
			wantCode: 2, stderrHas: []string{"RFC 3339"}, noRequests: true,
		},
		{
			name: "keys create bad ratelimit", args: []string{"keys", "create", "--app", "a", "--ratelimit", "x:10"},
			wantCode: 2, stderrHas: []string{"NAME:LIMIT/DURATION"}, noRequests: true,
		},
		{
			name:   "keys list",
			args:   []string{"keys", "list", "--app", "app_1"},
			routes: map[string]reply{"GET /v1/keys": {200, `{"data":[` + keyJSON + `]}`}},
			wantStdout: "ID     NAME  OWNER   START     ENABLED  EXPIRES  CREDITS\n" +
				"key_1  ci    user_9  acme_3xT  true     never    5 (refill to 100 daily)\n",
			wantReqs: []wantReq{{plane: "admin", method: "GET", path: "/v1/keys", query: "app_id=app_1"}},
		},
		{
			name:     "keys list by owner with paging flags",
			args:     []string{"keys", "list", "--owner", "user 9", "--limit", "10", "--cursor", "c5"},
			routes:   map[string]reply{"GET /v1/keys": {200, `{"data":[]}`}},
			wantReqs: []wantReq{{plane: "admin", method: "GET", path: "/v1/keys", query: "cursor=c5&limit=10&owner_id=user+9"}},
		},
		{
			name: "keys list needs a filter", args: []string{"keys", "list"},
			wantCode: 2, stderrHas: []string{"--app or --owner"}, noRequests: true,
		},
		{
			name:       "keys get",
			args:       []string{"keys", "get", "key_1"},
			routes:     map[string]reply{"GET /v1/keys/key_1": {200, keyJSON}},
			wantStdout: keyRecord,
		},
		{
			name:      "keys update clears",
			args:      []string{"keys", "update", "key_1", "--disable", "--no-expiry", "--clear-ips", "--owner", "", "--meta", "null"},
			routes:    map[string]reply{"PATCH /v1/keys/key_1": {200, keyJSON}},
			stdoutHas: []string{"id:           key_1\n"},
			wantReqs: []wantReq{{plane: "admin", method: "PATCH", path: "/v1/keys/key_1",
				body: `{"enabled":false,"expires_at":null,"ip_allowlist":null,"owner_id":null,"meta":null}`}},
		},
		{
			name:   "keys update sets",
			args:   []string{"keys", "update", "key_1", "--name", "n2", "--enable", "--expires", "2030-01-01T00:00:00Z", "--ip", "10.0.0.0/8", "--ip", "1.2.3.4", "--meta", `{"a":1}`},
			routes: map[string]reply{"PATCH /v1/keys/key_1": {200, keyJSON}},
			wantReqs: []wantReq{{plane: "admin", method: "PATCH", path: "/v1/keys/key_1",
				body: `{"name":"n2","enabled":true,"expires_at":"2030-01-01T00:00:00Z","ip_allowlist":["10.0.0.0/8","1.2.3.4"],"meta":{"a":1}}`}},
			stdoutHas: []string{"name:         ci"},
		},
		{
			name: "keys update conflicting flags", args: []string{"keys", "update", "key_1", "--enable", "--disable"},
			wantCode: 2, stderrHas: []string{"--enable and --disable exclude each other"}, noRequests: true,
		},
		{
			name: "keys update nothing", args: []string{"keys", "update", "key_1"},
			wantCode: 2, stderrHas: []string{"nothing to update"}, noRequests: true,
		},
		{
			name:      "keys roll",
			args:      []string{"keys", "roll", "key_1", "--grace", "1h"},
			routes:    map[string]reply{"POST /v1/keys/key_1/roll": {200, createdKeyJSON}},
			stdoutHas: []string{"key:          acme_SECRETsecret123\n"},
			stderrHas: []string{"will not be shown again"},
			wantReqs:  []wantReq{{plane: "admin", method: "POST", path: "/v1/keys/key_1/roll", body: `{"grace_period_ms":3600000}`}},
		},
		{
			name:       "keys revoke",
			args:       []string{"keys", "revoke", "key_1"},
			routes:     map[string]reply{"DELETE /v1/keys/key_1": {204, ""}},
			wantStdout: "revoked key key_1\n",
			wantReqs:   []wantReq{{plane: "admin", method: "DELETE", path: "/v1/keys/key_1"}},
		},
		{
			name:        "keys revoke --json prints nothing",
			args:        []string{"keys", "revoke", "key_1", "--json"},
			routes:      map[string]reply{"DELETE /v1/keys/key_1": {204, ""}},
			emptyStdout: true,
		},
		{
			name:       "keys credits",
			args:       []string{"keys", "credits", "key_1", "decrement", "3"},
			routes:     map[string]reply{"POST /v1/keys/key_1/credits": {200, `{"remaining":2}`}},
			wantStdout: "id:        key_1\nremaining: 2\n",
			wantReqs:   []wantReq{{plane: "admin", method: "POST", path: "/v1/keys/key_1/credits", body: `{"op":"decrement","value":3}`}},
		},
		{
			name: "keys credits bad op", args: []string{"keys", "credits", "key_1", "double", "3"},
			wantCode: 2, stderrHas: []string{"set, increment or decrement"}, noRequests: true,
		},
		{
			name: "keys credits bad number", args: []string{"keys", "credits", "key_1", "set", "-3"},
			wantCode: 2, noRequests: true,
		},
		{
			name: "keys verify valid goes to the data plane without the root key",
			args: []string{"keys", "verify", "acme_k123", "--app", "app_1", "--ip", "1.2.3.4", "--permissions", "docs.read"},
			routes: map[string]reply{"POST /v1/verify": {200, `{"valid":true,"code":"VALID","key_id":"key_1","app_id":"app_1",
				"owner_id":"user_9","enabled":true,"credits":{"remaining":4},"permissions":["docs.read"]}`}},
			wantStdout: "code:              VALID\nvalid:             true\nkey_id:            key_1\napp_id:            app_1\n" +
				"owner_id:          user_9\nenabled:           true\nexpires_at:        never\ncredits_remaining: 4\npermissions:       docs.read\n",
			wantReqs: []wantReq{{plane: "data", method: "POST", path: "/v1/verify",
				body:   `{"key":"acme_k123","app_id":"app_1","permissions":"docs.read","ip":"1.2.3.4"}`,
				header: map[string]string{"Authorization": ""}}},
		},
		{
			name:       "keys verify invalid exits 1",
			args:       []string{"keys", "verify", "acme_bad"},
			routes:     map[string]reply{"POST /v1/verify": {200, `{"valid":false,"code":"NOT_FOUND","enabled":false}`}},
			wantCode:   1,
			wantStdout: "code:  NOT_FOUND\nvalid: false\n",
		},
		{
			name:      "keys verify --json invalid exits 1",
			args:      []string{"keys", "verify", "acme_bad", "--json"},
			routes:    map[string]reply{"POST /v1/verify": {200, `{"valid":false,"code":"USAGE_EXCEEDED","enabled":true}`}},
			wantCode:  1,
			stdoutHas: []string{`"code": "USAGE_EXCEEDED"`},
		},
		{
			name:     "keys verify reads the key from stdin and needs no root key",
			args:     []string{"keys", "verify", "-", "--credits", "0"},
			env:      map[string]string{"TYPEAUTH_ROOT_KEY": ""},
			stdin:    "acme_fromstdin\n",
			routes:   map[string]reply{"POST /v1/verify": {200, `{"valid":true,"code":"VALID","enabled":true}`}},
			wantReqs: []wantReq{{plane: "data", method: "POST", path: "/v1/verify", body: `{"key":"acme_fromstdin","credits":0}`}},
		},
		{
			name:      "keys verify with a malformed request",
			args:      []string{"keys", "verify", "x"},
			routes:    map[string]reply{"POST /v1/verify": {400, `{"title":"Invalid request","status":400,"detail":"key or token is required","code":"invalid_request"}`}},
			wantCode:  1,
			stderrHas: []string{"error: Invalid request: key or token is required (invalid_request)\n"},
		},

		// root keys
		{
			name:      "rootkeys create",
			args:      []string{"rootkeys", "create", "--name", "ci", "--scope", "keys.read", "--scope", "verify"},
			routes:    map[string]reply{"POST /v1/rootkeys": {201, rootKeyJSON[:len(rootKeyJSON)-1] + `,"key":"tark_ROOTSECRET"}`}},
			stdoutHas: []string{"id:         rk_2\nkey:        tark_ROOTSECRET\nname:       ci\nscopes:     keys.read,verify\n"},
			stderrHas: []string{"Save this root key now: it will not be shown again."},
			wantReqs:  []wantReq{{plane: "admin", method: "POST", path: "/v1/rootkeys", body: `{"name":"ci","scopes":["keys.read","verify"]}`}},
		},
		{
			name: "rootkeys create needs a scope", args: []string{"rootkeys", "create"},
			wantCode: 2, stderrHas: []string{"--scope"}, noRequests: true,
		},
		{
			name:   "rootkeys list",
			args:   []string{"rootkeys", "list"},
			routes: map[string]reply{"GET /v1/rootkeys": {200, `{"data":[` + rootKeyJSON + `,{"id":"rk_1","scopes":["*"],"start":"tark_zz","created_at":"2025-01-01T00:00:00Z","revoked_at":"2025-03-01T00:00:00Z"}]}`}},
			wantStdout: "ID    NAME  START    SCOPES            CREATED               REVOKED\n" +
				"rk_2  ci    tark_ab  keys.read,verify  2025-01-02T03:04:05Z  -\n" +
				"rk_1  -     tark_zz  *                 2025-01-01T00:00:00Z  2025-03-01T00:00:00Z\n",
		},
		{
			name:       "rootkeys revoke",
			args:       []string{"rootkeys", "revoke", "rk_1"},
			routes:     map[string]reply{"DELETE /v1/rootkeys/rk_1": {204, ""}},
			wantStdout: "revoked root key rk_1\n",
			wantReqs:   []wantReq{{plane: "admin", method: "DELETE", path: "/v1/rootkeys/rk_1"}},
		},

		// audit
		{
			name:   "audit list",
			args:   []string{"audit", "list", "--limit", "2"},
			routes: map[string]reply{"GET /v1/audit": {200, `{"data":[` + auditJSON + `]}`}},
			wantStdout: "SEQ  TIME                  ACTOR  ACTION      TARGET     REMOTE\n" +
				"3    2025-01-02T03:04:05Z  rk_1   key.create  key key_1  10.0.0.1\n",
			wantReqs: []wantReq{{plane: "admin", method: "GET", path: "/v1/audit", query: "limit=2"}},
		},
		{
			name:       "audit verify ok",
			args:       []string{"audit", "verify"},
			routes:     map[string]reply{"POST /v1/audit/verify": {200, `{"ok":true,"checked":12}`}},
			wantStdout: "audit chain: ok\nchecked:     12\n",
		},
		{
			name: "audit verify broken prints the entry and exits 1",
			args: []string{"audit", "verify"},
			routes: map[string]reply{
				"POST /v1/audit/verify": {200, `{"ok":false,"checked":3,"first_broken_seq":3,"first_broken_id":"aud_3","reason":"hash mismatch"}`},
				"GET /v1/audit":         {200, `{"data":[` + auditJSON + `]}`},
			},
			wantCode: 1,
			stdoutHas: []string{"audit chain:      BROKEN\n", "first_broken_seq: 3\n", "first_broken_id:  aud_3\n",
				"reason:           hash mismatch\n", "action:           key.create\n", "hash:             bb\n"},
			stderrHas: []string{"audit chain is broken"},
		},

		// errors, credentials, global flags
		{
			name: "API errors print title, detail and code",
			args: []string{"keys", "get", "key_x"},
			routes: map[string]reply{"GET /v1/keys/key_x": {404,
				`{"type":"about:blank","title":"Not Found","status":404,"detail":"no key key_x","code":"key_not_found"}`}},
			wantCode:  1,
			stderrHas: []string{"error: Not Found: no key key_x (key_not_found)\n"},
		},
		{
			name: "field errors are listed",
			args: []string{"apps", "create", "--name", "x", "--prefix", "BAD"},
			routes: map[string]reply{"POST /v1/apps": {400,
				`{"title":"Invalid request","status":400,"code":"invalid_request","errors":[{"field":"key_prefix","message":"lower case letters only"}]}`}},
			wantCode:  1,
			stderrHas: []string{"error: Invalid request (invalid_request)\n  key_prefix: lower case letters only\n"},
		},
		{
			name:       "no root key",
			args:       []string{"apps", "list"},
			env:        map[string]string{"TYPEAUTH_ROOT_KEY": ""},
			wantCode:   1,
			stderrHas:  []string{"TYPEAUTH_ROOT_KEY"},
			noRequests: true,
		},
		{
			name:     "global --admin-url before the command overrides the environment",
			args:     []string{"--admin-url", "ADMIN", "apps", "get", "app_1"},
			env:      map[string]string{"TYPEAUTH_ADMIN_URL": "http://127.0.0.1:1"},
			routes:   map[string]reply{"GET /v1/apps/app_1": {200, appJSON}},
			wantReqs: []wantReq{{plane: "admin", method: "GET", path: "/v1/apps/app_1"}},
		},
		{
			name:     "--url on the command",
			args:     []string{"keys", "verify", "k", "--url", "DATA"},
			env:      map[string]string{"TYPEAUTH_URL": "http://127.0.0.1:1"},
			routes:   map[string]reply{"POST /v1/verify": {200, `{"valid":true,"code":"VALID"}`}},
			wantReqs: []wantReq{{plane: "data", method: "POST", path: "/v1/verify"}},
		},
		{
			name: "unknown command", args: []string{"frobnicate"},
			wantCode: 2, stderrHas: []string{`unknown command "frobnicate"`}, noRequests: true,
		},
		{
			name: "unknown subcommand", args: []string{"keys", "frobnicate"},
			wantCode: 2, stderrHas: []string{`unknown command "keys frobnicate"`}, noRequests: true,
		},
		{
			name: "unknown flag", args: []string{"keys", "get", "k", "--frob"},
			wantCode: 2, stderrHas: []string{"flag provided but not defined"}, noRequests: true,
		},
		{
			name: "no command", args: nil,
			wantCode: 2, stderrHas: []string{"Usage: typeauth"}, noRequests: true,
		},
		{
			name: "group without a subcommand", args: []string{"apps"},
			wantCode: 2, stderrHas: []string{"Usage: typeauth apps <command>"}, noRequests: true,
		},
		{
			name: "-- ends the flags", args: []string{"keys", "verify", "--json", "--", "-odd-key"},
			routes:   map[string]reply{"POST /v1/verify": {200, `{"valid":true,"code":"VALID"}`}},
			wantReqs: []wantReq{{plane: "data", method: "POST", path: "/v1/verify", body: `{"key":"-odd-key"}`}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeAPI(t, tt.routes)
			args := make([]string, len(tt.args))
			for i, a := range tt.args {
				args[i] = strings.NewReplacer("ADMIN", f.admin.URL, "DATA", f.dat.URL).Replace(a)
			}
			code, stdout, stderr := f.run(t, args, tt.env, tt.stdin)
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

func checkReq(t *testing.T, got apiReq, w wantReq) {
	t.Helper()
	if got.plane != w.plane || got.method != w.method || got.path != w.path || got.query != w.query {
		t.Errorf("request = %s %s %s?%s, want %s %s %s?%s", got.plane, got.method, got.path, got.query, w.plane, w.method, w.path, w.query)
	}
	if w.body != "" {
		var g, want any
		if err := json.Unmarshal([]byte(got.body), &g); err != nil {
			t.Fatalf("request body is not JSON: %s", got.body)
		}
		if err := json.Unmarshal([]byte(w.body), &want); err != nil {
			t.Fatalf("bad want body: %v", err)
		}
		if !reflect.DeepEqual(g, want) {
			t.Errorf("request body:\n%s\nwant:\n%s", got.body, w.body)
		}
	}
	for k, v := range w.header {
		if got.header.Get(k) != v {
			t.Errorf("header %s = %q, want %q", k, got.header.Get(k), v)
		}
	}
}

func TestJSONOutputIsTheAPIsJSON(t *testing.T) {
	// A field the SDK does not know yet still reaches the user.
	body := `{"id":"app_1","name":"A","key_prefix":"a","created_at":"2025-01-02T03:04:05Z","updated_at":"2025-01-02T03:04:05Z","default_ratelimits":[1]}`
	f := newFakeAPI(t, map[string]reply{"GET /v1/apps/app_1": {200, body}})
	code, stdout, _ := f.run(t, []string{"apps", "get", "app_1", "--json"}, nil, "")
	if code != 0 || stdout != indent(t, body) {
		t.Errorf("code %d, stdout:\n%s", code, stdout)
	}
}

func TestRootKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rk")
	if err := os.WriteFile(path, []byte(testRootKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := newFakeAPI(t, map[string]reply{"GET /v1/apps": {200, `{"data":[]}`}})
	code, _, stderr := f.run(t, []string{"apps", "list"}, map[string]string{"TYPEAUTH_ROOT_KEY": "", "TYPEAUTH_ROOT_KEY_FILE": path}, "")
	if code != 0 || len(f.reqs) != 1 || f.reqs[0].header.Get("Authorization") != "Bearer "+testRootKey {
		t.Fatalf("code %d, stderr %s, reqs %+v", code, stderr, f.reqs)
	}
}

func TestRootKeyNotEchoed(t *testing.T) {
	// A server that echoes the credential must not make the CLI print it.
	f := newFakeAPI(t, map[string]reply{"GET /v1/keys/k": {401,
		`{"title":"Unauthorized","status":401,"detail":"bad key Bearer ` + testRootKey + `","code":"unauthorized"}`}})
	code, stdout, stderr := f.run(t, []string{"keys", "get", "k"}, nil, "")
	if code != 1 || strings.Contains(stdout+stderr, testRootKey) || !strings.Contains(stderr, "[REDACTED]") {
		t.Errorf("code %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestDataURLDefaultsFromAdminURL(t *testing.T) {
	e := &env{getenv: func(k string) string {
		return map[string]string{"TYPEAUTH_ADMIN_URL": "http://auth.internal:8081"}[k]
	}}
	c := e.newCmd(e.defaultGlobals(), "keys verify", "", "")
	if got := c.dataClient().DataURL(); got != "http://auth.internal:8080" {
		t.Errorf("data URL = %q", got)
	}
	e.getenv = func(string) string { return "" }
	c = e.newCmd(e.defaultGlobals(), "keys verify", "", "")
	if got := c.dataClient().DataURL(); got != DefaultDataURL {
		t.Errorf("default data URL = %q", got)
	}
}

func TestHelp(t *testing.T) {
	f := newFakeAPI(t, nil)
	var cases [][]string
	for _, g := range groups() {
		cases = append(cases, []string{g.name, "--help"}, []string{g.name, "-h"}, []string{"help", g.name}, []string{g.name, "help"})
		for _, s := range g.subs {
			cases = append(cases,
				[]string{g.name, s.name, "--help"},
				[]string{g.name, s.name, "-h"},
				[]string{"help", g.name, s.name},
				[]string{g.name, "help", s.name},
			)
		}
	}
	cases = append(cases, []string{"--help"}, []string{"-h"}, []string{"help"}, []string{"version", "--help"})
	for _, args := range cases {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, stdout, stderr := f.run(t, args, nil, "")
			if code != 0 || stderr != "" {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			if !strings.HasPrefix(stdout, "Usage: typeauth") {
				t.Errorf("stdout does not start with a usage line:\n%s", stdout)
			}
			leaf := len(args) == 3 || (len(args) == 2 && args[0] == "version")
			if leaf {
				for _, s := range []string{"--json", "--admin-url URL", "--url URL", "-h, --help"} {
					if !strings.Contains(stdout, s) {
						t.Errorf("help lacks %q:\n%s", s, stdout)
					}
				}
			}
		})
	}
	if len(f.reqs) != 0 {
		t.Errorf("help sent %d requests", len(f.reqs))
	}
}

func TestHelpListsFlags(t *testing.T) {
	f := newFakeAPI(t, nil)
	tests := map[string][]string{
		"keys create": {"--app ID", "--name NAME", "--owner ID", "--meta JSON", "--expires TIME", "--credits N",
			"--refill-amount N", "--refill-interval INTERVAL", "--permission PERMISSION", "--ip CIDR", "--disabled",
			"--idempotency-key KEY"},
		"keys list":       {"--app ID", "--owner OWNER", "--limit N", "--cursor CURSOR", "--all"},
		"keys update":     {"--name", "--owner", "--meta", "--enable", "--disable", "--expires", "--no-expiry", "--ip", "--clear-ips"},
		"keys roll":       {"--grace DURATION"},
		"keys verify":     {"--app ID", "--credits N", "--ip IP"},
		"rootkeys create": {"--name NAME", "--scope SCOPE", "keys.write"},
		"audit list":      {"--limit N"},
		"apps create":     {"--name NAME", "--prefix PREFIX"},
		"apps update":     {"--name NAME"},
	}
	for cmdline, flags := range tests {
		_, stdout, _ := f.run(t, append(strings.Fields(cmdline), "--help"), nil, "")
		for _, fl := range flags {
			if !strings.Contains(stdout, fl) {
				t.Errorf("%s --help lacks %q:\n%s", cmdline, fl, stdout)
			}
		}
	}
}

func TestVersion(t *testing.T) {
	f := newFakeAPI(t, nil)
	code, stdout, _ := f.run(t, []string{"version"}, nil, "")
	if code != 0 || !strings.HasPrefix(stdout, "typeauth ") {
		t.Errorf("version: %d %q", code, stdout)
	}
}

func TestParseHelpers(t *testing.T) {
	d, err := parseDuration("30d")
	if err != nil || d != 30*24*time.Hour {
		t.Errorf("30d = %v, %v", d, err)
	}
	if _, err := parseExpiry("-1h", fixedNow()); err == nil {
		t.Error("a past duration was accepted")
	}
	rl, err := parseRateLimit("api:5/250ms")
	if err != nil || rl.Name != "api" || rl.Limit != 5 || rl.DurationMs != 250 || rl.AutoApply {
		t.Errorf("parseRateLimit = %+v, %v", rl, err)
	}
	for _, bad := range []string{"", "api", ":5/1s", "api:0/1s", "api:5/0s", "api:5/x", "api:x/1s"} {
		if _, err := parseRateLimit(bad); err == nil {
			t.Errorf("parseRateLimit(%q) accepted", bad)
		}
	}
	pos, err := parseInterspersed(newTestFlagSet(), []string{"a", "--json", "b", "--", "--json"})
	if err != nil || !reflect.DeepEqual(pos, []string{"a", "b", "--json"}) {
		t.Errorf("parseInterspersed = %v, %v", pos, err)
	}
}

func newTestFlagSet() *flag.FlagSet {
	e := &env{getenv: func(string) string { return "" }}
	return e.newCmd(globals{}, "t", "", "").fs
}
