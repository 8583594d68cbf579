package commands

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/webhost-systems/webhost/domain"
	"github.com/webhost-systems/webhost/eventstore"
	"github.com/webhost-systems/webhost/eventstore/memory"
	"github.com/webhost-systems/webhost/secrets"
)

var testMasterKey = []byte("0123456789abcdef0123456789abcdef")

// fixture is a command stack on the in-memory event store with a fixed
// clock and seeded randomness.
type fixture struct {
	t       testing.TB
	ctx     context.Context
	store   eventstore.Store
	secrets SecretStore
	h       *Handlers
	now     time.Time
	seq     uint64
	mu      sync.Mutex
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	return newFixtureOn(t, memory.New())
}

func newFixtureOn(t testing.TB, store eventstore.Store, opts ...func(*Config)) *fixture {
	t.Helper()
	sec, err := secrets.NewMemory(secrets.Config{MasterKey: testMasterKey})
	if err != nil {
		t.Fatal(err)
	}
	return newFixtureWith(t, store, sec, opts...)
}

func newFixtureWith(t testing.TB, store eventstore.Store, sec SecretStore, opts ...func(*Config)) *fixture {
	t.Helper()
	f := &fixture{t: t, ctx: context.Background(), store: store, secrets: sec,
		now: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}
	cfg := Config{Store: store, Secrets: sec, Now: func() time.Time { return f.now },
		Rand: &lockedReader{r: rand.NewChaCha8([32]byte{1})}, RetryBackoff: time.Millisecond, MaxAttempts: 100}
	for _, o := range opts {
		o(&cfg)
	}
	var err error
	f.h, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// meta returns fresh command metadata.
func (f *fixture) meta() Meta {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	return Meta{CommandID: uuid.NewSHA1(uuid.NameSpaceOID, []byte{byte(f.seq >> 8), byte(f.seq)}), Actor: "system", CorrelationID: "corr-test"}
}

func (f *fixture) must(err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatal(err)
	}
}

// signUp signs a customer up and returns its ID.
func (f *fixture) signUp(email, slug string) SignUpResult {
	f.t.Helper()
	res, err := f.h.SignUp.Handle(f.ctx, SignUp{Meta: f.meta(), Name: "Ada Lovelace", Email: email, Slug: slug, Company: "Analytical"})
	f.must(err)
	return res
}

func (f *fixture) subscription(customer uuid.UUID, plan domain.PlanID) uuid.UUID {
	f.t.Helper()
	id := uuid.NewSHA1(customer, []byte("subscription"))
	_, err := f.h.StartSubscription.Handle(f.ctx, StartSubscription{Meta: f.meta(), CustomerID: customer, SubscriptionID: id, Plan: plan})
	f.must(err)
	return id
}

func (f *fixture) deployment(customer uuid.UUID, plan domain.PlanID) uuid.UUID {
	f.t.Helper()
	id := uuid.NewSHA1(customer, []byte("deployment-"+string(plan)))
	_, err := f.h.RequestDeployment.Handle(f.ctx, RequestDeployment{Meta: f.meta(), CustomerID: customer, DeploymentID: id, Plan: plan})
	f.must(err)
	return id
}

// provision runs every step of a deployment and marks it provisioned.
func (f *fixture) provision(customer, deployment uuid.UUID) {
	f.t.Helper()
	for {
		d := f.deploymentState(deployment)
		step, _, ok := d.NextStep()
		if !ok {
			break
		}
		_, err := f.h.StartProvisioningStep.Handle(f.ctx, StartProvisioningStep{Meta: f.meta(), CustomerID: customer, DeploymentID: deployment, Step: step})
		f.must(err)
		_, err = f.h.RecordProvisioningStep.Handle(f.ctx, RecordProvisioningStep{Meta: f.meta(), CustomerID: customer, DeploymentID: deployment, Result: stepResult(step)})
		f.must(err)
	}
	_, err := f.h.MarkDeploymentProvisioned.Handle(f.ctx, MarkDeploymentProvisioned{Meta: f.meta(), CustomerID: customer, DeploymentID: deployment,
		APIURL: "https://acme.webhost.systems", SyncURL: "wss://acme.webhost.systems/sync"})
	f.must(err)
}

func stepResult(step domain.Step) domain.StepResult {
	switch step {
	case domain.StepServer:
		return domain.ServerCreated{ServerID: "4711", Name: "wh-x", ServerType: "cax11", Location: "nbg1", CredentialsSecretID: "sec-creds"}
	case domain.StepApp:
		return domain.AppCreated{AppName: "wh-x", Hostname: "wh-x.fly.dev"}
	case domain.StepDatabase:
		return domain.DatabaseCreated{ClusterName: "wh-x-db", Region: "iad", URLSecretID: "sec-db"}
	case domain.StepRedis:
		return domain.RedisCreated{RedisID: "redis-1", Name: "wh-x", Tier: "free", URLSecretID: "sec-redis"}
	case domain.StepMachines:
		return domain.MachinesLaunched{AppName: "wh-x", Machines: []domain.LaunchedMachine{{MachineID: "m1", Region: "iad"}}}
	}
	return domain.DNSRecordCreated{RecordID: "dns-1", Name: "acme", Type: "CNAME", Content: "wh-x.fly.dev"}
}

func (f *fixture) deploymentState(id uuid.UUID) domain.Deployment {
	f.t.Helper()
	d, err := loadState(f.ctx, f.h.Runner, DeploymentStream(id), deploymentAgg)
	f.must(err)
	return d
}

func (f *fixture) head() eventstore.Position {
	f.t.Helper()
	p, err := f.store.Head(f.ctx)
	f.must(err)
	return p
}

// since returns the events appended after p.
func (f *fixture) since(p eventstore.Position) []eventstore.RecordedEvent {
	f.t.Helper()
	recs, err := f.store.ReadAll(f.ctx, eventstore.ReadAllOptions{After: p, Limit: 10000})
	f.must(err)
	return recs
}

func metadataOf(t testing.TB, rec eventstore.RecordedEvent) domain.Metadata {
	t.Helper()
	var m domain.Metadata
	if err := json.Unmarshal(rec.Metadata, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// lockedReader makes a seeded generator safe for concurrent handlers.
type lockedReader struct {
	mu sync.Mutex
	r  *rand.ChaCha8
}

func (l *lockedReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(p)
}
