package domain

import (
	"errors"
	"fmt"
)

// Sentinel errors. Match them with errors.Is; the errors returned by Decide
// usually wrap one of them in a *TransitionError or *ValidationError that
// carries the context.
var (
	// ErrInvalidTransition is matched by every *TransitionError: the command
	// is not allowed in the aggregate's current state.
	ErrInvalidTransition = errors.New("domain: invalid state transition")
	// ErrValidation is matched by every *ValidationError: the command itself
	// is malformed, whatever the state.
	ErrValidation = errors.New("domain: invalid command")

	// ErrPlanUnknown: the plan is not in the catalogue.
	ErrPlanUnknown = errors.New("domain: unknown plan")

	// ErrCustomerNotFound: the customer has not signed up.
	ErrCustomerNotFound = errors.New("domain: customer not found")
	// ErrCustomerExists: a customer with this ID has already signed up.
	ErrCustomerExists = errors.New("domain: customer already exists")
	// ErrAccountClosed: the customer's account is closed; nothing may act
	// on it any more.
	ErrAccountClosed = errors.New("domain: account is closed")
	// ErrCustomerSuspended: the customer is suspended.
	ErrCustomerSuspended = errors.New("domain: account is suspended")
	// ErrCustomerNotSuspended: reinstating a customer that is not suspended.
	ErrCustomerNotSuspended = errors.New("domain: account is not suspended")
	// ErrNothingToChange: the command would not change anything.
	ErrNothingToChange = errors.New("domain: nothing to change")

	// ErrEmailAlreadyRegistered: another customer holds the e-mail address.
	ErrEmailAlreadyRegistered = errors.New("domain: e-mail already registered")
	// ErrSlugTaken: another customer holds the slug.
	ErrSlugTaken = errors.New("domain: slug already taken")
	// ErrReservationNotHeld: releasing a reservation the customer does not
	// hold.
	ErrReservationNotHeld = errors.New("domain: reservation not held by this customer")

	// ErrSubscriptionNotFound: the subscription has not started.
	ErrSubscriptionNotFound = errors.New("domain: subscription not found")
	// ErrSubscriptionExists: the subscription has already started.
	ErrSubscriptionExists = errors.New("domain: subscription already exists")
	// ErrSubscriptionCanceled: the subscription is canceled.
	ErrSubscriptionCanceled = errors.New("domain: subscription is canceled")
	// ErrSamePlan: changing to the plan the subscription already has.
	ErrSamePlan = errors.New("domain: subscription is already on this plan")
	// ErrStripeAlreadyLinked: the subscription is linked to other Stripe
	// objects.
	ErrStripeAlreadyLinked = errors.New("domain: subscription already linked to another Stripe customer")

	// ErrAPIKeyNotFound: no such key for this customer.
	ErrAPIKeyNotFound = errors.New("domain: API key not found")
	// ErrAPIKeyExists: a key with this ID was already issued.
	ErrAPIKeyExists = errors.New("domain: API key already issued")
	// ErrAPIKeyRevoked: the key is revoked.
	ErrAPIKeyRevoked = errors.New("domain: API key is revoked")

	// ErrDeploymentNotFound: the deployment was never requested.
	ErrDeploymentNotFound = errors.New("domain: deployment not found")
	// ErrDeploymentExists: a deployment with this ID was already requested.
	ErrDeploymentExists = errors.New("domain: deployment already exists")
	// ErrDeploymentFailed: the deployment failed; it cannot be provisioned.
	ErrDeploymentFailed = errors.New("domain: deployment has failed")
	// ErrDeploymentProvisioned: the deployment is already provisioned.
	ErrDeploymentProvisioned = errors.New("domain: deployment is already provisioned")
	// ErrDeploymentNotProvisioned: the command needs a provisioned
	// deployment.
	ErrDeploymentNotProvisioned = errors.New("domain: deployment is not provisioned")
	// ErrDeploymentDecommissioned: the deployment is decommissioned.
	ErrDeploymentDecommissioned = errors.New("domain: deployment is decommissioned")
	// ErrStepOutOfOrder: a provisioning step was started or recorded before
	// the steps that precede it completed, or was not started first.
	ErrStepOutOfOrder = errors.New("domain: provisioning step out of order")
	// ErrStepCompleted: the step already completed with another resource.
	ErrStepCompleted = errors.New("domain: provisioning step already completed")
	// ErrStepsIncomplete: marking a deployment provisioned before every step
	// of its spec completed.
	ErrStepsIncomplete = errors.New("domain: provisioning steps incomplete")
	// ErrProvisioningInProgress: the command needs a deployment that has
	// finished provisioning (provisioned or failed).
	ErrProvisioningInProgress = errors.New("domain: deployment is still provisioning")
	// ErrAlreadyCleanedUp: the resources were already cleaned up.
	ErrAlreadyCleanedUp = errors.New("domain: resources already cleaned up")
	// ErrScaleNotSupported: the deployment's provider cannot scale regions.
	ErrScaleNotSupported = errors.New("domain: scaling not supported on this provider")
	// ErrMigrationInProgress: a migration is already running.
	ErrMigrationInProgress = errors.New("domain: migration in progress")
	// ErrNoMigration: no migration to this target is running.
	ErrNoMigration = errors.New("domain: no such migration in progress")

	// ErrUnknownEventType: the event type is not registered.
	ErrUnknownEventType = errors.New("domain: unknown event type")
	// ErrEventData: stored event data or metadata cannot be decoded.
	ErrEventData = errors.New("domain: malformed event")
	// ErrUnsupportedSchemaVersion: the stored schema version is newer than
	// this code or has no upcaster path.
	ErrUnsupportedSchemaVersion = errors.New("domain: unsupported event schema version")
	// ErrForeignEvent: the event does not belong to the aggregate it is
	// applied to.
	ErrForeignEvent = errors.New("domain: event does not belong to this aggregate")
)

// TransitionError reports a command that the aggregate's current state
// forbids. It matches ErrInvalidTransition and its Err (errors.Is).
type TransitionError struct {
	Aggregate string // "customer", "subscription", "deployment", "apikey", "reservation"
	ID        string
	State     string // the state the aggregate was in
	Command   string
	Err       error // the specific sentinel, e.g. ErrDeploymentFailed
}

// Error describes the refused command and the state that refused it.
func (e *TransitionError) Error() string {
	id := e.ID
	if id == "" {
		id = "(new)"
	}
	return fmt.Sprintf("%s %s: %s not allowed in state %q: %v", e.Aggregate, id, e.Command, e.State, e.Err)
}

// Unwrap returns the specific sentinel.
func (e *TransitionError) Unwrap() error { return e.Err }

// Is makes every TransitionError match ErrInvalidTransition.
func (e *TransitionError) Is(target error) bool { return target == ErrInvalidTransition }

// ValidationError reports a malformed command field. It matches ErrValidation
// and its Err, when set.
type ValidationError struct {
	Field  string
	Reason string
	Err    error // optional specific sentinel, e.g. ErrPlanUnknown
}

// Error names the field and why it is invalid.
func (e *ValidationError) Error() string {
	return fmt.Sprintf("invalid %s: %s", e.Field, e.Reason)
}

// Unwrap returns the specific sentinel, if any.
func (e *ValidationError) Unwrap() error { return e.Err }

// Is makes every ValidationError match ErrValidation.
func (e *ValidationError) Is(target error) bool { return target == ErrValidation }

func invalid(field, reason string) error { return &ValidationError{Field: field, Reason: reason} }

func transition(aggregate, id, state, command string, err error) error {
	return &TransitionError{Aggregate: aggregate, ID: id, State: state, Command: command, Err: err}
}
