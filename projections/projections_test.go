package projections_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
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
	"github.com/webhost-systems/webhost/projections"
	"github.com/webhost-systems/webhost/secrets"
	"github.com/webhost-systems/webhost/sync/syncauth"
)

type env struct {
	pool  *pgxpool.Pool
	store *postgres.Store
	mgr   *projections.Manager
	cmds  *commands.Handlers
}

func setup(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	pool := pgtest.MustPool(t)
	if err := migrate.Up(ctx, pool, nil, postgres.Migrations, projections.Migrations); err != nil {
		t.Fatal(err)
	}
	store, err := postgres.New(ctx, pool, postgres.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	mgr, err := projections.NewManager(projections.ManagerConfig{Pool: pool, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	if err := mgr.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	sec, err := secrets.NewMemory(secrets.Config{MasterKey: make([]byte, secrets.KeySize)})
	if err != nil {
		t.Fatal(err)
	}
	cmds, err := commands.New(commands.Config{Store: store, Secrets: sec})
	if err != nil {
		t.Fatal(err)
	}
	return &env{pool: pool, store: store, mgr: mgr, cmds: cmds}
}

func meta() commands.Meta { return commands.Meta{CommandID: uuid.New(), Actor: "system"} }

// scenario writes a realistic history: n customers, each with a
// subscription and plan changes, extra keys (one revoked) and a
// deployment provisioned or failed. It returns the customer IDs.
func (e *env) scenario(t *testing.T, n int) []uuid.UUID {
	t.Helper()
	ctx := context.Background()
	var ids []uuid.UUID
	chk := mustOK(t)
	for i := range n {
		su, err := e.cmds.SignUp.Handle(ctx, commands.SignUp{Meta: meta(), Name: fmt.Sprintf("Name %d", i),
			Email: fmt.Sprintf("c%d-%s@example.com", i, uuid.NewString()[:8]), Slug: fmt.Sprintf("c%d-%s", i, uuid.NewString()[:8]), Company: "Acme\x00 Ltd"})
		if err != nil {
			t.Fatal(err)
		}
		cid := su.CustomerID
		ids = append(ids, cid)
		sub := uuid.New()
		chk(e.cmds.StartSubscription.Handle(ctx, commands.StartSubscription{Meta: meta(), CustomerID: cid, SubscriptionID: sub, Plan: domain.PlanHobby, Trial: i%2 == 0}))
		chk(e.cmds.ChangePlan.Handle(ctx, commands.ChangePlan{Meta: meta(), CustomerID: cid, SubscriptionID: sub, Plan: domain.PlanStarter}))
		if i%3 == 0 {
			chk(e.cmds.CancelSubscription.Handle(ctx, commands.CancelSubscription{Meta: meta(), CustomerID: cid, SubscriptionID: sub, Reason: "test"}))
		}
		k, err := e.cmds.IssueAPIKey.Handle(ctx, commands.IssueAPIKey{Meta: meta(), CustomerID: cid, Name: "ci", Scopes: []string{"read"}})
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 1 {
			chk(e.cmds.RevokeAPIKey.Handle(ctx, commands.RevokeAPIKey{Meta: meta(), CustomerID: cid, KeyID: k.KeyID, Reason: "rotated"}))
		}
		dep := uuid.New()
		chk(e.cmds.RequestDeployment.Handle(ctx, commands.RequestDeployment{Meta: meta(), CustomerID: cid, DeploymentID: dep, SubscriptionID: sub, Plan: domain.PlanHobby}))
		chk(e.cmds.StartProvisioningStep.Handle(ctx, commands.StartProvisioningStep{Meta: meta(), CustomerID: cid, DeploymentID: dep, Step: domain.StepServer}))
		if i%2 == 0 {
			chk(e.cmds.RecordProvisioningStep.Handle(ctx, commands.RecordProvisioningStep{Meta: meta(), CustomerID: cid, DeploymentID: dep,
				Result: domain.ServerCreated{ServerID: fmt.Sprint(1000 + i), Name: "srv", ServerType: "cax11", Location: "nbg1"}}))
			chk(e.cmds.StartProvisioningStep.Handle(ctx, commands.StartProvisioningStep{Meta: meta(), CustomerID: cid, DeploymentID: dep, Step: domain.StepDNS}))
			chk(e.cmds.RecordProvisioningStep.Handle(ctx, commands.RecordProvisioningStep{Meta: meta(), CustomerID: cid, DeploymentID: dep,
				Result: domain.DNSRecordCreated{RecordID: fmt.Sprint("rec", i), Name: "x.webhost.systems", Type: "A", Content: "1.2.3.4"}}))
			chk(e.cmds.MarkDeploymentProvisioned.Handle(ctx, commands.MarkDeploymentProvisioned{Meta: meta(), CustomerID: cid, DeploymentID: dep,
				APIURL: "https://x.webhost.systems", SyncURL: "wss://x.webhost.systems/sync"}))
		} else {
			chk(e.cmds.MarkDeploymentFailed.Handle(ctx, commands.MarkDeploymentFailed{Meta: meta(), CustomerID: cid, DeploymentID: dep, Step: domain.StepServer, Reason: "quota"}))
		}
	}
	return ids
}

// mustOK returns a checker of command results that fails t on an error.
func mustOK(t *testing.T) func(commands.Result, error) {
	return func(_ commands.Result, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// runAll starts a runner per projection; the returned function stops them
// and returns their errors.
func (e *env) runAll(t *testing.T, ps ...*projections.Projection) (stop func() []error) {
	t.Helper()
	if len(ps) == 0 {
		ps = projections.All()
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make([]error, len(ps))
	for i, p := range ps {
		r, err := projections.NewRunner(projections.RunnerConfig{Pool: e.pool, Store: e.store, Projection: p, BatchSize: 7,
			LockRetry: 20 * time.Millisecond, LagInterval: 50 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = r.Run(ctx) }()
	}
	var once sync.Once
	stop = func() []error { once.Do(func() { cancel(); wg.Wait() }); return errs }
	t.Cleanup(func() { stop() })
	return stop
}

// waitCaughtUp waits until every projection's checkpoint reached the head.
func (e *env) waitCaughtUp(t *testing.T, names ...string) {
	t.Helper()
	if len(names) == 0 {
		names = []string{projections.NameReadModels, projections.NameEventLog, projections.NameAuthKeys}
	}
	ctx := context.Background()
	head := lastPosition(t, e.pool)
	deadline := time.Now().Add(30 * time.Second)
	for _, n := range names {
		for {
			cp, err := projections.Checkpoint(ctx, e.pool, n)
			if err != nil {
				t.Fatal(err)
			}
			if !cp.Before(head) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("projection %s stuck at %s, head %s", n, cp, head)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// lastPosition is the position of the last event appended, committed or
// not yet visible to readers (Head stops at the visibility horizon).
func lastPosition(t *testing.T, pool *pgxpool.Pool) eventstore.Position {
	t.Helper()
	var xid, seq int64
	err := pool.QueryRow(context.Background(), `SELECT coalesce(max(transaction_id::text::bigint), 0), coalesce(max(global_position), 0) FROM eventstore.events
		WHERE transaction_id = (SELECT max(transaction_id) FROM eventstore.events)`).Scan(&xid, &seq)
	if err != nil {
		t.Fatal(err)
	}
	return eventstore.Position{Commit: uint64(xid), Prepare: uint64(seq)}
}

func (e *env) mustVerify(t *testing.T) {
	t.Helper()
	diffs, err := e.mgr.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(diffs) > 0 {
		t.Fatalf("verify found differences: %+v", diffs)
	}
}

func count(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func TestRunnerBuildsReadModelsThatVerifyAndRebuild(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	e.runAll(t)
	ids := e.scenario(t, 6)
	e.waitCaughtUp(t)

	if got := count(t, e.pool, `SELECT count(*) FROM read.customers`); got != 6 {
		t.Fatalf("customers: %d", got)
	}
	if got := count(t, e.pool, `SELECT count(*) FROM read.subscription_plan_history`); got != 12 {
		t.Fatalf("plan history rows: %d", got)
	}
	if got := count(t, e.pool, `SELECT count(*) FROM read.deployments WHERE status = 'provisioned' AND api_url IS NOT NULL`); got != 3 {
		t.Fatalf("provisioned deployments: %d", got)
	}
	if got := count(t, e.pool, `SELECT count(*) FROM read.deployments WHERE status = 'failed' AND last_error = 'quota'`); got != 3 {
		t.Fatalf("failed deployments: %d", got)
	}
	if got := count(t, e.pool, `SELECT count(*) FROM read.deployment_resources`); got != 6 {
		t.Fatalf("resources: %d", got)
	}
	if got := count(t, e.pool, `SELECT count(*) FROM read.api_keys WHERE revoked_at IS NOT NULL`); got != 3 {
		t.Fatalf("revoked keys: %d", got)
	}
	if got := count(t, e.pool, `SELECT count(*) FROM read.event_log`); got != count(t, e.pool, `SELECT count(*) FROM eventstore.events`) {
		t.Fatalf("event_log rows %d", got)
	}
	if got := count(t, e.pool, `SELECT count(*) FROM read.mrr_daily`); got < 1 {
		t.Fatalf("mrr_daily rows: %d", got)
	}
	// The analyst table has no hashes; the auth table has them.
	if got := count(t, e.pool, `SELECT count(*) FROM information_schema.columns WHERE table_schema = 'read' AND table_name = 'api_keys' AND column_name LIKE '%sha%'`); got != 0 {
		t.Fatal("read.api_keys exposes a hash column")
	}
	if got := count(t, e.pool, `SELECT count(*) FROM auth.api_keys WHERE length(key_sha256) = 64`); got != 12 {
		t.Fatalf("auth keys: %d", got)
	}
	q, err := projections.NewQueries(projections.QueriesConfig{Pool: e.pool})
	if err != nil {
		t.Fatal(err)
	}
	c, err := q.Customer(ctx, ids[0].String())
	if err != nil || c.Company != "Acme\uFFFD Ltd" {
		t.Fatalf("customer %+v %v", c, err)
	}

	e.mustVerify(t)
	for _, p := range projections.All() {
		if err := e.mgr.Rebuild(ctx, p.Name); err != nil {
			t.Fatal(err)
		}
	}
	// The live runners carry on after the swap, without duplicates.
	e.scenario(t, 2)
	e.waitCaughtUp(t)
	e.mustVerify(t)
	if got := count(t, e.pool, `SELECT count(*) FROM read.customers`); got != 8 {
		t.Fatalf("customers after rebuild: %d", got)
	}
}

func TestVerifyDetectsTamperedReadModel(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.runAll(t)
	e.scenario(t, 2)
	e.waitCaughtUp(t)
	if _, err := e.pool.Exec(context.Background(), `UPDATE read.deployments SET status = 'tampered'`); err != nil {
		t.Fatal(err)
	}
	diffs, err := e.mgr.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(diffs) != 1 || diffs[0].Table != "deployments" || diffs[0].OnlyLive != 2 || diffs[0].OnlyReplay != 2 {
		t.Fatalf("diffs: %+v", diffs)
	}
	if err := e.mgr.Rebuild(context.Background(), projections.NameReadModels); err != nil {
		t.Fatal(err)
	}
	e.mustVerify(t)
}

// faulty wraps the read models so that the failAt-th handled event queues a
// statement that fails inside PostgreSQL, in the middle of a batch.
func faulty(failAt int) (*projections.Projection, *int) {
	p := projections.ReadModels()
	inner := p.Apply
	seen := 0
	p.Apply = func(b *projections.Batch, ev projections.Envelope) error {
		seen++
		if err := inner(b, ev); err != nil {
			return err
		}
		if seen == failAt {
			b.Queue(`SELECT 1 / 0`)
		}
		return nil
	}
	return p, &seen
}

func TestCrashMidBatchThenRestartEqualsFullReplay(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	e.scenario(t, 5) // history first, so batches are full
	// The faulty runner stops by itself at the event it cannot apply.
	r, err := projections.NewRunner(projections.RunnerConfig{Pool: e.pool, Store: e.store, Projection: mustFaulty(t, 10), BatchSize: 7, LockRetry: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runErr := r.Run(ctx)
	var applyErr *projections.ApplyError
	if !errors.As(runErr, &applyErr) || !errors.Is(runErr, projections.ErrCannotApply) || !strings.Contains(runErr.Error(), "division by zero") {
		t.Fatalf("run error: %v", runErr)
	}
	if st := r.Status(); st.Failed == "" {
		t.Fatalf("status does not report the failure: %+v", st)
	}
	cp, err := projections.Checkpoint(ctx, e.pool, projections.NameReadModels)
	if err != nil {
		t.Fatal(err)
	}
	if !cp.Before(applyErr.Position) {
		t.Fatalf("checkpoint %s is not before the failed event %s: the event was skipped", cp, applyErr.Position)
	}
	// Restart with the fixed code: the read models equal a full replay.
	e.runAll(t)
	e.waitCaughtUp(t)
	e.mustVerify(t)
	if got := count(t, e.pool, `SELECT count(*) FROM read.customers`); got != 5 {
		t.Fatalf("customers: %d", got)
	}
}

func mustFaulty(t *testing.T, at int) *projections.Projection {
	t.Helper()
	p, _ := faulty(at)
	return p
}

func TestStandbyRunnerTakesOverWhenTheActiveOneStops(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	mk := func() *projections.Runner {
		r, err := projections.NewRunner(projections.RunnerConfig{Pool: e.pool, Store: e.store, Projection: projections.EventLog(),
			LockRetry: 10 * time.Millisecond, LockCheck: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	a, b := mk(), mk()
	ctxA, stopA := context.WithCancel(ctx)
	ctxB, stopB := context.WithCancel(ctx)
	defer stopB()
	doneA := make(chan error, 1)
	doneB := make(chan error, 1)
	go func() { doneA <- a.Run(ctxA) }()
	waitFor(t, func() bool { return a.Status().Active })
	go func() { doneB <- b.Run(ctxB) }()
	e.scenario(t, 1)
	e.waitCaughtUp(t, projections.NameEventLog)
	if b.Status().Active {
		t.Fatal("two runners active at once")
	}
	stopA()
	if err := <-doneA; err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return b.Status().Active })
	e.scenario(t, 1)
	e.waitCaughtUp(t, projections.NameEventLog)
	stopB()
	if err := <-doneB; err != nil {
		t.Fatal(err)
	}
	e.mustVerify(t)
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestKeyAuthenticatorUsesTheAuthTable(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	e.runAll(t, projections.AuthKeys())
	su, err := e.cmds.SignUp.Handle(ctx, commands.SignUp{Meta: meta(), Name: "A", Email: "a@example.com", Slug: "alpha"})
	if err != nil {
		t.Fatal(err)
	}
	e.waitCaughtUp(t, projections.NameAuthKeys)
	chk := mustOK(t)
	auth, err := projections.NewKeyAuthenticator(e.pool)
	if err != nil {
		t.Fatal(err)
	}
	p, err := auth.Authenticate(ctx, su.APIKey)
	if err != nil || p.CustomerID != su.CustomerID.String() || p.KeyID != su.APIKeyID.String() || !p.CanWrite() {
		t.Fatalf("principal %+v, %v", p, err)
	}
	for _, bad := range []string{"", "whs_live_nope", su.APIKey + "x", "Bearer " + su.APIKey} {
		if _, err := auth.Authenticate(ctx, bad); !errors.Is(err, syncauth.ErrUnauthenticated) {
			t.Fatalf("%q: %v", bad, err)
		}
	}
	chk(e.cmds.RevokeAPIKey.Handle(ctx, commands.RevokeAPIKey{Meta: meta(), CustomerID: su.CustomerID, KeyID: su.APIKeyID}))
	e.waitCaughtUp(t, projections.NameAuthKeys)
	if _, err := auth.Authenticate(ctx, su.APIKey); !errors.Is(err, syncauth.ErrUnauthenticated) {
		t.Fatalf("revoked key: %v", err)
	}
}

func TestWaitForTimesOutWhenProjectionsLag(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	res, err := e.cmds.SignUp.Handle(ctx, commands.SignUp{Meta: meta(), Name: "A", Email: "a@example.com", Slug: "alpha"})
	if err != nil {
		t.Fatal(err)
	}
	q, err := projections.NewQueries(projections.QueriesConfig{Pool: e.pool, MaxWait: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.WaitFor(ctx, res.Position); !errors.Is(err, projections.ErrWaitTimeout) {
		t.Fatalf("no runner: %v", err)
	}
	e.runAll(t)
	q2, _ := projections.NewQueries(projections.QueriesConfig{Pool: e.pool, MaxWait: 20 * time.Second})
	if err := q2.WaitFor(ctx, res.Position); err != nil {
		t.Fatal(err)
	}
	if _, err := q2.Customer(ctx, res.CustomerID.String()); err != nil {
		t.Fatal(err)
	}
	var _ eventstore.Position = res.Position
}

func TestLiveReadsKeepWorkingDuringRebuild(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	e.runAll(t)
	e.scenario(t, 10)
	e.waitCaughtUp(t)
	q, err := projections.NewQueries(projections.QueriesConfig{Pool: e.pool})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	readErr := make(chan error, 1)
	reads := 0
	go func() {
		defer close(readErr)
		for {
			select {
			case <-stop:
				return
			default:
			}
			cs, err := q.Customers(ctx, "", 1000)
			if err == nil && len(cs) != 10 {
				err = fmt.Errorf("read %d customers during the rebuild, want 10", len(cs))
			}
			if err != nil {
				readErr <- err
				return
			}
			reads++
		}
	}()
	for range 3 {
		start := time.Now()
		if err := e.mgr.Rebuild(ctx, projections.NameReadModels); err != nil {
			t.Fatal(err)
		}
		t.Logf("rebuild took %s", time.Since(start))
	}
	close(stop)
	if err := <-readErr; err != nil {
		t.Fatal(err)
	}
	if reads == 0 {
		t.Fatal("no reads ran during the rebuilds")
	}
	e.mustVerify(t)
}
