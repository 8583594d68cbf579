package domain

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Customer event type names.
const (
	TypeCustomerSignedUp       = "CustomerSignedUp"
	TypeCustomerProfileUpdated = "CustomerProfileUpdated"
	TypeCustomerSuspended      = "CustomerSuspended"
	TypeCustomerReinstated     = "CustomerReinstated"
	TypeCustomerAccountClosed  = "CustomerAccountClosed"
)

// CustomerSignedUp starts a customer. The name and e-mail are personal data:
// the event holds only the IDs of their encrypted secrets.
type CustomerSignedUp struct {
	CustomerID    string    `json:"customer_id"`
	Slug          string    `json:"slug"`
	Company       string    `json:"company,omitempty"`
	NameSecretID  string    `json:"name_secret_id"`
	EmailSecretID string    `json:"email_secret_id"`
	SignedUpAt    time.Time `json:"signed_up_at"`
}

// CustomerProfileUpdated changes the profile. Empty secret IDs and a nil
// Company mean unchanged.
type CustomerProfileUpdated struct {
	CustomerID    string    `json:"customer_id"`
	NameSecretID  string    `json:"name_secret_id,omitempty"`
	EmailSecretID string    `json:"email_secret_id,omitempty"`
	Company       *string   `json:"company,omitempty"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// CustomerSuspended blocks a customer (e.g. unpaid invoices).
type CustomerSuspended struct {
	CustomerID  string    `json:"customer_id"`
	Reason      string    `json:"reason"`
	SuspendedAt time.Time `json:"suspended_at"`
}

// CustomerReinstated lifts a suspension.
type CustomerReinstated struct {
	CustomerID   string    `json:"customer_id"`
	ReinstatedAt time.Time `json:"reinstated_at"`
}

// CustomerAccountClosed closes the account for good. The customer's
// encryption key is deleted right after it, which erases the personal data
// its secrets held; the event stays readable.
type CustomerAccountClosed struct {
	CustomerID string    `json:"customer_id"`
	Reason     string    `json:"reason,omitempty"`
	ClosedAt   time.Time `json:"closed_at"`
}

// EventType implements Event.
func (CustomerSignedUp) EventType() string { return TypeCustomerSignedUp }

// EventType implements Event.
func (CustomerProfileUpdated) EventType() string { return TypeCustomerProfileUpdated }

// EventType implements Event.
func (CustomerSuspended) EventType() string { return TypeCustomerSuspended }

// EventType implements Event.
func (CustomerReinstated) EventType() string { return TypeCustomerReinstated }

// EventType implements Event.
func (CustomerAccountClosed) EventType() string { return TypeCustomerAccountClosed }

// CustomerStatus is the lifecycle state of a customer.
type CustomerStatus string

// Customer statuses. The zero value is CustomerStatusNone: not signed up.
const (
	CustomerStatusNone      CustomerStatus = ""
	CustomerStatusActive    CustomerStatus = "active"
	CustomerStatusSuspended CustomerStatus = "suspended"
	CustomerStatusClosed    CustomerStatus = "closed"
)

// Customer is the state of one customer, rebuilt from its events.
type Customer struct {
	id            string
	status        CustomerStatus
	slug          string
	company       string
	nameSecretID  string
	emailSecretID string
	signedUpAt    time.Time
}

// ID returns the customer's ID ("" before sign-up).
func (c Customer) ID() string { return c.id }

// Status returns the lifecycle state.
func (c Customer) Status() CustomerStatus { return c.status }

// Exists reports whether the customer has signed up.
func (c Customer) Exists() bool { return c.status != CustomerStatusNone }

// Slug returns the customer's slug (their subdomain).
func (c Customer) Slug() string { return c.slug }

// Company returns the company name.
func (c Customer) Company() string { return c.company }

// NameSecretID returns the ID of the secret holding the customer's name.
func (c Customer) NameSecretID() string { return c.nameSecretID }

// EmailSecretID returns the ID of the secret holding the e-mail address.
func (c Customer) EmailSecretID() string { return c.emailSecretID }

// SignedUpAt returns when the customer signed up.
func (c Customer) SignedUpAt() time.Time { return c.signedUpAt }

// CanAct returns nil when the customer exists and is active, and otherwise
// an error matching ErrCustomerNotFound, ErrAccountClosed or
// ErrCustomerSuspended. Commands on a customer's other aggregates check it.
func (c Customer) CanAct(command string) error {
	switch c.status {
	case CustomerStatusNone:
		return transition("customer", c.id, "none", command, ErrCustomerNotFound)
	case CustomerStatusClosed:
		return transition("customer", c.id, string(c.status), command, ErrAccountClosed)
	case CustomerStatusSuspended:
		return transition("customer", c.id, string(c.status), command, ErrCustomerSuspended)
	}
	return nil
}

// CustomerCommand is a command on the Customer aggregate.
type CustomerCommand interface {
	customerCommand() string
}

// SignUpCustomer creates a customer. The caller has reserved the slug and
// e-mail and stored the name and e-mail as secrets.
type SignUpCustomer struct {
	CustomerID    string
	Slug          string
	Company       string
	NameSecretID  string
	EmailSecretID string
	At            time.Time
}

// UpdateCustomerProfile changes the profile; empty fields (nil Company) are
// left unchanged.
type UpdateCustomerProfile struct {
	NameSecretID  string
	EmailSecretID string
	Company       *string
	At            time.Time
}

// SuspendCustomer suspends an active customer.
type SuspendCustomer struct {
	Reason string
	At     time.Time
}

// ReinstateCustomer lifts a suspension.
type ReinstateCustomer struct {
	At time.Time
}

// CloseCustomerAccount closes the account.
type CloseCustomerAccount struct {
	Reason string
	At     time.Time
}

func (SignUpCustomer) customerCommand() string        { return "SignUp" }
func (UpdateCustomerProfile) customerCommand() string { return "UpdateProfile" }
func (SuspendCustomer) customerCommand() string       { return "SuspendCustomer" }
func (ReinstateCustomer) customerCommand() string     { return "ReinstateCustomer" }
func (CloseCustomerAccount) customerCommand() string  { return "CloseAccount" }

// MaxCompanyLength bounds the company name, in characters.
const MaxCompanyLength = 200

// DecideCustomer returns the events cmd causes on c, or an error matching
// ErrValidation (malformed command) or ErrInvalidTransition with one of
// ErrCustomerExists, ErrCustomerNotFound, ErrAccountClosed,
// ErrCustomerNotSuspended, ErrCustomerSuspended or ErrNothingToChange.
func DecideCustomer(c Customer, cmd CustomerCommand) ([]Event, error) {
	name := cmd.customerCommand()
	if sign, ok := cmd.(SignUpCustomer); ok {
		if c.status != CustomerStatusNone {
			return nil, transition("customer", c.id, string(c.status), name, ErrCustomerExists)
		}
		if err := requireID("customer_id", sign.CustomerID); err != nil {
			return nil, err
		}
		if err := ValidateSlug(sign.Slug); err != nil {
			return nil, err
		}
		if err := validateCompany(sign.Company); err != nil {
			return nil, err
		}
		if err := requireID("name_secret_id", sign.NameSecretID); err != nil {
			return nil, err
		}
		if err := requireID("email_secret_id", sign.EmailSecretID); err != nil {
			return nil, err
		}
		return []Event{CustomerSignedUp{
			CustomerID: sign.CustomerID, Slug: sign.Slug, Company: strings.TrimSpace(sign.Company),
			NameSecretID: sign.NameSecretID, EmailSecretID: sign.EmailSecretID, SignedUpAt: sign.At.UTC(),
		}}, nil
	}
	switch c.status {
	case CustomerStatusNone:
		return nil, transition("customer", c.id, "none", name, ErrCustomerNotFound)
	case CustomerStatusClosed:
		return nil, transition("customer", c.id, string(c.status), name, ErrAccountClosed)
	}
	switch cmd := cmd.(type) {
	case UpdateCustomerProfile:
		ev := CustomerProfileUpdated{CustomerID: c.id, UpdatedAt: cmd.At.UTC()}
		if cmd.NameSecretID != "" && cmd.NameSecretID != c.nameSecretID {
			ev.NameSecretID = cmd.NameSecretID
		}
		if cmd.EmailSecretID != "" && cmd.EmailSecretID != c.emailSecretID {
			ev.EmailSecretID = cmd.EmailSecretID
		}
		if cmd.Company != nil {
			company := strings.TrimSpace(*cmd.Company)
			if err := validateCompany(company); err != nil {
				return nil, err
			}
			if company != c.company {
				ev.Company = &company
			}
		}
		if ev.NameSecretID == "" && ev.EmailSecretID == "" && ev.Company == nil {
			return nil, transition("customer", c.id, string(c.status), name, ErrNothingToChange)
		}
		return []Event{ev}, nil
	case SuspendCustomer:
		if c.status == CustomerStatusSuspended {
			return nil, transition("customer", c.id, string(c.status), name, ErrCustomerSuspended)
		}
		if strings.TrimSpace(cmd.Reason) == "" {
			return nil, invalid("reason", "is required")
		}
		return []Event{CustomerSuspended{CustomerID: c.id, Reason: cmd.Reason, SuspendedAt: cmd.At.UTC()}}, nil
	case ReinstateCustomer:
		if c.status != CustomerStatusSuspended {
			return nil, transition("customer", c.id, string(c.status), name, ErrCustomerNotSuspended)
		}
		return []Event{CustomerReinstated{CustomerID: c.id, ReinstatedAt: cmd.At.UTC()}}, nil
	case CloseCustomerAccount:
		return []Event{CustomerAccountClosed{CustomerID: c.id, Reason: cmd.Reason, ClosedAt: cmd.At.UTC()}}, nil
	}
	return nil, invalid("command", "unknown customer command "+name)
}

// EvolveCustomer applies e to c. Events of other aggregates leave c
// unchanged; FoldCustomer reports them instead.
func EvolveCustomer(c Customer, e Event) Customer {
	next, _ := evolveCustomer(c, e)
	return next
}

func evolveCustomer(c Customer, e Event) (Customer, bool) {
	switch e := e.(type) {
	case CustomerSignedUp:
		c = Customer{id: e.CustomerID, status: CustomerStatusActive, slug: e.Slug, company: e.Company,
			nameSecretID: e.NameSecretID, emailSecretID: e.EmailSecretID, signedUpAt: e.SignedUpAt}
	case CustomerProfileUpdated:
		if e.NameSecretID != "" {
			c.nameSecretID = e.NameSecretID
		}
		if e.EmailSecretID != "" {
			c.emailSecretID = e.EmailSecretID
		}
		if e.Company != nil {
			c.company = *e.Company
		}
	case CustomerSuspended:
		c.status = CustomerStatusSuspended
	case CustomerReinstated:
		c.status = CustomerStatusActive
	case CustomerAccountClosed:
		c.status = CustomerStatusClosed
	default:
		return c, false
	}
	return c, true
}

// FoldCustomer rebuilds a customer from its events. An event of another
// aggregate is an error matching ErrForeignEvent.
func FoldCustomer(events ...Event) (Customer, error) { return fold(Customer{}, evolveCustomer, events) }

func fold[S any](s S, evolve func(S, Event) (S, bool), events []Event) (S, error) {
	for i, e := range events {
		next, ok := evolve(s, e)
		if !ok {
			return s, &foreignEventError{index: i, eventType: eventTypeOf(e)}
		}
		s = next
	}
	return s, nil
}

type foreignEventError struct {
	index     int
	eventType string
}

func (e *foreignEventError) Error() string {
	return "domain: event " + strconv.Itoa(e.index) + " (" + e.eventType + ") does not belong to this aggregate"
}

func (e *foreignEventError) Unwrap() error { return ErrForeignEvent }

func eventTypeOf(e Event) string {
	if e == nil {
		return "<nil>"
	}
	return e.EventType()
}

// NormalizeEmail returns the canonical form of an e-mail address (trimmed,
// lower case), or an error matching ErrValidation when it is not an
// address.
func NormalizeEmail(email string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(email))
	local, host, ok := strings.Cut(e, "@")
	switch {
	case !ok || local == "" || host == "" || strings.Contains(host, "@"):
		return "", invalid("email", "is not an e-mail address")
	case len(e) > 254:
		return "", invalid("email", "is longer than 254 bytes")
	case strings.ContainsAny(e, " \t\r\n<>\"(),;:\\[]") || !strings.Contains(host, ".") ||
		strings.HasPrefix(host, ".") || strings.HasSuffix(host, "."):
		return "", invalid("email", "is not an e-mail address")
	case !utf8.ValidString(e):
		return "", invalid("email", "is not valid UTF-8")
	}
	return e, nil
}

// EmailHash returns the hex SHA-256 of a normalised e-mail address; it names
// the e-mail's reservation stream.
func EmailHash(normalized string) string {
	sum := sha256.Sum256([]byte(normalized))
	return hex.EncodeToString(sum[:])
}

// reservedSlugs cannot be taken: they are the platform's own host names.
var reservedSlugs = map[string]bool{
	"www": true, "api": true, "app": true, "admin": true, "dashboard": true, "sync": true, "mail": true,
	"status": true, "docs": true, "billing": true, "support": true, "webhost": true, "static": true, "cdn": true,
}

// ValidateSlug checks a customer slug: 3 to 40 characters of a-z, 0-9 and
// inner hyphens, starting with a letter (it becomes a DNS label), and not one
// of the platform's own names. Errors match ErrValidation.
func ValidateSlug(slug string) error {
	if len(slug) < 3 || len(slug) > 40 {
		return invalid("slug", "must be 3 to 40 characters")
	}
	for i := 0; i < len(slug); i++ {
		ch := slug[i]
		switch {
		case ch >= 'a' && ch <= 'z':
		case ch >= '0' && ch <= '9' && i > 0:
		case ch == '-' && i > 0 && i < len(slug)-1 && slug[i-1] != '-':
		default:
			return invalid("slug", "must be lower-case letters, digits and single inner hyphens, starting with a letter")
		}
	}
	if reservedSlugs[slug] {
		return invalid("slug", "is reserved")
	}
	return nil
}

func validateCompany(company string) error {
	if utf8.RuneCountInString(company) > MaxCompanyLength {
		return invalid("company", "is longer than 200 characters")
	}
	if !utf8.ValidString(company) {
		return invalid("company", "is not valid UTF-8")
	}
	return nil
}

func requireID(field, id string) error {
	if strings.TrimSpace(id) == "" {
		return invalid(field, "is required")
	}
	if len(id) > 200 {
		return invalid(field, "is too long")
	}
	return nil
}
