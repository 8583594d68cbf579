package fly_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/webhost-systems/webhost/processes"
	"github.com/webhost-systems/webhost/providers/call"
	"github.com/webhost-systems/webhost/providers/fly"
	"github.com/webhost-systems/webhost/providers/providertest"
	"github.com/webhost-systems/webhost/providers/sim"
)

type env struct {
	sim    *sim.Sim
	client *fly.Client
	mu     *sync.Mutex
	sleeps *[]time.Duration
}

func newEnv(t *testing.T, mutate func(*fly.Config)) env {
	t.Helper()
	s, err := sim.New(sim.Config{MachineStartDelay: 30 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	urls := sim.URLsFor(srv.URL)
	cfg := fly.Config{Token: "fly-test-token", APIBaseURL: urls.Fly, FlapsBaseURL: urls.Fly,
		Retry: call.Policy{BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond, AttemptTimeout: 5 * time.Second}}
	if mutate != nil {
		mutate(&cfg)
	}
	mu := &sync.Mutex{}
	sleeps := &[]time.Duration{}
	c, err := fly.New(cfg, call.WithSleep(func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		*sleeps = append(*sleeps, d)
		mu.Unlock()
		return call.Sleep(ctx, min(d, 2*time.Millisecond))
	}))
	if err != nil {
		t.Fatal(err)
	}
	return env{sim: s, client: c, mu: mu, sleeps: sleeps}
}

func TestAcceptanceAppLauncher(t *testing.T) {
	e := newEnv(t, nil)
	providertest.AppLauncher(t, e.client, "personal")
	if st := e.sim.State(); !st.Empty() {
		t.Fatalf("leaked: %+v", st.Fly)
	}
}

func TestAcceptancePostgres(t *testing.T) {
	e := newEnv(t, nil)
	providertest.PostgresProvisioner(t, e.client, "personal")
	if st := e.sim.State(); !st.Empty() {
		t.Fatalf("leaked: %+v", st.Fly)
	}
}

func TestAcceptanceRedis(t *testing.T) {
	e := newEnv(t, nil)
	providertest.RedisProvisioner(t, e.client, "org-id-1")
	if st := e.sim.State(); !st.Empty() {
		t.Fatalf("leaked: %+v", st.Fly)
	}
}

func TestPostgresClusterShape(t *testing.T) {
	e := newEnv(t, nil)
	_, err := e.client.EnsurePostgres(context.Background(), processes.PostgresSpec{Name: "acme-db", Org: "personal", Region: "fra", Replicas: 2,
		SuperuserPassword: "a", ReplicationPassword: "b", OperatorPassword: "c"})
	if err != nil {
		t.Fatal(err)
	}
	st := e.sim.State()
	if len(st.Fly.Apps) != 1 || strings.Join(st.Fly.Apps[0].SecretNames, ",") != "FLY_CONSUL_URL,OPERATOR_PASSWORD,REPL_PASSWORD,SU_PASSWORD" {
		t.Fatalf("apps = %+v", st.Fly.Apps)
	}
	if len(st.Fly.Machines) != 3 || len(st.Fly.Volumes) != 3 {
		t.Fatalf("machines %d volumes %d, want 3 and 3", len(st.Fly.Machines), len(st.Fly.Volumes))
	}
	for _, m := range st.Fly.Machines {
		if m.Image != fly.DefaultPostgresImage || m.Region != "fra" || m.Meta["fly-managed-postgres"] != "true" {
			t.Fatalf("machine %+v", m)
		}
	}
}

func TestSecretsNeverInState(t *testing.T) {
	e := newEnv(t, nil)
	if _, err := e.client.EnsureApp(context.Background(), processes.AppSpec{Name: "acme", Org: "personal", Secrets: map[string]string{"K": "topsecret"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.EnsureApp(context.Background(), processes.AppSpec{Name: "acme", Org: "other-org"}); !errors.Is(err, processes.ErrConflict) {
		t.Fatalf("app of another org = %v, want conflict", err)
	}
	st := e.sim.State()
	if len(st.Fly.Apps) != 1 || st.Fly.Apps[0].SecretNames[0] != "K" {
		t.Fatalf("apps = %+v", st.Fly.Apps)
	}
}

func TestCapacityErrorIsRetryable(t *testing.T) {
	e := newEnv(t, func(c *fly.Config) { c.Retry.MaxAttempts = 2 })
	ctx := context.Background()
	if _, err := e.client.EnsureApp(ctx, processes.AppSpec{Name: "cap", Org: "personal"}); err != nil {
		t.Fatal(err)
	}
	_, _ = e.sim.AddFaults(sim.FaultSet{NoCapacity: []string{"sin"}})
	_, err := e.client.Deploy(ctx, processes.DeploySpec{App: "cap", Image: "img:1", Regions: []string{"sin"}})
	providertest.RequireKind(t, err, processes.ErrRetryable)
	var pe *processes.ProviderError
	if errors.As(err, &pe); pe.Code != "insufficient_capacity" {
		t.Fatalf("code = %q", pe.Code)
	}
	e.sim.ClearFaults()
	if _, err := e.client.Deploy(ctx, processes.DeploySpec{App: "cap", Image: "img:1", Regions: []string{"sin"}}); err != nil {
		t.Fatalf("after capacity returns: %v", err)
	}
}

func TestRateLimitAndServerErrorsNotDoubled(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	if _, err := e.client.EnsureApp(ctx, processes.AppSpec{Name: "rl", Org: "personal"}); err != nil {
		t.Fatal(err)
	}
	_, _ = e.sim.AddFault(sim.Fault{Provider: "fly", Method: "POST", Path: "/v1/apps/rl/machines", Status: 429, RetryAfter: 4})
	_, _ = e.sim.AddFault(sim.Fault{Provider: "fly", Method: "POST", Path: "/v1/apps/rl/machines", Status: 503})
	if _, err := e.client.Deploy(ctx, processes.DeploySpec{App: "rl", Image: "img:1", Regions: []string{"iad"}}); err != nil {
		t.Fatal(err)
	}
	st := e.sim.State()
	// 429, 503, success: fly-go's own rehttp retry of 503 would add a fourth.
	if n := st.Requests["fly POST /v1/apps/rl/machines"]; n != 3 {
		t.Fatalf("launch requests = %d, want 3", n)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(*e.sleeps) != 2 || (*e.sleeps)[0] != 4*time.Second {
		t.Fatalf("backoffs = %v, want the 4s Retry-After first", *e.sleeps)
	}
}

func TestPermanentNotRetried(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	if _, err := e.client.EnsureApp(ctx, processes.AppSpec{Name: "perm", Org: "personal"}); err != nil {
		t.Fatal(err)
	}
	_, _ = e.sim.AddFault(sim.Fault{Provider: "fly", Method: "POST", Path: "/v1/apps/perm/machines", Status: 400, Message: "invalid image"})
	_, err := e.client.Deploy(ctx, processes.DeploySpec{App: "perm", Image: "img:1", Regions: []string{"iad"}})
	providertest.RequireKind(t, err, processes.ErrPermanent)
	if n := e.sim.State().Requests["fly POST /v1/apps/perm/machines"]; n != 1 {
		t.Fatalf("launches = %d, want 1", n)
	}
}

func TestTimedOutLaunchIsAdopted(t *testing.T) {
	e := newEnv(t, func(c *fly.Config) { c.Retry.AttemptTimeout = 300 * time.Millisecond })
	ctx := context.Background()
	if _, err := e.client.EnsureApp(ctx, processes.AppSpec{Name: "late", Org: "personal"}); err != nil {
		t.Fatal(err)
	}
	_, _ = e.sim.AddFault(sim.Fault{Provider: "fly", Method: "POST", Path: "/v1/apps/late/machines", After: true, DelayMS: 2000})
	app, err := e.client.Deploy(ctx, processes.DeploySpec{App: "late", Image: "img:1", Regions: []string{"iad"}, VolumeSizeGB: 1})
	if err != nil {
		t.Fatal(err)
	}
	st := e.sim.State()
	if len(app.Machines) != 1 || len(st.Fly.Machines) != 1 || len(st.Fly.Volumes) != 1 || st.Requests["fly POST /v1/apps/late/machines"] != 1 {
		t.Fatalf("machines %d volumes %d launches %d; want the timed-out launch adopted", len(st.Fly.Machines), len(st.Fly.Volumes), st.Requests["fly POST /v1/apps/late/machines"])
	}
}

func TestTimedOutAppCreateIsAdopted(t *testing.T) {
	e := newEnv(t, func(c *fly.Config) { c.Retry.AttemptTimeout = 300 * time.Millisecond })
	_, _ = e.sim.AddFault(sim.Fault{Provider: "fly", Method: "POST", Path: "/v1/apps", After: true, DelayMS: 2000})
	if _, err := e.client.EnsureApp(context.Background(), processes.AppSpec{Name: "late-app", Org: "personal"}); err != nil {
		t.Fatal(err)
	}
	if st := e.sim.State(); len(st.Fly.Apps) != 1 || st.Requests["fly POST /v1/apps"] != 1 {
		t.Fatalf("apps %d creates %d", len(st.Fly.Apps), st.Requests["fly POST /v1/apps"])
	}
}

func TestTimeoutRespectsContext(t *testing.T) {
	e := newEnv(t, nil)
	_, _ = e.sim.AddFault(sim.Fault{Provider: "fly", Times: -1, DelayMS: 3000})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := e.client.AppStatus(ctx, "slow")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline", err)
	}
}

func TestWaitLoopsPastTheEndpointCap(t *testing.T) {
	// A wait that ends in 408 (the endpoint's cap) is simply asked again.
	e := newEnv(t, nil)
	ctx := context.Background()
	if _, err := e.client.EnsureApp(ctx, processes.AppSpec{Name: "waity", Org: "personal"}); err != nil {
		t.Fatal(err)
	}
	_, _ = e.sim.AddFault(sim.Fault{Provider: "fly", Method: "GET", Path: "/v1/apps/waity/machines/*/wait", Times: 2, Status: 408, Message: "deadline_exceeded"})
	if _, err := e.client.Deploy(ctx, processes.DeploySpec{App: "waity", Image: "img:1", Regions: []string{"iad"}}); err != nil {
		t.Fatal(err)
	}
	if n := len(*e.sleeps); n != 0 {
		t.Fatalf("backoffs = %d, want none: a 408 wait is not an error", n)
	}
}

func TestMigrateDataRecordedOnce(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	if _, err := e.client.EnsurePostgres(ctx, processes.PostgresSpec{Name: "target-db", Org: "personal", Region: "iad",
		SuperuserPassword: "a", ReplicationPassword: "b", OperatorPassword: "c"}); err != nil {
		t.Fatal(err)
	}
	m := processes.DataMigration{ID: "mig-1", RunnerApp: "target-db",
		SourceURL: "postgres://webhost:hunter2@203.0.113.5:5432/webhost", TargetURL: "postgres://postgres:su@target-db.flycast:5432/webhost"}
	for range 2 {
		if err := e.client.MigrateData(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	migs := e.sim.Migrations()
	if len(migs) != 1 {
		t.Fatalf("migrations = %+v, want exactly one", migs)
	}
	got := migs[0]
	if got.ID != "mig-1" || strings.Contains(got.Source, "hunter2") || !strings.Contains(got.Source, "203.0.113.5") || len(got.Plan) != 1 ||
		!strings.HasPrefix(got.Plan[0], "pg_dump --format=custom") || !strings.Contains(got.Plan[0], "| pg_restore") {
		t.Fatalf("migration = %+v", got)
	}
}

func TestMachineHealthFlip(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	if _, err := e.client.EnsureApp(ctx, processes.AppSpec{Name: "hc", Org: "personal"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.Deploy(ctx, processes.DeploySpec{App: "hc", Image: "img:1", Regions: []string{"iad"}}); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.SetMachineHealth("hc-iad-0", false); err != nil {
		t.Fatal(err)
	}
	app, err := e.client.AppStatus(ctx, "hc")
	if err != nil || app.Machines[0].Health != processes.HealthCritical {
		t.Fatalf("status = %+v, %v", app, err)
	}
}

func TestAcceptanceDataMigrator(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	if _, err := e.client.EnsurePostgres(ctx, processes.PostgresSpec{Name: "runner-db", Org: "personal", Region: "iad",
		SuperuserPassword: "a", ReplicationPassword: "b", OperatorPassword: "c"}); err != nil {
		t.Fatal(err)
	}
	providertest.DataMigrator(t, e.client, "runner-db", func(id string) int {
		n := 0
		for _, m := range e.sim.Migrations() {
			if m.ID == id {
				n++
			}
		}
		return n
	})
}
