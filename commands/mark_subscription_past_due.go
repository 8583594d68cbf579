package commands

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/webhost-systems/webhost/domain"
)

// MarkSubscriptionPastDue records a failed payment; on a past-due subscription it changes nothing.
type MarkSubscriptionPastDue struct {
	Meta
	CustomerID     uuid.UUID
	SubscriptionID uuid.UUID
}

// MarkSubscriptionPastDueHandler handles MarkSubscriptionPastDue.
type MarkSubscriptionPastDueHandler struct{ r *Runner }

// NewMarkSubscriptionPastDueHandler returns a handler; r must not be nil.
func NewMarkSubscriptionPastDueHandler(r *Runner) (*MarkSubscriptionPastDueHandler, error) {
	if r == nil {
		return nil, errors.New("commands: NewMarkSubscriptionPastDueHandler: nil runner")
	}
	return &MarkSubscriptionPastDueHandler{r: r}, nil
}

// Handle marks it past due. Errors match domain.ErrSubscriptionNotFound
// or domain.ErrSubscriptionCanceled.
func (h *MarkSubscriptionPastDueHandler) Handle(ctx context.Context, cmd MarkSubscriptionPastDue) (Result, error) {
	return h.r.onSubscription(ctx, cmd.Meta, cmd.CustomerID, cmd.SubscriptionID, "", domain.MarkSubscriptionPastDue{At: h.r.now()})
}
