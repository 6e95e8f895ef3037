package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/typeauth/typeauth/internal/auth"
)

var _ auth.RuleStore = (*Store)(nil)

// Rules returns the stored rule set (version 0 and no rules when none was stored).
func (s *Store) Rules(ctx context.Context) (*auth.RuleSet, error) {
	var (
		rs    auth.RuleSet
		doc   []byte
		upd   int64
		noMat string
	)
	err := s.r.QueryRowContext(ctx, `SELECT version, no_match, rules, updated_at FROM rule_set WHERE one = 1`).
		Scan(&rs.Version, &noMat, &doc, &upd)
	if err != nil {
		return nil, translate("rules", err)
	}
	if err := json.Unmarshal(doc, &rs.Rules); err != nil {
		return nil, fmt.Errorf("sqlite: rules: stored document: %w: %w", auth.ErrUnavailable, err)
	}
	rs.NoMatch = noMat
	if upd != 0 {
		rs.UpdatedAt = time.UnixMilli(upd).UTC()
	}
	return &rs, nil
}

// RulesVersion returns the stored rule set version.
func (s *Store) RulesVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := s.r.QueryRowContext(ctx, `SELECT version FROM rule_set WHERE one = 1`).Scan(&v); err != nil {
		return 0, translate("rules version", err)
	}
	return v, nil
}

// ReplaceRules stores a new rule set version in one transaction with fn.
func (s *Store) ReplaceRules(ctx context.Context, rs *auth.RuleSet, expect int64, at time.Time, fn func(auth.Tx, *auth.RuleSet) error) error {
	doc, err := json.Marshal(nonNilRules(rs.Rules))
	if err != nil {
		return fmt.Errorf("sqlite: replace rules: %w", err)
	}
	noMatch := rs.NoMatch
	if noMatch == "" {
		noMatch = auth.NoMatchDeny
	}
	var next int64
	err = s.Tx(ctx, func(t auth.Tx) error {
		tt := t.(*tx)
		var (
			cur, prevAt int64
			prevNoMatch string
			prevDoc     []byte
		)
		if err := tt.tx.QueryRowContext(tt.ctx, `SELECT version, no_match, rules, updated_at FROM rule_set WHERE one = 1`).Scan(&cur, &prevNoMatch, &prevDoc, &prevAt); err != nil {
			return translate("replace rules", err)
		}
		if expect >= 0 && cur != expect {
			return auth.Errorf(auth.ErrConflict, "rules_version_conflict",
				fmt.Sprintf("the rule set is at version %d, not %d: read it again and retry", cur, expect))
		}
		if _, err := tt.tx.ExecContext(tt.ctx, `UPDATE rule_set SET version = ?, no_match = ?, rules = ?, updated_at = ? WHERE one = 1`,
			cur+1, noMatch, doc, at.UnixMilli()); err != nil {
			return translate("replace rules", err)
		}
		if fn != nil {
			prev := &auth.RuleSet{Version: cur, NoMatch: prevNoMatch}
			if prevAt != 0 {
				prev.UpdatedAt = time.UnixMilli(prevAt).UTC()
			}
			if err := json.Unmarshal(prevDoc, &prev.Rules); err != nil {
				return fmt.Errorf("replace rules: stored document: %w: %w", auth.ErrUnavailable, err)
			}
			if err := fn(t, prev); err != nil {
				return err
			}
		}
		next = cur + 1
		return nil
	})
	if err == nil {
		rs.Version, rs.NoMatch, rs.UpdatedAt = next, noMatch, at.UTC()
	}
	return err
}

func nonNilRules(r []auth.Rule) []auth.Rule {
	if r == nil {
		return []auth.Rule{}
	}
	return r
}
