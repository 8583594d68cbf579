package commands

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/webhost-systems/webhost/domain"
)

// Stream names. Aggregates live in <kind>-<uuid>; reservations in
// email-<sha256 of the normalised address> and slug-<slug>.

// CustomerStream names a customer's stream.
func CustomerStream(id uuid.UUID) string { return "customer-" + id.String() }

// SubscriptionStream names a subscription's stream.
func SubscriptionStream(id uuid.UUID) string { return "subscription-" + id.String() }

// DeploymentStream names a deployment's stream.
func DeploymentStream(id uuid.UUID) string { return "deployment-" + id.String() }

// APIKeyStream names an API key's stream.
func APIKeyStream(id uuid.UUID) string { return "apikey-" + id.String() }

// EmailStream names the reservation stream of a normalised e-mail address
// (domain.NormalizeEmail); the address itself never appears.
func EmailStream(normalizedEmail string) string { return "email-" + domain.EmailHash(normalizedEmail) }

// SlugStream names the reservation stream of a slug.
func SlugStream(slug string) string { return "slug-" + slug }

// ErrMissingID is returned for a command without a required ID.
var ErrMissingID = errors.New("commands: missing ID")

func requireUUID(field string, id uuid.UUID) error {
	if id == uuid.Nil {
		return fmt.Errorf("%w: %s", ErrMissingID, field)
	}
	return nil
}

// activeCustomer loads a customer and checks it may act (exists, not
// closed, not suspended).
func (r *Runner) activeCustomer(ctx context.Context, id uuid.UUID, command string) (domain.Customer, error) {
	if err := requireUUID("customer_id", id); err != nil {
		return domain.Customer{}, err
	}
	c, err := loadState(ctx, r, CustomerStream(id), customerAgg)
	if err != nil {
		return c, err
	}
	return c, c.CanAct(command)
}
