package extauthz_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/typeauth/typeauth/internal/auth"
	"github.com/typeauth/typeauth/internal/extauthz"
	"github.com/typeauth/typeauth/internal/gateway"
	"github.com/typeauth/typeauth/internal/httpapi"
	"github.com/typeauth/typeauth/internal/manage"
	"github.com/typeauth/typeauth/internal/store/sqlite"
	"github.com/typeauth/typeauth/internal/verify"
)

type env struct {
	dec    *gateway.Decider
	srv    *httpapi.Server
	secret string
}

func newEnv(tb testing.TB) *env {
	tb.Helper()
	ctx := context.Background()
	st, err := sqlite.OpenDir(ctx, tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	v := verify.New(st, verify.Options{})
	m := manage.New(st, v, nil, nil)
	app, err := m.CreateApp(ctx, manage.System, "bench", "bench", nil)
	if err != nil {
		tb.Fatal(err)
	}
	k, err := m.CreateKey(ctx, manage.System, &auth.Key{AppID: app.ID, OwnerID: "user_1", Enabled: true}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	dec := gateway.New(v, gateway.Options{})
	srv := httpapi.New(v, m, slog.New(slog.DiscardHandler), httpapi.Options{Gateway: httpapi.GatewayOptions{Decider: dec}})
	return &env{dec: dec, srv: srv, secret: k.Secret}
}

// BenchmarkCheck is one ext_authz Check through a real gRPC stack over an
// in-memory connection (bufconn): protobuf, HTTP/2 framing, decision.
func BenchmarkCheck(b *testing.B) {
	e := newEnv(b)
	ln := bufconn.Listen(1 << 20)
	gs, _ := extauthz.NewGRPCServer(e.dec, slog.New(slog.DiscardHandler), nil, extauthz.Trust{})
	go gs.Serve(ln)
	defer gs.Stop()
	conn, err := grpc.NewClient("passthrough:///bufnet", grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
		return ln.DialContext(ctx)
	}), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	c := authv3.NewAuthorizationClient(conn)
	req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
		Method: "GET", Host: "api.example.com", Path: "/orders/42", Headers: map[string]string{"authorization": "Bearer " + e.secret, "user-agent": "bench"}}}}}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		resp, err := c.Check(ctx, req)
		if err != nil || resp.GetOkResponse() == nil {
			b.Fatalf("%v %v", resp, err)
		}
	}
}

// BenchmarkCheckDirect is the Check method alone (no transport).
func BenchmarkCheckDirect(b *testing.B) {
	e := newEnv(b)
	s := extauthz.New(e.dec, slog.New(slog.DiscardHandler))
	req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
		Method: "GET", Host: "api.example.com", Path: "/orders/42", Headers: map[string]string{"authorization": "Bearer " + e.secret}}}}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if resp, err := s.Check(ctx, req); err != nil || resp.GetOkResponse() == nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthorize is one /v1/authorize through the data-plane handler
// (middleware, mux, reconstruction, decision, headers), without the network.
func BenchmarkAuthorize(b *testing.B) {
	e := newEnv(b)
	h := e.srv.DataHandler()
	req := httptest.NewRequest("GET", "/v1/authorize", nil)
	req.Header.Set("Authorization", "Bearer "+e.secret)
	req.Header.Set("X-Forwarded-Method", "GET")
	req.Header.Set("X-Forwarded-Uri", "/orders/42")
	req.Header.Set("X-Forwarded-Host", "api.example.com")
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}
	}
}
