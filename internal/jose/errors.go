package jose

import (
	"errors"
	"fmt"
)

// Code is a verification verdict. The string values match TypeAuth's verify
// outcome codes so the caller can map them one to one.
type Code string

// Verdict codes carried by *Error.
const (
	// CodeMalformed: the token cannot be parsed as a compact JWS we accept
	// (size, segments, alphabet, base64url, JSON, duplicate keys, nesting,
	// crit, b64, kid syntax).
	CodeMalformed Code = "MALFORMED"
	// CodeInvalidSignature: the signature does not verify, the kid is unknown,
	// the alg is not allowed or does not match the key, or the header tries to
	// bring its own key (jku, x5u, jwk, x5c).
	CodeInvalidSignature Code = "INVALID_SIGNATURE"
	// CodeInvalidClaims: iss, aud, nbf, iat, typ, required or wrongly typed
	// claims.
	CodeInvalidClaims Code = "INVALID_CLAIMS"
	// CodeExpired: exp is in the past beyond the leeway.
	CodeExpired Code = "EXPIRED"
)

// Error is a verification verdict: the token was examined and refused.
// Reason is a short, fixed description safe to log; it never contains token
// bytes or key material.
//
// An error returned by Verifier.Verify that is not an *Error means the
// verifier could not decide (for example a remote issuer that has never
// been reachable); callers must fail closed on it.
type Error struct {
	Code   Code
	Reason string
}

func (e *Error) Error() string { return fmt.Sprintf("jose: %s: %s", e.Code, e.Reason) }

// CodeOf returns the verdict code carried by err, or "" when err is nil or
// is not a verdict.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func malformed(reason string) *Error { return &Error{Code: CodeMalformed, Reason: reason} }
func badSig(reason string) *Error    { return &Error{Code: CodeInvalidSignature, Reason: reason} }
func badClaims(reason string) *Error { return &Error{Code: CodeInvalidClaims, Reason: reason} }
func expired(reason string) *Error   { return &Error{Code: CodeExpired, Reason: reason} }

// ErrKeyNotFound is returned by a KeyResolver when no key matches the kid and
// algorithm family. Verify maps it to CodeInvalidSignature.
var ErrKeyNotFound = errors.New("jose: no key for kid and algorithm")

// ErrUnavailable is wrapped by a KeyResolver that cannot answer at all (a
// remote issuer never fetched successfully). Verify passes it through as an
// error that is not a verdict.
var ErrUnavailable = errors.New("jose: key set unavailable")
