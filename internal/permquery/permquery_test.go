package permquery

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// dump renders the tree as an s-expression, to compare trees.
func (q *Query) dump() string {
	var b strings.Builder
	var walk func(i int32)
	walk = func(i int32) {
		nd := q.nodes[i]
		switch nd.op {
		case opPerm:
			b.WriteString(q.perm(&nd))
			return
		case opAnd:
			b.WriteString("(AND")
		case opOr:
			b.WriteString("(OR")
		}
		for _, k := range q.children(&nd) {
			b.WriteByte(' ')
			walk(k)
		}
		b.WriteByte(')')
	}
	walk(q.root)
	return b.String()
}

func TestQueries(t *testing.T) {
	defaultGranted := []string{"documents.read", "billing.read", "admin", "a", "b"}
	deep := func(n int) string { return strings.Repeat("(", n) + "a" + strings.Repeat(")", n) }
	name128 := strings.Repeat("p", 128)
	long := "a" + strings.Repeat(" OR a", (MaxQueryLen-1)/5)
	long += strings.Repeat(" ", MaxQueryLen-len(long))

	cases := []struct {
		name     string
		q        string
		granted  []string // nil: defaultGranted
		wild     bool
		errPos   int // -1: parses
		tree     string
		str      string // canonical String(); "" means same as q
		want     bool
		missing  []string
		errMatch string // substring of the error
	}{
		// single permissions
		{name: "granted", q: "documents.read", errPos: -1, tree: "documents.read", want: true},
		{name: "not granted", q: "documents.write", errPos: -1, tree: "documents.write", missing: []string{"documents.write"}},
		// AND, OR
		{name: "and both", q: "documents.read AND billing.read", errPos: -1, tree: "(AND documents.read billing.read)", want: true},
		{name: "and one missing", q: "documents.read AND billing.write", errPos: -1, tree: "(AND documents.read billing.write)", missing: []string{"billing.write"}},
		{name: "or one", q: "documents.read OR billing.write", errPos: -1, tree: "(OR documents.read billing.write)", want: true},
		{name: "or none lists alternatives", q: "documents.write OR billing.write", errPos: -1, tree: "(OR documents.write billing.write)", missing: []string{"documents.write", "billing.write"}},
		{name: "issue example", q: "documents.read AND (billing.write OR admin)", errPos: -1, tree: "(AND documents.read (OR billing.write admin))", want: true},
		{name: "issue example denied", q: "documents.write AND (billing.write OR admin)", errPos: -1, tree: "(AND documents.write (OR billing.write admin))", missing: []string{"documents.write"}},
		{name: "and of or, all missing", q: "x AND (y OR z)", errPos: -1, tree: "(AND x (OR y z))", missing: []string{"x", "y", "z"}},
		// precedence: AND binds tighter than OR
		{name: "precedence or-and", q: "b OR y AND x", errPos: -1, tree: "(OR b (AND y x))", want: true},
		{name: "precedence and-or", q: "y AND x OR b", errPos: -1, tree: "(OR (AND y x) b)", want: true},
		{name: "precedence denied", q: "x OR a AND y", errPos: -1, tree: "(OR x (AND a y))", missing: []string{"x", "y"}},
		{name: "parens override precedence", q: "(b OR y) AND x", errPos: -1, tree: "(AND (OR b y) x)", missing: []string{"x"}},
		{name: "mixed chain", q: "a AND b OR x AND y OR admin", errPos: -1, tree: "(OR (AND a b) (AND x y) admin)", want: true},
		// spelling, whitespace, parentheses
		{name: "keywords any case", q: "a and b Or y", errPos: -1, tree: "(OR (AND a b) y)", str: "a AND b OR y", want: true},
		{name: "whitespace", q: "  a\tAND\n(b)\r\n ", errPos: -1, tree: "(AND a b)", str: "a AND b", want: true},
		{name: "parens need no spaces", q: "a AND(b OR y)", errPos: -1, tree: "(AND a (OR b y))", str: "a AND (b OR y)", want: true},
		{name: "redundant parens", q: "((((a))))", errPos: -1, tree: "a", str: "a", want: true},
		{name: "and chains flatten", q: "(a AND b) AND (admin AND documents.read)", errPos: -1, tree: "(AND a b admin documents.read)", str: "a AND b AND admin AND documents.read", want: true},
		{name: "or chains flatten", q: "(a OR y) OR (z OR b)", errPos: -1, tree: "(OR a y z b)", str: "a OR y OR z OR b", want: true},
		{name: "deep nesting", q: "a AND (b OR (y AND (admin OR z)))", errPos: -1, tree: "(AND a (OR b (AND y (OR admin z))))", str: "a AND (b OR y AND (admin OR z))", want: true},
		{name: "missing in or of ands", q: "(y AND a) OR (z AND b)", errPos: -1, tree: "(OR (AND y a) (AND z b))", str: "y AND a OR z AND b", missing: []string{"y", "z"}},
		{name: "missing deduplicated", q: "y AND (y OR z) AND z", errPos: -1, tree: "(AND y (OR y z) z)", missing: []string{"y", "z"}},
		{name: "charset", q: "api:read AND Api-Key_2.x AND v1:*", granted: []string{"api:read", "Api-Key_2.x"}, errPos: -1, tree: "(AND api:read Api-Key_2.x v1:*)", missing: []string{"v1:*"}},
		{name: "longest name", q: name128, granted: []string{name128}, errPos: -1, tree: name128, want: true},
		{name: "deepest nesting", q: deep(MaxDepth), errPos: -1, tree: "a", str: "a", want: true},
		// wildcards
		{name: "wildcard off", q: "documents.read", granted: []string{"documents.*"}, errPos: -1, tree: "documents.read", missing: []string{"documents.read"}},
		{name: "wildcard off literal star", q: "documents.*", granted: []string{"documents.*"}, errPos: -1, tree: "documents.*", want: true},
		{name: "wildcard one segment", q: "documents.read", granted: []string{"documents.*"}, wild: true, errPos: -1, tree: "documents.read", want: true},
		{name: "wildcard several segments", q: "documents.sub.write", granted: []string{"documents.*"}, wild: true, errPos: -1, tree: "documents.sub.write", want: true},
		{name: "wildcard needs a segment", q: "documents", granted: []string{"documents.*"}, wild: true, errPos: -1, tree: "documents", missing: []string{"documents"}},
		{name: "wildcard whole segments", q: "documentsX.read", granted: []string{"documents.*"}, wild: true, errPos: -1, tree: "documentsX.read", missing: []string{"documentsX.read"}},
		{name: "wildcard only at the end", q: "documents.x.read OR documents.reader", granted: []string{"documents.*.read", "documents.re*"}, wild: true, errPos: -1, tree: "(OR documents.x.read documents.reader)", missing: []string{"documents.x.read", "documents.reader"}},
		{name: "wildcard nested prefix", q: "a.b.c.d AND a.x", granted: []string{"a.b.*", "a.x"}, wild: true, errPos: -1, tree: "(AND a.b.c.d a.x)", want: true},
		{name: "wildcard star grants all", q: "anything.at:all AND x", granted: []string{"*"}, wild: true, errPos: -1, tree: "(AND anything.at:all x)", want: true},
		{name: "wildcard star off", q: "x", granted: []string{"*"}, errPos: -1, tree: "x", missing: []string{"x"}},
		{name: "wildcard colon is not a separator", q: "api:read", granted: []string{"api:*"}, wild: true, errPos: -1, tree: "api:read", missing: []string{"api:read"}},
		// malformed
		{name: "empty", q: "", errPos: 0, errMatch: "expected permission name, found end of query"},
		{name: "blank", q: "   ", errPos: 3, errMatch: "expected permission name"},
		{name: "dangling and", q: "a AND", errPos: 5, errMatch: "expected permission name, found end of query"},
		{name: "leading and", q: "AND a", errPos: 0, errMatch: "found keyword AND"},
		{name: "lowercase keyword as name", q: "a AND or", errPos: 6, errMatch: "found keyword OR"},
		{name: "two names", q: "a b", errPos: 2, errMatch: `expected AND, OR or end of query, found permission "b"`},
		{name: "glued keyword", q: "a ANDb", errPos: 2, errMatch: `found permission "ANDb"`},
		{name: "double operator", q: "a OR OR b", errPos: 5},
		{name: "unclosed paren", q: "(a OR b", errPos: 7, errMatch: `closing the "(" at 0`},
		{name: "unopened paren", q: "a OR b)", errPos: 6, errMatch: `unexpected ")"`},
		{name: "extra close", q: "(a))", errPos: 3},
		{name: "empty parens", q: "()", errPos: 1, errMatch: `found ")"`},
		{name: "ampersands", q: "a && b", errPos: 2, errMatch: "use AND"},
		{name: "pipes", q: "a || b", errPos: 2, errMatch: "use OR"},
		{name: "single ampersand", q: "a & b", errPos: 2, errMatch: "invalid character"},
		{name: "not is reserved", q: "a AND NOT b", errPos: 6, errMatch: "NOT is not supported"},
		{name: "slash", q: "docs/read", errPos: 4, errMatch: `invalid character "/"`},
		{name: "non-ascii", q: "a AND é", errPos: 6, errMatch: "invalid character"},
		{name: "name too long", q: "a OR " + name128 + "p", errPos: 5, errMatch: "longer than 128"},
		{name: "too deep", q: deep(MaxDepth + 1), errPos: MaxDepth, errMatch: "deeper than 32"},
		{name: "longest query", q: long, errPos: -1, tree: "", want: true},
		{name: "too long", q: long + " ", errPos: MaxQueryLen, errMatch: "longer than 2048"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q, err := Parse(c.q)
			if c.errPos >= 0 {
				var se *SyntaxError
				if !errors.As(err, &se) {
					t.Fatalf("Parse(%q) = %v, %v; want a *SyntaxError at %d", c.q, q, err, c.errPos)
				}
				if se.Pos != c.errPos || !strings.Contains(se.Error(), c.errMatch) {
					t.Fatalf("Parse(%q) error %q (Pos %d); want Pos %d containing %q", c.q, se.Error(), se.Pos, c.errPos, c.errMatch)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", c.q, err)
			}
			if c.tree != "" && q.dump() != c.tree {
				t.Errorf("tree = %s; want %s", q.dump(), c.tree)
			}
			if want := cmpOr(c.str, c.q); c.tree != "" && q.String() != want {
				t.Errorf("String() = %q; want %q", q.String(), want)
			}
			granted := c.granted
			if granted == nil {
				granted = defaultGranted
			}
			m := NewMatcher(granted, MatcherOptions{Wildcards: c.wild})
			if got := q.Eval(m.Has); got != c.want {
				t.Errorf("Eval = %v; want %v", got, c.want)
			}
			if got := q.Missing(m.Has); !slices.Equal(got, c.missing) {
				t.Errorf("Missing = %q; want %q", got, c.missing)
			}
		})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func TestNilQuery(t *testing.T) {
	var q *Query
	if !q.Eval(func(string) bool { return false }) || q.Missing(func(string) bool { return false }) != nil || q.String() != "" {
		t.Fatal("a nil Query must be satisfied by anything")
	}
}

func TestEvalShortCircuits(t *testing.T) {
	q, err := Parse("a OR b AND c")
	if err != nil {
		t.Fatal(err)
	}
	var calls []string
	q.Eval(func(p string) bool { calls = append(calls, p); return p == "a" })
	if !slices.Equal(calls, []string{"a"}) {
		t.Fatalf("has called with %q; want only a", calls)
	}
}

func TestValidPermission(t *testing.T) {
	for _, ok := range []string{"documents.read", "a", "api:read", "Doc-2_x.*", strings.Repeat("x", 128), "andy", "ORG.read", "*"} {
		if err := ValidPermission(ok); err != nil {
			t.Errorf("ValidPermission(%q) = %v; want nil", ok, err)
		}
	}
	for _, bad := range []string{"", strings.Repeat("x", 129), "a b", "docs/read", "é", "and", "OR", "Not", "a(b)"} {
		if err := ValidPermission(bad); err == nil {
			t.Errorf("ValidPermission(%q) = nil; want an error", bad)
		}
	}
}

func TestMatcherAllocs(t *testing.T) {
	m := NewMatcher([]string{"documents.*", "billing.read"}, MatcherOptions{Wildcards: true})
	q, err := Parse("documents.sub.write AND (billing.write OR billing.read)")
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { q.Eval(m.Has) }); n != 0 {
		t.Fatalf("Eval with a Matcher allocates %v times; want 0", n)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"documents.read AND (billing.write OR admin)",
		"a OR b AND c", "(a OR b) AND c", "((a))", "a and b or c", "a AND(b)",
		"", "(", ")", "a &&", "a AND NOT b", "(a AND b) AND c", "x.* OR *",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := Parse(s)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Pos < 0 || se.Pos > len(s) {
				t.Fatalf("Parse(%q) error %v: not a *SyntaxError within the input", s, err)
			}
			return
		}
		out := q.String()
		q2, err := Parse(out)
		if err != nil {
			// canonical spacing can lengthen a query past the limit, nothing else
			var se *SyntaxError
			if len(out) > MaxQueryLen && errors.As(err, &se) && se.Pos == MaxQueryLen {
				return
			}
			t.Fatalf("Parse(%q) ok, but its String %q does not parse: %v", s, out, err)
		}
		if q.dump() != q2.dump() || q2.String() != out {
			t.Fatalf("round trip of %q: tree %s -> %q -> tree %s, %q", s, q.dump(), out, q2.dump(), q2.String())
		}
		has := func(p string) bool { return len(p)%2 == 0 }
		if q.Eval(has) != q2.Eval(has) || q.Eval(has) != (q.Missing(has) == nil) {
			t.Fatalf("Eval/Missing disagree for %q", s)
		}
	})
}
