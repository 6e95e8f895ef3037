package e2e

import (
	"testing"

	"github.com/typeauth/typeauth/client"
)

// TestAppPatchIsAtomic: a PATCH renaming an app and changing its token
// settings lands whole or not at all.
func TestAppPatchIsAtomic(t *testing.T) {
	p := start(t, serveOpts{args: []string{"--dev-master-key"}})
	app := createApp(t, p, "Before", "ap")
	st, _, body := callRaw(t, "PATCH", p.Admin+"/v1/apps/"+app.ID, p.RootKey, map[string]any{"name": "After", "max_token_ttl_seconds": -5})
	if st != 400 {
		t.Fatalf("invalid token setting: %d %s", st, body)
	}
	var got client.App
	call(t, "GET", p.Admin+"/v1/apps/"+app.ID, p.RootKey, nil, &got)
	if got.Name != "Before" {
		t.Fatalf("a refused PATCH renamed the app to %q", got.Name)
	}
	var out struct {
		Name               string `json:"name"`
		MaxTokenTTLSeconds int64  `json:"max_token_ttl_seconds"`
	}
	if st, _ := call(t, "PATCH", p.Admin+"/v1/apps/"+app.ID, p.RootKey, map[string]any{"name": "After", "max_token_ttl_seconds": 600}, &out); st != 200 ||
		out.Name != "After" || out.MaxTokenTTLSeconds != 600 {
		t.Fatalf("valid PATCH: %d %+v", st, out)
	}
	var audit struct {
		Data []struct{ Action string } `json:"data"`
	}
	call(t, "GET", p.Admin+"/v1/audit?limit=5", p.RootKey, nil, &audit)
	if len(audit.Data) < 2 || audit.Data[0].Action != "app.tokens" || audit.Data[1].Action != "app.update" {
		t.Fatalf("audit after the PATCH: %+v", audit.Data)
	}
}
