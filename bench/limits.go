package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/typeauth/typeauth/client"
)

// extConfig holds the flags of the ext_authz workload (grpc.go) and of the
// rate-limited workloads (-key-ratelimit).
type extConfig struct {
	grpcConns int
	rateLimit string            // -key-ratelimit as given
	limit     *client.RateLimit // parsed; nil: keys without limits
}

func registerExtFlags(fs *flag.FlagSet, c *config) {
	fs.IntVar(&c.ext.grpcConns, "grpc-conns", 4, "-endpoint check: HTTP/2 connections the -conns concurrent Check callers share")
	fs.StringVar(&c.ext.rateLimit, "key-ratelimit", "", "give every seeded key one auto_apply limit `LIMIT/DURATION` named \"requests\" (e.g. 1000000000/1s: applied on every request, never denies), so that each verify applies one limit; the baseline stays bare")
}

// validateExt checks the flags of registerExtFlags against the others.
func validateExt(c *config) error {
	if c.ext.grpcConns < 1 || c.ext.grpcConns > 1000 {
		return errors.New("-grpc-conns must be in [1, 1000]")
	}
	if isCheck(c.endpoint) && c.gen == "wrk" {
		return errors.New("-endpoint check speaks gRPC: wrk cannot, use -gen go (or auto)")
	}
	if c.ext.rateLimit == "" {
		return nil
	}
	l, err := parseKeyRateLimit(c.ext.rateLimit)
	if err != nil {
		return fmt.Errorf("-key-ratelimit: %w", err)
	}
	switch {
	case c.onlyBaseline:
		return errors.New("-key-ratelimit is for TypeAuth's keys: not with -only-baseline")
	case c.state != "":
		return errors.New("-key-ratelimit seeds keys with a limit: not with -state (whose keys were seeded without)")
	case isJWT(c.endpoint):
		return errors.New("-key-ratelimit applies to API keys: not with -endpoint jwt-*")
	}
	c.ext.limit = l
	return nil
}

// parseKeyRateLimit parses LIMIT/DURATION ("1000/1s", "100/1m30s"): a
// positive whole LIMIT, and a DURATION (time.ParseDuration) of whole
// milliseconds, from 1ms to a year (TypeAuth's bounds).
func parseKeyRateLimit(s string) (*client.RateLimit, error) {
	ls, ds, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return nil, fmt.Errorf("%q: want LIMIT/DURATION, e.g. 1000000000/1s", s)
	}
	limit, err := strconv.ParseInt(strings.TrimSpace(ls), 10, 64)
	if err != nil || limit < 1 {
		return nil, fmt.Errorf("%q: LIMIT must be a whole number of at least 1", s)
	}
	d, err := time.ParseDuration(strings.TrimSpace(ds))
	switch {
	case err != nil:
		return nil, fmt.Errorf("%q: DURATION: %v", s, err)
	case d < time.Millisecond || d > 366*24*time.Hour || d%time.Millisecond != 0:
		return nil, fmt.Errorf("%q: DURATION must be whole milliseconds, from 1ms to 366 days", s)
	}
	return &client.RateLimit{Name: "requests", Limit: limit, DurationMs: d.Milliseconds(), AutoApply: true}, nil
}

// seedLimits are the limits every seeded key gets.
func (c *config) seedLimits() []client.RateLimit {
	if c.ext.limit == nil {
		return nil
	}
	return []client.RateLimit{*c.ext.limit}
}

// precheckLimit checks, before any load, that a verify on TypeAuth applies
// the seeded limit: the answer is valid and reports the "requests" limit
// with the seeded size (so a run measures one applied limit per verify).
func precheckLimit(ctx context.Context, base string, ds *dataset, l *client.RateLimit) error {
	body, _ := json.Marshal(client.VerifyRequest{Key: ds.keys[0].secret, AppID: ds.appID})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/verify", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	var vr client.VerifyResponse
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &vr) != nil || !vr.Valid {
		return fmt.Errorf("-key-ratelimit: verify of key #0: %s %.300s", resp.Status, b)
	}
	for _, st := range vr.RateLimits {
		if st.Name == l.Name && st.Limit == l.Limit {
			return nil
		}
	}
	return fmt.Errorf("-key-ratelimit: verify of key #0 does not report the limit %q of %d: %.300s", l.Name, l.Limit, b)
}
