package projections

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/webhost-systems/webhost/eventstore"
)

// ManagerConfig configures a Manager.
type ManagerConfig struct {
	// Pool holds the read models. Required.
	Pool *pgxpool.Pool
	// Store is the event log replayed. Required.
	Store eventstore.Store
	// Projections managed (default All()).
	Projections []*Projection
	// BatchSize is the number of events read and applied per transaction
	// during a replay (default 1000).
	BatchSize int
	Logger    *slog.Logger
}

func (c *ManagerConfig) setDefaults() {
	if c.Projections == nil {
		c.Projections = All()
	}
	if c.BatchSize == 0 {
		c.BatchSize = 1000
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports a configuration that cannot work.
func (c ManagerConfig) Validate() error {
	if c.Pool == nil || c.Store == nil {
		return errors.New("projections: ManagerConfig needs Pool and Store")
	}
	if c.BatchSize < 1 {
		return errors.New("projections: ManagerConfig.BatchSize must be at least 1")
	}
	seen := map[string]bool{}
	for _, p := range c.Projections {
		if err := p.Validate(); err != nil {
			return err
		}
		if seen[p.Name] {
			return fmt.Errorf("%w: %s listed twice", ErrInvalidProjection, p.Name)
		}
		seen[p.Name] = true
	}
	return nil
}

// Manager installs, rebuilds and verifies projections.
type Manager struct {
	cfg ManagerConfig
}

// NewManager validates cfg and returns a Manager.
func NewManager(cfg ManagerConfig) (*Manager, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Manager{cfg: cfg}, nil
}

// Projections returns the managed projections.
func (m *Manager) Projections() []*Projection { return m.cfg.Projections }

// Lookup returns the managed projection called name, or an error matching
// ErrUnknownProjection.
func (m *Manager) Lookup(name string) (*Projection, error) {
	for _, p := range m.cfg.Projections {
		if p.Name == name {
			return p, nil
		}
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownProjection, name)
}

func lockKey(label string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(label))
	return int64(h.Sum64())
}

// withSessionLock runs f while holding a session advisory lock, on a
// connection of its own.
func (m *Manager) withSessionLock(ctx context.Context, label string, f func() error) error {
	pc, err := m.cfg.Pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire lock connection: %w", err)
	}
	conn := pc.Hijack()
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, lockKey(label)); err != nil {
		return fmt.Errorf("advisory lock %s: %w", label, err)
	}
	return f()
}

// Ensure installs every projection whose tables are missing (an empty
// checkpoint), and rebuilds every projection whose stored version differs
// from its code. Concurrent calls from several processes are serialised.
func (m *Manager) Ensure(ctx context.Context) error {
	var stale []*Projection
	err := m.withSessionLock(ctx, "webhost.projections:ensure", func() error {
		for _, p := range m.cfg.Projections {
			var version int
			err := m.cfg.Pool.QueryRow(ctx, `SELECT version FROM projections.checkpoints WHERE name = $1`, p.Name).Scan(&version)
			switch {
			case errors.Is(err, pgx.ErrNoRows):
				if err := m.install(ctx, p); err != nil {
					return err
				}
				m.cfg.Logger.Info("projection installed", "projection", p.Name, "schema", p.Schema, "version", p.Version)
			case err != nil:
				return fmt.Errorf("projection %s: read version: %w", p.Name, err)
			case version != p.Version:
				stale = append(stale, p)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, p := range stale {
		m.cfg.Logger.Warn("projection version changed; rebuilding", "projection", p.Name, "version", p.Version)
		if err := m.Rebuild(ctx, p.Name); err != nil {
			return err
		}
	}
	return nil
}

func (m *Manager) install(ctx context.Context, p *Projection) error {
	return pgx.BeginFunc(ctx, m.cfg.Pool, func(tx pgx.Tx) error {
		if err := dropObjects(ctx, tx, p, p.Schema); err != nil {
			return err
		}
		if err := createObjects(ctx, tx, p, p.Schema); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO projections.checkpoints (name, position, version) VALUES ($1, '', $2)`, p.Name, p.Version)
		if err != nil {
			return fmt.Errorf("projection %s: checkpoint: %w", p.Name, err)
		}
		return nil
	})
}

func dropObjects(ctx context.Context, tx pgx.Tx, p *Projection, schema string) error {
	for _, v := range p.Views {
		if _, err := tx.Exec(ctx, "DROP VIEW IF EXISTS "+ident(schema)+"."+ident(v)+" CASCADE"); err != nil {
			return fmt.Errorf("projection %s: drop view %s.%s: %w", p.Name, schema, v, err)
		}
	}
	for _, t := range p.Tables {
		if _, err := tx.Exec(ctx, "DROP TABLE IF EXISTS "+ident(schema)+"."+ident(t)+" CASCADE"); err != nil {
			return fmt.Errorf("projection %s: drop table %s.%s: %w", p.Name, schema, t, err)
		}
	}
	return nil
}

func createObjects(ctx context.Context, tx pgx.Tx, p *Projection, schema string) error {
	if _, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+ident(schema)); err != nil {
		return fmt.Errorf("projection %s: create schema %s: %w", p.Name, schema, err)
	}
	if _, err := tx.Exec(ctx, "SET LOCAL search_path TO "+ident(schema)); err != nil {
		return fmt.Errorf("projection %s: search_path: %w", p.Name, err)
	}
	if _, err := tx.Exec(ctx, p.DDL); err != nil {
		return fmt.Errorf("projection %s: create tables in %s: %w", p.Name, schema, err)
	}
	if _, err := tx.Exec(ctx, "RESET search_path"); err != nil {
		return fmt.Errorf("projection %s: search_path: %w", p.Name, err)
	}
	return nil
}

// prepareShadow creates p's tables in an empty shadow schema with a fresh
// shadow checkpoint.
func (m *Manager) prepareShadow(ctx context.Context, p *Projection) error {
	shadow := p.shadowSchema()
	return pgx.BeginFunc(ctx, m.cfg.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "DROP SCHEMA IF EXISTS "+ident(shadow)+" CASCADE"); err != nil {
			return fmt.Errorf("projection %s: drop shadow: %w", p.Name, err)
		}
		if err := createObjects(ctx, tx, p, shadow); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO projections.checkpoints (name, position, version) VALUES ($1, '', $2)
			ON CONFLICT (name) DO UPDATE SET position = '', version = $2, events_applied = 0, updated_at = now()`, p.shadowCheckpoint(), p.Version)
		if err != nil {
			return fmt.Errorf("projection %s: shadow checkpoint: %w", p.Name, err)
		}
		return nil
	})
}

func (m *Manager) dropShadow(ctx context.Context, p *Projection) error {
	return pgx.BeginFunc(ctx, m.cfg.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "DROP SCHEMA IF EXISTS "+ident(p.shadowSchema())+" CASCADE"); err != nil {
			return fmt.Errorf("projection %s: drop shadow: %w", p.Name, err)
		}
		_, err := tx.Exec(ctx, `DELETE FROM projections.checkpoints WHERE name = $1`, p.shadowCheckpoint())
		return err
	})
}

// replay applies the log to p's shadow, page by page, up to until (or to
// the head when until is nil). When tx is nil every page commits on its
// own; otherwise everything happens inside tx. It returns the events
// applied.
func (m *Manager) replay(ctx context.Context, tx pgx.Tx, p *Projection, until *eventstore.Position) (int, error) {
	if tx == nil {
		return m.replayAhead(ctx, p, until)
	}
	total := 0
	for {
		var cp eventstore.Position
		var err error
		if tx != nil {
			cp, err = Checkpoint(ctx, tx, p.shadowCheckpoint())
		} else {
			cp, err = Checkpoint(ctx, m.cfg.Pool, p.shadowCheckpoint())
		}
		if err != nil {
			return total, err
		}
		if until != nil && !cp.Before(*until) {
			return total, nil
		}
		page, err := m.cfg.Store.ReadAll(ctx, eventstore.ReadAllOptions{After: cp, Limit: m.cfg.BatchSize})
		if err != nil {
			return total, fmt.Errorf("projection %s: read log: %w", p.Name, err)
		}
		if until != nil {
			n := 0
			for n < len(page) && !until.Before(page[n].Position) {
				n++
			}
			page = page[:n]
		}
		if len(page) == 0 {
			return total, nil
		}
		apply := func(tx pgx.Tx) error {
			res, err := applyBatch(ctx, tx, p, p.shadowSchema(), p.shadowCheckpoint(), page)
			total += res.applied
			return err
		}
		if tx != nil {
			// A savepoint keeps search_path changes local to the page.
			err = pgx.BeginFunc(ctx, tx, apply)
		} else {
			err = pgx.BeginFunc(ctx, m.cfg.Pool, apply)
		}
		if err != nil {
			return total, err
		}
	}
}

// replayAhead is replay outside a transaction, reading the next page of
// the log while the current one is applied.
func (m *Manager) replayAhead(ctx context.Context, p *Projection, until *eventstore.Position) (int, error) {
	cp, err := Checkpoint(ctx, m.cfg.Pool, p.shadowCheckpoint())
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pages := make(chan []eventstore.RecordedEvent, 2)
	readErr := make(chan error, 1)
	go func() {
		defer close(pages)
		after := cp
		for {
			if until != nil && !after.Before(*until) {
				return
			}
			page, err := m.cfg.Store.ReadAll(ctx, eventstore.ReadAllOptions{After: after, Limit: m.cfg.BatchSize})
			if err != nil {
				readErr <- fmt.Errorf("projection %s: read log: %w", p.Name, err)
				return
			}
			full := len(page)
			if until != nil {
				n := 0
				for n < len(page) && !until.Before(page[n].Position) {
					n++
				}
				page = page[:n]
			}
			if len(page) == 0 {
				return
			}
			select {
			case pages <- page:
			case <-ctx.Done():
				return
			}
			if len(page) < full {
				return
			}
			after = page[len(page)-1].Position
		}
	}()
	total := 0
	for page := range pages {
		err := pgx.BeginFunc(ctx, m.cfg.Pool, func(tx pgx.Tx) error {
			res, err := applyBatch(ctx, tx, p, p.shadowSchema(), p.shadowCheckpoint(), page)
			total += res.applied
			return err
		})
		if err != nil {
			cancel()
			for range pages {
			}
			return total, err
		}
	}
	select {
	case err := <-readErr:
		return total, err
	default:
		return total, nil
	}
}

// ensureLiveCheckpoint makes sure p is installed.
func (m *Manager) ensureLiveCheckpoint(ctx context.Context, p *Projection) error {
	var n int
	if err := m.cfg.Pool.QueryRow(ctx, `SELECT count(*) FROM projections.checkpoints WHERE name = $1`, p.Name).Scan(&n); err != nil {
		return fmt.Errorf("projection %s: %w", p.Name, err)
	}
	if n == 0 {
		return m.install(ctx, p)
	}
	return nil
}

// Rebuild replays projection name from the start of the log into a shadow
// schema, catches up with the log, and then, in one transaction that holds
// the projection's checkpoint row (so the live runner pauses), applies the
// last events, replaces the live tables with the shadow's and moves the
// checkpoint. Readers keep reading the old tables until that transaction
// commits. Errors match ErrUnknownProjection or ErrCannotApply.
func (m *Manager) Rebuild(ctx context.Context, name string) error {
	p, err := m.Lookup(name)
	if err != nil {
		return err
	}
	log := m.cfg.Logger.With("projection", name)
	return m.withSessionLock(ctx, "webhost.projections:shadow:"+name, func() error {
		if err := m.ensureLiveCheckpoint(ctx, p); err != nil {
			return err
		}
		if err := m.prepareShadow(ctx, p); err != nil {
			return err
		}
		n, err := m.replay(ctx, nil, p, nil)
		if err != nil {
			_ = m.dropShadow(context.WithoutCancel(ctx), p)
			return err
		}
		log.Info("projection replayed into shadow", "events", n, "schema", p.shadowSchema())
		err = pgx.BeginFunc(ctx, m.cfg.Pool, func(tx pgx.Tx) error {
			if _, err := lockCheckpoint(ctx, tx, p.Name); err != nil {
				return err
			}
			more, err := m.replay(ctx, tx, p, nil)
			if err != nil {
				return err
			}
			pos, err := Checkpoint(ctx, tx, p.shadowCheckpoint())
			if err != nil {
				return err
			}
			if err := dropObjects(ctx, tx, p, p.Schema); err != nil {
				return err
			}
			for _, t := range p.Tables {
				if _, err := tx.Exec(ctx, "ALTER TABLE "+ident(p.shadowSchema())+"."+ident(t)+" SET SCHEMA "+ident(p.Schema)); err != nil {
					return fmt.Errorf("projection %s: swap table %s: %w", p.Name, t, err)
				}
			}
			for _, v := range p.Views {
				if _, err := tx.Exec(ctx, "ALTER VIEW "+ident(p.shadowSchema())+"."+ident(v)+" SET SCHEMA "+ident(p.Schema)); err != nil {
					return fmt.Errorf("projection %s: swap view %s: %w", p.Name, v, err)
				}
			}
			if _, err := tx.Exec(ctx, `UPDATE projections.checkpoints c SET position = $2, version = $3,
				events_applied = (SELECT events_applied FROM projections.checkpoints WHERE name = $4), updated_at = now() WHERE name = $1`,
				p.Name, pos.String(), p.Version, p.shadowCheckpoint()); err != nil {
				return fmt.Errorf("projection %s: move checkpoint: %w", p.Name, err)
			}
			if _, err := tx.Exec(ctx, `DELETE FROM projections.checkpoints WHERE name = $1`, p.shadowCheckpoint()); err != nil {
				return fmt.Errorf("projection %s: drop shadow checkpoint: %w", p.Name, err)
			}
			if _, err := tx.Exec(ctx, "DROP SCHEMA "+ident(p.shadowSchema())+" CASCADE"); err != nil {
				return fmt.Errorf("projection %s: drop shadow schema: %w", p.Name, err)
			}
			log.Info("projection swapped in", "position", pos.String(), "final_events", more)
			return nil
		})
		if err != nil {
			_ = m.dropShadow(context.WithoutCancel(ctx), p)
		}
		return err
	})
}

// Difference is one table whose live rows differ from a replay.
type Difference struct {
	Projection string `json:"projection"`
	Table      string `json:"table"`
	// OnlyLive and OnlyReplay count rows found on one side only.
	OnlyLive   int64 `json:"only_live"`
	OnlyReplay int64 `json:"only_replay"`
	// Detail explains differences that are not about rows (version).
	Detail string `json:"detail,omitempty"`
}

// Verify replays every projection into a shadow schema up to the live
// checkpoint and compares every table with the live one, row by row. It
// returns the differences (none means the live read models equal a full
// replay).
func (m *Manager) Verify(ctx context.Context) ([]Difference, error) {
	var diffs []Difference
	for _, p := range m.cfg.Projections {
		d, err := m.verifyOne(ctx, p)
		if err != nil {
			return diffs, err
		}
		diffs = append(diffs, d...)
	}
	return diffs, nil
}

func (m *Manager) verifyOne(ctx context.Context, p *Projection) ([]Difference, error) {
	var diffs []Difference
	err := m.withSessionLock(ctx, "webhost.projections:shadow:"+p.Name, func() error {
		var version int
		err := m.cfg.Pool.QueryRow(ctx, `SELECT version FROM projections.checkpoints WHERE name = $1`, p.Name).Scan(&version)
		if errors.Is(err, pgx.ErrNoRows) {
			diffs = append(diffs, Difference{Projection: p.Name, Detail: "not installed"})
			return nil
		}
		if err != nil {
			return fmt.Errorf("projection %s: %w", p.Name, err)
		}
		if version != p.Version {
			diffs = append(diffs, Difference{Projection: p.Name, Detail: fmt.Sprintf("live version %d, code version %d: rebuild", version, p.Version)})
			return nil
		}
		if err := m.prepareShadow(ctx, p); err != nil {
			return err
		}
		defer func() { _ = m.dropShadow(context.WithoutCancel(ctx), p) }()
		live, err := Checkpoint(ctx, m.cfg.Pool, p.Name)
		if err != nil {
			return err
		}
		if _, err := m.replay(ctx, nil, p, &live); err != nil {
			return err
		}
		tx, err := m.cfg.Pool.Begin(ctx)
		if err != nil {
			return fmt.Errorf("projection %s: begin: %w", p.Name, err)
		}
		defer tx.Rollback(context.WithoutCancel(ctx))
		// Holding the live checkpoint row stops the live runner, so both
		// sides stand at the same position while they are compared.
		live, err = lockCheckpoint(ctx, tx, p.Name)
		if err != nil {
			return err
		}
		if _, err := m.replay(ctx, tx, p, &live); err != nil {
			return err
		}
		shadowPos, err := Checkpoint(ctx, tx, p.shadowCheckpoint())
		if err != nil {
			return err
		}
		if shadowPos != live {
			// The replay stops at the last event up to live, which is live
			// itself unless the log lost events.
			diffs = append(diffs, Difference{Projection: p.Name, Detail: fmt.Sprintf("replay reached %s, live checkpoint is %s", shadowPos, live)})
		}
		for _, t := range p.Tables {
			l, s := ident(p.Schema)+"."+ident(t), ident(p.shadowSchema())+"."+ident(t)
			var onlyLive, onlyReplay int64
			err := tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM (TABLE `+l+` EXCEPT ALL TABLE `+s+`) a),
				(SELECT count(*) FROM (TABLE `+s+` EXCEPT ALL TABLE `+l+`) b)`).Scan(&onlyLive, &onlyReplay)
			if err != nil {
				return fmt.Errorf("projection %s: compare %s: %w", p.Name, t, err)
			}
			if onlyLive != 0 || onlyReplay != 0 {
				diffs = append(diffs, Difference{Projection: p.Name, Table: t, OnlyLive: onlyLive, OnlyReplay: onlyReplay})
			}
		}
		return nil
	})
	return diffs, err
}
