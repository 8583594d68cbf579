package processes_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/webhost-systems/webhost/commands"
	"github.com/webhost-systems/webhost/domain"
	"github.com/webhost-systems/webhost/eventstore/postgres"
	"github.com/webhost-systems/webhost/processes"
	"github.com/webhost-systems/webhost/providers/sim"
)

// TestCrashAfterProviderCall kills the process manager after each step's
// provider call, before the step's event is appended, and restarts it: the
// deployment completes with exactly one of each resource.
func TestCrashAfterProviderCall(t *testing.T) {
	for _, tc := range stepCases {
		t.Run(fmt.Sprintf("%s/%s", tc.plan, tc.step), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			crashed := make(chan struct{})
			var once sync.Once
			_, stop := h.start(t, func(c *processes.Config) {
				c.AfterProviderCall = func(ctx context.Context, _ string, step domain.Step) {
					if step != tc.step {
						return
					}
					first := false
					once.Do(func() { first = true; close(crashed) })
					if first {
						<-ctx.Done() // the process dies here
					}
				}
			})
			customerID, slug := h.signUp(t, tc.plan)
			depID := initialDeployment(customerID)
			select {
			case <-crashed:
			case <-time.After(60 * time.Second):
				t.Fatal("step never ran")
			}
			stop()
			if d := h.deployment(t, depID); d.StepCompleted(tc.step) {
				t.Fatalf("step %s recorded although the process died before appending it", tc.step)
			}
			h.start(t, nil)
			d := h.waitStatus(t, depID, domain.DeploymentStatusProvisioned, domain.DeploymentStatusFailed)
			if d.Status() != domain.DeploymentStatusProvisioned {
				_, reason := d.Failure()
				t.Fatalf("deployment failed after restart: %s", reason)
			}
			if got := h.startedAttempts(t, depID, tc.step); !slices.Equal(got, []int{1}) {
				t.Fatalf("attempts of %s = %v, want [1]: the restart resumes the recorded attempt", tc.step, got)
			}
			st := h.sim.State()
			name := processes.ResourceName(depID.String())
			servers := count(st.Hetzner.Servers, func(s sim.ServerState) bool { return s.Name == name })
			apps := count(st.Fly.Apps, func(a sim.AppState) bool { return a.Name == name })
			if servers+apps != 1 || len(st.Hetzner.Servers)+len(st.Fly.Apps) != servers+apps+count(st.Fly.Apps, func(a sim.AppState) bool { return a.Name == processes.DatabaseName(depID.String()) }) {
				t.Fatalf("servers %+v apps %+v: want exactly one server or app (plus its database)", st.Hetzner.Servers, st.Fly.Apps)
			}
			if len(st.Fly.Redis) > 1 || len(st.Cloudflare.Records) != 1 || st.Cloudflare.Records[0].Name != slug+"."+baseDomain && st.Cloudflare.Records[0].Name != slug {
				t.Fatalf("redis %+v records %+v: want at most one Redis and exactly one record", st.Fly.Redis, st.Cloudflare.Records)
			}
			if tc.plan != domain.PlanHobby {
				machines := count(st.Fly.Machines, func(m sim.MachineState) bool { return m.App == name })
				if machines != 1 {
					t.Fatalf("%d machines in %s, want 1", machines, name)
				}
			}
		})
	}
}

// TestTwoRunnersProvisionEachDeploymentOnce runs two runners (two serve
// processes: own pools, own store instances) on one database, stops one
// midway, and checks every deployment was provisioned exactly once.
func TestTwoRunnersProvisionEachDeploymentOnce(t *testing.T) {
	h := newHarness(t)
	_, stopA := h.start(t, func(c *processes.Config) { c.Holder = "a" })
	poolB := mustPool(t, h.dsn)
	storeB, err := postgres.New(h.ctx, poolB, postgres.Config{PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = storeB.Close() })
	cmdsB, err := commands.New(commands.Config{Store: storeB, Secrets: h.secrets})
	if err != nil {
		t.Fatal(err)
	}
	h.start(t, func(c *processes.Config) { c.Holder = "b"; c.Pool = poolB; c.Store = storeB; c.Commands = cmdsB })

	plans := []domain.PlanID{domain.PlanHobby, domain.PlanStarter, domain.PlanHobby, domain.PlanProfessional, domain.PlanHobby, domain.PlanStarter}
	var deps []uuid.UUID
	for i, p := range plans {
		c, _ := h.signUp(t, p)
		deps = append(deps, initialDeployment(c))
		if i == 2 {
			h.waitStatus(t, deps[0], domain.DeploymentStatusProvisioned)
			stopA() // fail over to b while work is in flight
		}
	}
	for _, id := range deps {
		if d := h.waitStatus(t, id, domain.DeploymentStatusProvisioned, domain.DeploymentStatusFailed); d.Status() != domain.DeploymentStatusProvisioned {
			_, reason := d.Failure()
			t.Fatalf("deployment %s failed: %s", id, reason)
		}
	}
	st := h.sim.State()
	for i, id := range deps {
		name := processes.ResourceName(id.String())
		n := count(st.Hetzner.Servers, func(s sim.ServerState) bool { return s.Name == name }) +
			count(st.Fly.Apps, func(a sim.AppState) bool { return a.Name == name })
		if n != 1 {
			t.Fatalf("deployment %d (%s): %d servers/apps, want 1", i, plans[i], n)
		}
		d := h.deployment(t, id)
		for _, step := range d.Spec().Steps() {
			if got := h.startedAttempts(t, id, step); !slices.Equal(got, []int{1}) {
				t.Fatalf("deployment %d step %s attempts %v, want [1]", i, step, got)
			}
		}
		provisioned := count(h.records(t, commands.DeploymentStream(id)), func(e domain.Event) bool { _, ok := e.(domain.DeploymentProvisioned); return ok })
		if provisioned != 1 {
			t.Fatalf("deployment %d provisioned %d times", i, provisioned)
		}
	}
	if len(st.Hetzner.Servers) != 3 || len(st.Cloudflare.Records) != len(plans) {
		t.Fatalf("%d servers, %d records; want 3 and %d", len(st.Hetzner.Servers), len(st.Cloudflare.Records), len(plans))
	}
}

// TestCloseReleasesEveryLease: after Close no advisory lock of the runner
// is held, so another process takes over at once.
func TestCloseReleasesEveryLease(t *testing.T) {
	h := newHarness(t)
	_, stop := h.start(t, func(c *processes.Config) { c.MonitorInterval = time.Hour; c.SweepInterval = time.Hour })
	locks := func() int {
		var n int
		if err := h.pool.QueryRow(h.ctx, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	waitFor(t, "five leases", func() bool { return locks() == 5 })
	stop()
	if n := locks(); n != 0 {
		t.Fatalf("%d advisory locks held after Close", n)
	}
}
