package commands

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/webhost-systems/webhost/domain"
)

// MarkDeploymentFailed gives up provisioning at Step with Reason (after the
// retries are spent). Compensation (RecordCleanup) follows.
type MarkDeploymentFailed struct {
	Meta
	CustomerID   uuid.UUID
	DeploymentID uuid.UUID
	Step         domain.Step
	Reason       string
}

// MarkDeploymentFailedHandler handles MarkDeploymentFailed.
type MarkDeploymentFailedHandler struct{ r *Runner }

// NewMarkDeploymentFailedHandler returns a handler; r must not be nil.
func NewMarkDeploymentFailedHandler(r *Runner) (*MarkDeploymentFailedHandler, error) {
	if r == nil {
		return nil, errors.New("commands: NewMarkDeploymentFailedHandler: nil runner")
	}
	return &MarkDeploymentFailedHandler{r: r}, nil
}

// Handle marks the deployment failed. Errors match
// domain.ErrDeploymentNotFound, domain.ErrDeploymentFailed,
// domain.ErrDeploymentProvisioned, domain.ErrDeploymentDecommissioned or
// domain.ErrValidation.
func (h *MarkDeploymentFailedHandler) Handle(ctx context.Context, cmd MarkDeploymentFailed) (Result, error) {
	return h.r.onDeployment(ctx, cmd.Meta, cmd.CustomerID, cmd.DeploymentID, domain.MarkDeploymentFailed{Step: cmd.Step, Reason: cmd.Reason, At: h.r.now()})
}
