package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/typeauth/typeauth/client"
	"github.com/typeauth/typeauth/internal/auth"
	"github.com/typeauth/typeauth/internal/jose"
	"github.com/typeauth/typeauth/internal/manage"
	"github.com/typeauth/typeauth/internal/verify"
	"github.com/typeauth/typeauth/internal/wire"
)

// TokenHTTPOptions configure the token endpoints.
type TokenHTTPOptions struct {
	// JWKSMaxAge is the Cache-Control max-age of the JWKS and discovery
	// documents (default 5m).
	JWKSMaxAge time.Duration
}

// RFC 8693 names.
const (
	grantTokenExchange   = "urn:ietf:params:oauth:grant-type:token-exchange"
	tokenTypeAccessToken = "urn:ietf:params:oauth:token-type:access_token"
	tokenTypeJWT         = "urn:ietf:params:oauth:token-type:jwt"
	// TokenTypeAPIKey is the subject_token_type of a TypeAuth API key.
	tokenTypeAPIKey = "urn:typeauth:params:oauth:token-type:api_key"
)

// handleToken answers POST /v1/tokens: an API key (Authorization: Bearer) is
// exchanged for a short-lived JWT. A root key with the verify scope may
// exchange on behalf of {"key_id"}. The key is verified like a verify
// (disabled, expired, IP, rate limits, one credit). An
// application/x-www-form-urlencoded body is the RFC 8693 token exchange
// (subject_token = the API key).
func (s *Server) handleToken() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ct := r.Header.Get("Content-Type")
		if i := strings.IndexByte(ct, ';'); i >= 0 {
			ct = ct[:i]
		}
		if strings.TrimSpace(ct) == "application/x-www-form-urlencoded" {
			s.tokenExchangeForm(w, r)
			return
		}
		var req client.TokenRequest
		if r.ContentLength != 0 {
			if _, err := decode(w, r, 16<<10, &req); err != nil {
				writeError(w, r, s.log, err)
				return
			}
		}
		cred := bearer(r)
		if cred == "" {
			writeError(w, r, s.log, auth.Errorf(auth.ErrUnauthorized, "missing_credential", "send the API key to exchange as Authorization: Bearer <key>"))
			return
		}
		m := verify.MintRequest{Audience: req.Audience, IP: s.clientIP(r)}
		if req.TTLSeconds < 0 || req.TTLSeconds > 366*24*3600 {
			writeError(w, r, s.log, auth.Errorf(auth.ErrInvalid, "invalid_ttl", "ttl_seconds must be positive"))
			return
		}
		m.TTL = time.Duration(req.TTLSeconds) * time.Second
		if req.KeyID != "" {
			rk, err := s.manage.Authenticate(r.Context(), cred)
			if err != nil {
				writeError(w, r, s.log, err)
				return
			}
			if !rk.Allows(auth.ScopeVerify, "") {
				writeError(w, r, s.log, auth.Errorf(auth.ErrForbidden, "insufficient_scope", "exchanging on behalf of a key_id needs a root key with the verify scope"))
				return
			}
			m.KeyID = req.KeyID
		} else {
			m.Key = cred
		}
		res, err := s.verifier.Mint(r.Context(), &m)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		if res.Token == "" {
			writeDenied(w, r, &res.Decision)
			return
		}
		writeJSON(w, http.StatusOK, client.TokenResponse{AccessToken: res.Token, TokenType: "Bearer",
			ExpiresIn: int64(res.ExpiresIn / time.Second)})
	})
}

// writeDenied answers a refused key with the status its code maps to.
func writeDenied(w http.ResponseWriter, r *http.Request, d *verify.Decision) {
	w.Header().Set("X-TypeAuth-Code", string(d.Code))
	if d.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(int64((d.RetryAfter+time.Second-1)/time.Second), 10))
	}
	detail := "the key was refused: " + string(d.Code)
	if d.Reason != "" {
		detail += " (" + d.Reason + ")"
	}
	writeProblem(w, client.Problem{Status: d.Code.HTTPStatus(), Code: strings.ToLower(string(d.Code)), Detail: detail, Instance: r.URL.Path})
}

// tokenExchangeForm is the RFC 8693 variant; errors follow RFC 6749 5.2.
func (s *Server) tokenExchangeForm(w http.ResponseWriter, r *http.Request) {
	oauthErr := func(status int, code, desc string) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
	}
	r.Body = http.MaxBytesReader(w, r.Body, 32<<10)
	if err := r.ParseForm(); err != nil {
		oauthErr(http.StatusBadRequest, "invalid_request", "the form cannot be read")
		return
	}
	f := r.PostForm
	if f.Get("grant_type") != grantTokenExchange {
		oauthErr(http.StatusBadRequest, "unsupported_grant_type", "grant_type must be "+grantTokenExchange)
		return
	}
	if t := f.Get("subject_token_type"); t != tokenTypeAPIKey && t != tokenTypeAccessToken {
		oauthErr(http.StatusBadRequest, "invalid_request", "subject_token_type must be "+tokenTypeAPIKey)
		return
	}
	if t := f.Get("requested_token_type"); t != "" && t != tokenTypeAccessToken && t != tokenTypeJWT {
		oauthErr(http.StatusBadRequest, "invalid_request", "requested_token_type must be "+tokenTypeAccessToken)
		return
	}
	m := verify.MintRequest{Key: f.Get("subject_token"), Audience: f.Get("audience"), IP: s.clientIP(r)}
	if m.Key == "" {
		oauthErr(http.StatusBadRequest, "invalid_request", "subject_token (the API key) is required")
		return
	}
	if ttl := f.Get("ttl_seconds"); ttl != "" {
		n, err := strconv.ParseInt(ttl, 10, 64)
		if err != nil || n <= 0 {
			oauthErr(http.StatusBadRequest, "invalid_request", "ttl_seconds must be a positive integer")
			return
		}
		m.TTL = time.Duration(n) * time.Second
	}
	res, err := s.verifier.Mint(r.Context(), &m)
	var ae *auth.Error
	switch {
	case errors.As(err, &ae) && ae.Kind == auth.ErrInvalid:
		oauthErr(http.StatusBadRequest, "invalid_target", ae.Message)
		return
	case err != nil:
		writeError(w, r, s.log, err)
		return
	case res.Token == "":
		w.Header().Set("X-TypeAuth-Code", string(res.Decision.Code))
		oauthErr(http.StatusBadRequest, "invalid_grant", "the API key was refused: "+string(res.Decision.Code))
		return
	}
	writeJSON(w, http.StatusOK, client.TokenResponse{AccessToken: res.Token, TokenType: "Bearer",
		ExpiresIn: int64(res.ExpiresIn / time.Second), IssuedTokenType: tokenTypeAccessToken})
}

func (s *Server) jwksMaxAge() string {
	age := s.opt.Tokens.JWKSMaxAge
	if age <= 0 {
		age = 5 * time.Minute
	}
	return "public, max-age=" + strconv.FormatInt(int64(age/time.Second), 10)
}

// handleJWKS serves the public signing keys, next and retired ones included.
func (s *Server) handleJWKS() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/jwk-set+json")
		h.Set("Cache-Control", s.jwksMaxAge())
		_, _ = w.Write(s.verifier.JWKS())
	})
}

// handleDiscovery serves a minimal OpenID Provider configuration.
func (s *Server) handleDiscovery() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		iss := s.verifier.TokenIssuer()
		if iss == "" {
			writeProblemStatus(w, r, http.StatusNotFound, "tokens_disabled", "token issuing is not configured")
			return
		}
		algs := verify.SupportedAlgs()
		doc := client.OpenIDConfiguration{Issuer: iss, JWKSURI: iss + "/.well-known/jwks.json", TokenEndpoint: iss + "/v1/tokens",
			GrantTypesSupported: []string{grantTokenExchange}, TokenEndpointAuthMethodsSupported: []string{"none"},
			IDTokenSigningAlgValuesSupported: algs, AccessTokenSigningAlgs: algs, ResponseTypesSupported: []string{"token"},
			SubjectTypesSupported: []string{"public"}}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", s.jwksMaxAge())
		_ = json.NewEncoder(w).Encode(doc)
	})
}

// ---- management: signing keys ----

func signingKeyOut(k *auth.SigningKey, now time.Time) client.SigningKey {
	return client.SigningKey{KID: k.KID, Alg: k.Alg, State: k.Phase(now), PublicJWK: k.PublicJWK, CreatedAt: k.CreatedAt,
		ActivateAt: k.ActivateAt, RetireAt: k.RetireAt, ExpiresAt: k.ExpiresAt}
}

func (s *Server) listSigningKeys(w http.ResponseWriter, r *http.Request, a manage.Actor) error {
	keys, err := s.manage.ListSigningKeys(r.Context(), a)
	if err != nil {
		return err
	}
	now := time.Now()
	writeJSON(w, http.StatusOK, list(keys, "", func(k *auth.SigningKey) client.SigningKey { return signingKeyOut(k, now) }))
	return nil
}

func (s *Server) rotateSigningKey(w http.ResponseWriter, r *http.Request, a manage.Actor) error {
	var req client.RotateSigningKeyRequest
	if r.ContentLength != 0 {
		if _, err := decode(w, r, 4<<10, &req); err != nil {
			return err
		}
	}
	k, err := s.manage.RotateSigningKey(r.Context(), a, req.Alg, req.Immediate)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, signingKeyOut(k, time.Now()))
	return nil
}

func (s *Server) revokeSigningKey(w http.ResponseWriter, r *http.Request, a manage.Actor) error {
	k, err := s.manage.RevokeSigningKey(r.Context(), a, r.PathValue("kid"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, signingKeyOut(k, time.Now()))
	return nil
}

// ---- management: trusted issuers ----

func (s *Server) issuerOut(i *auth.Issuer) client.Issuer {
	out := client.Issuer{ID: i.ID, Name: i.Name, Issuer: i.Issuer, JWKSURL: i.JWKSURL, DiscoveryURL: i.DiscoveryURL, JWKS: i.JWKS,
		Algorithms: nonNilStrings(i.Algorithms), Audiences: nonNilStrings(i.Audiences), LeewaySeconds: int64(i.Leeway / time.Second),
		RequiredClaims: nonNilStrings(i.RequiredClaims), OwnerClaim: i.OwnerClaim, PermissionsClaim: i.PermissionsClaim,
		CreatedAt: i.CreatedAt, UpdatedAt: i.UpdatedAt}
	if st, remote, ok := s.verifier.IssuerStatus(i.ID); ok && remote {
		ks := &client.IssuerKeySet{Keys: st.Keys, LastError: st.LastError}
		if !st.LastSuccess.IsZero() {
			t := st.LastSuccess.UTC()
			ks.LastSuccess = &t
		}
		if !st.LastAttempt.IsZero() {
			t := st.LastAttempt.UTC()
			ks.LastAttempt = &t
		}
		out.KeySet = ks
	}
	return out
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (s *Server) createIssuer(w http.ResponseWriter, r *http.Request, a manage.Actor) error {
	var req client.CreateIssuerRequest
	body, err := decode(w, r, s.opt.MaxBodyBytes, &req)
	if err != nil {
		return err
	}
	idem, err := idempotency(r, body)
	if err != nil {
		return err
	}
	in := &auth.Issuer{Name: req.Name, Issuer: req.Issuer, JWKSURL: req.JWKSURL, DiscoveryURL: req.DiscoveryURL, JWKS: req.JWKS,
		Algorithms: req.Algorithms, Audiences: req.Audiences, Leeway: jose.DefaultLeeway, RequiredClaims: req.RequiredClaims,
		OwnerClaim: req.OwnerClaim, PermissionsClaim: req.PermissionsClaim}
	if req.LeewaySeconds != nil {
		if *req.LeewaySeconds < 0 || *req.LeewaySeconds > 300 {
			return auth.Errorf(auth.ErrInvalid, "invalid_leeway", "leeway_seconds must be between 0 and 300")
		}
		in.Leeway = time.Duration(*req.LeewaySeconds) * time.Second
	}
	is, err := s.manage.CreateIssuer(r.Context(), a, in, idem)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, s.issuerOut(is))
	return nil
}

func (s *Server) listIssuers(w http.ResponseWriter, r *http.Request, a manage.Actor) error {
	list, err := s.manage.ListIssuers(r.Context(), a)
	if err != nil {
		return err
	}
	out := client.List[client.Issuer]{Data: make([]client.Issuer, len(list))}
	for i, is := range list {
		out.Data[i] = s.issuerOut(is)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getIssuer(w http.ResponseWriter, r *http.Request, a manage.Actor) error {
	is, err := s.manage.GetIssuer(r.Context(), a, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.issuerOut(is))
	return nil
}

func (s *Server) updateIssuer(w http.ResponseWriter, r *http.Request, a manage.Actor) error {
	var req client.UpdateIssuerRequest
	if _, err := decode(w, r, s.opt.MaxBodyBytes, &req); err != nil {
		return err
	}
	if req.LeewaySeconds.Set && !req.LeewaySeconds.Null && (req.LeewaySeconds.Value < 0 || req.LeewaySeconds.Value > 300) {
		return auth.Errorf(auth.ErrInvalid, "invalid_leeway", "leeway_seconds must be between 0 and 300")
	}
	str := func(o client.Optional[string], p *string) {
		if o.Set {
			*p = o.Value // null clears
		}
	}
	list := func(o client.Optional[[]string], p *[]string) {
		if o.Set {
			*p = o.Value
		}
	}
	is, err := s.manage.UpdateIssuer(r.Context(), a, r.PathValue("id"), func(i *auth.Issuer) {
		if req.JWKSURL.Set || req.DiscoveryURL.Set || req.JWKS.Set {
			i.JWKSURL, i.DiscoveryURL, i.JWKS = "", "", nil
		}
		str(req.Name, &i.Name)
		str(req.Issuer, &i.Issuer)
		str(req.JWKSURL, &i.JWKSURL)
		str(req.DiscoveryURL, &i.DiscoveryURL)
		if req.JWKS.Set && !req.JWKS.Null {
			i.JWKS = req.JWKS.Value
		}
		list(req.Algorithms, &i.Algorithms)
		list(req.Audiences, &i.Audiences)
		list(req.RequiredClaims, &i.RequiredClaims)
		if req.LeewaySeconds.Set {
			i.Leeway = jose.DefaultLeeway
			if !req.LeewaySeconds.Null {
				i.Leeway = time.Duration(req.LeewaySeconds.Value) * time.Second
			}
		}
		str(req.OwnerClaim, &i.OwnerClaim)
		str(req.PermissionsClaim, &i.PermissionsClaim)
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.issuerOut(is))
	return nil
}

func (s *Server) deleteIssuer(w http.ResponseWriter, r *http.Request, a manage.Actor) error {
	if err := s.manage.DeleteIssuer(r.Context(), a, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ---- management: revocation and reveal ----

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request, a manage.Actor) error {
	var req client.RevokeTokenRequest
	if _, err := decode(w, r, 32<<10, &req); err != nil {
		return err
	}
	jti, exp := req.JTI, req.ExpiresAt
	if req.Token != "" {
		if jti != "" {
			return auth.Errorf(auth.ErrInvalid, "ambiguous_request", "give jti or token, not both")
		}
		// The token is only read for its jti and exp: revoking a forged
		// token adds a harmless entry.
		t, err := jose.ParseUnverified(req.Token)
		if err != nil || t.Claims.ID == "" {
			return auth.Errorf(auth.ErrInvalid, "invalid_token", "token must be a JWT with a jti")
		}
		jti = t.Claims.ID
		if !t.Claims.ExpiresAt.IsZero() {
			e := t.Claims.ExpiresAt
			exp = &e
		}
	}
	rt, err := s.manage.RevokeToken(r.Context(), a, jti, exp)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, client.RevokedToken{JTI: rt.JTI, ExpiresAt: rt.ExpiresAt})
	return nil
}

func (s *Server) revealKey(w http.ResponseWriter, r *http.Request, a manage.Actor) error {
	ck, err := s.manage.RevealKey(r.Context(), a, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, client.CreatedKey{Key: wire.Key(ck.Key), Secret: ck.Secret})
	return nil
}

// ---- apps: token settings ----

// appTokenPatch converts the token fields of an app create or update.
func appTokenPatch(rec *bool, ttl *int64, auds, meta *[]string) *manage.AppTokenPatch {
	p := &manage.AppTokenPatch{Recoverable: rec, Audiences: auds, MetaClaims: meta}
	if ttl != nil {
		d := time.Duration(*ttl) * time.Second
		if *ttl > 366*24*3600 || *ttl < 0 {
			d = -1
		}
		p.MaxTTL = &d
	}
	return p
}

func withTokens(app client.App, ts *auth.TokenSettings) client.App {
	if ts != nil {
		app.Recoverable, app.MaxTokenTTLSeconds = ts.Recoverable, int64(ts.MaxTTL/time.Second)
		app.TokenAudiences, app.TokenMetaClaims = ts.Audiences, ts.MetaClaims
	}
	return app
}

func optPtr[T any](o client.Optional[T]) (*T, bool) {
	if !o.Set {
		return nil, false
	}
	if o.Null {
		var zero T
		return &zero, true
	}
	v := o.Value
	return &v, true
}

// updateAppTokens applies the token fields of an app update, if any.
// appTokenPatchOf is the token-settings part of an app update, or nil when
// the request changes none of them.
func appTokenPatchOf(req *client.UpdateAppRequest) *manage.AppTokenPatch {
	rec, r1 := optPtr(req.Recoverable)
	ttl, r2 := optPtr(req.MaxTokenTTLSeconds)
	auds, r3 := optPtr(req.TokenAudiences)
	meta, r4 := optPtr(req.TokenMetaClaims)
	if !(r1 || r2 || r3 || r4) {
		return nil
	}
	return appTokenPatch(rec, ttl, auds, meta)
}

// tokenResponse shows a token verify: key_id is the client_id, owner_id the
// subject, permissions the token's scopes, expires_at the token's exp.
func tokenResponse(resp *client.VerifyResponse, d *verify.Decision, t *verify.TokenInfo) {
	vt := &client.VerifyToken{Issuer: t.Issuer, Subject: t.Subject, ClientID: t.ClientID, Audience: t.Audience, JTI: t.ID,
		ExpiresAt: t.ExpiresAt.UTC(), IssuerID: t.IssuerID}
	if !t.IssuedAt.IsZero() {
		iat := t.IssuedAt.UTC()
		vt.IssuedAt = &iat
	}
	resp.Token = vt
	if d.Key == nil && !d.Valid() && t.Own {
		resp.KeyID = t.ClientID
	}
	if t.ClientID != "" {
		resp.KeyID = t.ClientID
	}
	if d.Valid() || d.Key != nil {
		resp.OwnerID = t.Subject
		exp := t.ExpiresAt.UTC()
		resp.ExpiresAt = &exp
		resp.Permissions = d.Permissions
		if d.Key == nil {
			resp.Enabled = true
		}
	}
}
