// Package cluster keeps the verify caches of several TypeAuth replicas that
// share one PostgreSQL store coherent: a change committed through any
// replica evicts what it touched from every replica's cache.
//
// # Design
//
// The audit log is the change feed. Every management write appends a
// hash-chained audit entry in the same transaction as the change, so an
// entry exists if and only if the change committed, and entries commit in
// seq order (appends are serialised by the chain head lock). The store
// also sends a PostgreSQL NOTIFY from that transaction, delivered to every
// listener when it commits.
//
// Each replica runs one Invalidator: a poll loop that reads the audit
// entries after the last seq it applied and evicts accordingly
//
//	key.*                              InvalidateKey(target id): every cached secret of the key
//	rootkey.*                          nothing (root keys are not cached by the verifier)
//	anything else (app, identity,      InvalidateAll (and stand-alone overrides)
//	role, ratelimit_override, rules)
//
// and a listener whose notifications wake the poll loop at once. A
// notification is only a wake-up: the loop always reads the log, so entries
// are applied exactly once, in order, and a lost notification (the
// listener's connection dropped, a restart) delays an eviction by at most
// one poll interval, never forever.
//
// Bound: while PostgreSQL is reachable, a change is evicted on every other
// replica within one notification round trip (milliseconds) and at worst
// PollInterval (+ one store query) after its commit. A replica cut off from
// PostgreSQL applies what it missed as soon as it can read the log again;
// meanwhile it serves cached keys for at most the verifier's stale window.
//
// A new key needs no eviction anywhere: its secret is random and was never
// verified before it existed, so no replica holds a negative entry for it.
// A rolled key's new secret is the same. (A key imported with a secret
// chosen outside TypeAuth would be seen by other replicas within
// --negative-cache-ttl.)
package cluster

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/typeauth/typeauth/internal/auth"
)

// Source is the change feed of a shared store (PostgreSQL implements it).
type Source interface {
	// AuditHead returns the seq of the newest audit entry.
	AuditHead(ctx context.Context) (int64, error)
	// AuditSince returns up to limit entries with seq > after, oldest
	// first (Seq, Action, TargetType and TargetID at least).
	AuditSince(ctx context.Context, after int64, limit int) ([]*auth.AuditEntry, error)
	// ListenChanges calls ready once it listens, then notify for each
	// change notification, until ctx ends (nil) or the connection fails
	// (the error).
	ListenChanges(ctx context.Context, idle time.Duration, ready func(), notify func(payload string)) error
}

// Evictor is the cache to keep coherent (the verifier).
type Evictor interface {
	InvalidateKey(keyID string, hashes ...[32]byte)
	InvalidateAll()
}

// Options tunes an Invalidator.
type Options struct {
	// PollInterval is how often the audit log is read without a
	// notification (default 500ms): the worst-case bound.
	PollInterval time.Duration
	// Timeout bounds each store query (default 2s).
	Timeout time.Duration
	// ListenIdle is how long the listener waits before checking its
	// connection (default 15s).
	ListenIdle time.Duration
	// Reconnect is the wait before the listener reconnects (default 1s).
	Reconnect time.Duration
	Logger    *slog.Logger
}

// batch is the most entries one query reads.
const batch = 1000

// Invalidator applies the change feed to an Evictor.
type Invalidator struct {
	src  Source
	ev   Evictor
	opt  Options
	wake chan struct{}

	applied   atomic.Int64 // last seq applied
	evictions atomic.Uint64
	listening atomic.Bool
	pollOK    atomic.Bool
}

// New returns an Invalidator; Run starts it.
func New(src Source, ev Evictor, opt Options) *Invalidator {
	if opt.PollInterval <= 0 {
		opt.PollInterval = 500 * time.Millisecond
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 2 * time.Second
	}
	if opt.ListenIdle <= 0 {
		opt.ListenIdle = 15 * time.Second
	}
	if opt.Reconnect <= 0 {
		opt.Reconnect = time.Second
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	return &Invalidator{src: src, ev: ev, opt: opt, wake: make(chan struct{}, 1)}
}

// Applied returns the seq of the last audit entry applied.
func (i *Invalidator) Applied() int64 { return i.applied.Load() }

// Evictions returns how many entries were applied.
func (i *Invalidator) Evictions() uint64 { return i.evictions.Load() }

// Listening reports whether the notification listener is connected.
func (i *Invalidator) Listening() bool { return i.listening.Load() }

// Start reads the current head of the log, so that only changes from now
// on are applied (the cache is empty at start), and then runs the poll
// loop and the listener in the background until ctx ends. The returned
// function waits for both to stop.
func (i *Invalidator) Start(ctx context.Context) (wait func(), err error) {
	hctx, cancel := context.WithTimeout(ctx, i.opt.Timeout)
	head, err := i.src.AuditHead(hctx)
	cancel()
	if err != nil {
		return nil, err
	}
	i.applied.Store(head)
	i.pollOK.Store(true)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); i.listen(ctx) }()
	go func() { defer wg.Done(); i.pollLoop(ctx) }()
	return wg.Wait, nil
}

func (i *Invalidator) listen(ctx context.Context) {
	wake := func() {
		select {
		case i.wake <- struct{}{}:
		default: // a wake-up is pending: it will read this change too
		}
	}
	failing := false
	ready := func() {
		i.listening.Store(true)
		if failing {
			i.opt.Logger.Info("change listener reconnected")
			failing = false
		}
		// Notifications sent while no listener was connected are lost:
		// read the log once now.
		wake()
	}
	for {
		err := i.src.ListenChanges(ctx, i.opt.ListenIdle, ready, func(string) { wake() })
		i.listening.Store(false)
		if ctx.Err() != nil {
			return
		}
		if !failing {
			i.opt.Logger.Warn("change listener lost; caches are reconciled by polling every "+i.opt.PollInterval.String()+" until it reconnects", "error", err)
			failing = true
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(i.opt.Reconnect):
		}
	}
}

func (i *Invalidator) pollLoop(ctx context.Context) {
	tk := time.NewTicker(i.opt.PollInterval)
	defer tk.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
		case <-i.wake:
		}
		i.poll(ctx, n%20 == 0)
	}
}

// poll applies every entry after the last one applied; with rewind, an
// empty answer also checks that the log did not go backwards.
func (i *Invalidator) poll(ctx context.Context, rewind bool) {
	for {
		qctx, cancel := context.WithTimeout(ctx, i.opt.Timeout)
		after := i.applied.Load()
		entries, err := i.src.AuditSince(qctx, after, batch)
		cancel()
		if err != nil {
			if ctx.Err() == nil && i.pollOK.CompareAndSwap(true, false) {
				i.opt.Logger.Warn("cannot read the change feed; cached keys are served for at most the stale window", "error", err)
			}
			return
		}
		if i.pollOK.CompareAndSwap(false, true) {
			i.opt.Logger.Info("change feed readable again", "from_seq", after)
		}
		for _, e := range entries {
			i.apply(e)
			i.applied.Store(e.Seq)
		}
		if len(entries) < batch {
			if len(entries) == 0 && rewind {
				i.checkRewind(ctx, after)
			}
			return
		}
	}
}

// checkRewind handles a log whose head went backwards (a store restored
// from a backup): everything may have changed.
func (i *Invalidator) checkRewind(ctx context.Context, after int64) {
	qctx, cancel := context.WithTimeout(ctx, i.opt.Timeout)
	head, err := i.src.AuditHead(qctx)
	cancel()
	if err != nil || head >= after {
		return
	}
	i.opt.Logger.Warn("the audit log is behind what this replica applied (store restored?): cache emptied", "applied", after, "head", head)
	i.ev.InvalidateAll()
	i.applied.Store(head)
}

// apply evicts what one audit entry changed.
func (i *Invalidator) apply(e *auth.AuditEntry) {
	i.evictions.Add(1)
	typ := e.TargetType
	if typ == "" {
		typ, _, _ = strings.Cut(e.Action, ".")
	}
	switch typ {
	case "key":
		i.ev.InvalidateKey(e.TargetID)
	case "rootkey":
	default:
		i.ev.InvalidateAll()
	}
}
