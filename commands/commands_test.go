package commands

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/webhost-systems/webhost/domain"
)

// world holds the IDs a scenario created.
type world struct {
	customer, other uuid.UUID
	sub, dep, key   uuid.UUID
}

type given func(f *fixture, w *world)

func customer(f *fixture, w *world) {
	w.customer = f.signUp("ada@example.com", "acme").CustomerID
	w.other = f.signUp("bob@example.com", "bobco").CustomerID
}

func subscribed(plan domain.PlanID) given {
	return func(f *fixture, w *world) {
		customer(f, w)
		w.sub = f.subscription(w.customer, plan)
	}
}

func requested(plan domain.PlanID) given {
	return func(f *fixture, w *world) {
		customer(f, w)
		w.dep = f.deployment(w.customer, plan)
	}
}

func provisioned(plan domain.PlanID) given {
	return func(f *fixture, w *world) {
		requested(plan)(f, w)
		f.provision(w.customer, w.dep)
	}
}

func then(steps ...given) given {
	return func(f *fixture, w *world) {
		for _, s := range steps {
			s(f, w)
		}
	}
}

func closed(f *fixture, w *world) {
	_, err := f.h.CloseAccount.Handle(f.ctx, CloseAccount{Meta: f.meta(), CustomerID: w.customer})
	f.must(err)
}

func suspended(f *fixture, w *world) {
	_, err := f.h.SuspendCustomer.Handle(f.ctx, SuspendCustomer{Meta: f.meta(), CustomerID: w.customer, Reason: "unpaid"})
	f.must(err)
}

func keyIssued(f *fixture, w *world) {
	res, err := f.h.IssueAPIKey.Handle(f.ctx, IssueAPIKey{Meta: f.meta(), CustomerID: w.customer, Name: "ci", Scopes: []string{"read"}})
	f.must(err)
	w.key = res.KeyID
}

func failed(f *fixture, w *world) {
	step := f.deploymentState(w.dep).Spec().Steps()[0]
	_, err := f.h.MarkDeploymentFailed.Handle(f.ctx, MarkDeploymentFailed{Meta: f.meta(), CustomerID: w.customer, DeploymentID: w.dep, Step: step, Reason: "quota"})
	f.must(err)
}

func migrating(f *fixture, w *world) {
	_, err := f.h.StartMigration.Handle(f.ctx, StartMigration{Meta: f.meta(), CustomerID: w.customer, DeploymentID: w.dep, TargetDeploymentID: target})
	f.must(err)
}

var target = uuid.MustParse("00000000-0000-4000-8000-000000000002")

func ptr[T any](v T) *T { return &v }

func TestCommands(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		given given
		when  func(f *fixture, w *world, m Meta) error
		then  []string // types of the events the command appends, in order
		err   error
	}{
		// SignUp
		{name: "sign up", when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.SignUp.Handle(f.ctx, SignUp{Meta: m, Name: "Ada", Email: "Ada@Example.com", Slug: "acme"})
			return err
		}, then: []string{"EmailReserved", "SlugReserved", "CustomerSignedUp", "APIKeyIssued"}},
		{name: "sign up with registered e-mail", given: customer, when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.SignUp.Handle(f.ctx, SignUp{Meta: m, Name: "Eve", Email: " ADA@example.com", Slug: "evil"})
			return err
		}, err: domain.ErrEmailAlreadyRegistered},
		{name: "sign up with taken slug releases the e-mail", given: customer, when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.SignUp.Handle(f.ctx, SignUp{Meta: m, Name: "Eve", Email: "eve@example.com", Slug: "acme"})
			return err
		}, then: []string{"EmailReserved", "EmailReleased"}, err: domain.ErrSlugTaken},
		{name: "sign up with invalid e-mail", when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.SignUp.Handle(f.ctx, SignUp{Meta: m, Name: "Ada", Email: "ada", Slug: "acme"})
			return err
		}, err: domain.ErrValidation},
		{name: "sign up with invalid slug", when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.SignUp.Handle(f.ctx, SignUp{Meta: m, Name: "Ada", Email: "ada@example.com", Slug: "Acme!"})
			return err
		}, err: domain.ErrValidation},
		{name: "sign up without name", when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.SignUp.Handle(f.ctx, SignUp{Meta: m, Name: " ", Email: "ada@example.com", Slug: "acme"})
			return err
		}, err: domain.ErrValidation},
		{name: "sign up without command id", when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.SignUp.Handle(f.ctx, SignUp{Meta: Meta{Actor: "x"}, Name: "Ada", Email: "ada@example.com", Slug: "acme"})
			return err
		}, err: ErrInvalidMeta},

		// UpdateProfile
		{name: "update name and company", given: customer, when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.UpdateProfile.Handle(f.ctx, UpdateProfile{Meta: m, CustomerID: w.customer, Name: ptr("Ada King"), Company: ptr("Engines")})
			return err
		}, then: []string{"CustomerProfileUpdated"}},
		{name: "update e-mail", given: customer, when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.UpdateProfile.Handle(f.ctx, UpdateProfile{Meta: m, CustomerID: w.customer, Email: ptr("ada@engines.example")})
			return err
		}, then: []string{"EmailReserved", "CustomerProfileUpdated", "EmailReleased"}},
		{name: "update to registered e-mail", given: customer, when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.UpdateProfile.Handle(f.ctx, UpdateProfile{Meta: m, CustomerID: w.customer, Email: ptr("bob@example.com")})
			return err
		}, err: domain.ErrEmailAlreadyRegistered},
		{name: "update to same values", given: customer, when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.UpdateProfile.Handle(f.ctx, UpdateProfile{Meta: m, CustomerID: w.customer, Name: ptr("Ada Lovelace"), Email: ptr("ADA@example.com"), Company: ptr("Analytical")})
			return err
		}, err: domain.ErrNothingToChange},
		{name: "update closed account", given: then(customer, closed), when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.UpdateProfile.Handle(f.ctx, UpdateProfile{Meta: m, CustomerID: w.customer, Company: ptr("X")})
			return err
		}, err: domain.ErrAccountClosed},
		{name: "update unknown customer", when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.UpdateProfile.Handle(f.ctx, UpdateProfile{Meta: m, CustomerID: uuid.New(), Company: ptr("X")})
			return err
		}, err: domain.ErrCustomerNotFound},

		// SuspendCustomer, ReinstateCustomer
		{name: "suspend", given: customer, when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.SuspendCustomer.Handle(f.ctx, SuspendCustomer{Meta: m, CustomerID: w.customer, Reason: "unpaid"})
			return err
		}, then: []string{"CustomerSuspended"}},
		{name: "suspend suspended", given: then(customer, suspended), when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.SuspendCustomer.Handle(f.ctx, SuspendCustomer{Meta: m, CustomerID: w.customer, Reason: "unpaid"})
			return err
		}, err: domain.ErrCustomerSuspended},
		{name: "reinstate", given: then(customer, suspended), when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.ReinstateCustomer.Handle(f.ctx, ReinstateCustomer{Meta: m, CustomerID: w.customer})
			return err
		}, then: []string{"CustomerReinstated"}},
		{name: "reinstate active", given: customer, when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.ReinstateCustomer.Handle(f.ctx, ReinstateCustomer{Meta: m, CustomerID: w.customer})
			return err
		}, err: domain.ErrCustomerNotSuspended},

		// CloseAccount
		{name: "close account", given: customer, when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.CloseAccount.Handle(f.ctx, CloseAccount{Meta: m, CustomerID: w.customer, Reason: "bye"})
			return err
		}, then: []string{"CustomerAccountClosed", "EmailReleased"}},
		{name: "close closed account", given: then(customer, closed), when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.CloseAccount.Handle(f.ctx, CloseAccount{Meta: m, CustomerID: w.customer})
			return err
		}, err: domain.ErrAccountClosed},
		{name: "close unknown account", when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.CloseAccount.Handle(f.ctx, CloseAccount{Meta: m, CustomerID: uuid.New()})
			return err
		}, err: domain.ErrCustomerNotFound},

		// IssueAPIKey, RevokeAPIKey
		{name: "issue key", given: customer, when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.IssueAPIKey.Handle(f.ctx, IssueAPIKey{Meta: m, CustomerID: w.customer, Name: "ci", Scopes: []string{"read", "write"}})
			return err
		}, then: []string{"APIKeyIssued"}},
		{name: "issue key on closed account", given: then(customer, closed), when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.IssueAPIKey.Handle(f.ctx, IssueAPIKey{Meta: m, CustomerID: w.customer, Name: "ci", Scopes: []string{"read"}})
			return err
		}, err: domain.ErrAccountClosed},
		{name: "issue key while suspended", given: then(customer, suspended), when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.IssueAPIKey.Handle(f.ctx, IssueAPIKey{Meta: m, CustomerID: w.customer, Name: "ci", Scopes: []string{"read"}})
			return err
		}, err: domain.ErrCustomerSuspended},
		{name: "issue key with unknown scope", given: customer, when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.IssueAPIKey.Handle(f.ctx, IssueAPIKey{Meta: m, CustomerID: w.customer, Name: "ci", Scopes: []string{"sudo"}})
			return err
		}, err: domain.ErrValidation},
		{name: "issue key for unknown customer", when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.IssueAPIKey.Handle(f.ctx, IssueAPIKey{Meta: m, CustomerID: uuid.New(), Name: "ci", Scopes: []string{"read"}})
			return err
		}, err: domain.ErrCustomerNotFound},
		{name: "revoke key", given: then(customer, keyIssued), when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.RevokeAPIKey.Handle(f.ctx, RevokeAPIKey{Meta: m, CustomerID: w.customer, KeyID: w.key, Reason: "leaked"})
			return err
		}, then: []string{"APIKeyRevoked"}},
		{name: "revoke revoked key", given: then(customer, keyIssued, func(f *fixture, w *world) {
			_, err := f.h.RevokeAPIKey.Handle(f.ctx, RevokeAPIKey{Meta: f.meta(), CustomerID: w.customer, KeyID: w.key})
			f.must(err)
		}), when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.RevokeAPIKey.Handle(f.ctx, RevokeAPIKey{Meta: m, CustomerID: w.customer, KeyID: w.key})
			return err
		}, err: domain.ErrAPIKeyRevoked},
		{name: "revoke another customer's key", given: then(customer, keyIssued), when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.RevokeAPIKey.Handle(f.ctx, RevokeAPIKey{Meta: m, CustomerID: w.other, KeyID: w.key})
			return err
		}, err: domain.ErrAPIKeyNotFound},
		{name: "revoke unknown key", given: customer, when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.RevokeAPIKey.Handle(f.ctx, RevokeAPIKey{Meta: m, CustomerID: w.customer, KeyID: uuid.New()})
			return err
		}, err: domain.ErrAPIKeyNotFound},

		// Subscriptions
		{name: "start subscription", given: customer, when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.StartSubscription.Handle(f.ctx, StartSubscription{Meta: m, CustomerID: w.customer, SubscriptionID: uuid.New(), Plan: domain.PlanHobby, Trial: true})
			return err
		}, then: []string{"SubscriptionStarted"}},
		{name: "start subscription on closed account", given: then(customer, closed), when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.StartSubscription.Handle(f.ctx, StartSubscription{Meta: m, CustomerID: w.customer, SubscriptionID: uuid.New(), Plan: domain.PlanHobby})
			return err
		}, err: domain.ErrAccountClosed},
		{name: "start subscription twice", given: subscribed(domain.PlanStarter), when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.StartSubscription.Handle(f.ctx, StartSubscription{Meta: m, CustomerID: w.customer, SubscriptionID: w.sub, Plan: domain.PlanHobby})
			return err
		}, err: domain.ErrSubscriptionExists},
		{name: "start subscription on unknown plan", given: customer, when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.StartSubscription.Handle(f.ctx, StartSubscription{Meta: m, CustomerID: w.customer, SubscriptionID: uuid.New(), Plan: "platinum"})
			return err
		}, err: domain.ErrPlanUnknown},
		{name: "change plan", given: subscribed(domain.PlanStarter), when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.ChangePlan.Handle(f.ctx, ChangePlan{Meta: m, CustomerID: w.customer, SubscriptionID: w.sub, Plan: domain.PlanBusiness})
			return err
		}, then: []string{"PlanChanged"}},
		{name: "change to current plan", given: subscribed(domain.PlanStarter), when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.ChangePlan.Handle(f.ctx, ChangePlan{Meta: m, CustomerID: w.customer, SubscriptionID: w.sub, Plan: domain.PlanStarter})
			return err
		}, err: domain.ErrSamePlan},
		{name: "change plan on closed account", given: then(subscribed(domain.PlanStarter), closed), when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.ChangePlan.Handle(f.ctx, ChangePlan{Meta: m, CustomerID: w.customer, SubscriptionID: w.sub, Plan: domain.PlanBusiness})
			return err
		}, err: domain.ErrAccountClosed},
		{name: "change another customer's plan", given: subscribed(domain.PlanStarter), when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.ChangePlan.Handle(f.ctx, ChangePlan{Meta: m, CustomerID: w.other, SubscriptionID: w.sub, Plan: domain.PlanBusiness})
			return err
		}, err: domain.ErrSubscriptionNotFound},
		{name: "change plan of unknown subscription", given: customer, when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.ChangePlan.Handle(f.ctx, ChangePlan{Meta: m, CustomerID: w.customer, SubscriptionID: uuid.New(), Plan: domain.PlanBusiness})
			return err
		}, err: domain.ErrSubscriptionNotFound},
		{name: "cancel subscription", given: subscribed(domain.PlanStarter), when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.CancelSubscription.Handle(f.ctx, CancelSubscription{Meta: m, CustomerID: w.customer, SubscriptionID: w.sub, Reason: "too expensive"})
			return err
		}, then: []string{"SubscriptionCanceled"}},
		{name: "cancel subscription of closed account", given: then(subscribed(domain.PlanStarter), closed), when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.CancelSubscription.Handle(f.ctx, CancelSubscription{Meta: m, CustomerID: w.customer, SubscriptionID: w.sub})
			return err
		}, then: []string{"SubscriptionCanceled"}},
		{name: "change plan of canceled subscription", given: then(subscribed(domain.PlanStarter), func(f *fixture, w *world) {
			_, err := f.h.CancelSubscription.Handle(f.ctx, CancelSubscription{Meta: f.meta(), CustomerID: w.customer, SubscriptionID: w.sub})
			f.must(err)
		}), when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.ChangePlan.Handle(f.ctx, ChangePlan{Meta: m, CustomerID: w.customer, SubscriptionID: w.sub, Plan: domain.PlanBusiness})
			return err
		}, err: domain.ErrSubscriptionCanceled},
		{name: "link stripe customer", given: subscribed(domain.PlanStarter), when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.LinkStripeCustomer.Handle(f.ctx, LinkStripeCustomer{Meta: m, CustomerID: w.customer, SubscriptionID: w.sub, StripeCustomerID: "cus_123", StripeSubscriptionID: "sub_123"})
			return err
		}, then: []string{"StripeCustomerLinked"}},
		{name: "link another stripe customer", given: then(subscribed(domain.PlanStarter), func(f *fixture, w *world) {
			_, err := f.h.LinkStripeCustomer.Handle(f.ctx, LinkStripeCustomer{Meta: f.meta(), CustomerID: w.customer, SubscriptionID: w.sub, StripeCustomerID: "cus_123"})
			f.must(err)
		}), when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.LinkStripeCustomer.Handle(f.ctx, LinkStripeCustomer{Meta: m, CustomerID: w.customer, SubscriptionID: w.sub, StripeCustomerID: "cus_999"})
			return err
		}, err: domain.ErrStripeAlreadyLinked},
		{name: "activate subscription", given: then(customer, func(f *fixture, w *world) {
			w.sub = uuid.New()
			_, err := f.h.StartSubscription.Handle(f.ctx, StartSubscription{Meta: f.meta(), CustomerID: w.customer, SubscriptionID: w.sub, Plan: domain.PlanStarter, Trial: true})
			f.must(err)
		}), when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.ActivateSubscription.Handle(f.ctx, ActivateSubscription{Meta: m, CustomerID: w.customer, SubscriptionID: w.sub})
			return err
		}, then: []string{"SubscriptionActivated"}},
		{name: "mark subscription past due", given: subscribed(domain.PlanStarter), when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.MarkSubscriptionPastDue.Handle(f.ctx, MarkSubscriptionPastDue{Meta: m, CustomerID: w.customer, SubscriptionID: w.sub})
			return err
		}, then: []string{"SubscriptionPastDue"}},

		// Deployments
		{name: "request deployment", given: customer, when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.RequestDeployment.Handle(f.ctx, RequestDeployment{Meta: m, CustomerID: w.customer, DeploymentID: uuid.New(), Plan: domain.PlanProfessional})
			return err
		}, then: []string{"DeploymentRequested"}},
		{name: "request deployment on closed account", given: then(customer, closed), when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.RequestDeployment.Handle(f.ctx, RequestDeployment{Meta: m, CustomerID: w.customer, DeploymentID: uuid.New(), Plan: domain.PlanHobby})
			return err
		}, err: domain.ErrAccountClosed},
		{name: "request deployment twice", given: requested(domain.PlanHobby), when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.RequestDeployment.Handle(f.ctx, RequestDeployment{Meta: m, CustomerID: w.customer, DeploymentID: w.dep, Plan: domain.PlanHobby})
			return err
		}, err: domain.ErrDeploymentExists},
		{name: "request deployment on unknown plan", given: customer, when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.RequestDeployment.Handle(f.ctx, RequestDeployment{Meta: m, CustomerID: w.customer, DeploymentID: uuid.New(), Plan: "mega"})
			return err
		}, err: domain.ErrPlanUnknown},
		{name: "start provisioning step", given: requested(domain.PlanHobby), when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.StartProvisioningStep.Handle(f.ctx, StartProvisioningStep{Meta: m, CustomerID: w.customer, DeploymentID: w.dep, Step: domain.StepServer})
			return err
		}, then: []string{"ProvisioningStepStarted"}},
		{name: "start provisioning step out of order", given: requested(domain.PlanHobby), when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.StartProvisioningStep.Handle(f.ctx, StartProvisioningStep{Meta: m, CustomerID: w.customer, DeploymentID: w.dep, Step: domain.StepDNS})
			return err
		}, err: domain.ErrStepOutOfOrder},
		{name: "record provisioning step", given: then(requested(domain.PlanHobby), func(f *fixture, w *world) {
			_, err := f.h.StartProvisioningStep.Handle(f.ctx, StartProvisioningStep{Meta: f.meta(), CustomerID: w.customer, DeploymentID: w.dep, Step: domain.StepServer})
			f.must(err)
		}), when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.RecordProvisioningStep.Handle(f.ctx, RecordProvisioningStep{Meta: m, CustomerID: w.customer, DeploymentID: w.dep, Result: stepResult(domain.StepServer)})
			return err
		}, then: []string{"ServerCreated"}},
		{name: "provision a failed deployment", given: then(requested(domain.PlanHobby), failed), when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.RecordProvisioningStep.Handle(f.ctx, RecordProvisioningStep{Meta: m, CustomerID: w.customer, DeploymentID: w.dep, Result: stepResult(domain.StepServer)})
			return err
		}, err: domain.ErrDeploymentFailed},
		{name: "record step of another customer's deployment", given: requested(domain.PlanHobby), when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.StartProvisioningStep.Handle(f.ctx, StartProvisioningStep{Meta: m, CustomerID: w.other, DeploymentID: w.dep, Step: domain.StepServer})
			return err
		}, err: domain.ErrDeploymentNotFound},
		{name: "mark deployment provisioned", given: then(requested(domain.PlanHobby), func(f *fixture, w *world) {
			for _, s := range []domain.Step{domain.StepServer, domain.StepDNS} {
				_, err := f.h.StartProvisioningStep.Handle(f.ctx, StartProvisioningStep{Meta: f.meta(), CustomerID: w.customer, DeploymentID: w.dep, Step: s})
				f.must(err)
				_, err = f.h.RecordProvisioningStep.Handle(f.ctx, RecordProvisioningStep{Meta: f.meta(), CustomerID: w.customer, DeploymentID: w.dep, Result: stepResult(s)})
				f.must(err)
			}
		}), when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.MarkDeploymentProvisioned.Handle(f.ctx, MarkDeploymentProvisioned{Meta: m, CustomerID: w.customer, DeploymentID: w.dep, APIURL: "https://a.example", SyncURL: "wss://a.example/sync"})
			return err
		}, then: []string{"DeploymentProvisioned"}},
		{name: "mark deployment provisioned early", given: requested(domain.PlanHobby), when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.MarkDeploymentProvisioned.Handle(f.ctx, MarkDeploymentProvisioned{Meta: m, CustomerID: w.customer, DeploymentID: w.dep, APIURL: "https://a.example", SyncURL: "wss://a.example/sync"})
			return err
		}, err: domain.ErrStepsIncomplete},
		{name: "mark deployment failed", given: requested(domain.PlanStarter), when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.MarkDeploymentFailed.Handle(f.ctx, MarkDeploymentFailed{Meta: m, CustomerID: w.customer, DeploymentID: w.dep, Step: domain.StepApp, Reason: "quota exceeded"})
			return err
		}, then: []string{"DeploymentFailed"}},
		{name: "mark provisioned deployment failed", given: provisioned(domain.PlanStarter), when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.MarkDeploymentFailed.Handle(f.ctx, MarkDeploymentFailed{Meta: m, CustomerID: w.customer, DeploymentID: w.dep, Step: domain.StepApp, Reason: "x"})
			return err
		}, err: domain.ErrDeploymentProvisioned},
		{name: "record cleanup", given: then(requested(domain.PlanStarter), failed), when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.RecordCleanup.Handle(f.ctx, RecordCleanup{Meta: m, CustomerID: w.customer, DeploymentID: w.dep})
			return err
		}, then: []string{"ResourcesCleanedUp"}},
		{name: "record cleanup of provisioned deployment", given: provisioned(domain.PlanStarter), when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.RecordCleanup.Handle(f.ctx, RecordCleanup{Meta: m, CustomerID: w.customer, DeploymentID: w.dep})
			return err
		}, err: domain.ErrDeploymentProvisioned},
		{name: "record health", given: provisioned(domain.PlanStarter), when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.RecordHealth.Handle(f.ctx, RecordHealth{Meta: m, CustomerID: w.customer, DeploymentID: w.dep, Health: domain.HealthHealthy})
			return err
		}, then: []string{"DeploymentHealthChanged"}},
		{name: "record unchanged health", given: provisioned(domain.PlanStarter), when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.RecordHealth.Handle(f.ctx, RecordHealth{Meta: m, CustomerID: w.customer, DeploymentID: w.dep, Health: domain.HealthUnknown})
			return err
		}, then: nil},
		{name: "record health before provisioned", given: requested(domain.PlanStarter), when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.RecordHealth.Handle(f.ctx, RecordHealth{Meta: m, CustomerID: w.customer, DeploymentID: w.dep, Health: domain.HealthHealthy})
			return err
		}, err: domain.ErrDeploymentNotProvisioned},
		{name: "scale deployment", given: provisioned(domain.PlanStarter), when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.ScaleDeployment.Handle(f.ctx, ScaleDeployment{Meta: m, CustomerID: w.customer, DeploymentID: w.dep, AddRegions: []string{"fra"}, ReadReplicas: ptr(1)})
			return err
		}, then: []string{"DeploymentScaled"}},
		{name: "scale hetzner deployment", given: provisioned(domain.PlanHobby), when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.ScaleDeployment.Handle(f.ctx, ScaleDeployment{Meta: m, CustomerID: w.customer, DeploymentID: w.dep, AddRegions: []string{"fra"}})
			return err
		}, err: domain.ErrScaleNotSupported},
		{name: "start migration", given: provisioned(domain.PlanHobby), when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.StartMigration.Handle(f.ctx, StartMigration{Meta: m, CustomerID: w.customer, DeploymentID: w.dep, TargetDeploymentID: target})
			return err
		}, then: []string{"DeploymentMigrationStarted"}},
		{name: "start second migration", given: then(provisioned(domain.PlanHobby), migrating), when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.StartMigration.Handle(f.ctx, StartMigration{Meta: m, CustomerID: w.customer, DeploymentID: w.dep, TargetDeploymentID: uuid.New()})
			return err
		}, err: domain.ErrMigrationInProgress},
		{name: "complete migration", given: then(provisioned(domain.PlanHobby), migrating), when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.CompleteMigration.Handle(f.ctx, CompleteMigration{Meta: m, CustomerID: w.customer, DeploymentID: w.dep, TargetDeploymentID: target})
			return err
		}, then: []string{"DeploymentMigrationCompleted"}},
		{name: "complete migration not started", given: provisioned(domain.PlanHobby), when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.CompleteMigration.Handle(f.ctx, CompleteMigration{Meta: m, CustomerID: w.customer, DeploymentID: w.dep, TargetDeploymentID: target})
			return err
		}, err: domain.ErrNoMigration},
		{name: "fail migration", given: then(provisioned(domain.PlanHobby), migrating), when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.FailMigration.Handle(f.ctx, FailMigration{Meta: m, CustomerID: w.customer, DeploymentID: w.dep, TargetDeploymentID: target, Reason: "restore failed"})
			return err
		}, then: []string{"DeploymentMigrationFailed"}},
		{name: "fail migration not started", given: provisioned(domain.PlanHobby), when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.FailMigration.Handle(f.ctx, FailMigration{Meta: m, CustomerID: w.customer, DeploymentID: w.dep, TargetDeploymentID: target, Reason: "x"})
			return err
		}, err: domain.ErrNoMigration},
		{name: "decommission deployment", given: provisioned(domain.PlanHobby), when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.DecommissionDeployment.Handle(f.ctx, DecommissionDeployment{Meta: m, CustomerID: w.customer, DeploymentID: w.dep, Reason: "replaced"})
			return err
		}, then: []string{"DeploymentDecommissioned"}},
		{name: "decommission while migrating", given: then(provisioned(domain.PlanHobby), migrating), when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.DecommissionDeployment.Handle(f.ctx, DecommissionDeployment{Meta: m, CustomerID: w.customer, DeploymentID: w.dep})
			return err
		}, err: domain.ErrMigrationInProgress},
		{name: "decommission unknown deployment", given: customer, when: func(f *fixture, w *world, m Meta) error {
			_, err := f.h.DecommissionDeployment.Handle(f.ctx, DecommissionDeployment{Meta: m, CustomerID: w.customer, DeploymentID: uuid.New()})
			return err
		}, err: domain.ErrDeploymentNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			w := &world{}
			if tc.given != nil {
				tc.given(f, w)
			}
			before := f.head()
			m := f.meta()
			err := tc.when(f, w, m)
			if tc.err == nil && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if tc.err != nil && !errors.Is(err, tc.err) {
				t.Fatalf("error = %v, want %v", err, tc.err)
			}
			var types []string
			for _, rec := range f.since(before) {
				types = append(types, rec.Type)
				md := metadataOf(t, rec)
				if md.CommandID != m.CommandID.String() || md.Actor != "system" || md.CorrelationID != "corr-test" ||
					md.CausationID != m.CommandID.String() || md.Tenant == "" || md.SchemaVersion < 1 {
					t.Errorf("%s metadata = %+v", rec.Type, md)
				}
				if w.customer != uuid.Nil && !strings.HasPrefix(tc.name, "sign up") && md.Tenant != w.customer.String() {
					t.Errorf("%s tenant = %s, want %s", rec.Type, md.Tenant, w.customer)
				}
			}
			if !reflect.DeepEqual(types, tc.then) {
				t.Fatalf("appended %v, want %v", types, tc.then)
			}
		})
	}
}
