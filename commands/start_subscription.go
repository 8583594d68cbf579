package commands

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/webhost-systems/webhost/domain"
)

// StartSubscription starts a customer's subscription on Plan, with a 14-day
// trial when Trial is set. The customer must be active.
type StartSubscription struct {
	Meta
	CustomerID     uuid.UUID
	SubscriptionID uuid.UUID
	Plan           domain.PlanID
	Trial          bool
}

// StartSubscriptionHandler handles StartSubscription.
type StartSubscriptionHandler struct{ r *Runner }

// NewStartSubscriptionHandler returns a handler; r must not be nil.
func NewStartSubscriptionHandler(r *Runner) (*StartSubscriptionHandler, error) {
	if r == nil {
		return nil, errors.New("commands: NewStartSubscriptionHandler: nil runner")
	}
	return &StartSubscriptionHandler{r: r}, nil
}

// Handle starts the subscription. Errors match domain.ErrCustomerNotFound,
// domain.ErrAccountClosed, domain.ErrCustomerSuspended,
// domain.ErrSubscriptionExists or domain.ErrPlanUnknown.
func (h *StartSubscriptionHandler) Handle(ctx context.Context, cmd StartSubscription) (Result, error) {
	return h.r.onSubscription(ctx, cmd.Meta, cmd.CustomerID, cmd.SubscriptionID, "StartSubscription", domain.StartSubscription{SubscriptionID: cmd.SubscriptionID.String(), CustomerID: cmd.CustomerID.String(), Plan: cmd.Plan, Trial: cmd.Trial, At: h.r.now()})
}
