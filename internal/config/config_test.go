package config

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c, err := Load(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:8080" || c.AdminAddr != "127.0.0.1:8081" || c.DataDir != "./typeauth-data" || c.DatabaseURL != "" {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestFlagsOverEnv(t *testing.T) {
	c, err := Load([]string{"--addr", "127.0.0.1:9000", "--cache-ttl", "1m"}, env(map[string]string{
		"TYPEAUTH_ADDR": "127.0.0.1:7000", "TYPEAUTH_ADMIN_ADDR": "127.0.0.1:7001",
		"TYPEAUTH_DATABASE_URL": "postgres://u:secret@db/x", "TYPEAUTH_ROOT_KEY": "root-key-from-env-0123456",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9000" || c.AdminAddr != "127.0.0.1:7001" || c.CacheTTL != time.Minute || c.RootKey != "root-key-from-env-0123456" {
		t.Fatalf("%+v", c)
	}
	r := c.Redacted()
	if strings.Contains(r.DatabaseURL, "secret") || r.RootKey == c.RootKey {
		t.Fatalf("Redacted leaks: %+v", r)
	}
}

func TestRootKeyFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "root")
	os.WriteFile(f, []byte("root-key-from-file-012345\n"), 0o600)
	c, err := Load(nil, env(map[string]string{"TYPEAUTH_ROOT_KEY_FILE": f}), io.Discard)
	if err != nil || c.RootKey != "root-key-from-file-012345" {
		t.Fatalf("%q %v", c.RootKey, err)
	}
}

func TestInvalid(t *testing.T) {
	tests := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--addr", "nope"}, nil, "--addr"},
		{[]string{"--admin-addr", "127.0.0.1:8080"}, nil, "must differ"},
		{[]string{"--database-url", "mysql://x"}, nil, "postgres://"},
		{[]string{"--log-format", "xml"}, nil, "--log-format"},
		{[]string{"--log-level", "loud"}, nil, "--log-level"},
		{nil, map[string]string{"TYPEAUTH_CACHE_TTL": "soon"}, "--cache-ttl"},
		{[]string{"--redis-url", "http://127.0.0.1:6379"}, nil, "--redis-url"},
		{[]string{"--redis-prefix", "a{b}"}, nil, "--redis-prefix"},
		{[]string{"--redis-failure-policy", "open"}, nil, "--redis-failure-policy"},
		{[]string{"--replicas", "0"}, nil, "--replicas"},
		{nil, map[string]string{"TYPEAUTH_REPLICAS": "many"}, "--replicas"},
		{[]string{"--stale-window", "-1s"}, nil, "--stale-window"},
		{[]string{"--invalidation-poll", "1ms"}, nil, "--invalidation-poll"},
		{[]string{"extra"}, nil, "unexpected argument"},
		{[]string{"--no-such-flag"}, nil, "not defined"},
	}
	for _, tt := range tests {
		_, err := Load(tt.args, env(tt.env), io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Load(%v, %v) = %v, want an error mentioning %q", tt.args, tt.env, err, tt.want)
		}
	}
}
