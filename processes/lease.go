package processes

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// A lease makes one process the active runner of a group (a process-manager
// subscription, the monitor, the orphan sweeper) among all processes that
// share a database. It is a session-level PostgreSQL advisory lock held on a
// dedicated connection: when the holder dies or its connection breaks,
// PostgreSQL releases the lock and another process takes over (failover).
type lease struct {
	name   string
	conn   *pgx.Conn
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

// leaseKey maps a lease name to its advisory lock key.
func leaseKey(name string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("webhost.processes/" + name))
	return int64(h.Sum64())
}

// leaser acquires leases.
type leaser struct {
	connConfig *pgx.ConnConfig
	holder     string
	acquire    time.Duration // retry interval while another process holds it
	heartbeat  time.Duration // liveness check of the lock connection
	logger     *slog.Logger
	now        func() time.Time
}

// acquire blocks until it holds the lease called name or ctx ends. The
// lease's Context is cancelled when the lease is lost or released.
func (l *leaser) acquireLease(ctx context.Context, name string) (*lease, error) {
	key := leaseKey(name)
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			_ = conn.Close(context.WithoutCancel(ctx))
		}
	}()
	for {
		if conn == nil {
			c, err := pgx.ConnectConfig(ctx, l.connConfig.Copy())
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				l.logger.Warn("lease: connect", "lease", name, "err", err)
			} else {
				conn = c
			}
		}
		if conn != nil {
			var got bool
			if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&got); err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				l.logger.Warn("lease: try lock", "lease", name, "err", err)
				_ = conn.Close(ctx)
				conn = nil
			} else if got {
				if _, err := conn.Exec(ctx, `INSERT INTO processes.leases (group_name, holder, acquired_at) VALUES ($1, $2, $3)
					ON CONFLICT (group_name) DO UPDATE SET holder = EXCLUDED.holder, acquired_at = EXCLUDED.acquired_at`,
					name, l.holder, l.now().UTC()); err != nil {
					l.logger.Warn("lease: record holder", "lease", name, "err", err)
				}
				lctx, cancel := context.WithCancel(ctx)
				ls := &lease{name: name, conn: conn, ctx: lctx, cancel: cancel, done: make(chan struct{})}
				conn = nil // owned by the lease now
				go l.watch(ls)
				l.logger.Info("lease acquired", "lease", name, "holder", l.holder)
				return ls, nil
			}
		}
		t := time.NewTimer(l.acquire)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// watch pings the lock connection; a failure means PostgreSQL may have
// released the lock, so the lease is lost.
func (l *leaser) watch(ls *lease) {
	defer close(ls.done)
	t := time.NewTicker(l.heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ls.ctx.Done():
			return
		case <-t.C:
			pctx, cancel := context.WithTimeout(ls.ctx, l.heartbeat*4+time.Second)
			err := ls.conn.Ping(pctx)
			cancel()
			if err != nil && ls.ctx.Err() == nil {
				l.logger.Error("lease lost", "lease", ls.name, "err", err)
				ls.cancel()
				return
			}
		}
	}
}

// Context is cancelled when the lease ends.
func (ls *lease) Context() context.Context { return ls.ctx }

// release unlocks and closes the connection. Safe to call once.
func (ls *lease) release() error {
	ls.cancel()
	<-ls.done
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var errs []error
	if _, err := ls.conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", leaseKey(ls.name)); err != nil {
		errs = append(errs, fmt.Errorf("unlock %s: %w", ls.name, err))
	}
	if err := ls.conn.Close(ctx); err != nil {
		errs = append(errs, fmt.Errorf("close lease connection %s: %w", ls.name, err))
	}
	return errors.Join(errs...)
}

// runLeased runs fn whenever this process holds the lease called name, until
// ctx ends: fn gets a context cancelled when the lease is lost, after which
// the lease is sought again.
func (l *leaser) runLeased(ctx context.Context, name string, fn func(ctx context.Context) error) {
	for ctx.Err() == nil {
		ls, err := l.acquireLease(ctx, name)
		if err != nil {
			return
		}
		if err := fn(ls.Context()); err != nil && ls.Context().Err() == nil {
			l.logger.Error("leased runner stopped", "lease", name, "err", err)
		}
		if err := ls.release(); err != nil {
			l.logger.Warn("lease release", "lease", name, "err", err)
		}
		if ctx.Err() == nil {
			t := time.NewTimer(l.acquire)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
		}
	}
}
