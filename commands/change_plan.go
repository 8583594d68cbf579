package commands

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/webhost-systems/webhost/domain"
)

// ChangePlan moves a subscription to another plan. The customer must be active.
type ChangePlan struct {
	Meta
	CustomerID     uuid.UUID
	SubscriptionID uuid.UUID
	Plan           domain.PlanID
}

// ChangePlanHandler handles ChangePlan.
type ChangePlanHandler struct{ r *Runner }

// NewChangePlanHandler returns a handler; r must not be nil.
func NewChangePlanHandler(r *Runner) (*ChangePlanHandler, error) {
	if r == nil {
		return nil, errors.New("commands: NewChangePlanHandler: nil runner")
	}
	return &ChangePlanHandler{r: r}, nil
}

// Handle changes the plan. Errors match domain.ErrCustomerNotFound,
// domain.ErrAccountClosed, domain.ErrCustomerSuspended,
// domain.ErrSubscriptionNotFound, domain.ErrSubscriptionCanceled,
// domain.ErrSamePlan or domain.ErrPlanUnknown. Concurrent changes are
// serialised by the stream's expected version and retried.
func (h *ChangePlanHandler) Handle(ctx context.Context, cmd ChangePlan) (Result, error) {
	return h.r.onSubscription(ctx, cmd.Meta, cmd.CustomerID, cmd.SubscriptionID, "ChangePlan", domain.ChangePlan{Plan: cmd.Plan, At: h.r.now()})
}
