// Package permquery parses and evaluates permission queries such as
//
//	documents.read AND (billing.write OR admin)
//
// # Grammar
//
//	query      = or
//	or         = and { "OR" and }
//	and        = operand { "AND" operand }
//	operand    = permission | "(" or ")"
//	permission = 1*128 of A-Z a-z 0-9 _ - : . *
//
// AND binds tighter than OR: "a OR b AND c" is "a OR (b AND c)". Chains of
// one operator are flattened into one n-ary node and evaluated left to right
// with short-circuit, which is the same as left associativity. The keywords
// AND and OR are case-insensitive ("and", "Or"); NOT is reserved (a syntax
// error today, so adding it later breaks no valid query). The symbols && and
// || are not accepted: one spelling per operator keeps queries, logs and
// error messages uniform, and the error for them names the keyword to use.
// Whitespace (space, tab, CR, LF) separates tokens and is otherwise ignored;
// parentheses need none ("a AND(b)").
//
// A permission name is matched literally; "*" in a query is an ordinary
// character. Wildcards exist only on the granted side, opt-in (see Matcher).
// Because the keywords are reserved, no permission can be named "and", "or"
// or "not" in any case: ValidPermission enforces that, and the charset, for
// stored permission names.
//
// # Limits
//
// A query is at most MaxQueryLen bytes and nests parentheses at most
// MaxDepth deep, so parsing is linear and bounded for any input. Errors are
// *SyntaxError with the 0-based byte offset of the problem.
package permquery

import (
	"fmt"
	"strings"
)

const (
	// MaxQueryLen is the longest query accepted, in bytes.
	MaxQueryLen = 2048
	// MaxDepth is the deepest nesting of parentheses accepted.
	MaxDepth = 32
	// MaxPermissionLen is the longest permission name, in bytes.
	MaxPermissionLen = 128
)

// SyntaxError is a query that does not parse. Pos is the 0-based byte
// offset in the query where the problem was found.
type SyntaxError struct {
	Pos int
	Msg string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("%s at %d", e.Msg, e.Pos) }

type op uint8

const (
	opPerm op = iota
	opAnd
	opOr
)

// node is one node of the tree. Nodes and their child lists live in two
// flat, pointer-free slices of the Query, so a parse allocates three times
// and the garbage collector never scans a query.
type node struct {
	op op
	// opPerm: the permission is src[a:b].
	// opAnd, opOr: the children are kids[a : a+b].
	a, b int32
}

// Query is a parsed permission query. A nil *Query is the empty query: it
// is satisfied by anything. A Query is immutable and safe for concurrent
// use.
type Query struct {
	src   string
	nodes []node
	kids  []int32
	root  int32
}

func (q *Query) perm(nd *node) string { return q.src[nd.a:nd.b] }

func (q *Query) children(nd *node) []int32 { return q.kids[nd.a : nd.a+nd.b] }

// isPermByte reports whether c may appear in a permission name.
func isPermByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '_' || c == '-' || c == ':' || c == '.' || c == '*'
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// ValidPermission returns nil if name can be a permission: 1 to
// MaxPermissionLen bytes of [A-Za-z0-9_\-:.*], and not a keyword of the
// query language (AND, OR, NOT in any case).
func ValidPermission(name string) error {
	if name == "" || len(name) > MaxPermissionLen {
		return fmt.Errorf("permission name must be 1 to %d bytes, not %d", MaxPermissionLen, len(name))
	}
	for i := 0; i < len(name); i++ {
		if !isPermByte(name[i]) {
			return fmt.Errorf("permission name %q: invalid character %q at %d (allowed: A-Z a-z 0-9 _ - : . *)", name, name[i:i+1], i)
		}
	}
	if keyword(name) != tokPerm {
		return fmt.Errorf("permission name %q is a reserved word", name)
	}
	return nil
}

type tok uint8

const (
	tokEOF tok = iota
	tokPerm
	tokAnd
	tokOr
	tokNot
	tokLParen
	tokRParen
)

func keyword(w string) tok {
	switch {
	case len(w) == 3 && strings.EqualFold(w, "and"):
		return tokAnd
	case len(w) == 2 && strings.EqualFold(w, "or"):
		return tokOr
	case len(w) == 3 && strings.EqualFold(w, "not"):
		return tokNot
	}
	return tokPerm
}

type parser struct {
	q     string
	pos   int // offset after the current token
	tok   tok
	start int // offset of the current token
	text  string
	depth int
	nodes []node
	kids  []int32
	stack []int32 // children of the chains being parsed
}

// Parse parses q. It returns a *SyntaxError if q is not a valid query,
// including an empty or blank one.
func Parse(q string) (*Query, error) {
	if len(q) > MaxQueryLen {
		return nil, &SyntaxError{Pos: MaxQueryLen, Msg: fmt.Sprintf("query longer than %d bytes", MaxQueryLen)}
	}
	// One pass to size the slices: with w words (permissions and
	// keywords) there are fewer than w permissions and w chains.
	words := 0
	for i := 0; i < len(q); i++ {
		if isPermByte(q[i]) && (i == 0 || !isPermByte(q[i-1])) {
			words++
		}
	}
	size := 2*words + 1
	buf := make([]int32, 2*size) // kids, then the parser's stack
	p := &parser{q: q, nodes: make([]node, 0, size), kids: buf[:0:size], stack: buf[size:size]}
	if err := p.next(); err != nil {
		return nil, err
	}
	root, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if p.tok != tokEOF {
		if p.tok == tokRParen {
			return nil, p.errorf(`unexpected ")"`)
		}
		return nil, p.errorf("expected AND, OR or end of query, found %s", p.describe())
	}
	return &Query{src: q, nodes: p.nodes, kids: p.kids, root: root}, nil
}

func (p *parser) errorf(format string, args ...any) error {
	return &SyntaxError{Pos: p.start, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) describe() string {
	switch p.tok {
	case tokEOF:
		return "end of query"
	case tokAnd, tokOr:
		return "keyword " + strings.ToUpper(p.text)
	case tokLParen:
		return `"("`
	case tokRParen:
		return `")"`
	}
	return fmt.Sprintf("permission %q", p.text)
}

// next reads the next token.
func (p *parser) next() error {
	q, i := p.q, p.pos
	for i < len(q) && isSpace(q[i]) {
		i++
	}
	p.start, p.text = i, ""
	if i == len(q) {
		p.tok, p.pos = tokEOF, i
		return nil
	}
	switch c := q[i]; {
	case c == '(':
		p.tok, p.pos = tokLParen, i+1
	case c == ')':
		p.tok, p.pos = tokRParen, i+1
	case isPermByte(c):
		j := i + 1
		for j < len(q) && isPermByte(q[j]) {
			j++
		}
		p.tok, p.text, p.pos = keyword(q[i:j]), q[i:j], j
		if p.tok == tokNot {
			return p.errorf("NOT is not supported")
		}
		if p.tok == tokPerm && j-i > MaxPermissionLen {
			return p.errorf("permission name longer than %d bytes", MaxPermissionLen)
		}
	case c == '&' && i+1 < len(q) && q[i+1] == '&':
		return p.errorf(`invalid operator "&&" (use AND)`)
	case c == '|' && i+1 < len(q) && q[i+1] == '|':
		return p.errorf(`invalid operator "||" (use OR)`)
	default:
		return p.errorf("invalid character %q", q[i:i+1])
	}
	return nil
}

func (p *parser) parseOr() (int32, error) {
	first, err := p.parseAnd()
	if err != nil || p.tok != tokOr {
		return first, err
	}
	base := len(p.stack)
	p.push(opOr, first)
	for p.tok == tokOr {
		if err := p.next(); err != nil {
			return 0, err
		}
		k, err := p.parseAnd()
		if err != nil {
			return 0, err
		}
		p.push(opOr, k)
	}
	return p.pop(opOr, base), nil
}

func (p *parser) parseAnd() (int32, error) {
	first, err := p.parseOperand()
	if err != nil || p.tok != tokAnd {
		return first, err
	}
	base := len(p.stack)
	p.push(opAnd, first)
	for p.tok == tokAnd {
		if err := p.next(); err != nil {
			return 0, err
		}
		k, err := p.parseOperand()
		if err != nil {
			return 0, err
		}
		p.push(opAnd, k)
	}
	return p.pop(opAnd, base), nil
}

// push adds child k to the chain being built, inlining the children of a
// (parenthesized) node of the same operator: (a AND b) AND c is a AND b AND c.
func (p *parser) push(o op, k int32) {
	if nd := p.nodes[k]; nd.op == o {
		p.stack = append(p.stack, p.kids[nd.a:nd.a+nd.b]...)
		return
	}
	p.stack = append(p.stack, k)
}

// pop turns the children pushed since base into one node of op.
func (p *parser) pop(o op, base int) int32 {
	p.nodes = append(p.nodes, node{op: o, a: int32(len(p.kids)), b: int32(len(p.stack) - base)})
	p.kids = append(p.kids, p.stack[base:]...)
	p.stack = p.stack[:base]
	return int32(len(p.nodes) - 1)
}

func (p *parser) parseOperand() (int32, error) {
	switch p.tok {
	case tokPerm:
		p.nodes = append(p.nodes, node{op: opPerm, a: int32(p.start), b: int32(p.pos)})
		return int32(len(p.nodes) - 1), p.next()
	case tokLParen:
		if p.depth == MaxDepth {
			return 0, p.errorf("parentheses nested deeper than %d", MaxDepth)
		}
		open := p.start
		p.depth++
		if err := p.next(); err != nil {
			return 0, err
		}
		k, err := p.parseOr()
		if err != nil {
			return 0, err
		}
		if p.tok != tokRParen {
			return 0, p.errorf(`expected AND, OR or ")" closing the "(" at %d, found %s`, open, p.describe())
		}
		p.depth--
		return k, p.next()
	}
	return 0, p.errorf("expected permission name, found %s", p.describe())
}

// String returns the query in canonical form: keywords upper case, single
// spaces, parentheses only where precedence needs them. Parsing it yields
// the same query. It can be longer than the text it was parsed from ("(a OR
// b)AND c" becomes "(a OR b) AND c"), so a query near MaxQueryLen may not fit once
// canonical; it is meant for logs and error messages.
func (q *Query) String() string {
	if q == nil {
		return ""
	}
	var b strings.Builder
	q.write(&b, q.root, false)
	return b.String()
}

func (q *Query) write(b *strings.Builder, i int32, paren bool) {
	nd := &q.nodes[i]
	if nd.op == opPerm {
		b.WriteString(q.perm(nd))
		return
	}
	sep := " AND "
	if nd.op == opOr {
		sep = " OR "
	}
	if paren {
		b.WriteByte('(')
	}
	for j, k := range q.children(nd) {
		if j > 0 {
			b.WriteString(sep)
		}
		// only an OR inside an AND needs parentheses; an AND inside an AND
		// or an OR inside an OR was flattened by the parser
		q.write(b, k, nd.op == opAnd && q.nodes[k].op == opOr)
	}
	if paren {
		b.WriteByte(')')
	}
}

// Eval reports whether the permissions for which has returns true satisfy
// q. It calls has at most once per permission occurrence, left to right,
// short-circuiting, and does not allocate.
func (q *Query) Eval(has func(perm string) bool) bool {
	if q == nil {
		return true
	}
	return q.eval(q.root, has)
}

func (q *Query) eval(i int32, has func(string) bool) bool {
	nd := &q.nodes[i]
	switch nd.op {
	case opAnd:
		for _, k := range q.children(nd) {
			if !q.eval(k, has) {
				return false
			}
		}
		return true
	case opOr:
		for _, k := range q.children(nd) {
			if q.eval(k, has) {
				return true
			}
		}
		return false
	}
	return has(q.perm(nd))
}

// Missing returns the permissions whose absence makes q fail, in query
// order without duplicates, or nil if q is satisfied. For an unsatisfied
// OR it lists what each alternative misses, so "a AND (b OR c)" with only a
// granted reports [b c]: granting any one alternative's permissions would
// satisfy it.
func (q *Query) Missing(has func(perm string) bool) []string {
	if q == nil || q.Eval(has) {
		return nil
	}
	var out []string
	q.missing(q.root, has, &out)
	return out
}

func (q *Query) missing(i int32, has func(string) bool, out *[]string) {
	nd := &q.nodes[i]
	if nd.op == opPerm {
		perm := q.perm(nd)
		if has(perm) {
			return
		}
		for _, s := range *out {
			if s == perm {
				return
			}
		}
		*out = append(*out, perm)
		return
	}
	for _, k := range q.children(nd) {
		// an unsatisfied AND misses what its unsatisfied children miss; an
		// unsatisfied OR has only unsatisfied children
		if !q.eval(k, has) {
			q.missing(k, has, out)
		}
	}
}
