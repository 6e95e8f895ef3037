package cli

import "testing"

const roleJSON = `{"id":"role_1","name":"admin","description":"everything","permissions":["docs.read","docs.write"],
	"created_at":"2025-01-02T03:04:05Z","updated_at":"2025-01-02T03:04:05Z"}`

const roleRecord = `id:          role_1
name:        admin
description: everything
permissions: docs.read,docs.write
created_at:  2025-01-02T03:04:05Z
updated_at:  2025-01-02T03:04:05Z
`

func TestRoleCommands(t *testing.T) {
	runCLICases(t, []cliCase{
		{
			name: "roles create",
			args: []string{"roles", "create", "--name", "admin", "--description", "everything",
				"--permission", "docs.read", "--permission", "docs.write", "--idempotency-key", "i1"},
			routes:     map[string]reply{"POST /v1/roles": {201, roleJSON}},
			wantStdout: roleRecord,
			wantReqs: []wantReq{{plane: "admin", method: "POST", path: "/v1/roles",
				body:   `{"name":"admin","description":"everything","permissions":["docs.read","docs.write"]}`,
				header: map[string]string{"Idempotency-Key": "i1"}}},
		},
		{
			name:      "roles create --json",
			args:      []string{"roles", "create", "--name", "admin", "--permission", "docs.read", "--json"},
			routes:    map[string]reply{"POST /v1/roles": {201, roleJSON}},
			stdoutHas: []string{`"name": "admin"`},
			wantReqs:  []wantReq{{plane: "admin", method: "POST", path: "/v1/roles", body: `{"name":"admin","permissions":["docs.read"]}`}},
		},
		{
			name: "roles create needs --name", args: []string{"roles", "create", "--permission", "a"},
			wantCode: 2, stderrHas: []string{"--name is required"}, noRequests: true,
		},
		{
			name: "roles create needs a permission", args: []string{"roles", "create", "--name", "admin"},
			wantCode: 2, stderrHas: []string{"at least one --permission"}, noRequests: true,
		},
		{
			name:   "roles list",
			args:   []string{"roles", "list"},
			routes: map[string]reply{"GET /v1/roles": {200, `{"data":[` + roleJSON + `,{"id":"role_2","name":"ro","permissions":["docs.read"],"created_at":"2025-02-01T00:00:00Z"}]}`}},
			wantStdout: "ID      NAME   PERMISSIONS           DESCRIPTION  CREATED\n" +
				"role_1  admin  docs.read,docs.write  everything   2025-01-02T03:04:05Z\n" +
				"role_2  ro     docs.read             -            2025-02-01T00:00:00Z\n",
			wantReqs: []wantReq{{plane: "admin", method: "GET", path: "/v1/roles"}},
		},
		{
			name:      "roles list paging",
			args:      []string{"roles", "list", "--limit", "1", "--cursor", "c3", "--json"},
			routes:    map[string]reply{"GET /v1/roles": {200, `{"data":[]}`}},
			wantReqs:  []wantReq{{plane: "admin", method: "GET", path: "/v1/roles", query: "cursor=c3&limit=1"}},
			stdoutHas: []string{`"data": []`},
		},
		{
			name:       "roles get",
			args:       []string{"roles", "get", "role_1"},
			routes:     map[string]reply{"GET /v1/roles/role_1": {200, roleJSON}},
			wantStdout: roleRecord,
			wantReqs:   []wantReq{{plane: "admin", method: "GET", path: "/v1/roles/role_1"}},
		},
		{
			name:   "roles update",
			args:   []string{"roles", "update", "role_1", "--name", "ops", "--description", "", "--permission", "a", "--permission", "b"},
			routes: map[string]reply{"PATCH /v1/roles/role_1": {200, roleJSON}},
			wantReqs: []wantReq{{plane: "admin", method: "PATCH", path: "/v1/roles/role_1",
				body: `{"name":"ops","description":null,"permissions":["a","b"]}`}},
			wantStdout: roleRecord,
		},
		{
			name:     "roles update clears the permissions",
			args:     []string{"roles", "update", "role_1", "--clear-permissions"},
			routes:   map[string]reply{"PATCH /v1/roles/role_1": {200, roleJSON}},
			wantReqs: []wantReq{{plane: "admin", method: "PATCH", path: "/v1/roles/role_1", body: `{"permissions":[]}`}},
		},
		{
			name: "roles update nothing", args: []string{"roles", "update", "role_1"},
			wantCode: 2, stderrHas: []string{"nothing to update"}, noRequests: true,
		},
		{
			name: "roles update conflicting flags", args: []string{"roles", "update", "role_1", "--permission", "a", "--clear-permissions"},
			wantCode: 2, stderrHas: []string{"exclude each other"}, noRequests: true,
		},
		{
			name:       "roles delete",
			args:       []string{"roles", "delete", "role_1"},
			routes:     map[string]reply{"DELETE /v1/roles/role_1": {204, ""}},
			wantStdout: "deleted role role_1\n",
			wantReqs:   []wantReq{{plane: "admin", method: "DELETE", path: "/v1/roles/role_1"}},
		},
		{
			name: "roles delete needs an id", args: []string{"roles", "delete"},
			wantCode: 2, stderrHas: []string{"missing argument"}, noRequests: true,
		},

		// keys permissions and roles
		{
			name:       "keys permissions add",
			args:       []string{"keys", "permissions", "key_1", "add", "docs.read", "docs.write"},
			routes:     map[string]reply{"POST /v1/keys/key_1/permissions": {200, keyJSON}},
			wantStdout: keyRecord,
			wantReqs: []wantReq{{plane: "admin", method: "POST", path: "/v1/keys/key_1/permissions",
				body: `{"add":["docs.read","docs.write"]}`}},
		},
		{
			name:   "keys permissions set",
			args:   []string{"keys", "permissions", "key_1", "set", "docs.read"},
			routes: map[string]reply{"POST /v1/keys/key_1/permissions": {200, keyJSON}},
			wantReqs: []wantReq{{plane: "admin", method: "POST", path: "/v1/keys/key_1/permissions",
				body: `{"set":["docs.read"]}`}},
		},
		{
			name:      "keys roles remove --json",
			args:      []string{"--json", "keys", "roles", "key_1", "remove", "admin"},
			routes:    map[string]reply{"POST /v1/keys/key_1/roles": {200, keyJSON}},
			stdoutHas: []string{`"id": "key_1"`},
			wantReqs: []wantReq{{plane: "admin", method: "POST", path: "/v1/keys/key_1/roles",
				body: `{"remove":["admin"]}`}},
		},
		{
			name: "keys roles remove needs a role", args: []string{"keys", "roles", "key_1", "remove"},
			wantCode: 2, stderrHas: []string{"remove needs at least one ROLE", "typeauth keys roles --help"}, noRequests: true,
		},
		{
			name: "keys permissions rejects an empty permission", args: []string{"keys", "permissions", "key_1", "add", ""},
			wantCode: 2, stderrHas: []string{"empty PERMISSION"}, noRequests: true,
		},
		{
			name: "keys permissions error from the API",
			args: []string{"keys", "permissions", "key_1", "add", "bad perm"},
			routes: map[string]reply{"POST /v1/keys/key_1/permissions": {400,
				`{"title":"Invalid request","status":400,"code":"invalid_permission","errors":[{"field":"add[0]","message":"no spaces"}]}`}},
			wantCode:  1,
			stderrHas: []string{"error: Invalid request (invalid_permission)\n  add[0]: no spaces\n"},
		},
	})
}
