package commands

import (
	"context"

	"github.com/google/uuid"

	"github.com/webhost-systems/webhost/domain"
)

// onSubscription runs a domain command on a customer's subscription. When
// command is not empty the customer must be able to act (exist, not closed,
// not suspended).
func (r *Runner) onSubscription(ctx context.Context, meta Meta, customerID, subscriptionID uuid.UUID, command string, cmd domain.SubscriptionCommand) (Result, error) {
	if err := meta.validate(); err != nil {
		return Result{}, err
	}
	if err := requireUUID("customer_id", customerID); err != nil {
		return Result{}, err
	}
	if err := requireUUID("subscription_id", subscriptionID); err != nil {
		return Result{}, err
	}
	if command != "" {
		if _, err := r.activeCustomer(ctx, customerID, command); err != nil {
			return Result{}, err
		}
	}
	return execute(ctx, r, SubscriptionStream(subscriptionID), subscriptionAgg, meta, meta.CommandID, customerID.String(),
		func(s domain.Subscription) ([]domain.Event, error) { return domain.DecideSubscription(s, cmd) })
}
