package commands

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/webhost-systems/webhost/domain"
)

// ActivateSubscription marks a subscription paid (trial converted, past-due
// invoice settled); on an active one it changes nothing.
type ActivateSubscription struct {
	Meta
	CustomerID     uuid.UUID
	SubscriptionID uuid.UUID
}

// ActivateSubscriptionHandler handles ActivateSubscription.
type ActivateSubscriptionHandler struct{ r *Runner }

// NewActivateSubscriptionHandler returns a handler; r must not be nil.
func NewActivateSubscriptionHandler(r *Runner) (*ActivateSubscriptionHandler, error) {
	if r == nil {
		return nil, errors.New("commands: NewActivateSubscriptionHandler: nil runner")
	}
	return &ActivateSubscriptionHandler{r: r}, nil
}

// Handle activates. Errors match domain.ErrSubscriptionNotFound or
// domain.ErrSubscriptionCanceled.
func (h *ActivateSubscriptionHandler) Handle(ctx context.Context, cmd ActivateSubscription) (Result, error) {
	return h.r.onSubscription(ctx, cmd.Meta, cmd.CustomerID, cmd.SubscriptionID, "", domain.ActivateSubscription{At: h.r.now()})
}
