package manage

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/typeauth/typeauth/internal/auth"
)

func (s *Service) ListAudit(ctx context.Context, a Actor, p auth.Page) ([]*auth.AuditEntry, string, error) {
	if err := a.require(auth.ScopeAuditRead, ""); err != nil {
		return nil, "", err
	}
	return s.store.ListAudit(ctx, p)
}

// ChainReport is the result of checking the audit chain.
type ChainReport struct {
	OK      bool
	Checked int64
	Broken  *auth.AuditEntry // first entry that does not verify
	Reason  string
}

var errStop = errors.New("stop")

// VerifyAudit walks the audit chain from the first entry and reports the first
// entry whose sequence, link or hash is wrong: an edited, inserted or removed
// row breaks the chain there.
func (s *Service) VerifyAudit(ctx context.Context, a Actor) (*ChainReport, error) {
	if err := a.require(auth.ScopeAuditRead, ""); err != nil {
		return nil, err
	}
	return VerifyChain(ctx, s.store)
}

// VerifyChain checks the audit chain of a store.
func VerifyChain(ctx context.Context, st auth.Store) (*ChainReport, error) {
	r := &ChainReport{OK: true}
	var prev [32]byte
	err := st.AuditChain(ctx, func(e *auth.AuditEntry) error {
		want := r.Checked + 1
		switch {
		case e.Seq != want:
			r.Reason = fmt.Sprintf("sequence %d where %d was expected (an entry was removed or inserted)", e.Seq, want)
		case !bytes.Equal(e.PrevHash[:], prev[:]):
			r.Reason = "prev_hash does not match the hash of the entry before"
		case e.ComputeHash() != e.Hash:
			r.Reason = "hash does not match the entry's content (the entry was edited)"
		default:
			r.Checked++
			prev = e.Hash
			return nil
		}
		r.OK, r.Broken = false, e
		return errStop
	})
	if err != nil && !errors.Is(err, errStop) {
		return nil, err
	}
	return r, nil
}
