package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const issuerJSON = `{"id":"iss_1","name":"Auth0","issuer":"https://t.example/","jwks_url":"https://t.example/keys",
	"algorithms":["RS256"],"audiences":["orders"],"leeway_seconds":30,"required_claims":[],"owner_claim":"sub",
	"permissions_claim":"permissions","created_at":"2025-01-02T03:04:05Z","updated_at":"2025-01-02T03:04:05Z",
	"key_set":{"keys":2,"last_success":"2025-01-02T03:05:00Z"}}`

const issuerRecord = `id:                iss_1
name:              Auth0
issuer:            https://t.example/
keys_from:         jwks_url https://t.example/keys
algorithms:        RS256
audiences:         orders
required_claims:   -
leeway_seconds:    30
owner_claim:       sub
permissions_claim: permissions
created_at:        2025-01-02T03:04:05Z
updated_at:        2025-01-02T03:04:05Z
key_set:           2 keys
last_success:      2025-01-02T03:05:00Z
`

const signingKeyJSON = `{"kid":"kid_a","alg":"ES256","state":"live","public_jwk":{"kty":"EC"},"created_at":"2025-01-02T03:04:05Z",
	"activate_at":"2025-01-02T03:14:05Z"}`

func TestTokenCommands(t *testing.T) {
	jwksFile := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(jwksFile, []byte(`{"keys": [{"kty":"OKP","crv":"Ed25519","x":"abc"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	runCLICases(t, []cliCase{
		{
			name:       "tokens revoke --jti",
			args:       []string{"tokens", "revoke", "--jti", "j1", "--expires-at", "2030-01-01T00:00:00Z"},
			routes:     map[string]reply{"POST /v1/tokens/revoke": {200, `{"jti":"j1","expires_at":"2030-01-01T00:05:00Z"}`}},
			wantStdout: "jti:          j1\ndenied_until: 2030-01-01T00:05:00Z\n",
			wantReqs:   []wantReq{{plane: "admin", method: "POST", path: "/v1/tokens/revoke", body: `{"jti":"j1","expires_at":"2030-01-01T00:00:00Z"}`}},
		},
		{
			name:      "tokens revoke --token --json",
			args:      []string{"tokens", "revoke", "--token", "a.b.c", "--json"},
			routes:    map[string]reply{"POST /v1/tokens/revoke": {200, `{"jti":"j2","expires_at":"2030-01-01T00:05:00Z"}`}},
			stdoutHas: []string{`"jti": "j2"`},
			wantReqs:  []wantReq{{plane: "admin", method: "POST", path: "/v1/tokens/revoke", body: `{"token":"a.b.c"}`}},
		},
		{
			name: "tokens revoke needs exactly one of --jti and --token", args: []string{"tokens", "revoke", "--jti", "j", "--token", "t"},
			wantCode: 2, stderrHas: []string{"exactly one of --jti and --token"}, noRequests: true,
		},
		{
			name: "tokens revoke --expires-at goes with --jti", args: []string{"tokens", "revoke", "--token", "t", "--expires-at", "2030-01-01T00:00:00Z"},
			wantCode: 2, stderrHas: []string{"--expires-at goes with --jti"}, noRequests: true,
		},
		{
			name:   "signing-keys list",
			args:   []string{"signing-keys", "list"},
			routes: map[string]reply{"GET /v1/signing-keys": {200, `{"data":[` + signingKeyJSON + `]}`}},
			wantStdout: "KID    ALG    STATE  ACTIVATES             RETIRES  EXPIRES\n" +
				"kid_a  ES256  live   2025-01-02T03:14:05Z  never    never\n",
			wantReqs: []wantReq{{plane: "admin", method: "GET", path: "/v1/signing-keys"}},
		},
		{
			name:      "signing-keys rotate --alg --immediate",
			args:      []string{"signing-keys", "rotate", "--alg", "ES256", "--immediate"},
			routes:    map[string]reply{"POST /v1/signing-keys/rotate": {201, signingKeyJSON}},
			stdoutHas: []string{"kid:         kid_a\n", "alg:         ES256\n"},
			wantReqs:  []wantReq{{plane: "admin", method: "POST", path: "/v1/signing-keys/rotate", body: `{"alg":"ES256","immediate":true}`}},
		},
		{
			name: "signing-keys rotate bad alg", args: []string{"signing-keys", "rotate", "--alg", "HS256"},
			wantCode: 2, stderrHas: []string{`--alg "HS256"`}, noRequests: true,
		},
		{
			name: "issuers create with every flag",
			args: []string{"issuers", "create", "--name", "Auth0", "--issuer", "https://t.example/", "--jwks-url", "https://t.example/keys",
				"--alg", "RS256", "--alg", "ES256", "--audience", "orders", "--required-claim", "email", "--leeway-seconds", "10",
				"--owner-claim", "email", "--permissions-claim", "permissions"},
			routes:     map[string]reply{"POST /v1/issuers": {201, issuerJSON}},
			wantStdout: issuerRecord,
			wantReqs: []wantReq{{plane: "admin", method: "POST", path: "/v1/issuers", body: `{"name":"Auth0","issuer":"https://t.example/",
				"jwks_url":"https://t.example/keys","algorithms":["RS256","ES256"],"audiences":["orders"],"leeway_seconds":10,
				"required_claims":["email"],"owner_claim":"email","permissions_claim":"permissions"}`}},
		},
		{
			name:   "issuers create inline jwks from a file",
			args:   []string{"issuers", "create", "--name", "L", "--issuer", "https://l.example", "--jwks", "@" + jwksFile, "--alg", "EdDSA", "--json"},
			routes: map[string]reply{"POST /v1/issuers": {201, issuerJSON}}, stdoutHas: []string{`"id": "iss_1"`},
			wantReqs: []wantReq{{plane: "admin", method: "POST", path: "/v1/issuers", body: `{"name":"L","issuer":"https://l.example",
				"jwks":{"keys":[{"kty":"OKP","crv":"Ed25519","x":"abc"}]},"algorithms":["EdDSA"]}`}},
		},
		{
			name: "issuers create needs one key source", args: []string{"issuers", "create", "--name", "x", "--issuer", "https://x", "--alg", "EdDSA"},
			wantCode: 2, stderrHas: []string{"exactly one of --jwks-url, --discovery-url and --jwks"}, noRequests: true,
		},
		{
			name: "issuers create needs --alg", args: []string{"issuers", "create", "--name", "x", "--issuer", "https://x", "--jwks-url", "https://x/k"},
			wantCode: 2, stderrHas: []string{"--alg is required"}, noRequests: true,
		},
		{
			name: "issuers create --jwks must be a set", args: []string{"issuers", "create", "--name", "x", "--issuer", "https://x", "--jwks", "[]", "--alg", "EdDSA"},
			wantCode: 2, stderrHas: []string{"must be a JWK Set"}, noRequests: true,
		},
		{
			name:   "issuers list",
			args:   []string{"issuers", "list"},
			routes: map[string]reply{"GET /v1/issuers": {200, `{"data":[` + issuerJSON + `]}`}},
			wantStdout: "ID     NAME   ISSUER              KEYS FROM                        ALGORITHMS  CREATED\n" +
				"iss_1  Auth0  https://t.example/  jwks_url https://t.example/keys  RS256       2025-01-02T03:04:05Z\n",
			wantReqs: []wantReq{{plane: "admin", method: "GET", path: "/v1/issuers"}},
		},
		{
			name: "issuers get", args: []string{"issuers", "get", "iss_1"},
			routes: map[string]reply{"GET /v1/issuers/iss_1": {200, issuerJSON}}, wantStdout: issuerRecord,
			wantReqs: []wantReq{{plane: "admin", method: "GET", path: "/v1/issuers/iss_1"}},
		},
		{
			name: "issuers get not found", args: []string{"issuers", "get", "iss_9"},
			routes:   map[string]reply{"GET /v1/issuers/iss_9": {404, `{"title":"Not Found","status":404,"detail":"issuer not found","code":"issuer_not_found"}`}},
			wantCode: 1, stderrHas: []string{"error: Not Found: issuer not found (issuer_not_found)"},
		},
		{
			name: "issuers update sets only the flags given",
			args: []string{"issuers", "update", "iss_1", "--discovery-url", "https://t.example/.well-known/openid-configuration",
				"--alg", "RS256", "--no-audiences", "--leeway-seconds", "0"},
			routes:     map[string]reply{"PATCH /v1/issuers/iss_1": {200, issuerJSON}},
			wantStdout: issuerRecord,
			wantReqs: []wantReq{{plane: "admin", method: "PATCH", path: "/v1/issuers/iss_1", body: `{"discovery_url":"https://t.example/.well-known/openid-configuration",
				"algorithms":["RS256"],"audiences":[],"leeway_seconds":0}`}},
		},
		{
			name: "issuers update needs a change", args: []string{"issuers", "update", "iss_1", "--json"},
			wantCode: 2, stderrHas: []string{"nothing to change"}, noRequests: true,
		},
		{
			name: "issuers update one key source", args: []string{"issuers", "update", "iss_1", "--jwks-url", "https://a", "--discovery-url", "https://b"},
			wantCode: 2, stderrHas: []string{"at most one of"}, noRequests: true,
		},
		{
			name: "issuers delete", args: []string{"issuers", "delete", "iss_1"},
			routes: map[string]reply{"DELETE /v1/issuers/iss_1": {204, ""}}, wantStdout: "deleted issuer iss_1\n",
			wantReqs: []wantReq{{plane: "admin", method: "DELETE", path: "/v1/issuers/iss_1"}},
		},
		{
			name: "keys reveal --quiet", args: []string{"keys", "reveal", "key_1", "--quiet"},
			routes:     map[string]reply{"POST /v1/keys/key_1/reveal": {200, `{"id":"key_1","app_id":"app_1","key":"tok_secret","enabled":true,"created_at":"2025-01-02T03:04:05Z"}`}},
			wantStdout: "tok_secret\n", stderrHas: []string{"will not be shown again"},
			wantReqs: []wantReq{{plane: "admin", method: "POST", path: "/v1/keys/key_1/reveal"}},
		},
		{
			name: "keys reveal", args: []string{"keys", "reveal", "key_1"},
			routes:    map[string]reply{"POST /v1/keys/key_1/reveal": {200, `{"id":"key_1","app_id":"app_1","key":"tok_secret","enabled":true,"created_at":"2025-01-02T03:04:05Z"}`}},
			stdoutHas: []string{"key:", "tok_secret"},
		},
		{
			name: "keys reveal forbidden", args: []string{"keys", "reveal", "key_1"},
			routes:   map[string]reply{"POST /v1/keys/key_1/reveal": {403, `{"title":"Forbidden","status":403,"detail":"needs keys.reveal","code":"forbidden"}`}},
			wantCode: 1, stderrHas: []string{"needs keys.reveal"},
		},
	})
}

// TestTokensExchange runs tokens exchange against the fake data plane: the
// key is the Bearer credential there (the root key is never sent).
func TestTokensExchange(t *testing.T) {
	for _, tt := range []struct {
		name       string
		args       []string
		stdin      string
		wantCode   int
		wantStdout string
		stdoutHas  []string
		stderrHas  []string
		wantBody   string
		wantAuth   string
	}{
		{name: "with --ttl and --audience", args: []string{"tokens", "exchange", "tok_abc", "--ttl", "15m", "--audience", "https://api"},
			wantStdout: "access_token: a.b.c\ntoken_type:   Bearer\nexpires_in:   900s\n",
			wantBody:   `{"ttl_seconds":900,"audience":"https://api"}`, wantAuth: "Bearer tok_abc"},
		{name: "key from stdin, --quiet", args: []string{"tokens", "exchange", "-", "--quiet"}, stdin: "tok_in\n",
			wantStdout: "a.b.c\n", wantBody: `{}`, wantAuth: "Bearer tok_in"},
		{name: "--json", args: []string{"tokens", "exchange", "tok_abc", "--json"},
			stdoutHas: []string{`"access_token": "a.b.c"`}, wantBody: `{}`, wantAuth: "Bearer tok_abc"},
		{name: "refused key", args: []string{"tokens", "exchange", "tok_bad"}, wantCode: 1,
			stderrHas: []string{"error: Unauthorized: key not found (not_found)"}, wantBody: `{}`, wantAuth: "Bearer tok_bad"},
		{name: "bad --ttl", args: []string{"tokens", "exchange", "tok_abc", "--ttl", "10ms"}, wantCode: 2, stderrHas: []string{"--ttl must be at least 1s"}},
		{name: "no key", args: []string{"tokens", "exchange"}, wantCode: 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeAPI(t, map[string]reply{"POST /v1/tokens": {200, `{"access_token":"a.b.c","token_type":"Bearer","expires_in":900}`}})
			if strings.Contains(strings.Join(tt.args, " "), "tok_bad") {
				f.routes["POST /v1/tokens"] = reply{401, `{"title":"Unauthorized","status":401,"detail":"key not found","code":"not_found"}`}
			}
			code, stdout, stderr := f.run(t, tt.args, nil, tt.stdin)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\n%s\n%s", code, tt.wantCode, stdout, stderr)
			}
			if tt.wantStdout != "" && stdout != tt.wantStdout {
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
			if tt.wantBody == "" {
				if len(f.reqs) != 0 {
					t.Fatalf("sent %d requests, want none", len(f.reqs))
				}
				return
			}
			if len(f.reqs) != 1 {
				t.Fatalf("sent %d requests, want 1", len(f.reqs))
			}
			checkReq(t, f.reqs[0], wantReq{plane: "data", method: "POST", path: "/v1/tokens", body: tt.wantBody,
				header: map[string]string{"Authorization": tt.wantAuth}})
			if strings.Contains(stdout+stderr, testRootKey) {
				t.Error("the root key was printed")
			}
		})
	}
}

// TestTokenCommandsHelp: every new command answers --help with its usage.
func TestTokenCommandsHelp(t *testing.T) {
	for _, args := range [][]string{{"tokens", "exchange"}, {"tokens", "revoke"}, {"signing-keys", "list"}, {"signing-keys", "rotate"},
		{"issuers", "create"}, {"issuers", "list"}, {"issuers", "get"}, {"issuers", "update"}, {"issuers", "delete"}, {"keys", "reveal"}} {
		f := newFakeAPI(t, nil)
		code, stdout, stderr := f.run(t, append(args, "--help"), nil, "")
		out := stdout + stderr
		if code != 0 || !strings.Contains(out, "typeauth "+strings.Join(args, " ")) || !strings.Contains(out, "-json") {
			t.Errorf("%v --help: exit %d\n%s", args, code, out)
		}
		if len(f.reqs) != 0 {
			t.Errorf("%v --help sent requests", args)
		}
	}
}
