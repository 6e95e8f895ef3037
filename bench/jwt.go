package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/typeauth/typeauth/client"
)

// JWT workloads (-endpoint jwt-eddsa | jwt-es256): TypeAuth runs with a
// development master key and signing keys of the algorithm; the first
// maxJWTTokens seeded keys are exchanged for tokens (POST /v1/tokens), and
// the load is POST /v1/verify {"token","app_id"} on both targets. The
// baseline gets TypeAuth's JWKS and verifies the same tokens with the
// standard library only (bench/baseline -jwks).

const maxJWTTokens = 1000

func isJWT(endpoint string) bool { return endpoint == "jwt-eddsa" || endpoint == "jwt-es256" }

func jwtAlg(endpoint string) string {
	if endpoint == "jwt-es256" {
		return "ES256"
	}
	return "EdDSA"
}

// jwtServeArgs are the extra `typeauth serve` flags of a JWT workload.
func jwtServeArgs(endpoint string) []string {
	if !isJWT(endpoint) {
		return nil
	}
	return []string{"--dev-master-key", "--signing-key-alg", jwtAlg(endpoint), "--token-max-ttl", "24h"}
}

// exchangeTokens replaces the secrets of the first maxJWTTokens keys by
// tokens exchanged for them, and writes TypeAuth's JWKS into dir.
func (b *bench) exchangeTokens(ctx context.Context, data string) (string, error) {
	n := min(len(b.ds.keys), maxJWTTokens)
	b.logf("exchanging %d keys for %s tokens through POST /v1/tokens", n, jwtAlg(b.cfg.endpoint))
	hc := &http.Client{Timeout: 30 * time.Second}
	keys := b.ds.keys[:n]
	tokens := make([]string, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	work := make(chan int)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				body, _ := json.Marshal(client.TokenRequest{TTLSeconds: 3600})
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, data+"/v1/tokens", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+keys[i].secret)
				resp, err := hc.Do(req)
				if err != nil {
					errs <- err
					continue
				}
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var tr client.TokenResponse
				if resp.StatusCode != 200 || json.Unmarshal(raw, &tr) != nil || tr.AccessToken == "" {
					errs <- fmt.Errorf("POST /v1/tokens: %d %.200s", resp.StatusCode, raw)
					continue
				}
				tokens[i] = tr.AccessToken
			}
		}()
	}
	for i := range keys {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return "", err
	}
	ds := &dataset{appID: b.ds.appID, keys: make([]seedKey, n)}
	for i, k := range keys {
		ds.keys[i] = seedKey{secret: tokens[i], id: k.id, owner: k.owner}
	}
	b.ds = ds
	resp, err := hc.Get(data + "/.well-known/jwks.json")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	jwks, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	path := filepath.Join(b.tmp, "jwks.json")
	return path, os.WriteFile(path, jwks, 0o600)
}
