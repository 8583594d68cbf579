package domain

import (
	"errors"
	"testing"
)

func signedUp() CustomerSignedUp {
	return CustomerSignedUp{CustomerID: "c1", Slug: "acme", Company: "Acme", NameSecretID: "n1", EmailSecretID: "e1", SignedUpAt: t0}
}

func ptr[T any](v T) *T { return &v }

func TestCustomerDecide(t *testing.T) {
	t.Parallel()
	signUp := SignUpCustomer{CustomerID: "c1", Slug: "acme", Company: " Acme ", NameSecretID: "n1", EmailSecretID: "e1", At: t0}
	closed := CustomerAccountClosed{CustomerID: "c1", ClosedAt: t0}
	suspended := CustomerSuspended{CustomerID: "c1", Reason: "unpaid", SuspendedAt: t0}
	runGWT(t, FoldCustomer, DecideCustomer, EvolveCustomer, []gwt[CustomerCommand]{
		{name: "sign up", when: signUp, then: []Event{signedUp()}},
		{name: "sign up twice", given: []Event{signedUp()}, when: signUp, err: ErrCustomerExists},
		{name: "sign up bad slug", when: SignUpCustomer{CustomerID: "c1", Slug: "A!", NameSecretID: "n", EmailSecretID: "e"}, err: ErrValidation},
		{name: "sign up reserved slug", when: SignUpCustomer{CustomerID: "c1", Slug: "admin", NameSecretID: "n", EmailSecretID: "e"}, err: ErrValidation},
		{name: "sign up without secrets", when: SignUpCustomer{CustomerID: "c1", Slug: "acme"}, err: ErrValidation},
		{name: "sign up without id", when: SignUpCustomer{Slug: "acme", NameSecretID: "n", EmailSecretID: "e"}, err: ErrValidation},
		{name: "update profile", given: []Event{signedUp()}, when: UpdateCustomerProfile{NameSecretID: "n2", Company: ptr("Acme Inc"), At: t0},
			then: []Event{CustomerProfileUpdated{CustomerID: "c1", NameSecretID: "n2", Company: ptr("Acme Inc"), UpdatedAt: t0}}},
		{name: "update e-mail", given: []Event{signedUp()}, when: UpdateCustomerProfile{EmailSecretID: "e2", At: t0},
			then: []Event{CustomerProfileUpdated{CustomerID: "c1", EmailSecretID: "e2", UpdatedAt: t0}}},
		{name: "update nothing", given: []Event{signedUp()}, when: UpdateCustomerProfile{NameSecretID: "n1", Company: ptr("Acme")}, err: ErrNothingToChange},
		{name: "update unknown customer", when: UpdateCustomerProfile{NameSecretID: "n2"}, err: ErrCustomerNotFound},
		{name: "update closed account", given: []Event{signedUp(), closed}, when: UpdateCustomerProfile{NameSecretID: "n2"}, err: ErrAccountClosed},
		{name: "update while suspended", given: []Event{signedUp(), suspended}, when: UpdateCustomerProfile{Company: ptr("X"), At: t0},
			then: []Event{CustomerProfileUpdated{CustomerID: "c1", Company: ptr("X"), UpdatedAt: t0}}},
		{name: "update company too long", given: []Event{signedUp()}, when: UpdateCustomerProfile{Company: ptr(string(make([]rune, 201)))}, err: ErrValidation},
		{name: "suspend", given: []Event{signedUp()}, when: SuspendCustomer{Reason: "unpaid", At: t0}, then: []Event{suspended}},
		{name: "suspend without reason", given: []Event{signedUp()}, when: SuspendCustomer{}, err: ErrValidation},
		{name: "suspend twice", given: []Event{signedUp(), suspended}, when: SuspendCustomer{Reason: "x"}, err: ErrCustomerSuspended},
		{name: "suspend closed", given: []Event{signedUp(), closed}, when: SuspendCustomer{Reason: "x"}, err: ErrAccountClosed},
		{name: "reinstate", given: []Event{signedUp(), suspended}, when: ReinstateCustomer{At: t0}, then: []Event{CustomerReinstated{CustomerID: "c1", ReinstatedAt: t0}}},
		{name: "reinstate active", given: []Event{signedUp()}, when: ReinstateCustomer{}, err: ErrCustomerNotSuspended},
		{name: "reinstate closed", given: []Event{signedUp(), closed}, when: ReinstateCustomer{}, err: ErrAccountClosed},
		{name: "close", given: []Event{signedUp()}, when: CloseCustomerAccount{Reason: "bye", At: t0}, then: []Event{CustomerAccountClosed{CustomerID: "c1", Reason: "bye", ClosedAt: t0}}},
		{name: "close suspended", given: []Event{signedUp(), suspended}, when: CloseCustomerAccount{At: t0}, then: []Event{closed}},
		{name: "close twice", given: []Event{signedUp(), closed}, when: CloseCustomerAccount{}, err: ErrAccountClosed},
		{name: "close unknown", when: CloseCustomerAccount{}, err: ErrCustomerNotFound},
	})
}

func TestCustomerCanAct(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		given []Event
		err   error
	}{
		{"none", nil, ErrCustomerNotFound},
		{"active", []Event{signedUp()}, nil},
		{"suspended", []Event{signedUp(), CustomerSuspended{CustomerID: "c1", Reason: "x"}}, ErrCustomerSuspended},
		{"closed", []Event{signedUp(), CustomerAccountClosed{CustomerID: "c1"}}, ErrAccountClosed},
	} {
		c, err := FoldCustomer(tc.given...)
		if err != nil {
			t.Fatal(err)
		}
		err = c.CanAct("X")
		if !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
			t.Errorf("%s: CanAct = %v, want %v", tc.name, err, tc.err)
		}
		if tc.err != nil && !errors.Is(err, ErrInvalidTransition) {
			t.Errorf("%s: %v is not an ErrInvalidTransition", tc.name, err)
		}
	}
}

func TestCustomerState(t *testing.T) {
	t.Parallel()
	c, err := FoldCustomer(signedUp(), CustomerProfileUpdated{CustomerID: "c1", EmailSecretID: "e2", Company: ptr("New")})
	if err != nil {
		t.Fatal(err)
	}
	if c.ID() != "c1" || c.Slug() != "acme" || c.Company() != "New" || c.NameSecretID() != "n1" || c.EmailSecretID() != "e2" ||
		c.Status() != CustomerStatusActive || !c.SignedUpAt().Equal(t0) {
		t.Fatalf("unexpected state %+v", c)
	}
	if _, err := FoldCustomer(signedUp(), PlanChanged{}); !errors.Is(err, ErrForeignEvent) {
		t.Fatalf("foreign event: %v", err)
	}
}

func TestNormalizeEmail(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		" Alice@Example.COM ":   "alice@example.com",
		"a.b+c@sub.example.org": "a.b+c@sub.example.org",
	} {
		got, err := NormalizeEmail(in)
		if err != nil || got != want {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "alice", "@example.com", "alice@", "a@b@c.com", "alice@localhost", "a b@c.com", "a@.com", "a@com."} {
		if _, err := NormalizeEmail(bad); !errors.Is(err, ErrValidation) {
			t.Errorf("NormalizeEmail(%q) = %v, want ErrValidation", bad, err)
		}
	}
	if EmailHash("alice@example.com") != "ff8d9819fc0e12bf0d24892e45987e249a28dce836a85cad60e28eaaa8c6d976" {
		t.Errorf("EmailHash changed: %s", EmailHash("alice@example.com"))
	}
}

func TestValidateSlug(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"acme", "a-b-c", "abc123", "x12"} {
		if err := ValidateSlug(ok); err != nil {
			t.Errorf("ValidateSlug(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "ab", "1abc", "-abc", "abc-", "a--b", "ABC", "a_b", "api", "www", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"} {
		if err := ValidateSlug(bad); !errors.Is(err, ErrValidation) {
			t.Errorf("ValidateSlug(%q) = %v, want ErrValidation", bad, err)
		}
	}
}

func TestReservationDecide(t *testing.T) {
	t.Parallel()
	emailHeld := EmailReserved{CustomerID: "c1", ReservedAt: t0}
	slugHeld := SlugReserved{CustomerID: "c1", Slug: "acme", ReservedAt: t0}
	runGWT(t, FoldReservation, DecideReservation, EvolveReservation, []gwt[ReservationCommand]{
		{name: "reserve e-mail", when: Reserve{Kind: ReservationEmail, CustomerID: "c1", At: t0}, then: []Event{emailHeld}},
		{name: "reserve e-mail again by holder", given: []Event{emailHeld}, when: Reserve{Kind: ReservationEmail, CustomerID: "c1"}, then: nil},
		{name: "reserve e-mail held by another", given: []Event{emailHeld}, when: Reserve{Kind: ReservationEmail, CustomerID: "c2"}, err: ErrEmailAlreadyRegistered},
		{name: "reserve released e-mail", given: []Event{emailHeld, EmailReleased{CustomerID: "c1"}}, when: Reserve{Kind: ReservationEmail, CustomerID: "c2", At: t0},
			then: []Event{EmailReserved{CustomerID: "c2", ReservedAt: t0}}},
		{name: "reserve slug", when: Reserve{Kind: ReservationSlug, CustomerID: "c1", Slug: "acme", At: t0}, then: []Event{slugHeld}},
		{name: "reserve slug held by another", given: []Event{slugHeld}, when: Reserve{Kind: ReservationSlug, CustomerID: "c2", Slug: "acme"}, err: ErrSlugTaken},
		{name: "reserve invalid slug", when: Reserve{Kind: ReservationSlug, CustomerID: "c1", Slug: "API"}, err: ErrValidation},
		{name: "reserve unknown kind", when: Reserve{Kind: "phone", CustomerID: "c1"}, err: ErrValidation},
		{name: "reserve without customer", when: Reserve{Kind: ReservationEmail}, err: ErrValidation},
		{name: "release", given: []Event{emailHeld}, when: Release{Kind: ReservationEmail, CustomerID: "c1", At: t0}, then: []Event{EmailReleased{CustomerID: "c1", ReleasedAt: t0}}},
		{name: "release slug", given: []Event{slugHeld}, when: Release{Kind: ReservationSlug, CustomerID: "c1", Slug: "acme", At: t0}, then: []Event{SlugReleased{CustomerID: "c1", Slug: "acme", ReleasedAt: t0}}},
		{name: "release free", when: Release{Kind: ReservationEmail, CustomerID: "c1"}, then: nil},
		{name: "release held by another", given: []Event{emailHeld}, when: Release{Kind: ReservationEmail, CustomerID: "c2"}, err: ErrReservationNotHeld},
	})
}
