package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/typeauth/typeauth/client"
)

// TestGatewayKeyTrust: with --data-plane-auth gateway-key, the data plane
// answers only callers holding a verify-scoped root key, in its own header
// (HTTP) or metadata (gRPC); probes and the OAuth2 endpoints stay open.
func TestGatewayKeyTrust(t *testing.T) {
	p := start(t, serveOpts{args: []string{"--data-plane-auth", "gateway-key"}})
	app := createApp(t, p, "A", "trust")
	k := createKey(t, p, client.CreateKeyRequest{AppID: app.ID})
	gwKey := rootKey(t, p, "verify")
	other := rootKey(t, p, "keys.read")

	for name, hdr := range map[string][]string{
		"no gateway key":                          {"X-API-Key", k.Secret},
		"key without verify":                      {"X-API-Key", k.Secret, "X-TypeAuth-Gateway-Key", other},
		"root key in Authorization is not enough": {"Authorization", "Bearer " + gwKey},
	} {
		st, _, body := callRaw(t, "GET", p.Data+"/v1/authorize", "", nil, hdr...)
		must(t, st == 401 && strings.Contains(string(body), "gateway_key_required"), "%s: %d %s", name, st, body)
	}
	st, h, _ := callRaw(t, "GET", p.Data+"/v1/authorize", "", nil, "X-API-Key", k.Secret, "X-TypeAuth-Gateway-Key", gwKey)
	must(t, st == 200 && h.Get("X-TypeAuth-Key-Id") == k.ID, "trusted gateway: %d", st)
	st, _ = call(t, "POST", p.Data+"/v1/verify", "", client.VerifyRequest{Key: k.Secret}, nil)
	must(t, st == 401, "verify without gateway key: %d", st)
	st, _ = call(t, "POST", p.Data+"/v1/verify", "", client.VerifyRequest{Key: k.Secret}, nil, "X-TypeAuth-Gateway-Key", gwKey)
	must(t, st == 200, "verify with gateway key: %d", st)
	st, _, _ = callRaw(t, "GET", p.Data+"/readyz", "", nil)
	must(t, st == 200, "readyz must stay open: %d", st)

	conn, err := grpc.NewClient(p.grpcAddr(t), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ext := authv3.NewAuthorizationClient(conn)
	req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
		Http: &authv3.AttributeContext_HttpRequest{Method: "GET", Host: "x", Path: "/", Headers: map[string]string{"x-api-key": k.Secret}}}}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = ext.Check(ctx, req)
	must(t, status.Code(err) == codes.Unauthenticated, "gRPC without gateway key: %v", err)
	resp, err := ext.Check(metadata.AppendToOutgoingContext(ctx, "x-typeauth-gateway-key", gwKey), req)
	must(t, err == nil && resp.GetOkResponse() != nil, "gRPC with gateway key: %v %v", resp, err)
}
