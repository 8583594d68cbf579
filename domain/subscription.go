package domain

import (
	"strings"
	"time"
)

// Subscription event type names.
const (
	TypeSubscriptionStarted   = "SubscriptionStarted"
	TypePlanChanged           = "PlanChanged"
	TypeStripeCustomerLinked  = "StripeCustomerLinked"
	TypeSubscriptionActivated = "SubscriptionActivated"
	TypeSubscriptionPastDue   = "SubscriptionPastDue"
	TypeSubscriptionCanceled  = "SubscriptionCanceled"
)

// TrialPeriod is the length of a free trial.
const TrialPeriod = 14 * 24 * time.Hour

// SubscriptionStatus is the billing state of a subscription.
type SubscriptionStatus string

// Subscription statuses: trialing → active → past_due → canceled. The zero
// value means not started.
const (
	SubscriptionStatusNone     SubscriptionStatus = ""
	SubscriptionStatusTrialing SubscriptionStatus = "trialing"
	SubscriptionStatusActive   SubscriptionStatus = "active"
	SubscriptionStatusPastDue  SubscriptionStatus = "past_due"
	SubscriptionStatusCanceled SubscriptionStatus = "canceled"
)

// SubscriptionStarted starts a subscription on a plan, in a trial or paid.
type SubscriptionStarted struct {
	SubscriptionID string             `json:"subscription_id"`
	CustomerID     string             `json:"customer_id"`
	Plan           PlanID             `json:"plan"`
	Status         SubscriptionStatus `json:"status"`
	TrialEndsAt    *time.Time         `json:"trial_ends_at,omitempty"`
	StartedAt      time.Time          `json:"started_at"`
}

// PlanChanged moves a subscription to another plan.
type PlanChanged struct {
	SubscriptionID string    `json:"subscription_id"`
	CustomerID     string    `json:"customer_id"`
	FromPlan       PlanID    `json:"from_plan"`
	ToPlan         PlanID    `json:"to_plan"`
	ChangedAt      time.Time `json:"changed_at"`
}

// StripeCustomerLinked records the Stripe objects that bill a subscription.
type StripeCustomerLinked struct {
	SubscriptionID       string    `json:"subscription_id"`
	CustomerID           string    `json:"customer_id"`
	StripeCustomerID     string    `json:"stripe_customer_id"`
	StripeSubscriptionID string    `json:"stripe_subscription_id,omitempty"`
	LinkedAt             time.Time `json:"linked_at"`
}

// SubscriptionActivated: the subscription is paid (trial converted or a
// past-due invoice settled).
type SubscriptionActivated struct {
	SubscriptionID string    `json:"subscription_id"`
	CustomerID     string    `json:"customer_id"`
	ActivatedAt    time.Time `json:"activated_at"`
}

// SubscriptionPastDue: a payment failed.
type SubscriptionPastDue struct {
	SubscriptionID string    `json:"subscription_id"`
	CustomerID     string    `json:"customer_id"`
	PastDueAt      time.Time `json:"past_due_at"`
}

// SubscriptionCanceled ends a subscription.
type SubscriptionCanceled struct {
	SubscriptionID string    `json:"subscription_id"`
	CustomerID     string    `json:"customer_id"`
	Reason         string    `json:"reason,omitempty"`
	CanceledAt     time.Time `json:"canceled_at"`
}

// EventType implements Event.
func (SubscriptionStarted) EventType() string { return TypeSubscriptionStarted }

// EventType implements Event.
func (PlanChanged) EventType() string { return TypePlanChanged }

// EventType implements Event.
func (StripeCustomerLinked) EventType() string { return TypeStripeCustomerLinked }

// EventType implements Event.
func (SubscriptionActivated) EventType() string { return TypeSubscriptionActivated }

// EventType implements Event.
func (SubscriptionPastDue) EventType() string { return TypeSubscriptionPastDue }

// EventType implements Event.
func (SubscriptionCanceled) EventType() string { return TypeSubscriptionCanceled }

// Subscription is the state of one subscription.
type Subscription struct {
	id                   string
	customerID           string
	plan                 PlanID
	status               SubscriptionStatus
	trialEndsAt          time.Time
	stripeCustomerID     string
	stripeSubscriptionID string
	planChanges          int
}

// ID returns the subscription's ID.
func (s Subscription) ID() string { return s.id }

// CustomerID returns the subscribing customer's ID.
func (s Subscription) CustomerID() string { return s.customerID }

// Plan returns the current plan.
func (s Subscription) Plan() PlanID { return s.plan }

// Status returns the billing state.
func (s Subscription) Status() SubscriptionStatus { return s.status }

// TrialEndsAt returns the end of the trial (zero without one).
func (s Subscription) TrialEndsAt() time.Time { return s.trialEndsAt }

// StripeCustomerID returns the linked Stripe customer ("" if none).
func (s Subscription) StripeCustomerID() string { return s.stripeCustomerID }

// StripeSubscriptionID returns the linked Stripe subscription ("" if none).
func (s Subscription) StripeSubscriptionID() string { return s.stripeSubscriptionID }

// PlanChanges returns how many plan changes the subscription went through.
func (s Subscription) PlanChanges() int { return s.planChanges }

// SubscriptionCommand is a command on the Subscription aggregate.
type SubscriptionCommand interface {
	subscriptionCommand() string
}

// StartSubscription starts a subscription; Trial starts a TrialPeriod-long
// trial, otherwise it is active at once.
type StartSubscription struct {
	SubscriptionID string
	CustomerID     string
	Plan           PlanID
	Trial          bool
	At             time.Time
}

// ChangePlan moves the subscription to Plan.
type ChangePlan struct {
	Plan PlanID
	At   time.Time
}

// LinkStripeCustomer records the Stripe customer and subscription.
type LinkStripeCustomer struct {
	StripeCustomerID     string
	StripeSubscriptionID string
	At                   time.Time
}

// ActivateSubscription marks the subscription paid.
type ActivateSubscription struct {
	At time.Time
}

// MarkSubscriptionPastDue records a failed payment.
type MarkSubscriptionPastDue struct {
	At time.Time
}

// CancelSubscription ends the subscription.
type CancelSubscription struct {
	Reason string
	At     time.Time
}

func (StartSubscription) subscriptionCommand() string       { return "StartSubscription" }
func (ChangePlan) subscriptionCommand() string              { return "ChangePlan" }
func (LinkStripeCustomer) subscriptionCommand() string      { return "LinkStripeCustomer" }
func (ActivateSubscription) subscriptionCommand() string    { return "ActivateSubscription" }
func (MarkSubscriptionPastDue) subscriptionCommand() string { return "MarkSubscriptionPastDue" }
func (CancelSubscription) subscriptionCommand() string      { return "CancelSubscription" }

// DecideSubscription returns the events cmd causes on s. Errors match
// ErrValidation (with ErrPlanUnknown for an unknown plan) or
// ErrInvalidTransition with ErrSubscriptionExists, ErrSubscriptionNotFound,
// ErrSubscriptionCanceled, ErrSamePlan or ErrStripeAlreadyLinked.
// Activating an active subscription, marking a past-due one past due and
// linking the already linked Stripe objects cause no events.
func DecideSubscription(s Subscription, cmd SubscriptionCommand) ([]Event, error) {
	name := cmd.subscriptionCommand()
	if start, ok := cmd.(StartSubscription); ok {
		if s.status != SubscriptionStatusNone {
			return nil, transition("subscription", s.id, string(s.status), name, ErrSubscriptionExists)
		}
		if err := requireID("subscription_id", start.SubscriptionID); err != nil {
			return nil, err
		}
		if err := requireID("customer_id", start.CustomerID); err != nil {
			return nil, err
		}
		if _, err := LookupPlan(start.Plan); err != nil {
			return nil, err
		}
		ev := SubscriptionStarted{SubscriptionID: start.SubscriptionID, CustomerID: start.CustomerID,
			Plan: start.Plan, Status: SubscriptionStatusActive, StartedAt: start.At.UTC()}
		if start.Trial {
			end := start.At.UTC().Add(TrialPeriod)
			ev.Status, ev.TrialEndsAt = SubscriptionStatusTrialing, &end
		}
		return []Event{ev}, nil
	}
	switch s.status {
	case SubscriptionStatusNone:
		return nil, transition("subscription", s.id, "none", name, ErrSubscriptionNotFound)
	case SubscriptionStatusCanceled:
		return nil, transition("subscription", s.id, string(s.status), name, ErrSubscriptionCanceled)
	}
	switch cmd := cmd.(type) {
	case ChangePlan:
		if _, err := LookupPlan(cmd.Plan); err != nil {
			return nil, err
		}
		if cmd.Plan == s.plan {
			return nil, transition("subscription", s.id, string(s.status), name, ErrSamePlan)
		}
		return []Event{PlanChanged{SubscriptionID: s.id, CustomerID: s.customerID, FromPlan: s.plan, ToPlan: cmd.Plan, ChangedAt: cmd.At.UTC()}}, nil
	case LinkStripeCustomer:
		if err := requireStripeID("stripe_customer_id", cmd.StripeCustomerID, "cus_"); err != nil {
			return nil, err
		}
		if cmd.StripeSubscriptionID != "" {
			if err := requireStripeID("stripe_subscription_id", cmd.StripeSubscriptionID, "sub_"); err != nil {
				return nil, err
			}
		}
		if s.stripeCustomerID != "" {
			sameCustomer := s.stripeCustomerID == cmd.StripeCustomerID
			sameSub := cmd.StripeSubscriptionID == "" || s.stripeSubscriptionID == cmd.StripeSubscriptionID
			switch {
			case !sameCustomer || (s.stripeSubscriptionID != "" && !sameSub):
				return nil, transition("subscription", s.id, string(s.status), name, ErrStripeAlreadyLinked)
			case sameSub:
				return nil, nil
			}
		}
		return []Event{StripeCustomerLinked{SubscriptionID: s.id, CustomerID: s.customerID,
			StripeCustomerID: cmd.StripeCustomerID, StripeSubscriptionID: cmd.StripeSubscriptionID, LinkedAt: cmd.At.UTC()}}, nil
	case ActivateSubscription:
		if s.status == SubscriptionStatusActive {
			return nil, nil
		}
		return []Event{SubscriptionActivated{SubscriptionID: s.id, CustomerID: s.customerID, ActivatedAt: cmd.At.UTC()}}, nil
	case MarkSubscriptionPastDue:
		if s.status == SubscriptionStatusPastDue {
			return nil, nil
		}
		return []Event{SubscriptionPastDue{SubscriptionID: s.id, CustomerID: s.customerID, PastDueAt: cmd.At.UTC()}}, nil
	case CancelSubscription:
		return []Event{SubscriptionCanceled{SubscriptionID: s.id, CustomerID: s.customerID, Reason: cmd.Reason, CanceledAt: cmd.At.UTC()}}, nil
	}
	return nil, invalid("command", "unknown subscription command "+name)
}

func requireStripeID(field, id, prefix string) error {
	if !strings.HasPrefix(id, prefix) || len(id) <= len(prefix) || len(id) > 255 || strings.ContainsAny(id, " \t\r\n") {
		return invalid(field, "must be a Stripe ID starting with "+prefix)
	}
	return nil
}

// EvolveSubscription applies e to s. Events of other aggregates leave s
// unchanged.
func EvolveSubscription(s Subscription, e Event) Subscription {
	next, _ := evolveSubscription(s, e)
	return next
}

func evolveSubscription(s Subscription, e Event) (Subscription, bool) {
	switch e := e.(type) {
	case SubscriptionStarted:
		s = Subscription{id: e.SubscriptionID, customerID: e.CustomerID, plan: e.Plan, status: e.Status}
		if e.TrialEndsAt != nil {
			s.trialEndsAt = *e.TrialEndsAt
		}
	case PlanChanged:
		s.plan = e.ToPlan
		s.planChanges++
	case StripeCustomerLinked:
		s.stripeCustomerID = e.StripeCustomerID
		if e.StripeSubscriptionID != "" {
			s.stripeSubscriptionID = e.StripeSubscriptionID
		}
	case SubscriptionActivated:
		s.status = SubscriptionStatusActive
	case SubscriptionPastDue:
		s.status = SubscriptionStatusPastDue
	case SubscriptionCanceled:
		s.status = SubscriptionStatusCanceled
	default:
		return s, false
	}
	return s, true
}

// FoldSubscription rebuilds a subscription from its events. An event of
// another aggregate is an error matching ErrForeignEvent.
func FoldSubscription(events ...Event) (Subscription, error) {
	return fold(Subscription{}, evolveSubscription, events)
}
