package httpapi

import (
	"encoding/base64"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/typeauth/typeauth/client"
	"github.com/typeauth/typeauth/internal/auth"
	"github.com/typeauth/typeauth/internal/manage"
	"github.com/typeauth/typeauth/internal/verify"
)

// maxFormBytes bounds the form of the OAuth2 endpoints: a token and a hint.
const maxFormBytes = 16 << 10

// handleIntrospect is RFC 7662 token introspection for gateways that speak
// OAuth2 (Kong, Tyk, APISIX, Oathkeeper). The caller authenticates with a
// verify-scoped root key, as Authorization: Bearer or as the password of
// HTTP Basic. Introspection spends no credits and applies no rate limits: it
// says whether the key is usable, not whether one more request may pass.
func (s *Server) handleIntrospect() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secret := callerSecret(r)
		if secret == "" {
			oauthError(w, http.StatusUnauthorized, "invalid_client", "authenticate with a verify-scoped root key (Bearer or Basic)")
			return
		}
		rk, err := s.manage.Authenticate(r.Context(), secret)
		if errors.Is(err, auth.ErrUnauthorized) || (err == nil && !rk.Allows(auth.ScopeVerify, "")) {
			oauthError(w, http.StatusUnauthorized, "invalid_client", "the root key is unknown, revoked or lacks the verify scope")
			return
		}
		if err != nil {
			s.oauthUnavailable(w, r, err)
			return
		}
		form, ok := readForm(w, r)
		if !ok {
			return
		}
		token := form.Get("token")
		if token == "" {
			oauthError(w, http.StatusBadRequest, "invalid_request", "the token parameter is required")
			return
		}
		d, err := s.verifier.Verify(r.Context(), credRequest(token))
		if err != nil {
			s.oauthUnavailable(w, r, err)
			return
		}
		w.Header().Set("Pragma", "no-cache")
		writeJSON(w, http.StatusOK, introspection(&d))
	})
}

// credRequest is the inspecting verify of a credential of the OAuth2
// endpoints: a JWT (own or of a trusted issuer) as a token, anything else
// as a key. Nothing is spent.
func credRequest(cred string) *verify.Request {
	if verify.LooksLikeJWT(cred) {
		return &verify.Request{Token: cred, Peek: true, CreditCost: 1}
	}
	return &verify.Request{Key: cred, Peek: true, CreditCost: 1}
}

// introspection is the RFC 7662 answer for a decision: active with the
// token's or the key's claims when valid, only active false otherwise.
func introspection(d *verify.Decision) client.TokenIntrospection {
	if !d.Valid() {
		return client.TokenIntrospection{}
	}
	if t := d.Token; t != nil {
		// A JWT: the claims come from the verified token. client_id is the
		// key it was minted from (own tokens) or the token's client_id
		// (or azp) claim (third-party tokens).
		out := client.TokenIntrospection{Introspection: client.Introspection{Active: true, Sub: t.Subject, ClientID: t.ClientID,
			Scope: strings.Join(d.Permissions, " "), Exp: t.ExpiresAt.Unix(), TokenType: "Bearer"},
			Iss: t.Issuer, Jti: t.ID, Aud: t.Audience, IssuerID: t.IssuerID}
		if !t.IssuedAt.IsZero() {
			out.Iat = t.IssuedAt.Unix()
		}
		if k := d.Key; k != nil {
			out.ClientID, out.AppID, out.Username = k.ID, k.AppID, k.Name
		} else if out.ClientID == "" {
			for _, c := range []string{"client_id", "azp"} {
				if v, ok := t.Claims[c].(string); ok && v != "" {
					out.ClientID = v
					break
				}
			}
		}
		return out
	}
	k := d.Key
	out := client.TokenIntrospection{Introspection: client.Introspection{Active: true, Sub: k.OwnerID, ClientID: k.ID,
		Scope: strings.Join(k.Permissions, " "), Iat: k.CreatedAt.Unix(), TokenType: "Bearer", AppID: k.AppID, Username: k.Name}}
	if k.ExpiresAt != nil {
		out.Exp = k.ExpiresAt.Unix()
	}
	return out
}

// handleRevoke is RFC 7009 revocation for a key holder revoking its own key:
// the token in the form is the credential. The answer is 200 whatever the
// token (RFC 7009 §2.2: an invalid token is not an error), so it tells an
// attacker nothing. The key is revoked through the management use case, so
// that it is audited (actor "self:<key id>") and evicted from the cache.
func (s *Server) handleRevoke() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		form, ok := readForm(w, r)
		if !ok {
			return
		}
		token := form.Get("token")
		if token == "" {
			oauthError(w, http.StatusBadRequest, "invalid_request", "the token parameter is required")
			return
		}
		// token_type_hint is ignored (RFC 7009 §2.1 allows it): the shape
		// of the credential says what it is.
		d, err := s.verifier.Verify(r.Context(), credRequest(token))
		if err != nil {
			s.oauthUnavailable(w, r, err)
			return
		}
		switch {
		case d.Token != nil:
			// A JWT whose signature verified: revoke that token (its jti),
			// never the key it was minted from. The actor may only put this
			// one jti on the deny list (audited as "self:<jti or key id>").
			if d.Token.ID == "" || d.Token.ExpiresAt.IsZero() {
				break
			}
			who := d.Token.ID
			if d.Key != nil {
				who = d.Key.ID
			}
			self := manage.Actor{RootKey: &auth.RootKey{ID: "self:" + who, Scopes: []string{auth.ScopeKeysWrite}}, RemoteAddr: remoteHost(r)}
			exp := d.Token.ExpiresAt
			_, err := s.manage.RevokeToken(r.Context(), self, d.Token.ID, &exp)
			if err != nil && !errors.Is(err, auth.ErrInvalid) {
				s.oauthUnavailable(w, r, err)
				return
			}
		case d.Key != nil:
			k := d.Key
			// An actor that can write keys of this key's app only, used for
			// this one key only: the holder of a key may revoke that key.
			self := manage.Actor{RootKey: &auth.RootKey{ID: "self:" + k.ID, Scopes: []string{auth.ScopeKeysWrite + ":" + k.AppID}}, RemoteAddr: remoteHost(r)}
			err := s.manage.RevokeKey(r.Context(), self, k.ID)
			if err != nil && !errors.Is(err, auth.ErrNotFound) {
				s.oauthUnavailable(w, r, err)
				return
			}
		}
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
	})
}

// callerSecret is the root key of an introspection call: Bearer, or the
// password of Basic (the user name is free, e.g. the root key id).
func callerSecret(r *http.Request) string {
	if b := bearer(r); b != "" {
		return b
	}
	h := r.Header.Get("Authorization")
	if len(h) < 6 || !strings.EqualFold(h[:6], "basic ") || len(h) > 2048 {
		return ""
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(h[6:]))
	if err != nil {
		return ""
	}
	_, pass, ok := strings.Cut(string(raw), ":")
	if !ok {
		return ""
	}
	// RFC 6749 §2.3.1: client credentials are form-urlencoded before Basic.
	if p, err := url.QueryUnescape(pass); err == nil {
		pass = p
	}
	return pass
}

// readForm reads a bounded application/x-www-form-urlencoded body.
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "Content-Type must be application/x-www-form-urlencoded")
		return nil, false
	}
	body, err := readBody(w, r, maxFormBytes)
	if err != nil {
		oauthError(w, http.StatusRequestEntityTooLarge, "invalid_request", "the form is too large")
		return nil, false
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "the form cannot be parsed")
		return nil, false
	}
	return form, true
}

// oauthError answers in the RFC 6749 §5.2 error shape, which OAuth2 clients
// (Kong's introspection plugin among them) read.
func oauthError(w http.ResponseWriter, status int, code, desc string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="typeauth", Bearer realm="typeauth"`)
	}
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func (s *Server) oauthUnavailable(w http.ResponseWriter, r *http.Request, err error) {
	s.log.LogAttrs(r.Context(), slog.LevelError, "oauth2 endpoint failed", slog.String("path", r.URL.Path), slog.String("error", err.Error()))
	w.Header().Set("Retry-After", "1")
	oauthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "TypeAuth cannot answer now; retry later")
}
