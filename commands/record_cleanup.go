package commands

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/webhost-systems/webhost/domain"
)

// RecordCleanup records that the resources of a failed or decommissioned
// deployment were deleted (empty Resources: every recorded one).
type RecordCleanup struct {
	Meta
	CustomerID   uuid.UUID
	DeploymentID uuid.UUID
	Resources    []domain.ResourceRef
}

// RecordCleanupHandler handles RecordCleanup.
type RecordCleanupHandler struct{ r *Runner }

// NewRecordCleanupHandler returns a handler; r must not be nil.
func NewRecordCleanupHandler(r *Runner) (*RecordCleanupHandler, error) {
	if r == nil {
		return nil, errors.New("commands: NewRecordCleanupHandler: nil runner")
	}
	return &RecordCleanupHandler{r: r}, nil
}

// Handle records the clean-up. Errors match domain.ErrDeploymentNotFound,
// domain.ErrDeploymentProvisioned, domain.ErrProvisioningInProgress or
// domain.ErrAlreadyCleanedUp.
func (h *RecordCleanupHandler) Handle(ctx context.Context, cmd RecordCleanup) (Result, error) {
	return h.r.onDeployment(ctx, cmd.Meta, cmd.CustomerID, cmd.DeploymentID, domain.RecordCleanup{Resources: cmd.Resources, At: h.r.now()})
}
