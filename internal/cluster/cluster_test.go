package cluster

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/typeauth/typeauth/internal/auth"
)

// fakeLog is an in-memory change feed.
type fakeLog struct {
	mu      sync.Mutex
	entries []*auth.AuditEntry
	notify  chan string
	fail    bool
	dropped bool // notifications are lost
}

func (f *fakeLog) append(typ, id string) int64 {
	f.mu.Lock()
	seq := int64(len(f.entries) + 1)
	f.entries = append(f.entries, &auth.AuditEntry{Seq: seq, Action: typ + ".update", TargetType: typ, TargetID: id})
	dropped := f.dropped
	f.mu.Unlock()
	if !dropped {
		f.notify <- "n"
	}
	return seq
}

func (f *fakeLog) AuditHead(ctx context.Context) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return 0, auth.ErrUnavailable
	}
	return int64(len(f.entries)), nil
}

func (f *fakeLog) AuditSince(ctx context.Context, after int64, limit int) ([]*auth.AuditEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return nil, auth.ErrUnavailable
	}
	var out []*auth.AuditEntry
	for _, e := range f.entries {
		if e.Seq > after && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

func (f *fakeLog) ListenChanges(ctx context.Context, idle time.Duration, ready func(), notify func(string)) error {
	ready()
	for {
		select {
		case <-ctx.Done():
			return nil
		case p := <-f.notify:
			notify(p)
		}
	}
}

type evictions struct {
	mu   sync.Mutex
	keys []string
	all  int
	ch   chan struct{}
}

func (e *evictions) InvalidateKey(id string, _ ...[32]byte) {
	e.mu.Lock()
	e.keys = append(e.keys, id)
	e.mu.Unlock()
	e.ch <- struct{}{}
}

func (e *evictions) InvalidateAll() {
	e.mu.Lock()
	e.all++
	e.mu.Unlock()
	e.ch <- struct{}{}
}

func TestInvalidator(t *testing.T) {
	log := &fakeLog{notify: make(chan string, 100)}
	log.append("key", "key_before") // before start: not applied
	ev := &evictions{ch: make(chan struct{}, 100)}
	inv := New(log, ev, Options{PollInterval: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	wait, err := inv.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			cancel()
			wait()
		}
	}()
	waitN := func(n int, within time.Duration) {
		t.Helper()
		for range n {
			select {
			case <-ev.ch:
			case <-time.After(within):
				t.Fatalf("eviction not applied within %v", within)
			}
		}
	}
	// the listener's first wake-up reads nothing new
	log.append("key", "key_1")
	log.append("rootkey", "rk_1")
	log.append("identity", "id_1")
	log.append("app", "app_1")
	waitN(3, 2*time.Second) // key_1, identity (all), app (all); rootkey: nothing
	ev.mu.Lock()
	if len(ev.keys) != 1 || ev.keys[0] != "key_1" || ev.all != 2 {
		t.Fatalf("keys %v, all %d; want [key_1], 2", ev.keys, ev.all)
	}
	ev.mu.Unlock()
	if inv.Applied() != 5 {
		t.Fatalf("applied %d; want 5", inv.Applied())
	}

	// a lost notification is caught up by the poll
	inv2 := New(log, ev, Options{PollInterval: 50 * time.Millisecond})
	log.mu.Lock()
	log.dropped = true
	log.mu.Unlock()
	cancel()
	wait()
	stopped = true
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	wait2, err := inv2.Start(ctx2)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel2(); wait2() }()
	start := time.Now()
	log.append("key", "key_2")
	waitN(1, 2*time.Second)
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Fatalf("a lost notification took %v to apply; want about the poll interval", d)
	}

	// store down: nothing applied, then everything once it is back
	log.mu.Lock()
	log.fail = true
	log.mu.Unlock()
	log.mu.Lock()
	log.entries = append(log.entries, &auth.AuditEntry{Seq: int64(len(log.entries) + 1), TargetType: "key", TargetID: "key_3"})
	log.mu.Unlock()
	time.Sleep(150 * time.Millisecond)
	log.mu.Lock()
	log.fail = false
	log.mu.Unlock()
	waitN(1, 2*time.Second)
	ev.mu.Lock()
	if got := ev.keys[len(ev.keys)-1]; got != "key_3" {
		t.Fatalf("after the outage: %q evicted; want key_3", got)
	}
	ev.mu.Unlock()
}

func TestRewind(t *testing.T) {
	log := &fakeLog{notify: make(chan string, 100)}
	for range 5 {
		log.append("key", "k")
	}
	ev := &evictions{ch: make(chan struct{}, 100)}
	inv := New(log, ev, Options{PollInterval: 5 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	wait, err := inv.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); wait() }()
	log.mu.Lock()
	log.entries = log.entries[:2] // restored from an older backup
	log.mu.Unlock()
	select {
	case <-ev.ch:
	case <-time.After(2 * time.Second):
		t.Fatal("a rewound log did not empty the cache")
	}
	if inv.Applied() != 2 {
		t.Fatalf("applied %d after rewind; want 2", inv.Applied())
	}
}

func TestStartFailsWithoutStore(t *testing.T) {
	log := &fakeLog{notify: make(chan string), fail: true}
	if _, err := New(log, &evictions{}, Options{}).Start(context.Background()); !errors.Is(err, auth.ErrUnavailable) {
		t.Fatalf("Start = %v; want ErrUnavailable", err)
	}
}
