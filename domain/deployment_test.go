package domain

import (
	"errors"
	"reflect"
	"testing"
)

func requested(plan PlanID) DeploymentRequested {
	spec, err := DecideInfrastructure(plan)
	if err != nil {
		panic(err)
	}
	return DeploymentRequested{DeploymentID: "d1", CustomerID: "c1", SubscriptionID: "s1", Slug: "acme", Spec: spec, RequestedAt: t0}
}

func started(step Step, attempt int) ProvisioningStepStarted {
	return ProvisioningStepStarted{DeploymentID: "d1", Step: step, Attempt: attempt, StartedAt: t0}
}

// flyDone is the history of a fully provisioned starter deployment.
func flyHistory() []Event {
	return []Event{
		requested(PlanStarter),
		started(StepApp, 1), AppCreated{DeploymentID: "d1", AppName: "wh-d1", CreatedAt: t0},
		started(StepDatabase, 1), DatabaseCreated{DeploymentID: "d1", ClusterName: "wh-d1-db", Region: "iad", URLSecretID: "sec-db", CreatedAt: t0},
		started(StepRedis, 1), RedisCreated{DeploymentID: "d1", RedisID: "r1", Name: "wh-d1", Tier: "free", URLSecretID: "sec-redis", CreatedAt: t0},
		started(StepMachines, 1), MachinesLaunched{DeploymentID: "d1", AppName: "wh-d1", Machines: []LaunchedMachine{{MachineID: "m1", Region: "iad"}}, CreatedAt: t0},
		started(StepDNS, 1), DNSRecordCreated{DeploymentID: "d1", RecordID: "dns1", Name: "acme", Type: "CNAME", Content: "wh-d1.fly.dev", CreatedAt: t0},
	}
}

func provisionedHistory() []Event {
	return append(flyHistory(), DeploymentProvisioned{DeploymentID: "d1", APIURL: "https://acme.webhost.systems", SyncURL: "wss://acme.webhost.systems/sync", ProvisionedAt: t0})
}

func hetznerProvisioned() []Event {
	return []Event{
		requested(PlanHobby),
		started(StepServer, 1), ServerCreated{DeploymentID: "d1", ServerID: "42", Name: "wh-d1", ServerType: "cax11", Location: "nbg1", CreatedAt: t0},
		started(StepDNS, 1), DNSRecordCreated{DeploymentID: "d1", RecordID: "dns1", Name: "acme", Type: "A", Content: "192.0.2.1", CreatedAt: t0},
		DeploymentProvisioned{DeploymentID: "d1", APIURL: "https://acme.webhost.systems", SyncURL: "wss://acme.webhost.systems/sync", ProvisionedAt: t0},
	}
}

func h(events ...any) []Event {
	var out []Event
	for _, e := range events {
		switch e := e.(type) {
		case Event:
			out = append(out, e)
		case []Event:
			out = append(out, e...)
		}
	}
	return out
}

func TestDeploymentDecide(t *testing.T) {
	t.Parallel()
	failed := DeploymentFailed{DeploymentID: "d1", Step: StepDatabase, Reason: "quota", FailedAt: t0}
	decommissioned := DeploymentDecommissioned{DeploymentID: "d1", DecommissionedAt: t0}
	migrating := DeploymentMigrationStarted{DeploymentID: "d1", TargetDeploymentID: "d2", StartedAt: t0}
	app := AppCreated{AppName: "wh-d1"}
	urls := MarkDeploymentProvisioned{APIURL: "https://acme.webhost.systems", SyncURL: "wss://acme.webhost.systems/sync", At: t0}
	three := 3
	one := 1
	runGWT(t, FoldDeployment, DecideDeployment, EvolveDeployment, []gwt[DeploymentCommand]{
		{name: "request", when: RequestDeployment{DeploymentID: "d1", CustomerID: "c1", SubscriptionID: "s1", Slug: "acme", Plan: PlanStarter, At: t0}, then: []Event{requested(PlanStarter)}},
		{name: "request twice", given: h(requested(PlanStarter)), when: RequestDeployment{DeploymentID: "d1", CustomerID: "c1", Slug: "acme", Plan: PlanStarter}, err: ErrDeploymentExists},
		{name: "request unknown plan", when: RequestDeployment{DeploymentID: "d1", CustomerID: "c1", Slug: "acme", Plan: "huge"}, err: ErrPlanUnknown},
		{name: "request replacing itself", when: RequestDeployment{DeploymentID: "d1", CustomerID: "c1", Slug: "acme", Plan: PlanHobby, ReplacesDeploymentID: "d1"}, err: ErrValidation},
		{name: "start first step", given: h(requested(PlanStarter)), when: StartProvisioningStep{Step: StepApp, At: t0}, then: []Event{started(StepApp, 1)}},
		{name: "retry step", given: h(requested(PlanStarter), started(StepApp, 1)), when: StartProvisioningStep{Step: StepApp, At: t0}, then: []Event{started(StepApp, 2)}},
		{name: "start step out of order", given: h(requested(PlanStarter)), when: StartProvisioningStep{Step: StepDatabase}, err: ErrStepOutOfOrder},
		{name: "start step of other provider", given: h(requested(PlanStarter)), when: StartProvisioningStep{Step: StepServer}, err: ErrValidation},
		{name: "start completed step", given: h(requested(PlanStarter), started(StepApp, 1), AppCreated{DeploymentID: "d1", AppName: "wh-d1"}), when: StartProvisioningStep{Step: StepApp}, err: ErrStepCompleted},
		{name: "start step not requested", when: StartProvisioningStep{Step: StepApp}, err: ErrDeploymentNotFound},
		{name: "record step", given: h(requested(PlanStarter), started(StepApp, 1)), when: RecordProvisioningStep{Result: app, At: t0},
			then: []Event{AppCreated{DeploymentID: "d1", AppName: "wh-d1", CreatedAt: t0}}},
		{name: "record step again (resume)", given: h(requested(PlanStarter), started(StepApp, 1), AppCreated{DeploymentID: "d1", AppName: "wh-d1"}), when: RecordProvisioningStep{Result: app}, then: nil},
		{name: "record step with other resource", given: h(requested(PlanStarter), started(StepApp, 1), AppCreated{DeploymentID: "d1", AppName: "wh-d1"}), when: RecordProvisioningStep{Result: AppCreated{AppName: "other"}}, err: ErrStepCompleted},
		{name: "record step not started", given: h(requested(PlanStarter)), when: RecordProvisioningStep{Result: app}, err: ErrStepOutOfOrder},
		{name: "record step without resource id", given: h(requested(PlanStarter), started(StepApp, 1)), when: RecordProvisioningStep{Result: AppCreated{}}, err: ErrValidation},
		{name: "record nil result", given: h(requested(PlanStarter)), when: RecordProvisioningStep{}, err: ErrValidation},
		{name: "record server on fly", given: h(requested(PlanStarter), started(StepApp, 1)), when: RecordProvisioningStep{Result: ServerCreated{ServerID: "1"}}, err: ErrValidation},
		{name: "record machines without machines", given: h(flyHistory()[:7], started(StepMachines, 1)), when: RecordProvisioningStep{Result: MachinesLaunched{AppName: "wh-d1"}}, err: ErrValidation},
		{name: "provision failed deployment", given: h(requested(PlanStarter), started(StepApp, 1), failed), when: RecordProvisioningStep{Result: app}, err: ErrDeploymentFailed},
		{name: "start step on failed deployment", given: h(requested(PlanStarter), failed), when: StartProvisioningStep{Step: StepApp}, err: ErrDeploymentFailed},
		{name: "start step on provisioned", given: provisionedHistory(), when: StartProvisioningStep{Step: StepApp}, err: ErrDeploymentProvisioned},
		{name: "mark provisioned", given: flyHistory(), when: urls, then: []Event{provisionedHistory()[len(provisionedHistory())-1]}},
		{name: "mark provisioned early", given: flyHistory()[:5], when: urls, err: ErrStepsIncomplete},
		{name: "mark provisioned bad url", given: flyHistory(), when: MarkDeploymentProvisioned{APIURL: "http://x", SyncURL: "wss://x"}, err: ErrValidation},
		{name: "mark provisioned bad sync url", given: flyHistory(), when: MarkDeploymentProvisioned{APIURL: "https://x", SyncURL: "https://x"}, err: ErrValidation},
		{name: "mark provisioned twice", given: provisionedHistory(), when: urls, err: ErrDeploymentProvisioned},
		{name: "mark provisioned failed", given: h(flyHistory(), failed), when: urls, err: ErrDeploymentFailed},
		{name: "mark failed", given: h(requested(PlanStarter), started(StepApp, 1)), when: MarkDeploymentFailed{Step: StepDatabase, Reason: "quota", At: t0}, then: []Event{failed}},
		{name: "mark failed twice", given: h(requested(PlanStarter), failed), when: MarkDeploymentFailed{Step: StepApp, Reason: "x"}, err: ErrDeploymentFailed},
		{name: "mark failed without reason", given: h(requested(PlanStarter)), when: MarkDeploymentFailed{Step: StepApp}, err: ErrValidation},
		{name: "mark failed unknown step", given: h(requested(PlanStarter)), when: MarkDeploymentFailed{Step: "moon", Reason: "x"}, err: ErrValidation},
		{name: "mark provisioned deployment failed", given: provisionedHistory(), when: MarkDeploymentFailed{Step: StepApp, Reason: "x"}, err: ErrDeploymentProvisioned},
		{name: "cleanup after failure", given: h(requested(PlanStarter), started(StepApp, 1), AppCreated{DeploymentID: "d1", AppName: "wh-d1"}, failed), when: RecordCleanup{At: t0},
			then: []Event{ResourcesCleanedUp{DeploymentID: "d1", Resources: []ResourceRef{{Step: StepApp, ID: "wh-d1"}}, CleanedAt: t0}}},
		{name: "cleanup explicit resources", given: h(requested(PlanStarter), failed), when: RecordCleanup{Resources: []ResourceRef{{Step: StepApp, ID: "wh-d1"}}, At: t0},
			then: []Event{ResourcesCleanedUp{DeploymentID: "d1", Resources: []ResourceRef{{Step: StepApp, ID: "wh-d1"}}, CleanedAt: t0}}},
		{name: "cleanup nothing created", given: h(requested(PlanStarter), failed), when: RecordCleanup{At: t0},
			then: []Event{ResourcesCleanedUp{DeploymentID: "d1", Resources: []ResourceRef{}, CleanedAt: t0}}},
		{name: "cleanup twice", given: h(requested(PlanStarter), failed, ResourcesCleanedUp{DeploymentID: "d1"}), when: RecordCleanup{}, err: ErrAlreadyCleanedUp},
		{name: "cleanup while provisioning", given: h(requested(PlanStarter)), when: RecordCleanup{}, err: ErrProvisioningInProgress},
		{name: "cleanup provisioned", given: provisionedHistory(), when: RecordCleanup{}, err: ErrDeploymentProvisioned},
		{name: "cleanup malformed resource", given: h(requested(PlanStarter), failed), when: RecordCleanup{Resources: []ResourceRef{{Step: StepApp}}}, err: ErrValidation},
		{name: "cleanup after decommission", given: h(provisionedHistory(), decommissioned), when: RecordCleanup{At: t0},
			then: []Event{ResourcesCleanedUp{DeploymentID: "d1", Resources: []ResourceRef{{StepApp, "wh-d1"}, {StepDatabase, "wh-d1-db"}, {StepRedis, "r1"}, {StepMachines, "wh-d1"}, {StepDNS, "dns1"}}, CleanedAt: t0}}},
		{name: "health changed", given: provisionedHistory(), when: RecordHealth{Health: HealthHealthy, At: t0},
			then: []Event{DeploymentHealthChanged{DeploymentID: "d1", From: HealthUnknown, To: HealthHealthy, CheckedAt: t0}}},
		{name: "health unchanged", given: h(provisionedHistory(), DeploymentHealthChanged{To: HealthHealthy}), when: RecordHealth{Health: HealthHealthy}, then: nil},
		{name: "health invalid", given: provisionedHistory(), when: RecordHealth{Health: "great"}, err: ErrValidation},
		{name: "health before provisioned", given: flyHistory(), when: RecordHealth{Health: HealthHealthy}, err: ErrDeploymentNotProvisioned},
		{name: "health of failed", given: h(requested(PlanStarter), failed), when: RecordHealth{Health: HealthHealthy}, err: ErrDeploymentFailed},
		{name: "scale add region", given: provisionedHistory(), when: ScaleDeployment{AddRegions: []string{"fra"}, ReadReplicas: &one, At: t0},
			then: []Event{DeploymentScaled{DeploymentID: "d1", RegionsAdded: []string{"fra"}, Regions: []string{"iad", "fra"}, ReadReplicasFrom: 0, ReadReplicasTo: 1, ScaledAt: t0}}},
		{name: "scale remove region", given: h(provisionedHistory(), DeploymentScaled{Regions: []string{"iad", "fra"}, ReadReplicasTo: 0}), when: ScaleDeployment{RemoveRegions: []string{"fra"}, At: t0},
			then: []Event{DeploymentScaled{DeploymentID: "d1", RegionsRemoved: []string{"fra"}, Regions: []string{"iad"}, ScaledAt: t0}}},
		{name: "scale remove primary", given: provisionedHistory(), when: ScaleDeployment{RemoveRegions: []string{"iad"}}, err: ErrValidation},
		{name: "scale unknown region", given: provisionedHistory(), when: ScaleDeployment{AddRegions: []string{"mars"}}, err: ErrValidation},
		{name: "scale too many replicas", given: provisionedHistory(), when: ScaleDeployment{ReadReplicas: &three}, err: ErrValidation},
		{name: "scale nothing", given: provisionedHistory(), when: ScaleDeployment{AddRegions: []string{"iad"}}, err: ErrNothingToChange},
		{name: "scale hetzner", given: hetznerProvisioned(), when: ScaleDeployment{AddRegions: []string{"fra"}}, err: ErrScaleNotSupported},
		{name: "scale before provisioned", given: flyHistory(), when: ScaleDeployment{AddRegions: []string{"fra"}}, err: ErrDeploymentNotProvisioned},
		{name: "start migration", given: provisionedHistory(), when: StartMigration{TargetDeploymentID: "d2", At: t0}, then: []Event{migrating}},
		{name: "start migration to self", given: provisionedHistory(), when: StartMigration{TargetDeploymentID: "d1"}, err: ErrValidation},
		{name: "start second migration", given: h(provisionedHistory(), migrating), when: StartMigration{TargetDeploymentID: "d3"}, err: ErrMigrationInProgress},
		{name: "start migration unprovisioned", given: flyHistory(), when: StartMigration{TargetDeploymentID: "d2"}, err: ErrDeploymentNotProvisioned},
		{name: "retry failed migration", given: h(provisionedHistory(), migrating, DeploymentMigrationFailed{TargetDeploymentID: "d2"}), when: StartMigration{TargetDeploymentID: "d2", At: t0}, then: []Event{migrating}},
		{name: "complete migration", given: h(provisionedHistory(), migrating), when: CompleteMigration{TargetDeploymentID: "d2", At: t0},
			then: []Event{DeploymentMigrationCompleted{DeploymentID: "d1", TargetDeploymentID: "d2", CompletedAt: t0}}},
		{name: "complete other migration", given: h(provisionedHistory(), migrating), when: CompleteMigration{TargetDeploymentID: "d3"}, err: ErrNoMigration},
		{name: "complete without migration", given: provisionedHistory(), when: CompleteMigration{TargetDeploymentID: "d2"}, err: ErrNoMigration},
		{name: "fail migration", given: h(provisionedHistory(), migrating), when: FailMigration{TargetDeploymentID: "d2", Reason: "dump failed", At: t0},
			then: []Event{DeploymentMigrationFailed{DeploymentID: "d1", TargetDeploymentID: "d2", Reason: "dump failed", FailedAt: t0}}},
		{name: "fail migration without reason", given: h(provisionedHistory(), migrating), when: FailMigration{TargetDeploymentID: "d2"}, err: ErrValidation},
		{name: "fail without migration", given: provisionedHistory(), when: FailMigration{TargetDeploymentID: "d2", Reason: "x"}, err: ErrNoMigration},
		{name: "decommission", given: provisionedHistory(), when: DecommissionDeployment{At: t0}, then: []Event{decommissioned}},
		{name: "decommission after migration", given: h(provisionedHistory(), migrating, DeploymentMigrationCompleted{TargetDeploymentID: "d2"}), when: DecommissionDeployment{At: t0}, then: []Event{decommissioned}},
		{name: "decommission failed", given: h(requested(PlanStarter), failed), when: DecommissionDeployment{At: t0}, then: []Event{decommissioned}},
		{name: "decommission while migrating", given: h(provisionedHistory(), migrating), when: DecommissionDeployment{}, err: ErrMigrationInProgress},
		{name: "decommission while provisioning", given: flyHistory(), when: DecommissionDeployment{}, err: ErrProvisioningInProgress},
		{name: "decommission twice", given: h(provisionedHistory(), decommissioned), when: DecommissionDeployment{}, err: ErrDeploymentDecommissioned},
		{name: "provision decommissioned", given: h(provisionedHistory(), decommissioned), when: StartProvisioningStep{Step: StepApp}, err: ErrDeploymentDecommissioned},
		{name: "health of decommissioned", given: h(provisionedHistory(), decommissioned), when: RecordHealth{Health: HealthHealthy}, err: ErrDeploymentDecommissioned},
		{name: "hetzner steps", given: h(requested(PlanHobby)), when: StartProvisioningStep{Step: StepServer, At: t0}, then: []Event{started(StepServer, 1)}},
	})
}

func TestDeploymentResume(t *testing.T) {
	t.Parallel()
	// A process manager that crashed after starting the database step
	// resumes there, at attempt 1 done.
	d, err := FoldDeployment(flyHistory()[:4]...)
	if err != nil {
		t.Fatal(err)
	}
	step, attempts, ok := d.NextStep()
	if !ok || step != StepDatabase || attempts != 1 {
		t.Fatalf("NextStep = %s %d %v, want database 1 true", step, attempts, ok)
	}
	// After the resource was recorded the next step has not started.
	d = EvolveDeployment(d, flyHistory()[4])
	if step, attempts, ok = d.NextStep(); !ok || step != StepRedis || attempts != 0 {
		t.Fatalf("NextStep = %s %d %v, want redis 0 true", step, attempts, ok)
	}
	full, _ := FoldDeployment(flyHistory()...)
	if _, _, ok := full.NextStep(); ok {
		t.Fatal("NextStep after every step")
	}
	if got := full.Resources(); len(got) != 5 || got[0] != (ResourceRef{StepApp, "wh-d1"}) {
		t.Fatalf("Resources = %v", got)
	}
	// Earlier states are not changed by later events (copy on write).
	before := d.Resources()
	_ = EvolveDeployment(d, RedisCreated{RedisID: "x"})
	if !reflect.DeepEqual(before, d.Resources()) {
		t.Fatal("evolve mutated an earlier state")
	}
}

func TestDeploymentState(t *testing.T) {
	t.Parallel()
	d, err := FoldDeployment(h(provisionedHistory(), DeploymentHealthChanged{To: HealthDegraded},
		DeploymentMigrationStarted{TargetDeploymentID: "d2"})...)
	if err != nil {
		t.Fatal(err)
	}
	target, status := d.Migration()
	if d.ID() != "d1" || d.CustomerID() != "c1" || d.SubscriptionID() != "s1" || d.Slug() != "acme" || d.Replaces() != "" ||
		d.Status() != DeploymentStatusProvisioned || d.APIURL() == "" || d.SyncURL() == "" || d.Health() != HealthDegraded ||
		target != "d2" || status != MigrationRunning || d.Spec().Plan != PlanStarter || d.CleanedUp() {
		t.Fatalf("unexpected state %+v", d)
	}
	f, _ := FoldDeployment(requested(PlanHobby), DeploymentFailed{Step: StepServer, Reason: "boom"}, ResourcesCleanedUp{})
	if step, reason := f.Failure(); step != StepServer || reason != "boom" || !f.CleanedUp() {
		t.Fatalf("failure state %+v", f)
	}
	if _, err := FoldDeployment(CustomerSignedUp{}); !errors.Is(err, ErrForeignEvent) {
		t.Fatalf("foreign event: %v", err)
	}
}

func TestTruncateKeepsUTF8(t *testing.T) {
	t.Parallel()
	s := truncate("ééé", 3)
	if s != "é" {
		t.Fatalf("truncate = %q", s)
	}
}
