package domain

import (
	"errors"
	"testing"
)

func TestSubscriptionDecide(t *testing.T) {
	t.Parallel()
	trialEnd := t0.Add(TrialPeriod)
	started := SubscriptionStarted{SubscriptionID: "s1", CustomerID: "c1", Plan: PlanStarter, Status: SubscriptionStatusActive, StartedAt: t0}
	trialing := SubscriptionStarted{SubscriptionID: "s1", CustomerID: "c1", Plan: PlanHobby, Status: SubscriptionStatusTrialing, TrialEndsAt: &trialEnd, StartedAt: t0}
	canceled := SubscriptionCanceled{SubscriptionID: "s1", CustomerID: "c1", CanceledAt: t0}
	pastDue := SubscriptionPastDue{SubscriptionID: "s1", CustomerID: "c1", PastDueAt: t0}
	linked := StripeCustomerLinked{SubscriptionID: "s1", CustomerID: "c1", StripeCustomerID: "cus_1", StripeSubscriptionID: "sub_1", LinkedAt: t0}
	runGWT(t, FoldSubscription, DecideSubscription, EvolveSubscription, []gwt[SubscriptionCommand]{
		{name: "start paid", when: StartSubscription{SubscriptionID: "s1", CustomerID: "c1", Plan: PlanStarter, At: t0}, then: []Event{started}},
		{name: "start trial", when: StartSubscription{SubscriptionID: "s1", CustomerID: "c1", Plan: PlanHobby, Trial: true, At: t0}, then: []Event{trialing}},
		{name: "start unknown plan", when: StartSubscription{SubscriptionID: "s1", CustomerID: "c1", Plan: "enterprise"}, err: ErrPlanUnknown},
		{name: "start twice", given: []Event{started}, when: StartSubscription{SubscriptionID: "s1", CustomerID: "c1", Plan: PlanStarter}, err: ErrSubscriptionExists},
		{name: "start without ids", when: StartSubscription{Plan: PlanStarter}, err: ErrValidation},
		{name: "change plan", given: []Event{started}, when: ChangePlan{Plan: PlanBusiness, At: t0},
			then: []Event{PlanChanged{SubscriptionID: "s1", CustomerID: "c1", FromPlan: PlanStarter, ToPlan: PlanBusiness, ChangedAt: t0}}},
		{name: "change plan in trial", given: []Event{trialing}, when: ChangePlan{Plan: PlanStarter, At: t0},
			then: []Event{PlanChanged{SubscriptionID: "s1", CustomerID: "c1", FromPlan: PlanHobby, ToPlan: PlanStarter, ChangedAt: t0}}},
		{name: "change to current plan", given: []Event{started}, when: ChangePlan{Plan: PlanStarter}, err: ErrSamePlan},
		{name: "change to unknown plan", given: []Event{started}, when: ChangePlan{Plan: "gold"}, err: ErrPlanUnknown},
		{name: "change plan not started", when: ChangePlan{Plan: PlanStarter}, err: ErrSubscriptionNotFound},
		{name: "change plan canceled", given: []Event{started, canceled}, when: ChangePlan{Plan: PlanBusiness}, err: ErrSubscriptionCanceled},
		{name: "link stripe", given: []Event{started}, when: LinkStripeCustomer{StripeCustomerID: "cus_1", StripeSubscriptionID: "sub_1", At: t0}, then: []Event{linked}},
		{name: "link stripe again", given: []Event{started, linked}, when: LinkStripeCustomer{StripeCustomerID: "cus_1", StripeSubscriptionID: "sub_1"}, then: nil},
		{name: "link stripe subscription later", given: []Event{started, StripeCustomerLinked{SubscriptionID: "s1", CustomerID: "c1", StripeCustomerID: "cus_1"}},
			when: LinkStripeCustomer{StripeCustomerID: "cus_1", StripeSubscriptionID: "sub_1", At: t0}, then: []Event{linked}},
		{name: "link other stripe customer", given: []Event{started, linked}, when: LinkStripeCustomer{StripeCustomerID: "cus_2"}, err: ErrStripeAlreadyLinked},
		{name: "link other stripe subscription", given: []Event{started, linked}, when: LinkStripeCustomer{StripeCustomerID: "cus_1", StripeSubscriptionID: "sub_2"}, err: ErrStripeAlreadyLinked},
		{name: "link malformed stripe id", given: []Event{started}, when: LinkStripeCustomer{StripeCustomerID: "1"}, err: ErrValidation},
		{name: "link canceled", given: []Event{started, canceled}, when: LinkStripeCustomer{StripeCustomerID: "cus_1"}, err: ErrSubscriptionCanceled},
		{name: "activate trial", given: []Event{trialing}, when: ActivateSubscription{At: t0}, then: []Event{SubscriptionActivated{SubscriptionID: "s1", CustomerID: "c1", ActivatedAt: t0}}},
		{name: "activate active", given: []Event{started}, when: ActivateSubscription{}, then: nil},
		{name: "activate past due", given: []Event{started, pastDue}, when: ActivateSubscription{At: t0}, then: []Event{SubscriptionActivated{SubscriptionID: "s1", CustomerID: "c1", ActivatedAt: t0}}},
		{name: "activate canceled", given: []Event{started, canceled}, when: ActivateSubscription{}, err: ErrSubscriptionCanceled},
		{name: "past due", given: []Event{started}, when: MarkSubscriptionPastDue{At: t0}, then: []Event{pastDue}},
		{name: "past due twice", given: []Event{started, pastDue}, when: MarkSubscriptionPastDue{}, then: nil},
		{name: "past due not started", when: MarkSubscriptionPastDue{}, err: ErrSubscriptionNotFound},
		{name: "cancel", given: []Event{started}, when: CancelSubscription{At: t0}, then: []Event{canceled}},
		{name: "cancel twice", given: []Event{started, canceled}, when: CancelSubscription{}, err: ErrSubscriptionCanceled},
		{name: "cancel not started", when: CancelSubscription{}, err: ErrSubscriptionNotFound},
	})
}

func TestSubscriptionState(t *testing.T) {
	t.Parallel()
	end := t0.Add(TrialPeriod)
	s, err := FoldSubscription(
		SubscriptionStarted{SubscriptionID: "s1", CustomerID: "c1", Plan: PlanHobby, Status: SubscriptionStatusTrialing, TrialEndsAt: &end},
		PlanChanged{ToPlan: PlanBusiness},
		StripeCustomerLinked{StripeCustomerID: "cus_1", StripeSubscriptionID: "sub_1"},
		SubscriptionActivated{},
	)
	if err != nil {
		t.Fatal(err)
	}
	if s.ID() != "s1" || s.CustomerID() != "c1" || s.Plan() != PlanBusiness || s.Status() != SubscriptionStatusActive ||
		!s.TrialEndsAt().Equal(end) || s.StripeCustomerID() != "cus_1" || s.StripeSubscriptionID() != "sub_1" || s.PlanChanges() != 1 {
		t.Fatalf("unexpected state %+v", s)
	}
	if _, err := FoldSubscription(APIKeyRevoked{}); !errors.Is(err, ErrForeignEvent) {
		t.Fatalf("foreign event: %v", err)
	}
}
