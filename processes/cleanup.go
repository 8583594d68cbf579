package processes

import (
	"context"
	"slices"

	"github.com/google/uuid"

	"github.com/webhost-systems/webhost/commands"
	"github.com/webhost-systems/webhost/domain"
)

// cleanup is CleanupOnDeploymentFailed and CleanupOnDeploymentDecommissioned:
// it deletes every resource of the deployment, newest first, and records
// ResourcesCleanedUp. A failed deployment's resources are those of its
// completed steps and of the step that failed (its intent was recorded
// before the provider call, so the call may have created something). Each
// delete is idempotent; a missing resource is success.
func (m *managers) cleanup(pm processManager, ctx context.Context, env envelope) error {
	d, err := m.loadDeployment(ctx, deploymentIDOf(env.event))
	if err != nil {
		return err
	}
	if d.CleanedUp() {
		return nil
	}
	steps := d.Spec().Steps()
	switch d.Status() {
	case domain.DeploymentStatusFailed:
		failed, _ := d.Failure()
		if i := slices.Index(steps, failed); i >= 0 {
			steps = steps[:i+1]
		}
	case domain.DeploymentStatusDecommissioned:
	default:
		return nil
	}
	recorded := map[domain.Step]string{}
	for _, r := range d.Resources() {
		recorded[r.Step] = r.ID
	}
	refs := make([]domain.ResourceRef, 0, len(steps))
	for i := len(steps) - 1; i >= 0; i-- {
		ref, err := m.deleteStep(ctx, d, steps[i], recorded)
		if err != nil {
			return err
		}
		refs = append(refs, ref)
	}
	customerID, depID, err := ids(d)
	if err != nil {
		return err
	}
	_, err = m.cfg.Commands.RecordCleanup.Handle(ctx, commands.RecordCleanup{Meta: pm.meta(env, "cleanup"),
		CustomerID: customerID, DeploymentID: depID, Resources: refs})
	if err == nil {
		m.cfg.Logger.Info("deployment resources cleaned up", "deployment_id", d.ID(), "resources", len(refs))
	}
	return commandErr("record cleanup", err, domain.ErrAlreadyCleanedUp)
}

// migrate is MigrateOnPlanChanged, for plan changes across clouds
// (Hetzner ↔ Fly.io):
//
//  1. on PlanChanged: request the target deployment (it replaces the
//     serving one) and start the migration on the serving one;
//  2. the target provisions like any deployment (its DNS name is its own);
//  3. on the target's DeploymentProvisioned: copy the data (a pg_dump |
//     pg_restore run by the provider), switch the slug's DNS record to the
//     target, complete the migration, make the target the active
//     deployment and decommission the old one (whose cleanup follows);
//  4. the notifications group mails the customer on completion.
//
// If the target fails, or the data copy or DNS switch fails permanently,
// the migration is marked failed and the old deployment keeps serving (a
// target that was provisioned is decommissioned).
func (m *managers) migrate(pm processManager, ctx context.Context, env envelope) error {
	switch e := env.event.(type) {
	case domain.PlanChanged:
		return m.startMigration(pm, ctx, env, e)
	case domain.DeploymentProvisioned:
		t, err := m.loadDeployment(ctx, e.DeploymentID)
		if err != nil || t.Replaces() == "" {
			return err
		}
		return m.finishMigration(pm, ctx, env, t)
	case domain.DeploymentFailed:
		t, err := m.loadDeployment(ctx, e.DeploymentID)
		if err != nil || t.Replaces() == "" {
			return err
		}
		o, err := m.loadDeployment(ctx, t.Replaces())
		if err != nil {
			return err
		}
		if target, st := o.Migration(); target != t.ID() || st != domain.MigrationRunning {
			return nil
		}
		return m.failMigration(pm, ctx, env, o, t, "replacement deployment failed at "+string(e.Step)+": "+e.Reason, false)
	}
	return nil
}

func (m *managers) startMigration(pm processManager, ctx context.Context, env envelope, e domain.PlanChanged) error {
	subID, customerID, d, target, err := m.planChangeContext(ctx, e)
	if err != nil {
		return err
	}
	if d.Status() != domain.DeploymentStatusProvisioned || d.Spec().Provider == target.Provider {
		return nil // ProvisionOnPlanChanged handles it
	}
	targetID := commands.DeriveID(env.rec.ID, "deployment")
	if cur, st := d.Migration(); st == domain.MigrationRunning && cur != targetID.String() {
		return ErrBusy
	}
	oldID, err := parseUUID("deployment_id", d.ID())
	if err != nil {
		return err
	}
	_, err = m.cfg.Commands.RequestDeployment.Handle(ctx, commands.RequestDeployment{Meta: pm.meta(env, "request"),
		CustomerID: customerID, DeploymentID: targetID, SubscriptionID: subID, Plan: e.ToPlan, ReplacesDeploymentID: oldID})
	if err := commandErr("request target deployment", err, domain.ErrDeploymentExists); err != nil {
		return err
	}
	_, err = m.cfg.Commands.StartMigration.Handle(ctx, commands.StartMigration{Meta: pm.meta(env, "start"),
		CustomerID: customerID, DeploymentID: oldID, TargetDeploymentID: targetID})
	if err == nil {
		m.cfg.Logger.Info("migration started", "from", d.ID(), "to", targetID, "plan", e.ToPlan)
	}
	return commandErr("start migration", err, domain.ErrMigrationInProgress)
}

func (m *managers) finishMigration(pm processManager, ctx context.Context, env envelope, t domain.Deployment) error {
	o, err := m.loadDeployment(ctx, t.Replaces())
	if err != nil {
		return err
	}
	target, st := o.Migration()
	if target != t.ID() {
		return nil
	}
	customerID, oldID, err := ids(o)
	if err != nil {
		return err
	}
	_, targetID, err := ids(t)
	if err != nil {
		return err
	}
	switch st {
	case domain.MigrationFailed, domain.MigrationNone:
		return nil
	case domain.MigrationRunning:
		if err := m.moveData(ctx, o, t); err != nil {
			if IsPermanentStepError(err) {
				return m.failMigration(pm, ctx, env, o, t, "data migration failed: "+err.Error(), true)
			}
			return err
		}
		if err := m.switchDNS(ctx, o, t); err != nil {
			if IsPermanentStepError(err) {
				return m.failMigration(pm, ctx, env, o, t, "DNS switch failed: "+err.Error(), true)
			}
			return err
		}
		_, err := m.cfg.Commands.CompleteMigration.Handle(ctx, commands.CompleteMigration{Meta: pm.meta(env, "complete"),
			CustomerID: customerID, DeploymentID: oldID, TargetDeploymentID: targetID})
		if err := commandErr("complete migration", err, domain.ErrNoMigration); err != nil {
			return err
		}
	}
	if sub := t.SubscriptionID(); sub != "" {
		subID, err := parseUUID("subscription_id", sub)
		if err != nil {
			return err
		}
		if err := m.setActive(ctx, subID, customerID, targetID, true); err != nil {
			return err
		}
	}
	_, err = m.cfg.Commands.DecommissionDeployment.Handle(ctx, commands.DecommissionDeployment{Meta: pm.meta(env, "decommission"),
		CustomerID: customerID, DeploymentID: oldID, Reason: "migrated to " + t.ID()})
	if err == nil {
		m.cfg.Logger.Info("migration completed", "from", o.ID(), "to", t.ID())
	}
	return commandErr("decommission old deployment", err, domain.ErrDeploymentDecommissioned)
}

// failMigration marks the migration failed (the old deployment keeps
// serving) and, when the target was provisioned, decommissions it.
func (m *managers) failMigration(pm processManager, ctx context.Context, env envelope, o, t domain.Deployment, reason string, decommissionTarget bool) error {
	customerID, oldID, err := ids(o)
	if err != nil {
		return err
	}
	targetID, err := uuid.Parse(t.ID())
	if err != nil {
		return permanent(err)
	}
	m.cfg.Logger.Error("migration failed; the old deployment keeps serving", "from", o.ID(), "to", t.ID(), "reason", reason)
	_, err = m.cfg.Commands.FailMigration.Handle(ctx, commands.FailMigration{Meta: pm.meta(env, "fail-migration"),
		CustomerID: customerID, DeploymentID: oldID, TargetDeploymentID: targetID, Reason: reason})
	if err := commandErr("fail migration", err, domain.ErrNoMigration); err != nil {
		return err
	}
	if !decommissionTarget {
		return nil
	}
	_, err = m.cfg.Commands.DecommissionDeployment.Handle(ctx, commands.DecommissionDeployment{Meta: pm.meta(env, "abandon-target"),
		CustomerID: customerID, DeploymentID: targetID, Reason: "migration failed"})
	return commandErr("decommission target", err, domain.ErrDeploymentDecommissioned)
}

// moveData copies the old deployment's database into the target's: the
// provider runs pg_dump | pg_restore on a Fly.io machine (the target's, or
// the old deployment's when moving back to Hetzner). The migration ID makes
// it run once.
func (m *managers) moveData(ctx context.Context, o, t domain.Deployment) error {
	if m.cfg.Providers.Data == nil {
		return permanent(ErrProviderMissing)
	}
	src, err := m.databaseURL(ctx, o)
	if err != nil {
		return err
	}
	dst, err := m.databaseURL(ctx, t)
	if err != nil {
		return err
	}
	runner := ResourceName(t.ID())
	if t.Spec().Provider != domain.ProviderFly {
		runner = ResourceName(o.ID())
	}
	return m.cfg.Providers.Data.MigrateData(ctx, DataMigration{ID: "migration-" + t.ID(), RunnerApp: runner, SourceURL: src, TargetURL: dst})
}

// databaseURL is a deployment's PostgreSQL URL: from the secrets store on
// Fly.io; on a Hetzner server, the server's own database, whose password
// cloud-init generated on the server (the runner reads it from there).
func (m *managers) databaseURL(ctx context.Context, d domain.Deployment) (string, error) {
	if d.Spec().Provider == domain.ProviderFly {
		return m.getSecret(ctx, secretID(d.ID(), SecretKindDatabaseURL))
	}
	_, ip, err := m.dnsContent(ctx, d)
	if err != nil {
		return "", err
	}
	return "postgres://webhost@" + ip + ":5432/webhost?sslmode=require", nil
}

// switchDNS points the customer's slug at the target.
func (m *managers) switchDNS(ctx context.Context, o, t domain.Deployment) error {
	dns := m.cfg.Providers.DNS
	if dns == nil {
		return permanent(ErrProviderMissing)
	}
	typ, content, err := m.dnsContent(ctx, t)
	if err != nil {
		return err
	}
	if old := dnsType(o.Spec().Provider); old != typ {
		if err := dns.DeleteRecord(ctx, o.Slug(), old); err != nil {
			return err
		}
	}
	_, err = dns.UpsertRecord(ctx, DNSRecord{Name: t.Slug(), Type: typ, Content: content, TTL: 1})
	return err
}
