package commands

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/webhost-systems/webhost/domain"
)

// FailMigration abandons a migration; the deployment keeps serving.
type FailMigration struct {
	Meta
	CustomerID         uuid.UUID
	DeploymentID       uuid.UUID
	TargetDeploymentID uuid.UUID
	Reason             string
}

// FailMigrationHandler handles FailMigration.
type FailMigrationHandler struct{ r *Runner }

// NewFailMigrationHandler returns a handler; r must not be nil.
func NewFailMigrationHandler(r *Runner) (*FailMigrationHandler, error) {
	if r == nil {
		return nil, errors.New("commands: NewFailMigrationHandler: nil runner")
	}
	return &FailMigrationHandler{r: r}, nil
}

// Handle fails the migration. Errors match domain.ErrDeploymentNotFound,
// domain.ErrNoMigration or domain.ErrValidation.
func (h *FailMigrationHandler) Handle(ctx context.Context, cmd FailMigration) (Result, error) {
	return h.r.onDeployment(ctx, cmd.Meta, cmd.CustomerID, cmd.DeploymentID, domain.FailMigration{TargetDeploymentID: cmd.TargetDeploymentID.String(), Reason: cmd.Reason, At: h.r.now()})
}
