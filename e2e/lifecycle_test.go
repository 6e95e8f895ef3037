package e2e

import (
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/typeauth/typeauth/client"
)

// TestMigrateCommand: `typeauth migrate` prepares a store that serve then uses.
func TestMigrateCommand(t *testing.T) {
	dir := t.TempDir()
	out, err := exec.Command(binary, "migrate", "--data-dir", dir).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "migrations applied") {
		t.Fatalf("migrate: %v: %s", err, out)
	}
	out, err = exec.Command(binary, "migrate", "--data-dir", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("migrate twice: %v: %s", err, out)
	}
	p := start(t, serveOpts{dataDir: dir})
	createApp(t, p, "A", "mg")
}

// TestGracefulShutdown: SIGTERM lets in-flight requests finish, then the
// process exits 0 and logs that it stopped.
func TestGracefulShutdown(t *testing.T) {
	p := start(t, serveOpts{})
	app := createApp(t, p, "A", "gs")
	k := createKey(t, p, client.CreateKeyRequest{AppID: app.ID})
	var wg sync.WaitGroup
	var failed, ok int64
	var mu sync.Mutex
	stop := make(chan struct{})
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10_000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := httpClient.Post(p.Data+"/v1/verify", "application/json", strings.NewReader(`{"key":"`+k.Secret+`"}`))
				mu.Lock()
				if err != nil {
					failed++ // refused after the listener closed: expected
				} else {
					if resp.StatusCode == 200 {
						ok++
					}
					resp.Body.Close()
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		t.Fatal("no exit within 20s of SIGTERM")
	}
	close(stop)
	wg.Wait()
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	if !strings.Contains(p.stderr.String(), `"msg":"stopped"`) {
		t.Fatalf("no stopped log line:\n%s", p.stderr.String())
	}
	if ok == 0 {
		t.Fatal("no request succeeded before the shutdown")
	}
}
