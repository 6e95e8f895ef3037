package verify

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/typeauth/typeauth/internal/auth"
)

const shards = 64

// entry is one cached answer of the store for one secret hash. It is
// immutable once published: an update replaces it.
type entry struct {
	key      *auth.Key    // nil: negative entry (no such secret)
	secret   *auth.Secret // the secret the hash belongs to
	loadedAt time.Time

	// Resolved at load: the identity, the effective permissions (the key's,
	// its roles', its identity's and the identity's roles'), and every rate
	// limit of the key and its identity with its bucket name.
	identity *auth.Identity
	perms    permSet
	limits   []limitDef
	tag      string // hash tag of the buckets: "{i:<identity id>}" or "{k:<key id>}"
}

// limitDef is one rate limit a verify may apply.
type limitDef struct {
	name   string
	bucket string // tag + "k\x00<key id>\x00<name>" or tag + "i\x00<identity id>\x00<name>"
	limit  int64
	window time.Duration
	auto   bool
}

// permSet answers "is this permission granted?" without allocating.
type permSet struct {
	exact map[string]struct{}
	// With wildcards on, a granted "documents.*" is stored as the prefix
	// "documents" and matches any permission below it; a granted "*"
	// matches everything.
	prefixes map[string]struct{}
	all      bool
	list     []string // sorted, for answers
}

func (p *permSet) has(perm string) bool {
	if _, ok := p.exact[perm]; ok || p.all {
		return true
	}
	if len(p.prefixes) == 0 {
		return false
	}
	for i := 0; i < len(perm); i++ {
		if perm[i] == '.' {
			if _, ok := p.prefixes[perm[:i]]; ok {
				return true
			}
		}
	}
	return false
}

type shard struct {
	mu sync.RWMutex
	m  map[[32]byte]*entry
}

// cache maps secret hashes to keys. Reads take one shard's read lock;
// inserts and invalidations are serialised by mu so that an answer loaded
// before an invalidation can never be published after it (gen).
type cache struct {
	shards      [shards]shard
	mu          sync.Mutex            // guards byKey, negatives and publication
	gen         atomic.Uint64         // bumped by every invalidation
	byKey       map[string][][32]byte // key id → cached hashes
	negatives   int                   // count of negative entries
	maxNegative int
}

func newCache(maxNegative int) *cache {
	c := &cache{byKey: make(map[string][][32]byte), maxNegative: maxNegative}
	for i := range c.shards {
		c.shards[i].m = make(map[[32]byte]*entry)
	}
	return c
}

func (c *cache) shard(h *[32]byte) *shard { return &c.shards[h[0]%shards] }

func (c *cache) get(h *[32]byte) *entry {
	s := c.shard(h)
	s.mu.RLock()
	e := s.m[*h]
	s.mu.RUnlock()
	return e
}

// put publishes e for h unless an invalidation happened since gen was read.
func (c *cache) put(h [32]byte, e *entry, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen.Load() != gen {
		return
	}
	if e.key == nil && c.negatives >= c.maxNegative {
		c.evictNegatives()
	}
	s := c.shard(&h)
	s.mu.Lock()
	old := s.m[h]
	if old != nil && old.key == nil {
		c.negatives--
	}
	if e.key == nil {
		c.negatives++
	}
	s.m[h] = e
	s.mu.Unlock()
	if e.key != nil && (old == nil || old.key == nil) {
		c.byKey[e.key.ID] = append(c.byKey[e.key.ID], h)
	}
}

// evictNegatives drops every negative entry of one shard in turn; called with
// c.mu held when the negative cache is full (an attacker spraying unknown
// well-formed keys costs store reads, never unbounded memory).
func (c *cache) evictNegatives() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for h, e := range s.m {
			if e.key == nil {
				delete(s.m, h)
				c.negatives--
			}
		}
		s.mu.Unlock()
		if c.negatives < c.maxNegative/2 {
			return
		}
	}
}

// drop removes h (called on an expired entry).
func (c *cache) drop(h [32]byte) {
	c.mu.Lock()
	c.gen.Add(1)
	c.deleteLocked(h)
	c.mu.Unlock()
}

func (c *cache) deleteLocked(h [32]byte) {
	s := c.shard(&h)
	s.mu.Lock()
	if e, ok := s.m[h]; ok {
		if e.key == nil {
			c.negatives--
		}
		delete(s.m, h)
	}
	s.mu.Unlock()
}

// invalidateKey removes every cached hash of a key, and the given hashes.
func (c *cache) invalidate(keyID string, hashes ...[32]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen.Add(1)
	if keyID != "" {
		for _, h := range c.byKey[keyID] {
			c.deleteLocked(h)
		}
		delete(c.byKey, keyID)
	}
	for _, h := range hashes {
		c.deleteLocked(h)
	}
}

func (c *cache) invalidateAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen.Add(1)
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		clear(s.m)
		s.mu.Unlock()
	}
	clear(c.byKey)
	c.negatives = 0
}

func (c *cache) len() (positive, negative int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n - c.negatives, c.negatives
}
