package hetzner_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/webhost-systems/webhost/processes"
	"github.com/webhost-systems/webhost/providers/call"
	"github.com/webhost-systems/webhost/providers/hetzner"
	"github.com/webhost-systems/webhost/providers/providertest"
	"github.com/webhost-systems/webhost/providers/sim"
)

type env struct {
	sim    *sim.Sim
	client *hetzner.Client
	reg    *prometheus.Registry
	sleeps *[]time.Duration
}

func newEnv(t *testing.T, mutate func(*hetzner.Config)) env {
	t.Helper()
	s, err := sim.New(sim.Config{ActionDelay: 30 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	reg := prometheus.NewRegistry()
	cfg := hetzner.Config{
		Token:        "test-token",
		Endpoint:     sim.URLsFor(srv.URL).Hetzner,
		PollInterval: 5 * time.Millisecond,
		Retry:        call.Policy{BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond, AttemptTimeout: 5 * time.Second},
		Metrics:      reg,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	var mu sync.Mutex
	sleeps := &[]time.Duration{}
	c, err := hetzner.New(cfg, call.WithSleep(func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		*sleeps = append(*sleeps, d)
		mu.Unlock()
		return call.Sleep(ctx, min(d, 5*time.Millisecond)) // Retry-After is recorded, not waited out
	}))
	if err != nil {
		t.Fatal(err)
	}
	return env{sim: s, client: c, reg: reg, sleeps: sleeps}
}

func spec(name string) processes.ServerSpec {
	return processes.ServerSpec{Name: name, ServerType: "cax11", Location: "nbg1", Labels: map[string]string{"webhost/deployment": name}}
}

func TestAcceptance(t *testing.T) {
	e := newEnv(t, nil)
	providertest.ServerProvisioner(t, e.client)
	if st := e.sim.State(); !st.Empty() {
		t.Fatalf("resources leaked: %+v", st.Hetzner.Servers)
	}
}

func TestCreateRecordsCloudInit(t *testing.T) {
	e := newEnv(t, nil)
	sp := spec("wh-cloudinit")
	sp.SyncServerImage = "registry.example/webhost:1.2.3"
	if _, err := e.client.EnsureServer(context.Background(), sp); err != nil {
		t.Fatal(err)
	}
	ud := e.sim.State().Hetzner.Servers[0].UserData
	for _, want := range []string{"postgresql-15-postgis-3", "redis-server", "ufw allow 22/tcp", "ufw allow 80/tcp", "ufw allow 443/tcp", "registry.example/webhost:1.2.3", "CREATE EXTENSION IF NOT EXISTS postgis"} {
		if !strings.Contains(ud, want) {
			t.Errorf("user data lacks %q", want)
		}
	}
}

func TestCloudInitSanitisesImage(t *testing.T) {
	ud := hetzner.CloudInit("evil\"; rm -rf / #\nx")
	if strings.Contains(ud, "rm -rf /") || strings.Contains(ud, "\"; ") {
		t.Fatalf("image not sanitised:\n%s", ud)
	}
}

func TestListPaginates(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	for i := range 55 {
		sp := spec(providertest.Name("pg"))
		sp.Labels = map[string]string{"sweep": "yes"}
		if i%5 == 0 {
			sp.Labels = map[string]string{"sweep": "no"}
		}
		if _, err := e.client.EnsureServer(ctx, sp); err != nil {
			t.Fatal(err)
		}
	}
	got, err := e.client.ListServers(ctx, map[string]string{"sweep": "yes"})
	if err != nil || len(got) != 44 {
		t.Fatalf("ListServers = %d servers, %v; want 44", len(got), err)
	}
	all, err := e.client.ListServers(ctx, nil)
	if err != nil || len(all) != 55 {
		t.Fatalf("ListServers(all) = %d, %v; want 55 (two pages of 50)", len(all), err)
	}
	st := e.sim.State()
	if n := st.Requests["hetzner GET /v1/servers"]; n < 2 {
		t.Fatalf("list requests = %d, want pagination over several pages", n)
	}
}

func TestRateLimitRetriedHonouringRetryAfter(t *testing.T) {
	e := newEnv(t, nil)
	if _, err := e.sim.AddFault(sim.Fault{Provider: "hetzner", Method: "POST", Path: "/v1/servers", Times: 2, Status: 429, RetryAfter: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.EnsureServer(context.Background(), spec("wh-429")); err != nil {
		t.Fatalf("EnsureServer: %v", err)
	}
	if len(*e.sleeps) != 2 || (*e.sleeps)[0] != 2*time.Second || (*e.sleeps)[1] != 2*time.Second {
		t.Fatalf("backoffs = %v, want two waits of the 2s Retry-After", *e.sleeps)
	}
	if n := len(e.sim.State().Hetzner.Servers); n != 1 {
		t.Fatalf("servers = %d, want 1", n)
	}
	if v := counterSum(t, e.reg, "webhost_provider_retries_total"); v != 2 {
		t.Fatalf("retries metric = %v, want 2", v)
	}
}

func counterSum(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			var sum float64
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
			return sum
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

func TestServerErrorsRetriedWithinBounds(t *testing.T) {
	e := newEnv(t, nil)
	id, _ := e.sim.AddFault(sim.Fault{Provider: "hetzner", Method: "GET", Path: "/v1/servers", Times: -1, Status: 503})
	_, err := e.client.EnsureServer(context.Background(), spec("wh-503"))
	providertest.RequireKind(t, err, processes.ErrRetryable)
	for _, f := range e.sim.Faults() {
		if f.ID == id && f.Hits != 4 {
			t.Fatalf("attempts = %d, want the policy's 4", f.Hits)
		}
	}
}

func TestPermanentErrorNotRetried(t *testing.T) {
	e := newEnv(t, nil)
	sp := spec("wh-bad-type")
	sp.ServerType = "cx999"
	_, err := e.client.EnsureServer(context.Background(), sp)
	providertest.RequireKind(t, err, processes.ErrPermanent)
	var pe *processes.ProviderError
	if !errors.As(err, &pe) || pe.Code != "invalid_input" || pe.StatusCode != 400 {
		t.Fatalf("error = %#v, want invalid_input 400", pe)
	}
	if n := e.sim.State().Requests["hetzner POST /v1/servers"]; n != 1 {
		t.Fatalf("create requests = %d, want 1 (no retry)", n)
	}
}

func TestTimeoutRespectsContext(t *testing.T) {
	e := newEnv(t, nil)
	id, _ := e.sim.AddFault(sim.Fault{Provider: "hetzner", Method: "GET", Path: "/v1/servers", Times: -1, DelayMS: 3000})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := e.client.ServerStatus(ctx, "wh-slow")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error = %v, want the context deadline", err)
	}
	for _, f := range e.sim.Faults() {
		if f.ID == id && f.Hits != 1 {
			t.Fatalf("attempts = %d, want 1: no retry past the caller's deadline", f.Hits)
		}
	}
}

func TestTimedOutCreateIsAdopted(t *testing.T) {
	e := newEnv(t, func(c *hetzner.Config) { c.Retry.AttemptTimeout = 300 * time.Millisecond })
	// The provider creates the server, but the response comes too late.
	if _, err := e.sim.AddFault(sim.Fault{Provider: "hetzner", Method: "POST", Path: "/v1/servers", After: true, DelayMS: 2000}); err != nil {
		t.Fatal(err)
	}
	got, err := e.client.EnsureServer(context.Background(), spec("wh-late"))
	if err != nil {
		t.Fatalf("EnsureServer: %v", err)
	}
	st := e.sim.State()
	if len(st.Hetzner.Servers) != 1 || st.Requests["hetzner POST /v1/servers"] != 1 {
		t.Fatalf("servers = %d, creates = %d; want the timed-out create adopted", len(st.Hetzner.Servers), st.Requests["hetzner POST /v1/servers"])
	}
	if got.Status != processes.StatusRunning {
		t.Fatalf("status = %s, want running", got.Status)
	}
}

func TestConcurrentEnsureAdoptsOnUniquenessError(t *testing.T) {
	e := newEnv(t, nil)
	var wg sync.WaitGroup
	ids := make([]string, 4)
	errs := make([]error, 4)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := e.client.EnsureServer(context.Background(), spec("wh-race"))
			ids[i], errs[i] = s.ID, err
		}()
	}
	wg.Wait()
	for i := range ids {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Fatalf("call %d: id %s err %v; want all to share %s", i, ids[i], errs[i], ids[0])
		}
	}
	if n := len(e.sim.State().Hetzner.Servers); n != 1 {
		t.Fatalf("servers = %d, want 1", n)
	}
}

func TestResourceUnavailableIsTransient(t *testing.T) {
	e := newEnv(t, func(c *hetzner.Config) { c.Retry.MaxAttempts = 2 })
	if _, err := e.sim.AddFaults(sim.FaultSet{Unavailable: []sim.ServerTypeLocation{{ServerType: "cax11", Location: "nbg1"}}}); err != nil {
		t.Fatal(err)
	}
	_, err := e.client.EnsureServer(context.Background(), spec("wh-sold-out"))
	providertest.RequireKind(t, err, processes.ErrRetryable)
	var pe *processes.ProviderError
	if errors.As(err, &pe); pe.Code != "resource_unavailable" {
		t.Fatalf("code = %q, want resource_unavailable", pe.Code)
	}
	e.sim.ClearFaults()
	if _, err := e.client.EnsureServer(context.Background(), spec("wh-sold-out")); err != nil {
		t.Fatalf("after restock: %v", err)
	}
}

func TestHealthFlipVisibleInStatus(t *testing.T) {
	e := newEnv(t, nil)
	if _, err := e.client.EnsureServer(context.Background(), spec("wh-health")); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.SetServerHealth("wh-health", false); err != nil {
		t.Fatal(err)
	}
	st, err := e.client.ServerStatus(context.Background(), "wh-health")
	if err != nil || st.Health != processes.HealthCritical || st.Status != processes.StatusStopped {
		t.Fatalf("status = %+v, %v; want stopped/critical", st, err)
	}
}

func TestConfigValidate(t *testing.T) {
	if _, err := hetzner.New(hetzner.Config{}); !errors.Is(err, hetzner.ErrInvalidConfig) {
		t.Fatalf("New without token = %v, want ErrInvalidConfig", err)
	}
}

func TestEnsurePowersOnAnAdoptedStoppedServer(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	if _, err := e.client.EnsureServer(ctx, spec("wh-off")); err != nil {
		t.Fatal(err)
	}
	_ = e.sim.SetServerHealth("wh-off", false)
	var progress []int
	sp := spec("wh-off")
	sp.OnProgress = func(p int) { progress = append(progress, p) }
	got, err := e.client.EnsureServer(ctx, sp)
	if err != nil || got.Status != processes.StatusRunning {
		t.Fatalf("EnsureServer = %+v, %v; want it powered on", got, err)
	}
	if n := e.sim.State().Requests["hetzner POST /v1/servers/1/actions/poweron"]; n != 1 {
		t.Fatalf("poweron requests = %d", n)
	}
	if len(progress) == 0 || progress[len(progress)-1] != 100 {
		t.Fatalf("progress = %v", progress)
	}
}
