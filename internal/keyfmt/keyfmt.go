// Package keyfmt generates, checks and hashes API key secrets.
//
// A key is <prefix>_<random><checksum>: random is 28 base62 characters
// (166 bits from crypto/rand), checksum is the CRC-32 (IEEE) of everything
// before it, base62-encoded in 6 characters. A mistyped or truncated key is
// rejected by Check without any store lookup, and secret scanners can
// recognise a key by its shape.
package keyfmt

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"hash/crc32"
	"strings"
)

const (
	alphabet    = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	RandomLen   = 28 // 28 * log2(62) = 166.7 bits
	ChecksumLen = 6  // 62^6 > 2^32
	BodyLen     = RandomLen + ChecksumLen
	MaxPrefix   = 20
	// MaxLen bounds any key this package accepts.
	MaxLen = MaxPrefix + 1 + BodyLen
	// StartLen is how many characters of a key are kept for display.
	startBody = 4
)

// Errors returned by Check. Callers answer MALFORMED for all of them.
var (
	ErrLength   = errors.New("key has the wrong length")
	ErrPrefix   = errors.New("key has no valid prefix")
	ErrAlphabet = errors.New("key has a character outside base62")
	ErrChecksum = errors.New("key checksum does not match")
)

// ValidPrefix reports whether p can prefix keys: 1-20 characters of a-z, 0-9
// and '_', starting with a letter and not ending with '_'.
func ValidPrefix(p string) bool {
	if len(p) == 0 || len(p) > MaxPrefix || p[0] < 'a' || p[0] > 'z' || p[len(p)-1] == '_' {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// Generate returns a new key with the given prefix (which must be valid).
func Generate(prefix string) (string, error) {
	if !ValidPrefix(prefix) {
		return "", ErrPrefix
	}
	b := make([]byte, 0, len(prefix)+1+BodyLen)
	b = append(b, prefix...)
	b = append(b, '_')
	// Rejection sampling keeps every character uniform over base62.
	var buf [64]byte
	for n := 0; n < RandomLen; {
		if _, err := rand.Read(buf[:]); err != nil {
			return "", err
		}
		for _, c := range buf {
			if c < 248 { // 248 = 4*62
				b = append(b, alphabet[c%62])
				if n++; n == RandomLen {
					break
				}
			}
		}
	}
	b = appendChecksum(b, crc32.ChecksumIEEE(b))
	return string(b), nil
}

func appendChecksum(b []byte, sum uint32) []byte {
	var c [ChecksumLen]byte
	v := uint64(sum)
	for i := ChecksumLen - 1; i >= 0; i-- {
		c[i] = alphabet[v%62]
		v /= 62
	}
	return append(b, c[:]...)
}

func digit(c byte) (uint64, bool) {
	switch {
	case c >= '0' && c <= '9':
		return uint64(c - '0'), true
	case c >= 'A' && c <= 'Z':
		return uint64(c-'A') + 10, true
	case c >= 'a' && c <= 'z':
		return uint64(c-'a') + 36, true
	}
	return 0, false
}

// Check validates the shape and checksum of key and returns its prefix.
// It does not allocate.
func Check(key string) (prefix string, err error) {
	if len(key) < 2+BodyLen || len(key) > MaxLen {
		return "", ErrLength
	}
	sep := len(key) - BodyLen - 1
	if key[sep] != '_' {
		return "", ErrPrefix
	}
	prefix = key[:sep]
	if !ValidPrefix(prefix) {
		return "", ErrPrefix
	}
	var sum uint64
	for i := len(key) - BodyLen; i < len(key); i++ {
		d, ok := digit(key[i])
		if !ok {
			return "", ErrAlphabet
		}
		if i >= len(key)-ChecksumLen {
			sum = sum*62 + d
		}
	}
	if sum > 0xFFFFFFFF || uint32(sum) != crcString(key[:len(key)-ChecksumLen]) {
		return "", ErrChecksum
	}
	return prefix, nil
}

// Hash returns the SHA-256 of a secret. Secrets up to 128 bytes hash
// without allocation.
func Hash(secret string) [32]byte {
	var buf [128]byte
	if len(secret) <= len(buf) {
		n := copy(buf[:], secret)
		return sha256.Sum256(buf[:n])
	}
	return sha256.Sum256([]byte(secret))
}

// Start returns the characters of a key that may be shown in listings: the
// prefix, the separator and the first few random characters.
func Start(key string) string {
	i := strings.LastIndexByte(key, '_')
	if i < 0 || len(key) < i+1+startBody {
		if len(key) > 8 {
			return key[:8]
		}
		return ""
	}
	return key[:i+1+startBody]
}

var ieee = crc32.MakeTable(crc32.IEEE)

// crcString is crc32.ChecksumIEEE over a string, without the copy to []byte
// (whose argument escapes to the heap).
func crcString(s string) uint32 {
	crc := ^uint32(0)
	for i := 0; i < len(s); i++ {
		crc = ieee[byte(crc)^s[i]] ^ crc>>8
	}
	return ^crc
}
