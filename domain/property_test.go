package domain

import (
	"reflect"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// checkReplay applies random commands, keeping the state incrementally, and
// checks that (1) every event an accepted command yields is one Evolve can
// apply (the strict fold accepts it), (2) replaying the accepted events from
// scratch gives the same state, also after a JSON round trip through the
// event codec (as when read back from the store).
func checkReplay[S any, C any](t *rapid.T, cmds *rapid.Generator[C], decide func(S, C) ([]Event, error),
	evolve func(S, Event) S, fold func(...Event) (S, error)) {
	var state S
	var history []Event
	accepted := 0
	steps := rapid.IntRange(1, 60).Draw(t, "steps")
	for i := 0; i < steps; i++ {
		cmd := cmds.Draw(t, "cmd")
		events, err := decide(state, cmd)
		if err != nil {
			if events != nil {
				t.Fatalf("events with error %v", err)
			}
			continue
		}
		accepted++
		for _, e := range events {
			if _, err := fold(append(append([]Event{}, history...), e)...); err != nil {
				t.Fatalf("accepted %T yields %T that Evolve cannot apply: %v", cmd, e, err)
			}
			state = evolve(state, e)
			history = append(history, e)
		}
	}
	replayed, err := fold(history...)
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	if !reflect.DeepEqual(replayed, state) {
		t.Fatalf("replay differs:\n live   %+v\n replay %+v", state, replayed)
	}
	decoded := make([]Event, len(history))
	for i, e := range history {
		typ, data, meta, err := EncodeEvent(e, Metadata{Tenant: "c1"})
		if err != nil {
			t.Fatal(err)
		}
		if decoded[i], _, err = DecodeEvent(typ, data, meta); err != nil {
			t.Fatal(err)
		}
	}
	fromStore, err := fold(decoded...)
	if err != nil {
		t.Fatalf("replay decoded: %v", err)
	}
	// Times are UTC without a monotonic reading, so they survive JSON.
	if !reflect.DeepEqual(fromStore, state) {
		t.Fatalf("replay of decoded events differs:\n live   %+v\n replay %+v", state, fromStore)
	}
}

func drawTime(t *rapid.T) time.Time {
	return t0.Add(time.Duration(rapid.IntRange(0, 1000).Draw(t, "minutes")) * time.Minute)
}

var genPlan = rapid.SampledFrom([]PlanID{PlanHobby, PlanStarter, PlanProfessional, PlanBusiness, "gold"})

func TestPropertyCustomer(t *testing.T) {
	t.Parallel()
	cmds := rapid.Custom(func(t *rapid.T) CustomerCommand {
		at := drawTime(t)
		switch rapid.IntRange(0, 4).Draw(t, "kind") {
		case 0:
			return SignUpCustomer{CustomerID: "c1", Slug: rapid.SampledFrom([]string{"acme", "api", "b-2"}).Draw(t, "slug"),
				NameSecretID: "n1", EmailSecretID: "e1", Company: rapid.StringN(0, 5, 10).Draw(t, "company"), At: at}
		case 1:
			c := UpdateCustomerProfile{NameSecretID: rapid.SampledFrom([]string{"", "n1", "n2", "n3"}).Draw(t, "name"),
				EmailSecretID: rapid.SampledFrom([]string{"", "e1", "e2"}).Draw(t, "email"), At: at}
			if rapid.Bool().Draw(t, "company?") {
				c.Company = ptr(rapid.SampledFrom([]string{"Acme", "Other"}).Draw(t, "company"))
			}
			return c
		case 2:
			return SuspendCustomer{Reason: rapid.SampledFrom([]string{"", "unpaid"}).Draw(t, "reason"), At: at}
		case 3:
			return ReinstateCustomer{At: at}
		}
		return CloseCustomerAccount{At: at}
	})
	rapid.Check(t, func(t *rapid.T) { checkReplay(t, cmds, DecideCustomer, EvolveCustomer, FoldCustomer) })
}

func TestPropertySubscription(t *testing.T) {
	t.Parallel()
	cmds := rapid.Custom(func(t *rapid.T) SubscriptionCommand {
		at := drawTime(t)
		switch rapid.IntRange(0, 5).Draw(t, "kind") {
		case 0:
			return StartSubscription{SubscriptionID: "s1", CustomerID: "c1", Plan: genPlan.Draw(t, "plan"), Trial: rapid.Bool().Draw(t, "trial"), At: at}
		case 1:
			return ChangePlan{Plan: genPlan.Draw(t, "plan"), At: at}
		case 2:
			return LinkStripeCustomer{StripeCustomerID: rapid.SampledFrom([]string{"cus_1", "cus_2", "x"}).Draw(t, "cus"),
				StripeSubscriptionID: rapid.SampledFrom([]string{"", "sub_1", "sub_2"}).Draw(t, "sub"), At: at}
		case 3:
			return ActivateSubscription{At: at}
		case 4:
			return MarkSubscriptionPastDue{At: at}
		}
		return CancelSubscription{At: at}
	})
	rapid.Check(t, func(t *rapid.T) { checkReplay(t, cmds, DecideSubscription, EvolveSubscription, FoldSubscription) })
}

func TestPropertyAPIKey(t *testing.T) {
	t.Parallel()
	cmds := rapid.Custom(func(t *rapid.T) APIKeyCommand {
		if rapid.Bool().Draw(t, "issue") {
			return IssueAPIKey{KeyID: "k1", CustomerID: "c1", Name: "n", Prefix: "whs_live_abcd", Hash: testHash,
				Scopes: rapid.SliceOfN(rapid.SampledFrom([]string{"read", "write", "admin", "root"}), 0, 4).Draw(t, "scopes"), At: drawTime(t)}
		}
		return RevokeAPIKey{CustomerID: rapid.SampledFrom([]string{"c1", "c2"}).Draw(t, "customer"), At: drawTime(t)}
	})
	rapid.Check(t, func(t *rapid.T) { checkReplay(t, cmds, DecideAPIKey, EvolveAPIKey, FoldAPIKey) })
}

func TestPropertyReservation(t *testing.T) {
	t.Parallel()
	cmds := rapid.Custom(func(t *rapid.T) ReservationCommand {
		customer := rapid.SampledFrom([]string{"c1", "c2"}).Draw(t, "customer")
		if rapid.Bool().Draw(t, "reserve") {
			return Reserve{Kind: ReservationEmail, CustomerID: customer, At: drawTime(t)}
		}
		return Release{Kind: ReservationEmail, CustomerID: customer, At: drawTime(t)}
	})
	rapid.Check(t, func(t *rapid.T) { checkReplay(t, cmds, DecideReservation, EvolveReservation, FoldReservation) })
}

func TestPropertyDeployment(t *testing.T) {
	t.Parallel()
	allSteps := []Step{StepServer, StepApp, StepDatabase, StepRedis, StepMachines, StepDNS}
	result := func(t *rapid.T, step Step) StepResult {
		id := rapid.SampledFrom([]string{"r1", "r2"}).Draw(t, "resource")
		switch step {
		case StepServer:
			return ServerCreated{ServerID: id, Name: "wh", ServerType: "cax11", Location: "nbg1"}
		case StepApp:
			return AppCreated{AppName: id}
		case StepDatabase:
			return DatabaseCreated{ClusterName: id, Region: "iad"}
		case StepRedis:
			return RedisCreated{RedisID: id, Name: "wh", Tier: "free"}
		case StepMachines:
			return MachinesLaunched{AppName: id, Machines: []LaunchedMachine{{MachineID: "m1", Region: "iad"}}}
		}
		return DNSRecordCreated{RecordID: id, Name: "acme", Type: "A", Content: "192.0.2.1"}
	}
	cmds := rapid.Custom(func(t *rapid.T) DeploymentCommand {
		at := drawTime(t)
		// Weighted towards provisioning so that runs get far.
		switch rapid.IntRange(0, 14).Draw(t, "kind") {
		case 0:
			return RequestDeployment{DeploymentID: "d1", CustomerID: "c1", Slug: "acme", Plan: genPlan.Draw(t, "plan"), At: at}
		case 1, 2, 3:
			return StartProvisioningStep{Step: rapid.SampledFrom(allSteps).Draw(t, "step"), At: at}
		case 4, 5, 6:
			return RecordProvisioningStep{Result: result(t, rapid.SampledFrom(allSteps).Draw(t, "step")), At: at}
		case 7:
			return MarkDeploymentProvisioned{APIURL: "https://acme.webhost.systems", SyncURL: "wss://acme.webhost.systems/sync", At: at}
		case 8:
			return MarkDeploymentFailed{Step: rapid.SampledFrom(allSteps).Draw(t, "step"), Reason: "boom", At: at}
		case 9:
			return RecordCleanup{At: at}
		case 10:
			return RecordHealth{Health: rapid.SampledFrom([]DeploymentHealth{HealthHealthy, HealthDegraded, HealthUnhealthy, "bad"}).Draw(t, "health"), At: at}
		case 11:
			replicas := rapid.IntRange(0, 3).Draw(t, "replicas")
			return ScaleDeployment{AddRegions: rapid.SliceOfN(rapid.SampledFrom([]string{"fra", "sin", "ams", "mars"}), 0, 2).Draw(t, "add"),
				RemoveRegions: rapid.SliceOfN(rapid.SampledFrom([]string{"iad", "fra", "sin"}), 0, 2).Draw(t, "remove"), ReadReplicas: &replicas, At: at}
		case 12:
			target := rapid.SampledFrom([]string{"d2", "d3"}).Draw(t, "target")
			switch rapid.IntRange(0, 2).Draw(t, "migration") {
			case 0:
				return StartMigration{TargetDeploymentID: target, At: at}
			case 1:
				return CompleteMigration{TargetDeploymentID: target, At: at}
			}
			return FailMigration{TargetDeploymentID: target, Reason: "x", At: at}
		}
		return DecommissionDeployment{At: at}
	})
	rapid.Check(t, func(t *rapid.T) { checkReplay(t, cmds, DecideDeployment, EvolveDeployment, FoldDeployment) })
}

func TestPropertyProvisioningReachesProvisioned(t *testing.T) {
	t.Parallel()
	// Following NextStep always leads to a provisionable deployment.
	rapid.Check(t, func(t *rapid.T) {
		plan := rapid.SampledFrom([]PlanID{PlanHobby, PlanStarter, PlanProfessional, PlanBusiness}).Draw(t, "plan")
		d, _ := FoldDeployment()
		apply := func(c DeploymentCommand) {
			events, err := DecideDeployment(d, c)
			if err != nil {
				t.Fatalf("%T: %v", c, err)
			}
			for _, e := range events {
				d = EvolveDeployment(d, e)
			}
		}
		apply(RequestDeployment{DeploymentID: "d1", CustomerID: "c1", Slug: "acme", Plan: plan, At: t0})
		for {
			step, _, ok := d.NextStep()
			if !ok {
				break
			}
			for retries := rapid.IntRange(1, 3).Draw(t, "attempts"); retries > 0; retries-- {
				apply(StartProvisioningStep{Step: step, At: t0})
			}
			var res StepResult
			switch step {
			case StepServer:
				res = ServerCreated{ServerID: "1"}
			case StepApp:
				res = AppCreated{AppName: "a"}
			case StepDatabase:
				res = DatabaseCreated{ClusterName: "db"}
			case StepRedis:
				res = RedisCreated{RedisID: "r"}
			case StepMachines:
				res = MachinesLaunched{AppName: "a", Machines: []LaunchedMachine{{"m", "iad"}}}
			case StepDNS:
				res = DNSRecordCreated{RecordID: "dns"}
			}
			apply(RecordProvisioningStep{Result: res, At: t0})
		}
		apply(MarkDeploymentProvisioned{APIURL: "https://a.example", SyncURL: "wss://a.example", At: t0})
		if d.Status() != DeploymentStatusProvisioned {
			t.Fatalf("status %s", d.Status())
		}
	})
}
