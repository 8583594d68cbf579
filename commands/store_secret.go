package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/webhost-systems/webhost/secrets"
)

// StoreSecret keeps a generated credential (a database password, a Redis
// URL) in the secrets store under the customer's key, so that an event can
// refer to it by ID (e.g. domain.DatabaseCreated.URLSecretID) and closing
// the account erases it. The ID derives from the command ID, so a retried
// step stores the same secret once.
type StoreSecret struct {
	Meta
	CustomerID uuid.UUID
	// Kind names what the secret is, e.g. "database_url".
	Kind  string
	Value []byte
}

// StoreSecretHandler handles StoreSecret.
type StoreSecretHandler struct{ r *Runner }

// NewStoreSecretHandler returns a handler; r must not be nil.
func NewStoreSecretHandler(r *Runner) (*StoreSecretHandler, error) {
	if r == nil {
		return nil, errors.New("commands: NewStoreSecretHandler: nil runner")
	}
	return &StoreSecretHandler{r: r}, nil
}

// Handle stores the secret and returns its ID. Errors match
// secrets.ErrErased (the account was closed), secrets.ErrInvalid,
// ErrInvalidMeta or ErrMissingID.
func (h *StoreSecretHandler) Handle(ctx context.Context, cmd StoreSecret) (string, error) {
	if err := cmd.Meta.validate(); err != nil {
		return "", err
	}
	if err := requireUUID("customer_id", cmd.CustomerID); err != nil {
		return "", err
	}
	kind := strings.TrimSpace(cmd.Kind)
	id := DeriveID(cmd.CommandID, "secret", kind).String()
	if err := h.r.cfg.Secrets.Put(ctx, secrets.Secret{ID: id, Owner: cmd.CustomerID.String(), Kind: kind, Plaintext: cmd.Value}); err != nil {
		return "", fmt.Errorf("store %s secret: %w", kind, err)
	}
	return id, nil
}
