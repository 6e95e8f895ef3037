package e2e

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/typeauth/typeauth/client"
)

// doorVector is one request as a gateway saw it and the decision both doors
// (forward-auth HTTP and Envoy ext_authz gRPC) must give.
type doorVector struct {
	name                string
	method, host, path  string
	hdr                 map[string]string
	status              int
	code                string
	upstream            map[string]string // identity headers the backend must get
	absent              []string          // identity headers the backend must not get
	removeHdr, removeQS []string          // gRPC: what Envoy must strip
}

// TestGatewayDoorsAgree runs one table of decision vectors through
// /v1/authorize and through a real gRPC ext_authz client: the two doors
// cannot drift apart.
func TestGatewayDoorsAgree(t *testing.T) {
	p := start(t, serveOpts{args: []string{"--dev-master-key", "--issuers-allow-http"}})
	a := createApp(t, p, "A", "doora")
	b := createApp(t, p, "B", "doorb")
	k := createKey(t, p, client.CreateKeyRequest{AppID: a.ID, OwnerID: "user_7", Permissions: []string{"orders.read"}, Meta: json.RawMessage(`{"plan":"pro","seats":3}`)})
	noPerm := createKey(t, p, client.CreateKeyRequest{AppID: a.ID})
	kb := createKey(t, p, client.CreateKeyRequest{AppID: b.ID, OwnerID: "user_b"})
	off := createKey(t, p, client.CreateKeyRequest{AppID: a.ID, Enabled: new(bool)})
	rs := putRules(t, p, map[string]any{"no_match": "deny", "rules": []map[string]any{
		{"name": "public", "paths": []string{"/public/**"}, "anonymous": true},
		{"name": "orders", "methods": []string{"GET"}, "paths": []string{"/orders/**"}, "apps": []string{a.ID},
			"credentials":      []map[string]string{{"type": "bearer"}, {"type": "header", "name": "X-API-Key"}, {"type": "query", "name": "api_key"}, {"type": "cookie", "name": "session"}},
			"permissions":      "orders.read",
			"upstream_headers": []string{"key_id", "owner_id", "meta.plan", "meta.seats", "permissions"},
			"strip_credential": true},
		{"name": "multi", "paths": []string{"/multi/*"}, "apps": []string{a.ID, b.ID}},
		{"name": "hosted", "hosts": []string{"*.example.com"}, "paths": []string{"/h"}},
		{"name": "any issuer", "paths": []string{"/tp/**"}, "permissions": "orders.read",
			"upstream_headers": []string{"key_id", "app_id", "owner_id", "permissions", "expires_at", "meta.plan"}},
	}})
	must(t, rs.Version == 1 && rs.Source == "store" && len(rs.Rules) == 5, "rule set %+v", rs)
	tv := newTokenVectors(t, p, k.Secret)

	bearer := func(s string) map[string]string { return map[string]string{"Authorization": "Bearer " + s} }
	ordersUp := map[string]string{"X-TypeAuth-Key-Id": k.ID, "X-TypeAuth-Owner-Id": "user_7", "X-TypeAuth-Meta-Plan": "pro", "X-TypeAuth-Meta-Seats": "3", "X-TypeAuth-Permissions": "orders.read"}
	vectors := []doorVector{
		{name: "anonymous public", method: "GET", path: "/public/a", status: 200, code: "VALID"},
		{name: "public with a bad key is still checked", method: "GET", path: "/public/a", hdr: bearer("nope"), status: 401, code: "MALFORMED"},
		{name: "bearer", method: "GET", path: "/orders/1", hdr: bearer(k.Secret), status: 200, code: "VALID", upstream: ordersUp,
			removeHdr: []string{"authorization", "x-api-key"}, removeQS: []string{"api_key"}},
		{name: "query parameter", method: "GET", path: "/orders/1?api_key=" + k.Secret + "&x=1", status: 200, code: "VALID", upstream: ordersUp, removeQS: []string{"api_key"}},
		{name: "cookie", method: "GET", path: "/orders/1", hdr: map[string]string{"Cookie": "a=1; session=" + k.Secret}, status: 200, code: "VALID", upstream: ordersUp},
		{name: "dot segments normalized", method: "GET", path: "/public/../orders/1", hdr: bearer(noPerm.Secret), status: 403, code: "INSUFFICIENT_PERMISSIONS"},
		{name: "percent-encoded path normalized", method: "GET", path: "/%6Frders/1", status: 401, code: "NOT_FOUND"},
		{name: "client X-TypeAuth header removed or refused", method: "GET", path: "/orders/1", hdr: map[string]string{"Authorization": "Bearer " + k.Secret, "X-TypeAuth-Owner-Id": "admin"}, status: -1},
		{name: "method not matched", method: "POST", path: "/orders/1", hdr: bearer(k.Secret), status: 403, code: "FORBIDDEN"},
		{name: "other app's key", method: "GET", path: "/orders/1", hdr: bearer(kb.Secret), status: 403, code: "FORBIDDEN"},
		{name: "no credential", method: "GET", path: "/orders/1", status: 401, code: "NOT_FOUND"},
		{name: "disabled", method: "GET", path: "/orders/1", hdr: bearer(off.Secret), status: 401, code: "DISABLED"},
		{name: "missing permission", method: "GET", path: "/orders/1", hdr: bearer(noPerm.Secret), status: 403, code: "INSUFFICIENT_PERMISSIONS"},
		{name: "multi app: B", method: "GET", path: "/multi/x", hdr: bearer(kb.Secret), status: 200, code: "VALID", upstream: map[string]string{"X-TypeAuth-App-Id": b.ID, "X-TypeAuth-Owner-Id": "user_b"}},
		{name: "multi app: A", method: "GET", path: "/multi/x", hdr: bearer(k.Secret), status: 200, code: "VALID", upstream: map[string]string{"X-TypeAuth-App-Id": a.ID}},
		{name: "one segment only", method: "GET", path: "/multi/x/y", hdr: bearer(k.Secret), status: 403, code: "FORBIDDEN"},
		{name: "host wildcard", method: "GET", host: "api.example.com:443", path: "/h", hdr: bearer(k.Secret), status: 200, code: "VALID"},
		{name: "host wildcard needs a label", method: "GET", host: "example.com", path: "/h", hdr: bearer(k.Secret), status: 403, code: "FORBIDDEN"},
		{name: "no rule matches", method: "GET", path: "/nothing", hdr: bearer(k.Secret), status: 403, code: "FORBIDDEN"},
	}
	vectors = append(vectors, tv.vectors(bearer, ordersUp, a.ID)...)

	conn, err := grpc.NewClient(p.grpcAddr(t), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ext := authv3.NewAuthorizationClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hc, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: "envoy.service.auth.v3.Authorization"})
	must(t, err == nil && hc.Status == healthpb.HealthCheckResponse_SERVING, "health: %v %v", hc, err)

	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			host := v.host
			if host == "" {
				host = "api.test"
			}
			// HTTP door, as a forward-auth gateway calls it.
			hdr := []string{"X-Forwarded-Method", v.method, "X-Forwarded-Host", host, "X-Forwarded-Uri", v.path}
			for name, val := range v.hdr {
				hdr = append(hdr, name, val)
			}
			hs, hh, body := callRaw(t, "GET", p.Data+"/v1/authorize", "", nil, hdr...)
			// gRPC door, as Envoy calls it.
			gh := map[string]string{}
			for name, val := range v.hdr {
				gh[strings.ToLower(name)] = val
			}
			resp, err := ext.Check(ctx, &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
				Source: &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
					SocketAddress: &corev3.SocketAddress{Address: "203.0.113.9"}}}},
				Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
					Method: v.method, Host: host, Path: v.path, Headers: gh}}}})
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			gs, gcode, gup := checkOutcome(t, resp)

			if v.status == -1 {
				// Forward-auth refuses a client-sent X-TypeAuth-* header
				// (nginx cannot strip it); ext_authz strips it.
				must(t, hs == 403 && hh.Get("X-TypeAuth-Code") == "FORBIDDEN", "HTTP door: %d %q", hs, hh.Get("X-TypeAuth-Code"))
				must(t, gs == 200 && gup["x-typeauth-owner-id"] == "user_7", "gRPC door: %d owner %q", gs, gup["x-typeauth-owner-id"])
				return
			}
			must(t, hs == v.status && hh.Get("X-TypeAuth-Code") == v.code, "HTTP door: %d %q, want %d %q (%s)", hs, hh.Get("X-TypeAuth-Code"), v.status, v.code, body)
			must(t, gs == v.status && gcode == v.code, "gRPC door: %d %q, want %d %q", gs, gcode, v.status, v.code)
			for name, want := range v.upstream {
				must(t, hh.Get(name) == want, "HTTP door: %s = %q, want %q", name, hh.Get(name), want)
				must(t, gup[strings.ToLower(name)] == want, "gRPC door: %s = %q, want %q", name, gup[strings.ToLower(name)], want)
			}
			for _, name := range v.absent {
				_, inG := gup[strings.ToLower(name)]
				must(t, hh.Get(name) == "" && !inG, "%s sent upstream: HTTP %q, gRPC %q", name, hh.Get(name), gup[strings.ToLower(name)])
			}
			if v.status == 200 {
				must(t, len(body) == 0, "HTTP allow with a body: %q", body)
				ok := resp.GetOkResponse()
				for _, h := range v.removeHdr {
					must(t, slices.Contains(ok.GetHeadersToRemove(), h), "gRPC: %s not in headers_to_remove %v", h, ok.GetHeadersToRemove())
				}
				for _, q := range v.removeQS {
					must(t, slices.Contains(ok.GetQueryParametersToRemove(), q), "gRPC: %s not in query_parameters_to_remove", q)
				}
			} else {
				d := resp.GetDeniedResponse()
				var pb client.Problem
				must(t, json.Unmarshal([]byte(d.GetBody()), &pb) == nil && pb.Code == v.code, "gRPC denied body %q", d.GetBody())
				if v.status == 401 {
					must(t, hh.Get("WWW-Authenticate") != "", "HTTP 401 without WWW-Authenticate")
				}
			}
		})
	}

	t.Run("gRPC: no http attributes is an argument error, not a denial", func(t *testing.T) {
		_, err := ext.Check(ctx, &authv3.CheckRequest{})
		must(t, status.Code(err) == codes.InvalidArgument, "err %v", err)
	})
	t.Run("client X-TypeAuth headers are in headers_to_remove", func(t *testing.T) {
		resp, err := ext.Check(ctx, &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
			Http: &authv3.AttributeContext_HttpRequest{Method: "GET", Host: "x", Path: "/public/x", Headers: map[string]string{"x-typeauth-owner-id": "admin", "x-typeauth-anything": "1"}}}}})
		must(t, err == nil && resp.GetOkResponse() != nil, "%v %v", resp, err)
		rm := resp.GetOkResponse().GetHeadersToRemove()
		must(t, slices.Contains(rm, "x-typeauth-owner-id") && slices.Contains(rm, "x-typeauth-anything"), "headers_to_remove %v", rm)
	})
}

// checkOutcome reads a CheckResponse as status, code and upstream headers.
func checkOutcome(t *testing.T, resp *authv3.CheckResponse) (int, string, map[string]string) {
	t.Helper()
	up := map[string]string{}
	if ok := resp.GetOkResponse(); ok != nil {
		must(t, codes.Code(resp.GetStatus().GetCode()) == codes.OK, "ok response with status %v", resp.GetStatus())
		for _, h := range ok.GetHeaders() {
			up[strings.ToLower(h.GetHeader().GetKey())] = h.GetHeader().GetValue()
		}
		return 200, "VALID", up
	}
	d := resp.GetDeniedResponse()
	must(t, d != nil && codes.Code(resp.GetStatus().GetCode()) != codes.OK, "neither ok nor denied: %v", resp)
	code := ""
	for _, h := range d.GetHeaders() {
		if strings.EqualFold(h.GetHeader().GetKey(), "X-TypeAuth-Code") {
			code = h.GetHeader().GetValue()
		}
	}
	return int(d.GetStatus().GetCode()), code, up
}
