package commands

import (
	"testing"

	"github.com/google/uuid"

	"github.com/webhost-systems/webhost/domain"
	"github.com/webhost-systems/webhost/eventstore"
	"github.com/webhost-systems/webhost/eventstore/memory"
)

// BenchmarkChangePlan measures one plan change end to end (load the stream,
// fold, decide, encode, append with the expected version) against the
// baseline of appending an already encoded PlanChanged with the known
// expected version, which is the store's own cost. Changes rotate over 64
// subscriptions so streams stay short.
func BenchmarkChangePlan(b *testing.B) {
	stores := map[string]func(b *testing.B) *fixture{
		"memory":   func(b *testing.B) *fixture { return newFixtureOn(b, memory.New()) },
		"postgres": func(b *testing.B) *fixture { f, _ := pgFixture(b); return f },
	}
	for _, storeName := range []string{"memory", "postgres"} {
		for _, impl := range []string{"baseline", "runner"} {
			b.Run("store="+storeName+"/impl="+impl, func(b *testing.B) {
				f := stores[storeName](b)
				ada := f.signUp("ada@example.com", "acme")
				const subs = 64
				ids := make([]uuid.UUID, subs)
				versions := make([]uint64, subs)
				for i := range ids {
					ids[i] = uuid.New()
					_, err := f.h.StartSubscription.Handle(f.ctx, StartSubscription{Meta: f.meta(), CustomerID: ada.CustomerID, SubscriptionID: ids[i], Plan: domain.PlanHobby})
					f.must(err)
				}
				plans := []domain.PlanID{domain.PlanStarter, domain.PlanHobby}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					s := i % subs
					to := plans[(i/subs)%2]
					m := Meta{CommandID: uuid.New(), Actor: "bench"}
					if impl == "runner" {
						if _, err := f.h.ChangePlan.Handle(f.ctx, ChangePlan{Meta: m, CustomerID: ada.CustomerID, SubscriptionID: ids[s], Plan: to}); err != nil {
							b.Fatal(err)
						}
						continue
					}
					typ, data, meta, err := domain.EncodeEvent(domain.PlanChanged{SubscriptionID: ids[s].String(), CustomerID: ada.CustomerID.String(),
						FromPlan: plans[((i/subs)+1)%2], ToPlan: to, ChangedAt: f.now}, m.metadata(ada.CustomerID.String()))
					if err != nil {
						b.Fatal(err)
					}
					if _, err := f.store.Append(f.ctx, SubscriptionStream(ids[s]), eventstore.Exact(versions[s]),
						eventstore.Event{ID: EventID(m.CommandID, SubscriptionStream(ids[s]), 0), Type: typ, Data: data, Metadata: meta}); err != nil {
						b.Fatal(err)
					}
					versions[s]++
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commands/s")
			})
		}
	}
}
