package commands

import (
	"context"

	"github.com/google/uuid"

	"github.com/webhost-systems/webhost/domain"
)

// onDeployment runs a domain command on a customer's deployment.
func (r *Runner) onDeployment(ctx context.Context, meta Meta, customerID, deploymentID uuid.UUID, cmd domain.DeploymentCommand) (Result, error) {
	if err := meta.validate(); err != nil {
		return Result{}, err
	}
	if err := requireUUID("customer_id", customerID); err != nil {
		return Result{}, err
	}
	if err := requireUUID("deployment_id", deploymentID); err != nil {
		return Result{}, err
	}
	return execute(ctx, r, DeploymentStream(deploymentID), deploymentAgg, meta, meta.CommandID, customerID.String(),
		func(d domain.Deployment) ([]domain.Event, error) { return domain.DecideDeployment(d, cmd) })
}
