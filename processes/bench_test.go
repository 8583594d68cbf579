package processes_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/webhost-systems/webhost/commands"
	"github.com/webhost-systems/webhost/domain"
	"github.com/webhost-systems/webhost/eventstore"
	"github.com/webhost-systems/webhost/processes"
)

const benchSignups = 100

// BenchmarkProvisioningPipeline measures the provisioning pipeline's own
// overhead: 100 concurrent hobby signups, each from the SignUp command to
// DeploymentProvisioned, against simulators with (near) zero latency (1ms
// actions). impl=processes runs the event-driven process managers (router,
// leased subscriptions, one event per step); impl=baseline runs the same
// commands and provider calls directly in each signup's goroutine, which
// is the floor the pipeline's plumbing adds to.
func BenchmarkProvisioningPipeline(b *testing.B) {
	b.Run(fmt.Sprintf("signups=%d/impl=baseline", benchSignups), func(b *testing.B) {
		h := newHarnessConns(b, 32)
		benchLatencies(b, h, func(latencies []time.Duration) {
			var wg sync.WaitGroup
			for i := range latencies {
				wg.Add(1)
				go func() {
					defer wg.Done()
					start := time.Now()
					if err := h.provisionDirectly(b); err != nil {
						b.Error(err)
						return
					}
					latencies[i] = time.Since(start)
				}()
			}
			wg.Wait()
		})
	})
	b.Run(fmt.Sprintf("signups=%d/impl=processes", benchSignups), func(b *testing.B) {
		h := newHarnessConns(b, 32)
		h.start(b, func(c *processes.Config) { c.MaxInFlight = 256 })
		benchLatencies(b, h, func(latencies []time.Duration) {
			// Provisioned times come from the event log (commit times), so
			// observing them adds nothing to the pipeline.
			head, err := h.store.Head(h.ctx)
			if err != nil {
				b.Fatal(err)
			}
			sub, err := h.store.Subscribe(h.ctx, head, eventstore.Filter{EventTypes: []string{domain.TypeDeploymentProvisioned}})
			if err != nil {
				b.Fatal(err)
			}
			defer sub.Close()
			starts := make(map[string]time.Time, len(latencies))
			var mu sync.Mutex
			var wg sync.WaitGroup
			for range latencies {
				wg.Add(1)
				go func() {
					defer wg.Done()
					start := time.Now()
					customerID, _ := h.signUp(b, domain.PlanHobby)
					mu.Lock()
					starts[initialDeployment(customerID).String()] = start
					mu.Unlock()
				}()
			}
			wg.Wait()
			for i := range latencies {
				select {
				case rec := <-sub.Events():
					e, _, err := domain.DecodeEvent(rec.Type, rec.Data, rec.Metadata)
					if err != nil {
						b.Fatal(err)
					}
					start, ok := starts[e.(domain.DeploymentProvisioned).DeploymentID]
					if !ok {
						b.Fatalf("provisioned an unknown deployment %s", e.(domain.DeploymentProvisioned).DeploymentID)
					}
					latencies[i] = rec.Time.Sub(start)
				case <-time.After(5 * time.Minute):
					b.Fatalf("only %d of %d deployments provisioned", i, len(latencies))
				}
			}
		})
	})
}

func benchLatencies(b *testing.B, h *harness, run func(latencies []time.Duration)) {
	var all []time.Duration
	b.ResetTimer()
	begin := time.Now()
	for b.Loop() {
		latencies := make([]time.Duration, benchSignups)
		run(latencies)
		all = append(all, latencies...)
	}
	elapsed := time.Since(begin)
	b.StopTimer()
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	pct := func(p float64) float64 {
		return float64(all[int(p*float64(len(all)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "signups/s")
	if st := h.sim.State(); len(st.Hetzner.Servers) != len(all) {
		b.Fatalf("%d servers for %d signups", len(st.Hetzner.Servers), len(all))
	}
}

// provisionDirectly is the baseline: one signup provisioned by calling the
// same commands and providers in sequence, without events in between.
func (h *harness) provisionDirectly(b *testing.B) error {
	ctx := h.ctx
	n := h.seq.Add(1)
	meta := func() commands.Meta { return commands.Meta{CommandID: uuid.New(), Actor: "system"} }
	su, err := h.cmds.SignUp.Handle(ctx, commands.SignUp{Meta: meta(), Name: "Ada", Email: fmt.Sprintf("base%d@example.com", n), Slug: fmt.Sprintf("base%d", n)})
	if err != nil {
		return err
	}
	subID := processes.SubscriptionID(su.CustomerID)
	if _, err := h.cmds.StartSubscription.Handle(ctx, commands.StartSubscription{Meta: meta(), CustomerID: su.CustomerID, SubscriptionID: subID, Plan: domain.PlanHobby, Trial: true}); err != nil {
		return err
	}
	depID := processes.InitialDeploymentID(subID)
	if _, err := h.cmds.RequestDeployment.Handle(ctx, commands.RequestDeployment{Meta: meta(), CustomerID: su.CustomerID, DeploymentID: depID, SubscriptionID: subID, Plan: domain.PlanHobby}); err != nil {
		return err
	}
	step := func(s domain.Step, call func(context.Context) (domain.StepResult, error)) error {
		if _, err := h.cmds.StartProvisioningStep.Handle(ctx, commands.StartProvisioningStep{Meta: meta(), CustomerID: su.CustomerID, DeploymentID: depID, Step: s}); err != nil {
			return err
		}
		res, err := call(ctx)
		if err != nil {
			return err
		}
		_, err = h.cmds.RecordProvisioningStep.Handle(ctx, commands.RecordProvisioningStep{Meta: meta(), CustomerID: su.CustomerID, DeploymentID: depID, Result: res})
		return err
	}
	name := processes.ResourceName(depID.String())
	var ip string
	if err := step(domain.StepServer, func(ctx context.Context) (domain.StepResult, error) {
		srv, err := h.providers.Servers.EnsureServer(ctx, processes.ServerSpec{Name: name, ServerType: "cax11", Location: "nbg1", Labels: map[string]string{processes.LabelDeployment: depID.String()}})
		ip = srv.IPv4
		return domain.ServerCreated{ServerID: srv.ID, Name: srv.Name, ServerType: "cax11", Location: "nbg1", IPv4: srv.IPv4}, err
	}); err != nil {
		return err
	}
	slug := fmt.Sprintf("base%d", n)
	if err := step(domain.StepDNS, func(ctx context.Context) (domain.StepResult, error) {
		rec, err := h.providers.DNS.UpsertRecord(ctx, processes.DNSRecord{Name: slug, Type: "A", Content: ip, TTL: 1})
		return domain.DNSRecordCreated{RecordID: rec.ID, Name: slug, Type: "A", Content: ip}, err
	}); err != nil {
		return err
	}
	_, err = h.cmds.MarkDeploymentProvisioned.Handle(ctx, commands.MarkDeploymentProvisioned{Meta: meta(), CustomerID: su.CustomerID, DeploymentID: depID,
		APIURL: "https://" + slug + "." + baseDomain, SyncURL: "wss://" + slug + "." + baseDomain + "/sync"})
	return err
}
