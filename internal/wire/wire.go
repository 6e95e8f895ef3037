// Package wire converts domain values to and from the JSON contract in the
// public client package. Management handlers, the audit log and the CLI all
// show the same shapes because they all come through here.
package wire

import (
	"encoding/hex"
	"net/netip"
	"time"

	"github.com/typeauth/typeauth/client"
	"github.com/typeauth/typeauth/internal/auth"
)

func App(a *auth.App) client.App {
	return client.App{ID: a.ID, Name: a.Name, KeyPrefix: a.KeyPrefix, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
}

func Credits(c *auth.Credits) *client.Credits {
	if c == nil {
		return nil
	}
	out := &client.Credits{Remaining: c.Remaining}
	if c.RefillAmount > 0 {
		out.Refill = &client.Refill{Amount: c.RefillAmount, Interval: string(c.RefillInterval)}
		if !c.LastRefillAt.IsZero() {
			t := c.LastRefillAt
			out.Refill.LastRefillAt = &t
		}
	}
	return out
}

func RateLimits(rl []auth.RateLimit) []client.RateLimit {
	out := make([]client.RateLimit, len(rl))
	for i, r := range rl {
		out[i] = client.RateLimit{Name: r.Name, Limit: r.Limit, DurationMs: r.Duration.Milliseconds(), AutoApply: r.AutoApply}
	}
	return out
}

func Key(k *auth.Key) client.Key {
	ips := make([]string, len(k.IPAllowlist))
	for i, p := range k.IPAllowlist {
		ips[i] = prefixString(p)
	}
	return client.Key{
		ID: k.ID, AppID: k.AppID, Name: k.Name, OwnerID: k.OwnerID, IdentityID: k.IdentityID,
		Meta: k.Meta, Enabled: k.Enabled, ExpiresAt: k.ExpiresAt, Credits: Credits(k.Credits),
		RateLimits: RateLimits(k.RateLimits), Permissions: nonNil(k.Permissions), Roles: nonNil(k.Roles),
		IPAllowlist: ips, Start: k.Start, CreatedAt: k.CreatedAt, UpdatedAt: k.UpdatedAt,
	}
}

// prefixString shows a single address without its /32 or /128.
func prefixString(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}

func RootKey(r *auth.RootKey) client.RootKey {
	return client.RootKey{ID: r.ID, Name: r.Name, Scopes: nonNil(r.Scopes), Start: r.Start, CreatedAt: r.CreatedAt, RevokedAt: r.RevokedAt}
}

func Audit(e *auth.AuditEntry) client.AuditEntry {
	return client.AuditEntry{
		ID: e.ID, Seq: e.Seq, Time: e.Time, ActorID: e.ActorID, Action: e.Action,
		TargetType: e.TargetType, TargetID: e.TargetID, RemoteAddr: e.RemoteAddr,
		Before: e.Before, After: e.After,
		PrevHash: hex.EncodeToString(e.PrevHash[:]), Hash: hex.EncodeToString(e.Hash[:]),
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// ParseIPs parses an allow list of addresses and CIDR prefixes.
func ParseIPs(in []string) ([]netip.Prefix, error) {
	if len(in) == 0 {
		return nil, nil
	}
	out := make([]netip.Prefix, 0, len(in))
	for _, s := range in {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, auth.Errorf(auth.ErrInvalid, "invalid_ip", "ip_allowlist: "+quote(s)+" is neither an IP address nor a CIDR prefix")
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// CreditsIn converts API credits to the domain.
func CreditsIn(c *client.Credits) (*auth.Credits, error) {
	if c == nil {
		return nil, nil
	}
	out := &auth.Credits{Remaining: c.Remaining}
	if c.Remaining < 0 {
		return nil, auth.Errorf(auth.ErrInvalid, "invalid_credits", "credits.remaining must be 0 or more")
	}
	if c.Refill != nil {
		if c.Refill.Amount <= 0 {
			return nil, auth.Errorf(auth.ErrInvalid, "invalid_credits", "credits.refill.amount must be more than 0")
		}
		iv := auth.RefillInterval(c.Refill.Interval)
		if iv != auth.RefillDaily && iv != auth.RefillMonthly {
			return nil, auth.Errorf(auth.ErrInvalid, "invalid_credits", `credits.refill.interval must be "daily" or "monthly"`)
		}
		out.RefillAmount, out.RefillInterval = c.Refill.Amount, iv
		if c.Refill.LastRefillAt != nil {
			out.LastRefillAt = c.Refill.LastRefillAt.UTC()
		}
	}
	return out, nil
}

// RateLimitsIn converts API rate limits to the domain.
func RateLimitsIn(in []client.RateLimit) ([]auth.RateLimit, error) {
	if len(in) == 0 {
		return nil, nil
	}
	out := make([]auth.RateLimit, len(in))
	seen := map[string]bool{}
	for i, r := range in {
		if r.Name == "" || len(r.Name) > 64 || seen[r.Name] {
			return nil, auth.Errorf(auth.ErrInvalid, "invalid_ratelimit", "ratelimits: each needs a unique name of 1-64 characters")
		}
		seen[r.Name] = true
		if r.Limit <= 0 || r.DurationMs <= 0 || r.DurationMs > int64(366*24*time.Hour/time.Millisecond) {
			return nil, auth.Errorf(auth.ErrInvalid, "invalid_ratelimit", "ratelimits: limit and duration_ms must be positive (duration at most a year)")
		}
		out[i] = auth.RateLimit{Name: r.Name, Limit: r.Limit, Duration: time.Duration(r.DurationMs) * time.Millisecond, AutoApply: r.AutoApply}
	}
	return out, nil
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return `"` + s + `"`
}

func Identity(i *auth.Identity) client.Identity {
	return client.Identity{ID: i.ID, AppID: i.AppID, ExternalID: i.ExternalID, Meta: i.Meta,
		RateLimits: RateLimits(i.RateLimits), Permissions: nonNil(i.Permissions), Roles: nonNil(i.Roles),
		CreatedAt: i.CreatedAt, UpdatedAt: i.UpdatedAt}
}

func Role(r *auth.Role) client.Role {
	return client.Role{ID: r.ID, Name: r.Name, Description: r.Description, Permissions: nonNil(r.Permissions),
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

func Override(o *auth.RateLimitOverride) client.RateLimitOverride {
	return client.RateLimitOverride{ID: o.ID, Namespace: o.Namespace, Identifier: o.Identifier, Limit: o.Limit,
		DurationMs: o.Duration.Milliseconds(), CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt}
}
