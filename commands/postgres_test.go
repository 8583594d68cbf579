package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/webhost-systems/webhost/domain"
	"github.com/webhost-systems/webhost/eventstore"
	"github.com/webhost-systems/webhost/eventstore/postgres"
	"github.com/webhost-systems/webhost/internal/migrate"
	"github.com/webhost-systems/webhost/internal/pgtest"
	"github.com/webhost-systems/webhost/secrets"
)

// pgFixture is a command stack on the PostgreSQL event store and secrets
// store, in a fresh database.
func pgFixture(t testing.TB, opts ...func(*Config)) (*fixture, *pgxpool.Pool) {
	t.Helper()
	pool := pgtest.MustPool(t)
	ctx := context.Background()
	if err := migrate.Up(ctx, pool, nil, postgres.Migrations, secrets.Migrations); err != nil {
		t.Fatal(err)
	}
	store, err := postgres.New(ctx, pool, postgres.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	sec, err := secrets.New(ctx, pool, secrets.Config{MasterKey: testMasterKey})
	if err != nil {
		t.Fatal(err)
	}
	return newFixtureWith(t, store, sec, opts...), pool
}

// TestConcurrentPlanChanges: 50 goroutines change one subscription's plan
// at once. Every accepted change is in the stream exactly once, in the
// order of the results' versions; each change starts from the plan the
// previous one ended on (no lost update); conflicts were retried.
func TestConcurrentPlanChanges(t *testing.T) {
	t.Parallel()
	var conflicts atomic.Int64
	f, _ := pgFixture(t, func(c *Config) {
		c.OnConflict = func(string, int) { conflicts.Add(1) }
	})
	ada := f.signUp("ada@example.com", "acme")
	sub := f.subscription(ada.CustomerID, domain.PlanStarter)

	const writers = 50
	plans := []domain.PlanID{domain.PlanHobby, domain.PlanStarter, domain.PlanProfessional, domain.PlanBusiness}
	type outcome struct {
		commandID uuid.UUID
		plan      domain.PlanID
		res       Result
		err       error
	}
	outcomes := make([]outcome, writers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range writers {
		outcomes[i] = outcome{commandID: uuid.New(), plan: plans[(i*7)%len(plans)]}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			o := &outcomes[i]
			o.res, o.err = f.h.ChangePlan.Handle(f.ctx, ChangePlan{Meta: Meta{CommandID: o.commandID, Actor: fmt.Sprintf("test:%d", i)},
				CustomerID: ada.CustomerID, SubscriptionID: sub, Plan: o.plan})
		}()
	}
	close(start)
	wg.Wait()

	accepted := map[string]outcome{}
	for _, o := range outcomes {
		switch {
		case o.err == nil:
			if o.res.Appended != 1 {
				t.Fatalf("accepted change appended %d events", o.res.Appended)
			}
			accepted[o.commandID.String()] = o
		case errors.Is(o.err, domain.ErrSamePlan):
			// Rejected on the state it finally saw: a correct decision.
		default:
			t.Fatalf("unexpected error: %v", o.err)
		}
	}
	// About a quarter of the writers target the plan current when they
	// finally decide and are rightly rejected; far more than 5 succeed.
	if len(accepted) < 5 {
		t.Fatalf("only %d of %d changes accepted", len(accepted), writers)
	}
	if conflicts.Load() == 0 {
		t.Fatal("no version conflict happened: the test did not exercise concurrency")
	}

	recs, err := f.store.ReadStream(f.ctx, SubscriptionStream(sub), eventstore.ReadStreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	current := domain.PlanStarter
	var lastPos eventstore.Position
	for _, rec := range recs[1:] {
		e, md, err := domain.DecodeEvent(rec.Type, rec.Data, rec.Metadata)
		if err != nil {
			t.Fatal(err)
		}
		change, ok := e.(domain.PlanChanged)
		if !ok {
			t.Fatalf("unexpected %s", rec.Type)
		}
		o, ok := accepted[md.CommandID]
		if !ok || seen[md.CommandID] {
			t.Fatalf("change %s: accepted %v, seen before %v", md.CommandID, ok, seen[md.CommandID])
		}
		seen[md.CommandID] = true
		if change.FromPlan != current || change.ToPlan != o.plan {
			t.Fatalf("version %d: %s -> %s, expected from %s to %s (lost update)", rec.Version, change.FromPlan, change.ToPlan, current, o.plan)
		}
		if o.res.Version != rec.Version || o.res.Position != rec.Position || !lastPos.Before(rec.Position) {
			t.Fatalf("version %d: result %+v does not match the stored event", rec.Version, o.res)
		}
		current, lastPos = change.ToPlan, rec.Position
	}
	if len(seen) != len(accepted) {
		t.Fatalf("%d accepted changes, %d stored", len(accepted), len(seen))
	}
	s, err := loadState(f.ctx, f.h.Runner, SubscriptionStream(sub), subscriptionAgg)
	if err != nil || s.Plan() != current || s.PlanChanges() != len(accepted) {
		t.Fatalf("final state %+v, %v", s, err)
	}
	t.Logf("%d of %d changes accepted, %d conflicts retried", len(accepted), writers, conflicts.Load())
}

func concurrentSignUps(t *testing.T, f *fixture, n int, email, slug func(i int) string) ([]SignUpResult, []error) {
	t.Helper()
	results := make([]SignUpResult, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i], errs[i] = f.h.SignUp.Handle(f.ctx, SignUp{Meta: Meta{CommandID: uuid.New(), Actor: "anonymous"},
				Name: fmt.Sprint("User ", i), Email: email(i), Slug: slug(i)})
		}()
	}
	close(start)
	wg.Wait()
	return results, errs
}

func TestConcurrentSignUpsOneEmail(t *testing.T) {
	t.Parallel()
	f, _ := pgFixture(t)
	results, errs := concurrentSignUps(t, f, 20,
		func(i int) string { return []string{"same@example.com", "SAME@example.com ", "Same@Example.com"}[i%3] },
		func(i int) string { return fmt.Sprintf("team-%d", i) })
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Fatalf("two sign-ups with one e-mail succeeded: %d and %d", winner, i)
			}
			winner = i
		case errors.Is(err, domain.ErrEmailAlreadyRegistered):
			if !strings.Contains(err.Error(), "e-mail already registered") {
				t.Errorf("unclear message: %v", err)
			}
		default:
			t.Errorf("sign-up %d: unexpected error %v", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no sign-up succeeded")
	}
	// Only the winner exists; losers never reserved their slugs.
	for i, res := range results {
		_, errCustomer := f.store.ReadStream(f.ctx, CustomerStream(res.CustomerID), eventstore.ReadStreamOptions{})
		_, errSlug := f.store.ReadStream(f.ctx, SlugStream(fmt.Sprintf("team-%d", i)), eventstore.ReadStreamOptions{})
		if exists := errCustomer == nil; exists != (i == winner) {
			t.Errorf("sign-up %d: customer stream exists = %v (%v)", i, exists, errCustomer)
		}
		if exists := errSlug == nil; exists != (i == winner) {
			t.Errorf("sign-up %d: slug stream exists = %v (%v)", i, exists, errSlug)
		}
	}
	email, err := f.store.ReadStream(f.ctx, EmailStream("same@example.com"), eventstore.ReadStreamOptions{})
	if err != nil || len(email) != 1 {
		t.Fatalf("e-mail reservation stream: %d events, %v", len(email), err)
	}
	if results[winner].APIKey == "" {
		t.Fatal("winner got no key")
	}
}

func TestConcurrentSignUpsOneSlug(t *testing.T) {
	t.Parallel()
	f, _ := pgFixture(t)
	_, errs := concurrentSignUps(t, f, 20,
		func(i int) string { return fmt.Sprintf("user%d@example.com", i) },
		func(int) string { return "popular" })
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Fatalf("two sign-ups with one slug succeeded: %d and %d", winner, i)
			}
			winner = i
		case errors.Is(err, domain.ErrSlugTaken):
			if !strings.Contains(err.Error(), "slug already taken") {
				t.Errorf("unclear message: %v", err)
			}
		default:
			t.Errorf("sign-up %d: unexpected error %v", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no sign-up succeeded")
	}
	// The losers' addresses were released: they can sign up elsewhere.
	for i := range errs {
		if i == winner {
			continue
		}
		if _, err := f.h.SignUp.Handle(f.ctx, SignUp{Meta: f.meta(), Name: "Retry", Email: fmt.Sprintf("user%d@example.com", i), Slug: fmt.Sprintf("retry-%d", i)}); err != nil {
			t.Fatalf("loser %d cannot sign up again: %v", i, err)
		}
	}
}

// TestPostgresNoPlaintext runs the personal-data scenario on PostgreSQL and
// scans every stored event, and the secrets table's raw bytes, for
// plaintext.
func TestPostgresNoPlaintext(t *testing.T) {
	t.Parallel()
	f, pool := pgFixture(t)
	plain, last := personalScenario(t, f)
	if n := scanForPlaintext(t, f.store, last, plain); n < 20 {
		t.Fatalf("only %d events scanned", n)
	}
	rows, err := pool.Query(f.ctx, `SELECT id, coalesce(sealed, '') FROM secrets.secrets UNION ALL SELECT owner, coalesce(wrapped_key, '') FROM secrets.data_keys`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id string
		var raw []byte
		if err := rows.Scan(&id, &raw); err != nil {
			t.Fatal(err)
		}
		n++
		for _, p := range plain {
			if p != "" && strings.Contains(strings.ToLower(string(raw)), strings.ToLower(p)) {
				t.Errorf("secrets row %s holds plaintext %q", id, p)
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 10 {
		t.Fatalf("only %d secrets rows", n)
	}
}
