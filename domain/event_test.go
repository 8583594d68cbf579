package domain

import (
	"encoding/json"
	"errors"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// sampleEvents holds one filled-in value of every registered event type.
func sampleEvents() []Event {
	end := t0.Add(TrialPeriod)
	spec, _ := DecideInfrastructure(PlanProfessional)
	return []Event{
		signedUp(),
		CustomerProfileUpdated{CustomerID: "c1", NameSecretID: "n2", Company: ptr("X"), UpdatedAt: t0},
		CustomerSuspended{CustomerID: "c1", Reason: "r", SuspendedAt: t0},
		CustomerReinstated{CustomerID: "c1", ReinstatedAt: t0},
		CustomerAccountClosed{CustomerID: "c1", Reason: "r", ClosedAt: t0},
		EmailReserved{CustomerID: "c1", ReservedAt: t0},
		EmailReleased{CustomerID: "c1", ReleasedAt: t0},
		SlugReserved{CustomerID: "c1", Slug: "acme", ReservedAt: t0},
		SlugReleased{CustomerID: "c1", Slug: "acme", ReleasedAt: t0},
		SubscriptionStarted{SubscriptionID: "s1", CustomerID: "c1", Plan: PlanHobby, Status: SubscriptionStatusTrialing, TrialEndsAt: &end, StartedAt: t0},
		PlanChanged{SubscriptionID: "s1", CustomerID: "c1", FromPlan: PlanHobby, ToPlan: PlanStarter, ChangedAt: t0},
		StripeCustomerLinked{SubscriptionID: "s1", CustomerID: "c1", StripeCustomerID: "cus_1", StripeSubscriptionID: "sub_1", LinkedAt: t0},
		SubscriptionActivated{SubscriptionID: "s1", CustomerID: "c1", ActivatedAt: t0},
		SubscriptionPastDue{SubscriptionID: "s1", CustomerID: "c1", PastDueAt: t0},
		SubscriptionCanceled{SubscriptionID: "s1", CustomerID: "c1", Reason: "r", CanceledAt: t0},
		APIKeyIssued{KeyID: "k1", CustomerID: "c1", Name: "n", Prefix: "whs_live_abcd", Hash: testHash, Scopes: []string{"read", "write"}, IssuedAt: t0},
		APIKeyRevoked{KeyID: "k1", CustomerID: "c1", Reason: "r", RevokedAt: t0},
		DeploymentRequested{DeploymentID: "d1", CustomerID: "c1", SubscriptionID: "s1", Slug: "acme", Spec: spec, ReplacesDeploymentID: "d0", RequestedAt: t0},
		ProvisioningStepStarted{DeploymentID: "d1", Step: StepApp, Attempt: 2, StartedAt: t0},
		ServerCreated{DeploymentID: "d1", ServerID: "1", Name: "n", ServerType: "cax11", Location: "nbg1", IPv4: "192.0.2.1", IPv6: "2001:db8::1", CredentialsSecretID: "sec", CreatedAt: t0},
		AppCreated{DeploymentID: "d1", AppName: "a", Hostname: "a.fly.dev", CreatedAt: t0},
		DatabaseCreated{DeploymentID: "d1", ClusterName: "db", Host: "db.flycast", Port: 5432, Region: "iad", ReadReplicas: 1, URLSecretID: "sec", CreatedAt: t0},
		RedisCreated{DeploymentID: "d1", RedisID: "r", Name: "n", Tier: "standard", URLSecretID: "sec", CreatedAt: t0},
		MachinesLaunched{DeploymentID: "d1", AppName: "a", Machines: []LaunchedMachine{{"m1", "iad"}, {"m2", "fra"}}, CreatedAt: t0},
		DNSRecordCreated{DeploymentID: "d1", RecordID: "r", Name: "acme", Type: "CNAME", Content: "a.fly.dev", CreatedAt: t0},
		DeploymentProvisioned{DeploymentID: "d1", APIURL: "https://a", SyncURL: "wss://a", ProvisionedAt: t0},
		DeploymentFailed{DeploymentID: "d1", Step: StepApp, Reason: "r", FailedAt: t0},
		ResourcesCleanedUp{DeploymentID: "d1", Resources: []ResourceRef{{StepApp, "a"}}, CleanedAt: t0},
		DeploymentHealthChanged{DeploymentID: "d1", From: HealthUnknown, To: HealthHealthy, Detail: "ok", CheckedAt: t0},
		DeploymentScaled{DeploymentID: "d1", RegionsAdded: []string{"sin"}, RegionsRemoved: []string{"fra"}, Regions: []string{"iad", "sin"}, ReadReplicasFrom: 1, ReadReplicasTo: 1, ScaledAt: t0},
		DeploymentMigrationStarted{DeploymentID: "d1", TargetDeploymentID: "d2", StartedAt: t0},
		DeploymentMigrationCompleted{DeploymentID: "d1", TargetDeploymentID: "d2", CompletedAt: t0},
		DeploymentMigrationFailed{DeploymentID: "d1", TargetDeploymentID: "d2", Reason: "r", FailedAt: t0},
		DeploymentDecommissioned{DeploymentID: "d1", Reason: "r", DecommissionedAt: t0},
	}
}

func TestEventRegistry(t *testing.T) {
	t.Parallel()
	samples := sampleEvents()
	if len(samples) != len(registry) {
		t.Fatalf("%d samples for %d registered types", len(samples), len(registry))
	}
	for name, c := range registry {
		e, err := c.decode([]byte(`{}`))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if e.EventType() != name {
			t.Errorf("registry key %q decodes to %T named %q", name, e, e.EventType())
		}
	}
	meta := Metadata{Tenant: "c1", CorrelationID: "corr", CausationID: "cause", Actor: "customer:c1", CommandID: "cmd"}
	for _, e := range samples {
		typ, data, rawMeta, err := EncodeEvent(e, meta)
		if err != nil {
			t.Fatalf("%T: %v", e, err)
		}
		back, gotMeta, err := DecodeEvent(typ, data, rawMeta)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if !reflect.DeepEqual(back, e) {
			t.Errorf("%s round trip:\n got %#v\nwant %#v", typ, back, e)
		}
		want := meta
		want.SchemaVersion, _ = SchemaVersion(typ)
		if gotMeta != want {
			t.Errorf("%s metadata = %+v, want %+v", typ, gotMeta, want)
		}
		var m map[string]any
		if err := json.Unmarshal(rawMeta, &m); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"tenant", "correlation_id", "causation_id", "actor", "command_id", "schema_version"} {
			if _, ok := m[k]; !ok {
				t.Errorf("%s metadata lacks %q: %s", typ, k, rawMeta)
			}
		}
	}
	if got := EventTypes(); len(got) != len(registry) || got[0] != TypeAPIKeyIssued {
		t.Fatalf("EventTypes = %v", got)
	}
}

type unregistered struct{}

func (unregistered) EventType() string { return "Unregistered" }

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, typ, data, meta string
		err                   error
	}{
		{"unknown type", "Nope", `{}`, `{}`, ErrUnknownEventType},
		{"not json", TypeCustomerSignedUp, `{`, `{}`, ErrEventData},
		{"not an object", TypeCustomerSignedUp, `[1]`, `{}`, ErrEventData},
		{"wrong field type", TypeCustomerSignedUp, `{"slug": 5}`, `{}`, ErrEventData},
		{"bad metadata", TypeCustomerSignedUp, `{}`, `{"schema_version": "x"}`, ErrEventData},
		{"future version", TypeCustomerSignedUp, `{}`, `{"schema_version": 2}`, ErrUnsupportedSchemaVersion},
		{"negative version", TypeCustomerSignedUp, `{}`, `{"schema_version": -1}`, ErrUnsupportedSchemaVersion},
		{"bad v1 scope", TypeAPIKeyIssued, `{"scope": "root"}`, `{"schema_version": 1}`, ErrEventData},
	} {
		if _, _, err := DecodeEvent(tc.typ, []byte(tc.data), []byte(tc.meta)); !errors.Is(err, tc.err) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.err)
		}
	}
	if _, _, _, err := EncodeEvent(unregistered{}, Metadata{}); !errors.Is(err, ErrUnknownEventType) {
		t.Errorf("encode unregistered: %v", err)
	}
	if _, _, _, err := EncodeEvent(nil, Metadata{}); !errors.Is(err, ErrUnknownEventType) {
		t.Errorf("encode nil: %v", err)
	}
	// Missing metadata means version 1.
	e, m, err := DecodeEvent(TypeCustomerReinstated, []byte(`{"customer_id":"c1"}`), nil)
	if err != nil || m.SchemaVersion != 1 || e.(CustomerReinstated).CustomerID != "c1" {
		t.Fatalf("no metadata: %v %+v %v", e, m, err)
	}
}

func TestUpcastAPIKeyIssuedV1(t *testing.T) {
	t.Parallel()
	for scope, want := range map[string][]string{
		"read":  {"read"},
		"write": {"read", "write"},
		"admin": {"read", "write", "admin"},
	} {
		v1 := `{"key_id":"k1","customer_id":"c1","name":"ci","prefix":"whs_live_abcd","hash":"` + testHash + `","scope":"` + scope + `","issued_at":"2026-11-27T12:00:00Z"}`
		e, meta, err := DecodeEvent(TypeAPIKeyIssued, []byte(v1), []byte(`{"tenant":"c1","schema_version":1}`))
		if err != nil {
			t.Fatalf("%s: %v", scope, err)
		}
		got := e.(APIKeyIssued)
		if !reflect.DeepEqual(got.Scopes, want) || got.KeyID != "k1" || got.Hash != testHash || !got.IssuedAt.Equal(t0) || meta.SchemaVersion != 1 {
			t.Errorf("%s: upcast to %+v (meta %+v)", scope, got, meta)
		}
		// The upcast state equals that of the same key issued at v2.
		k, err := FoldAPIKey(e)
		if err != nil || !reflect.DeepEqual(k.Scopes(), want) {
			t.Errorf("%s: fold: %v %v", scope, k.Scopes(), err)
		}
	}
}

func TestUpcasterRegistry(t *testing.T) {
	t.Parallel()
	double := func(b []byte) ([]byte, error) { return append(b[:len(b)-1:len(b)-1], []byte(`,"x":1}`)...), nil }
	r, err := NewUpcasterRegistry(Upcaster{EventType: "T", From: 1, Upcast: double}, Upcaster{EventType: "T", From: 2, Upcast: double})
	if err != nil {
		t.Fatal(err)
	}
	out, err := r.Upcast("T", 1, 3, []byte(`{"a":0}`))
	if err != nil || string(out) != `{"a":0,"x":1,"x":1}` {
		t.Fatalf("chain: %s %v", out, err)
	}
	if _, err := r.Upcast("T", 1, 4, []byte(`{}`)); !errors.Is(err, ErrUnsupportedSchemaVersion) {
		t.Fatalf("missing step: %v", err)
	}
	if _, err := NewUpcasterRegistry(Upcaster{EventType: "T", From: 1, Upcast: double}, Upcaster{EventType: "T", From: 1, Upcast: double}); err == nil {
		t.Fatal("duplicate upcaster accepted")
	}
	if _, err := NewUpcasterRegistry(Upcaster{EventType: "T", From: 0, Upcast: double}); err == nil {
		t.Fatal("version 0 accepted")
	}
	if DefaultUpcasters() == nil {
		t.Fatal("no default registry")
	}
	// A registry without the APIKeyIssued upcaster cannot read v1.
	empty, _ := NewUpcasterRegistry()
	if _, _, err := empty.Decode(TypeAPIKeyIssued, []byte(`{"scope":"read"}`), []byte(`{"schema_version":1}`)); !errors.Is(err, ErrUnsupportedSchemaVersion) {
		t.Fatalf("decode without upcaster: %v", err)
	}
}

// TestStandardLibraryOnly fails if package domain imports anything outside
// the standard library: it parses every non-test file and rejects import
// paths whose first element contains a dot (module paths do; standard
// library paths never do).
func TestStandardLibraryOnly(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		file, err := parser.ParseFile(token.NewFileSet(), f, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range file.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			first, _, _ := strings.Cut(path, "/")
			if strings.Contains(first, ".") || path == "C" {
				t.Errorf("%s imports %q: domain may import only the standard library", f, path)
			}
		}
		checked++
	}
	if checked < 5 {
		t.Fatalf("only %d files checked", checked)
	}
}

// TestStandardLibraryOnlyDeps checks the transitive closure with go list:
// every dependency of domain but domain itself must be standard.
func TestStandardLibraryOnlyDeps(t *testing.T) {
	t.Parallel()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not in PATH; TestStandardLibraryOnly still checks the direct imports")
	}
	out, err := exec.Command(goBin, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if pkg != "github.com/webhost-systems/webhost/domain" {
			t.Errorf("domain depends on non-standard package %s", pkg)
		}
	}
}
