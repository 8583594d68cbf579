package processes_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/webhost-systems/webhost/commands"
	"github.com/webhost-systems/webhost/domain"
	"github.com/webhost-systems/webhost/processes"
	"github.com/webhost-systems/webhost/providers/sim"
)

func (h *harness) activeDeployment(t testing.TB, customerID uuid.UUID) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	if err := h.pool.QueryRow(h.ctx, "SELECT deployment_id FROM processes.active_deployments WHERE subscription_id = $1",
		processes.SubscriptionID(customerID)).Scan(&id); err != nil {
		t.Fatalf("active deployment: %v", err)
	}
	return id
}

func (h *harness) changePlan(t testing.TB, customerID uuid.UUID, plan domain.PlanID) {
	t.Helper()
	if _, err := h.cmds.ChangePlan.Handle(h.ctx, commands.ChangePlan{Meta: commands.Meta{CommandID: uuid.New(), Actor: "customer:" + customerID.String()},
		CustomerID: customerID, SubscriptionID: processes.SubscriptionID(customerID), Plan: plan}); err != nil {
		t.Fatalf("change plan to %s: %v", plan, err)
	}
}

// waitMigrated waits until the subscription's active deployment is a new,
// provisioned one and the old one is decommissioned and cleaned up.
func (h *harness) waitMigrated(t testing.TB, customerID, old uuid.UUID) uuid.UUID {
	t.Helper()
	var target uuid.UUID
	waitFor(t, "migration away from "+old.String(), func() bool {
		target = h.activeDeployment(t, customerID)
		if target == old {
			return false
		}
		o := h.deployment(t, old)
		return o.Status() == domain.DeploymentStatusDecommissioned && o.CleanedUp()
	})
	if d := h.deployment(t, target); d.Status() != domain.DeploymentStatusProvisioned || d.Replaces() != old.String() {
		t.Fatalf("target %s is %s replacing %q", target, d.Status(), d.Replaces())
	}
	if _, st := h.deployment(t, old).Migration(); st != domain.MigrationCompleted {
		t.Fatalf("old deployment migration = %s", st)
	}
	return target
}

func TestPlanChangesMigrateAcrossCloudsAndBack(t *testing.T) {
	h := newHarness(t)
	h.start(t, nil)
	customerID, slug := h.signUp(t, domain.PlanHobby)
	hobby := initialDeployment(customerID)
	h.waitStatus(t, hobby, domain.DeploymentStatusProvisioned)

	h.changePlan(t, customerID, domain.PlanStarter)
	starter := h.waitMigrated(t, customerID, hobby)
	st := h.sim.State()
	if len(st.Hetzner.Servers) != 0 {
		t.Fatalf("hobby server left after migration: %+v", st.Hetzner.Servers)
	}
	if len(st.Fly.Migrations) != 1 || st.Fly.Migrations[0].App != processes.ResourceName(starter.String()) {
		t.Fatalf("data migrations = %+v, want one run by the starter app", st.Fly.Migrations)
	}
	slugRecord := func(st sim.State) []sim.RecordState {
		var out []sim.RecordState
		for _, r := range st.Cloudflare.Records {
			if r.Name == slug || r.Name == slug+"."+baseDomain {
				out = append(out, r)
			}
		}
		return out
	}
	if recs := slugRecord(st); len(recs) != 1 || recs[0].Type != "CNAME" {
		t.Fatalf("slug records = %+v, want one CNAME to the Fly app", recs)
	}
	waitFor(t, "migration notification", func() bool {
		out, err := processes.ListOutbox(h.ctx, h.pool, customerID.String())
		return err == nil && count(out, func(o processes.OutboxMessage) bool { return o.Kind == processes.NotificationMigrationDone }) == 1
	})

	h.changePlan(t, customerID, domain.PlanHobby)
	back := h.waitMigrated(t, customerID, starter)
	st = h.sim.State()
	if len(st.Fly.Apps) != 0 || len(st.Fly.Machines) != 0 || len(st.Fly.Redis) != 0 || len(st.Fly.Volumes) != 0 {
		t.Fatalf("Fly resources left: apps %+v machines %d redis %+v volumes %d", st.Fly.Apps, len(st.Fly.Machines), st.Fly.Redis, len(st.Fly.Volumes))
	}
	if len(st.Hetzner.Servers) != 1 || st.Hetzner.Servers[0].Name != processes.ResourceName(back.String()) {
		t.Fatalf("servers = %+v, want only the new hobby server", st.Hetzner.Servers)
	}
	if len(st.Fly.Migrations) != 2 {
		t.Fatalf("data migrations = %d, want 2", len(st.Fly.Migrations))
	}
	if recs := slugRecord(st); len(recs) != 1 || recs[0].Type != "A" {
		t.Fatalf("slug records = %+v, want one A record to the new server", recs)
	}
}

func TestPlanChangeWithinFlyScalesWithoutReprovisioning(t *testing.T) {
	h := newHarness(t)
	h.start(t, nil)
	customerID, _ := h.signUp(t, domain.PlanStarter)
	depID := initialDeployment(customerID)
	h.waitStatus(t, depID, domain.DeploymentStatusProvisioned)
	h.changePlan(t, customerID, domain.PlanProfessional)
	name := processes.ResourceName(depID.String())
	waitFor(t, "machines in fra", func() bool {
		return count(h.sim.State().Fly.Machines, func(m sim.MachineState) bool { return m.App == name && m.Region == "fra" }) == 1
	})
	d := h.deployment(t, depID)
	if got := d.Spec().Regions; !slices.Equal(got, []string{"iad", "fra"}) || d.Spec().Database.ReadReplicas != 1 {
		t.Fatalf("spec regions %v replicas %d, want [iad fra] and 1", got, d.Spec().Database.ReadReplicas)
	}
	if a := h.activeDeployment(t, customerID); a != depID {
		t.Fatalf("active deployment changed to %s: scaling must not re-provision", a)
	}
	st := h.sim.State()
	if apps := count(st.Fly.Apps, func(a sim.AppState) bool { return a.Name == name }); apps != 1 || len(st.Fly.Migrations) != 0 {
		t.Fatalf("apps %+v migrations %+v", st.Fly.Apps, st.Fly.Migrations)
	}
	if db := count(st.Fly.Machines, func(m sim.MachineState) bool { return m.App == processes.DatabaseName(depID.String()) }); db != 2 {
		t.Fatalf("database machines = %d, want primary + 1 replica", db)
	}
}

func TestPoisonedEventIsListedAndRedriven(t *testing.T) {
	h := newHarness(t)
	// Every Hetzner call is forbidden: the server step fails permanently,
	// and so does its cleanup, which is poisoned.
	fa := &faultAt{sim: h.sim, step: domain.StepServer, fault: sim.Fault{Provider: "hetzner", Status: 403, Times: -1}, Providers: h.providers}
	h.providers = fa.providers()
	h.start(t, nil)
	customerID, _ := h.signUp(t, domain.PlanHobby)
	depID := initialDeployment(customerID)
	h.waitStatus(t, depID, domain.DeploymentStatusFailed)
	var poisoned []processes.PoisonedEvent
	waitFor(t, "poisoned cleanup", func() bool {
		var err error
		poisoned, err = processes.ListPoisoned(h.ctx, h.pool, processes.PoisonFilter{Status: processes.PoisonStatusPoisoned})
		return err == nil && len(poisoned) == 1
	})
	p := poisoned[0]
	if p.Group != processes.GroupProvisioning || p.EventType != domain.TypeDeploymentFailed || p.Stream != commands.DeploymentStream(depID) || p.Reason == "" {
		t.Fatalf("poisoned = %+v", p)
	}
	if h.deployment(t, depID).CleanedUp() {
		t.Fatal("cleaned up although every delete failed")
	}
	h.sim.ClearFaults()
	n, err := processes.RequestRedrive(h.ctx, h.pool, processes.RedriveRequest{IDs: []int64{p.ID}}, time.Now())
	if err != nil || n != 1 {
		t.Fatalf("RequestRedrive = %d, %v", n, err)
	}
	waitFor(t, "redriven cleanup", func() bool { return h.deployment(t, depID).CleanedUp() })
	waitFor(t, "poison row redriven", func() bool {
		got, err := processes.ListPoisoned(h.ctx, h.pool, processes.PoisonFilter{})
		return err == nil && len(got) == 1 && got[0].Status == processes.PoisonStatusRedriven
	})
	if _, err := processes.RequestRedrive(h.ctx, h.pool, processes.RedriveRequest{All: true}, time.Now()); err != processes.ErrNothingToRedrive {
		t.Fatalf("second redrive = %v, want ErrNothingToRedrive", err)
	}
}

func TestMonitorRecordsHealthChangesOnlyAndAlerts(t *testing.T) {
	h := newHarness(t)
	var mu sync.Mutex
	var alerts []processes.HealthAlert
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a processes.HealthAlert
		if err := json.NewDecoder(r.Body).Decode(&a); err != nil {
			t.Errorf("alert body: %v", err)
		}
		mu.Lock()
		alerts = append(alerts, a)
		mu.Unlock()
	}))
	defer hook.Close()
	r, _ := h.start(t, func(c *processes.Config) { c.MonitorInterval = time.Hour; c.AlertWebhookURL = hook.URL })
	customerID, _ := h.signUp(t, domain.PlanHobby)
	depID := initialDeployment(customerID)
	h.waitStatus(t, depID, domain.DeploymentStatusProvisioned)

	check := func() processes.HealthCheck {
		t.Helper()
		res, err := r.Monitor().Check(h.ctx)
		if err != nil || len(res) != 1 {
			t.Fatalf("Check = %+v, %v", res, err)
		}
		return res[0]
	}
	// The monitor discovers deployments from the log, which may trail the
	// stream just read by a moment.
	var first []processes.HealthCheck
	waitFor(t, "the monitor to see the deployment", func() bool {
		var err error
		first, err = r.Monitor().Check(h.ctx)
		if err != nil {
			t.Fatal(err)
		}
		return len(first) == 1
	})
	if c := first[0]; c.Health != domain.HealthHealthy || !c.Changed {
		t.Fatalf("first check = %+v, want a change to healthy", c)
	}
	if c := check(); c.Changed {
		t.Fatalf("second check = %+v, want no change", c)
	}
	srv := h.sim.State().Hetzner.Servers[0]
	if err := h.sim.SetServerHealth(itoa(srv.ID), false); err != nil {
		t.Fatal(err)
	}
	if c := check(); c.Health != domain.HealthUnhealthy || !c.Changed {
		t.Fatalf("check after failure = %+v, want a change to unhealthy", c)
	}
	changes := count(h.records(t, commands.DeploymentStream(depID)), func(e domain.Event) bool { _, ok := e.(domain.DeploymentHealthChanged); return ok })
	if changes != 2 {
		t.Fatalf("%d DeploymentHealthChanged events, want 2", changes)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(alerts) != 2 || alerts[1].To != domain.HealthUnhealthy || alerts[1].DeploymentID != depID.String() {
		t.Fatalf("alerts = %+v", alerts)
	}
}

func TestSweeperReportsOrphansAndDeletesNothing(t *testing.T) {
	h := newHarness(t)
	r, _ := h.start(t, func(c *processes.Config) { c.SweepInterval = time.Hour })
	customerID, _ := h.signUp(t, domain.PlanHobby)
	h.waitStatus(t, initialDeployment(customerID), domain.DeploymentStatusProvisioned)
	stray := uuid.New().String()
	if _, err := h.providers.Servers.EnsureServer(h.ctx, processes.ServerSpec{Name: processes.ResourceName(stray), ServerType: "cax11", Location: "nbg1",
		Labels: map[string]string{processes.LabelManaged: "true", processes.LabelDeployment: stray}}); err != nil {
		t.Fatal(err)
	}
	orphans, err := r.Sweeper().Sweep(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(orphans) != 1 || orphans[0].DeploymentID != stray || orphans[0].Kind != "server" {
		t.Fatalf("orphans = %+v, want the stray server only", orphans)
	}
	if n := len(h.sim.State().Hetzner.Servers); n != 2 {
		t.Fatalf("%d servers after the sweep, want 2: the sweeper never deletes", n)
	}
}

// TestPlanChangeWaitsForProvisioning: a plan change that arrives while the
// first deployment still provisions waits (re-delivered, never poisoned)
// and then migrates.
func TestPlanChangeWaitsForProvisioning(t *testing.T) {
	h := newHarness(t)
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	h.start(t, func(c *processes.Config) {
		c.NackDelay = 20 * time.Millisecond
		c.AfterProviderCall = func(ctx context.Context, _ string, step domain.Step) {
			if step != domain.StepServer {
				return
			}
			first := false
			once.Do(func() { first = true; close(entered) })
			if first {
				select {
				case <-release:
				case <-ctx.Done():
				}
			}
		}
	})
	customerID, _ := h.signUp(t, domain.PlanHobby)
	hobby := initialDeployment(customerID)
	<-entered
	h.changePlan(t, customerID, domain.PlanStarter)
	time.Sleep(200 * time.Millisecond) // several re-deliveries while busy
	close(release)
	starter := h.waitMigrated(t, customerID, hobby)
	if d := h.deployment(t, starter); d.Spec().Provider != domain.ProviderFly {
		t.Fatalf("target provider = %s", d.Spec().Provider)
	}
	if p, err := processes.ListPoisoned(h.ctx, h.pool, processes.PoisonFilter{}); err != nil || len(p) != 0 {
		t.Fatalf("poisoned = %+v, %v; want none", p, err)
	}
}

// TestFailedMigrationLeavesOldServing: the data copy fails for good, so the
// migration is marked failed, the target is decommissioned and cleaned up,
// and the old deployment (and its DNS) keep serving.
func TestFailedMigrationLeavesOldServing(t *testing.T) {
	h := newHarness(t)
	h.start(t, nil)
	customerID, slug := h.signUp(t, domain.PlanHobby)
	hobby := initialDeployment(customerID)
	h.waitStatus(t, hobby, domain.DeploymentStatusProvisioned)
	if _, err := h.sim.AddFault(sim.Fault{Provider: "fly", Method: "POST", Path: "/v1/apps/*/machines/*/exec", Status: 403, Times: -1}); err != nil {
		t.Fatal(err)
	}
	h.changePlan(t, customerID, domain.PlanStarter)
	var target string
	waitFor(t, "the migration to fail", func() bool {
		var st domain.MigrationStatus
		target, st = h.deployment(t, hobby).Migration()
		return st == domain.MigrationFailed
	})
	targetID := uuid.MustParse(target)
	waitFor(t, "the target to be cleaned up", func() bool {
		d := h.deployment(t, targetID)
		return d.Status() == domain.DeploymentStatusDecommissioned && d.CleanedUp()
	})
	if d := h.deployment(t, hobby); d.Status() != domain.DeploymentStatusProvisioned {
		t.Fatalf("old deployment is %s, want still provisioned", d.Status())
	}
	if a := h.activeDeployment(t, customerID); a != hobby {
		t.Fatalf("active deployment = %s, want the old one", a)
	}
	st := h.sim.State()
	if len(st.Hetzner.Servers) != 1 || len(st.Fly.Apps) != 0 || len(st.Fly.Machines) != 0 || len(st.Fly.Redis) != 0 {
		t.Fatalf("servers %+v apps %+v machines %d redis %+v: want only the old server", st.Hetzner.Servers, st.Fly.Apps, len(st.Fly.Machines), st.Fly.Redis)
	}
	if len(st.Cloudflare.Records) != 1 || st.Cloudflare.Records[0].Type != "A" || (st.Cloudflare.Records[0].Name != slug && st.Cloudflare.Records[0].Name != slug+"."+baseDomain) {
		t.Fatalf("records = %+v, want the old A record only", st.Cloudflare.Records)
	}
}

type recordingMailer struct {
	mu   sync.Mutex
	sent map[string]processes.MailMessage
}

func (m *recordingMailer) Send(_ context.Context, msg processes.MailMessage) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent[msg.ID] = msg
	return nil
}

func (m *recordingMailer) messages() []processes.MailMessage {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []processes.MailMessage
	for _, v := range m.sent {
		out = append(out, v)
	}
	return out
}

// TestNotificationsGoThroughTheMailer: with a mail transport configured the
// address is resolved from the secrets store at send time, and nothing is
// queued in the outbox.
func TestNotificationsGoThroughTheMailer(t *testing.T) {
	h := newHarness(t)
	mailer := &recordingMailer{sent: map[string]processes.MailMessage{}}
	h.start(t, func(c *processes.Config) { c.Mailer = mailer })
	customerID, _ := h.signUp(t, domain.PlanHobby)
	waitFor(t, "welcome mail", func() bool { return len(mailer.messages()) == 1 })
	msg := mailer.messages()[0]
	if !strings.HasPrefix(msg.To, "ada") || !strings.HasSuffix(msg.To, "@example.com") || msg.Subject != "Welcome to WebHost" || msg.ID == "" {
		t.Fatalf("welcome = %+v", msg)
	}
	if out, err := processes.ListOutbox(h.ctx, h.pool, customerID.String()); err != nil || len(out) != 0 {
		t.Fatalf("outbox = %+v, %v; want empty with a mailer", out, err)
	}
}

func TestMonitorReportsDegradedFlyDeployment(t *testing.T) {
	h := newHarness(t)
	r, _ := h.start(t, func(c *processes.Config) { c.MonitorInterval = time.Hour })
	customerID, _ := h.signUp(t, domain.PlanBusiness)
	depID := initialDeployment(customerID)
	h.waitStatus(t, depID, domain.DeploymentStatusProvisioned)
	var machine string
	for _, m := range h.sim.State().Fly.Machines {
		if m.App == processes.ResourceName(depID.String()) && m.Region == "sin" {
			machine = m.ID
		}
	}
	if err := h.sim.SetMachineHealth(machine, false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a degraded check", func() bool {
		res, err := r.Monitor().Check(h.ctx)
		if err != nil {
			t.Fatal(err)
		}
		return len(res) == 1 && res[0].Health == domain.HealthDegraded && strings.Contains(res[0].Detail, machine)
	})
	if got := h.deployment(t, depID).Health(); got != domain.HealthDegraded {
		t.Fatalf("recorded health = %s", got)
	}
}

func TestListPoisonedRejectsAnUnknownStatus(t *testing.T) {
	h := newHarness(t)
	if _, err := processes.ListPoisoned(h.ctx, h.pool, processes.PoisonFilter{Status: "bogus"}); !errors.Is(err, processes.ErrInvalidPoisonFilter) {
		t.Fatalf("err = %v, want ErrInvalidPoisonFilter", err)
	}
	if _, err := processes.RequestRedrive(h.ctx, h.pool, processes.RedriveRequest{}, time.Now()); !errors.Is(err, processes.ErrNothingToRedrive) {
		t.Fatalf("empty redrive = %v, want ErrNothingToRedrive", err)
	}
}
