package commands

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/webhost-systems/webhost/domain"
)

// SuspendCustomer suspends an active customer (e.g. unpaid invoices).
type SuspendCustomer struct {
	Meta
	CustomerID uuid.UUID
	Reason     string
}

// SuspendCustomerHandler handles SuspendCustomer.
type SuspendCustomerHandler struct{ r *Runner }

// NewSuspendCustomerHandler returns a handler; r must not be nil.
func NewSuspendCustomerHandler(r *Runner) (*SuspendCustomerHandler, error) {
	if r == nil {
		return nil, errors.New("commands: NewSuspendCustomerHandler: nil runner")
	}
	return &SuspendCustomerHandler{r: r}, nil
}

// Handle suspends. Errors match domain.ErrCustomerNotFound,
// domain.ErrAccountClosed, domain.ErrCustomerSuspended or
// domain.ErrValidation (no reason).
func (h *SuspendCustomerHandler) Handle(ctx context.Context, cmd SuspendCustomer) (Result, error) {
	if err := requireUUID("customer_id", cmd.CustomerID); err != nil {
		return Result{}, err
	}
	now := h.r.now()
	return execute(ctx, h.r, CustomerStream(cmd.CustomerID), customerAgg, cmd.Meta, cmd.CommandID, cmd.CustomerID.String(),
		func(c domain.Customer) ([]domain.Event, error) {
			return domain.DecideCustomer(c, domain.SuspendCustomer{Reason: cmd.Reason, At: now})
		})
}
