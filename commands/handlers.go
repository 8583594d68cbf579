package commands

import "fmt"

// Handlers holds one handler per use case, sharing one Runner. cmd/webhost
// builds it once and hands it to the HTTP API and the process managers.
type Handlers struct {
	Runner *Runner

	SignUp            *SignUpHandler
	UpdateProfile     *UpdateProfileHandler
	SuspendCustomer   *SuspendCustomerHandler
	ReinstateCustomer *ReinstateCustomerHandler
	CloseAccount      *CloseAccountHandler

	IssueAPIKey  *IssueAPIKeyHandler
	RevokeAPIKey *RevokeAPIKeyHandler

	StartSubscription       *StartSubscriptionHandler
	ChangePlan              *ChangePlanHandler
	CancelSubscription      *CancelSubscriptionHandler
	LinkStripeCustomer      *LinkStripeCustomerHandler
	ActivateSubscription    *ActivateSubscriptionHandler
	MarkSubscriptionPastDue *MarkSubscriptionPastDueHandler

	RequestDeployment         *RequestDeploymentHandler
	StartProvisioningStep     *StartProvisioningStepHandler
	RecordProvisioningStep    *RecordProvisioningStepHandler
	MarkDeploymentProvisioned *MarkDeploymentProvisionedHandler
	MarkDeploymentFailed      *MarkDeploymentFailedHandler
	RecordCleanup             *RecordCleanupHandler
	RecordHealth              *RecordHealthHandler
	ScaleDeployment           *ScaleDeploymentHandler
	StartMigration            *StartMigrationHandler
	CompleteMigration         *CompleteMigrationHandler
	FailMigration             *FailMigrationHandler
	DecommissionDeployment    *DecommissionDeploymentHandler

	StoreSecret *StoreSecretHandler
}

// New validates cfg and builds every handler.
func New(cfg Config) (*Handlers, error) {
	r, err := NewRunner(cfg)
	if err != nil {
		return nil, err
	}
	h := &Handlers{Runner: r}
	for _, step := range []func() error{
		func() (err error) { h.SignUp, err = NewSignUpHandler(r); return },
		func() (err error) { h.UpdateProfile, err = NewUpdateProfileHandler(r); return },
		func() (err error) { h.SuspendCustomer, err = NewSuspendCustomerHandler(r); return },
		func() (err error) { h.ReinstateCustomer, err = NewReinstateCustomerHandler(r); return },
		func() (err error) { h.CloseAccount, err = NewCloseAccountHandler(r); return },
		func() (err error) { h.IssueAPIKey, err = NewIssueAPIKeyHandler(r); return },
		func() (err error) { h.RevokeAPIKey, err = NewRevokeAPIKeyHandler(r); return },
		func() (err error) { h.StartSubscription, err = NewStartSubscriptionHandler(r); return },
		func() (err error) { h.ChangePlan, err = NewChangePlanHandler(r); return },
		func() (err error) { h.CancelSubscription, err = NewCancelSubscriptionHandler(r); return },
		func() (err error) { h.LinkStripeCustomer, err = NewLinkStripeCustomerHandler(r); return },
		func() (err error) { h.ActivateSubscription, err = NewActivateSubscriptionHandler(r); return },
		func() (err error) { h.MarkSubscriptionPastDue, err = NewMarkSubscriptionPastDueHandler(r); return },
		func() (err error) { h.RequestDeployment, err = NewRequestDeploymentHandler(r); return },
		func() (err error) { h.StartProvisioningStep, err = NewStartProvisioningStepHandler(r); return },
		func() (err error) { h.RecordProvisioningStep, err = NewRecordProvisioningStepHandler(r); return },
		func() (err error) { h.MarkDeploymentProvisioned, err = NewMarkDeploymentProvisionedHandler(r); return },
		func() (err error) { h.MarkDeploymentFailed, err = NewMarkDeploymentFailedHandler(r); return },
		func() (err error) { h.RecordCleanup, err = NewRecordCleanupHandler(r); return },
		func() (err error) { h.RecordHealth, err = NewRecordHealthHandler(r); return },
		func() (err error) { h.ScaleDeployment, err = NewScaleDeploymentHandler(r); return },
		func() (err error) { h.StartMigration, err = NewStartMigrationHandler(r); return },
		func() (err error) { h.CompleteMigration, err = NewCompleteMigrationHandler(r); return },
		func() (err error) { h.FailMigration, err = NewFailMigrationHandler(r); return },
		func() (err error) { h.DecommissionDeployment, err = NewDecommissionDeploymentHandler(r); return },
		func() (err error) { h.StoreSecret, err = NewStoreSecretHandler(r); return },
	} {
		if err := step(); err != nil {
			return nil, fmt.Errorf("commands: %w", err)
		}
	}
	return h, nil
}
