// Package jose is TypeAuth's JSON Web Signature core: signing keys, JWK
// Sets, compact-JWS signing and strict verification, remote issuer key sets,
// and AES-256-GCM sealing of private keys under the master key. It uses
// only the standard library so that every byte of a hostile token is
// checked by code we control before any crypto runs.
//
// Algorithms: EdDSA (Ed25519, the default), ES256 (P-256, raw 64-byte r||s)
// and RS256 (PKCS#1 v1.5, SHA-256, modulus ≥ 2048 bits). The key type
// decides the algorithm: a key verifies only its own algorithm, so alg
// confusion (HS256 with an RSA or Ed25519 public key as the secret, RS/ES
// swaps) cannot happen. No symmetric algorithm is implemented.
//
// Verifier.Verify refuses, with the verdict code in brackets:
//
//   - tokens over MaxTokenSize (16 KiB), checked before any parsing:
//     bounded work [MALFORMED];
//   - anything but exactly three '.'-separated segments: JWE (five
//     segments) and the JWS JSON serialization are not accepted where a
//     compact JWS is expected [MALFORMED];
//   - any byte outside the base64url alphabet, including '=', '+', '/',
//     space, tab, CR and LF (Go's decoder skips CR/LF even in strict mode),
//     and non-canonical encodings (non-zero trailing bits, impossible
//     lengths), so each token has exactly one spelling [MALFORMED];
//   - a header or claims set that is not one JSON object, is not UTF-8,
//     has trailing data, repeats a member name at any level (Go's decoder
//     keeps the last one), has a member that is a case variant of a
//     registered name ("ALG", "Exp", "\u212Aid": Go matches struct fields
//     case-insensitively), or nests deeper than 32 [MALFORMED];
//   - crit (no extension is understood), b64 other than true (unencoded
//     payloads), zip and enc (JWE) headers [MALFORMED];
//   - a kid that is not 1..128 bytes of [A-Za-z0-9-_.:+/=@~] or contains
//     "..": a kid is an opaque identifier compared for equality, never a
//     path, URL or query fragment [MALFORMED];
//   - jku, x5u, jwk and x5c headers: keys come only from configured key
//     sets, never from the token and never fetched [INVALID_SIGNATURE];
//   - alg "none" in any spelling, an alg outside the policy's allow list, an
//     alg that does not match the key's type [INVALID_SIGNATURE];
//   - an unknown kid, or no kid with zero or several candidate keys
//     [INVALID_SIGNATURE];
//   - a signature of the wrong length, ECDSA r or s equal to 0 or ≥ n,
//     Ed25519 s ≥ L (non-canonical) or any signature that does not verify
//     [INVALID_SIGNATURE]. High-S ECDSA signatures are valid and accepted:
//     a token string is not an identifier (revocation is by jti);
//   - a typ outside Policy.Types, iss not exactly Policy.Issuer, aud (a
//     string or an array of strings) without an allowed audience, a missing
//     exp or required claim, iss/sub/jti that are not strings, exp/nbf/iat
//     that are not JSON numbers in [0, year 9999], nbf or iat later than
//     now plus leeway [INVALID_CLAIMS];
//   - exp at or before now minus leeway [EXPIRED]. Leeway is 0..300 s,
//     30 s by default.
//
// Verdicts are *Error values carrying a Code whose string matches
// TypeAuth's outcome codes. Any other error from Verify means the verifier
// could not decide (a remote issuer never reached): fail closed.
//
// Keys: RSA keys under 2048 bits are refused when loaded (NewPublicKey,
// ParseJWKS, ParseSigningKeyPKCS8). ParseJWKS bounds size (1 MiB) and key
// count (100), applies the same strict JSON rules, and skips keys it will
// not use (other types, mismatched alg, use other than sig, private
// members, points off the curve, weak RSA).
//
// The package holds no mutable package-level state; clocks, HTTP clients
// and loggers are injected.
package jose
