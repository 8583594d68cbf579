package commands

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/webhost-systems/webhost/domain"
	"github.com/webhost-systems/webhost/eventstore"
	"github.com/webhost-systems/webhost/secrets"
)

var emailPattern = regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`)

// scanForPlaintext fails the test if any stored event (stream name, data or
// metadata) contains one of the plaintexts or anything shaped like an
// e-mail address.
func scanForPlaintext(t *testing.T, store eventstore.Store, through eventstore.Position, plaintexts []string) int {
	t.Helper()
	ctx := context.Background()
	waitVisible(t, store, through)
	scanned := 0
	after := eventstore.Start
	for {
		page, err := store.ReadAll(ctx, eventstore.ReadAllOptions{After: after, Limit: 500})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			return scanned
		}
		for _, rec := range page {
			scanned++
			hay := strings.ToLower(rec.Stream + "\x00" + string(rec.Data) + "\x00" + string(rec.Metadata))
			for _, p := range plaintexts {
				if p != "" && strings.Contains(hay, strings.ToLower(p)) {
					t.Errorf("event %s (%s in %s) contains plaintext %q", rec.ID, rec.Type, rec.Stream, p)
				}
			}
			if m := emailPattern.FindString(hay); m != "" {
				t.Errorf("event %s (%s) contains an e-mail address %q", rec.ID, rec.Type, m)
			}
		}
		after = page[len(page)-1].Position
	}
}

// personalScenario signs customers up, changes profiles, issues keys and
// closes one account; it returns every plaintext that must stay out of the
// events.
func personalScenario(t *testing.T, f *fixture) ([]string, eventstore.Position) {
	t.Helper()
	var plain []string
	var last eventstore.Position
	for i, p := range []struct{ name, email, slug string }{
		{"Grace Hopper", "Grace.Hopper@Navy.example", "cobol"},
		{"Alan Turing", "alan@bletchley.example", "enigma"},
		{"Katherine Johnson", "kj@nasa.example", "orbit"},
	} {
		res, err := f.h.SignUp.Handle(f.ctx, SignUp{Meta: f.meta(), Name: p.name, Email: p.email, Slug: p.slug, Company: "Co"})
		if err != nil {
			t.Fatal(err)
		}
		plain = append(plain, p.name, p.email, strings.ToLower(p.email), res.APIKey, strings.TrimPrefix(res.APIKey, "whs_live_"))
		last = maxPosition(last, res.Position)
		key, err := f.h.IssueAPIKey.Handle(f.ctx, IssueAPIKey{Meta: f.meta(), CustomerID: res.CustomerID, Name: "deploy", Scopes: []string{"write"}})
		if err != nil {
			t.Fatal(err)
		}
		plain = append(plain, key.APIKey, strings.TrimPrefix(key.APIKey, "whs_live_"))
		last = maxPosition(last, key.Position)
		newName, newEmail := p.name+" Jr", "new-"+p.slug+"@mail.example"
		upd, err := f.h.UpdateProfile.Handle(f.ctx, UpdateProfile{Meta: f.meta(), CustomerID: res.CustomerID, Name: &newName, Email: &newEmail})
		if err != nil {
			t.Fatal(err)
		}
		last = maxPosition(last, upd.Position)
		plain = append(plain, newName, newEmail)
		if i == 0 {
			closed, err := f.h.CloseAccount.Handle(f.ctx, CloseAccount{Meta: f.meta(), CustomerID: res.CustomerID})
			if err != nil {
				t.Fatal(err)
			}
			last = maxPosition(last, closed.Position)
		}
	}
	// The e-mail released last is not in any result; the head covers it.
	head, err := f.store.Head(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	return plain, maxPosition(last, head)
}

// waitVisible waits until the log's readers see position p (PostgreSQL
// shows a commit once no older transaction is still open, cluster-wide).
func waitVisible(t *testing.T, store eventstore.Store, p eventstore.Position) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		head, err := store.Head(ctx)
		if err != nil {
			t.Fatalf("waiting for position %s: %v", p, err)
		}
		if !head.Before(p) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("position %s not visible (head %s)", p, head)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func TestNoPlaintextInEvents(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	plain, last := personalScenario(t, f)
	if n := scanForPlaintext(t, f.store, last, plain); n < 20 {
		t.Fatalf("only %d events scanned", n)
	}
}

func TestCloseAccountShredsPersonalData(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ada := f.signUp("ada@example.com", "acme")
	bob := f.signUp("bob@example.com", "bobco")
	w := &world{customer: ada.CustomerID}
	w.sub = f.subscription(ada.CustomerID, domain.PlanStarter)
	if _, err := f.h.UpdateProfile.Handle(f.ctx, UpdateProfile{Meta: f.meta(), CustomerID: ada.CustomerID, Name: ptr("Ada King")}); err != nil {
		t.Fatal(err)
	}
	closed(f, w)

	// Replay the whole log afterwards: every event still decodes and folds.
	customers := map[string]domain.Customer{}
	for _, rec := range f.since(eventstore.Start) {
		e, _, err := domain.DecodeEvent(rec.Type, rec.Data, rec.Metadata)
		if err != nil {
			t.Fatalf("replay %s: %v", rec.Type, err)
		}
		if strings.HasPrefix(rec.Stream, "customer-") {
			customers[rec.Stream] = domain.EvolveCustomer(customers[rec.Stream], e)
		}
	}
	show := func(id string) string {
		v, err := secrets.GetString(f.ctx, f.secrets, id)
		if errors.Is(err, secrets.ErrErased) {
			return "[erased]"
		}
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	adaState := customers[CustomerStream(ada.CustomerID)]
	if adaState.Status() != domain.CustomerStatusClosed || adaState.Slug() != "acme" || adaState.Company() != "Analytical" {
		t.Fatalf("replayed state %+v", adaState)
	}
	if show(adaState.NameSecretID()) != "[erased]" || show(adaState.EmailSecretID()) != "[erased]" {
		t.Fatal("personal data survived the account's closing")
	}
	// Every secret ID the customer ever had is erased, not just the latest.
	firstName := DeriveID(ada.CustomerID, "x") // not a secret: NotFound, not erased
	if _, err := f.secrets.Get(f.ctx, firstName.String()); !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("unknown secret: %v", err)
	}
	bobState := customers[CustomerStream(bob.CustomerID)]
	if show(bobState.NameSecretID()) != "Ada Lovelace" || show(bobState.EmailSecretID()) != "bob@example.com" {
		t.Fatal("another customer's data was erased")
	}
	// The address is free again; the slug stays taken.
	again, err := f.h.SignUp.Handle(f.ctx, SignUp{Meta: f.meta(), Name: "Ada", Email: "ada@example.com", Slug: "acme2"})
	if err != nil {
		t.Fatalf("sign up with the released address: %v", err)
	}
	if again.CustomerID == ada.CustomerID {
		t.Fatal("same customer")
	}
	if _, err := f.h.SignUp.Handle(f.ctx, SignUp{Meta: f.meta(), Name: "X", Email: "x@example.com", Slug: "acme"}); !errors.Is(err, domain.ErrSlugTaken) {
		t.Fatalf("slug of closed account: %v", err)
	}
	// Nothing new can be stored for the closed customer.
	if err := f.secrets.Put(f.ctx, secrets.Secret{ID: "late", Owner: ada.CustomerID.String(), Kind: secrets.KindName, Plaintext: []byte("x")}); !errors.Is(err, secrets.ErrErased) {
		t.Fatalf("put after close: %v", err)
	}
}
