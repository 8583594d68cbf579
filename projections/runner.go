package projections

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/webhost-systems/webhost/eventstore"
)

// Metrics are the runners' Prometheus metrics, labelled by projection.
type Metrics struct {
	eventsBehind  *prometheus.GaugeVec
	secondsBehind *prometheus.GaugeVec
	applied       *prometheus.CounterVec
	batches       *prometheus.CounterVec
	active        *prometheus.GaugeVec
	failed        *prometheus.GaugeVec
}

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered, for tests).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		eventsBehind: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "webhost_projection_events_behind",
			Help: "Events in the log after the projection's checkpoint (capped at the runner's LagCountLimit)."}, []string{"projection"}),
		secondsBehind: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "webhost_projection_seconds_behind",
			Help: "Age of the oldest event the projection has not applied yet, in seconds (0 when caught up)."}, []string{"projection"}),
		applied: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "webhost_projection_events_applied_total",
			Help: "Events the projection's runner in this process has applied."}, []string{"projection"}),
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "webhost_projection_batches_total",
			Help: "Batches (transactions) the projection's runner in this process has committed."}, []string{"projection"}),
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "webhost_projection_active",
			Help: "1 when this process holds the projection's lock and runs it."}, []string{"projection"}),
		failed: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "webhost_projection_failed",
			Help: "1 when the projection stopped at an event it cannot apply."}, []string{"projection"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.eventsBehind, m.secondsBehind, m.applied, m.batches, m.active, m.failed} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("projections: register metrics: %w", err)
			}
		}
	}
	return m, nil
}

// RunnerConfig configures a Runner.
type RunnerConfig struct {
	// Pool is the PostgreSQL pool of the read models. Required.
	Pool *pgxpool.Pool
	// Store is the event store followed. Required.
	Store eventstore.Store
	// Projection is what the runner applies. Required.
	Projection *Projection
	// Metrics (default: unregistered metrics).
	Metrics *Metrics
	// BatchSize caps the events applied per transaction (default 500).
	BatchSize int
	// LockRetry is how often a standby runner tries to take over the
	// projection's lock (default 2s); it bounds failover time.
	LockRetry time.Duration
	// LockCheck is how often the active runner checks its lock connection
	// (default 1s).
	LockCheck time.Duration
	// LagInterval is how often lag is measured (default 1s).
	LagInterval time.Duration
	// LagCountLimit caps the events counted for events_behind (default 1000;
	// the gauge then reads "at least").
	LagCountLimit int
	// RetryBackoff is the pause after a transient failure (default 1s).
	RetryBackoff time.Duration
	// Now is the clock (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

func (c *RunnerConfig) setDefaults() {
	if c.BatchSize == 0 {
		c.BatchSize = 500
	}
	if c.LockRetry == 0 {
		c.LockRetry = 2 * time.Second
	}
	if c.LockCheck == 0 {
		c.LockCheck = time.Second
	}
	if c.LagInterval == 0 {
		c.LagInterval = time.Second
	}
	if c.LagCountLimit == 0 {
		c.LagCountLimit = 1000
	}
	if c.RetryBackoff == 0 {
		c.RetryBackoff = time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports a configuration that cannot work.
func (c RunnerConfig) Validate() error {
	switch {
	case c.Pool == nil:
		return errors.New("projections: RunnerConfig.Pool is required")
	case c.Store == nil:
		return errors.New("projections: RunnerConfig.Store is required")
	case c.BatchSize < 1:
		return errors.New("projections: RunnerConfig.BatchSize must be at least 1")
	case c.LockRetry <= 0 || c.LockCheck <= 0 || c.LagInterval <= 0 || c.RetryBackoff <= 0:
		return errors.New("projections: RunnerConfig intervals must be positive")
	case c.LagCountLimit < 1:
		return errors.New("projections: RunnerConfig.LagCountLimit must be at least 1")
	}
	return c.Projection.Validate()
}

// Status is a runner's state as seen from this process.
type Status struct {
	Projection string `json:"projection"`
	// Active is set while this process holds the projection's lock.
	Active bool `json:"active"`
	// Position is the last checkpoint this process committed or read.
	Position string `json:"position"`
	// Failed holds the error of an event the projection cannot apply.
	Failed string `json:"failed,omitempty"`
}

// Runner applies one projection. Any number of processes may run a Runner
// for the same projection: a PostgreSQL advisory lock makes one of them
// active, and the others take over within LockRetry when its session
// ends.
type Runner struct {
	cfg     RunnerConfig
	lockKey int64

	mu     sync.Mutex
	status Status
}

// NewRunner validates cfg and returns a runner.
func NewRunner(cfg RunnerConfig) (*Runner, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Metrics == nil {
		m, err := NewMetrics(nil)
		if err != nil {
			return nil, err
		}
		cfg.Metrics = m
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte("webhost.projection:" + cfg.Projection.Name))
	return &Runner{cfg: cfg, lockKey: int64(h.Sum64()), status: Status{Projection: cfg.Projection.Name}}, nil
}

// Status returns the runner's state.
func (r *Runner) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status
}

func (r *Runner) setStatus(f func(*Status)) {
	r.mu.Lock()
	f(&r.status)
	r.mu.Unlock()
}

var errLockLost = errors.New("projections: lost the projection lock")

// Run applies the projection until ctx ends (then it returns nil) or an
// event cannot be applied (then it returns the *ApplyError, after logging
// it; the checkpoint stays before that event). Transient failures
// (database, event store) are logged and retried.
func (r *Runner) Run(ctx context.Context) error {
	p := r.cfg.Projection
	name := p.Name
	log := r.cfg.Logger.With("projection", name)
	for {
		conn, err := r.tryLock(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			log.Warn("projection lock", "err", err)
		case conn == nil:
			// Another process runs it.
		default:
			r.cfg.Metrics.active.WithLabelValues(name).Set(1)
			r.setStatus(func(s *Status) { s.Active = true })
			log.Info("projection runner active")
			err = r.runActive(ctx, conn)
			_ = conn.Close(context.WithoutCancel(ctx))
			r.cfg.Metrics.active.WithLabelValues(name).Set(0)
			r.setStatus(func(s *Status) { s.Active = false })
			if ctx.Err() != nil {
				return nil
			}
			var applyErr *ApplyError
			if errors.As(err, &applyErr) {
				r.cfg.Metrics.failed.WithLabelValues(name).Set(1)
				r.setStatus(func(s *Status) { s.Failed = applyErr.Error() })
				log.Error("projection stopped: event cannot be applied", "err", applyErr,
					"position", applyErr.Position.String(), "stream", applyErr.Stream, "type", applyErr.Type)
				return err
			}
			log.Warn("projection runner interrupted; retrying", "err", err)
		}
		wait := r.cfg.LockRetry
		if err != nil {
			wait = r.cfg.RetryBackoff
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// tryLock takes the projection's advisory lock on a connection of its own
// (hijacked from the pool, so it does not hold a pool slot). It returns nil
// when another session holds the lock.
func (r *Runner) tryLock(ctx context.Context) (*pgx.Conn, error) {
	pc, err := r.cfg.Pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("acquire lock connection: %w", err)
	}
	conn := pc.Hijack()
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, r.lockKey).Scan(&ok); err != nil {
		_ = conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("try advisory lock: %w", err)
	}
	if !ok {
		_ = conn.Close(context.WithoutCancel(ctx))
		return nil, nil
	}
	return conn, nil
}

func (r *Runner) runActive(parent context.Context, lockConn *pgx.Conn) error {
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	// The lock lives as long as its session: check it, and stop applying
	// the moment it may be gone.
	go func() {
		t := time.NewTicker(r.cfg.LockCheck)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				pingCtx, pcancel := context.WithTimeout(ctx, max(5*r.cfg.LockCheck, 5*time.Second))
				err := lockConn.Ping(pingCtx)
				pcancel()
				if err != nil && ctx.Err() == nil {
					cancel(fmt.Errorf("%w: %v", errLockLost, err))
					return
				}
			}
		}
	}()
	p := r.cfg.Projection
	pos, err := Checkpoint(ctx, r.cfg.Pool, p.Name)
	if err != nil {
		return err
	}
	r.setStatus(func(s *Status) { s.Position = pos.String() })
	sub, err := r.cfg.Store.Subscribe(ctx, pos, eventstore.Filter{})
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	defer sub.Close()
	lagTick := time.NewTicker(r.cfg.LagInterval)
	defer lagTick.Stop()
	r.measureLag(ctx, pos)
	events := sub.Events()
	batch := make([]eventstore.RecordedEvent, 0, r.cfg.BatchSize)
	for {
		batch = batch[:0]
		select {
		case <-ctx.Done():
			if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) {
				return c
			}
			return ctx.Err()
		case <-lagTick.C:
			r.measureLag(ctx, pos)
			continue
		case ev, ok := <-events:
			if !ok {
				if err := sub.Err(); err != nil {
					return fmt.Errorf("subscription: %w", err)
				}
				return errors.New("subscription ended")
			}
			batch = append(batch, ev)
		}
	drain:
		for len(batch) < r.cfg.BatchSize {
			select {
			case ev, ok := <-events:
				if !ok {
					break drain
				}
				batch = append(batch, ev)
			default:
				break drain
			}
		}
		res, err := r.applyOne(ctx, batch)
		if err != nil {
			return err
		}
		if res.applied > 0 {
			pos = res.last
			r.cfg.Metrics.applied.WithLabelValues(p.Name).Add(float64(res.applied))
			r.cfg.Metrics.batches.WithLabelValues(p.Name).Inc()
			r.setStatus(func(s *Status) { s.Position = pos.String() })
		}
	}
}

func (r *Runner) applyOne(ctx context.Context, batch []eventstore.RecordedEvent) (applyResult, error) {
	var res applyResult
	err := pgx.BeginFunc(ctx, r.cfg.Pool, func(tx pgx.Tx) error {
		var err error
		res, err = applyBatch(ctx, tx, r.cfg.Projection, r.cfg.Projection.Schema, r.cfg.Projection.Name, batch)
		return err
	})
	return res, err
}

// measureLag sets events_behind and seconds_behind from the events after
// pos (at most LagCountLimit are read).
func (r *Runner) measureLag(ctx context.Context, pos eventstore.Position) {
	name := r.cfg.Projection.Name
	head, err := r.cfg.Store.Head(ctx)
	if err != nil {
		return
	}
	if !pos.Before(head) {
		r.cfg.Metrics.eventsBehind.WithLabelValues(name).Set(0)
		r.cfg.Metrics.secondsBehind.WithLabelValues(name).Set(0)
		return
	}
	behind, err := r.cfg.Store.ReadAll(ctx, eventstore.ReadAllOptions{After: pos, Limit: r.cfg.LagCountLimit})
	if err != nil || len(behind) == 0 {
		return
	}
	r.cfg.Metrics.eventsBehind.WithLabelValues(name).Set(float64(len(behind)))
	r.cfg.Metrics.secondsBehind.WithLabelValues(name).Set(max(0, r.cfg.Now().Sub(behind[0].Time).Seconds()))
}
