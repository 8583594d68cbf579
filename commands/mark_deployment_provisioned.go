package commands

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/webhost-systems/webhost/domain"
)

// MarkDeploymentProvisioned completes provisioning once every step recorded its resource.
type MarkDeploymentProvisioned struct {
	Meta
	CustomerID   uuid.UUID
	DeploymentID uuid.UUID
	APIURL       string // https://...
	SyncURL      string // wss://...
}

// MarkDeploymentProvisionedHandler handles MarkDeploymentProvisioned.
type MarkDeploymentProvisionedHandler struct{ r *Runner }

// NewMarkDeploymentProvisionedHandler returns a handler; r must not be nil.
func NewMarkDeploymentProvisionedHandler(r *Runner) (*MarkDeploymentProvisionedHandler, error) {
	if r == nil {
		return nil, errors.New("commands: NewMarkDeploymentProvisionedHandler: nil runner")
	}
	return &MarkDeploymentProvisionedHandler{r: r}, nil
}

// Handle marks the deployment provisioned. Errors match
// domain.ErrDeploymentNotFound, domain.ErrDeploymentFailed,
// domain.ErrDeploymentProvisioned, domain.ErrDeploymentDecommissioned,
// domain.ErrStepsIncomplete or domain.ErrValidation (URLs).
func (h *MarkDeploymentProvisionedHandler) Handle(ctx context.Context, cmd MarkDeploymentProvisioned) (Result, error) {
	return h.r.onDeployment(ctx, cmd.Meta, cmd.CustomerID, cmd.DeploymentID, domain.MarkDeploymentProvisioned{APIURL: cmd.APIURL, SyncURL: cmd.SyncURL, At: h.r.now()})
}
