package commands

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"pgregory.net/rapid"

	"github.com/webhost-systems/webhost/domain"
	"github.com/webhost-systems/webhost/eventstore"
	"github.com/webhost-systems/webhost/eventstore/memory"
)

// TestPropertyHandlers drives the handlers with random command sequences
// (including resubmissions) on the in-memory store, and checks that:
//   - every command either succeeds or is rejected with a typed domain
//     error (never anything else);
//   - every event an accepted command stored is one Evolve can apply to its
//     stream (the strict fold accepts it);
//   - replaying each stream from the store gives the state built up
//     incrementally while the commands ran;
//   - a resubmitted command appends nothing.
func TestPropertyHandlers(t *testing.T) {
	t.Parallel()
	// The state cache must not change behaviour: run with it (default),
	// without it, and with a one-stream cache that evicts all the time.
	for _, size := range []int{0, -1, 1} {
		t.Run(fmt.Sprintf("cache=%d", size), func(t *testing.T) {
			t.Parallel()
			propertyHandlers(t, size)
		})
	}
}

func propertyHandlers(t *testing.T, cacheSize int) {
	plans := []domain.PlanID{domain.PlanHobby, domain.PlanStarter, domain.PlanProfessional, domain.PlanBusiness, "gold"}
	steps := []domain.Step{domain.StepServer, domain.StepApp, domain.StepDatabase, domain.StepRedis, domain.StepMachines, domain.StepDNS}
	var mu sync.Mutex
	seen := map[string]int{}
	defer func() { t.Logf("event types stored across runs: %v", seen) }()
	rapid.Check(t, func(rt *rapid.T) {
		f := newFixtureOn(t, memory.New(), func(c *Config) { c.StateCacheSize = cacheSize })
		ada := f.signUp("ada@example.com", "acme")
		cust := ada.CustomerID
		sub := uuid.NewSHA1(cust, []byte("sub"))
		deps := []uuid.UUID{uuid.NewSHA1(cust, []byte("d1")), uuid.NewSHA1(cust, []byte("d2"))}
		keys := []uuid.UUID{ada.APIKeyID}
		model := map[string][]domain.Event{} // stream -> events seen appended, in order
		observe := func(from eventstore.Position) {
			for _, rec := range f.since(from) {
				e, _, err := domain.DecodeEvent(rec.Type, rec.Data, rec.Metadata)
				if err != nil {
					rt.Fatalf("decode %s: %v", rec.Type, err)
				}
				model[rec.Stream] = append(model[rec.Stream], e)
				mu.Lock()
				seen[rec.Type]++
				mu.Unlock()
			}
		}
		observe(eventstore.Start)
		var past []func(Meta) error
		var pastMeta []Meta

		n := rapid.IntRange(1, 80).Draw(rt, "commands")
		for i := 0; i < n; i++ {
			dep := rapid.SampledFrom(deps).Draw(rt, "deployment")
			var run func(Meta) error
			switch rapid.IntRange(0, 16).Draw(rt, "kind") {
			case 14, 15, 16:
				// A process manager's step: start the next step and record
				// its resource.
				run = func(m Meta) error {
					s, _, ok := f.deploymentState(dep).NextStep()
					if !ok {
						s = domain.StepDNS
					}
					if _, err := f.h.StartProvisioningStep.Handle(f.ctx, StartProvisioningStep{Meta: m, CustomerID: cust, DeploymentID: dep, Step: s}); err != nil {
						return err
					}
					_, err := f.h.RecordProvisioningStep.Handle(f.ctx, RecordProvisioningStep{Meta: Meta{CommandID: DeriveID(m.CommandID, "record"), Actor: m.Actor}, CustomerID: cust, DeploymentID: dep, Result: stepResult(s)})
					return err
				}
			case 0:
				plan := rapid.SampledFrom(plans).Draw(rt, "plan")
				trial := rapid.Bool().Draw(rt, "trial")
				run = func(m Meta) error {
					_, err := f.h.StartSubscription.Handle(f.ctx, StartSubscription{Meta: m, CustomerID: cust, SubscriptionID: sub, Plan: plan, Trial: trial})
					return err
				}
			case 1:
				plan := rapid.SampledFrom(plans).Draw(rt, "plan")
				run = func(m Meta) error {
					_, err := f.h.ChangePlan.Handle(f.ctx, ChangePlan{Meta: m, CustomerID: cust, SubscriptionID: sub, Plan: plan})
					return err
				}
			case 2:
				which := rapid.IntRange(0, 2).Draw(rt, "billing")
				run = func(m Meta) error {
					var err error
					switch which {
					case 0:
						_, err = f.h.ActivateSubscription.Handle(f.ctx, ActivateSubscription{Meta: m, CustomerID: cust, SubscriptionID: sub})
					case 1:
						_, err = f.h.MarkSubscriptionPastDue.Handle(f.ctx, MarkSubscriptionPastDue{Meta: m, CustomerID: cust, SubscriptionID: sub})
					default:
						_, err = f.h.CancelSubscription.Handle(f.ctx, CancelSubscription{Meta: m, CustomerID: cust, SubscriptionID: sub})
					}
					return err
				}
			case 3:
				scopes := rapid.SliceOfN(rapid.SampledFrom([]string{"read", "write", "admin", "root"}), 0, 3).Draw(rt, "scopes")
				run = func(m Meta) error {
					res, err := f.h.IssueAPIKey.Handle(f.ctx, IssueAPIKey{Meta: m, CustomerID: cust, Name: "k", Scopes: scopes})
					if err == nil && !res.Duplicate {
						keys = append(keys, res.KeyID)
					}
					return err
				}
			case 4:
				key := rapid.SampledFrom(keys).Draw(rt, "key")
				run = func(m Meta) error {
					_, err := f.h.RevokeAPIKey.Handle(f.ctx, RevokeAPIKey{Meta: m, CustomerID: cust, KeyID: key})
					return err
				}
			case 5:
				plan := rapid.SampledFrom(plans).Draw(rt, "plan")
				run = func(m Meta) error {
					_, err := f.h.RequestDeployment.Handle(f.ctx, RequestDeployment{Meta: m, CustomerID: cust, DeploymentID: dep, Plan: plan})
					return err
				}
			case 6, 7:
				// Mostly the next step, as a process manager would.
				step := rapid.SampledFrom(steps).Draw(rt, "step")
				next := rapid.Bool().Draw(rt, "next")
				run = func(m Meta) error {
					if s, _, ok := f.deploymentState(dep).NextStep(); ok && next {
						step = s
					}
					_, err := f.h.StartProvisioningStep.Handle(f.ctx, StartProvisioningStep{Meta: m, CustomerID: cust, DeploymentID: dep, Step: step})
					return err
				}
			case 8, 9:
				step := rapid.SampledFrom(steps).Draw(rt, "step")
				next := rapid.Bool().Draw(rt, "next")
				run = func(m Meta) error {
					if s, _, ok := f.deploymentState(dep).NextStep(); ok && next {
						step = s
					}
					_, err := f.h.RecordProvisioningStep.Handle(f.ctx, RecordProvisioningStep{Meta: m, CustomerID: cust, DeploymentID: dep, Result: stepResult(step)})
					return err
				}
			case 10:
				which := rapid.IntRange(0, 2).Draw(rt, "outcome")
				run = func(m Meta) error {
					var err error
					switch which {
					case 0:
						_, err = f.h.MarkDeploymentProvisioned.Handle(f.ctx, MarkDeploymentProvisioned{Meta: m, CustomerID: cust, DeploymentID: dep, APIURL: "https://a.example", SyncURL: "wss://a.example"})
					case 1:
						_, err = f.h.MarkDeploymentFailed.Handle(f.ctx, MarkDeploymentFailed{Meta: m, CustomerID: cust, DeploymentID: dep, Step: domain.StepDNS, Reason: "boom"})
					default:
						_, err = f.h.RecordCleanup.Handle(f.ctx, RecordCleanup{Meta: m, CustomerID: cust, DeploymentID: dep})
					}
					return err
				}
			case 11:
				health := rapid.SampledFrom([]domain.DeploymentHealth{domain.HealthHealthy, domain.HealthDegraded, domain.HealthUnhealthy}).Draw(rt, "health")
				region := rapid.SampledFrom([]string{"fra", "sin"}).Draw(rt, "region")
				scale := rapid.Bool().Draw(rt, "scale")
				run = func(m Meta) error {
					if scale {
						_, err := f.h.ScaleDeployment.Handle(f.ctx, ScaleDeployment{Meta: m, CustomerID: cust, DeploymentID: dep, AddRegions: []string{region}})
						return err
					}
					_, err := f.h.RecordHealth.Handle(f.ctx, RecordHealth{Meta: m, CustomerID: cust, DeploymentID: dep, Health: health})
					return err
				}
			case 12:
				suspend := rapid.Bool().Draw(rt, "suspend")
				run = func(m Meta) error {
					if suspend {
						_, err := f.h.SuspendCustomer.Handle(f.ctx, SuspendCustomer{Meta: m, CustomerID: cust, Reason: "unpaid"})
						return err
					}
					_, err := f.h.ReinstateCustomer.Handle(f.ctx, ReinstateCustomer{Meta: m, CustomerID: cust})
					return err
				}
			case 13:
				if len(past) == 0 {
					continue
				}
				j := rapid.IntRange(0, len(past)-1).Draw(rt, "resubmit")
				head := f.head()
				if err := past[j](pastMeta[j]); err != nil && !isDomainRejection(err) {
					rt.Fatalf("resubmission: %v", err)
				}
				// An accepted command's resubmission appends nothing; a
				// rejected one is decided again and may now be accepted.
				observe(head)
				continue
			}
			m := f.meta()
			head := f.head()
			err := run(m)
			if err != nil && !isDomainRejection(err) {
				rt.Fatalf("command failed with an untyped error: %v", err)
			}
			before := len(f.since(head))
			observe(head)
			if err == nil && before > 0 {
				past = append(past, run)
				pastMeta = append(pastMeta, m)
				// Resubmitting right away must append nothing.
				h2 := f.head()
				if err := run(m); err != nil {
					rt.Fatalf("immediate resubmission: %v", err)
				}
				if n := len(f.since(h2)); n != 0 {
					rt.Fatalf("resubmission appended %d events", n)
				}
			}
		}

		// Replay every stream strictly and compare with the runner's view
		// and with the incremental model.
		for stream, events := range model {
			recs, err := f.store.ReadStream(f.ctx, stream, eventstore.ReadStreamOptions{})
			if err != nil {
				rt.Fatal(err)
			}
			if len(recs) != len(events) {
				rt.Fatalf("%s: %d stored events, %d observed", stream, len(recs), len(events))
			}
			switch {
			case strings.HasPrefix(stream, "deployment-"):
				replay, err := domain.FoldDeployment(events...)
				if err != nil {
					rt.Fatalf("%s: %v", stream, err)
				}
				live, err := loadState(f.ctx, f.h.Runner, stream, deploymentAgg)
				if err != nil || !reflect.DeepEqual(replay, live) {
					rt.Fatalf("%s: replay %+v, live %+v (%v)", stream, replay, live, err)
				}
			case strings.HasPrefix(stream, "subscription-"):
				replay, err := domain.FoldSubscription(events...)
				if err != nil {
					rt.Fatalf("%s: %v", stream, err)
				}
				live, err := loadState(f.ctx, f.h.Runner, stream, subscriptionAgg)
				if err != nil || !reflect.DeepEqual(replay, live) {
					rt.Fatalf("%s: replay %+v, live %+v (%v)", stream, replay, live, err)
				}
			case strings.HasPrefix(stream, "apikey-"):
				if _, err := domain.FoldAPIKey(events...); err != nil {
					rt.Fatalf("%s: %v", stream, err)
				}
			case strings.HasPrefix(stream, "customer-"):
				if _, err := domain.FoldCustomer(events...); err != nil {
					rt.Fatalf("%s: %v", stream, err)
				}
			default:
				if _, err := domain.FoldReservation(events...); err != nil {
					rt.Fatalf("%s: %v", stream, err)
				}
			}
		}
	})
}

func isDomainRejection(err error) bool {
	return errors.Is(err, domain.ErrInvalidTransition) || errors.Is(err, domain.ErrValidation)
}
