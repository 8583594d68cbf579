package commands

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/webhost-systems/webhost/domain"
)

// DecommissionDeployment retires a provisioned deployment that is not
// migrating (or a failed one); deleting its resources (RecordCleanup)
// follows.
type DecommissionDeployment struct {
	Meta
	CustomerID   uuid.UUID
	DeploymentID uuid.UUID
	Reason       string
}

// DecommissionDeploymentHandler handles DecommissionDeployment.
type DecommissionDeploymentHandler struct{ r *Runner }

// NewDecommissionDeploymentHandler returns a handler; r must not be nil.
func NewDecommissionDeploymentHandler(r *Runner) (*DecommissionDeploymentHandler, error) {
	if r == nil {
		return nil, errors.New("commands: NewDecommissionDeploymentHandler: nil runner")
	}
	return &DecommissionDeploymentHandler{r: r}, nil
}

// Handle decommissions. Errors match domain.ErrDeploymentNotFound,
// domain.ErrProvisioningInProgress, domain.ErrMigrationInProgress or
// domain.ErrDeploymentDecommissioned.
func (h *DecommissionDeploymentHandler) Handle(ctx context.Context, cmd DecommissionDeployment) (Result, error) {
	return h.r.onDeployment(ctx, cmd.Meta, cmd.CustomerID, cmd.DeploymentID, domain.DecommissionDeployment{Reason: cmd.Reason, At: h.r.now()})
}
