package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// The ext_authz workload (-endpoint check): Envoy's
// envoy.service.auth.v3.Authorization/Check over gRPC (plaintext HTTP/2 on
// loopback). TypeAuth serves it on --grpc-addr, the baseline on -grpc-addr
// (bench/baseline/grpc.go). wrk cannot speak gRPC, so the built-in gRPC
// generator drives both targets: -conns concurrent callers, each with one
// Check in flight, spread over -grpc-conns HTTP/2 connections (as Envoy
// multiplexes its checks over a few connections). Every answer is checked:
// a gRPC error or a non-OK CheckResponse for a known key is an error, and an
// OK answer must carry the key's X-TypeAuth-Key-Id, -App-Id and -Owner-Id.

const endpointCheck = "check"

func isCheck(endpoint string) bool { return endpoint == endpointCheck }

// checkRequest is the CheckRequest for one credential: what Envoy sends for
// GET https://api.example.com/orders/42 with Authorization: Bearer <key>.
func checkRequest(secret string) *authv3.CheckRequest {
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
		Http: &authv3.AttributeContext_HttpRequest{
			Method: "GET", Host: "api.example.com", Path: "/orders/42", Scheme: "https", Protocol: "HTTP/1.1",
			Headers: map[string]string{
				":authority": "api.example.com", ":method": "GET", ":path": "/orders/42",
				"authorization": "Bearer " + secret, "user-agent": "typeauth-bench",
			},
		},
	}}}
}

// errCheckDenied is a well-formed denial (for a known key, an error).
var errCheckDenied = errors.New("denied")

// checkAnswer reports whether resp is the OK answer for key k of ds: status
// OK, an OkResponse setting X-TypeAuth-Key-Id, -App-Id and -Owner-Id (header
// names compared without case) to k's values. It returns errCheckDenied for
// a non-OK status and another error for an OK answer without the identity.
func checkAnswer(resp *authv3.CheckResponse, appID string, k *seedKey) error {
	if c := resp.GetStatus().GetCode(); c != int32(codes.OK) {
		return fmt.Errorf("%w: status %s %q", errCheckDenied, codes.Code(c), resp.GetStatus().GetMessage())
	}
	ok := resp.GetOkResponse()
	if ok == nil {
		return errors.New("status OK without an ok_response")
	}
	var keyID, app, owner string
	for _, h := range ok.GetHeaders() {
		switch hv := h.GetHeader(); strings.ToLower(hv.GetKey()) {
		case "x-typeauth-key-id":
			keyID = hv.GetValue()
		case "x-typeauth-app-id":
			app = hv.GetValue()
		case "x-typeauth-owner-id":
			owner = hv.GetValue()
		}
	}
	if keyID != k.id || app != appID || owner != k.owner {
		return fmt.Errorf("OK with x-typeauth-key-id %q, -app-id %q, -owner-id %q: want %q, %q, %q", keyID, app, owner, k.id, appID, k.owner)
	}
	return nil
}

func dialCheck(addr string) (*grpc.ClientConn, authv3.AuthorizationClient, error) {
	cc, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, nil, err
	}
	return cc, authv3.NewAuthorizationClient(cc), nil
}

// precheckGRPC asks a target's Check about a sample of known keys and an
// unknown one before any load: a known key must pass with its identity
// headers, an unknown one must be denied (UNAUTHENTICATED, HTTP 401).
func precheckGRPC(ctx context.Context, addr string, ds *dataset, sample int) error {
	cc, c, err := dialCheck(addr)
	if err != nil {
		return err
	}
	defer cc.Close()
	for _, i := range sampleIndexes(len(ds.keys), sample) {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		resp, err := c.Check(cctx, checkRequest(ds.keys[i].secret), grpc.WaitForReady(true))
		cancel()
		if err != nil {
			return fmt.Errorf("Check, key #%d: %w", i, err)
		}
		if err := checkAnswer(resp, ds.appID, &ds.keys[i]); err != nil {
			return fmt.Errorf("Check, key #%d: %w", i, err)
		}
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := c.Check(cctx, checkRequest(newSecret("bench")))
	switch {
	case err != nil:
		return fmt.Errorf("Check, unknown key: %w", err)
	case resp.GetStatus().GetCode() != int32(codes.Unauthenticated):
		return fmt.Errorf("Check, unknown key: want status UNAUTHENTICATED, got %s", codes.Code(resp.GetStatus().GetCode()))
	case resp.GetDeniedResponse().GetStatus().GetCode() != 401:
		return fmt.Errorf("Check, unknown key: want a denied_response with HTTP 401, got %v", resp.GetDeniedResponse())
	}
	return nil
}

// sampleIndexes is the sample precheck uses: the first and last key and
// sample-2 spread between them (every key when there are fewer).
func sampleIndexes(n, sample int) []int {
	if sample > n {
		sample = n
	}
	idx := []int{0}
	if n > 1 {
		idx = append(idx, n-1)
	}
	for s := 1; s < sample-1; s++ {
		idx = append(idx, s*n/sample)
	}
	return idx
}

// grpcLoad runs the gRPC generator against addr: `streams` callers with one
// Check in flight each, over `conns` connections, for dur; with onePass the
// callers share the keys and stop once every key was checked once.
func grpcLoad(ctx context.Context, addr string, ds *dataset, streams, conns int, dur time.Duration, onePass bool) result {
	res := result{gen: "grpc", conns: streams}
	conns = max(1, min(conns, streams))
	clients := make([]authv3.AuthorizationClient, conns)
	for i := range clients {
		cc, c, err := dialCheck(addr)
		if err != nil {
			res.sockErrs++
			res.firstErr = "dial: " + err.Error()
			return res
		}
		defer cc.Close()
		cc.Connect()
		clients[i] = c
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total hist
	)
	start := time.Now()
	end := start.Add(dur)
	// No call may hang past the end of the run by more than this.
	cctx, cancel := context.WithDeadline(ctx, end.Add(5*time.Second))
	defer cancel()
	n := len(ds.keys)
	for s := 0; s < streams; s++ {
		count := -1
		if onePass {
			if count = (s+1)*n/streams - s*n/streams; count == 0 {
				continue
			}
		}
		wg.Add(1)
		go func(c authv3.AuthorizationClient, offset, count int) {
			defer wg.Done()
			w := &checkWorker{c: c, ds: ds, end: end, next: offset % n, left: count}
			w.run(cctx)
			mu.Lock()
			defer mu.Unlock()
			total.merge(&w.h)
			res.requests += w.h.total
			res.non2xx += w.non2xx
			res.invalid += w.invalid
			res.sockErrs += w.sockErrs
			if res.firstErr == "" {
				res.firstErr = w.firstErr
			}
		}(clients[s%conns], s*n/streams, count)
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.rps = float64(res.requests) / res.elapsed.Seconds()
	res.p50 = total.percentile(50)
	res.p99 = total.percentile(99)
	return res
}

type checkWorker struct {
	c    authv3.AuthorizationClient
	ds   *dataset
	end  time.Time
	next int
	left int

	h                         hist
	non2xx, invalid, sockErrs uint64 // non2xx: non-OK statuses and gRPC errors
	firstErr                  string
}

func (w *checkWorker) fail(format string, args ...any) {
	if w.firstErr == "" {
		w.firstErr = fmt.Sprintf(format, args...)
	}
}

func (w *checkWorker) run(ctx context.Context) {
	req := checkRequest("")
	hdrs := req.Attributes.Request.Http.Headers
	n := len(w.ds.keys)
	for w.left != 0 && time.Now().Before(w.end) && ctx.Err() == nil {
		w.left--
		k := &w.ds.keys[w.next]
		if w.next++; w.next == n {
			w.next = 0
		}
		hdrs["authorization"] = "Bearer " + k.secret
		t0 := time.Now()
		// Fail fast: a server that is gone is an error, not a wait (a
		// connection still being set up at the start is waited for).
		resp, err := w.c.Check(ctx, req)
		if err != nil {
			switch {
			case errors.Is(ctx.Err(), context.Canceled):
				return // Ctrl-C: not an answer
			case ctx.Err() != nil:
				w.sockErrs++
				w.fail("Check: no answer 5 s after the end of the run: %v", err)
				return
			}
			switch status.Code(err) {
			case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled:
				w.sockErrs++
				time.Sleep(10 * time.Millisecond) // no busy loop against a dead server
			default:
				w.non2xx++
			}
			w.fail("Check: %v", err)
			continue
		}
		w.h.record(time.Since(t0))
		if err := checkAnswer(resp, w.ds.appID, k); errors.Is(err, errCheckDenied) {
			w.non2xx++
			w.fail("Check for a known key: %v", err)
		} else if err != nil {
			w.invalid++
			w.fail("Check for a known key: %v", err)
		}
	}
}

// grpcServeArgs are the `typeauth serve` flags for the ext_authz listener:
// a free loopback port for -endpoint check (returned as addr), otherwise
// "off", so that no run binds the default 127.0.0.1:9191 (two harnesses on
// one machine would collide there).
func grpcServeArgs(endpoint string) (args []string, addr string, err error) {
	if !isCheck(endpoint) {
		return []string{"--grpc-addr", "off"}, "", nil
	}
	p, err := freePort()
	if err != nil {
		return nil, "", err
	}
	addr = "127.0.0.1:" + strconv.Itoa(p)
	return []string{"--grpc-addr", addr}, addr, nil
}

// goGen runs the built-in generator of the workload against t: the gRPC
// one for -endpoint check, the HTTP/1.1 one otherwise.
func (b *bench) goGen(ctx context.Context, t *target, dur time.Duration, onePass bool) result {
	if isCheck(b.cfg.endpoint) {
		return grpcLoad(ctx, t.grpc, b.ds, b.cfg.conns, b.cfg.ext.grpcConns, dur, onePass)
	}
	return goLoadN(ctx, strings.TrimPrefix(t.base, "http://"), b.wl, b.cfg.conns, dur, onePass)
}

// precheckTarget checks t's answers before any load (see precheck and
// precheckGRPC) and, with -key-ratelimit, that TypeAuth applies the limit.
func (b *bench) precheckTarget(ctx context.Context, t *target) error {
	var err error
	if isCheck(b.cfg.endpoint) {
		err = precheckGRPC(ctx, t.grpc, b.ds, 32)
	} else {
		err = precheck(ctx, t.base, b.cfg.endpoint, b.ds, 32)
	}
	if err == nil && t.name == "typeauth" && b.cfg.ext.limit != nil {
		err = precheckLimit(ctx, t.base, b.ds, b.cfg.ext.limit)
	}
	return err
}
