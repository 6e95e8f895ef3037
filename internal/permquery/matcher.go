package permquery

import "strings"

// MatcherOptions configures a Matcher.
type MatcherOptions struct {
	// Wildcards makes a granted permission ending in ".*" match every
	// permission under that prefix, and a granted "*" match every
	// permission. Off by default: then "*" is an ordinary character and
	// every permission matches only itself.
	Wildcards bool
}

// Matcher answers whether a set of granted permissions includes a
// permission. Build it once per set (e.g. per cached key) and pass its Has
// method to Query.Eval.
//
// Wildcard rules (with Wildcards on): a granted "p.*" matches any
// permission that starts with "p." and has at least one more segment after
// it: "documents.*" matches "documents.read" and "documents.sub.write", but
// not "documents" nor "documentsX.read". Segments are separated by "." only
// (":" is an ordinary character). "*" is a wildcard only as the whole last
// segment: "documents.*.read", "documents.re*" and "*.read" match only
// themselves. A granted "*" matches everything. A permission in a query
// containing "*" is still looked up literally, then by the same rules.
type Matcher struct {
	exact     map[string]struct{}
	prefixes  map[string]struct{} // "documents." for a granted "documents.*"
	all       bool                // "*" granted
	wildcards bool
}

// NewMatcher returns a Matcher for the granted permissions.
func NewMatcher(granted []string, opts MatcherOptions) *Matcher {
	m := &Matcher{exact: make(map[string]struct{}, len(granted)), wildcards: opts.Wildcards}
	for _, g := range granted {
		m.exact[g] = struct{}{}
		if !opts.Wildcards {
			continue
		}
		switch {
		case g == "*":
			m.all = true
		case strings.HasSuffix(g, ".*") && len(g) > 2:
			if m.prefixes == nil {
				m.prefixes = make(map[string]struct{})
			}
			m.prefixes[g[:len(g)-1]] = struct{}{}
		}
	}
	return m
}

// Has reports whether perm is granted. It does not allocate; its cost is
// one map lookup, plus with wildcards one per "." in perm.
func (m *Matcher) Has(perm string) bool {
	if _, ok := m.exact[perm]; ok {
		return true
	}
	if !m.wildcards || perm == "" {
		return false
	}
	if m.all {
		return true
	}
	if len(m.prefixes) == 0 {
		return false
	}
	// every proper prefix ending in "." with something after it
	for i := 0; i < len(perm)-1; i++ {
		if perm[i] == '.' {
			if _, ok := m.prefixes[perm[:i+1]]; ok {
				return true
			}
		}
	}
	return false
}
