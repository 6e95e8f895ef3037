// Package e2e runs the real typeauth binary and checks the contract from
// outside, over HTTP, as a gateway or an operator would.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "typeauth-e2e")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "typeauth")
	build := exec.Command("go", "build", "-o", binary, "../cmd/typeauth")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build typeauth:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// syncBuffer collects a process's output safely across goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// proc is one running `typeauth serve`.
type proc struct {
	t              *testing.T
	cmd            *exec.Cmd
	Data, Admin    string // base URLs
	RootKey        string
	stdout, stderr *syncBuffer
	exited         chan struct{}
}

type serveOpts struct {
	dataDir     string
	databaseURL string
	rootKey     string
	noRootKey   bool // start without TYPEAUTH_ROOT_KEY
	extraEnv    []string
	args        []string
}

func newRootKey() string {
	b := make([]byte, 24)
	rand.Read(b)
	return "test_root_" + hex.EncodeToString(b)
}

// start runs typeauth serve on ports chosen by the OS and waits until both
// listeners answer /readyz.
func start(t *testing.T, o serveOpts) *proc {
	t.Helper()
	if o.rootKey == "" && !o.noRootKey {
		o.rootKey = newRootKey()
	}
	args := []string{"serve", "--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0", "--log-format", "json", "--log-level", "debug"}
	if o.databaseURL != "" {
		args = append(args, "--database-url", o.databaseURL)
	} else {
		if o.dataDir == "" {
			o.dataDir = t.TempDir()
		}
		args = append(args, "--data-dir", o.dataDir)
	}
	args = append(args, o.args...)
	cmd := exec.Command(binary, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, o.extraEnv...)
	if o.rootKey != "" {
		cmd.Env = append(cmd.Env, "TYPEAUTH_ROOT_KEY="+o.rootKey)
	}
	p := &proc{t: t, cmd: cmd, RootKey: o.rootKey, stdout: &syncBuffer{}, stderr: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stdout = p.stdout
	pr, pw := io.Pipe()
	cmd.Stderr = io.MultiWriter(p.stderr, pw)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); pw.Close(); close(p.exited) }()
	t.Cleanup(func() { p.stop() })

	addrs := make(chan [2]string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			var line struct{ Msg, Data, Admin string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				addrs <- [2]string{line.Data, line.Admin}
			}
		}
		io.Copy(io.Discard, pr)
	}()
	select {
	case a := <-addrs:
		p.Data, p.Admin = "http://"+a[0], "http://"+a[1]
	case <-p.exited:
		t.Fatalf("typeauth exited before listening:\n%s", p.stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("typeauth did not listen within 30s:\n%s", p.stderr.String())
	}
	for _, base := range []string{p.Data, p.Admin} {
		waitReady(t, base)
	}
	return p
}

func waitReady(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s/readyz never answered 200", base)
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
		p.t.Errorf("typeauth did not stop within 20s of SIGTERM")
	}
}

// kill9 kills the process without warning.
func (p *proc) kill9() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

var httpClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}

// call sends a JSON request and decodes a JSON answer into out (if not nil).
func call(t *testing.T, method, url, rootKey string, body any, out any, hdr ...string) (int, http.Header) {
	t.Helper()
	status, h, raw := callRaw(t, method, url, rootKey, body, hdr...)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, url, raw, err)
		}
	}
	return status, h
}

func callRaw(t *testing.T, method, url, rootKey string, body any, hdr ...string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, url, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if rootKey != "" {
		req.Header.Set("Authorization", "Bearer "+rootKey)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, raw
}
