package commands

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/webhost-systems/webhost/domain"
)

// RequestDeployment asks for a customer backend for Plan; the spec comes
// from domain.DecideInfrastructure and the DNS name from the customer's
// slug. The customer must be active.
type RequestDeployment struct {
	Meta
	CustomerID     uuid.UUID
	DeploymentID   uuid.UUID
	SubscriptionID uuid.UUID // optional
	Plan           domain.PlanID
	// ReplacesDeploymentID is set for the target of a migration.
	ReplacesDeploymentID uuid.UUID
}

// RequestDeploymentHandler handles RequestDeployment.
type RequestDeploymentHandler struct{ r *Runner }

// NewRequestDeploymentHandler returns a handler; r must not be nil.
func NewRequestDeploymentHandler(r *Runner) (*RequestDeploymentHandler, error) {
	if r == nil {
		return nil, errors.New("commands: NewRequestDeploymentHandler: nil runner")
	}
	return &RequestDeploymentHandler{r: r}, nil
}

// Handle requests the deployment. Errors match domain.ErrCustomerNotFound,
// domain.ErrAccountClosed, domain.ErrCustomerSuspended,
// domain.ErrDeploymentExists or domain.ErrPlanUnknown.
func (h *RequestDeploymentHandler) Handle(ctx context.Context, cmd RequestDeployment) (Result, error) {
	if err := cmd.Meta.validate(); err != nil {
		return Result{}, err
	}
	c, err := h.r.activeCustomer(ctx, cmd.CustomerID, "RequestDeployment")
	if err != nil {
		return Result{}, err
	}
	req := domain.RequestDeployment{DeploymentID: cmd.DeploymentID.String(), CustomerID: c.ID(), Slug: c.Slug(),
		Plan: cmd.Plan, At: h.r.now()}
	if cmd.SubscriptionID != uuid.Nil {
		req.SubscriptionID = cmd.SubscriptionID.String()
	}
	if cmd.ReplacesDeploymentID != uuid.Nil {
		req.ReplacesDeploymentID = cmd.ReplacesDeploymentID.String()
	}
	return h.r.onDeployment(ctx, cmd.Meta, cmd.CustomerID, cmd.DeploymentID, req)
}
