package gateway

import (
	"errors"
	"strings"
	"testing"
)

func TestParseRulesErrors(t *testing.T) {
	tests := []struct{ doc, want string }{
		{`{"rules": [], "x": 1}`, "f:1:15: x: unknown field"},
		{"{\"rules\": [\n {\"name\": 3}]}", "f:2:12: rules.name: must be a string"},
		{`{"rules": [`, "ends too early"},
		{`{"rules": []} {}`, "unexpected data"},
		{`{}`, "rules: required"},
		{`{"version": 1, "rules": []}`, "version: unknown field"},
		{`{"no_match": "allow", "rules": []}`, `no_match: "allow"`},
		{"{\"rules\": [{\"name\": \"a\"},\n  {\"name\": \"b\", \"paths\": [\"/a/**/b\"]}]}", "f:2:3: rules[1].paths[0]"},
		{`{"rules": [{"name": "a", "paths": ["/a/"]}]}`, "clean path"},
		{`{"rules": [{"name": "a", "paths": ["/a*"]}]}`, "whole segments"},
		{`{"rules": [{"name": "a", "hosts": ["a.com:80"]}]}`, "hosts[0]"},
		{`{"rules": [{"name": "a", "credentials": [{"type": "header", "name": "X-TypeAuth-Key"}]}]}`, "reserved"},
		{`{"rules": [{"name": "a", "credentials": [{"type": "bearer", "name": "x"}]}]}`, "credentials[0].name"},
		{`{"rules": [{"name": "a", "credentials": [{"type": "basic"}]}]}`, "credentials[0].type"},
		{`{"rules": [{"name": "a", "upstream_headers": ["secret"]}]}`, "upstream_headers[0]"},
		{`{"rules": [{"name": "a", "credits": -1}]}`, "credits"},
		{`{"rules": [{"name": "a", "permissions": "a AND"}]}`, "permissions"},
		{`{"rules": [{"name": "a"}, {"name": "a"}]}`, "rules[1].name"},
	}
	for _, tt := range tests {
		_, _, err := ParseRules([]byte(tt.doc), "f", false)
		var pe *ParseError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want it to contain %q", tt.doc, err, tt.want)
		}
	}
	rs, expect, err := ParseRules([]byte(`{"version": 4, "rules": [{"name": "a", "methods": ["get"], "hosts": ["API.Example.com"]}]}`), "body", true)
	if err != nil || expect != 4 || rs.Rules[0].Methods[0] != "GET" || rs.Rules[0].Hosts[0] != "api.example.com" || rs.NoMatch != "deny" {
		t.Fatalf("valid document: %+v %d %v", rs, expect, err)
	}
}

func TestMatch(t *testing.T) {
	rs, _, err := ParseRules([]byte(`{"rules": [
		{"name": "root", "paths": ["/"]},
		{"name": "one", "methods": ["GET"], "paths": ["/a/*"]},
		{"name": "tree", "paths": ["/b/**"]},
		{"name": "host", "hosts": ["*.example.com", "exact.org"]}
	]}`), "f", false)
	if err != nil {
		t.Fatal(err)
	}
	tab, err := Compile(rs, "test")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ method, host, path, want string }{
		{"GET", "x", "/", "root"},
		{"GET", "x", "/a/1", "one"},
		{"POST", "x", "/a/1", ""},
		{"GET", "x", "/a", ""},
		{"GET", "x", "/a/1/2", ""},
		{"GET", "x", "/b", "tree"},
		{"GET", "x", "/b/c/d", "tree"},
		{"GET", "x", "/bc", ""},
		{"GET", "x", "/x/../b/c", "tree"},
		{"GET", "x", "/%62/c", "tree"},
		{"GET", "api.example.com:8443", "/z", "host"},
		{"GET", "EXACT.org.", "/z", "host"},
		{"GET", "example.com", "/z", ""},
		{"GET", "notexample.com", "/z", ""},
		// Path parameters are cut before matching, as servlet containers route.
		{"GET", "x", "/a/..;/b/c", "tree"},
		{"GET", "x", "/b;jsessionid=1/c", "tree"},
		{"GET", "x", "/a/1;x=y", "one"},
		{"GET", "x", "/a/%2e%2e%3b/b/c", "tree"},
	}
	for _, tt := range tests {
		segs, ok := cleanPath(tt.path)
		if !ok {
			t.Fatalf("cleanPath(%q) failed", tt.path)
		}
		got := ""
		if r := tab.match(tt.method, normalizeHost(tt.host), segs); r != nil {
			got = r.name
		}
		if got != tt.want {
			t.Errorf("%s %s %s: rule %q, want %q", tt.method, tt.host, tt.path, got, tt.want)
		}
	}
	for _, bad := range []string{"relative", "/%zz", "/a\x00b", "/a\\b"} {
		if _, ok := cleanPath(bad); ok {
			t.Errorf("cleanPath(%q) accepted", bad)
		}
	}
}
