package commands

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/webhost-systems/webhost/domain"
)

// ScaleDeployment adds or removes Fly.io regions and sets the number of read
// replicas (nil: unchanged).
type ScaleDeployment struct {
	Meta
	CustomerID    uuid.UUID
	DeploymentID  uuid.UUID
	AddRegions    []string
	RemoveRegions []string
	ReadReplicas  *int
}

// ScaleDeploymentHandler handles ScaleDeployment.
type ScaleDeploymentHandler struct{ r *Runner }

// NewScaleDeploymentHandler returns a handler; r must not be nil.
func NewScaleDeploymentHandler(r *Runner) (*ScaleDeploymentHandler, error) {
	if r == nil {
		return nil, errors.New("commands: NewScaleDeploymentHandler: nil runner")
	}
	return &ScaleDeploymentHandler{r: r}, nil
}

// Handle scales. Errors match domain.ErrDeploymentNotFound,
// domain.ErrDeploymentNotProvisioned, domain.ErrScaleNotSupported (Hetzner),
// domain.ErrNothingToChange or domain.ErrValidation.
func (h *ScaleDeploymentHandler) Handle(ctx context.Context, cmd ScaleDeployment) (Result, error) {
	return h.r.onDeployment(ctx, cmd.Meta, cmd.CustomerID, cmd.DeploymentID, domain.ScaleDeployment{AddRegions: cmd.AddRegions, RemoveRegions: cmd.RemoveRegions, ReadReplicas: cmd.ReadReplicas, At: h.r.now()})
}
