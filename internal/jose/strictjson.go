package jose

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"unicode/utf8"
)

// maxJSONDepth bounds nesting of objects and arrays in headers, claims and
// JWKs. The top-level object is depth 1.
const maxJSONDepth = 32

var (
	errNotObject    = errors.New("not a JSON object")
	errDuplicateKey = errors.New("duplicate JSON member")
	errCaseVariant  = errors.New("case variant of a registered member name")
	errTooDeep      = errors.New("JSON nested too deeply")
	errBadUTF8      = errors.New("JSON is not valid UTF-8")
	errTrailing     = errors.New("data after the JSON object")
	errSyntax       = errors.New("invalid JSON")
)

// decodeStrictObject decodes data, which must be exactly one JSON object
// (RFC 8259), into maps, slices, strings, json.Number, bools and nils, so that:
//   - a member name appearing twice in any object is an error (encoding/json
//     silently keeps the last one); names are compared after unescaping;
//   - a top-level member whose name case-folds to one of registered but is
//     not spelled exactly like it ("ALG", "Exp", "\u212Aid") is an error
//     (encoding/json matches struct fields case-insensitively);
//   - nesting deeper than maxDepth is an error, checked before descending;
//   - invalid UTF-8 is an error (encoding/json would substitute U+FFFD).
//
// It is a small single-pass scanner rather than encoding/json's
// Decoder.Token loop because it runs on every token verification and
// Decoder.Token costs about a third of an Ed25519 verification. The tests
// keep a Decoder.Token implementation of the same rules as a reference,
// and FuzzStrictJSON checks that both accept the same inputs with the same
// results, and that whatever is accepted encoding/json accepts too.
func decodeStrictObject(data []byte, registered []string, maxDepth int) (map[string]any, error) {
	if !utf8.Valid(data) {
		return nil, errBadUTF8
	}
	s := &scanner{data: data, maxDepth: maxDepth}
	s.ws()
	if s.peek() != '{' {
		return nil, errNotObject
	}
	m, err := s.object(1, registered)
	if err != nil {
		return nil, err
	}
	s.ws()
	if s.i != len(s.data) {
		return nil, errTrailing
	}
	return m, nil
}

type scanner struct {
	data     []byte
	i        int
	maxDepth int
}

func (s *scanner) peek() byte {
	if s.i < len(s.data) {
		return s.data[s.i]
	}
	return 0
}

func (s *scanner) ws() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// object parses from '{' through '}'; depth is the object's own depth.
func (s *scanner) object(depth int, registered []string) (map[string]any, error) {
	if depth > s.maxDepth {
		return nil, errTooDeep
	}
	s.i++ // '{'
	m := make(map[string]any, 8)
	s.ws()
	if s.peek() == '}' {
		s.i++
		return m, nil
	}
	for {
		s.ws()
		if s.peek() != '"' {
			return nil, errSyntax
		}
		name, err := s.str()
		if err != nil {
			return nil, err
		}
		if _, dup := m[name]; dup {
			return nil, errDuplicateKey
		}
		for _, r := range registered {
			if len(name) >= len(r) && name != r && strings.EqualFold(name, r) {
				return nil, errCaseVariant
			}
		}
		s.ws()
		if s.peek() != ':' {
			return nil, errSyntax
		}
		s.i++
		v, err := s.value(depth)
		if err != nil {
			return nil, err
		}
		m[name] = v
		s.ws()
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return m, nil
		default:
			return nil, errSyntax
		}
	}
}

// array parses from '[' through ']'; depth is the array's own depth.
func (s *scanner) array(depth int) ([]any, error) {
	if depth > s.maxDepth {
		return nil, errTooDeep
	}
	s.i++ // '['
	arr := []any{}
	s.ws()
	if s.peek() == ']' {
		s.i++
		return arr, nil
	}
	for {
		v, err := s.value(depth)
		if err != nil {
			return nil, err
		}
		arr = append(arr, v)
		s.ws()
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return arr, nil
		default:
			return nil, errSyntax
		}
	}
}

// value parses one value inside a container at depth.
func (s *scanner) value(depth int) (any, error) {
	s.ws()
	switch c := s.peek(); {
	case c == '{':
		return s.object(depth+1, nil)
	case c == '[':
		return s.array(depth + 1)
	case c == '"':
		return s.str()
	case c == '-' || ('0' <= c && c <= '9'):
		return s.number()
	case s.lit("true"):
		return true, nil
	case s.lit("false"):
		return false, nil
	case s.lit("null"):
		return nil, nil
	default:
		return nil, errSyntax
	}
}

func (s *scanner) lit(word string) bool {
	if bytes.HasPrefix(s.data[s.i:], []byte(word)) {
		s.i += len(word)
		return true
	}
	return false
}

// str parses a string starting at '"'. Strings without escapes are sliced
// directly; strings with escapes are unquoted by encoding/json itself so
// escape handling (\uXXXX, surrogate pairs) is exactly the standard one.
func (s *scanner) str() (string, error) {
	start := s.i
	s.i++ // opening quote
	escaped := false
	for s.i < len(s.data) {
		c := s.data[s.i]
		switch {
		case c == '"':
			s.i++
			if !escaped {
				return string(s.data[start+1 : s.i-1]), nil
			}
			var out string
			if err := json.Unmarshal(s.data[start:s.i], &out); err != nil {
				return "", errSyntax
			}
			return out, nil
		case c == '\\':
			escaped = true
			if s.i+1 >= len(s.data) {
				return "", errSyntax
			}
			switch s.data[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if s.i+6 > len(s.data) {
					return "", errSyntax
				}
				for _, h := range s.data[s.i+2 : s.i+6] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return "", errSyntax
					}
				}
				s.i += 6
			default:
				return "", errSyntax
			}
		case c < 0x20:
			return "", errSyntax
		default:
			s.i++
		}
	}
	return "", errSyntax
}

// number parses an RFC 8259 number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() (json.Number, error) {
	start := s.i
	if s.peek() == '-' {
		s.i++
	}
	switch c := s.peek(); {
	case c == '0':
		s.i++
	case '1' <= c && c <= '9':
		s.digits()
	default:
		return "", errSyntax
	}
	if s.peek() == '.' {
		s.i++
		if s.digits() == 0 {
			return "", errSyntax
		}
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.i++
		if c := s.peek(); c == '+' || c == '-' {
			s.i++
		}
		if s.digits() == 0 {
			return "", errSyntax
		}
	}
	return json.Number(s.data[start:s.i]), nil
}

func (s *scanner) digits() int {
	n := 0
	for s.i < len(s.data) && '0' <= s.data[s.i] && s.data[s.i] <= '9' {
		s.i++
		n++
	}
	return n
}
