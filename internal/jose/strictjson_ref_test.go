package jose

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// tokenDecodeStrictObject is the reference implementation of the strict
// JSON rules, built on encoding/json's Decoder.Token. It decodes data, which must be exactly one JSON object, into
// a map built token by token with encoding/json's Decoder.Token so that:
//   - a member name appearing twice at any level is an error (encoding/json
//     would silently keep the last one);
//   - a top-level member whose name case-folds to one of registered but is not
//     spelled exactly like it ("ALG", "Exp", "\u212Aid") is an error
//     (encoding/json matches struct fields case-insensitively);
//   - nesting deeper than maxDepth is an error;
//   - invalid UTF-8 is an error (encoding/json would replace it with U+FFFD).
//
// Numbers are kept as json.Number so integer claims keep full precision.
func tokenDecodeStrictObject(data []byte, registered []string, maxDepth int) (map[string]any, error) {
	if !utf8.Valid(data) {
		return nil, errBadUTF8
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errNotObject
	}
	m, err := tokReadObject(dec, 1, maxDepth, registered)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errTrailing
	}
	return m, nil
}

// readObject reads members after an opening '{' up to and including '}'.
func tokReadObject(dec *json.Decoder, depth, maxDepth int, registered []string) (map[string]any, error) {
	if depth > maxDepth {
		return nil, errTooDeep
	}
	m := make(map[string]any)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, ok := tok.(string)
		if !ok {
			return nil, errNotObject
		}
		if _, dup := m[name]; dup {
			return nil, errDuplicateKey
		}
		for _, r := range registered {
			if len(name) >= len(r) && name != r && strings.EqualFold(name, r) {
				return nil, errCaseVariant
			}
		}
		v, err := tokReadValue(dec, depth, maxDepth)
		if err != nil {
			return nil, err
		}
		m[name] = v
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, err
	}
	return m, nil
}

// readValue reads one value whose container is at depth.
func tokReadValue(dec *json.Decoder, depth, maxDepth int) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			return tokReadObject(dec, depth+1, maxDepth, nil)
		case '[':
			if depth+1 > maxDepth {
				return nil, errTooDeep
			}
			arr := []any{}
			for dec.More() {
				v, err := tokReadValue(dec, depth+1, maxDepth)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			if _, err := dec.Token(); err != nil { // the closing ']'
				return nil, err
			}
			return arr, nil
		default:
			return nil, errNotObject
		}
	default:
		return t, nil // string, json.Number, bool or nil
	}
}

// FuzzStrictJSON checks the hot-path scanner against the Decoder.Token
// reference: same accept/reject decision, same decoded value, and nothing
// accepted that encoding/json would refuse.
func FuzzStrictJSON(f *testing.F) {
	for _, s := range []string{
		goodClaims, `{}`, ` {"a":[1,{"b":null}],"c":"\u00e9\ud83d\ude00"} `, `{"a":1,"a":2}`, `{"\u0061":1,"a":2}`,
		`{"Exp":1}`, `{"\u212Aid":1}`, `{"a":"\ud800"}`, `{"a":-0.0e+1}`, `{"a":01}`, `{"a":1}x`, `[1]`,
		strings.Repeat(`{"a":`, 33) + "1" + strings.Repeat("}", 33), `{"a":"` + "\x01" + `"}`, "{\"a\":\"\xff\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		names := append(append([]string{}, claimNames...), headerNames...)
		got, err1 := decodeStrictObject(data, names, 8)
		want, err2 := tokenDecodeStrictObject(data, names, 8)
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("scanner err=%v, reference err=%v on %q", err1, err2, data)
		}
		if err1 != nil {
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("scanner %#v != reference %#v", got, want)
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
	})
}

func TestStrictJSONMatchesReference(t *testing.T) {
	cases := []string{
		goodClaims, `{}`, `{"a":[1,{"b":null}],"c":"\u00e9","d":true,"e":false,"f":-1.5E-3}`, `{"a":1,"a":2}`,
		`{"\u0061":1,"a":2}`, `{"Exp":1}`, `{"\u212Aid":1}`, `{"a":"\ud800"}`, `{"a":01}`, `{"a":1}x`, `[1]`,
		`{"a":1,}`, `{"a" 1}`, `{"a":tru}`, `{"a":"\q"}`, `{"a":"\u12"}`, `{"a":.5}`, `{"a":1.}`, `{"a":1e}`, `{a:1}`,
		strings.Repeat(`{"a":`, 8) + "1" + strings.Repeat("}", 8), strings.Repeat(`{"a":`, 9) + "1" + strings.Repeat("}", 9),
		`{"a":` + strings.Repeat("[", 7) + strings.Repeat("]", 7) + `}`, `{"a":` + strings.Repeat("[", 8) + strings.Repeat("]", 8) + `}`,
	}
	names := append(append([]string{}, claimNames...), headerNames...)
	for _, c := range cases {
		t.Run(c, func(t *testing.T) {
			got, err1 := decodeStrictObject([]byte(c), names, 8)
			want, err2 := tokenDecodeStrictObject([]byte(c), names, 8)
			if (err1 == nil) != (err2 == nil) || !reflect.DeepEqual(got, want) {
				t.Fatalf("scanner %v/%v, reference %v/%v", got, err1, want, err2)
			}
		})
	}
}
