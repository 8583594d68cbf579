package commands

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/webhost-systems/webhost/domain"
	"github.com/webhost-systems/webhost/secrets"
)

// UpdateProfile changes a customer's name, e-mail address or company; nil
// fields are left unchanged. A new address is reserved before it is used
// and the old one is released after.
type UpdateProfile struct {
	Meta
	CustomerID uuid.UUID
	Name       *string
	Email      *string
	Company    *string
}

// UpdateProfileHandler handles UpdateProfile.
type UpdateProfileHandler struct{ r *Runner }

// NewUpdateProfileHandler returns a handler; r must not be nil.
func NewUpdateProfileHandler(r *Runner) (*UpdateProfileHandler, error) {
	if r == nil {
		return nil, errors.New("commands: NewUpdateProfileHandler: nil runner")
	}
	return &UpdateProfileHandler{r: r}, nil
}

// Handle updates the profile. Errors match domain.ErrCustomerNotFound,
// domain.ErrAccountClosed, domain.ErrNothingToChange,
// domain.ErrEmailAlreadyRegistered or domain.ErrValidation.
func (h *UpdateProfileHandler) Handle(ctx context.Context, cmd UpdateProfile) (Result, error) {
	if err := cmd.Meta.validate(); err != nil {
		return Result{}, err
	}
	if err := requireUUID("customer_id", cmd.CustomerID); err != nil {
		return Result{}, err
	}
	r := h.r
	stream := CustomerStream(cmd.CustomerID)
	l, err := load(ctx, r.cfg.Store, stream, customerAgg, cmd.CommandID)
	if err != nil {
		return Result{}, err
	}
	if l.dup != nil {
		// Finish an interrupted run: release the address the update
		// replaced, if it did (idempotent).
		return *l.dup, h.releaseReplacedEmail(ctx, cmd.Meta, l.beforeDup, l.state)
	}
	c := l.state
	switch c.Status() {
	case domain.CustomerStatusNone:
		return Result{}, &domain.TransitionError{Aggregate: "customer", ID: cmd.CustomerID.String(), State: "none", Command: "UpdateProfile", Err: domain.ErrCustomerNotFound}
	case domain.CustomerStatusClosed:
		return Result{}, &domain.TransitionError{Aggregate: "customer", ID: c.ID(), State: string(c.Status()), Command: "UpdateProfile", Err: domain.ErrAccountClosed}
	}
	owner := c.ID()
	now := r.now()
	update := domain.UpdateCustomerProfile{Company: cmd.Company, At: now}

	if cmd.Name != nil {
		name, err := validateName(*cmd.Name)
		if err != nil {
			return Result{}, err
		}
		current, err := secrets.GetString(ctx, r.cfg.Secrets, c.NameSecretID())
		if err != nil && !errors.Is(err, secrets.ErrErased) {
			return Result{}, fmt.Errorf("update profile: read name: %w", err)
		}
		if name != current {
			id := DeriveID(cmd.CommandID, "secret", secrets.KindName).String()
			if err := r.cfg.Secrets.Put(ctx, secrets.Secret{ID: id, Owner: owner, Kind: secrets.KindName, Plaintext: []byte(name)}); err != nil {
				return Result{}, fmt.Errorf("update profile: store name: %w", err)
			}
			update.NameSecretID = id
		}
	}

	var newEmail, oldEmail string
	if cmd.Email != nil {
		email, err := domain.NormalizeEmail(*cmd.Email)
		if err != nil {
			return Result{}, err
		}
		oldEmail, err = secrets.GetString(ctx, r.cfg.Secrets, c.EmailSecretID())
		if err != nil {
			return Result{}, fmt.Errorf("update profile: read e-mail: %w", err)
		}
		if email != oldEmail {
			if _, err := reserve(ctx, r, cmd.Meta, domain.ReservationEmail, EmailStream(email), owner, "", now); err != nil {
				return Result{}, fmt.Errorf("update profile: %w", err)
			}
			newEmail = email
			id := DeriveID(cmd.CommandID, "secret", secrets.KindEmail).String()
			if err := r.cfg.Secrets.Put(ctx, secrets.Secret{ID: id, Owner: owner, Kind: secrets.KindEmail, Plaintext: []byte(email)}); err != nil {
				h.releaseQuietly(ctx, cmd.Meta, owner, newEmail)
				return Result{}, fmt.Errorf("update profile: store e-mail: %w", err)
			}
			update.EmailSecretID = id
		}
	}

	res, err := execute(ctx, r, stream, customerAgg, cmd.Meta, cmd.CommandID, owner,
		func(c domain.Customer) ([]domain.Event, error) { return domain.DecideCustomer(c, update) })
	if err != nil {
		if newEmail != "" {
			h.releaseQuietly(ctx, cmd.Meta, owner, newEmail)
		}
		return Result{}, err
	}
	if newEmail != "" && !res.Duplicate {
		if _, err := release(ctx, r, cmd.Meta, domain.ReservationEmail, EmailStream(oldEmail), owner, "", now); err != nil {
			return res, fmt.Errorf("update profile: release old e-mail: %w", err)
		}
	}
	if res.Duplicate {
		// A concurrent run of this command got there first; make sure
		// the replaced address is released.
		l, err := load(ctx, r.cfg.Store, stream, customerAgg, cmd.CommandID)
		if err != nil {
			return res, err
		}
		return res, h.releaseReplacedEmail(ctx, cmd.Meta, l.beforeDup, l.state)
	}
	return res, nil
}

// releaseReplacedEmail releases the address of before when after has
// another one. An erased address (closed account) needs no release.
func (h *UpdateProfileHandler) releaseReplacedEmail(ctx context.Context, meta Meta, before, after domain.Customer) error {
	if before.EmailSecretID() == "" || before.EmailSecretID() == after.EmailSecretID() {
		return nil
	}
	old, err := secrets.GetString(ctx, h.r.cfg.Secrets, before.EmailSecretID())
	if errors.Is(err, secrets.ErrErased) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("update profile: read replaced e-mail: %w", err)
	}
	if _, err := release(ctx, h.r, meta, domain.ReservationEmail, EmailStream(old), after.ID(), "", h.r.now()); err != nil {
		return fmt.Errorf("update profile: release replaced e-mail: %w", err)
	}
	return nil
}

func (h *UpdateProfileHandler) releaseQuietly(ctx context.Context, meta Meta, owner, email string) {
	if _, err := release(context.WithoutCancel(ctx), h.r, meta, domain.ReservationEmail, EmailStream(email), owner, "", h.r.now()); err != nil {
		h.r.cfg.Logger.Error("update profile: release new e-mail reservation", "customer_id", owner, "err", err)
	}
}
