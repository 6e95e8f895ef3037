package e2e

import (
	"database/sql"
	"encoding/json"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/typeauth/typeauth/client"
)

// TestKill9Credits kills the server mid-load and checks on restart that no
// credit was refunded or spent twice: every VALID answer the clients saw is
// spent, and at most the requests cut off by the crash were spent without an
// answer.
func TestKill9Credits(t *testing.T) {
	dir := t.TempDir()
	root := newRootKey()
	p := start(t, serveOpts{dataDir: dir, rootKey: root})
	app := createApp(t, p, "A", "kk")
	const n = 100_000
	k := createKey(t, p, client.CreateKeyRequest{AppID: app.ID, Credits: &client.Credits{Remaining: n}})
	valid, unanswered := loadUntilKilled(t, p, k.Secret, 32)
	t.Logf("VALID answers before kill -9: %d; requests without an answer: %d", valid, unanswered)
	if valid == 0 {
		t.Fatal("no verify succeeded before the kill")
	}

	p2 := start(t, serveOpts{dataDir: dir, rootKey: root})
	var got client.Key
	call(t, "GET", p2.Admin+"/v1/keys/"+k.ID, root, nil, &got)
	spent := n - got.Credits.Remaining
	if spent < int64(valid) || spent > int64(valid+unanswered) {
		t.Fatalf("after restart %d credits are spent; clients saw %d VALID and %d cut-off requests", spent, valid, unanswered)
	}
}

// loadUntilKilled runs verifies with conc workers, kills the process with
// SIGKILL after a while, and returns the VALID answers received and the
// requests that got no answer.
func loadUntilKilled(t *testing.T, p *proc, secret string, conc int) (valid, unanswered int) {
	var v, u atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	tr := &http.Transport{MaxIdleConnsPerHost: conc}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: tr}
	body := `{"key":"` + secret + `"}`
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100_000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := hc.Post(p.Data+"/v1/verify", "application/json", strings.NewReader(body))
				if err != nil {
					u.Add(1)
					return
				}
				var vr client.VerifyResponse
				err = json.NewDecoder(resp.Body).Decode(&vr)
				resp.Body.Close()
				if err != nil {
					u.Add(1)
					return
				}
				if vr.Code == "VALID" {
					v.Add(1)
				}
			}
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for v.Load() < 300 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	p.kill9()
	close(stop)
	wg.Wait()
	return int(v.Load()), int(u.Load())
}

// TestAuditTamper edits an audit row behind TypeAuth's back and expects the
// chain check (API and CLI) to name it.
func TestAuditTamper(t *testing.T) {
	dir := t.TempDir()
	p := start(t, serveOpts{dataDir: dir})
	app := createApp(t, p, "A", "au")
	for i := 0; i < 3; i++ {
		createKey(t, p, client.CreateKeyRequest{AppID: app.ID, Name: "k"})
	}
	var res client.AuditVerifyResult
	call(t, "POST", p.Admin+"/v1/audit/verify", p.RootKey, nil, &res)
	if !res.OK || res.Checked < 5 {
		t.Fatalf("intact chain: %+v", res)
	}
	cli := func() (string, int) {
		cmd := exec.Command(binary, "audit", "verify")
		cmd.Env = []string{"TYPEAUTH_ROOT_KEY=" + p.RootKey, "TYPEAUTH_ADMIN_URL=" + p.Admin}
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}
	if out, code := cli(); code != 0 {
		t.Fatalf("typeauth audit verify on an intact chain: exit %d: %s", code, out)
	}

	db, err := sql.Open("sqlite", filepath.Join(dir, "typeauth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE audit SET actor_id = 'someone_else' WHERE seq = 3`); err != nil {
		t.Fatal(err)
	}
	call(t, "POST", p.Admin+"/v1/audit/verify", p.RootKey, nil, &res)
	if res.OK || res.FirstBrokenSeq != 3 {
		t.Fatalf("edited row 3: %+v", res)
	}
	out, code := cli()
	if code != 1 || !strings.Contains(out, "3") {
		t.Fatalf("typeauth audit verify on an edited chain: exit %d: %s", code, out)
	}
}

// TestNoSecretsInOutput runs a server at debug level through every write
// and verify, then searches all its output for any secret it handled.
func TestNoSecretsInOutput(t *testing.T) {
	p := start(t, serveOpts{})
	app := createApp(t, p, "A", "ls")
	secrets := []string{p.RootKey}
	k := createKey(t, p, client.CreateKeyRequest{AppID: app.ID, Credits: &client.Credits{Remaining: 1}})
	secrets = append(secrets, k.Secret)
	for i := 0; i < 3; i++ {
		verifyKey(t, p, client.VerifyRequest{Key: k.Secret})
	}
	var rolled client.CreatedKey
	call(t, "POST", p.Admin+"/v1/keys/"+k.ID+"/roll", p.RootKey, client.RollKeyRequest{GracePeriodMs: 1000}, &rolled)
	secrets = append(secrets, rolled.Secret)
	verifyKey(t, p, client.VerifyRequest{Key: rolled.Secret})
	var rk client.CreatedRootKey
	call(t, "POST", p.Admin+"/v1/rootkeys", p.RootKey, client.CreateRootKeyRequest{Scopes: []string{"verify"}}, &rk)
	secrets = append(secrets, rk.Secret)
	// Wrong and malformed credentials, which a careless log would echo.
	callRaw(t, "GET", p.Admin+"/v1/apps", rk.Secret+"x", nil)
	callRaw(t, "POST", p.Data+"/v1/verify", "", `{"key":"`+k.Secret+`x"}`)
	callRaw(t, "POST", p.Data+"/v1/verify", "", `{"key":"`+k.Secret+`", "bogus": 1}`)
	p.stop()
	out := p.stdout.String() + p.stderr.String()
	if !strings.Contains(out, `"msg":"request"`) {
		t.Fatalf("debug request logs missing; the test would prove nothing:\n%s", out)
	}
	for _, s := range secrets {
		body := s[len(s)-20:]
		if strings.Contains(out, body) {
			t.Fatalf("a secret appears in the server's output")
		}
	}
}

// TestGeneratedRootKeyPrintedOnce: with no TYPEAUTH_ROOT_KEY, the first start
// prints a root key that works; the second start prints none.
func TestGeneratedRootKeyPrintedOnce(t *testing.T) {
	dir := t.TempDir()
	p := start(t, serveOpts{dataDir: dir, noRootKey: true})
	out := p.stdout.String()
	i := strings.Index(out, "typeauth_root_")
	if i < 0 {
		t.Fatalf("no root key printed:\n%s", out)
	}
	key := strings.Fields(out[i:])[0]
	if st, _ := call(t, "GET", p.Admin+"/v1/apps", key, nil, nil); st != 200 {
		t.Fatalf("printed root key does not work: %d", st)
	}
	p.stop()
	p = start(t, serveOpts{dataDir: dir, noRootKey: true})
	if strings.Contains(p.stdout.String(), "typeauth_root_") {
		t.Fatal("a root key was printed again on the second start")
	}
}
