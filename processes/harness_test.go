package processes_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/webhost-systems/webhost/commands"
	"github.com/webhost-systems/webhost/domain"
	"github.com/webhost-systems/webhost/eventstore"
	"github.com/webhost-systems/webhost/eventstore/postgres"
	"github.com/webhost-systems/webhost/internal/migrate"
	"github.com/webhost-systems/webhost/internal/pgtest"
	"github.com/webhost-systems/webhost/processes"
	"github.com/webhost-systems/webhost/projections"
	"github.com/webhost-systems/webhost/providers/call"
	"github.com/webhost-systems/webhost/providers/cloudflare"
	"github.com/webhost-systems/webhost/providers/fly"
	"github.com/webhost-systems/webhost/providers/hetzner"
	"github.com/webhost-systems/webhost/providers/sim"
	"github.com/webhost-systems/webhost/secrets"
)

const baseDomain = "webhost.test"

// harness is one fresh database with the event store, secrets, commands and
// the provider simulators behind the real adapters.
type harness struct {
	t         testing.TB
	ctx       context.Context
	dsn       string
	pool      *pgxpool.Pool
	store     eventstore.Store
	secrets   *secrets.Store
	cmds      *commands.Handlers
	sim       *sim.Sim
	providers processes.Providers
	plans     sync.Map // slug -> domain.PlanID
	seq       atomic.Int64
}

func newHarness(t testing.TB) *harness { return newHarnessConns(t, 4) }

// newHarnessConns sizes the pools (benchmarks want more connections).
func newHarnessConns(t testing.TB, maxConns int32) *harness {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	t.Cleanup(cancel)
	dsn := pgtest.MustCreateDatabase(t)
	pool := mustPoolConns(t, dsn, maxConns)
	if err := migrate.Up(ctx, pool, nil, postgres.Migrations, secrets.Migrations, projections.Migrations, processes.Migrations); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	store, err := postgres.New(ctx, pool, postgres.Config{PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	key, _ := secrets.ParseKey(secrets.DevelopmentKey)
	sec, err := secrets.New(ctx, pool, secrets.Config{MasterKey: key})
	if err != nil {
		t.Fatal(err)
	}
	cmds, err := commands.New(commands.Config{Store: store, Secrets: sec})
	if err != nil {
		t.Fatal(err)
	}
	s, err := sim.New(sim.Config{ActionDelay: time.Millisecond, MachineStartDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	urls := sim.URLsFor(srv.URL)
	// One attempt per adapter call: retries are the process managers'
	// (3 attempts per step), which the fault matrix observes.
	retry := call.Policy{MaxAttempts: 1, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond, AttemptTimeout: 10 * time.Second}
	hz, err := hetzner.New(hetzner.Config{Token: "hetzner-token", Endpoint: urls.Hetzner, PollInterval: time.Millisecond, Retry: retry})
	if err != nil {
		t.Fatal(err)
	}
	fl, err := fly.New(fly.Config{Token: "fly-token", APIBaseURL: urls.Fly, FlapsBaseURL: urls.Fly, Retry: retry})
	if err != nil {
		t.Fatal(err)
	}
	cf, err := cloudflare.New(cloudflare.Config{Token: "cf-token", ZoneID: "zone123", BaseDomain: baseDomain, BaseURL: urls.Cloudflare, Retry: retry})
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, ctx: ctx, dsn: dsn, pool: pool, store: store, secrets: sec, cmds: cmds, sim: s,
		providers: processes.Providers{Servers: hz, Apps: fl, Postgres: fl, Redis: fl, Data: fl, DNS: cf}}
}

// logger logs to the test log; benchmarks stay quiet.
func (h *harness) logger() *slog.Logger {
	if _, ok := h.t.(*testing.B); ok {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(testWriter{h.t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func mustPool(t testing.TB, dsn string) *pgxpool.Pool { return mustPoolConns(t, dsn, 4) }

func mustPoolConns(t testing.TB, dsn string, maxConns int32) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = maxConns
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// config is a fast runner configuration for tests.
func (h *harness) config(pool *pgxpool.Pool) processes.Config {
	return processes.Config{
		Pool: pool, Store: h.store, Commands: h.cmds, Secrets: h.secrets, Providers: h.providers, BaseDomain: baseDomain,
		ChosenPlan: func(_ context.Context, e domain.CustomerSignedUp, _ []byte) (domain.PlanID, error) {
			if p, ok := h.plans.Load(e.Slug); ok {
				return p.(domain.PlanID), nil
			}
			return domain.PlanHobby, nil
		},
		StepBackoff: time.Millisecond, HandlerRetries: 3, HandlerRetryInitial: time.Millisecond, HandlerRetryMax: 5 * time.Millisecond,
		NackDelay: 10 * time.Millisecond, RedrivePoll: 20 * time.Millisecond, LeaseRetry: 20 * time.Millisecond,
		LeaseHeartbeat: 100 * time.Millisecond, MonitorInterval: -1, SweepInterval: -1,
		Logger: h.logger(),
	}
}

// start runs a runner until the test ends (or stop is called).
func (h *harness) start(t testing.TB, mutate func(*processes.Config)) (r *processes.Runner, stop func()) {
	t.Helper()
	cfg := h.config(h.pool)
	if mutate != nil {
		mutate(&cfg)
	}
	r, err := processes.New(cfg)
	if err != nil {
		t.Fatalf("processes.New: %v", err)
	}
	if err := r.Start(h.ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			if err := r.Close(); err != nil {
				t.Logf("runner close: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return r, stop
}

// signUp signs a customer up for plan and returns its ID.
func (h *harness) signUp(t testing.TB, plan domain.PlanID) (customerID uuid.UUID, slug string) {
	t.Helper()
	n := h.seq.Add(1)
	slug = fmt.Sprintf("acme%d-%s", n, plan)
	h.plans.Store(slug, plan)
	res, err := h.cmds.SignUp.Handle(h.ctx, commands.SignUp{Meta: commands.Meta{CommandID: uuid.New(), Actor: "system"},
		Name: "Ada Lovelace", Email: fmt.Sprintf("ada%d@example.com", n), Slug: slug})
	if err != nil {
		t.Fatalf("sign up: %v", err)
	}
	return res.CustomerID, slug
}

func (h *harness) deployment(t testing.TB, id uuid.UUID) domain.Deployment {
	t.Helper()
	recs, err := h.store.ReadStream(h.ctx, commands.DeploymentStream(id), eventstore.ReadStreamOptions{})
	if err != nil {
		if errors.Is(err, eventstore.ErrStreamNotFound) {
			return domain.Deployment{}
		}
		t.Fatalf("read deployment: %v", err)
	}
	var evs []domain.Event
	for _, r := range recs {
		e, _, err := domain.DecodeEvent(r.Type, r.Data, r.Metadata)
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, e)
	}
	d, err := domain.FoldDeployment(evs...)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// records returns a stream's decoded events.
func (h *harness) records(t testing.TB, stream string) []domain.Event {
	t.Helper()
	recs, err := h.store.ReadStream(h.ctx, stream, eventstore.ReadStreamOptions{})
	if err != nil && !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Fatal(err)
	}
	out := make([]domain.Event, len(recs))
	for i, r := range recs {
		e, _, err := domain.DecodeEvent(r.Type, r.Data, r.Metadata)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = e
	}
	return out
}

// events returns the types of a stream's events.
func (h *harness) events(t testing.TB, stream string) []string {
	t.Helper()
	recs, err := h.store.ReadStream(h.ctx, stream, eventstore.ReadStreamOptions{})
	if err != nil && !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Fatal(err)
	}
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.Type
	}
	return out
}

// waitFor polls cond until it holds (or fails the test after a bound that
// only guards against hangs).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (h *harness) waitStatus(t testing.TB, id uuid.UUID, want ...domain.DeploymentStatus) domain.Deployment {
	t.Helper()
	var d domain.Deployment
	waitFor(t, fmt.Sprintf("deployment %s to be %v", id, want), func() bool {
		d = h.deployment(t, id)
		for _, w := range want {
			if d.Status() == w {
				return true
			}
		}
		return false
	})
	return d
}

func initialDeployment(customerID uuid.UUID) uuid.UUID {
	return processes.InitialDeploymentID(processes.SubscriptionID(customerID))
}

func count[T any](xs []T, pred func(T) bool) int {
	n := 0
	for _, x := range xs {
		if pred(x) {
			n++
		}
	}
	return n
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
