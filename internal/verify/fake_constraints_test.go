package verify

import (
	"context"

	"github.com/typeauth/typeauth/internal/auth"
)

func (f *fakeStore) GetIdentity(ctx context.Context, id string) (*auth.Identity, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if i, ok := f.identities[id]; ok {
		c := *i
		return &c, nil
	}
	return nil, auth.ErrNotFound
}

func (f *fakeStore) RolesByName(ctx context.Context, names []string) ([]*auth.Role, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*auth.Role
	for _, n := range names {
		if r, ok := f.roles[n]; ok {
			out = append(out, r)
		}
	}
	return out, nil
}

func (f *fakeStore) OverridesOf(ctx context.Context, ns string) ([]*auth.RateLimitOverride, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.overrides[ns], nil
}
