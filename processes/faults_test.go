package processes_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/webhost-systems/webhost/commands"
	"github.com/webhost-systems/webhost/domain"
	"github.com/webhost-systems/webhost/processes"
	"github.com/webhost-systems/webhost/providers/sim"
)

// faultAt wraps the providers so that, the first time a step's main
// provider call runs, a fault rule is installed in the simulator: the
// call's first HTTP request to that provider then fails as the rule says.
type faultAt struct {
	sim   *sim.Sim
	step  domain.Step
	fault sim.Fault
	once  sync.Once
	processes.Providers
}

func (f *faultAt) trigger(step domain.Step) {
	if step != f.step {
		return
	}
	f.once.Do(func() {
		if _, err := f.sim.AddFault(f.fault); err != nil {
			panic(err)
		}
	})
}

type faultServers struct {
	*faultAt
	processes.ServerProvisioner
}

func (f faultServers) EnsureServer(ctx context.Context, s processes.ServerSpec) (processes.Server, error) {
	f.trigger(domain.StepServer)
	return f.ServerProvisioner.EnsureServer(ctx, s)
}

type faultApps struct {
	*faultAt
	processes.AppLauncher
}

func (f faultApps) EnsureApp(ctx context.Context, s processes.AppSpec) (processes.App, error) {
	f.trigger(domain.StepApp)
	return f.AppLauncher.EnsureApp(ctx, s)
}

func (f faultApps) Deploy(ctx context.Context, s processes.DeploySpec) (processes.App, error) {
	f.trigger(domain.StepMachines)
	return f.AppLauncher.Deploy(ctx, s)
}

type faultPostgres struct {
	*faultAt
	processes.PostgresProvisioner
}

func (f faultPostgres) EnsurePostgres(ctx context.Context, s processes.PostgresSpec) (processes.PostgresCluster, error) {
	f.trigger(domain.StepDatabase)
	return f.PostgresProvisioner.EnsurePostgres(ctx, s)
}

type faultRedis struct {
	*faultAt
	processes.RedisProvisioner
}

func (f faultRedis) EnsureRedis(ctx context.Context, s processes.RedisSpec) (processes.Redis, error) {
	f.trigger(domain.StepRedis)
	return f.RedisProvisioner.EnsureRedis(ctx, s)
}

type faultDNS struct {
	*faultAt
	processes.DNS
}

func (f faultDNS) UpsertRecord(ctx context.Context, r processes.DNSRecord) (processes.DNSRecord, error) {
	f.trigger(domain.StepDNS)
	return f.DNS.UpsertRecord(ctx, r)
}

func (f *faultAt) providers() processes.Providers {
	return processes.Providers{Servers: faultServers{f, f.Servers}, Apps: faultApps{f, f.Apps},
		Postgres: faultPostgres{f, f.Postgres}, Redis: faultRedis{f, f.Redis}, Data: f.Data, DNS: faultDNS{f, f.DNS}}
}

type stepCase struct {
	plan     domain.PlanID
	step     domain.Step
	provider string // the simulator the step's call goes to
}

var stepCases = []stepCase{
	{domain.PlanHobby, domain.StepServer, "hetzner"},
	{domain.PlanHobby, domain.StepDNS, "cloudflare"},
	{domain.PlanStarter, domain.StepApp, "fly"},
	{domain.PlanStarter, domain.StepDatabase, "fly"},
	{domain.PlanStarter, domain.StepRedis, "fly"},
	{domain.PlanStarter, domain.StepMachines, "fly"},
	{domain.PlanStarter, domain.StepDNS, "cloudflare"},
}

// startedAttempts returns the attempts recorded for step.
func (h *harness) startedAttempts(t testing.TB, depID uuid.UUID, step domain.Step) []int {
	t.Helper()
	recs := h.records(t, commands.DeploymentStream(depID))
	var out []int
	for _, e := range recs {
		if s, ok := e.(domain.ProvisioningStepStarted); ok && s.Step == step {
			out = append(out, s.Attempt)
		}
	}
	return out
}

func TestFaultMatrix(t *testing.T) {
	for _, tc := range stepCases {
		for _, kind := range []string{"transient", "permanent"} {
			t.Run(fmt.Sprintf("%s/%s/%s", tc.plan, tc.step, kind), func(t *testing.T) {
				t.Parallel()
				h := newHarness(t)
				fault := sim.Fault{Provider: tc.provider, Status: 503, Times: 1}
				if kind == "permanent" {
					fault.Status = 403
					fault.Code = "forbidden"
				}
				fa := &faultAt{sim: h.sim, step: tc.step, fault: fault, Providers: h.providers}
				h.providers = fa.providers()
				h.start(t, nil)
				customerID, _ := h.signUp(t, tc.plan)
				depID := initialDeployment(customerID)
				d := h.waitStatus(t, depID, domain.DeploymentStatusProvisioned, domain.DeploymentStatusFailed)
				if kind == "transient" {
					if d.Status() != domain.DeploymentStatusProvisioned {
						_, reason := d.Failure()
						t.Fatalf("deployment failed: %s", reason)
					}
					if got := h.startedAttempts(t, depID, tc.step); !slices.Equal(got, []int{1, 2}) {
						t.Fatalf("attempts of %s = %v, want [1 2]", tc.step, got)
					}
					st := h.sim.State()
					if len(st.Hetzner.Servers)+count(st.Fly.Apps, func(a sim.AppState) bool { return a.Name == processes.ResourceName(depID.String()) }) != 1 {
						t.Fatalf("servers %+v apps %+v: want exactly one server or app", st.Hetzner.Servers, st.Fly.Apps)
					}
					return
				}
				if d.Status() != domain.DeploymentStatusFailed {
					t.Fatalf("deployment %s, want failed", d.Status())
				}
				if step, _ := d.Failure(); step != tc.step {
					t.Fatalf("failed at %s, want %s", step, tc.step)
				}
				if got := h.startedAttempts(t, depID, tc.step); !slices.Equal(got, []int{1}) {
					t.Fatalf("attempts of %s = %v, want [1] (a permanent error is not retried)", tc.step, got)
				}
				waitFor(t, "cleanup", func() bool { return h.deployment(t, depID).CleanedUp() })
				if st := h.sim.State(); !st.Empty() {
					t.Fatalf("resources left after cleanup: servers %+v apps %+v machines %d volumes %d redis %+v records %+v",
						st.Hetzner.Servers, st.Fly.Apps, len(st.Fly.Machines), len(st.Fly.Volumes), st.Fly.Redis, st.Cloudflare.Records)
				}
				waitFor(t, "failure notification", func() bool {
					out, err := processes.ListOutbox(h.ctx, h.pool, customerID.String())
					return err == nil && count(out, func(o processes.OutboxMessage) bool { return o.Kind == processes.NotificationProvisioningFailed }) == 1
				})
			})
		}
	}
}

func TestFailsAfterThreeTransientFailures(t *testing.T) {
	h := newHarness(t)
	fa := &faultAt{sim: h.sim, step: domain.StepServer, fault: sim.Fault{Provider: "hetzner", Method: "POST", Path: "/v1/servers", Status: 503, Times: -1}, Providers: h.providers}
	h.providers = fa.providers()
	h.start(t, nil)
	customerID, _ := h.signUp(t, domain.PlanHobby)
	depID := initialDeployment(customerID)
	d := h.waitStatus(t, depID, domain.DeploymentStatusFailed, domain.DeploymentStatusProvisioned)
	if d.Status() != domain.DeploymentStatusFailed {
		t.Fatalf("deployment %s, want failed", d.Status())
	}
	if got := h.startedAttempts(t, depID, domain.StepServer); !slices.Equal(got, []int{1, 2, 3}) {
		t.Fatalf("attempts = %v, want [1 2 3]", got)
	}
	waitFor(t, "cleanup", func() bool { return h.deployment(t, depID).CleanedUp() })
	h.sim.ClearFaults()
	if st := h.sim.State(); !st.Empty() {
		t.Fatalf("resources left: %+v", st.Hetzner.Servers)
	}
}
