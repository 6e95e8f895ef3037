// Package client is the Go SDK for TypeAuth: a client for the management API
// (apps, keys, root keys, audit log) and for the data plane (verify).
//
// The management plane and the data plane are separate listeners; a Client
// holds both URLs. Every non-2xx answer is returned as an *Error decoded from
// the RFC 9457 problem body:
//
//	c := client.New("http://127.0.0.1:8081", client.WithRootKey(os.Getenv("TYPEAUTH_ROOT_KEY")))
//	app, err := c.CreateApp(ctx, client.CreateAppRequest{Name: "Acme API", KeyPrefix: "acme"})
//	if client.IsConflict(err) { … }
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// MaxResponseBytes bounds how much of a response body the client reads.
const MaxResponseBytes = 4 << 20

// DefaultUserAgent is sent when no WithUserAgent option is given.
const DefaultUserAgent = "typeauth-go"

// Client calls one TypeAuth deployment. It is safe for concurrent use.
type Client struct {
	adminURL  string
	dataURL   string
	rootKey   string
	http      *http.Client
	userAgent string
}

// Option configures a Client.
type Option func(*Client)

// WithRootKey sets the root key sent as `Authorization: Bearer` to the
// management plane. It is never sent to the data plane and never appears in
// an error.
func WithRootKey(key string) Option { return func(c *Client) { c.rootKey = key } }

// WithHTTPClient sets the *http.Client used for every call (default: a client
// with no timeout; bound calls with the context).
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.http = hc
		}
	}
}

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// WithDataURL sets the data-plane base URL (where POST /v1/verify is served).
// Without it the data URL is derived from the admin URL: the same URL with
// port 8080 when the admin port is 8081, otherwise the admin URL itself.
func WithDataURL(u string) Option { return func(c *Client) { c.dataURL = trimBase(u) } }

// New returns a Client for the management plane at adminURL
// (e.g. "http://127.0.0.1:8081").
func New(adminURL string, opts ...Option) *Client {
	c := &Client{
		adminURL:  trimBase(adminURL),
		http:      &http.Client{},
		userAgent: DefaultUserAgent,
	}
	for _, o := range opts {
		o(c)
	}
	if c.dataURL == "" {
		c.dataURL = DeriveDataURL(c.adminURL)
	}
	return c
}

// AdminURL returns the management-plane base URL.
func (c *Client) AdminURL() string { return c.adminURL }

// DataURL returns the data-plane base URL.
func (c *Client) DataURL() string { return c.dataURL }

// DeriveDataURL returns the default data-plane URL for an admin URL: the same
// URL with port 8080 if its port is 8081, otherwise adminURL unchanged.
func DeriveDataURL(adminURL string) string {
	adminURL = trimBase(adminURL)
	u, err := url.Parse(adminURL)
	if err != nil || u.Port() != "8081" {
		return adminURL
	}
	u.Host = net.JoinHostPort(u.Hostname(), "8080")
	return u.String()
}

func trimBase(u string) string { return strings.TrimRight(strings.TrimSpace(u), "/") }

// CallOption configures a single call.
type CallOption func(*callConfig)

type callConfig struct {
	header http.Header
	raw    *json.RawMessage
}

// WithIdempotencyKey sets the Idempotency-Key header: a retried create with
// the same key returns the first result instead of creating twice.
func WithIdempotencyKey(k string) CallOption { return WithHeader("Idempotency-Key", k) }

// WithHeader adds a request header to one call.
func WithHeader(name, value string) CallOption {
	return func(cc *callConfig) {
		if cc.header == nil {
			cc.header = http.Header{}
		}
		cc.header.Add(name, value)
	}
}

// WithRawResponse stores the raw JSON body of a successful answer in dst (for
// callers that print or forward the server's JSON as is).
func WithRawResponse(dst *json.RawMessage) CallOption {
	return func(cc *callConfig) { cc.raw = dst }
}

// ListOptions selects one page of a listing. A zero Limit uses the server's default.
type ListOptions struct {
	Cursor string
	Limit  int
}

func (o ListOptions) values() url.Values {
	v := url.Values{}
	if o.Cursor != "" {
		v.Set("cursor", o.Cursor)
	}
	if o.Limit > 0 {
		v.Set("limit", strconv.Itoa(o.Limit))
	}
	return v
}

// KeyListOptions selects one page of keys, by app and/or owner.
type KeyListOptions struct {
	AppID   string
	OwnerID string
	Cursor  string
	Limit   int
}

func (o KeyListOptions) values() url.Values {
	v := ListOptions{Cursor: o.Cursor, Limit: o.Limit}.values()
	if o.AppID != "" {
		v.Set("app_id", o.AppID)
	}
	if o.OwnerID != "" {
		v.Set("owner_id", o.OwnerID)
	}
	return v
}

// --- apps

// CreateApp creates an app (POST /v1/apps). A taken key prefix is a 409 *Error.
func (c *Client) CreateApp(ctx context.Context, req CreateAppRequest, opts ...CallOption) (*App, error) {
	return call[App](ctx, c, http.MethodPost, admin, "/v1/apps", nil, req, opts)
}

// GetApp returns one app; a 404 *Error if it does not exist.
func (c *Client) GetApp(ctx context.Context, id string, opts ...CallOption) (*App, error) {
	p, err := idPath("/v1/apps/", id)
	if err != nil {
		return nil, err
	}
	return call[App](ctx, c, http.MethodGet, admin, p, nil, nil, opts)
}

// ListApps returns one page of apps.
func (c *Client) ListApps(ctx context.Context, o ListOptions, opts ...CallOption) (*List[App], error) {
	return call[List[App]](ctx, c, http.MethodGet, admin, "/v1/apps", o.values(), nil, opts)
}

// AllApps iterates over every app, following cursors from o.
func (c *Client) AllApps(ctx context.Context, o ListOptions) iter.Seq2[App, error] {
	return paginate(o.Cursor, func(cursor string) (*List[App], error) {
		o.Cursor = cursor
		return c.ListApps(ctx, o)
	})
}

// UpdateApp changes the fields req sets (PATCH /v1/apps/{id}).
func (c *Client) UpdateApp(ctx context.Context, id string, req UpdateAppRequest, opts ...CallOption) (*App, error) {
	p, err := idPath("/v1/apps/", id)
	if err != nil {
		return nil, err
	}
	return call[App](ctx, c, http.MethodPatch, admin, p, nil, req, opts)
}

// DeleteApp deletes an app (DELETE /v1/apps/{id}).
func (c *Client) DeleteApp(ctx context.Context, id string, opts ...CallOption) error {
	p, err := idPath("/v1/apps/", id)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, admin, p, nil, nil, nil, opts)
}

// --- keys

// CreateKey creates a key (POST /v1/keys). The returned Secret is shown only
// here. Pass WithIdempotencyKey to make a retry safe.
func (c *Client) CreateKey(ctx context.Context, req CreateKeyRequest, opts ...CallOption) (*CreatedKey, error) {
	return call[CreatedKey](ctx, c, http.MethodPost, admin, "/v1/keys", nil, req, opts)
}

// GetKey returns one key (without its secret); a 404 *Error if it does not exist.
func (c *Client) GetKey(ctx context.Context, id string, opts ...CallOption) (*Key, error) {
	p, err := idPath("/v1/keys/", id)
	if err != nil {
		return nil, err
	}
	return call[Key](ctx, c, http.MethodGet, admin, p, nil, nil, opts)
}

// ListKeys returns one page of keys of an app and/or an owner.
func (c *Client) ListKeys(ctx context.Context, o KeyListOptions, opts ...CallOption) (*List[Key], error) {
	return call[List[Key]](ctx, c, http.MethodGet, admin, "/v1/keys", o.values(), nil, opts)
}

// AllKeys iterates over every key matching o, following cursors.
func (c *Client) AllKeys(ctx context.Context, o KeyListOptions) iter.Seq2[Key, error] {
	return paginate(o.Cursor, func(cursor string) (*List[Key], error) {
		o.Cursor = cursor
		return c.ListKeys(ctx, o)
	})
}

// UpdateKey changes the fields req sets; a Null field is cleared.
func (c *Client) UpdateKey(ctx context.Context, id string, req UpdateKeyRequest, opts ...CallOption) (*Key, error) {
	p, err := idPath("/v1/keys/", id)
	if err != nil {
		return nil, err
	}
	return call[Key](ctx, c, http.MethodPatch, admin, p, nil, req, opts)
}

// RollKey gives a key a new secret with the same settings; the old secret
// keeps working for req.GracePeriodMs.
func (c *Client) RollKey(ctx context.Context, id string, req RollKeyRequest, opts ...CallOption) (*CreatedKey, error) {
	p, err := idPath("/v1/keys/", id)
	if err != nil {
		return nil, err
	}
	return call[CreatedKey](ctx, c, http.MethodPost, admin, p+"/roll", nil, req, opts)
}

// RevokeKey deletes a key (DELETE /v1/keys/{id}); it stops verifying at once.
func (c *Client) RevokeKey(ctx context.Context, id string, opts ...CallOption) error {
	p, err := idPath("/v1/keys/", id)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, admin, p, nil, nil, nil, opts)
}

// Credits sets, increments or decrements a key's remaining credits.
func (c *Client) Credits(ctx context.Context, id string, req CreditsRequest, opts ...CallOption) (*CreditsResponse, error) {
	p, err := idPath("/v1/keys/", id)
	if err != nil {
		return nil, err
	}
	return call[CreditsResponse](ctx, c, http.MethodPost, admin, p+"/credits", nil, req, opts)
}

// --- root keys

// CreateRootKey creates a root key; the returned Secret is shown only here.
func (c *Client) CreateRootKey(ctx context.Context, req CreateRootKeyRequest, opts ...CallOption) (*CreatedRootKey, error) {
	return call[CreatedRootKey](ctx, c, http.MethodPost, admin, "/v1/rootkeys", nil, req, opts)
}

// ListRootKeys returns one page of root keys (never their secrets).
func (c *Client) ListRootKeys(ctx context.Context, o ListOptions, opts ...CallOption) (*List[RootKey], error) {
	return call[List[RootKey]](ctx, c, http.MethodGet, admin, "/v1/rootkeys", o.values(), nil, opts)
}

// RevokeRootKey revokes a root key (DELETE /v1/rootkeys/{id}).
func (c *Client) RevokeRootKey(ctx context.Context, id string, opts ...CallOption) error {
	p, err := idPath("/v1/rootkeys/", id)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, admin, p, nil, nil, nil, opts)
}

// --- audit

// ListAudit returns one page of the audit log.
func (c *Client) ListAudit(ctx context.Context, o ListOptions, opts ...CallOption) (*List[AuditEntry], error) {
	return call[List[AuditEntry]](ctx, c, http.MethodGet, admin, "/v1/audit", o.values(), nil, opts)
}

// AllAudit iterates over the audit log, following cursors from o.
func (c *Client) AllAudit(ctx context.Context, o ListOptions) iter.Seq2[AuditEntry, error] {
	return paginate(o.Cursor, func(cursor string) (*List[AuditEntry], error) {
		o.Cursor = cursor
		return c.ListAudit(ctx, o)
	})
}

// VerifyAudit checks the audit hash chain. A broken chain is a result with
// OK false, not an error.
func (c *Client) VerifyAudit(ctx context.Context, opts ...CallOption) (*AuditVerifyResult, error) {
	return call[AuditVerifyResult](ctx, c, http.MethodPost, admin, "/v1/audit/verify", nil, nil, opts)
}

// --- data plane

// Verify asks the data plane whether a credential passes (POST /v1/verify).
// A denial is a response with Valid false and a Code, not an error; an error
// means TypeAuth could not decide (callers must fail closed).
func (c *Client) Verify(ctx context.Context, req VerifyRequest, opts ...CallOption) (*VerifyResponse, error) {
	return call[VerifyResponse](ctx, c, http.MethodPost, data, "/v1/verify", nil, req, opts)
}

// Do calls any management-plane route not wrapped by a method: it sends in
// (if not nil) as JSON and decodes a 2xx answer into out (if not nil).
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, in, out any, opts ...CallOption) error {
	return c.do(ctx, method, admin, path, query, in, out, opts)
}

// --- plumbing

// plane says which listener a call goes to. Only the management plane gets
// the root key.
type plane int

const (
	admin plane = iota
	data
)

func call[T any](ctx context.Context, c *Client, method string, pl plane, path string, q url.Values, in any, opts []CallOption) (*T, error) {
	out := new(T)
	if err := c.do(ctx, method, pl, path, q, in, out, opts); err != nil {
		return nil, err
	}
	return out, nil
}

func idPath(prefix, id string) (string, error) {
	if id == "" {
		return "", errors.New("typeauth: empty id")
	}
	return prefix + url.PathEscape(id), nil
}

func paginate[T any](cursor string, page func(cursor string) (*List[T], error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for {
			l, err := page(cursor)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, v := range l.Data {
				if !yield(v, nil) {
					return
				}
			}
			if l.NextCursor == "" || l.NextCursor == cursor {
				return
			}
			cursor = l.NextCursor
		}
	}
}

func (c *Client) do(ctx context.Context, method string, pl plane, path string, q url.Values, in, out any, opts []CallOption) error {
	var cc callConfig
	for _, o := range opts {
		o(&cc)
	}
	u := c.adminURL + path
	if pl == data {
		u = c.dataURL + path
	}
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("typeauth: encode %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return fmt.Errorf("typeauth: %s %s: %w", method, path, err)
	}
	for k, vs := range cc.header {
		req.Header[k] = vs
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json, application/problem+json")
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	if pl == admin && c.rootKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.rootKey)
	}

	resp, err := c.http.Do(req)
	if err != nil {
		// *url.Error repeats method and URL: keep its cause only.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return c.redactErr(fmt.Errorf("typeauth: %s %s: %w", method, req.URL.Redacted(), err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return c.redactErr(fmt.Errorf("typeauth: %s %s: read response: %w", method, path, err))
	}
	if len(b) > MaxResponseBytes {
		return fmt.Errorf("typeauth: %s %s: response body exceeds %d bytes", method, path, MaxResponseBytes)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return c.problemError(resp, b)
	}
	if cc.raw != nil {
		*cc.raw = json.RawMessage(b)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return fmt.Errorf("typeauth: %s %s: empty response body (status %d)", method, path, resp.StatusCode)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("typeauth: %s %s: decode response: %w", method, path, err)
	}
	return nil
}

// redactErr makes sure the root key never reaches an error string, whatever
// a transport or server put in it.
func (c *Client) redactErr(err error) error {
	if c.rootKey == "" || !strings.Contains(err.Error(), c.rootKey) {
		return err
	}
	return errors.New(c.redact(err.Error()))
}

func (c *Client) redact(s string) string {
	if c.rootKey == "" {
		return s
	}
	return strings.ReplaceAll(s, c.rootKey, "[REDACTED]")
}

func (c *Client) problemError(resp *http.Response, b []byte) error {
	e := &Error{Status: resp.StatusCode}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	var p Problem
	if (mt == "application/problem+json" || mt == "application/json" || mt == "") &&
		json.Unmarshal(b, &p) == nil {
		e.Type, e.Title, e.Detail, e.Instance, e.Code = p.Type, p.Title, p.Detail, p.Instance, p.Code
		e.FieldErrors = p.Errors
		if p.Status != 0 {
			e.Status = p.Status
		}
	} else if mt == "text/plain" {
		// A proxy in front of TypeAuth may answer in plain text: keep its first line.
		line, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
		if len(line) > 200 {
			line = line[:200]
		}
		e.Detail = strings.ToValidUTF8(line, "")
	}
	if e.Title == "" {
		e.Title = http.StatusText(resp.StatusCode)
		if e.Title == "" {
			e.Title = "HTTP " + strconv.Itoa(resp.StatusCode)
		}
	}
	e.Title, e.Detail, e.Instance = c.redact(e.Title), c.redact(e.Detail), c.redact(e.Instance)
	for i := range e.FieldErrors {
		e.FieldErrors[i].Message = c.redact(e.FieldErrors[i].Message)
	}
	return e
}

// Error is a non-2xx answer, decoded from its RFC 9457 problem body.
type Error struct {
	Status      int    // HTTP status
	Code        string // stable machine code, e.g. "key_prefix_taken"
	Title       string
	Detail      string
	Type        string
	Instance    string
	FieldErrors []FieldError
}

func (e *Error) Error() string {
	var sb strings.Builder
	sb.WriteString("typeauth: ")
	sb.WriteString(e.Title)
	if e.Detail != "" {
		sb.WriteString(": ")
		sb.WriteString(e.Detail)
	}
	sb.WriteString(" (")
	if e.Code != "" {
		sb.WriteString(e.Code)
		sb.WriteString(", ")
	}
	sb.WriteString("status ")
	sb.WriteString(strconv.Itoa(e.Status))
	sb.WriteString(")")
	for _, fe := range e.FieldErrors {
		sb.WriteString("; ")
		sb.WriteString(fe.Field)
		sb.WriteString(": ")
		sb.WriteString(fe.Message)
	}
	return sb.String()
}

// AsError returns the *Error in err's chain, if any.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

func hasStatus(err error, statuses ...int) bool {
	e, ok := AsError(err)
	if !ok {
		return false
	}
	for _, s := range statuses {
		if e.Status == s {
			return true
		}
	}
	return false
}

// IsNotFound reports whether err is a 404 answer.
func IsNotFound(err error) bool { return hasStatus(err, http.StatusNotFound) }

// IsUnauthorized reports whether err is a 401 answer (missing or bad root key).
func IsUnauthorized(err error) bool { return hasStatus(err, http.StatusUnauthorized) }

// IsForbidden reports whether err is a 403 answer (root key lacks a scope).
func IsForbidden(err error) bool { return hasStatus(err, http.StatusForbidden) }

// IsConflict reports whether err is a 409 answer.
func IsConflict(err error) bool { return hasStatus(err, http.StatusConflict) }

// IsInvalid reports whether err is a 400 or 422 answer (a rejected request).
func IsInvalid(err error) bool {
	return hasStatus(err, http.StatusBadRequest, http.StatusUnprocessableEntity)
}

// IsRateLimited reports whether err is a 429 answer.
func IsRateLimited(err error) bool { return hasStatus(err, http.StatusTooManyRequests) }
