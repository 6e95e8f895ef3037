package main

import (
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/typeauth/typeauth/client"
)

func TestParseKeyRateLimit(t *testing.T) {
	good := []struct {
		in    string
		limit int64
		ms    int64
	}{
		{"1000000000/1s", 1_000_000_000, 1000},
		{"100/1m", 100, 60_000},
		{" 5 / 250ms ", 5, 250},
		{"1/1ms", 1, 1},
		{"10/1h30m", 10, 5_400_000},
	}
	for _, tt := range good {
		l, err := parseKeyRateLimit(tt.in)
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		want := client.RateLimit{Name: "requests", Limit: tt.limit, DurationMs: tt.ms, AutoApply: true}
		if *l != want {
			t.Errorf("%q: got %+v, want %+v", tt.in, *l, want)
		}
	}
	for _, in := range []string{"", "1000", "/1s", "0/1s", "-1/1s", "1.5/1s", "x/1s", "10/", "10/1", "10/0s",
		"10/-1s", "10/1500us", "10/999us", "10/367d", "10/9000h", "99999999999999999999/1s"} {
		if l, err := parseKeyRateLimit(in); err == nil {
			t.Errorf("%q: want an error, got %+v", in, *l)
		}
	}
}

func TestExtFlags(t *testing.T) {
	c, err := parseFlags([]string{"-key-ratelimit", "1000000000/1s", "-endpoint", "check", "-grpc-conns", "2"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !isCheck(c.endpoint) || c.ext.grpcConns != 2 || c.ext.limit == nil || c.ext.limit.Limit != 1_000_000_000 {
		t.Errorf("parsed %+v, limit %+v", c.ext, c.ext.limit)
	}
	if got := c.seedLimits(); len(got) != 1 || !got[0].AutoApply || got[0].DurationMs != 1000 {
		t.Errorf("seedLimits: %+v", got)
	}
	if c, err := parseFlags(nil, io.Discard); err != nil || c.ext.limit != nil || c.seedLimits() != nil {
		t.Errorf("defaults: %v, %+v", err, c)
	}
	for _, args := range [][]string{
		{"-endpoint", "check", "-gen", "wrk"},
		{"-grpc-conns", "0"},
		{"-key-ratelimit", "1000"},
		{"-key-ratelimit", "10/1s", "-state", "/tmp/x"},
		{"-key-ratelimit", "10/1s", "-only-baseline"},
		{"-key-ratelimit", "10/1s", "-endpoint", "jwt-eddsa"},
		{"-endpoint", "grpc"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%q: want an error", args)
		}
	}
}

func TestGRPCServeArgs(t *testing.T) {
	args, addr, err := grpcServeArgs("verify")
	if err != nil || addr != "" || !slices.Equal(args, []string{"--grpc-addr", "off"}) {
		t.Errorf("verify: %q %q %v", args, addr, err)
	}
	args, addr, err = grpcServeArgs("check")
	if err != nil || !strings.HasPrefix(addr, "127.0.0.1:") || !slices.Equal(args, []string{"--grpc-addr", addr}) {
		t.Errorf("check: %q %q %v", args, addr, err)
	}
}

func TestSampleIndexes(t *testing.T) {
	for _, tt := range []struct {
		n, sample int
		want      []int
	}{
		{1, 32, []int{0}},
		{3, 32, []int{0, 2, 1}},
		{100, 4, []int{0, 99, 25, 50}},
	} {
		if got := sampleIndexes(tt.n, tt.sample); !slices.Equal(got, tt.want) {
			t.Errorf("sampleIndexes(%d, %d) = %v, want %v", tt.n, tt.sample, got, tt.want)
		}
	}
}

func okResp(hdrs ...string) *authv3.CheckResponse {
	ok := &authv3.OkHttpResponse{}
	for i := 0; i+1 < len(hdrs); i += 2 {
		ok.Headers = append(ok.Headers, &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: hdrs[i], Value: hdrs[i+1]}})
	}
	return &authv3.CheckResponse{Status: &rpcstatus.Status{Code: 0}, HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: ok}}
}

func TestCheckAnswer(t *testing.T) {
	k := &seedKey{secret: "s", id: "key_1", owner: "owner_1"}
	good := okResp("X-TypeAuth-Key-Id", "key_1", "x-typeauth-app-id", "app_1", "X-TypeAuth-Owner-Id", "owner_1", "X-TypeAuth-Credits-Remaining", "5")
	if err := checkAnswer(good, "app_1", k); err != nil {
		t.Errorf("good answer: %v", err)
	}
	denied := &authv3.CheckResponse{Status: &rpcstatus.Status{Code: int32(codes.Unauthenticated)},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{}}}
	if err := checkAnswer(denied, "app_1", k); !errors.Is(err, errCheckDenied) {
		t.Errorf("denied: %v", err)
	}
	for name, resp := range map[string]*authv3.CheckResponse{
		"no ok_response": {Status: &rpcstatus.Status{}},
		"wrong key":      okResp("X-TypeAuth-Key-Id", "key_2", "X-TypeAuth-App-Id", "app_1", "X-TypeAuth-Owner-Id", "owner_1"),
		"wrong app":      okResp("X-TypeAuth-Key-Id", "key_1", "X-TypeAuth-App-Id", "app_2", "X-TypeAuth-Owner-Id", "owner_1"),
		"no owner":       okResp("X-TypeAuth-Key-Id", "key_1", "X-TypeAuth-App-Id", "app_1"),
	} {
		if err := checkAnswer(resp, "app_1", k); err == nil || errors.Is(err, errCheckDenied) {
			t.Errorf("%s: want an invalid-answer error, got %v", name, err)
		}
	}
}

// fakeAuthz answers OK with the identity of the known keys, denies the
// others, and answers a wrong key id for the secret in wrong.
type fakeAuthz struct {
	authv3.UnimplementedAuthorizationServer
	ds    *dataset
	wrong string
	calls chan string
}

func (f *fakeAuthz) Check(_ context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	secret := strings.TrimPrefix(req.GetAttributes().GetRequest().GetHttp().GetHeaders()["authorization"], "Bearer ")
	if f.calls != nil {
		f.calls <- secret
	}
	for _, k := range f.ds.keys {
		if k.secret == secret {
			id := k.id
			if secret == f.wrong {
				id = "key_other"
			}
			return okResp("X-TypeAuth-Key-Id", id, "X-TypeAuth-App-Id", f.ds.appID, "X-TypeAuth-Owner-Id", k.owner), nil
		}
	}
	return &authv3.CheckResponse{Status: &rpcstatus.Status{Code: int32(codes.Unauthenticated)},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status: &typev3.HttpStatus{Code: typev3.StatusCode_Unauthorized}}}}, nil
}

func serveFake(t *testing.T, f *fakeAuthz) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	authv3.RegisterAuthorizationServer(gs, f)
	go gs.Serve(ln)
	t.Cleanup(gs.Stop)
	return ln.Addr().String()
}

func TestGRPCPrecheckAndLoad(t *testing.T) {
	ds := localDataset(50)
	right := serveFake(t, &fakeAuthz{ds: ds})
	addr := right
	ctx := context.Background()
	if err := precheckGRPC(ctx, addr, ds, 32); err != nil {
		t.Fatalf("precheck of a right server: %v", err)
	}
	r := grpcLoad(ctx, addr, ds, 8, 2, 300*time.Millisecond, false)
	if r.errors() != 0 || r.requests == 0 || r.p50 <= 0 || r.p99 < r.p50 || r.rps <= 0 {
		t.Errorf("load of a right server: %+v", r)
	}

	// One pass: every key exactly once.
	calls := make(chan string, 100)
	addr = serveFake(t, &fakeAuthz{ds: ds, calls: calls})
	r = grpcLoad(ctx, addr, ds, 7, 3, 10*time.Second, true)
	close(calls)
	seen := map[string]int{}
	for s := range calls {
		seen[s]++
	}
	if r.requests != 50 || r.errors() != 0 || len(seen) != 50 {
		t.Errorf("one pass: %d requests, %d errors, %d distinct keys", r.requests, r.errors(), len(seen))
	}
	for s, n := range seen {
		if n != 1 {
			t.Errorf("one pass: key %s checked %d times", s, n)
		}
	}

	// A server that answers a wrong identity for one key fails the
	// precheck (key #0 is in the sample) and counts invalid answers.
	bad := serveFake(t, &fakeAuthz{ds: ds, wrong: ds.keys[0].secret})
	if err := precheckGRPC(ctx, bad, ds, 32); err == nil {
		t.Error("precheck of a wrong server passed")
	}
	r = grpcLoad(ctx, bad, ds, 4, 2, 10*time.Second, true)
	if r.invalid != 1 || r.non2xx != 0 || r.requests != 50 || r.firstErr == "" {
		t.Errorf("load of a wrong server: %+v", r)
	}

	// Unknown keys are denied: every call of a load over them is an error.
	other := localDataset(5)
	other.appID = ds.appID
	r = grpcLoad(ctx, right, other, 2, 1, 10*time.Second, true)
	if r.non2xx != 5 {
		t.Errorf("load of unknown keys: %+v", r)
	}

	// No server: socket errors, no hang.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	r = grpcLoad(ctx, dead, ds, 2, 1, 200*time.Millisecond, false)
	if r.sockErrs == 0 || r.requests != 0 {
		t.Errorf("load of no server: %+v", r)
	}
}
