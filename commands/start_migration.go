package commands

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/webhost-systems/webhost/domain"
)

// StartMigration starts moving a provisioned deployment's data to its
// replacement (a plan change across clouds).
type StartMigration struct {
	Meta
	CustomerID         uuid.UUID
	DeploymentID       uuid.UUID
	TargetDeploymentID uuid.UUID
}

// StartMigrationHandler handles StartMigration.
type StartMigrationHandler struct{ r *Runner }

// NewStartMigrationHandler returns a handler; r must not be nil.
func NewStartMigrationHandler(r *Runner) (*StartMigrationHandler, error) {
	if r == nil {
		return nil, errors.New("commands: NewStartMigrationHandler: nil runner")
	}
	return &StartMigrationHandler{r: r}, nil
}

// Handle starts the migration. Errors match domain.ErrDeploymentNotFound,
// domain.ErrDeploymentNotProvisioned, domain.ErrMigrationInProgress or
// domain.ErrValidation.
func (h *StartMigrationHandler) Handle(ctx context.Context, cmd StartMigration) (Result, error) {
	return h.r.onDeployment(ctx, cmd.Meta, cmd.CustomerID, cmd.DeploymentID, domain.StartMigration{TargetDeploymentID: cmd.TargetDeploymentID.String(), At: h.r.now()})
}
