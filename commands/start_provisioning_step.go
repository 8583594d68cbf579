package commands

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/webhost-systems/webhost/domain"
)

// StartProvisioningStep records the intent to run a provisioning step, before
// the provider call: the next incomplete step (domain.Deployment.NextStep),
// or the current one again for a retry (the attempt number grows).
type StartProvisioningStep struct {
	Meta
	CustomerID   uuid.UUID
	DeploymentID uuid.UUID
	Step         domain.Step
}

// StartProvisioningStepHandler handles StartProvisioningStep.
type StartProvisioningStepHandler struct{ r *Runner }

// NewStartProvisioningStepHandler returns a handler; r must not be nil.
func NewStartProvisioningStepHandler(r *Runner) (*StartProvisioningStepHandler, error) {
	if r == nil {
		return nil, errors.New("commands: NewStartProvisioningStepHandler: nil runner")
	}
	return &StartProvisioningStepHandler{r: r}, nil
}

// Handle records the start. Errors match domain.ErrDeploymentNotFound,
// domain.ErrDeploymentFailed, domain.ErrDeploymentProvisioned,
// domain.ErrDeploymentDecommissioned, domain.ErrStepOutOfOrder or
// domain.ErrStepCompleted.
func (h *StartProvisioningStepHandler) Handle(ctx context.Context, cmd StartProvisioningStep) (Result, error) {
	return h.r.onDeployment(ctx, cmd.Meta, cmd.CustomerID, cmd.DeploymentID, domain.StartProvisioningStep{Step: cmd.Step, At: h.r.now()})
}
