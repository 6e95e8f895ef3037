package manage

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/typeauth/typeauth/internal/auth"
)

// Route rules are app configuration: reading them needs apps.read, replacing
// them apps.write, both for every app (a rule set spans apps).

// GetRules returns the stored rule set.
func (s *Service) GetRules(ctx context.Context, a Actor) (*auth.RuleSet, error) {
	if err := a.require(auth.ScopeAppsRead, ""); err != nil {
		return nil, err
	}
	return s.store.Rules(ctx)
}

// ReplaceRules replaces the whole ordered rule set, audited as
// "rules.replace" with the previous and new documents. rs must be validated
// by the caller. expect, when not negative, is the version the change is based
// on: ErrConflict (rules_version_conflict) if the stored one moved since.
func (s *Service) ReplaceRules(ctx context.Context, a Actor, rs *auth.RuleSet, expect int64) (*auth.RuleSet, error) {
	if err := a.require(auth.ScopeAppsWrite, ""); err != nil {
		return nil, err
	}
	err := s.store.ReplaceRules(ctx, rs, expect, s.clock(), func(tx auth.Tx, prev *auth.RuleSet) error {
		next := *rs
		next.Version = prev.Version + 1
		return s.audit(tx, a, "rules.replace", "rules", strconv.FormatInt(next.Version, 10), rulesDoc(prev), rulesDoc(&next))
	})
	if err != nil {
		return nil, err
	}
	return rs, nil
}

type rulesAudit struct {
	Version int64       `json:"version"`
	NoMatch string      `json:"no_match"`
	Rules   []auth.Rule `json:"rules"`
}

func rulesDoc(rs *auth.RuleSet) json.RawMessage {
	r := rs.Rules
	if r == nil {
		r = []auth.Rule{}
	}
	b, _ := json.Marshal(rulesAudit{Version: rs.Version, NoMatch: rs.NoMatch, Rules: r})
	return b
}
