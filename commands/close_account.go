package commands

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/webhost-systems/webhost/domain"
	"github.com/webhost-systems/webhost/secrets"
)

// CloseAccount closes a customer's account for good: it appends
// CustomerAccountClosed, releases the e-mail address (the slug stays
// reserved, so nobody can take over the old subdomain), and shreds the
// customer's key in the secrets store, which erases the name, the e-mail
// address and every other secret of the customer. History stays readable;
// resolving the erased secrets reports secrets.ErrErased.
//
// Revoking the customer's API keys and cancelling the subscription are left
// to the processes that follow CustomerAccountClosed; authenticators reject
// keys of closed customers meanwhile.
type CloseAccount struct {
	Meta
	CustomerID uuid.UUID
	Reason     string
}

// CloseAccountHandler handles CloseAccount.
type CloseAccountHandler struct{ r *Runner }

// NewCloseAccountHandler returns a handler; r must not be nil.
func NewCloseAccountHandler(r *Runner) (*CloseAccountHandler, error) {
	if r == nil {
		return nil, errors.New("commands: NewCloseAccountHandler: nil runner")
	}
	return &CloseAccountHandler{r: r}, nil
}

// Handle closes the account. Errors match domain.ErrCustomerNotFound or
// domain.ErrAccountClosed. A resubmission finishes an interrupted run (the
// release and the shredding are idempotent).
func (h *CloseAccountHandler) Handle(ctx context.Context, cmd CloseAccount) (Result, error) {
	if err := requireUUID("customer_id", cmd.CustomerID); err != nil {
		return Result{}, err
	}
	r := h.r
	now := r.now()
	owner := cmd.CustomerID.String()
	var emailSecretID string
	res, err := execute(ctx, r, CustomerStream(cmd.CustomerID), customerAgg, cmd.Meta, cmd.CommandID, owner,
		func(c domain.Customer) ([]domain.Event, error) {
			emailSecretID = c.EmailSecretID()
			return domain.DecideCustomer(c, domain.CloseCustomerAccount{Reason: cmd.Reason, At: now})
		})
	if err != nil {
		return Result{}, err
	}
	if res.Duplicate {
		c, err := loadState(ctx, r, CustomerStream(cmd.CustomerID), customerAgg)
		if err != nil {
			return res, err
		}
		emailSecretID = c.EmailSecretID()
	}
	// Release the address while it can still be read; after the shredding
	// nobody can tell which reservation stream is the customer's.
	email, err := secrets.GetString(ctx, r.cfg.Secrets, emailSecretID)
	switch {
	case err == nil:
		if _, err := release(ctx, r, cmd.Meta, domain.ReservationEmail, EmailStream(email), owner, "", now); err != nil {
			return res, fmt.Errorf("close account: release e-mail: %w", err)
		}
	case errors.Is(err, secrets.ErrErased):
	default:
		return res, fmt.Errorf("close account: read e-mail: %w", err)
	}
	if err := r.cfg.Secrets.Shred(ctx, owner); err != nil {
		return res, fmt.Errorf("close account: shred personal data: %w", err)
	}
	r.cfg.Logger.Info("account closed and personal data shredded", "customer_id", owner)
	return res, nil
}
