package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/typeauth/typeauth/internal/auth"
)

// Loader keeps a Decider's rule table current: from a rules file (polled for
// changes) or from the store (its version polled, so that a change made
// through another replica applies here within one poll interval). A reload
// that fails keeps the table in use and logs why.
type Loader struct {
	dec      *Decider
	store    auth.RuleStore
	file     string
	interval time.Duration
	log      *slog.Logger

	mtime time.Time
	size  int64
}

// NewLoader returns a loader. With file set, rules come from the file only.
func NewLoader(dec *Decider, store auth.RuleStore, file string, interval time.Duration, log *slog.Logger) *Loader {
	if interval <= 0 {
		interval = time.Second
	}
	return &Loader{dec: dec, store: store, file: file, interval: interval, log: log}
}

// FileManaged reports whether rules come from a file (the API cannot change them).
func (l *Loader) FileManaged() bool { return l.file != "" }

// Load installs the current rules once. At start-up, an error is fatal: a
// typo in the rules file must stop TypeAuth, not run it without its rules.
func (l *Loader) Load(ctx context.Context) error {
	if l.file != "" {
		_, err := l.loadFile(true)
		return err
	}
	return l.loadStore(ctx, true)
}

// Run polls until ctx is done.
func (l *Loader) Run(ctx context.Context) {
	t := time.NewTicker(l.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var err error
		if l.file != "" {
			_, err = l.loadFile(false)
		} else {
			err = l.loadStore(ctx, false)
		}
		if err != nil && ctx.Err() == nil {
			l.log.Error("route rules not reloaded; the previous rules stay in force", "error", err)
		}
	}
}

func (l *Loader) loadFile(force bool) (bool, error) {
	fi, err := os.Stat(l.file)
	if err != nil {
		return false, fmt.Errorf("rules file: %w", err)
	}
	if !force && fi.ModTime().Equal(l.mtime) && fi.Size() == l.size {
		return false, nil
	}
	f, err := os.Open(l.file)
	if err != nil {
		return false, fmt.Errorf("rules file: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxRulesBytes+1))
	f.Close()
	if err != nil {
		return false, fmt.Errorf("rules file: %w", err)
	}
	// Remember this version even if it is invalid: it is reported once, not
	// every second, and the next edit is picked up.
	l.mtime, l.size = fi.ModTime(), fi.Size()
	rs, _, err := ParseRules(data, l.file, false)
	if err != nil {
		return false, err
	}
	rs.UpdatedAt = fi.ModTime().UTC()
	t, err := Compile(rs, "file")
	if err != nil {
		return false, err
	}
	l.dec.SetTable(t)
	l.log.Info("route rules loaded", "source", l.file, "rules", len(rs.Rules), "no_match", rs.NoMatch)
	return true, nil
}

func (l *Loader) loadStore(ctx context.Context, force bool) error {
	if l.store == nil {
		return nil
	}
	cur := l.dec.Table()
	if !force {
		qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		v, err := l.store.RulesVersion(qctx)
		cancel()
		if err != nil {
			return fmt.Errorf("poll rules version: %w", err)
		}
		if v == cur.Version || (v == 0 && !cur.Configured) {
			return nil
		}
	}
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	rs, err := l.store.Rules(qctx)
	cancel()
	if err != nil {
		return fmt.Errorf("load rules: %w", err)
	}
	return l.Install(rs)
}

// Install compiles a stored rule set and installs it unless the table in use
// is already newer. Version 0 means none was ever stored: any valid key.
func (l *Loader) Install(rs *auth.RuleSet) error {
	if l.file != "" {
		return nil
	}
	var t *Table
	if rs.Version == 0 {
		t = EmptyTable()
	} else {
		var err error
		if t, err = Compile(rs, "store"); err != nil {
			return fmt.Errorf("stored rules version %d: %w", rs.Version, err)
		}
	}
	for {
		cur := l.dec.table.Load()
		if cur.Version > t.Version {
			return nil
		}
		if l.dec.table.CompareAndSwap(cur, t) {
			break
		}
	}
	l.log.Info("route rules loaded", "source", "store", "version", rs.Version, "rules", len(rs.Rules), "no_match", rs.NoMatch)
	return nil
}
