package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/typeauth/typeauth/client"
	"github.com/typeauth/typeauth/internal/auth"
)

const problemBase = "https://typeauth.dev/problems/"

// writeError is the one place where domain errors become HTTP answers.
// Internal failures are logged in full and answered in brief.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var ae *auth.Error
	p := client.Problem{Instance: r.URL.Path}
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		p.Status, p.Code, p.Detail = http.StatusRequestEntityTooLarge, "body_too_large", "the request body is larger than "+strconv.FormatInt(mbe.Limit, 10)+" bytes"
	case errors.As(err, &ae):
		p.Code, p.Detail = ae.Code, ae.Message
		p.Status = statusOf(ae.Kind)
	case errors.Is(err, errBadRequest):
		p.Status, p.Code, p.Detail = http.StatusBadRequest, "invalid_request", err.Error()
	case errors.Is(err, auth.ErrNotFound):
		p.Status, p.Code = http.StatusNotFound, "not_found"
	case errors.Is(err, auth.ErrConflict):
		p.Status, p.Code = http.StatusConflict, "conflict"
	case errors.Is(err, auth.ErrUnavailable):
		p.Status, p.Code, p.Detail = http.StatusServiceUnavailable, "store_unavailable", "the store is unavailable; retry later"
	default:
		p.Status, p.Code, p.Detail = http.StatusInternalServerError, "internal", "an internal error occurred"
	}
	if p.Status >= 500 {
		log.LogAttrs(r.Context(), slog.LevelError, "request failed", slog.String("method", r.Method),
			slog.String("path", r.URL.Path), slog.Int("status", p.Status), slog.String("error", err.Error()))
	}
	if p.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeProblem(w, p)
}

func statusOf(kind error) int {
	switch kind {
	case auth.ErrNotFound:
		return http.StatusNotFound
	case auth.ErrConflict:
		return http.StatusConflict
	case auth.ErrInvalid:
		return http.StatusBadRequest
	case auth.ErrUnauthorized:
		return http.StatusUnauthorized
	case auth.ErrForbidden:
		return http.StatusForbidden
	case auth.ErrUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func writeProblem(w http.ResponseWriter, p client.Problem) {
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	if p.Type == "" {
		p.Type = problemBase + p.Code
	}
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	if p.Status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="typeauth"`)
	}
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

var errBadRequest = errors.New("bad request")

func badRequest(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errBadRequest}, args...)...)
}

// decode reads a bounded body and decodes it strictly into v: exactly one
// JSON value, no unknown fields. It returns the raw body.
func decode(w http.ResponseWriter, r *http.Request, limit int64, v any) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" && !isJSON(ct) {
		return nil, auth.Errorf(auth.ErrInvalid, "unsupported_media_type", "Content-Type must be application/json")
	}
	body, err := readBody(w, r, limit)
	if err != nil {
		return nil, err
	}
	return body, decodeBytes(body, v)
}

func decodeBytes(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return badRequest("the request body is empty: a JSON object is required")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("%s", jsonError(err))
	}
	if dec.More() {
		return badRequest("the body holds more than one JSON value")
	}
	return nil
}

func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit))
	return buf.Bytes(), err
}

func isJSON(ct string) bool {
	for i := 0; i < len(ct); i++ {
		if ct[i] == ';' {
			ct = ct[:i]
			break
		}
	}
	return ct == "application/json" || ct == "application/problem+json"
}

// jsonError says what is wrong with a body without echoing its content.
func jsonError(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return "malformed JSON at byte " + strconv.FormatInt(se.Offset, 10)
	case errors.As(err, &te):
		if te.Field != "" {
			return "field " + te.Field + " must be " + typeName(te.Type.Kind().String())
		}
		return "the body must be a JSON object"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON body ends too early"
	}
	msg := err.Error()
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return msg // e.g. `json: unknown field "x"`
}

func typeName(kind string) string {
	switch kind {
	case "int64", "int", "int32", "uint64":
		return "an integer"
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice":
		return "an array"
	case "struct", "map":
		return "an object"
	}
	return kind
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeProblemStatus(w http.ResponseWriter, r *http.Request, status int, code, detail string) {
	writeProblem(w, client.Problem{Status: status, Code: code, Detail: detail, Instance: r.URL.Path})
}
