package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"sync"

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
	vr := verify.Request{Key: req.Key, AppID: req.AppID, CreditCost: 1}
	switch {
	case req.Key == "" && req.Token == "":
		return vr, auth.Errorf(auth.ErrInvalid, "missing_credential", "key (or token) is required")
	case req.Key != "" && req.Token != "":
		return vr, auth.Errorf(auth.ErrInvalid, "ambiguous_credential", "give key or token, not both")
	case req.Token != "":
		return vr, auth.Errorf(auth.ErrInvalid, "unsupported", "token verification is not available in this version")
	case req.Permissions != "":
		return vr, auth.Errorf(auth.ErrInvalid, "unsupported", "permission queries are not available in this version")
	case len(req.RateLimits) > 0:
		return vr, auth.Errorf(auth.ErrInvalid, "unsupported", "rate limits are not available in this version")
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
	return vr, nil
}

// verifyResponse shows a decision. A key's details are shown only when the
// key was found in the requested app.
func verifyResponse(d *verify.Decision) client.VerifyResponse {
	resp := client.VerifyResponse{Valid: d.Valid(), Code: string(d.Code), Message: d.Reason}
	if k := d.Key; k != nil {
		resp.KeyID, resp.AppID, resp.OwnerID, resp.Name = k.ID, k.AppID, k.OwnerID, k.Name
		resp.Meta, resp.Enabled, resp.ExpiresAt = k.Meta, k.Enabled, k.ExpiresAt
		resp.Permissions, resp.Roles = k.Permissions, k.Roles
		if d.HasCredits {
			resp.Credits = &client.VerifyCredits{Remaining: d.Remaining}
		}
	}
	return resp
}
