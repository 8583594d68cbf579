package commands

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/webhost-systems/webhost/domain"
)

// RevokeAPIKey revokes one of a customer's keys. It is allowed on a closed
// or suspended account (clean-up).
type RevokeAPIKey struct {
	Meta
	CustomerID uuid.UUID
	KeyID      uuid.UUID
	Reason     string
}

// RevokeAPIKeyHandler handles RevokeAPIKey.
type RevokeAPIKeyHandler struct{ r *Runner }

// NewRevokeAPIKeyHandler returns a handler; r must not be nil.
func NewRevokeAPIKeyHandler(r *Runner) (*RevokeAPIKeyHandler, error) {
	if r == nil {
		return nil, errors.New("commands: NewRevokeAPIKeyHandler: nil runner")
	}
	return &RevokeAPIKeyHandler{r: r}, nil
}

// Handle revokes the key. Errors match domain.ErrAPIKeyNotFound (also for a
// key of another customer) or domain.ErrAPIKeyRevoked.
func (h *RevokeAPIKeyHandler) Handle(ctx context.Context, cmd RevokeAPIKey) (Result, error) {
	if err := requireUUID("customer_id", cmd.CustomerID); err != nil {
		return Result{}, err
	}
	if err := requireUUID("key_id", cmd.KeyID); err != nil {
		return Result{}, err
	}
	now := h.r.now()
	return execute(ctx, h.r, APIKeyStream(cmd.KeyID), apiKeyAgg, cmd.Meta, cmd.CommandID, cmd.CustomerID.String(),
		func(k domain.APIKey) ([]domain.Event, error) {
			return domain.DecideAPIKey(k, domain.RevokeAPIKey{CustomerID: cmd.CustomerID.String(), Reason: cmd.Reason, At: now})
		})
}
