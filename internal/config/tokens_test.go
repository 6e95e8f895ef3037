package config

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTokenConfig(t *testing.T) {
	const mk = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=" // 1..32
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	c, err := Load(nil, env("TYPEAUTH_MASTER_KEY", mk), io.Discard)
	if err != nil || c.Tokens.MasterKey == nil || c.Tokens.MasterKey[0] != 1 || c.Tokens.MasterKey[31] != 32 {
		t.Fatalf("master key from env: %v", err)
	}
	if red := c.Redacted(); red.Tokens.MasterKey != nil || strings.Contains(fmt.Sprintf("%+v", red), "AQID") {
		t.Fatal("Redacted keeps the master key")
	}
	file := filepath.Join(t.TempDir(), "mk")
	os.WriteFile(file, []byte(mk+"\n"), 0o600)
	if c, err := Load([]string{"--master-key-file", file}, env(), io.Discard); err != nil || c.Tokens.MasterKey == nil {
		t.Fatalf("master key file: %v", err)
	}
	_, err = Load(nil, env("TYPEAUTH_MASTER_KEY", "c2hvcnQ="), io.Discard)
	if err == nil || strings.Contains(err.Error(), "c2hvcnQ") || !strings.Contains(err.Error(), "openssl rand -base64 32") {
		t.Fatalf("short master key: %v", err)
	}
	if _, err := Load([]string{"--dev-master-key", "--database-url", "postgres://x/y"}, env(), io.Discard); err == nil {
		t.Fatal("--dev-master-key with PostgreSQL accepted")
	}
	for _, args := range [][]string{{"--signing-key-alg", "HS256"}, {"--token-leeway", "10m"}, {"--issuer-url", "ftp://x"}, {"--token-max-ttl", "0s"}} {
		if _, err := Load(args, env(), io.Discard); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
	c, err = Load([]string{"--issuer-url", "https://auth.example.com/", "--signing-key-rotation", "0"}, env(), io.Discard)
	if err != nil || c.Tokens.IssuerURL != "https://auth.example.com" || c.Tokens.SigningKeyRotation != 0 {
		t.Fatalf("issuer url: %v %q", err, c.Tokens.IssuerURL)
	}
	if d := Defaults(); d.Validate() != nil || d.Tokens.MaxTTL == 0 {
		t.Fatal("defaults are not valid")
	}
}
