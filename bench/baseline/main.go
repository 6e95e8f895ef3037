// Command baseline is the speed baseline for TypeAuth's data plane: a bare
// net/http server that answers POST /v1/verify and /v1/authorize with the
// least work that could possibly answer them (decode the same JSON, SHA-256
// the key, look it up in a Go map, encode an answer of the same shape). It
// has no store, no limits, no logging: TypeAuth can never beat it, and the
// ratio TypeAuth/baseline says how much of the machine's limit TypeAuth keeps.
// See docs/performance.md and the harness in ../ (go run ./bench).
//
// The keys file (-keys) holds the app id on its first line, then one key per
// line: "secret" or "secret<TAB>key id<TAB>owner id".
package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/typeauth/typeauth/client"
)

// maxBody bounds a verify request body.
const maxBody = 64 << 10

type key struct {
	id, owner string
}

type keyStore struct {
	appID string
	meta  json.RawMessage
	keys  map[[32]byte]key
	jwt   *jwtKeys // -jwks: token verifies (jwt.go)
}

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
}

func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("baseline", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8090", "listen address")
	keysFile := fs.String("keys", "", "keys file: app id on the first line, then `secret[<TAB>key id<TAB>owner id]` per line")
	meta := fs.String("meta", `{"plan":"pro"}`, "meta (a JSON object) answered for every key")
	jwksFile := fs.String("jwks", "", "JWK Set whose keys verify {\"token\"} requests (EdDSA, ES256)")
	grpcAddr := fs.String("grpc-addr", "", "also serve Envoy ext_authz Check (gRPC) on this address (grpc.go)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *keysFile == "" {
		return errors.New("-keys is required")
	}
	if !json.Valid([]byte(*meta)) {
		return errors.New("-meta is not valid JSON")
	}
	ks, err := loadKeys(*keysFile)
	if err != nil {
		return err
	}
	ks.meta = json.RawMessage(*meta)
	if *jwksFile != "" {
		if ks.jwt, err = loadJWKS(*jwksFile); err != nil {
			return fmt.Errorf("-jwks: %w", err)
		}
	}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/verify", ks.verify)
	mux.HandleFunc("/v1/authorize", ks.authorize)
	mux.HandleFunc("/v1/authorize/", ks.authorize)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })

	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 2)
	if *grpcAddr != "" {
		gs, ln, err := listenGRPC(*grpcAddr, ks)
		if err != nil {
			return fmt.Errorf("-grpc-addr: %w", err)
		}
		defer gs.Stop()
		go func() { errc <- gs.Serve(ln) }()
	}
	go func() { errc <- srv.ListenAndServe() }()
	fmt.Fprintf(stderr, "baseline: %d keys, listening on %s\n", len(ks.keys), *addr)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
}

func loadKeys(path string) (*keyStore, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ks := &keyStore{keys: make(map[[32]byte]key)}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if line == 1 {
			ks.appID = text
			continue
		}
		if text == "" {
			continue
		}
		secret, rest, _ := strings.Cut(text, "\t")
		id, owner, _ := strings.Cut(rest, "\t")
		if id == "" {
			id = fmt.Sprintf("key_%d", line-1)
		}
		ks.keys[sha256.Sum256([]byte(secret))] = key{id: id, owner: owner}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if ks.appID == "" || len(ks.keys) == 0 {
		return nil, fmt.Errorf("%s: want the app id on the first line and at least one key", path)
	}
	return ks, nil
}

func (ks *keyStore) verify(w http.ResponseWriter, r *http.Request) {
	var req client.VerifyRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&req); err != nil || (req.Key == "" && req.Token == "") {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(client.Problem{Type: "about:blank", Title: "Bad Request", Status: http.StatusBadRequest, Code: "BAD_REQUEST"})
		return
	}
	resp := client.VerifyResponse{Code: "NOT_FOUND"}
	if req.Token != "" {
		resp = ks.verifyToken(req.Token, req.AppID)
	} else if k, ok := ks.keys[sha256.Sum256([]byte(req.Key))]; ok {
		if req.AppID != "" && req.AppID != ks.appID {
			resp.Code = "FORBIDDEN"
		} else {
			resp = client.VerifyResponse{Valid: true, Code: "VALID", KeyID: k.id, AppID: ks.appID,
				OwnerID: k.owner, Meta: ks.meta, Enabled: true}
		}
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store") // as TypeAuth: an auth answer is not cached
	json.NewEncoder(w).Encode(&resp)
}

func (ks *keyStore) authorize(w http.ResponseWriter, r *http.Request) {
	cred := ""
	if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "Bearer ") {
		cred = h[7:]
	} else {
		cred = r.Header.Get("X-API-Key")
	}
	k, ok := ks.keys[sha256.Sum256([]byte(cred))]
	if cred == "" || !ok {
		w.Header().Set("X-TypeAuth-Code", "NOT_FOUND")
		w.Header().Set("WWW-Authenticate", `Bearer realm="typeauth"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	h := w.Header()
	h.Set("X-TypeAuth-Key-Id", k.id)
	h.Set("X-TypeAuth-App-Id", ks.appID)
	h.Set("X-TypeAuth-Owner-Id", k.owner)
	w.WriteHeader(http.StatusOK)
}
