// Package providertest holds one acceptance suite per provider interface of
// package processes. Every adapter runs its suite against its simulator (or
// stripe-mock): create, re-create idempotently, read status, delete, delete
// again.
package providertest

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webhost-systems/webhost/processes"
)

var seq atomic.Int64

// Name returns a unique DNS-safe resource name with prefix.
func Name(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano()%1_000_000, seq.Add(1))
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// RequireKind fails the test unless err is a *processes.ProviderError of
// kind.
func RequireKind(t testing.TB, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("error = %v, want kind %v", err, kind)
	}
	var pe *processes.ProviderError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v is not a *processes.ProviderError", err)
	}
}

// ServerProvisioner runs the acceptance suite for p.
func ServerProvisioner(t *testing.T, p processes.ServerProvisioner) {
	ctx := ctxFor(t)
	labels := map[string]string{"webhost/deployment": Name("dep"), "webhost/owner": "acceptance"}
	spec := processes.ServerSpec{Name: Name("wh"), ServerType: "cax11", Location: "nbg1", Labels: labels}
	var progress []int
	spec.OnProgress = func(p int) { progress = append(progress, p) }

	first, err := p.EnsureServer(ctx, spec)
	if err != nil {
		t.Fatalf("EnsureServer: %v", err)
	}
	if first.Status != processes.StatusRunning || first.ID == "" || first.Name != spec.Name || first.IPv4 == "" {
		t.Fatalf("EnsureServer = %+v, want a running server named %s with an address", first, spec.Name)
	}
	if len(progress) == 0 || progress[len(progress)-1] != 100 {
		t.Fatalf("progress = %v, want reports ending at 100", progress)
	}
	again, err := p.EnsureServer(ctx, spec)
	if err != nil {
		t.Fatalf("EnsureServer again: %v", err)
	}
	if again.ID != first.ID {
		t.Fatalf("EnsureServer again created %s, want the existing %s", again.ID, first.ID)
	}
	other := spec
	other.Labels = map[string]string{"webhost/deployment": "someone-else"}
	_, err = p.EnsureServer(ctx, other)
	RequireKind(t, err, processes.ErrConflict)

	st, err := p.ServerStatus(ctx, spec.Name)
	if err != nil || st.ID != first.ID || st.Status != processes.StatusRunning {
		t.Fatalf("ServerStatus = %+v, %v; want running %s", st, err, first.ID)
	}
	list, err := p.ListServers(ctx, map[string]string{"webhost/deployment": labels["webhost/deployment"]})
	if err != nil || len(list) != 1 || list[0].ID != first.ID {
		t.Fatalf("ListServers = %+v, %v; want exactly %s", list, err, first.ID)
	}
	if err := p.DeleteServer(ctx, spec.Name); err != nil {
		t.Fatalf("DeleteServer: %v", err)
	}
	if err := p.DeleteServer(ctx, spec.Name); err != nil {
		t.Fatalf("DeleteServer again: %v", err)
	}
	_, err = p.ServerStatus(ctx, spec.Name)
	RequireKind(t, err, processes.ErrNotFound)
	list, err = p.ListServers(ctx, map[string]string{"webhost/deployment": labels["webhost/deployment"]})
	if err != nil || len(list) != 0 {
		t.Fatalf("ListServers after delete = %+v, %v; want none", list, err)
	}
}

// DNS runs the acceptance suite for d. Names are slugs under the adapter's
// base domain.
func DNS(t *testing.T, d processes.DNS) {
	ctx := ctxFor(t)
	slug := Name("app")
	rec := processes.DNSRecord{Name: slug, Type: "A", Content: "203.0.113.10"}
	first, err := d.UpsertRecord(ctx, rec)
	if err != nil {
		t.Fatalf("UpsertRecord: %v", err)
	}
	if first.ID == "" || first.Content != rec.Content {
		t.Fatalf("UpsertRecord = %+v", first)
	}
	again, err := d.UpsertRecord(ctx, rec)
	if err != nil || again.ID != first.ID {
		t.Fatalf("UpsertRecord again = %+v, %v; want the same record %s", again, err, first.ID)
	}
	rec.Content = "203.0.113.20"
	moved, err := d.UpsertRecord(ctx, rec)
	if err != nil || moved.ID != first.ID || moved.Content != rec.Content {
		t.Fatalf("UpsertRecord new content = %+v, %v; want %s updated in place", moved, err, first.ID)
	}
	got, err := d.Record(ctx, slug, "A")
	if err != nil || got.Content != rec.Content {
		t.Fatalf("Record = %+v, %v", got, err)
	}
	if err := d.DeleteRecord(ctx, slug, "A"); err != nil {
		t.Fatalf("DeleteRecord: %v", err)
	}
	if err := d.DeleteRecord(ctx, slug, "A"); err != nil {
		t.Fatalf("DeleteRecord again: %v", err)
	}
	_, err = d.Record(ctx, slug, "A")
	RequireKind(t, err, processes.ErrNotFound)
}

// AppLauncher runs the acceptance suite for a: create app, re-create,
// deploy twice (machines adopted, not duplicated), status, delete twice.
func AppLauncher(t *testing.T, a processes.AppLauncher, org string) {
	ctx := ctxFor(t)
	name := Name("app")
	spec := processes.AppSpec{Name: name, Org: org, Secrets: map[string]string{"WEBHOST_API_KEY": "s3cret"}}
	app, err := a.EnsureApp(ctx, spec)
	if err != nil || app.Name != name {
		t.Fatalf("EnsureApp = %+v, %v", app, err)
	}
	if _, err := a.EnsureApp(ctx, spec); err != nil {
		t.Fatalf("EnsureApp again: %v", err)
	}
	deploy := processes.DeploySpec{App: name, Image: "registry.example/webhost:1", Regions: []string{"iad", "fra"}, MachinesPerRegion: 2, VolumeSizeGB: 1}
	first, err := a.Deploy(ctx, deploy)
	if err != nil {
		t.Fatalf("Deploy: %v", err)
	}
	if len(first.Machines) != 4 || first.Status != processes.StatusRunning {
		t.Fatalf("Deploy = %+v, want 4 running machines", first)
	}
	second, err := a.Deploy(ctx, deploy)
	if err != nil || len(second.Machines) != 4 {
		t.Fatalf("Deploy again = %+v, %v; want the same 4 machines", second, err)
	}
	st, err := a.AppStatus(ctx, name)
	if err != nil || st.Status != processes.StatusRunning || len(st.Machines) != 4 {
		t.Fatalf("AppStatus = %+v, %v", st, err)
	}
	for _, m := range st.Machines {
		if m.Health != processes.HealthPassing {
			t.Fatalf("machine %s health %s, want passing", m.Name, m.Health)
		}
	}
	if err := a.DeleteApp(ctx, name); err != nil {
		t.Fatalf("DeleteApp: %v", err)
	}
	if err := a.DeleteApp(ctx, name); err != nil {
		t.Fatalf("DeleteApp again: %v", err)
	}
	_, err = a.AppStatus(ctx, name)
	RequireKind(t, err, processes.ErrNotFound)
}

// PostgresProvisioner runs the acceptance suite for p.
func PostgresProvisioner(t *testing.T, p processes.PostgresProvisioner, org string) {
	ctx := ctxFor(t)
	spec := processes.PostgresSpec{Name: Name("pg"), Org: org, Region: "iad", Replicas: 1, VolumeSizeGB: 1,
		SuperuserPassword: "su", ReplicationPassword: "repl", OperatorPassword: "op"}
	first, err := p.EnsurePostgres(ctx, spec)
	if err != nil || first.Status != processes.StatusRunning || len(first.Machines) != 2 || first.Host == "" {
		t.Fatalf("EnsurePostgres = %+v, %v; want 2 running machines", first, err)
	}
	again, err := p.EnsurePostgres(ctx, spec)
	if err != nil || len(again.Machines) != 2 {
		t.Fatalf("EnsurePostgres again = %+v, %v", again, err)
	}
	if st, err := p.PostgresStatus(ctx, spec.Name); err != nil || st.Status != processes.StatusRunning {
		t.Fatalf("PostgresStatus = %+v, %v", st, err)
	}
	if err := p.DeletePostgres(ctx, spec.Name); err != nil {
		t.Fatalf("DeletePostgres: %v", err)
	}
	if err := p.DeletePostgres(ctx, spec.Name); err != nil {
		t.Fatalf("DeletePostgres again: %v", err)
	}
	_, err = p.PostgresStatus(ctx, spec.Name)
	RequireKind(t, err, processes.ErrNotFound)
}

// RedisProvisioner runs the acceptance suite for r.
func RedisProvisioner(t *testing.T, r processes.RedisProvisioner, orgID string) {
	ctx := ctxFor(t)
	spec := processes.RedisSpec{Name: Name("redis"), OrgID: orgID, PrimaryRegion: "iad", ReadRegions: []string{"fra"}}
	first, err := r.EnsureRedis(ctx, spec)
	if err != nil || first.ID == "" || first.URL == "" || first.Status != processes.StatusRunning {
		t.Fatalf("EnsureRedis = {ID:%s Status:%s}, %v", first.ID, first.Status, err)
	}
	again, err := r.EnsureRedis(ctx, spec)
	if err != nil || again.ID != first.ID {
		t.Fatalf("EnsureRedis again = %s, %v; want %s", again.ID, err, first.ID)
	}
	if st, err := r.RedisStatus(ctx, spec.Name); err != nil || st.ID != first.ID {
		t.Fatalf("RedisStatus = %s, %v", st.ID, err)
	}
	if err := r.DeleteRedis(ctx, spec.Name); err != nil {
		t.Fatalf("DeleteRedis: %v", err)
	}
	if err := r.DeleteRedis(ctx, spec.Name); err != nil {
		t.Fatalf("DeleteRedis again: %v", err)
	}
	_, err = r.RedisStatus(ctx, spec.Name)
	RequireKind(t, err, processes.ErrNotFound)
}

// BillingFeatures says what a Billing implementation's peer can show.
// stripe-mock is stateless: it validates requests and answers fixtures with
// fresh IDs and ignores idempotency keys, so identities and deletions are
// not observable there (the stripe package's own tests check that retries
// reuse the idempotency key).
type BillingFeatures struct {
	Stateful bool
}

// Billing runs the acceptance suite for b.
func Billing(t *testing.T, b processes.Billing, f BillingFeatures) {
	ctx := ctxFor(t)
	cmd := Name("cmd")
	spec := processes.CustomerSpec{CommandID: cmd, CustomerID: Name("cust"), Email: "ada@example.com", Name: "Ada"}
	first, err := b.EnsureCustomer(ctx, spec)
	if err != nil || first.ID == "" {
		t.Fatalf("EnsureCustomer = %+v, %v", first, err)
	}
	again, err := b.EnsureCustomer(ctx, spec)
	if err != nil || (f.Stateful && again.ID != first.ID) {
		t.Fatalf("EnsureCustomer again = %+v, %v; want %s", again, err, first.ID)
	}
	if got, err := b.Customer(ctx, first.ID); err != nil || got.ID == "" {
		t.Fatalf("Customer = %+v, %v", got, err)
	}
	sess, err := b.CreateCheckoutSession(ctx, processes.CheckoutSpec{CommandID: cmd, BillingCustomerID: first.ID, PriceID: "price_starter",
		SuccessURL: "https://webhost.test/ok", CancelURL: "https://webhost.test/cancel", ClientReference: "sub-1"})
	if err != nil || sess.ID == "" || sess.URL == "" {
		t.Fatalf("CreateCheckoutSession = %+v, %v", sess, err)
	}
	sub, err := b.Subscription(ctx, "sub_123")
	if err != nil || sub.ID == "" || sub.Status == "" {
		t.Fatalf("Subscription = %+v, %v", sub, err)
	}
	if _, err := b.UpdateSubscriptionPrice(ctx, cmd, sub.ID, "price_professional"); err != nil {
		t.Fatalf("UpdateSubscriptionPrice: %v", err)
	}
	if _, err := b.CancelSubscription(ctx, cmd, sub.ID); err != nil {
		t.Fatalf("CancelSubscription: %v", err)
	}
	if err := b.DeleteCustomer(ctx, cmd, first.ID); err != nil {
		t.Fatalf("DeleteCustomer: %v", err)
	}
	if err := b.DeleteCustomer(ctx, cmd, first.ID); err != nil {
		t.Fatalf("DeleteCustomer again: %v", err)
	}
	if f.Stateful {
		got, err := b.Customer(ctx, first.ID)
		if err == nil && !got.Deleted {
			t.Fatalf("Customer after delete = %+v, want deleted or not found", got)
		}
	}
}

// Mailer runs the acceptance suite for m. delivered returns how many times
// the message with the given ID reached its destination (the SMTP server or
// the outbox).
func Mailer(t *testing.T, m processes.Mailer, delivered func(id string) int) {
	ctx := ctxFor(t)
	msg := processes.MailMessage{ID: Name("mail"), To: "ops@example.com", Subject: "Deployment ready", Text: "Your backend is live.\n.\nBye."}
	if err := m.Send(ctx, msg); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if err := m.Send(ctx, msg); err != nil {
		t.Fatalf("Send again: %v", err)
	}
	if n := delivered(msg.ID); n != 1 {
		t.Fatalf("delivered %d times, want once", n)
	}
	bad := msg
	bad.ID, bad.Subject = Name("mail"), "Injected\r\nBcc: victim@example.com"
	RequireKind(t, m.Send(ctx, bad), processes.ErrPermanent)
}

// DataMigrator runs the acceptance suite for m: a migration runs, and
// running it again (a retried step) does not run it twice. migrations
// returns how many times the migration with an ID ran.
func DataMigrator(t *testing.T, m processes.DataMigrator, runnerApp string, migrations func(id string) int) {
	ctx := ctxFor(t)
	mig := processes.DataMigration{ID: Name("mig"), RunnerApp: runnerApp,
		SourceURL: "postgres://webhost:pw@203.0.113.5:5432/webhost", TargetURL: "postgres://postgres:pw@" + runnerApp + ".flycast:5432/webhost"}
	if err := m.MigrateData(ctx, mig); err != nil {
		t.Fatalf("MigrateData: %v", err)
	}
	if err := m.MigrateData(ctx, mig); err != nil {
		t.Fatalf("MigrateData again: %v", err)
	}
	if n := migrations(mig.ID); n != 1 {
		t.Fatalf("migration ran %d times, want once", n)
	}
	bad := mig
	bad.ID = "bad id; rm -rf /"
	RequireKind(t, m.MigrateData(ctx, bad), processes.ErrPermanent)
}
