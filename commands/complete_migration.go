package commands

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/webhost-systems/webhost/domain"
)

// CompleteMigration records that the replacement deployment serves (data copied, DNS switched).
type CompleteMigration struct {
	Meta
	CustomerID         uuid.UUID
	DeploymentID       uuid.UUID
	TargetDeploymentID uuid.UUID
}

// CompleteMigrationHandler handles CompleteMigration.
type CompleteMigrationHandler struct{ r *Runner }

// NewCompleteMigrationHandler returns a handler; r must not be nil.
func NewCompleteMigrationHandler(r *Runner) (*CompleteMigrationHandler, error) {
	if r == nil {
		return nil, errors.New("commands: NewCompleteMigrationHandler: nil runner")
	}
	return &CompleteMigrationHandler{r: r}, nil
}

// Handle completes the migration. Errors match
// domain.ErrDeploymentNotFound or domain.ErrNoMigration.
func (h *CompleteMigrationHandler) Handle(ctx context.Context, cmd CompleteMigration) (Result, error) {
	return h.r.onDeployment(ctx, cmd.Meta, cmd.CustomerID, cmd.DeploymentID, domain.CompleteMigration{TargetDeploymentID: cmd.TargetDeploymentID.String(), At: h.r.now()})
}
