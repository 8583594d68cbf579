package commands

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/webhost-systems/webhost/domain"
)

// LinkStripeCustomer records the Stripe customer (cus_...) and subscription
// (sub_..., optional) that bill a subscription. Linking the same objects
// again changes nothing.
type LinkStripeCustomer struct {
	Meta
	CustomerID           uuid.UUID
	SubscriptionID       uuid.UUID
	StripeCustomerID     string
	StripeSubscriptionID string
}

// LinkStripeCustomerHandler handles LinkStripeCustomer.
type LinkStripeCustomerHandler struct{ r *Runner }

// NewLinkStripeCustomerHandler returns a handler; r must not be nil.
func NewLinkStripeCustomerHandler(r *Runner) (*LinkStripeCustomerHandler, error) {
	if r == nil {
		return nil, errors.New("commands: NewLinkStripeCustomerHandler: nil runner")
	}
	return &LinkStripeCustomerHandler{r: r}, nil
}

// Handle links. Errors match domain.ErrSubscriptionNotFound,
// domain.ErrSubscriptionCanceled, domain.ErrStripeAlreadyLinked or
// domain.ErrValidation.
func (h *LinkStripeCustomerHandler) Handle(ctx context.Context, cmd LinkStripeCustomer) (Result, error) {
	return h.r.onSubscription(ctx, cmd.Meta, cmd.CustomerID, cmd.SubscriptionID, "", domain.LinkStripeCustomer{StripeCustomerID: cmd.StripeCustomerID, StripeSubscriptionID: cmd.StripeSubscriptionID, At: h.r.now()})
}
