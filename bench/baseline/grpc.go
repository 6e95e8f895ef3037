package main

import (
	"context"
	"crypto/sha256"
	"net"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
)

// The ext_authz baseline (-grpc-addr): a bare gRPC server with the Envoy
// Authorization service only. Check reads the bearer credential (or
// X-API-Key) from the request headers, SHA-256, map lookup, and answers OK
// with the identity headers TypeAuth sets (X-TypeAuth-Key-Id, -App-Id,
// -Owner-Id), or a denial (UNAUTHENTICATED, 401) for an unknown key. No
// interceptor, no health service, no logging.

type authzServer struct {
	authv3.UnimplementedAuthorizationServer
	ks *keyStore
}

// listenGRPC binds addr (so that the listener exists before the HTTP
// readiness check answers) and serves the Authorization service on it.
func listenGRPC(addr string, ks *keyStore) (*grpc.Server, net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	gs := grpc.NewServer(grpc.MaxRecvMsgSize(1 << 20))
	authv3.RegisterAuthorizationServer(gs, &authzServer{ks: ks})
	return gs, ln, nil
}

func header(k, v string) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{
		Header:       &corev3.HeaderValue{Key: k, Value: v},
		AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
	}
}

func (s *authzServer) Check(_ context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	hdrs := req.GetAttributes().GetRequest().GetHttp().GetHeaders()
	cred := ""
	if h := hdrs["authorization"]; len(h) > 7 && strings.EqualFold(h[:7], "Bearer ") {
		cred = h[7:]
	} else {
		cred = hdrs["x-api-key"]
	}
	k, ok := s.ks.keys[sha256.Sum256([]byte(cred))]
	if cred == "" || !ok {
		return &authv3.CheckResponse{
			Status: &rpcstatus.Status{Code: int32(codes.Unauthenticated), Message: "NOT_FOUND"},
			HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
				Status:  &typev3.HttpStatus{Code: typev3.StatusCode_Unauthorized},
				Headers: []*corev3.HeaderValueOption{header("x-typeauth-code", "NOT_FOUND")},
			}},
		}, nil
	}
	return &authv3.CheckResponse{
		Status: &rpcstatus.Status{Code: int32(codes.OK)},
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{Headers: []*corev3.HeaderValueOption{
			header("X-TypeAuth-Key-Id", k.id),
			header("X-TypeAuth-App-Id", s.ks.appID),
			header("X-TypeAuth-Owner-Id", k.owner),
		}}},
	}, nil
}
