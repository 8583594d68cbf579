package commands

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/webhost-systems/webhost/domain"
)

// ReinstateCustomer lifts a suspension.
type ReinstateCustomer struct {
	Meta
	CustomerID uuid.UUID
}

// ReinstateCustomerHandler handles ReinstateCustomer.
type ReinstateCustomerHandler struct{ r *Runner }

// NewReinstateCustomerHandler returns a handler; r must not be nil.
func NewReinstateCustomerHandler(r *Runner) (*ReinstateCustomerHandler, error) {
	if r == nil {
		return nil, errors.New("commands: NewReinstateCustomerHandler: nil runner")
	}
	return &ReinstateCustomerHandler{r: r}, nil
}

// Handle reinstates. Errors match domain.ErrCustomerNotFound,
// domain.ErrAccountClosed or domain.ErrCustomerNotSuspended.
func (h *ReinstateCustomerHandler) Handle(ctx context.Context, cmd ReinstateCustomer) (Result, error) {
	if err := requireUUID("customer_id", cmd.CustomerID); err != nil {
		return Result{}, err
	}
	now := h.r.now()
	return execute(ctx, h.r, CustomerStream(cmd.CustomerID), customerAgg, cmd.Meta, cmd.CommandID, cmd.CustomerID.String(),
		func(c domain.Customer) ([]domain.Event, error) {
			return domain.DecideCustomer(c, domain.ReinstateCustomer{At: now})
		})
}
