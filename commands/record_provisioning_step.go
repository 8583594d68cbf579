package commands

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/webhost-systems/webhost/domain"
)

// RecordProvisioningStep records the resource a started provisioning step
// created, with its provider IDs: one of domain.ServerCreated, AppCreated,
// DatabaseCreated, RedisCreated, MachinesLaunched or DNSRecordCreated
// (DeploymentID and CreatedAt are filled in). Credentials go to the secrets
// store; Result carries only their secret IDs. Recording the same resource
// again changes nothing, so a resumed process manager may repeat it.
type RecordProvisioningStep struct {
	Meta
	CustomerID   uuid.UUID
	DeploymentID uuid.UUID
	Result       domain.StepResult
}

// RecordProvisioningStepHandler handles RecordProvisioningStep.
type RecordProvisioningStepHandler struct{ r *Runner }

// NewRecordProvisioningStepHandler returns a handler; r must not be nil.
func NewRecordProvisioningStepHandler(r *Runner) (*RecordProvisioningStepHandler, error) {
	if r == nil {
		return nil, errors.New("commands: NewRecordProvisioningStepHandler: nil runner")
	}
	return &RecordProvisioningStepHandler{r: r}, nil
}

// Handle records the step. Errors match domain.ErrDeploymentNotFound,
// domain.ErrDeploymentFailed (provisioning a failed deployment),
// domain.ErrDeploymentProvisioned, domain.ErrDeploymentDecommissioned,
// domain.ErrStepOutOfOrder (not started first), domain.ErrStepCompleted
// (another resource) or domain.ErrValidation.
func (h *RecordProvisioningStepHandler) Handle(ctx context.Context, cmd RecordProvisioningStep) (Result, error) {
	return h.r.onDeployment(ctx, cmd.Meta, cmd.CustomerID, cmd.DeploymentID, domain.RecordProvisioningStep{Result: cmd.Result, At: h.r.now()})
}
