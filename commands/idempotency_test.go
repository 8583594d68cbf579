package commands

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/webhost-systems/webhost/domain"
	"github.com/webhost-systems/webhost/eventstore"
	"github.com/webhost-systems/webhost/secrets"
	"github.com/webhost-systems/webhost/sync/syncauth"
)

// TestResubmittedCommandIsNoOp sends each command twice with the same
// command ID: the second time nothing is appended, no error is returned
// (even where a second decision would be rejected, like revoking a revoked
// key), and the result repeats the first position.
func TestResubmittedCommandIsNoOp(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	w := &world{}
	customer(f, w)
	keyIssued(f, w)
	w.sub = f.subscription(w.customer, domain.PlanStarter)
	w.dep = f.deployment(w.customer, domain.PlanHobby)

	for _, tc := range []struct {
		name string
		run  func(m Meta) (Result, error)
	}{
		{"revoke key", func(m Meta) (Result, error) {
			return f.h.RevokeAPIKey.Handle(f.ctx, RevokeAPIKey{Meta: m, CustomerID: w.customer, KeyID: w.key})
		}},
		{"change plan", func(m Meta) (Result, error) {
			return f.h.ChangePlan.Handle(f.ctx, ChangePlan{Meta: m, CustomerID: w.customer, SubscriptionID: w.sub, Plan: domain.PlanBusiness})
		}},
		{"start step", func(m Meta) (Result, error) {
			return f.h.StartProvisioningStep.Handle(f.ctx, StartProvisioningStep{Meta: m, CustomerID: w.customer, DeploymentID: w.dep, Step: domain.StepServer})
		}},
		{"update profile", func(m Meta) (Result, error) {
			return f.h.UpdateProfile.Handle(f.ctx, UpdateProfile{Meta: m, CustomerID: w.customer, Email: ptr("ada@new.example"), Name: ptr("Ada K")})
		}},
		{"close account", func(m Meta) (Result, error) {
			return f.h.CloseAccount.Handle(f.ctx, CloseAccount{Meta: m, CustomerID: w.customer})
		}},
	} {
		m := f.meta()
		first, err := tc.run(m)
		if err != nil || first.Duplicate || first.Appended == 0 {
			t.Fatalf("%s: first run %+v, %v", tc.name, first, err)
		}
		// Event IDs derive from the command ID.
		recs, err := f.store.ReadStream(f.ctx, first.Stream, eventstore.ReadStreamOptions{From: first.Version + 1 - uint64(first.Appended)})
		if err != nil {
			t.Fatal(err)
		}
		for i, rec := range recs[:first.Appended] {
			if rec.ID != EventID(m.CommandID, first.Stream, i) {
				t.Fatalf("%s: event %d ID %s is not derived from the command", tc.name, i, rec.ID)
			}
		}
		head := f.head()
		second, err := tc.run(m)
		if err != nil {
			t.Fatalf("%s: resubmission: %v", tc.name, err)
		}
		if !second.Duplicate || second.Position != first.Position || second.Version != first.Version || second.Appended != 0 {
			t.Fatalf("%s: resubmission result %+v, first %+v", tc.name, second, first)
		}
		if n := len(f.since(head)); n != 0 {
			t.Fatalf("%s: resubmission appended %d events", tc.name, n)
		}
	}
}

func TestSignUpResubmission(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.meta()
	cmd := SignUp{Meta: m, Name: "Ada", Email: "ada@example.com", Slug: "acme"}
	first, err := f.h.SignUp.Handle(f.ctx, cmd)
	if err != nil || first.APIKey == "" || first.Duplicate {
		t.Fatalf("first: %+v %v", first, err)
	}
	head := f.head()
	second, err := f.h.SignUp.Handle(f.ctx, cmd)
	if err != nil {
		t.Fatal(err)
	}
	if !second.Duplicate || second.APIKey != "" || second.CustomerID != first.CustomerID || second.APIKeyID != first.APIKeyID || second.Position != first.Position {
		t.Fatalf("resubmission %+v, first %+v", second, first)
	}
	if n := len(f.since(head)); n != 0 {
		t.Fatalf("resubmission appended %d events", n)
	}
	if first.Position != head {
		t.Fatalf("position %s is not the last event %s", first.Position, head)
	}
}

func TestSignUpIssuesUsableKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	res := f.signUp("ada@example.com", "acme")
	if !strings.HasPrefix(res.APIKey, "whs_live_") || len(res.APIKey) != len("whs_live_")+43 {
		t.Fatalf("key %q", res.APIKey)
	}
	k, err := loadState(f.ctx, f.h.Runner, APIKeyStream(res.APIKeyID), apiKeyAgg)
	if err != nil {
		t.Fatal(err)
	}
	if k.Hash() != syncauth.HashKey(res.APIKey) || !strings.HasPrefix(res.APIKey, k.Prefix()) || len(k.Prefix()) != len("whs_live_")+8 ||
		strings.Join(k.Scopes(), ",") != "read,write,admin" || k.CustomerID() != res.CustomerID.String() {
		t.Fatalf("stored key %+v", k)
	}
	// The sync server's authenticator accepts the key by its stored hash.
	kf, err := syncauth.NewKeyFile([]syncauth.FileKey{{KeyID: k.ID(), CustomerID: k.CustomerID(), KeySHA256: k.Hash(), Scopes: k.Scopes()}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := kf.Authenticate(f.ctx, res.APIKey)
	if err != nil || p.CustomerID != res.CustomerID.String() || !p.CanWrite() {
		t.Fatalf("authenticate: %+v %v", p, err)
	}
	// Another key is different.
	other, err := f.h.IssueAPIKey.Handle(f.ctx, IssueAPIKey{Meta: f.meta(), CustomerID: res.CustomerID, Name: "ci", Scopes: []string{"read"}})
	if err != nil || other.APIKey == "" || other.APIKey == res.APIKey {
		t.Fatalf("second key %+v %v", other, err)
	}
}

func TestRunnerConfig(t *testing.T) {
	t.Parallel()
	if _, err := New(Config{}); err == nil {
		t.Fatal("empty config accepted")
	}
	f := newFixture(t)
	if _, err := New(Config{Store: f.store}); err == nil {
		t.Fatal("config without secrets accepted")
	}
	if _, err := New(Config{Store: f.store, Secrets: f.secrets, MaxAttempts: -1}); err == nil {
		t.Fatal("negative attempts accepted")
	}
	if _, err := NewSignUpHandler(nil); err == nil {
		t.Fatal("nil runner accepted")
	}
	_, err := f.h.ChangePlan.Handle(f.ctx, ChangePlan{Meta: Meta{CommandID: uuid.New()}, CustomerID: uuid.New(), SubscriptionID: uuid.New(), Plan: domain.PlanHobby})
	if !errors.Is(err, ErrInvalidMeta) {
		t.Fatalf("missing actor: %v", err)
	}
	_, err = f.h.ChangePlan.Handle(f.ctx, ChangePlan{Meta: f.meta(), SubscriptionID: uuid.New(), Plan: domain.PlanHobby})
	if !errors.Is(err, ErrMissingID) {
		t.Fatalf("missing customer: %v", err)
	}
}

// TestUpdateProfileResumesRelease simulates a crash after the profile event
// of an e-mail change was appended but before the old address was
// released: resubmitting the command releases it.
func TestUpdateProfileResumesRelease(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ada := f.signUp("ada@example.com", "acme")
	owner := ada.CustomerID.String()
	m := f.meta()
	r := f.h.Runner
	// The steps of UpdateProfile up to the crash.
	if _, err := reserve(f.ctx, r, m, domain.ReservationEmail, EmailStream("ada@new.example"), owner, "", f.now); err != nil {
		t.Fatal(err)
	}
	emailID := DeriveID(m.CommandID, "secret", secrets.KindEmail).String()
	if err := f.secrets.Put(f.ctx, secrets.Secret{ID: emailID, Owner: owner, Kind: secrets.KindEmail, Plaintext: []byte("ada@new.example")}); err != nil {
		t.Fatal(err)
	}
	if _, err := execute(f.ctx, r, CustomerStream(ada.CustomerID), customerAgg, m, m.CommandID, owner, func(c domain.Customer) ([]domain.Event, error) {
		return domain.DecideCustomer(c, domain.UpdateCustomerProfile{EmailSecretID: emailID, At: f.now})
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.h.SignUp.Handle(f.ctx, SignUp{Meta: f.meta(), Name: "Eve", Email: "ada@example.com", Slug: "eve"}); !errors.Is(err, domain.ErrEmailAlreadyRegistered) {
		t.Fatalf("old address before resubmission: %v", err)
	}
	res, err := f.h.UpdateProfile.Handle(f.ctx, UpdateProfile{Meta: m, CustomerID: ada.CustomerID, Email: ptr("ada@new.example")})
	if err != nil || !res.Duplicate {
		t.Fatalf("resubmission: %+v %v", res, err)
	}
	if _, err := f.h.SignUp.Handle(f.ctx, SignUp{Meta: f.meta(), Name: "Eve", Email: "ada@example.com", Slug: "eve"}); err != nil {
		t.Fatalf("old address after resubmission: %v", err)
	}
}

// TestStateCacheSeesOtherWriters: a runner whose cache is behind (another
// process appended to the stream) still decides on the latest state.
func TestStateCacheSeesOtherWriters(t *testing.T) {
	t.Parallel()
	a := newFixture(t)
	b := newFixtureWith(t, a.store, a.secrets) // a second process on the same stores
	ada := a.signUp("ada@example.com", "acme")
	sub := a.subscription(ada.CustomerID, domain.PlanStarter)
	if _, err := a.h.ChangePlan.Handle(a.ctx, ChangePlan{Meta: a.meta(), CustomerID: ada.CustomerID, SubscriptionID: sub, Plan: domain.PlanBusiness}); err != nil {
		t.Fatal(err)
	}
	// b changes the plan back; a's cache still says business.
	bm := Meta{CommandID: uuid.New(), Actor: "b"}
	if _, err := b.h.ChangePlan.Handle(b.ctx, ChangePlan{Meta: bm, CustomerID: ada.CustomerID, SubscriptionID: sub, Plan: domain.PlanStarter}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.h.ChangePlan.Handle(a.ctx, ChangePlan{Meta: a.meta(), CustomerID: ada.CustomerID, SubscriptionID: sub, Plan: domain.PlanStarter}); !errors.Is(err, domain.ErrSamePlan) {
		t.Fatalf("decided on a stale state: %v", err)
	}
	// a recognises b's command as a resubmission.
	res, err := a.h.ChangePlan.Handle(a.ctx, ChangePlan{Meta: bm, CustomerID: ada.CustomerID, SubscriptionID: sub, Plan: domain.PlanStarter})
	if err != nil || !res.Duplicate {
		t.Fatalf("resubmission through another runner: %+v %v", res, err)
	}
}
