package processes

import (
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/webhost-systems/webhost/commands"
	"github.com/webhost-systems/webhost/domain"
	"github.com/webhost-systems/webhost/eventstore"
	"github.com/webhost-systems/webhost/internal/migrate"
	"github.com/webhost-systems/webhost/secrets"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations creates the `processes` schema: checkpoints, leases, the poison
// table, active deployments and the mail outbox.
var Migrations = migrate.Component{Name: "processes", FS: mustSub(migrationFiles, "migrations")}

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err)
	}
	return sub
}

// Group names. Each group is one ordered, checkpointed subscription with
// one active runner across processes. Names are stable: renaming a group
// starts its subscription from the beginning again (a replay).
const (
	GroupBilling       = "billing"
	GroupProvisioning  = "provisioning"
	GroupNotifications = "notifications"
	// LeaseMonitor and LeaseOrphans name the periodic jobs' leases.
	LeaseMonitor = "monitor"
	LeaseOrphans = "orphans"
)

// DefaultSyncServerImage is the customer sync server image when
// Config.SyncServerImage is empty.
const DefaultSyncServerImage = "ghcr.io/webhost-systems/webhost:latest"

// Providers are the clouds the process managers drive. Servers and DNS are
// needed for the hobby plan, Apps, Postgres, Redis and DNS for the paid
// plans, Data for plan changes across clouds.
type Providers struct {
	Servers  ServerProvisioner
	Apps     AppLauncher
	Postgres PostgresProvisioner
	Redis    RedisProvisioner
	Data     DataMigrator
	DNS      DNS
}

// SecretStore is what the process managers need of the secrets store.
type SecretStore interface {
	Put(ctx context.Context, s secrets.Secret) error
	Get(ctx context.Context, id string) (secrets.Secret, error)
}

// ChosenPlanFunc returns the plan a new customer chose. raw is the
// CustomerSignedUp event's JSON data.
type ChosenPlanFunc func(ctx context.Context, signup domain.CustomerSignedUp, raw []byte) (domain.PlanID, error)

// Config configures a Runner.
type Config struct {
	// Pool is the PostgreSQL pool of the processes schema. Required.
	Pool *pgxpool.Pool
	// Store is the event store. Required.
	Store eventstore.Store
	// Commands changes aggregates; process managers use nothing else to.
	// Required.
	Commands *commands.Handlers
	// Secrets keeps generated credentials and resolves e-mail addresses.
	// Required.
	Secrets SecretStore
	// Providers are the clouds. A deployment whose provider is missing
	// fails at its first step.
	Providers Providers
	// BaseDomain is the DNS zone of customer backends, e.g. "webhost.app".
	// Required.
	BaseDomain string
	// FlyOrg and FlyOrgID name the Fly.io organisation (slug, and ID for
	// the Redis add-on API). Default "personal".
	FlyOrg, FlyOrgID string
	// SyncServerImage is the image of the customer sync server.
	SyncServerImage string
	// ChosenPlan decides the trial plan of a new customer; "" means the
	// signup chose none and no trial starts (the API starts the
	// subscription when the signup request names a plan, or a later plan
	// change does). The default reads a "plan" field of the
	// CustomerSignedUp data and falls back to DefaultPlan.
	ChosenPlan ChosenPlanFunc
	// DefaultPlan is the trial plan when the signup names none (default
	// none).
	DefaultPlan domain.PlanID
	// Mailer sends notifications; nil queues them in processes.outbox.
	Mailer Mailer
	// AlertWebhookURL, when set, receives health alerts as JSON POSTs.
	AlertWebhookURL string
	// HTTPClient posts alerts (default: 10s timeout).
	HTTPClient *http.Client

	// MaxStepAttempts bounds the attempts of one provisioning step
	// (default 3).
	MaxStepAttempts int
	// StepBackoff is the wait before a step's second attempt; it doubles
	// for each further one (default 2s).
	StepBackoff time.Duration
	// HandlerRetries bounds the Watermill Retry middleware's retries of a
	// failing event before it is poisoned (default 8), with exponential
	// backoff from HandlerRetryInitial (default 200ms) to HandlerRetryMax
	// (default 30s).
	HandlerRetries                       int
	HandlerRetryInitial, HandlerRetryMax time.Duration
	// MaxInFlight bounds the events a group handles at once (default 64;
	// never two of one stream).
	MaxInFlight int
	// NackDelay is the wait before a nacked event is delivered again
	// (default 2s); a plan change waiting for a busy deployment (ErrBusy)
	// is retried at this pace for as long as it takes.
	NackDelay time.Duration
	// CheckpointInterval bounds how often a group's checkpoint is written
	// (default 100ms); after a crash, events since it are delivered again.
	CheckpointInterval time.Duration
	// RedrivePoll is how often the active runner looks for redrive
	// requests (default 2s).
	RedrivePoll time.Duration
	// LeaseRetry is how often a standby process tries to take a lease
	// (default 1s); LeaseHeartbeat how often a holder checks its lock
	// connection (default 2s).
	LeaseRetry, LeaseHeartbeat time.Duration
	// MonitorInterval is the period of health checks (default 30s; negative
	// disables the monitor).
	MonitorInterval time.Duration
	// SweepInterval is the period of orphan sweeps (default 15m; negative
	// disables the sweeper).
	SweepInterval time.Duration
	// Groups lists the groups to run (default all three).
	Groups []string
	// Holder names this process in processes.leases (default host:pid).
	Holder string
	// Now is the clock (default time.Now); Rand supplies passwords
	// (default crypto/rand).
	Now  func() time.Time
	Rand io.Reader
	// AfterProviderCall, when set, runs after each provisioning step's
	// provider call and before its event is appended (crash tests).
	AfterProviderCall func(ctx context.Context, deploymentID string, step domain.Step)
	Logger            *slog.Logger
}

func (c *Config) setDefaults() {
	if c.FlyOrg == "" {
		c.FlyOrg = "personal"
	}
	if c.FlyOrgID == "" {
		c.FlyOrgID = c.FlyOrg
	}
	if c.SyncServerImage == "" {
		c.SyncServerImage = DefaultSyncServerImage
	}
	if c.ChosenPlan == nil {
		c.ChosenPlan = planFromSignup(c.DefaultPlan)
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if c.MaxStepAttempts == 0 {
		c.MaxStepAttempts = 3
	}
	if c.StepBackoff == 0 {
		c.StepBackoff = 2 * time.Second
	}
	if c.HandlerRetries == 0 {
		c.HandlerRetries = 8
	}
	if c.HandlerRetryInitial == 0 {
		c.HandlerRetryInitial = 200 * time.Millisecond
	}
	if c.HandlerRetryMax == 0 {
		c.HandlerRetryMax = 30 * time.Second
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 64
	}
	if c.NackDelay == 0 {
		c.NackDelay = 2 * time.Second
	}
	if c.CheckpointInterval == 0 {
		c.CheckpointInterval = 100 * time.Millisecond
	}
	if c.RedrivePoll == 0 {
		c.RedrivePoll = 2 * time.Second
	}
	if c.LeaseRetry == 0 {
		c.LeaseRetry = time.Second
	}
	if c.LeaseHeartbeat == 0 {
		c.LeaseHeartbeat = 2 * time.Second
	}
	if c.MonitorInterval == 0 {
		c.MonitorInterval = 30 * time.Second
	}
	if c.SweepInterval == 0 {
		c.SweepInterval = 15 * time.Minute
	}
	if c.Groups == nil {
		c.Groups = []string{GroupBilling, GroupProvisioning, GroupNotifications}
	}
	if c.Holder == "" {
		host, _ := os.Hostname()
		c.Holder = host + ":" + strconv.Itoa(os.Getpid())
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Rand == nil {
		c.Rand = rand.Reader
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// ErrInvalidConfig is returned by Validate and New.
var ErrInvalidConfig = errors.New("processes: invalid config")

// Validate reports a configuration that cannot work (after defaults).
func (c Config) Validate() error {
	switch {
	case c.Pool == nil:
		return fmt.Errorf("%w: Pool is required", ErrInvalidConfig)
	case c.Store == nil:
		return fmt.Errorf("%w: Store is required", ErrInvalidConfig)
	case c.Commands == nil:
		return fmt.Errorf("%w: Commands is required", ErrInvalidConfig)
	case c.Secrets == nil:
		return fmt.Errorf("%w: Secrets is required", ErrInvalidConfig)
	case c.BaseDomain == "":
		return fmt.Errorf("%w: BaseDomain is required", ErrInvalidConfig)
	case c.MaxStepAttempts < 1 || c.HandlerRetries < 0 || c.MaxInFlight < 1:
		return fmt.Errorf("%w: attempts, retries and in-flight bounds must be positive", ErrInvalidConfig)
	case c.StepBackoff < 0 || c.HandlerRetryInitial < 0 || c.HandlerRetryMax < c.HandlerRetryInitial ||
		c.NackDelay < 0 || c.RedrivePoll <= 0 || c.CheckpointInterval <= 0 || c.LeaseRetry <= 0 || c.LeaseHeartbeat <= 0:
		return fmt.Errorf("%w: invalid delays", ErrInvalidConfig)
	}
	if c.DefaultPlan != "" {
		if _, err := domain.LookupPlan(c.DefaultPlan); err != nil {
			return fmt.Errorf("%w: default plan: %w", ErrInvalidConfig, err)
		}
	}
	for _, g := range c.Groups {
		if !slices.Contains([]string{GroupBilling, GroupProvisioning, GroupNotifications}, g) {
			return fmt.Errorf("%w: unknown group %q", ErrInvalidConfig, g)
		}
	}
	return nil
}

// Runner runs the process managers: a Watermill router with one handler per
// group, each fed by a leased, checkpointed event-store subscription, plus
// the monitor and the orphan sweeper.
type Runner struct {
	cfg     Config
	router  *message.Router
	subs    []*groupSubscriber
	leaser  *leaser
	pms     *managers
	monitor *Monitor
	sweeper *Sweeper

	mu      sync.Mutex
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	running bool
}

// New validates cfg and builds the router. Start runs it.
func New(cfg Config) (*Runner, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	pms := newManagers(cfg)
	wlog := watermill.NewSlogLogger(cfg.Logger.With("component", "watermill"))
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 30 * time.Second}, wlog)
	if err != nil {
		return nil, fmt.Errorf("processes: router: %w", err)
	}
	poison, err := middleware.PoisonQueueWithFilter(&poisonPublisher{pool: cfg.Pool, now: cfg.Now}, "processes.poison",
		func(err error) bool {
			return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, ErrBusy)
		})
	if err != nil {
		return nil, fmt.Errorf("processes: poison queue: %w", err)
	}
	retry := middleware.Retry{
		MaxRetries:          cfg.HandlerRetries,
		InitialInterval:     cfg.HandlerRetryInitial,
		MaxInterval:         cfg.HandlerRetryMax,
		Multiplier:          2,
		RandomizationFactor: 0.2,
		ShouldRetry: func(p middleware.RetryParams) bool {
			// ErrBusy waits for a deployment that may provision for
			// minutes: the event is nacked and delivered again after
			// NackDelay, without spending the retry budget.
			return !IsPermanent(p.Err) && !errors.Is(p.Err, context.Canceled) && !errors.Is(p.Err, ErrBusy)
		},
		ResetContextOnRetry: true,
		Logger:              wlog,
	}
	// First added runs outermost: correlation, then the poison queue
	// around the retries, around the panic recoverer.
	router.AddMiddleware(middleware.CorrelationID, poison, retry.Middleware, middleware.Recoverer)

	l := &leaser{connConfig: cfg.Pool.Config().ConnConfig, holder: cfg.Holder, acquire: cfg.LeaseRetry,
		heartbeat: cfg.LeaseHeartbeat, logger: cfg.Logger, now: cfg.Now}
	r := &Runner{cfg: cfg, router: router, leaser: l, pms: pms}
	for _, g := range cfg.Groups {
		group := g
		managers := pms.group(group)
		sub := &groupSubscriber{group: group, store: cfg.Store, pool: cfg.Pool, leaser: l,
			filter: eventstore.Filter{EventTypes: eventTypes(managers)}, maxInFlight: cfg.MaxInFlight,
			nackDelay: cfg.NackDelay, redrivePoll: cfg.RedrivePoll, checkpointEvery: cfg.CheckpointInterval, logger: cfg.Logger}
		r.subs = append(r.subs, sub)
		router.AddConsumerHandler(group, group, sub, func(msg *message.Message) error {
			return pms.dispatch(msg, managers)
		})
	}
	if cfg.MonitorInterval > 0 {
		r.monitor = &Monitor{cfg: cfg, pms: pms}
	}
	if cfg.SweepInterval > 0 {
		r.sweeper = &Sweeper{cfg: cfg, pms: pms}
	}
	return r, nil
}

// Start runs the router and the periodic jobs until Close or ctx ends.
func (r *Runner) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running {
		return errors.New("processes: runner already started")
	}
	ctx, cancel := context.WithCancel(ctx)
	r.cancel, r.running = cancel, true
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		if err := r.router.Run(ctx); err != nil {
			r.cfg.Logger.Error("process router stopped", "err", err)
		}
	}()
	if r.monitor != nil {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.leaser.runLeased(ctx, LeaseMonitor, func(ctx context.Context) error {
				return runEvery(ctx, r.cfg.MonitorInterval, r.monitor.CheckOnce)
			})
		}()
	}
	if r.sweeper != nil {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.leaser.runLeased(ctx, LeaseOrphans, func(ctx context.Context) error {
				return runEvery(ctx, r.cfg.SweepInterval, func(ctx context.Context) error {
					_, err := r.sweeper.Sweep(ctx)
					return err
				})
			})
		}()
	}
	select {
	case <-r.router.Running():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops the router (waiting for running handlers), the periodic jobs
// and releases the leases.
func (r *Runner) Close() error {
	r.mu.Lock()
	cancel := r.cancel
	r.mu.Unlock()
	// Stop delivering first: handlers in flight see their message context
	// cancelled and are not acknowledged, so the next active runner
	// delivers their events again.
	for _, s := range r.subs {
		_ = s.Close()
	}
	if cancel != nil {
		cancel()
	}
	err := r.router.Close()
	r.wg.Wait()
	return err
}

// Monitor returns the health monitor (nil when disabled).
func (r *Runner) Monitor() *Monitor { return r.monitor }

// Sweeper returns the orphan sweeper (nil when disabled).
func (r *Runner) Sweeper() *Sweeper { return r.sweeper }

func runEvery(ctx context.Context, every time.Duration, fn func(context.Context) error) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := fn(ctx); err != nil && ctx.Err() == nil {
				return err
			}
		}
	}
}

// permanentError marks an error that retrying cannot fix: the Retry
// middleware gives up at once and the event is poisoned.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err was marked as not worth retrying.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// envelope is a decoded event handed to a process manager.
type envelope struct {
	rec           eventstore.RecordedEvent
	event         domain.Event
	meta          domain.Metadata
	correlationID string
}

// processManager is one named reaction to some event types. Names are
// stable (XOnY); command IDs derive from them, so renaming one makes
// re-handled events issue new commands.
type processManager struct {
	name   string
	group  string
	types  []string
	handle func(ctx context.Context, env envelope) error
}

func eventTypes(pms []processManager) []string {
	var out []string
	for _, pm := range pms {
		for _, t := range pm.types {
			if !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
	}
	slices.Sort(out)
	return out
}

func (m *managers) dispatch(msg *message.Message, pms []processManager) error {
	rec, err := RecordedEventFromMessage(msg)
	if err != nil {
		return permanent(err)
	}
	ev, meta, err := domain.DecodeEvent(rec.Type, rec.Data, rec.Metadata)
	if err != nil {
		return permanent(fmt.Errorf("decode %s %s: %w", rec.Type, rec.ID, err))
	}
	env := envelope{rec: rec, event: ev, meta: meta, correlationID: middleware.MessageCorrelationID(msg)}
	ctx := msg.Context()
	m.cfg.Logger.Debug("handling event", "type", rec.Type, "stream", rec.Stream, "version", rec.Version, "age", m.cfg.Now().Sub(rec.Time))
	for _, pm := range pms {
		if !slices.Contains(pm.types, rec.Type) {
			continue
		}
		if err := pm.handle(ctx, env); err != nil {
			return fmt.Errorf("%s on %s %s@%d: %w", pm.name, rec.Type, rec.Stream, rec.Version, err)
		}
	}
	return nil
}

// meta returns the metadata of a command a process manager issues in
// reaction to env; labels make the command ID unique per reaction, and
// deterministic, so that handling the event again is a no-op.
func (pm processManager) meta(env envelope, labels ...string) commands.Meta {
	return commands.Meta{
		CommandID:     commands.DeriveID(env.rec.ID, append([]string{pm.name}, labels...)...),
		CorrelationID: env.correlationID,
		CausationID:   env.rec.ID.String(),
		Actor:         "process:" + pm.name,
	}
}

func parseUUID(field, s string) (uuid.UUID, error) {
	id, err := uuid.Parse(s)
	if err != nil {
		return uuid.Nil, permanent(fmt.Errorf("%s %q: %w", field, s, err))
	}
	return id, nil
}
