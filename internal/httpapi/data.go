package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/typeauth/typeauth/client"
	"github.com/typeauth/typeauth/internal/auth"
	"github.com/typeauth/typeauth/internal/verify"
)

// verifyBufs recycles request body buffers on the hot path.
var verifyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// handleVerify answers POST /v1/verify: 200 with a decision for every
// well-formed request (denials included), 400 for a malformed one, 503 when
// TypeAuth cannot decide (the gateway then fails closed).
func (s *Server) handleVerify() http.Handler {
	limit := s.opt.MaxBodyBytes
	if limit > 64<<10 {
		limit = 64 << 10 // a verify request is small
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ct := r.Header.Get("Content-Type"); ct != "" && !isJSON(ct) {
			writeError(w, r, s.log, auth.Errorf(auth.ErrInvalid, "unsupported_media_type", "Content-Type must be application/json"))
			return
		}
		bp := verifyBufs.Get().(*[]byte)
		defer verifyBufs.Put(bp)
		body, err := readInto((*bp)[:0], w, r, limit)
		*bp = body[:0]
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		var req client.VerifyRequest
		if err := decodeBytes(body, &req); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		vr, err := verifyRequest(&req)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		d, err := s.verifier.Verify(r.Context(), &vr)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		resp := verifyResponse(&d)
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(&resp)
	})
}

func readInto(buf []byte, w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return buf, &http.MaxBytesError{Limit: limit}
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil {
			if errors.Is(err, io.EOF) {
				return buf, nil
			}
			return buf, err
		}
	}
}

// verifyRequest validates a verify request. Features a request asks for that
// this server cannot evaluate are refused, never ignored: ignoring a
// permission query or a rate limit would let a request pass that must not.
func verifyRequest(req *client.VerifyRequest) (verify.Request, error) {
	vr := verify.Request{Key: req.Key, Token: req.Token, AppID: req.AppID, CreditCost: 1, Permissions: req.Permissions}
	switch {
	case req.Key == "" && req.Token == "":
		return vr, auth.Errorf(auth.ErrInvalid, "missing_credential", "key (or token) is required")
	case req.Key != "" && req.Token != "":
		return vr, auth.Errorf(auth.ErrInvalid, "ambiguous_credential", "give key or token, not both")
	case len(req.RateLimits) > 64:
		return vr, auth.Errorf(auth.ErrInvalid, "too_many_ratelimits", "at most 64 rate limits per verify")
	}
	if req.Credits != nil {
		if *req.Credits < 0 {
			return vr, auth.Errorf(auth.ErrInvalid, "invalid_credits", "credits (the cost) must be 0 or more")
		}
		vr.CreditCost = *req.Credits
	}
	if req.IP != "" {
		ip, err := netip.ParseAddr(req.IP)
		if err != nil {
			return vr, auth.Errorf(auth.ErrInvalid, "invalid_ip", "ip must be an IPv4 or IPv6 address")
		}
		vr.IP = ip
	}
	for _, rl := range req.RateLimits {
		u := verify.RateLimitUse{Name: rl.Name}
		if rl.Name == "" || len(rl.Name) > 64 {
			return vr, auth.Errorf(auth.ErrInvalid, "invalid_ratelimit", "ratelimits: each needs a name of 1-64 characters")
		}
		if rl.Cost != nil {
			if *rl.Cost < 0 {
				return vr, auth.Errorf(auth.ErrInvalid, "invalid_ratelimit", "ratelimits: cost must be 0 or more")
			}
			u.Cost, u.CostSet = *rl.Cost, true
		}
		if rl.Limit != nil || rl.DurationMs != nil {
			if rl.Limit == nil || rl.DurationMs == nil || *rl.Limit <= 0 || *rl.DurationMs <= 0 || *rl.DurationMs > int64(366*24*time.Hour/time.Millisecond) {
				return vr, auth.Errorf(auth.ErrInvalid, "invalid_ratelimit", "ratelimits: an override needs both limit and duration_ms, positive")
			}
			u.Limit, u.Duration = *rl.Limit, time.Duration(*rl.DurationMs)*time.Millisecond
		}
		vr.RateLimits = append(vr.RateLimits, u)
	}
	return vr, nil
}

// verifyResponse shows a decision. A key's details are shown only when the
// key was found in the requested app.
func verifyResponse(d *verify.Decision) client.VerifyResponse {
	resp := client.VerifyResponse{Valid: d.Valid(), Code: string(d.Code), Message: d.Reason}
	if k := d.Key; k != nil {
		resp.KeyID, resp.AppID, resp.OwnerID, resp.Name = k.ID, k.AppID, k.OwnerID, k.Name
		resp.Meta, resp.Enabled, resp.ExpiresAt = k.Meta, k.Enabled, k.ExpiresAt
		resp.Permissions, resp.Roles = d.Permissions, k.Roles
		if d.HasCredits {
			resp.Credits = &client.VerifyCredits{Remaining: d.Remaining}
		}
		if id := d.Identity; id != nil {
			resp.Identity = &client.VerifyIdentity{ID: id.ID, ExternalID: id.ExternalID, Meta: id.Meta}
		}
	}
	if len(d.RateLimits) > 0 {
		resp.RateLimits = make([]client.RateLimitState, len(d.RateLimits))
		for i, l := range d.RateLimits {
			resp.RateLimits[i] = client.RateLimitState{Name: l.Name, Limit: l.Limit, Remaining: l.Remaining, ResetAt: l.ResetAt.UTC()}
		}
	}
	if t := d.Token; t != nil {
		tokenResponse(&resp, d, t)
	}
	resp.MissingPermissions = d.Missing
	if d.RetryAfter > 0 {
		resp.RetryAfterMs = max(1, d.RetryAfter.Milliseconds())
	}
	return resp
}

// handleRateLimit answers POST /v1/ratelimit: stand-alone limiting of any
// identifier in a namespace. 200 with success true or false; 503 when the
// limiter cannot decide.
func (s *Server) handleRateLimit() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req client.RateLimitRequest
		if _, err := decode(w, r, 16<<10, &req); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		in := verify.RateLimitRequest{Namespace: req.Namespace, Identifier: req.Identifier, Limit: req.Limit,
			Window: time.Duration(req.DurationMs) * time.Millisecond, Cost: 1}
		if req.Cost != nil {
			in.Cost = *req.Cost
		}
		switch {
		case req.Namespace == "" || len(req.Namespace) > 128:
			writeError(w, r, s.log, auth.Errorf(auth.ErrInvalid, "invalid_namespace", "namespace must be 1-128 characters"))
			return
		case req.Identifier == "" || len(req.Identifier) > 256:
			writeError(w, r, s.log, auth.Errorf(auth.ErrInvalid, "invalid_identifier", "identifier must be 1-256 characters"))
			return
		case req.Limit <= 0 || req.DurationMs <= 0 || req.DurationMs > int64(366*24*time.Hour/time.Millisecond) || in.Cost < 0:
			writeError(w, r, s.log, auth.Errorf(auth.ErrInvalid, "invalid_ratelimit", "limit and duration_ms must be positive (at most a year) and cost 0 or more"))
			return
		}
		res, err := s.verifier.RateLimit(r.Context(), &in)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		out := client.RateLimitResponse{Success: res.Success, Limit: res.Limit, Remaining: res.Remaining, ResetAt: res.ResetAt.UTC(), OverrideID: res.OverrideID}
		if !res.Success {
			out.RetryAfterMs = max(1, res.RetryAfter.Milliseconds())
		}
		writeJSON(w, http.StatusOK, out)
	})
}
