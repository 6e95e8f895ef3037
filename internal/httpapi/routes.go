package httpapi

import (
	"net/http"
	"reflect"
	"strings"

	"github.com/typeauth/typeauth/client"
)

// Plane says which listener serves a route.
type Plane int

const (
	DataPlane Plane = 1 << iota
	AdminPlane
	BothPlanes = DataPlane | AdminPlane
)

// route is one endpoint: how it is served and how it is documented. The
// OpenAPI document is generated from this table, so the two cannot drift.
type route struct {
	method, path string
	plane        Plane
	summary      string
	scope        string // required root key scope (management plane)
	query        []param
	req, resp    reflect.Type
	status       int // success status
	handler      http.Handler
}

type param struct{ name, desc string }

func typeOf[T any]() reflect.Type { return reflect.TypeFor[T]() }

var (
	pageParams = []param{{"cursor", "opaque cursor from next_cursor"}, {"limit", "page size, 1-1000 (default 50)"}}
)

// routes lists every endpoint of both planes.
func (s *Server) routes() []route {
	return []route{
		// data plane
		{method: "POST", path: "/v1/verify", plane: DataPlane, summary: "Verify an API key or a JWT (key or token)", req: typeOf[client.VerifyRequest](), resp: typeOf[client.VerifyResponse](), status: 200, handler: s.handleVerify()},
		{method: "POST", path: "/v1/ratelimit", plane: DataPlane, summary: "Stand-alone rate limiting of any identifier in a namespace", req: typeOf[client.RateLimitRequest](), resp: typeOf[client.RateLimitResponse](), status: 200, handler: s.handleRateLimit()},
		{method: "", path: "/v1/authorize", plane: DataPlane, summary: "Forward-auth for gateways (any method, any sub-path): 200 with identity headers and an empty body, or 401/403/429 with X-TypeAuth-Code", status: 200, handler: s.handleAuthorize()},
		{method: "", path: "/v1/authorize/", plane: DataPlane, summary: "Forward-auth with the original path appended (Envoy path_prefix)", status: 200, handler: s.handleAuthorize()},
		{method: "POST", path: "/oauth2/introspect", plane: DataPlane, summary: "RFC 7662 token introspection (form: token); caller: a verify-scoped root key as Bearer or Basic password", resp: typeOf[client.Introspection](), status: 200, handler: s.handleIntrospect()},
		{method: "POST", path: "/oauth2/revoke", plane: DataPlane, summary: "RFC 7009 revocation of one's own key (form: token); always 200", status: 200, handler: s.handleRevoke()},
		{method: "POST", path: "/v1/tokens", plane: DataPlane, summary: "Exchange an API key (Authorization: Bearer) for a short-lived JWT; a verify-scoped root key may name key_id. A form body is RFC 8693 token exchange", req: typeOf[client.TokenRequest](), resp: typeOf[client.TokenResponse](), status: 200, handler: s.handleToken()},
		{method: "GET", path: "/.well-known/jwks.json", plane: DataPlane, summary: "The public keys of TypeAuth's tokens (JWK Set; next and retired keys included)", status: 200, handler: s.handleJWKS()},
		{method: "GET", path: "/.well-known/openid-configuration", plane: DataPlane, summary: "Minimal OpenID Provider configuration: issuer, jwks_uri, token_endpoint", resp: typeOf[client.OpenIDConfiguration](), status: 200, handler: s.handleDiscovery()},
		// both planes
		{method: "GET", path: "/metrics", plane: BothPlanes, summary: "Prometheus metrics (text exposition format)", status: 200, handler: s.handleMetrics()},
		{method: "GET", path: "/healthz", plane: BothPlanes, summary: "Liveness", status: 200, handler: handleHealthz()},
		{method: "GET", path: "/readyz", plane: BothPlanes, summary: "Readiness: 200 once the store is open and migrated", status: 200, handler: s.handleReadyz()},
		{method: "GET", path: "/v1/openapi.json", plane: BothPlanes, summary: "This OpenAPI document", status: 200, handler: s.handleOpenAPI()},
		// management plane
		{method: "POST", path: "/v1/apps", plane: AdminPlane, scope: "apps.write", summary: "Create an app", req: typeOf[client.CreateAppRequest](), resp: typeOf[client.App](), status: 201, handler: s.admin(s.createApp)},
		{method: "GET", path: "/v1/apps", plane: AdminPlane, scope: "apps.read", summary: "List apps", query: pageParams, resp: typeOf[client.List[client.App]](), status: 200, handler: s.admin(s.listApps)},
		{method: "GET", path: "/v1/apps/{id}", plane: AdminPlane, scope: "apps.read", summary: "Get an app", resp: typeOf[client.App](), status: 200, handler: s.admin(s.getApp)},
		{method: "PATCH", path: "/v1/apps/{id}", plane: AdminPlane, scope: "apps.write", summary: "Update an app", req: typeOf[client.UpdateAppRequest](), resp: typeOf[client.App](), status: 200, handler: s.admin(s.updateApp)},
		{method: "DELETE", path: "/v1/apps/{id}", plane: AdminPlane, scope: "apps.write", summary: "Delete an app and all its keys", status: 204, handler: s.admin(s.deleteApp)},
		{method: "POST", path: "/v1/keys", plane: AdminPlane, scope: "keys.write", summary: "Create a key (the secret is in the answer, only here)", req: typeOf[client.CreateKeyRequest](), resp: typeOf[client.CreatedKey](), status: 201, handler: s.admin(s.createKey)},
		{method: "GET", path: "/v1/keys", plane: AdminPlane, scope: "keys.read", summary: "List keys of an app and/or an owner", query: append([]param{{"app_id", "keys of this app"}, {"owner_id", "keys of this owner"}}, pageParams...), resp: typeOf[client.List[client.Key]](), status: 200, handler: s.admin(s.listKeys)},
		{method: "GET", path: "/v1/keys/{id}", plane: AdminPlane, scope: "keys.read", summary: "Get a key", resp: typeOf[client.Key](), status: 200, handler: s.admin(s.getKey)},
		{method: "PATCH", path: "/v1/keys/{id}", plane: AdminPlane, scope: "keys.write", summary: "Update a key (fields given; null clears)", req: typeOf[client.UpdateKeyRequest](), resp: typeOf[client.Key](), status: 200, handler: s.admin(s.updateKey)},
		{method: "DELETE", path: "/v1/keys/{id}", plane: AdminPlane, scope: "keys.write", summary: "Revoke (delete) a key", status: 204, handler: s.admin(s.revokeKey)},
		{method: "POST", path: "/v1/keys/{id}/roll", plane: AdminPlane, scope: "keys.write", summary: "Give a key a new secret; the old one works for grace_period_ms", req: typeOf[client.RollKeyRequest](), resp: typeOf[client.CreatedKey](), status: 200, handler: s.admin(s.rollKey)},
		{method: "POST", path: "/v1/keys/{id}/credits", plane: AdminPlane, scope: "keys.write", summary: "Set, increment or decrement a key's credits", req: typeOf[client.CreditsRequest](), resp: typeOf[client.CreditsResponse](), status: 200, handler: s.admin(s.adjustCredits)},
		{method: "POST", path: "/v1/rootkeys", plane: AdminPlane, scope: "rootkeys.write", summary: "Create a root key", req: typeOf[client.CreateRootKeyRequest](), resp: typeOf[client.CreatedRootKey](), status: 201, handler: s.admin(s.createRootKey)},
		{method: "GET", path: "/v1/rootkeys", plane: AdminPlane, scope: "rootkeys.read", summary: "List root keys", query: pageParams, resp: typeOf[client.List[client.RootKey]](), status: 200, handler: s.admin(s.listRootKeys)},
		{method: "DELETE", path: "/v1/rootkeys/{id}", plane: AdminPlane, scope: "rootkeys.write", summary: "Revoke a root key", status: 204, handler: s.admin(s.revokeRootKey)},
		{method: "POST", path: "/v1/keys/{id}/permissions", plane: AdminPlane, scope: "keys.write", summary: "Add, remove or set a key's permissions", req: typeOf[client.PermissionsChange](), resp: typeOf[client.Key](), status: 200, handler: s.admin(s.changeList("key", "permissions"))},
		{method: "POST", path: "/v1/keys/{id}/roles", plane: AdminPlane, scope: "keys.write", summary: "Add, remove or set a key's roles", req: typeOf[client.PermissionsChange](), resp: typeOf[client.Key](), status: 200, handler: s.admin(s.changeList("key", "roles"))},
		{method: "POST", path: "/v1/identities", plane: AdminPlane, scope: "identities.write", summary: "Create an identity (a customer shared by several keys)", req: typeOf[client.CreateIdentityRequest](), resp: typeOf[client.Identity](), status: 201, handler: s.admin(s.createIdentity)},
		{method: "GET", path: "/v1/identities", plane: AdminPlane, scope: "identities.read", summary: "List identities (of an app), or find one by external_id", query: append([]param{{"app_id", "identities of this app"}, {"external_id", "the identity with this external id (with app_id for an app's identity)"}}, pageParams...), resp: typeOf[client.List[client.Identity]](), status: 200, handler: s.admin(s.listIdentities)},
		{method: "GET", path: "/v1/identities/{id}", plane: AdminPlane, scope: "identities.read", summary: "Get an identity", resp: typeOf[client.Identity](), status: 200, handler: s.admin(s.getIdentity)},
		{method: "PATCH", path: "/v1/identities/{id}", plane: AdminPlane, scope: "identities.write", summary: "Update an identity", req: typeOf[client.UpdateIdentityRequest](), resp: typeOf[client.Identity](), status: 200, handler: s.admin(s.updateIdentity)},
		{method: "DELETE", path: "/v1/identities/{id}", plane: AdminPlane, scope: "identities.write", summary: "Delete an identity (its keys stay, unlinked)", status: 204, handler: s.admin(s.deleteIdentity)},
		{method: "POST", path: "/v1/identities/{id}/permissions", plane: AdminPlane, scope: "identities.write", summary: "Add, remove or set an identity's permissions", req: typeOf[client.PermissionsChange](), resp: typeOf[client.Identity](), status: 200, handler: s.admin(s.changeList("identity", "permissions"))},
		{method: "POST", path: "/v1/identities/{id}/roles", plane: AdminPlane, scope: "identities.write", summary: "Add, remove or set an identity's roles", req: typeOf[client.PermissionsChange](), resp: typeOf[client.Identity](), status: 200, handler: s.admin(s.changeList("identity", "roles"))},
		{method: "POST", path: "/v1/roles", plane: AdminPlane, scope: "roles.write", summary: "Create a role (a named bundle of permissions)", req: typeOf[client.CreateRoleRequest](), resp: typeOf[client.Role](), status: 201, handler: s.admin(s.createRole)},
		{method: "GET", path: "/v1/roles", plane: AdminPlane, scope: "roles.read", summary: "List roles", query: pageParams, resp: typeOf[client.List[client.Role]](), status: 200, handler: s.admin(s.listRoles)},
		{method: "GET", path: "/v1/roles/{id}", plane: AdminPlane, scope: "roles.read", summary: "Get a role", resp: typeOf[client.Role](), status: 200, handler: s.admin(s.getRole)},
		{method: "PATCH", path: "/v1/roles/{id}", plane: AdminPlane, scope: "roles.write", summary: "Update a role", req: typeOf[client.UpdateRoleRequest](), resp: typeOf[client.Role](), status: 200, handler: s.admin(s.updateRole)},
		{method: "DELETE", path: "/v1/roles/{id}", plane: AdminPlane, scope: "roles.write", summary: "Delete a role (keys keep its name; it grants nothing)", status: 204, handler: s.admin(s.deleteRole)},
		{method: "POST", path: "/v1/ratelimit/overrides", plane: AdminPlane, scope: "ratelimits.write", summary: "Override the stand-alone limit for matching identifiers of a namespace", req: typeOf[client.CreateOverrideRequest](), resp: typeOf[client.RateLimitOverride](), status: 201, handler: s.admin(s.createOverride)},
		{method: "GET", path: "/v1/ratelimit/overrides", plane: AdminPlane, scope: "ratelimits.read", summary: "List the overrides of a namespace", query: append([]param{{"namespace", "required"}}, pageParams...), resp: typeOf[client.List[client.RateLimitOverride]](), status: 200, handler: s.admin(s.listOverrides)},
		{method: "DELETE", path: "/v1/ratelimit/overrides/{id}", plane: AdminPlane, scope: "ratelimits.write", summary: "Delete an override", status: 204, handler: s.admin(s.deleteOverride)},
		{method: "GET", path: "/v1/rules", plane: AdminPlane, scope: "apps.read", summary: "Get the route rules in force", resp: typeOf[client.RuleSet](), status: 200, handler: s.admin(s.getRules)},
		{method: "PUT", path: "/v1/rules", plane: AdminPlane, scope: "apps.write", summary: "Replace the ordered route rules (409 if version is stale or rules come from a file)", req: typeOf[client.PutRulesRequest](), resp: typeOf[client.RuleSet](), status: 200, handler: s.admin(s.putRules)},
		{method: "GET", path: "/v1/signing-keys", plane: AdminPlane, scope: "signing_keys.read", summary: "List the token signing keys (next, active, retired)", resp: typeOf[client.List[client.SigningKey]](), status: 200, handler: s.admin(s.listSigningKeys)},
		{method: "POST", path: "/v1/signing-keys/{kid}/revoke", plane: AdminPlane, scope: "signing_keys.write", summary: "Withdraw a signing key at once: out of the JWKS, its tokens fail", resp: typeOf[client.SigningKey](), status: 200, handler: s.admin(s.revokeSigningKey)},
		{method: "POST", path: "/v1/signing-keys/rotate", plane: AdminPlane, scope: "signing_keys.write", summary: "Create a signing key: published now, signs after the publish delay (or at once with immediate)", req: typeOf[client.RotateSigningKeyRequest](), resp: typeOf[client.SigningKey](), status: 201, handler: s.admin(s.rotateSigningKey)},
		{method: "POST", path: "/v1/issuers", plane: AdminPlane, scope: "issuers.write", summary: "Trust a third-party JWT issuer", req: typeOf[client.CreateIssuerRequest](), resp: typeOf[client.Issuer](), status: 201, handler: s.admin(s.createIssuer)},
		{method: "GET", path: "/v1/issuers", plane: AdminPlane, scope: "issuers.read", summary: "List trusted issuers", resp: typeOf[client.List[client.Issuer]](), status: 200, handler: s.admin(s.listIssuers)},
		{method: "GET", path: "/v1/issuers/{id}", plane: AdminPlane, scope: "issuers.read", summary: "Get a trusted issuer (with its key set state on this node)", resp: typeOf[client.Issuer](), status: 200, handler: s.admin(s.getIssuer)},
		{method: "PATCH", path: "/v1/issuers/{id}", plane: AdminPlane, scope: "issuers.write", summary: "Update a trusted issuer", req: typeOf[client.UpdateIssuerRequest](), resp: typeOf[client.Issuer](), status: 200, handler: s.admin(s.updateIssuer)},
		{method: "DELETE", path: "/v1/issuers/{id}", plane: AdminPlane, scope: "issuers.write", summary: "Stop trusting an issuer", status: 204, handler: s.admin(s.deleteIssuer)},
		{method: "POST", path: "/v1/tokens/revoke", plane: AdminPlane, scope: "keys.write", summary: "Revoke a token by jti (or give the token): it fails verification until it expires", req: typeOf[client.RevokeTokenRequest](), resp: typeOf[client.RevokedToken](), status: 200, handler: s.admin(s.revokeToken)},
		{method: "POST", path: "/v1/keys/{id}/reveal", plane: AdminPlane, scope: "keys.reveal", summary: "Show the secret of a key of a recoverable app again (audited)", resp: typeOf[client.CreatedKey](), status: 200, handler: s.admin(s.revealKey)},
		{method: "GET", path: "/v1/audit", plane: AdminPlane, scope: "audit.read", summary: "List audit entries, newest first", query: pageParams, resp: typeOf[client.List[client.AuditEntry]](), status: 200, handler: s.admin(s.listAudit)},
		{method: "POST", path: "/v1/audit/verify", plane: AdminPlane, scope: "audit.read", summary: "Check the audit hash chain", resp: typeOf[client.AuditVerifyResult](), status: 200, handler: s.admin(s.verifyAudit)},
	}
}

// mux builds the handler of one plane from the route table.
func (s *Server) mux(plane Plane) *http.ServeMux {
	m := http.NewServeMux()
	for _, rt := range s.routes() {
		if rt.plane&plane != 0 {
			m.Handle(strings.TrimSpace(rt.method+" "+rt.path), rt.handler)
		}
	}
	m.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, client.Problem{Status: http.StatusNotFound, Code: "route_not_found", Detail: "no such endpoint on this listener", Instance: r.URL.Path})
	}))
	return m
}
