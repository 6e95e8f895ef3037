package auth

import (
	"sort"
	"strings"
	"testing"
	"time"
)

func TestAllows(t *testing.T) {
	rk := func(scopes ...string) *RootKey { return &RootKey{Scopes: scopes} }
	revoked := time.Now()
	tests := []struct {
		name  string
		key   *RootKey
		scope string
		app   string
		want  bool
	}{
		{"all", rk("*"), ScopeKeysWrite, "app_1", true},
		{"exact", rk("keys.read"), ScopeKeysRead, "app_1", true},
		{"write implies read", rk("keys.write"), ScopeKeysRead, "", true},
		{"read does not imply write", rk("keys.read"), ScopeKeysWrite, "", false},
		{"narrowed, same app", rk("keys.write:app_1"), ScopeKeysWrite, "app_1", true},
		{"narrowed, other app", rk("keys.write:app_1"), ScopeKeysWrite, "app_2", false},
		{"narrowed, no app (list all)", rk("keys.read:app_1"), ScopeKeysRead, "", false},
		{"narrowed write implies narrowed read", rk("keys.write:app_1"), ScopeKeysRead, "app_1", true},
		{"other scope", rk("apps.read"), ScopeKeysRead, "", false},
		{"verify only", rk("verify"), ScopeAppsRead, "", false},
		{"revoked", &RootKey{Scopes: []string{"*"}, RevokedAt: &revoked}, ScopeAppsRead, "", false},
		{"nil", nil, ScopeAppsRead, "", false},
		{"prefix trick", rk("keys"), ScopeKeysRead, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.key.Allows(tt.scope, tt.app); got != tt.want {
				t.Fatalf("Allows(%q, %q) = %v", tt.scope, tt.app, got)
			}
		})
	}
}

func TestNewIDSortsByTime(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var ids []string
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		id := NewID("key", base.Add(time.Duration(i)*time.Millisecond))
		if !strings.HasPrefix(id, "key_") || len(id) != 4+26 || seen[id] {
			t.Fatalf("bad or duplicate id %q", id)
		}
		seen[id] = true
		ids = append(ids, id)
	}
	if !sort.StringsAreSorted(ids) {
		t.Fatal("ids made later do not sort after ids made earlier")
	}
}

func TestRefill(t *testing.T) {
	at := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	tests := []struct {
		iv   RefillInterval
		now  string
		want string
	}{
		{RefillDaily, "2026-03-05T23:59:59Z", "2026-03-05T00:00:00Z"},
		{RefillDaily, "2026-03-06T00:00:00Z", "2026-03-06T00:00:00Z"},
		{RefillMonthly, "2026-03-31T12:00:00Z", "2026-03-01T00:00:00Z"},
		{RefillMonthly, "2028-02-29T12:00:00Z", "2028-02-01T00:00:00Z"},
		{RefillMonthly, "2026-12-31T23:59:59-05:00", "2027-01-01T00:00:00Z"}, // UTC decides
	}
	for _, tt := range tests {
		if got := tt.iv.PeriodStart(at(tt.now)); !got.Equal(at(tt.want)) {
			t.Errorf("%s PeriodStart(%s) = %s, want %s", tt.iv, tt.now, got, tt.want)
		}
	}
	c := &Credits{Remaining: 3, RefillAmount: 10, RefillInterval: RefillDaily, LastRefillAt: at("2026-03-05T00:00:00Z")}
	if got := c.Effective(at("2026-03-05T18:00:00Z")); got != 3 {
		t.Errorf("same day: %d", got)
	}
	if got := c.Effective(at("2026-03-06T00:00:01Z")); got != 10 {
		t.Errorf("next day: %d", got)
	}
}

func TestAuditHashCoversEveryField(t *testing.T) {
	base := AuditEntry{Seq: 1, ID: "aud_1", Time: time.Unix(1, 0), ActorID: "rk_1", Action: "key.create",
		TargetType: "key", TargetID: "key_1", RemoteAddr: "127.0.0.1", Before: []byte(`{}`), After: []byte(`{"a":1}`)}
	h := base.ComputeHash()
	edits := map[string]func(e *AuditEntry){
		"seq": func(e *AuditEntry) { e.Seq = 2 }, "id": func(e *AuditEntry) { e.ID = "aud_2" },
		"time":   func(e *AuditEntry) { e.Time = e.Time.Add(time.Millisecond) },
		"actor":  func(e *AuditEntry) { e.ActorID = "rk_2" },
		"action": func(e *AuditEntry) { e.Action = "key.delete" },
		"type":   func(e *AuditEntry) { e.TargetType = "app" },
		"target": func(e *AuditEntry) { e.TargetID = "key_2" },
		"remote": func(e *AuditEntry) { e.RemoteAddr = "10.0.0.1" },
		"before": func(e *AuditEntry) { e.Before = []byte(`{"b":1}`) },
		"after":  func(e *AuditEntry) { e.After = []byte(`{"a":2}`) },
		"prev":   func(e *AuditEntry) { e.PrevHash[0] = 1 },
		// Moving bytes between adjacent fields must change the hash too.
		"boundary": func(e *AuditEntry) { e.TargetType, e.TargetID = "keyk", "ey_1" },
	}
	for name, edit := range edits {
		e := base
		edit(&e)
		if e.ComputeHash() == h {
			t.Errorf("editing %s does not change the hash", name)
		}
	}
}

func TestCodeStatus(t *testing.T) {
	want := map[Code]int{CodeValid: 200, CodeNotFound: 401, CodeMalformed: 401, CodeDisabled: 401, CodeExpired: 401,
		CodeInvalidSignature: 401, CodeInvalidClaims: 401, CodeForbidden: 403, CodeInsufficientPermissions: 403,
		CodeRateLimited: 429, CodeUsageExceeded: 429}
	for c, s := range want {
		if c.HTTPStatus() != s {
			t.Errorf("%s → %d, want %d", c, c.HTTPStatus(), s)
		}
	}
}
