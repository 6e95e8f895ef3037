package jose

import "encoding/base64"

// isB64URL reports whether every byte of s is in the base64url alphabet
// (RFC 4648 §5) with no padding. Go's decoder silently skips '\r' and '\n'
// even in strict mode, so this check must run before decoding.
func isB64URL(s []byte) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// decodeSegment decodes one unpadded base64url segment canonically: only the
// alphabet, no padding, no whitespace, and zero trailing bits (so each byte
// string has exactly one accepted encoding).
func decodeSegment(s []byte) ([]byte, bool) {
	if !isB64URL(s) || len(s)%4 == 1 {
		return nil, false
	}
	out := make([]byte, base64.RawURLEncoding.DecodedLen(len(s)))
	n, err := base64.RawURLEncoding.Strict().Decode(out, s)
	if err != nil {
		return nil, false
	}
	return out[:n], true
}

func encodeSegment(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
