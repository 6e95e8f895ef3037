package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/typeauth/typeauth/internal/auth"
)

var errLast = errors.New("last root key")

// runRootKeyLock: two concurrent transactions, each revoking a different
// one of the two active root keys only if more than one is active, leave
// exactly one active.
func runRootKeyLock(t *testing.T, open Opener) {
	t.Run("LockActiveRootKeys", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ctx := context.Background()
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		ids := []string{auth.NewID("rk", t0), auth.NewID("rk", t0.Add(time.Millisecond))}
		if err := s.Tx(ctx, func(tx auth.Tx) error {
			for i, id := range ids {
				if err := tx.InsertRootKey(&auth.RootKey{ID: id, Name: "k", Scopes: []string{"*"}, CreatedAt: t0}, hashOf("lock"+id+string(rune('a'+i)))); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		for round := 0; round < 5; round++ {
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i := range ids {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = s.Tx(ctx, func(tx auth.Tx) error {
						n, err := tx.LockActiveRootKeys()
						if err != nil {
							return err
						}
						if n <= 1 {
							return errLast
						}
						time.Sleep(20 * time.Millisecond) // widen the race window
						return tx.RevokeRootKey(ids[i], t0)
					})
				}()
			}
			wg.Wait()
			if n, err := s.CountRootKeys(ctx); err != nil || n != 1 {
				t.Fatalf("round %d: %d active root keys (errors %v); want exactly 1", round, n, errs)
			}
			// Restore both for the next round through a fresh pair.
			if round < 4 {
				ids = []string{auth.NewID("rk", t0.Add(time.Duration(round+2)*time.Second)), auth.NewID("rk", t0.Add(time.Duration(round+2)*time.Second+time.Millisecond))}
				if err := s.Tx(ctx, func(tx auth.Tx) error {
					for i, id := range ids {
						if err := tx.InsertRootKey(&auth.RootKey{ID: id, Name: "k", Scopes: []string{"*"}, CreatedAt: t0}, hashOf("lock"+id+string(rune('a'+i)))); err != nil {
							return err
						}
					}
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				// Revoke the survivor of the previous round so that two are active.
				var survivor string
				keys, _, _ := s.ListRootKeys(ctx, auth.Page{Limit: 1000})
				for _, k := range keys {
					if k.RevokedAt == nil && k.ID != ids[0] && k.ID != ids[1] {
						survivor = k.ID
					}
				}
				if err := s.Tx(ctx, func(tx auth.Tx) error { return tx.RevokeRootKey(survivor, t0) }); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}
