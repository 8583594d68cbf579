package commands

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/webhost-systems/webhost/domain"
)

// CancelSubscription ends a subscription (also on a closed or suspended account).
type CancelSubscription struct {
	Meta
	CustomerID     uuid.UUID
	SubscriptionID uuid.UUID
	Reason         string
}

// CancelSubscriptionHandler handles CancelSubscription.
type CancelSubscriptionHandler struct{ r *Runner }

// NewCancelSubscriptionHandler returns a handler; r must not be nil.
func NewCancelSubscriptionHandler(r *Runner) (*CancelSubscriptionHandler, error) {
	if r == nil {
		return nil, errors.New("commands: NewCancelSubscriptionHandler: nil runner")
	}
	return &CancelSubscriptionHandler{r: r}, nil
}

// Handle cancels. Errors match domain.ErrSubscriptionNotFound or
// domain.ErrSubscriptionCanceled.
func (h *CancelSubscriptionHandler) Handle(ctx context.Context, cmd CancelSubscription) (Result, error) {
	return h.r.onSubscription(ctx, cmd.Meta, cmd.CustomerID, cmd.SubscriptionID, "", domain.CancelSubscription{Reason: cmd.Reason, At: h.r.now()})
}
