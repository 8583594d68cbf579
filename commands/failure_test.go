package commands

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/webhost-systems/webhost/domain"
	"github.com/webhost-systems/webhost/eventstore"
	"github.com/webhost-systems/webhost/eventstore/memory"
	"github.com/webhost-systems/webhost/secrets"
)

var errInjected = errors.New("injected failure")

// flakySecrets fails Put or Shred while the matching flag is set.
type flakySecrets struct {
	SecretStore
	failPut, failShred atomic.Bool
}

func (f *flakySecrets) Put(ctx context.Context, s secrets.Secret) error {
	if f.failPut.Load() {
		return errInjected
	}
	return f.SecretStore.Put(ctx, s)
}

func (f *flakySecrets) Shred(ctx context.Context, owner string) error {
	if f.failShred.Load() {
		return errInjected
	}
	return f.SecretStore.Shred(ctx, owner)
}

func flakyFixture(t *testing.T) (*fixture, *flakySecrets) {
	t.Helper()
	mem, err := secrets.NewMemory(secrets.Config{MasterKey: testMasterKey})
	if err != nil {
		t.Fatal(err)
	}
	flaky := &flakySecrets{SecretStore: mem}
	return newFixtureWith(t, memory.New(), flaky), flaky
}

// TestSignUpCompensatesStoreFailure: when the secrets store fails after both
// reservations were made, both are released, nothing else is stored, and
// resubmitting the command later succeeds.
func TestSignUpCompensatesStoreFailure(t *testing.T) {
	t.Parallel()
	f, flaky := flakyFixture(t)
	cmd := SignUp{Meta: f.meta(), Name: "Ada", Email: "ada@example.com", Slug: "acme"}
	flaky.failPut.Store(true)
	res, err := f.h.SignUp.Handle(f.ctx, cmd)
	if !errors.Is(err, errInjected) {
		t.Fatalf("sign up with failing store: %v", err)
	}
	var types []string
	for _, rec := range f.since(eventstore.Start) {
		types = append(types, rec.Type)
	}
	want := []string{"EmailReserved", "SlugReserved", "EmailReleased", "SlugReleased"}
	if len(types) != len(want) {
		t.Fatalf("events %v, want %v", types, want)
	}
	for i := range want {
		if types[i] != want[i] {
			t.Fatalf("events %v, want %v", types, want)
		}
	}
	if _, err := f.store.ReadStream(f.ctx, CustomerStream(res.CustomerID), eventstore.ReadStreamOptions{}); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Fatalf("customer stream after failed sign-up: %v", err)
	}
	flaky.failPut.Store(false)
	again, err := f.h.SignUp.Handle(f.ctx, cmd)
	if err != nil || again.APIKey == "" || again.CustomerID != res.CustomerID {
		t.Fatalf("resubmission after the failure: %+v %v", again, err)
	}
}

// TestCloseAccountResumesShredding: if shredding fails after the account was
// closed, the error is reported and resubmitting the command finishes it.
func TestCloseAccountResumesShredding(t *testing.T) {
	t.Parallel()
	f, flaky := flakyFixture(t)
	ada := f.signUp("ada@example.com", "acme")
	c, err := loadState(f.ctx, f.h.Runner, CustomerStream(ada.CustomerID), customerAgg)
	if err != nil {
		t.Fatal(err)
	}
	m := f.meta()
	flaky.failShred.Store(true)
	if _, err := f.h.CloseAccount.Handle(f.ctx, CloseAccount{Meta: m, CustomerID: ada.CustomerID}); !errors.Is(err, errInjected) {
		t.Fatalf("close with failing shred: %v", err)
	}
	if v, err := secrets.GetString(f.ctx, f.secrets, c.EmailSecretID()); err != nil || v != "ada@example.com" {
		t.Fatalf("before the retry the data is still there: %q %v", v, err)
	}
	// Another command on the account is refused already.
	if _, err := f.h.IssueAPIKey.Handle(f.ctx, IssueAPIKey{Meta: f.meta(), CustomerID: ada.CustomerID, Name: "x", Scopes: []string{"read"}}); !errors.Is(err, domain.ErrAccountClosed) {
		t.Fatalf("issue key on closing account: %v", err)
	}
	flaky.failShred.Store(false)
	res, err := f.h.CloseAccount.Handle(f.ctx, CloseAccount{Meta: m, CustomerID: ada.CustomerID})
	if err != nil || !res.Duplicate {
		t.Fatalf("resubmission: %+v %v", res, err)
	}
	for _, id := range []string{c.EmailSecretID(), c.NameSecretID()} {
		if _, err := f.secrets.Get(f.ctx, id); !errors.Is(err, secrets.ErrErased) {
			t.Fatalf("secret %s after resubmission: %v", id, err)
		}
	}
}
