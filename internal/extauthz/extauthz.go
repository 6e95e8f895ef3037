// Package extauthz is the Envoy ext_authz v3 gRPC door
// (envoy.service.auth.v3.Authorization/Check). It decides through the same
// gateway.Decider as the forward-auth HTTP door. A denial is a normal
// CheckResponse carrying the status, headers and body for the client; a gRPC
// error (codes.Unavailable) means TypeAuth could not decide, and Envoy, with
// failure_mode_allow false, denies.
package extauthz

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/typeauth/typeauth/client"
	"github.com/typeauth/typeauth/internal/auth"
	"github.com/typeauth/typeauth/internal/gateway"
)

// ContextAppID is the context extension (set per route in Envoy) that narrows
// which app's keys pass, like X-TypeAuth-App-Id on the HTTP door. Request
// headers are the client's and are never trusted for this.
const ContextAppID = "typeauth_app_id"

// Trust says how callers prove they are a trusted gateway.
type Trust struct {
	// GatewayKeys, when not nil, requires metadata x-typeauth-gateway-key
	// holding a verify-scoped root key (Envoy: grpc_service.initial_metadata).
	GatewayKeys *gateway.KeyAuth
	// RequireClientCert requires a verified client certificate (mutual TLS).
	RequireClientCert bool
}

// Server implements the Authorization service.
type Server struct {
	authv3.UnimplementedAuthorizationServer
	dec *gateway.Decider
	log *slog.Logger
}

// New returns the ext_authz service over a decider.
func New(dec *gateway.Decider, log *slog.Logger) *Server { return &Server{dec: dec, log: log} }

// NewGRPCServer returns a gRPC server with the Authorization service, the
// standard health service (SERVING for "" and the Authorization service),
// bounded messages and the trust check. creds may be nil (plaintext).
func NewGRPCServer(dec *gateway.Decider, log *slog.Logger, creds credentials.TransportCredentials, trust Trust) (*grpc.Server, *health.Server) {
	opts := []grpc.ServerOption{grpc.MaxRecvMsgSize(1 << 20), grpc.UnaryInterceptor(trust.interceptor)}
	if creds != nil {
		opts = append(opts, grpc.Creds(creds))
	}
	gs := grpc.NewServer(opts...)
	authv3.RegisterAuthorizationServer(gs, New(dec, log))
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus(authv3.Authorization_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(gs, hs)
	return gs, hs
}

func (t Trust) interceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if strings.HasPrefix(info.FullMethod, "/grpc.health.v1.Health/") {
		return handler(ctx, req)
	}
	if t.RequireClientCert {
		p, ok := peer.FromContext(ctx)
		ti, isTLS := credentials.TLSInfo{}, false
		if ok {
			ti, isTLS = p.AuthInfo.(credentials.TLSInfo)
		}
		if !isTLS || len(ti.State.VerifiedChains) == 0 {
			return nil, status.Error(codes.Unauthenticated, "a client certificate signed by the configured CA is required")
		}
	}
	if t.GatewayKeys != nil {
		md, _ := metadata.FromIncomingContext(ctx)
		var key string
		if v := md.Get(strings.ToLower(gateway.HeaderGatewayKey)); len(v) == 1 {
			key = v[0]
		}
		if err := t.GatewayKeys.Check(ctx, key); err != nil {
			if errors.Is(err, auth.ErrUnauthorized) {
				return nil, status.Error(codes.Unauthenticated, "a verify-scoped root key is required in metadata x-typeauth-gateway-key")
			}
			return nil, status.Error(codes.Unavailable, "cannot check the gateway key now")
		}
	}
	return handler(ctx, req)
}

// headerMap adapts Envoy's lower-case header map to gateway.Headers.
type headerMap map[string]string

func (h headerMap) Get(name string) string { return h[strings.ToLower(name)] }

// Check decides one request.
func (s *Server) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	attrs := req.GetAttributes()
	hr := attrs.GetRequest().GetHttp()
	if hr == nil {
		return nil, status.Error(codes.InvalidArgument, "attributes.request.http is required")
	}
	hdrs := headerMap(hr.GetHeaders())
	if hm := hr.GetHeaderMap(); hm != nil && len(hm.GetHeaders()) > 0 {
		// Envoy sends header_map instead of headers when configured to
		// (encode_raw_headers); repeated headers are joined as Envoy does.
		hdrs = make(headerMap, len(hm.GetHeaders()))
		for _, kv := range hm.GetHeaders() {
			k, v := strings.ToLower(kv.GetKey()), kv.GetValue()
			if v == "" && len(kv.GetRawValue()) > 0 {
				v = string(kv.GetRawValue())
			}
			if old, ok := hdrs[k]; ok {
				v = old + "," + v
			}
			hdrs[k] = v
		}
	}
	host := hr.GetHost()
	if host == "" {
		host = hdrs[":authority"]
	}
	gr := gateway.Request{
		Method:   hr.GetMethod(),
		Host:     host,
		Path:     hr.GetPath(),
		Headers:  hdrs,
		AppID:    attrs.GetContextExtensions()[ContextAppID],
		ClientIP: sourceIP(attrs),
	}
	d, err := s.dec.Decide(ctx, &gr)
	if err != nil {
		s.log.LogAttrs(ctx, slog.LevelError, "ext_authz: cannot decide", slog.String("error", err.Error()))
		return nil, status.Error(codes.Unavailable, "TypeAuth cannot decide now")
	}
	if d.Allow {
		return allow(&d, hdrs), nil
	}
	return denied(&d), nil
}

func sourceIP(attrs *authv3.AttributeContext) netip.Addr {
	sa := attrs.GetSource().GetAddress().GetSocketAddress()
	if sa == nil {
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(sa.GetAddress())
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

func overwrite(k, v string) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{
		Header:       &corev3.HeaderValue{Key: k, Value: v},
		AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
	}
}

func allow(d *gateway.Decision, hdrs headerMap) *authv3.CheckResponse {
	ok := &authv3.OkHttpResponse{}
	set := make(map[string]bool, len(d.Upstream))
	for _, kv := range d.Upstream {
		ok.Headers = append(ok.Headers, overwrite(kv[0], kv[1]))
		set[strings.ToLower(kv[0])] = true
	}
	// Client-sent X-TypeAuth-* headers never reach the backend: those
	// TypeAuth sets are overwritten above, the others removed here (Envoy
	// applies removals after additions, so a set header is not removed).
	for k := range hdrs {
		if gateway.Reserved(k) && !set[k] {
			ok.HeadersToRemove = append(ok.HeadersToRemove, k)
		}
	}
	for _, h := range d.RemoveHeaders {
		if k := strings.ToLower(h); !set[k] {
			ok.HeadersToRemove = append(ok.HeadersToRemove, k)
		}
	}
	ok.QueryParametersToRemove = d.RemoveQuery
	for _, kv := range d.Response {
		ok.ResponseHeadersToAdd = append(ok.ResponseHeadersToAdd, overwrite(kv[0], kv[1]))
	}
	return &authv3.CheckResponse{
		Status:       &rpcstatus.Status{Code: int32(codes.OK)},
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: ok},
	}
}

func denied(d *gateway.Decision) *authv3.CheckResponse {
	body, _ := json.Marshal(client.Problem{Type: "https://typeauth.dev/problems/" + strings.ToLower(string(d.Code)),
		Title: http.StatusText(d.Status), Status: d.Status, Code: string(d.Code), Detail: d.Detail})
	dr := &authv3.DeniedHttpResponse{
		Status: &typev3.HttpStatus{Code: typev3.StatusCode(d.Status)},
		Body:   string(body),
		Headers: []*corev3.HeaderValueOption{
			overwrite("content-type", "application/problem+json"),
			overwrite("cache-control", "no-store"),
			overwrite(gateway.HeaderCode, string(d.Code)),
		},
	}
	for _, kv := range d.Response {
		dr.Headers = append(dr.Headers, overwrite(kv[0], kv[1]))
	}
	code := codes.PermissionDenied
	if d.Code.HTTPStatus() == http.StatusUnauthorized {
		code = codes.Unauthenticated
	}
	return &authv3.CheckResponse{
		Status:       &rpcstatus.Status{Code: int32(code), Message: string(d.Code)},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: dr},
	}
}
