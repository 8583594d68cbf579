package processes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/webhost-systems/webhost/commands"
	"github.com/webhost-systems/webhost/domain"
	"github.com/webhost-systems/webhost/eventstore"
)

// Process-manager names. They are stable: command IDs derive from them.
const (
	NameStartSubscriptionOnCustomerSignedUp = "StartSubscriptionOnCustomerSignedUp"
	NameProvisionOnSubscriptionStarted      = "ProvisionOnSubscriptionStarted"
	NameProvisionOnPlanChanged              = "ProvisionOnPlanChanged"
	NameProvisionOnDeploymentRequested      = "ProvisionOnDeploymentRequested"
	NameCleanupOnDeploymentFailed           = "CleanupOnDeploymentFailed"
	NameCleanupOnDeploymentDecommissioned   = "CleanupOnDeploymentDecommissioned"
	NameMigrateOnPlanChanged                = "MigrateOnPlanChanged"
	NameScaleOnDeploymentScaled             = "ScaleOnDeploymentScaled"
	NameNotifyOnCustomerSignedUp            = "NotifyOnCustomerSignedUp"
	NameNotifyOnResourcesCleanedUp          = "NotifyOnResourcesCleanedUp"
	NameNotifyOnMigrationCompleted          = "NotifyOnMigrationCompleted"
)

// ErrBusy is returned when a plan change meets a deployment that is still
// provisioning or migrating: the event is delivered again after
// Config.NackDelay until the deployment settles (never poisoned).
var ErrBusy = errors.New("processes: deployment busy, retry later")

// managers holds the process managers and what they share.
type managers struct {
	cfg Config
	all []processManager
}

func newManagers(cfg Config) *managers {
	m := &managers{cfg: cfg}
	pm := func(name, group string, handle func(processManager, context.Context, envelope) error, types ...string) {
		p := processManager{name: name, group: group, types: types}
		p.handle = func(ctx context.Context, env envelope) error { return handle(p, ctx, env) }
		m.all = append(m.all, p)
	}
	stepResults := []string{domain.TypeServerCreated, domain.TypeAppCreated, domain.TypeDatabaseCreated,
		domain.TypeRedisCreated, domain.TypeMachinesLaunched, domain.TypeDNSRecordCreated}

	pm(NameStartSubscriptionOnCustomerSignedUp, GroupBilling, m.startSubscription, domain.TypeCustomerSignedUp)

	pm(NameProvisionOnSubscriptionStarted, GroupProvisioning, m.provisionOnSubscriptionStarted, domain.TypeSubscriptionStarted)
	pm(NameProvisionOnPlanChanged, GroupProvisioning, m.provisionOnPlanChanged, domain.TypePlanChanged)
	pm(NameMigrateOnPlanChanged, GroupProvisioning, m.migrate, domain.TypePlanChanged,
		domain.TypeDeploymentProvisioned, domain.TypeDeploymentFailed)
	pm(NameProvisionOnDeploymentRequested, GroupProvisioning, m.provision,
		append([]string{domain.TypeDeploymentRequested, domain.TypeProvisioningStepStarted}, stepResults...)...)
	pm(NameCleanupOnDeploymentFailed, GroupProvisioning, m.cleanup, domain.TypeDeploymentFailed)
	pm(NameCleanupOnDeploymentDecommissioned, GroupProvisioning, m.cleanup, domain.TypeDeploymentDecommissioned)
	pm(NameScaleOnDeploymentScaled, GroupProvisioning, m.scale, domain.TypeDeploymentScaled)

	pm(NameNotifyOnCustomerSignedUp, GroupNotifications, m.notifyWelcome, domain.TypeCustomerSignedUp)
	pm(NameNotifyOnResourcesCleanedUp, GroupNotifications, m.notifyFailed, domain.TypeResourcesCleanedUp)
	pm(NameNotifyOnMigrationCompleted, GroupNotifications, m.notifyMigrated, domain.TypeDeploymentMigrationCompleted)
	return m
}

func (m *managers) group(name string) []processManager {
	var out []processManager
	for _, p := range m.all {
		if p.group == name {
			out = append(out, p)
		}
	}
	return out
}

// commandErr classifies a command's error: the listed benign errors are
// success (the change already happened or no longer applies), rule
// violations are permanent, anything else (store, conflicts) is retried.
func commandErr(op string, err error, benign ...error) error {
	if err == nil {
		return nil
	}
	for _, b := range benign {
		if errors.Is(err, b) {
			return nil
		}
	}
	err = fmt.Errorf("%s: %w", op, err)
	if errors.Is(err, domain.ErrValidation) || errors.Is(err, domain.ErrInvalidTransition) ||
		errors.Is(err, commands.ErrInvalidMeta) || errors.Is(err, commands.ErrMissingID) {
		return permanent(err)
	}
	return err
}

// inactiveCustomer lists the errors that mean the customer may not act any
// more: a process stops quietly for them.
var inactiveCustomer = []error{domain.ErrCustomerSuspended, domain.ErrAccountClosed, domain.ErrCustomerNotFound}

// --- loading state (read only) ---

func (m *managers) loadDeployment(ctx context.Context, id string) (domain.Deployment, error) {
	uid, err := parseUUID("deployment_id", id)
	if err != nil {
		return domain.Deployment{}, err
	}
	evs, err := m.readStream(ctx, commands.DeploymentStream(uid))
	if err != nil {
		return domain.Deployment{}, err
	}
	d, err := domain.FoldDeployment(evs...)
	if err != nil {
		return d, permanent(fmt.Errorf("fold deployment %s: %w", id, err))
	}
	return d, nil
}

func (m *managers) loadCustomer(ctx context.Context, id string) (domain.Customer, error) {
	uid, err := parseUUID("customer_id", id)
	if err != nil {
		return domain.Customer{}, err
	}
	evs, err := m.readStream(ctx, commands.CustomerStream(uid))
	if err != nil {
		return domain.Customer{}, err
	}
	c := domain.Customer{}
	for _, e := range evs {
		c = domain.EvolveCustomer(c, e)
	}
	return c, nil
}

func (m *managers) readStream(ctx context.Context, stream string) ([]domain.Event, error) {
	recs, err := m.cfg.Store.ReadStream(ctx, stream, eventstore.ReadStreamOptions{})
	if errors.Is(err, eventstore.ErrStreamNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", stream, err)
	}
	out := make([]domain.Event, 0, len(recs))
	for _, r := range recs {
		e, _, err := domain.DecodeEvent(r.Type, r.Data, r.Metadata)
		if err != nil {
			return nil, permanent(fmt.Errorf("decode %s@%d: %w", stream, r.Version, err))
		}
		out = append(out, e)
	}
	return out, nil
}

// --- active deployments (process-manager state) ---

func (m *managers) activeDeployment(ctx context.Context, subscriptionID uuid.UUID) (uuid.UUID, bool, error) {
	var id uuid.UUID
	err := m.cfg.Pool.QueryRow(ctx, "SELECT deployment_id FROM processes.active_deployments WHERE subscription_id = $1", subscriptionID).Scan(&id)
	if isNoRows(err) {
		return uuid.Nil, false, nil
	}
	if err != nil {
		return uuid.Nil, false, fmt.Errorf("active deployment of %s: %w", subscriptionID, err)
	}
	return id, true, nil
}

// setActive records the deployment serving a subscription. With replace
// false it only fills a missing row.
func (m *managers) setActive(ctx context.Context, subscriptionID, customerID, deploymentID uuid.UUID, replace bool) error {
	q := `INSERT INTO processes.active_deployments (subscription_id, customer_id, deployment_id, updated_at) VALUES ($1, $2, $3, now())
		ON CONFLICT (subscription_id) DO NOTHING`
	if replace {
		q = `INSERT INTO processes.active_deployments (subscription_id, customer_id, deployment_id, updated_at) VALUES ($1, $2, $3, now())
		ON CONFLICT (subscription_id) DO UPDATE SET deployment_id = EXCLUDED.deployment_id, updated_at = now()`
	}
	if _, err := m.cfg.Pool.Exec(ctx, q, subscriptionID, customerID, deploymentID); err != nil {
		return fmt.Errorf("set active deployment of %s: %w", subscriptionID, err)
	}
	return nil
}

// InitialDeploymentID is the ID of the deployment a subscription's start
// requests; it derives from the subscription ID.
func InitialDeploymentID(subscriptionID uuid.UUID) uuid.UUID {
	return commands.DeriveID(subscriptionID, "deployment")
}

// SubscriptionID is the ID of the subscription a customer's signup starts;
// it derives from the customer ID.
func SubscriptionID(customerID uuid.UUID) uuid.UUID {
	return commands.DeriveID(customerID, "subscription")
}

// --- billing ---

func planFromSignup(fallback domain.PlanID) ChosenPlanFunc {
	return func(_ context.Context, _ domain.CustomerSignedUp, raw []byte) (domain.PlanID, error) {
		var v struct {
			Plan domain.PlanID `json:"plan"`
		}
		if err := json.Unmarshal(raw, &v); err == nil && v.Plan != "" {
			if _, err := domain.LookupPlan(v.Plan); err == nil {
				return v.Plan, nil
			}
		}
		return fallback, nil
	}
}

// startSubscription is StartSubscriptionOnCustomerSignedUp: a 14-day trial
// on the chosen plan.
func (m *managers) startSubscription(pm processManager, ctx context.Context, env envelope) error {
	e := env.event.(domain.CustomerSignedUp)
	customerID, err := parseUUID("customer_id", e.CustomerID)
	if err != nil {
		return err
	}
	plan, err := m.cfg.ChosenPlan(ctx, e, env.rec.Data)
	if err != nil {
		return fmt.Errorf("chosen plan of %s: %w", customerID, err)
	}
	if plan == "" {
		return nil // no choice recorded: the API or a plan change starts it
	}
	_, err = m.cfg.Commands.StartSubscription.Handle(ctx, commands.StartSubscription{Meta: pm.meta(env),
		CustomerID: customerID, SubscriptionID: SubscriptionID(customerID), Plan: plan, Trial: true})
	return commandErr("start subscription", err, append([]error{domain.ErrSubscriptionExists}, inactiveCustomer...)...)
}

// --- provisioning ---

func (m *managers) provisionOnSubscriptionStarted(pm processManager, ctx context.Context, env envelope) error {
	e := env.event.(domain.SubscriptionStarted)
	subID, err := parseUUID("subscription_id", e.SubscriptionID)
	if err != nil {
		return err
	}
	customerID, err := parseUUID("customer_id", e.CustomerID)
	if err != nil {
		return err
	}
	depID := InitialDeploymentID(subID)
	if err := m.setActive(ctx, subID, customerID, depID, false); err != nil {
		return err
	}
	_, err = m.cfg.Commands.RequestDeployment.Handle(ctx, commands.RequestDeployment{Meta: pm.meta(env),
		CustomerID: customerID, DeploymentID: depID, SubscriptionID: subID, Plan: e.Plan})
	return commandErr("request deployment", err, append([]error{domain.ErrDeploymentExists}, inactiveCustomer...)...)
}

// planChangeContext loads what both plan-change process managers need.
func (m *managers) planChangeContext(ctx context.Context, e domain.PlanChanged) (subID, customerID uuid.UUID, current domain.Deployment, target domain.DeploymentSpec, err error) {
	if subID, err = parseUUID("subscription_id", e.SubscriptionID); err != nil {
		return
	}
	if customerID, err = parseUUID("customer_id", e.CustomerID); err != nil {
		return
	}
	depID, ok, err := m.activeDeployment(ctx, subID)
	if err != nil {
		return
	}
	if !ok {
		depID = InitialDeploymentID(subID)
	}
	if current, err = m.loadDeployment(ctx, depID.String()); err != nil {
		return
	}
	target, err = domain.DecideInfrastructure(e.ToPlan)
	if err != nil {
		err = permanent(err)
	}
	return
}

// provisionOnPlanChanged is ProvisionOnPlanChanged: within one cloud it
// scales the serving deployment (regions and read replicas) without
// re-provisioning; when nothing serves (the deployment failed) it requests
// a fresh one. Changes across clouds belong to MigrateOnPlanChanged.
func (m *managers) provisionOnPlanChanged(pm processManager, ctx context.Context, env envelope) error {
	e := env.event.(domain.PlanChanged)
	subID, customerID, d, target, err := m.planChangeContext(ctx, e)
	if err != nil {
		return err
	}
	switch d.Status() {
	case domain.DeploymentStatusRequested, domain.DeploymentStatusProvisioning:
		return fmt.Errorf("plan change %s of %s: %w (deployment %s is %s)", e.ToPlan, subID, ErrBusy, d.ID(), d.Status())
	case domain.DeploymentStatusNone, domain.DeploymentStatusFailed, domain.DeploymentStatusDecommissioned:
		fresh := commands.DeriveID(env.rec.ID, "deployment")
		if err := m.setActive(ctx, subID, customerID, fresh, true); err != nil {
			return err
		}
		_, err := m.cfg.Commands.RequestDeployment.Handle(ctx, commands.RequestDeployment{Meta: pm.meta(env, "request"),
			CustomerID: customerID, DeploymentID: fresh, SubscriptionID: subID, Plan: e.ToPlan})
		return commandErr("request deployment", err, append([]error{domain.ErrDeploymentExists}, inactiveCustomer...)...)
	}
	if to, st := d.Migration(); st == domain.MigrationRunning {
		return fmt.Errorf("plan change %s of %s: %w (deployment %s is migrating to %s)", e.ToPlan, subID, ErrBusy, d.ID(), to)
	}
	cur := d.Spec()
	if cur.Provider != target.Provider {
		return nil // MigrateOnPlanChanged
	}
	if cur.Provider != domain.ProviderFly {
		return nil // one Hetzner plan: nothing to scale
	}
	var add, remove []string
	for _, r := range target.Regions {
		if !slices.Contains(cur.Regions, r) {
			add = append(add, r)
		}
	}
	for _, r := range cur.Regions {
		if !slices.Contains(target.Regions, r) {
			remove = append(remove, r)
		}
	}
	replicas := target.Database.ReadReplicas
	depID, _ := uuid.Parse(d.ID())
	_, err = m.cfg.Commands.ScaleDeployment.Handle(ctx, commands.ScaleDeployment{Meta: pm.meta(env, "scale"),
		CustomerID: customerID, DeploymentID: depID, AddRegions: add, RemoveRegions: remove, ReadReplicas: &replicas})
	return commandErr("scale deployment", err, domain.ErrNothingToChange, domain.ErrDeploymentDecommissioned)
}

// provision is ProvisionOnDeploymentRequested: it drives a deployment
// through its steps, one event at a time. A step is started
// (ProvisioningStepStarted records the intent), then its idempotent
// provider call runs and its result event is appended, which starts the
// next step. A crash anywhere resumes from the last recorded event: the
// unacknowledged event is delivered again, and the provider call adopts
// what the interrupted one created.
func (m *managers) provision(pm processManager, ctx context.Context, env envelope) error {
	depID := deploymentIDOf(env.event)
	d, err := m.loadDeployment(ctx, depID)
	if err != nil {
		return err
	}
	next, attempts, ok := d.NextStep()
	if started, isStart := env.event.(domain.ProvisioningStepStarted); isStart {
		if !ok || next != started.Step || attempts != started.Attempt {
			return nil // stale: a later attempt or event took over
		}
		return m.attemptStep(pm, ctx, env, d, started.Step, started.Attempt)
	}
	if ok {
		if attempts > 0 {
			return nil // already started; its ProvisioningStepStarted drives it
		}
		return m.startStep(pm, ctx, env, d, next, "start")
	}
	if d.Status() != domain.DeploymentStatusProvisioning {
		return nil
	}
	for _, s := range d.Spec().Steps() {
		if !d.StepCompleted(s) {
			return nil
		}
	}
	host := m.hostName(d)
	customerID, depUUID, err := ids(d)
	if err != nil {
		return err
	}
	_, err = m.cfg.Commands.MarkDeploymentProvisioned.Handle(ctx, commands.MarkDeploymentProvisioned{Meta: pm.meta(env, "provisioned"),
		CustomerID: customerID, DeploymentID: depUUID, APIURL: "https://" + host, SyncURL: "wss://" + host + "/sync"})
	return commandErr("mark provisioned", err, domain.ErrDeploymentProvisioned, domain.ErrDeploymentFailed, domain.ErrDeploymentDecommissioned)
}

func (m *managers) startStep(pm processManager, ctx context.Context, env envelope, d domain.Deployment, step domain.Step, label string) error {
	customerID, depID, err := ids(d)
	if err != nil {
		return err
	}
	_, err = m.cfg.Commands.StartProvisioningStep.Handle(ctx, commands.StartProvisioningStep{Meta: pm.meta(env, label, string(step)),
		CustomerID: customerID, DeploymentID: depID, Step: step})
	return commandErr("start step "+string(step), err, domain.ErrStepCompleted, domain.ErrDeploymentFailed,
		domain.ErrDeploymentProvisioned, domain.ErrDeploymentDecommissioned)
}

func (m *managers) attemptStep(pm processManager, ctx context.Context, env envelope, d domain.Deployment, step domain.Step, attempt int) error {
	res, stepErr := m.runStep(ctx, d, step)
	if m.cfg.AfterProviderCall != nil {
		m.cfg.AfterProviderCall(ctx, d.ID(), step)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	customerID, depID, err := ids(d)
	if err != nil {
		return err
	}
	log := m.cfg.Logger.With("deployment_id", d.ID(), "step", step, "attempt", attempt)
	if stepErr == nil {
		_, err := m.cfg.Commands.RecordProvisioningStep.Handle(ctx, commands.RecordProvisioningStep{Meta: pm.meta(env, "record"),
			CustomerID: customerID, DeploymentID: depID, Result: res})
		if err == nil {
			log.Info("provisioning step done", "resource", res.ResourceID())
		}
		return commandErr("record step "+string(step), err, domain.ErrDeploymentFailed, domain.ErrDeploymentDecommissioned)
	}
	if IsPermanentStepError(stepErr) || attempt >= m.cfg.MaxStepAttempts {
		log.Error("provisioning step failed", "err", stepErr)
		_, err := m.cfg.Commands.MarkDeploymentFailed.Handle(ctx, commands.MarkDeploymentFailed{Meta: pm.meta(env, "fail"),
			CustomerID: customerID, DeploymentID: depID, Step: step,
			Reason: fmt.Sprintf("%s failed after %d attempt(s): %v", step, attempt, stepErr)})
		return commandErr("mark failed", err, domain.ErrDeploymentFailed, domain.ErrDeploymentProvisioned, domain.ErrDeploymentDecommissioned)
	}
	wait := m.cfg.StepBackoff << (attempt - 1)
	log.Warn("provisioning step will be retried", "err", stepErr, "wait", wait)
	if err := sleep(ctx, wait); err != nil {
		return err
	}
	return m.startStep(pm, ctx, env, d, step, "retry")
}

// IsPermanentStepError reports whether a provider error will not go away
// by retrying the step: invalid input, authentication, quota, or a name
// taken by a resource that is not ours.
func IsPermanentStepError(err error) bool {
	return errors.Is(err, ErrPermanent) || errors.Is(err, ErrConflict) || IsPermanent(err)
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func ids(d domain.Deployment) (customerID, deploymentID uuid.UUID, err error) {
	if customerID, err = parseUUID("customer_id", d.CustomerID()); err != nil {
		return
	}
	deploymentID, err = parseUUID("deployment_id", d.ID())
	return
}

func deploymentIDOf(e domain.Event) string {
	switch e := e.(type) {
	case domain.DeploymentRequested:
		return e.DeploymentID
	case domain.ProvisioningStepStarted:
		return e.DeploymentID
	case domain.ServerCreated:
		return e.DeploymentID
	case domain.AppCreated:
		return e.DeploymentID
	case domain.DatabaseCreated:
		return e.DeploymentID
	case domain.RedisCreated:
		return e.DeploymentID
	case domain.MachinesLaunched:
		return e.DeploymentID
	case domain.DNSRecordCreated:
		return e.DeploymentID
	case domain.DeploymentProvisioned:
		return e.DeploymentID
	case domain.DeploymentFailed:
		return e.DeploymentID
	case domain.DeploymentDecommissioned:
		return e.DeploymentID
	case domain.DeploymentScaled:
		return e.DeploymentID
	case domain.ResourcesCleanedUp:
		return e.DeploymentID
	case domain.DeploymentMigrationCompleted:
		return e.DeploymentID
	}
	return ""
}

// --- scaling ---

// scale is ScaleOnDeploymentScaled: it brings a Fly.io deployment's
// machines, read replicas and Redis read regions to the scaled spec. Every
// call is idempotent, so a retry or a resumed run repeats it safely.
func (m *managers) scale(_ processManager, ctx context.Context, env envelope) error {
	d, err := m.loadDeployment(ctx, deploymentIDOf(env.event))
	if err != nil {
		return err
	}
	if d.Status() != domain.DeploymentStatusProvisioned || d.Spec().Provider != domain.ProviderFly {
		return nil
	}
	p := m.cfg.Providers
	if p.Apps == nil || p.Postgres == nil || p.Redis == nil {
		return permanent(errors.New("scale: Fly.io providers are not configured"))
	}
	spec := d.Spec()
	if _, err := m.ensurePostgres(ctx, d); err != nil {
		return stepCallErr("scale postgres", err)
	}
	if _, err := p.Redis.EnsureRedis(ctx, m.redisSpec(d)); err != nil {
		return stepCallErr("scale redis", err)
	}
	if _, err := p.Apps.Deploy(ctx, m.deploySpec(d)); err != nil {
		return stepCallErr("scale machines", err)
	}
	m.cfg.Logger.Info("deployment scaled", "deployment_id", d.ID(), "regions", strings.Join(spec.Regions, ","), "read_replicas", spec.Database.ReadReplicas)
	return nil
}

// stepCallErr makes permanent provider errors permanent for the router.
func stepCallErr(op string, err error) error {
	err = fmt.Errorf("%s: %w", op, err)
	if IsPermanentStepError(err) {
		return permanent(err)
	}
	return err
}
