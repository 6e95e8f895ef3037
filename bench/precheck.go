package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/typeauth/typeauth/client"
)

// errNoAuthorize means the server does not serve /v1/authorize (404).
var errNoAuthorize = errors.New("GET /v1/authorize answers 404: this server does not serve /v1/authorize yet")

// precheck asks a target about a sample of known keys and one unknown key
// before any load, and fails on any wrong answer: a benchmark of wrong
// answers measures nothing.
func precheck(ctx context.Context, base, endpoint string, ds *dataset, sample int) error {
	hc := &http.Client{Timeout: 10 * time.Second}
	n := len(ds.keys)
	if sample > n {
		sample = n
	}
	idx := []int{0, n - 1}
	for s := 1; s < sample-1; s++ {
		idx = append(idx, s*n/sample)
	}
	for _, i := range idx {
		if err := checkOne(ctx, hc, base, endpoint, ds, &ds.keys[i], true); errors.Is(err, errNoAuthorize) {
			return err
		} else if err != nil {
			return fmt.Errorf("key #%d: %w", i, err)
		}
	}
	unknown := seedKey{secret: newSecret("bench")}
	if err := checkOne(ctx, hc, base, endpoint, ds, &unknown, false); err != nil {
		return fmt.Errorf("unknown key: %w", err)
	}
	return nil
}

func checkOne(ctx context.Context, hc *http.Client, base, endpoint string, ds *dataset, k *seedKey, known bool) error {
	var req *http.Request
	var err error
	if endpoint == "authorize" {
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/authorize", nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+k.secret)
	} else {
		vreq := client.VerifyRequest{Key: k.secret, AppID: ds.appID}
		if isJWT(endpoint) {
			vreq.Key, vreq.Token = "", k.secret
		}
		body, _ := json.Marshal(vreq)
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/verify", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if endpoint == "authorize" {
		switch {
		case resp.StatusCode == http.StatusNotFound:
			return errNoAuthorize
		case !known && resp.StatusCode != http.StatusUnauthorized:
			return fmt.Errorf("authorize: want 401, got %s: %.200s", resp.Status, b)
		case !known:
			return nil
		case resp.StatusCode != http.StatusOK:
			return fmt.Errorf("authorize: want 200, got %s: %.200s", resp.Status, b)
		case len(b) != 0:
			return fmt.Errorf("authorize: want an empty body, got %d bytes: %.200s", len(b), b)
		case resp.Header.Get("X-TypeAuth-Key-Id") != k.id || resp.Header.Get("X-TypeAuth-App-Id") != ds.appID:
			return fmt.Errorf("authorize: X-TypeAuth-Key-Id %q, X-TypeAuth-App-Id %q: want %q, %q",
				resp.Header.Get("X-TypeAuth-Key-Id"), resp.Header.Get("X-TypeAuth-App-Id"), k.id, ds.appID)
		}
		return nil
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("verify: want 200, got %s: %.200s", resp.Status, b)
	}
	var vr client.VerifyResponse
	if err := json.Unmarshal(b, &vr); err != nil {
		return fmt.Errorf("verify: decoding %.200s: %v", b, err)
	}
	if !known {
		if vr.Valid {
			return fmt.Errorf("verify: an unknown key answers valid: %.200s", b)
		}
		return nil
	}
	var meta map[string]any
	json.Unmarshal(vr.Meta, &meta)
	switch {
	case !vr.Valid || vr.Code != "VALID":
		return fmt.Errorf("verify: a known key answers %.300s", b)
	case vr.KeyID != k.id || vr.AppID != ds.appID || vr.OwnerID != k.owner:
		return fmt.Errorf("verify: key_id %q app_id %q owner_id %q: want %q %q %q", vr.KeyID, vr.AppID, vr.OwnerID, k.id, ds.appID, k.owner)
	case meta["plan"] != "pro":
		return fmt.Errorf("verify: meta %s: want {\"plan\":\"pro\"}", vr.Meta)
	}
	return nil
}
