package e2e

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/typeauth/typeauth/client"
)

// needTool returns the path of a gateway binary. Locally a missing one skips
// the test; under CI=true it fails it: CI must not silently skip gateways.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/bin", "/sbin"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return filepath.Join(dir, name)
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed; CI installs it (apt-get install -y nginx caddy)", name)
	}
	t.Skipf("%s is not installed (apt-get install -y nginx caddy); skipping", name)
	return ""
}

// recipe returns the block between <!-- recipe:begin --> and <!-- recipe:end -->
// of a docs/gateways file, without its code fence: the tests run exactly what
// the documentation ships.
func recipe(t *testing.T, doc string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "docs", "gateways", doc))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- recipe:begin -->\\s*```[a-z]*\\n(.*?)```\\s*<!-- recipe:end -->").FindSubmatch(b)
	if m == nil {
		t.Fatalf("%s has no recipe block", doc)
	}
	return string(m[1])
}

// substitute replaces the recipe's placeholder addresses, failing if one is
// missing (the recipe changed shape: the test must follow).
func substitute(t *testing.T, text string, pairs ...string) string {
	t.Helper()
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(text, pairs[i]) {
			t.Fatalf("recipe no longer contains %q", pairs[i])
		}
		text = strings.ReplaceAll(text, pairs[i], pairs[i+1])
	}
	return text
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// backend is the API behind the gateway: it records the headers and URL of
// every request it receives.
type backend struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []*http.Request
}

func newBackend(t *testing.T) *backend {
	b := &backend{}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.reqs = append(b.reqs, r.Clone(r.Context()))
		b.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "backend ok\n")
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *backend) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.reqs)
}

func (b *backend) last(t *testing.T) *http.Request {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.reqs) == 0 {
		t.Fatal("the backend received no request")
	}
	return b.reqs[len(b.reqs)-1]
}

// gatewayProc is a gateway process run by a test.
type gatewayProc struct {
	cmd    *exec.Cmd
	out    *syncBuffer
	exited chan struct{}
}

func runGateway(t *testing.T, cmd *exec.Cmd, addr string) *gatewayProc {
	t.Helper()
	g := &gatewayProc{cmd: cmd, out: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = g.out, g.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(g.exited) }()
	t.Cleanup(func() {
		select {
		case <-g.exited:
			return
		default:
		}
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-g.exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-g.exited
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-g.exited:
			t.Fatalf("%s exited:\n%s", cmd.Path, g.out.String())
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return g
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never listened on %s:\n%s", cmd.Path, addr, g.out.String())
	return nil
}

func hostPort(base string) string {
	return strings.TrimPrefix(strings.TrimPrefix(base, "http://"), "https://")
}

// grpcAddr is the ext_authz address from the process's "listening" log line.
func (p *proc) grpcAddr(t *testing.T) string {
	t.Helper()
	for _, line := range strings.Split(p.stderr.String(), "\n") {
		var l struct{ Msg, Grpc string }
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "listening" && l.Grpc != "" {
			return l.Grpc
		}
	}
	t.Fatal("no grpc address in the listening log line")
	return ""
}

// putRules replaces the route rules through the management API.
func putRules(t *testing.T, p *proc, doc any) client.RuleSet {
	t.Helper()
	var out client.RuleSet
	st, _ := call(t, "PUT", p.Admin+"/v1/rules", p.RootKey, doc, &out)
	if st != 200 {
		t.Fatalf("PUT /v1/rules: %d", st)
	}
	return out
}

// get sends a request through a gateway.
func get(t *testing.T, url string, hdr ...string) (int, http.Header, string) {
	t.Helper()
	st, h, body := callRaw(t, "GET", url, "", nil, hdr...)
	return st, h, string(body)
}

func must(t *testing.T, cond bool, format string, args ...any) {
	t.Helper()
	if !cond {
		t.Fatalf(format, args...)
	}
}
