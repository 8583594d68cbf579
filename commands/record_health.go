package commands

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/webhost-systems/webhost/domain"
)

// RecordHealth records a health check of a provisioned deployment; only a
// change appends DeploymentHealthChanged.
type RecordHealth struct {
	Meta
	CustomerID   uuid.UUID
	DeploymentID uuid.UUID
	Health       domain.DeploymentHealth
	Detail       string
}

// RecordHealthHandler handles RecordHealth.
type RecordHealthHandler struct{ r *Runner }

// NewRecordHealthHandler returns a handler; r must not be nil.
func NewRecordHealthHandler(r *Runner) (*RecordHealthHandler, error) {
	if r == nil {
		return nil, errors.New("commands: NewRecordHealthHandler: nil runner")
	}
	return &RecordHealthHandler{r: r}, nil
}

// Handle records the health. Errors match domain.ErrDeploymentNotFound,
// domain.ErrDeploymentNotProvisioned, domain.ErrDeploymentFailed,
// domain.ErrDeploymentDecommissioned or domain.ErrValidation.
func (h *RecordHealthHandler) Handle(ctx context.Context, cmd RecordHealth) (Result, error) {
	return h.r.onDeployment(ctx, cmd.Meta, cmd.CustomerID, cmd.DeploymentID, domain.RecordHealth{Health: cmd.Health, Detail: cmd.Detail, At: h.r.now()})
}
