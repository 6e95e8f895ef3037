// Package auth holds TypeAuth's domain: apps, keys, root keys, the audit log,
// verify outcomes and the storage contract every backend implements.
//
// It imports only the standard library; every other package depends on it.
package auth

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"time"
)

// Sentinel errors. Adapters translate driver errors into these; the HTTP and
// gRPC edges translate these into statuses, each in exactly one place.
var (
	ErrNotFound     = errors.New("not found")
	ErrConflict     = errors.New("conflict")
	ErrInvalid      = errors.New("invalid")
	ErrUnavailable  = errors.New("store unavailable")
	ErrUnauthorized = errors.New("unauthorized")
	ErrForbidden    = errors.New("forbidden")
)

// Error carries a stable machine code and a human message on top of a sentinel.
type Error struct {
	Kind    error  // one of the sentinels above
	Code    string // stable, snake_case (e.g. "key_prefix_taken")
	Message string
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.Kind }

// Errorf builds an *Error.
func Errorf(kind error, code, msg string) error { return &Error{Kind: kind, Code: code, Message: msg} }

// Code is a verify outcome. Exactly one is given per answer.
type Code string

const (
	CodeValid                   Code = "VALID"
	CodeNotFound                Code = "NOT_FOUND"
	CodeMalformed               Code = "MALFORMED"
	CodeDisabled                Code = "DISABLED"
	CodeExpired                 Code = "EXPIRED"
	CodeForbidden               Code = "FORBIDDEN"
	CodeInsufficientPermissions Code = "INSUFFICIENT_PERMISSIONS"
	CodeRateLimited             Code = "RATE_LIMITED"
	CodeUsageExceeded           Code = "USAGE_EXCEEDED"
	CodeInvalidSignature        Code = "INVALID_SIGNATURE"
	CodeInvalidClaims           Code = "INVALID_CLAIMS"
)

// HTTPStatus is the status a gateway answers the client with for this code.
func (c Code) HTTPStatus() int {
	switch c {
	case CodeValid:
		return 200
	case CodeForbidden, CodeInsufficientPermissions:
		return 403
	case CodeRateLimited, CodeUsageExceeded:
		return 429
	default:
		return 401
	}
}

// App is one protected API: a keyspace.
type App struct {
	ID        string
	Name      string
	KeyPrefix string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// RefillInterval names how often credits are refilled.
type RefillInterval string

const (
	RefillDaily   RefillInterval = "daily"
	RefillMonthly RefillInterval = "monthly"
)

// Credits is a key's usage limit.
type Credits struct {
	Remaining      int64
	RefillAmount   int64          // 0: no refill
	RefillInterval RefillInterval // "" when RefillAmount is 0
	LastRefillAt   time.Time      // start of the period last refilled (zero: never)
}

// PeriodStart returns the start (UTC) of the refill period that contains now.
func (i RefillInterval) PeriodStart(now time.Time) time.Time {
	now = now.UTC()
	switch i {
	case RefillDaily:
		return time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	case RefillMonthly:
		return time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	return time.Time{}
}

// Effective returns the remaining credits at now, with a due refill applied.
func (c *Credits) Effective(now time.Time) int64 {
	if c.RefillAmount > 0 && c.LastRefillAt.Before(c.RefillInterval.PeriodStart(now)) {
		return c.RefillAmount
	}
	return c.Remaining
}

// RateLimit is a named limit: Limit requests per Duration.
type RateLimit struct {
	Name      string
	Limit     int64
	Duration  time.Duration
	AutoApply bool
}

// Key is an API key. The secret itself is never part of it: only its hash.
type Key struct {
	ID          string
	AppID       string
	Name        string
	OwnerID     string
	IdentityID  string
	Meta        json.RawMessage // a JSON object, or nil
	Enabled     bool
	ExpiresAt   *time.Time
	Credits     *Credits // nil: unlimited
	RateLimits  []RateLimit
	Permissions []string
	Roles       []string
	IPAllowlist []netip.Prefix
	Start       string // first characters of the current secret, for display
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Secret is one hash under which a key can be found. A key has one current
// secret and, after a roll with a grace period, old ones that expire.
type Secret struct {
	Hash      [32]byte
	KeyID     string
	Start     string
	CreatedAt time.Time
	ExpiresAt *time.Time // nil: current secret
}

// Scope names for root keys. A scope may be narrowed to one app with
// ":<app id>" (e.g. "keys.write:app_123").
const (
	ScopeAll             = "*"
	ScopeAppsRead        = "apps.read"
	ScopeAppsWrite       = "apps.write"
	ScopeKeysRead        = "keys.read"
	ScopeKeysWrite       = "keys.write"
	ScopeVerify          = "verify"
	ScopeRootKeysRead    = "rootkeys.read"
	ScopeRootKeysWrite   = "rootkeys.write"
	ScopeAuditRead       = "audit.read"
	ScopeIdentitiesRead  = "identities.read"
	ScopeIdentitiesWrite = "identities.write"
	ScopeRolesRead       = "roles.read"
	ScopeRolesWrite      = "roles.write"
	ScopeRateLimitsRead  = "ratelimits.read"
	ScopeRateLimitsWrite = "ratelimits.write"
)

// KnownScopes lists the scope names a root key may carry.
var KnownScopes = []string{ScopeAll, ScopeAppsRead, ScopeAppsWrite, ScopeKeysRead, ScopeKeysWrite,
	ScopeVerify, ScopeRootKeysRead, ScopeRootKeysWrite, ScopeAuditRead, ScopeIdentitiesRead, ScopeIdentitiesWrite,
	ScopeRolesRead, ScopeRolesWrite, ScopeRateLimitsRead, ScopeRateLimitsWrite,
	ScopeSigningKeysRead, ScopeSigningKeysWrite, ScopeIssuersRead, ScopeIssuersWrite, ScopeKeysReveal}

// RootKey is a credential for the management API.
type RootKey struct {
	ID        string
	Name      string
	Scopes    []string
	Start     string
	CreatedAt time.Time
	RevokedAt *time.Time
}

// Allows reports whether the root key grants scope, for appID if not empty.
// "x.write" implies "x.read".
func (r *RootKey) Allows(scope, appID string) bool {
	if r == nil || r.RevokedAt != nil {
		return false
	}
	for _, s := range r.Scopes {
		if s == ScopeAll {
			return true
		}
		name, app, narrowed := cut(s, ':')
		if narrowed && (appID == "" || app != appID) {
			continue
		}
		if name == scope || (len(scope) > 5 && scope[len(scope)-5:] == ".read" && name == scope[:len(scope)-5]+".write") {
			return true
		}
	}
	return false
}

func cut(s string, sep byte) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// AuditEntry is one management change. Entries are hash-chained: Hash covers
// PrevHash and every other field, so editing or removing a row breaks the chain.
type AuditEntry struct {
	Seq        int64
	ID         string
	Time       time.Time
	ActorID    string // root key id, or "system"
	Action     string // e.g. "key.create"
	TargetType string
	TargetID   string
	RemoteAddr string
	Before     json.RawMessage
	After      json.RawMessage
	PrevHash   [32]byte
	Hash       [32]byte
}

// Page asks for one page of a listing.
type Page struct {
	Cursor string // opaque; "" for the first page
	Limit  int
}

// KeyFilter narrows a key listing.
type KeyFilter struct {
	AppID   string
	OwnerID string
}

// IdempotencyRecord is a stored answer to a create carrying an Idempotency-Key.
// Body is encrypted by the caller: a record may hold a secret.
type IdempotencyRecord struct {
	ID          [32]byte // derived from the caller's credential and Idempotency-Key
	RequestHash [32]byte
	Status      int
	Body        []byte
	CreatedAt   time.Time
}

// SpendResult is the outcome of SpendCredits.
type SpendResult struct {
	OK        bool  // the credits were durably spent (or cost was 0)
	Remaining int64 // remaining after the spend (or current, when not OK)
}

// Verifier-side view of a store: what the hot path needs on a cache miss.
type KeyReader interface {
	ConstraintReader
	// KeyBySecret returns the key whose current or unexpired old secret has
	// this hash, with that secret. Returns ErrNotFound if none.
	KeyBySecret(ctx context.Context, hash [32]byte) (*Key, *Secret, error)
	// SpendCredits atomically applies a due refill, then takes cost credits
	// from the key if enough remain. It returns only after the spend is
	// durable. Returns ErrNotFound if the key does not exist or has no credits.
	SpendCredits(ctx context.Context, keyID string, cost int64, now time.Time) (SpendResult, error)
}

// Store is the storage contract. Every backend asserts it at compile time and
// runs internal/store/storetest.
type Store interface {
	KeyReader
	RuleStore
	IdentityStore

	// Tx runs fn in one serializable unit: all its writes land, or none.
	// fn's error is returned as is. Returns ErrUnavailable if the store cannot
	// be reached.
	Tx(ctx context.Context, fn func(Tx) error) error

	GetApp(ctx context.Context, id string) (*App, error)          // ErrNotFound
	ListApps(ctx context.Context, p Page) ([]*App, string, error) // next cursor ("" at the end)
	GetKey(ctx context.Context, id string) (*Key, error)          // ErrNotFound
	ListKeys(ctx context.Context, f KeyFilter, p Page) ([]*Key, string, error)
	// SecretsOf returns every secret (current and old) of a key.
	SecretsOf(ctx context.Context, keyID string) ([]Secret, error)

	RootKeyByHash(ctx context.Context, hash [32]byte) (*RootKey, error) // ErrNotFound
	ListRootKeys(ctx context.Context, p Page) ([]*RootKey, string, error)
	CountRootKeys(ctx context.Context) (int, error)

	ListAudit(ctx context.Context, p Page) ([]*AuditEntry, string, error)
	// AuditChain calls fn for every audit entry in chain order.
	AuditChain(ctx context.Context, fn func(*AuditEntry) error) error

	GetIdempotency(ctx context.Context, id [32]byte) (*IdempotencyRecord, error) // ErrNotFound

	Ping(ctx context.Context) error
	Close() error

	TokenReader
}

// Tx is the write side of the store, used inside Store.Tx.
type Tx interface {
	IdentityTx
	GetApp(id string) (*App, error) // ErrNotFound
	InsertApp(a *App) error         // ErrConflict if the id or key prefix is taken
	UpdateApp(a *App) error         // ErrNotFound, ErrConflict
	DeleteApp(id string) error      // ErrNotFound; deletes its keys and their secrets

	GetKey(id string) (*Key, error) // ErrNotFound
	InsertKey(k *Key, s Secret) error
	UpdateKey(k *Key) error // ErrNotFound; Credits included
	DeleteKey(id string) error
	// InsertSecret adds a secret; ExpireSecrets sets expires_at on every
	// current secret of the key (deleting them when at is not after now).
	InsertSecret(s Secret) error
	ExpireSecrets(keyID string, at, now time.Time) error
	// AdjustCredits adds delta (may be negative; floors at 0) or, when set is
	// true, sets remaining to delta. ErrNotFound if the key has no credits.
	AdjustCredits(keyID string, delta int64, set bool) (int64, error)

	InsertRootKey(r *RootKey, hash [32]byte) error
	GetRootKey(id string) (*RootKey, error)
	RevokeRootKey(id string, at time.Time) error
	// LockActiveRootKeys counts the root keys not revoked, locking them
	// until the transaction ends, so that concurrent revocations cannot
	// together revoke the last one.
	LockActiveRootKeys() (int, error)

	// AppendAudit fills e.Seq, e.PrevHash and e.Hash and stores it at the
	// head of the chain.
	AppendAudit(e *AuditEntry) error

	// PutIdempotency stores a record; ErrConflict if its id exists.
	PutIdempotency(r *IdempotencyRecord) error

	TokenTx
}
