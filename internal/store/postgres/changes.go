package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/typeauth/typeauth/internal/auth"
)

// changesChannel is the SQL expression of the NOTIFY channel of this
// schema: every commit that appends to the audit log notifies it, with
// "<seq> <target type> <target id>" as payload. Schemas sharing a database
// (tests, several deployments) do not hear each other. A channel name is at
// most 63 bytes.
const changesChannel = `left('typeauth:' || coalesce(current_schema(), ''), 63)`

// AuditHead returns the seq of the newest audit entry (0 when empty).
func (s *Store) AuditHead(ctx context.Context) (int64, error) {
	var seq int64
	err := s.pool.QueryRow(ctx, `SELECT seq FROM audit_head WHERE one = 1`).Scan(&seq)
	return seq, translate("audit head", err)
}

// AuditSince returns up to limit audit entries with seq > after, oldest
// first, with only Seq, Action, TargetType and TargetID filled: what a
// replica needs to evict what changed. Appends are serialised by the chain
// head lock, so entries commit in seq order and a reader that has seen seq
// n has seen every entry before it.
func (s *Store) AuditSince(ctx context.Context, after int64, limit int) ([]*auth.AuditEntry, error) {
	rows, err := s.pool.Query(ctx, `SELECT seq, action, target_type, target_id FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2`, after, limit)
	if err != nil {
		return nil, translate("audit since", err)
	}
	defer rows.Close()
	var out []*auth.AuditEntry
	for rows.Next() {
		e := &auth.AuditEntry{}
		if err := rows.Scan(&e.Seq, &e.Action, &e.TargetType, &e.TargetID); err != nil {
			return nil, translate("audit since", err)
		}
		out = append(out, e)
	}
	return out, translate("audit since", rows.Err())
}

// ListenChanges holds one dedicated connection (outside the pool) that
// LISTENs on this schema's change channel, calls ready once it listens,
// then notify(payload) for each notification, until ctx ends or the connection fails; it returns
// the error (nil when ctx ended). After idle without a notification it
// pings the server, so a silently dropped connection is noticed. Callers
// reconnect by calling it again.
func (s *Store) ListenChanges(ctx context.Context, idle time.Duration, ready func(), notify func(payload string)) error {
	cfg := s.pool.Config().ConnConfig.Copy()
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	conn, err := pgx.ConnectConfig(cctx, cfg)
	cancel()
	if err != nil {
		return translate("listen: connect", err)
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn.Close(closeCtx)
		cancel()
	}()
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	var channel string
	err = conn.QueryRow(qctx, `SELECT `+changesChannel).Scan(&channel)
	if err == nil {
		_, err = conn.Exec(qctx, `LISTEN `+pgx.Identifier{channel}.Sanitize())
	}
	cancel()
	if err != nil {
		return translate("listen", err)
	}
	ready()
	for {
		wctx, cancel := context.WithTimeout(ctx, idle)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			notify(n.Payload)
			continue
		case ctx.Err() != nil:
			return nil
		case wctx.Err() == nil:
			return translate("listen", err)
		}
		// Idle: make sure the connection is alive.
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err = conn.Ping(pctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("postgres: listen: %w: %w", auth.ErrUnavailable, err)
		}
	}
}
