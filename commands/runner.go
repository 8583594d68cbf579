package commands

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/webhost-systems/webhost/domain"
	"github.com/webhost-systems/webhost/eventstore"
	"github.com/webhost-systems/webhost/secrets"
)

// ErrConcurrencyConflict is returned when a command still conflicts with
// concurrent writers after Config.MaxAttempts attempts. Retrying later may
// succeed (HTTP 409).
var ErrConcurrencyConflict = errors.New("commands: too much concurrent change, try again")

// ErrInvalidMeta is returned for a command without a command ID or actor.
var ErrInvalidMeta = errors.New("commands: command needs a command ID and an actor")

// SecretStore is what the commands need of the secrets store;
// *secrets.Store and *secrets.Memory satisfy it.
type SecretStore interface {
	Put(ctx context.Context, s secrets.Secret) error
	Get(ctx context.Context, id string) (secrets.Secret, error)
	Shred(ctx context.Context, owner string) error
}

var (
	_ SecretStore = (*secrets.Store)(nil)
	_ SecretStore = (*secrets.Memory)(nil)
)

// Meta says who issues a command and why. It becomes the metadata of every
// event the command appends.
type Meta struct {
	// CommandID identifies the command; resubmitting it is a no-op.
	// Required.
	CommandID uuid.UUID
	// CorrelationID ties a request's or process's commands together
	// (default: CommandID).
	CorrelationID string
	// CausationID is the ID of the command or event that caused this
	// command (default: CommandID).
	CausationID string
	// Actor is "customer:<id>", "apikey:<id>", "admin:<id>", "system" or
	// "process:<name>". Required.
	Actor string
}

func (m Meta) validate() error {
	if m.CommandID == uuid.Nil || strings.TrimSpace(m.Actor) == "" {
		return ErrInvalidMeta
	}
	return nil
}

func (m Meta) metadata(tenant string) domain.Metadata {
	md := domain.Metadata{Tenant: tenant, CorrelationID: m.CorrelationID, CausationID: m.CausationID,
		Actor: m.Actor, CommandID: m.CommandID.String()}
	if md.CorrelationID == "" {
		md.CorrelationID = md.CommandID
	}
	if md.CausationID == "" {
		md.CausationID = md.CommandID
	}
	return md
}

// Result describes what a command did to one stream.
type Result struct {
	Stream string
	// Version is the stream's last version after the command.
	Version uint64
	// Position is the global position of the last event the command
	// appended (for a duplicate: appended the first time; for a command
	// that changed nothing: the stream's last event). Clients wait for
	// projections to pass it.
	Position eventstore.Position
	// Appended counts the events this call appended.
	Appended int
	// Duplicate is set when the command ID had already been handled; nothing
	// was appended.
	Duplicate bool
}

// Config configures a Runner.
type Config struct {
	// Store is the event store. Required.
	Store eventstore.Store
	// Secrets stores personal data and generated credentials. Required.
	Secrets SecretStore
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Rand supplies API keys and retry jitter (default crypto/rand.Reader).
	Rand io.Reader
	// MaxAttempts bounds load-decide-append attempts per command when
	// concurrent writers conflict (default 10).
	MaxAttempts int
	// RetryBackoff is the base of the jittered linear backoff between
	// attempts (default 2ms).
	RetryBackoff time.Duration
	// StateCacheSize is how many streams' folded states are cached, so
	// that a command reads only the events appended since (default 4096;
	// negative disables the cache).
	StateCacheSize int
	// OnConflict, when set, is called for every version conflict that is
	// retried (metrics, tests).
	OnConflict func(stream string, attempt int)
	Logger     *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Rand == nil {
		c.Rand = rand.Reader
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 10
	}
	if c.RetryBackoff == 0 {
		c.RetryBackoff = 2 * time.Millisecond
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.StateCacheSize == 0 {
		c.StateCacheSize = 4096
	}
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	switch {
	case c.Store == nil:
		return errors.New("commands: Config.Store is required")
	case c.Secrets == nil:
		return errors.New("commands: Config.Secrets is required")
	case c.MaxAttempts < 1:
		return errors.New("commands: Config.MaxAttempts must be at least 1")
	case c.RetryBackoff < 0:
		return errors.New("commands: Config.RetryBackoff must not be negative")
	}
	return nil
}

// Runner is the shared load → fold → decide → append loop every handler
// uses, with its dependencies. It is safe for concurrent use.
type Runner struct {
	cfg   Config
	cache *stateCache // nil when disabled
}

// NewRunner validates cfg and returns a Runner.
func NewRunner(cfg Config) (*Runner, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Runner{cfg: cfg, cache: newStateCache(cfg.StateCacheSize)}, nil
}

func (r *Runner) now() time.Time { return r.cfg.Now().UTC() }

// namespace roots every ID derived from a command ID.
var namespace = uuid.MustParse("16d72363-1d07-48d4-b1dc-a781204d74ad")

// DeriveID returns the UUIDv5 of seed and labels. Handlers derive event IDs,
// secret IDs and new aggregate IDs from the command ID with it, so a
// resubmitted command produces the same IDs.
func DeriveID(seed uuid.UUID, labels ...string) uuid.UUID {
	return uuid.NewSHA1(namespace, []byte(seed.String()+"\x00"+strings.Join(labels, "\x00")))
}

// EventID is the ID of the index-th event a command (seed) appends to stream.
func EventID(seed uuid.UUID, stream string, index int) uuid.UUID {
	return DeriveID(seed, "event", stream, strconv.Itoa(index))
}

// aggregate describes one aggregate type to the generic loop.
type aggregate[S any] struct {
	name     string
	evolve   func(S, domain.Event) S
	owner    func(S) string // customer ID of an existing aggregate, "" before
	notFound error          // returned when the aggregate belongs to another tenant
	// versionedIDs derives event IDs from the seed and the stream version
	// instead of detecting resubmissions. Reservations use it: their Decide
	// is idempotent by itself, and a reservation released and claimed again
	// by the same command must get new event IDs.
	versionedIDs bool
}

var (
	customerAgg     = aggregate[domain.Customer]{"customer", domain.EvolveCustomer, domain.Customer.ID, domain.ErrCustomerNotFound, false}
	subscriptionAgg = aggregate[domain.Subscription]{"subscription", domain.EvolveSubscription, domain.Subscription.CustomerID, domain.ErrSubscriptionNotFound, false}
	deploymentAgg   = aggregate[domain.Deployment]{"deployment", domain.EvolveDeployment, domain.Deployment.CustomerID, domain.ErrDeploymentNotFound, false}
	apiKeyAgg       = aggregate[domain.APIKey]{"apikey", domain.EvolveAPIKey, domain.APIKey.CustomerID, domain.ErrAPIKeyNotFound, false}
	reservationAgg  = aggregate[domain.Reservation]{"reservation", domain.EvolveReservation, func(domain.Reservation) string { return "" }, nil, true}
)

// loaded is an aggregate's state as folded from its stream.
type loaded[S any] struct {
	state    S
	version  int64 // eventstore.NoStreamVersion when the stream is empty
	position eventstore.Position
	// dup is set when the stream already holds this command's events;
	// beforeDup is then the state just before them.
	dup       *Result
	beforeDup S
}

func (l loaded[S]) expected() eventstore.ExpectedVersion {
	if l.version < 0 {
		return eventstore.NoStream
	}
	return eventstore.Exact(uint64(l.version))
}

// load folds stream. seed identifies the command, to detect a resubmission.
func load[S any](ctx context.Context, store eventstore.Store, stream string, agg aggregate[S], seed uuid.UUID) (loaded[S], error) {
	var l loaded[S]
	l.version = eventstore.NoStreamVersion
	recs, err := store.ReadStream(ctx, stream, eventstore.ReadStreamOptions{})
	if errors.Is(err, eventstore.ErrStreamNotFound) {
		return l, nil
	}
	if err != nil {
		return l, fmt.Errorf("load %s: %w", stream, err)
	}
	dupCount := 0
	for _, rec := range recs {
		ev, _, err := domain.DecodeEvent(rec.Type, rec.Data, rec.Metadata)
		if err != nil {
			return l, fmt.Errorf("load %s version %d: %w", stream, rec.Version, err)
		}
		// A resubmitted command finds its own events: the first one, then
		// the rest of its batch right after it.
		if (dupCount == 0 && seed != uuid.Nil) || (dupCount > 0 && l.dup.Version+1 == rec.Version) {
			if rec.ID == EventID(seed, stream, dupCount) {
				if dupCount == 0 {
					l.dup = &Result{Stream: stream, Duplicate: true}
					l.beforeDup = l.state
				}
				l.dup.Version, l.dup.Position = rec.Version, rec.Position
				dupCount++
			}
		}
		l.state = agg.evolve(l.state, ev)
		l.version = int64(rec.Version)
		l.position = rec.Position
	}
	return l, nil
}

// decideFunc decides the events to append given the folded state.
type decideFunc[S any] func(state S) ([]domain.Event, error)

// execute runs load → fold → decide → append on one stream, retrying on
// version conflicts. tenant is the customer the command acts for; an
// existing aggregate of another customer is reported as not found. seed
// derives the event IDs (usually the command ID).
func execute[S any](ctx context.Context, r *Runner, stream string, agg aggregate[S], meta Meta, seed uuid.UUID, tenant string, decide decideFunc[S]) (Result, error) {
	if err := meta.validate(); err != nil {
		return Result{}, err
	}
	for attempt := 1; ; attempt++ {
		loadSeed := seed
		if agg.versionedIDs {
			loadSeed = uuid.Nil
		}
		l, err := loadCached(ctx, r, stream, agg, loadSeed)
		if err != nil {
			return Result{}, err
		}
		idSeed := seed
		if agg.versionedIDs {
			idSeed = DeriveID(seed, "version", strconv.FormatInt(l.version, 10))
		}
		if l.dup != nil {
			return *l.dup, nil
		}
		if owner := agg.owner(l.state); owner != "" && tenant != "" && owner != tenant {
			return Result{}, &domain.TransitionError{Aggregate: agg.name, ID: stream, State: "other tenant", Command: "load", Err: agg.notFound}
		}
		events, err := decide(l.state)
		if err != nil {
			return Result{}, err
		}
		if len(events) == 0 {
			res := Result{Stream: stream, Position: l.position}
			if l.version >= 0 {
				res.Version = uint64(l.version)
			}
			return res, nil
		}
		batch := make([]eventstore.Event, len(events))
		md := meta.metadata(tenant)
		for i, e := range events {
			typ, data, metadata, err := domain.EncodeEvent(e, md)
			if err != nil {
				return Result{}, fmt.Errorf("%s: %w", stream, err)
			}
			batch[i] = eventstore.Event{ID: EventID(idSeed, stream, i), Type: typ, Data: data, Metadata: metadata}
		}
		res, err := r.cfg.Store.Append(ctx, stream, l.expected(), batch...)
		if err == nil {
			return Result{Stream: stream, Version: res.NextExpectedVersion, Position: res.Position, Appended: len(batch)}, nil
		}
		if !errors.Is(err, eventstore.ErrWrongExpectedVersion) {
			return Result{}, fmt.Errorf("append %s: %w", stream, err)
		}
		if attempt >= r.cfg.MaxAttempts {
			r.cfg.Logger.Warn("command conflicts exhausted", "stream", stream, "attempts", attempt, "command_id", meta.CommandID)
			return Result{}, fmt.Errorf("%s after %d attempts: %w (%w)", stream, attempt, ErrConcurrencyConflict, err)
		}
		if r.cfg.OnConflict != nil {
			r.cfg.OnConflict(stream, attempt)
		}
		if err := r.backoff(ctx, attempt); err != nil {
			return Result{}, err
		}
	}
}

// backoff sleeps attempt × base plus up to base of jitter, so that
// conflicting writers spread out.
func (r *Runner) backoff(ctx context.Context, attempt int) error {
	base := r.cfg.RetryBackoff
	if base <= 0 {
		return ctx.Err()
	}
	var b [8]byte
	if _, err := io.ReadFull(r.cfg.Rand, b[:]); err != nil {
		return fmt.Errorf("retry jitter: %w", err)
	}
	jitter := time.Duration(binary.LittleEndian.Uint64(b[:]) % uint64(base))
	t := time.NewTimer(time.Duration(attempt)*base + jitter)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// loadState folds a stream without deciding, for cross-aggregate checks.
func loadState[S any](ctx context.Context, r *Runner, stream string, agg aggregate[S]) (S, error) {
	l, err := loadCached(ctx, r, stream, agg, uuid.Nil)
	return l.state, err
}
