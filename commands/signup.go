package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/webhost-systems/webhost/domain"
	"github.com/webhost-systems/webhost/eventstore"
	"github.com/webhost-systems/webhost/secrets"
)

// SignUp registers a new customer: it reserves the e-mail address and the
// slug, stores the name and address encrypted under the customer's key,
// appends CustomerSignedUp and issues the first API key (all scopes).
type SignUp struct {
	Meta
	Name    string
	Email   string
	Slug    string
	Company string
	// APIKeyName labels the first key (default "default").
	APIKeyName string
}

// SignUpResult is the outcome of SignUp. IDs derive from the command ID.
type SignUpResult struct {
	CustomerID uuid.UUID
	APIKeyID   uuid.UUID
	// APIKey is the first key in plain text. It is returned exactly once:
	// empty when the command is a resubmission (Duplicate).
	APIKey string
	// Position is the global position of the last event appended.
	Position  eventstore.Position
	Duplicate bool
}

// MaxNameLength bounds a customer's name, in characters.
const MaxNameLength = 200

// SignUpHandler handles SignUp.
type SignUpHandler struct{ r *Runner }

// NewSignUpHandler returns a handler; r must not be nil.
func NewSignUpHandler(r *Runner) (*SignUpHandler, error) {
	if r == nil {
		return nil, errors.New("commands: NewSignUpHandler: nil runner")
	}
	return &SignUpHandler{r: r}, nil
}

// Handle signs the customer up. Errors match domain.ErrEmailAlreadyRegistered
// or domain.ErrSlugTaken when another customer holds the address or slug
// (nothing is kept of the attempt then), domain.ErrValidation for a
// malformed name, e-mail, slug or company, ErrInvalidMeta, or wrap a store
// failure.
func (h *SignUpHandler) Handle(ctx context.Context, cmd SignUp) (SignUpResult, error) {
	if err := cmd.validate(); err != nil {
		return SignUpResult{}, err
	}
	email, err := domain.NormalizeEmail(cmd.Email)
	if err != nil {
		return SignUpResult{}, err
	}
	if err := domain.ValidateSlug(cmd.Slug); err != nil {
		return SignUpResult{}, err
	}
	name, err := validateName(cmd.Name)
	if err != nil {
		return SignUpResult{}, err
	}
	keyName := cmd.APIKeyName
	if strings.TrimSpace(keyName) == "" {
		keyName = "default"
	}
	r := h.r
	customerID := DeriveID(cmd.CommandID, "customer")
	keyID := DeriveID(cmd.CommandID, "apikey")
	owner := customerID.String()
	out := SignUpResult{CustomerID: customerID, APIKeyID: keyID}

	// Resubmission of a completed sign-up: report it, without a key.
	if done, err := r.signUpDone(ctx, cmd, keyID); err != nil || done != nil {
		if done != nil {
			out.Position, out.Duplicate = done.Position, true
		}
		return out, err
	}

	now := r.now()
	emailRes, err := reserve(ctx, r, cmd.Meta, domain.ReservationEmail, EmailStream(email), owner, "", now)
	if err != nil {
		return out, fmt.Errorf("sign up: %w", err)
	}
	slugRes, err := reserve(ctx, r, cmd.Meta, domain.ReservationSlug, SlugStream(cmd.Slug), owner, cmd.Slug, now)
	if err != nil {
		h.compensate(ctx, cmd, owner, email, "", err)
		return out, fmt.Errorf("sign up: %w", err)
	}
	out.Position = maxPosition(emailRes.Position, slugRes.Position)

	nameID := DeriveID(cmd.CommandID, "secret", secrets.KindName).String()
	emailID := DeriveID(cmd.CommandID, "secret", secrets.KindEmail).String()
	customerRes, err := func() (Result, error) {
		if err := r.cfg.Secrets.Put(ctx, secrets.Secret{ID: nameID, Owner: owner, Kind: secrets.KindName, Plaintext: []byte(name)}); err != nil {
			return Result{}, fmt.Errorf("sign up: store name: %w", err)
		}
		if err := r.cfg.Secrets.Put(ctx, secrets.Secret{ID: emailID, Owner: owner, Kind: secrets.KindEmail, Plaintext: []byte(email)}); err != nil {
			return Result{}, fmt.Errorf("sign up: store e-mail: %w", err)
		}
		return execute(ctx, r, CustomerStream(customerID), customerAgg, cmd.Meta, cmd.CommandID, owner,
			func(c domain.Customer) ([]domain.Event, error) {
				return domain.DecideCustomer(c, domain.SignUpCustomer{CustomerID: owner, Slug: cmd.Slug,
					Company: cmd.Company, NameSecretID: nameID, EmailSecretID: emailID, At: now})
			})
	}()
	if err != nil {
		h.compensate(ctx, cmd, owner, email, cmd.Slug, err)
		return out, err
	}
	out.Position = maxPosition(out.Position, customerRes.Position)

	key, err := issueKey(ctx, r, cmd.Meta, customerID, keyID, keyName,
		[]string{domain.ScopeRead, domain.ScopeWrite, domain.ScopeAdmin}, now)
	if err != nil {
		return out, fmt.Errorf("sign up: first API key: %w", err)
	}
	out.APIKey = key.APIKey
	out.Position = maxPosition(out.Position, key.Position)
	out.Duplicate = key.Duplicate
	return out, nil
}

func (cmd SignUp) validate() error {
	return cmd.Meta.validate()
}

func validateName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > MaxNameLength || !utf8.ValidString(name) {
		return "", &domain.ValidationError{Field: "name", Reason: "must be 1 to 200 characters"}
	}
	return name, nil
}

// signUpDone reports a completed earlier run of the same command: its API
// key stream holds the command's event.
func (r *Runner) signUpDone(ctx context.Context, cmd SignUp, keyID uuid.UUID) (*Result, error) {
	l, err := load(ctx, r.cfg.Store, APIKeyStream(keyID), apiKeyAgg, cmd.CommandID)
	if err != nil {
		return nil, err
	}
	return l.dup, nil
}

// compensate releases what an abandoned sign-up reserved, so the address
// and slug stay free. It runs on a context that outlives cancellation of
// the request, and logs its own failures: the original error matters more.
func (h *SignUpHandler) compensate(ctx context.Context, cmd SignUp, owner, email, slug string, cause error) {
	ctx = context.WithoutCancel(ctx)
	now := h.r.now()
	if _, err := release(ctx, h.r, cmd.Meta, domain.ReservationEmail, EmailStream(email), owner, "", now); err != nil {
		h.r.cfg.Logger.Error("sign up: release e-mail reservation", "customer_id", owner, "err", err, "cause", cause)
	}
	if slug != "" {
		if _, err := release(ctx, h.r, cmd.Meta, domain.ReservationSlug, SlugStream(slug), owner, slug, now); err != nil {
			h.r.cfg.Logger.Error("sign up: release slug reservation", "customer_id", owner, "err", err, "cause", cause)
		}
	}
}

func maxPosition(a, b eventstore.Position) eventstore.Position {
	if a.Before(b) {
		return b
	}
	return a
}
