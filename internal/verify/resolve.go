package verify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/typeauth/typeauth/internal/auth"
	"github.com/typeauth/typeauth/internal/permquery"
)

// resolve completes a loaded key with its identity, effective permissions
// and rate limits, so that a verify from the cache needs no store call.
func (v *Verifier) resolve(ctx context.Context, e *entry) error {
	k := e.key
	var roleNames []string
	roleNames = append(roleNames, k.Roles...)
	if k.IdentityID != "" {
		id, err := v.store.GetIdentity(ctx, k.IdentityID)
		switch {
		case errors.Is(err, auth.ErrNotFound):
			// Deleted since the key was read: the key is unlinked.
		case err != nil:
			return fmt.Errorf("load identity: %w", err)
		default:
			e.identity = id
			roleNames = append(roleNames, id.Roles...)
		}
	}
	granted := slices.Clone(k.Permissions)
	if e.identity != nil {
		granted = append(granted, e.identity.Permissions...)
	}
	if len(roleNames) > 0 {
		slices.Sort(roleNames)
		roles, err := v.store.RolesByName(ctx, slices.Compact(roleNames))
		if err != nil {
			return fmt.Errorf("load roles: %w", err)
		}
		for _, r := range roles {
			granted = append(granted, r.Permissions...)
		}
	}
	e.perms = newPermSet(granted, v.opt.PermissionWildcards)
	// Bucket keys carry a Redis hash tag naming the slot owner: the
	// identity when the key has one, else the key, so that every bucket of
	// one verify shares one cluster slot (see package redislimiter).
	e.tag = "{k:" + k.ID + "}"
	if e.identity != nil {
		e.tag = "{i:" + e.identity.ID + "}"
	}
	add := func(kind byte, owner string, rl []auth.RateLimit) {
		for _, l := range rl {
			e.limits = append(e.limits, limitDef{name: l.Name, bucket: e.tag + string(kind) + "\x00" + owner + "\x00" + l.Name,
				limit: l.Limit, window: l.Duration, auto: l.AutoApply})
		}
	}
	add('k', k.ID, k.RateLimits)
	if e.identity != nil {
		add('i', e.identity.ID, e.identity.RateLimits)
	}
	return nil
}

func newPermSet(granted []string, wildcards bool) permSet {
	slices.Sort(granted)
	granted = slices.Compact(granted)
	p := permSet{list: granted}
	if len(granted) == 0 {
		return p // most keys: no map at all
	}
	p.exact = make(map[string]struct{}, len(granted))
	for _, g := range granted {
		p.exact[g] = struct{}{}
		if !wildcards {
			continue
		}
		switch {
		case g == "*":
			p.all = true
		case strings.HasSuffix(g, ".*"):
			if p.prefixes == nil {
				p.prefixes = make(map[string]struct{})
			}
			p.prefixes[strings.TrimSuffix(g, ".*")] = struct{}{}
		}
	}
	return p
}

// queryCache keeps parsed permission queries: gateways send the same few
// queries over and over. It stops growing at maxQueries.
type queryCache struct {
	m sync.Map // string → *permquery.Query
	n atomic.Int64
}

const maxQueries = 4096

func (c *queryCache) parse(q string) (*permquery.Query, error) {
	if v, ok := c.m.Load(q); ok {
		return v.(*permquery.Query), nil
	}
	parsed, err := permquery.Parse(q)
	if err != nil {
		var se *permquery.SyntaxError
		if errors.As(err, &se) {
			return nil, auth.Errorf(auth.ErrInvalid, "invalid_permission_query", "permissions: "+se.Error())
		}
		return nil, auth.Errorf(auth.ErrInvalid, "invalid_permission_query", "permissions: "+err.Error())
	}
	if c.n.Add(1) <= maxQueries {
		c.m.Store(q, parsed)
	}
	return parsed, nil
}
