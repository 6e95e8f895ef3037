// Package gateway turns a request as an API gateway saw it into an answer the
// gateway can act on: allow with identity headers for the upstream, or deny
// with the status to send the client. The forward-auth HTTP door and the
// Envoy ext_authz gRPC door both run through Decide, so they cannot drift.
package gateway

import (
	"context"
	"net/netip"
	"strconv"
	"strings"

	"github.com/typeauth/typeauth/internal/auth"
	"github.com/typeauth/typeauth/internal/verify"
)

// Header names TypeAuth sets upstream. A client can never set them: every
// door removes client-sent X-TypeAuth-* headers before adding its own.
const (
	HeaderKeyID   = "X-TypeAuth-Key-Id"
	HeaderAppID   = "X-TypeAuth-App-Id"
	HeaderOwnerID = "X-TypeAuth-Owner-Id"
	HeaderCode    = "X-TypeAuth-Code"
	HeaderPrefix  = "X-Typeauth-" // canonical form, for prefix checks
)

// Headers reads request headers (http.Header and gRPC header maps adapt).
type Headers interface {
	Get(name string) string
}

// Request is the original request, reconstructed from the gateway's call.
type Request struct {
	Method  string
	Host    string
	Path    string
	Headers Headers
	// AppID narrows which app's keys pass (from X-TypeAuth-App-Id).
	AppID    string
	ClientIP netip.Addr
}

// Decision is what the gateway must do.
type Decision struct {
	Allow  bool
	Status int       // 200 on allow; the mapped status on deny
	Code   auth.Code // the verify outcome
	Detail string
	// Upstream are headers to add to the request sent to the backend.
	Upstream [][2]string
	// Response are headers for the client on a denial (WWW-Authenticate…).
	Response [][2]string
}

// Decider decides gateway requests.
type Decider struct {
	verifier *verify.Verifier
}

// New returns a Decider over a verifier.
func New(v *verify.Verifier) *Decider { return &Decider{verifier: v} }

// Credential finds the client's credential: Authorization: Bearer first,
// then X-API-Key.
func Credential(h Headers) string {
	if a := h.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		return strings.TrimSpace(a[7:])
	}
	return strings.TrimSpace(h.Get("X-API-Key"))
}

// Decide verifies the request's credential. An error means TypeAuth could not
// decide: the door must answer so that the gateway fails closed.
func (d *Decider) Decide(ctx context.Context, r *Request) (Decision, error) {
	cred := Credential(r.Headers)
	if cred == "" {
		return deny(auth.CodeNotFound, "no credential: send Authorization: Bearer <key> or X-API-Key"), nil
	}
	vr := verify.Request{Key: cred, AppID: r.AppID, CreditCost: 1, IP: r.ClientIP}
	vd, err := d.verifier.Verify(ctx, &vr)
	if err != nil {
		return Decision{}, err
	}
	if !vd.Valid() {
		out := deny(vd.Code, vd.Reason)
		return out, nil
	}
	k := vd.Key
	out := Decision{Allow: true, Status: 200, Code: vd.Code}
	out.Upstream = append(out.Upstream, [2]string{HeaderKeyID, k.ID}, [2]string{HeaderAppID, k.AppID})
	if k.OwnerID != "" {
		out.Upstream = append(out.Upstream, [2]string{HeaderOwnerID, k.OwnerID})
	}
	if vd.HasCredits {
		out.Upstream = append(out.Upstream, [2]string{"X-TypeAuth-Credits-Remaining", strconv.FormatInt(vd.Remaining, 10)})
	}
	return out, nil
}

func deny(code auth.Code, detail string) Decision {
	d := Decision{Status: code.HTTPStatus(), Code: code, Detail: detail}
	switch d.Status {
	case 401:
		d.Response = append(d.Response, [2]string{"WWW-Authenticate", `Bearer realm="typeauth", error="invalid_token"`})
	case 429:
		if code == auth.CodeUsageExceeded {
			// Credits come back only with a refill or a top-up: no retry time is known.
			d.Detail = strings.TrimSpace("usage limit reached. " + detail)
		}
	}
	return d
}
