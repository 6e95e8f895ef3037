package permquery

import "testing"

var benchGranted = []string{
	"documents.read", "documents.write", "billing.read", "users.read", "users.write",
	"reports.read", "reports.export", "admin.audit", "webhooks.manage", "keys.read",
}

const benchQuery = "documents.read AND (billing.write OR admin OR users.read)"

// BenchmarkParseEval: a query arriving with each verify, against a Matcher
// built once per key (cached with it).
func BenchmarkParseEval(b *testing.B) {
	m := NewMatcher(benchGranted, MatcherOptions{})
	b.ReportAllocs()
	for b.Loop() {
		q, err := Parse(benchQuery)
		if err != nil || !q.Eval(m.Has) {
			b.Fatal(err)
		}
	}
}

// BenchmarkEval: a query parsed once (e.g. from a route rule).
func BenchmarkEval(b *testing.B) {
	m := NewMatcher(benchGranted, MatcherOptions{})
	q, _ := Parse(benchQuery)
	b.ReportAllocs()
	for b.Loop() {
		if !q.Eval(m.Has) {
			b.Fatal("denied")
		}
	}
}

func BenchmarkEvalWildcards(b *testing.B) {
	m := NewMatcher(append([]string{"billing.*"}, benchGranted...), MatcherOptions{Wildcards: true})
	q, _ := Parse("documents.read AND (billing.invoices.write OR admin)")
	b.ReportAllocs()
	for b.Loop() {
		if !q.Eval(m.Has) {
			b.Fatal("denied")
		}
	}
}

func BenchmarkMissing(b *testing.B) {
	m := NewMatcher(benchGranted, MatcherOptions{})
	q, _ := Parse("documents.delete AND (billing.write OR admin)")
	b.ReportAllocs()
	for b.Loop() {
		if len(q.Missing(m.Has)) != 3 {
			b.Fatal("wrong")
		}
	}
}

func BenchmarkNewMatcher(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		NewMatcher(benchGranted, MatcherOptions{Wildcards: true})
	}
}
