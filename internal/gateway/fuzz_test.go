package gateway

import (
	"strings"
	"testing"
)

// FuzzParseRules: any document either fails with a *ParseError-style error
// or parses into a rule set that compiles and round-trips through
// MarshalRules unchanged.
func FuzzParseRules(f *testing.F) {
	f.Add([]byte(`{"no_match":"deny","rules":[{"name":"a","hosts":["api.example.com"],"methods":["GET"],"paths":["/v1/**"],"apps":["app_1"],"permissions":"a AND (b OR c)","credits":2}]}`))
	f.Add([]byte(`{"rules":[]}`))
	f.Add([]byte(`{"rules":[{"paths":["/a/*/b"],"anonymous":true}]}`))
	f.Add([]byte(`{`))
	f.Add([]byte(`{"rules":[{"methdos":["GET"]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64<<10 {
			return
		}
		rs, _, err := ParseRules(data, "fuzz.json", false)
		if err != nil {
			if strings.TrimSpace(err.Error()) == "" {
				t.Fatal("empty error message")
			}
			return
		}
		tbl, err := Compile(rs, "fuzz")
		if err != nil {
			t.Fatalf("parsed rules do not compile: %v", err)
		}
		out, err := MarshalRules(rs)
		if err != nil {
			t.Fatal(err)
		}
		rs2, _, err := ParseRules(out, "round-trip.json", false)
		if err != nil {
			t.Fatalf("marshalled rules do not parse: %v\n%s", err, out)
		}
		out2, _ := MarshalRules(rs2)
		if string(out) != string(out2) {
			t.Fatalf("round trip changed the rules:\n%s\n%s", out, out2)
		}
		// Matching must never panic, whatever the path.
		for _, p := range []string{"/", "/v1/x", "/%2e%2e/admin", "//a//b", "/a/../b"} {
			if segs, ok := cleanPath(p); ok {
				tbl.match("GET", "api.example.com", segs)
			}
		}
	})
}
