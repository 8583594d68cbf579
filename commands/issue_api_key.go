package commands

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"

	"github.com/webhost-systems/webhost/domain"
	"github.com/webhost-systems/webhost/eventstore"
	"github.com/webhost-systems/webhost/sync/syncauth"
)

// APIKeyRandomBytes is the entropy of an API key.
const APIKeyRandomBytes = 32

// apiKeyDisplayChars is how many characters after the prefix are kept for
// display.
const apiKeyDisplayChars = 8

// IssueAPIKey issues a new API key to an active customer.
type IssueAPIKey struct {
	Meta
	CustomerID uuid.UUID
	// KeyID is optional; by default it derives from the command ID.
	KeyID  uuid.UUID
	Name   string
	Scopes []string // read, write, admin
}

// IssueAPIKeyResult is the new key. APIKey is the plain text, returned only
// here and only once: empty for a resubmitted command (Duplicate).
type IssueAPIKeyResult struct {
	KeyID     uuid.UUID
	APIKey    string
	Prefix    string
	Position  eventstore.Position
	Duplicate bool
}

// IssueAPIKeyHandler handles IssueAPIKey.
type IssueAPIKeyHandler struct{ r *Runner }

// NewIssueAPIKeyHandler returns a handler; r must not be nil.
func NewIssueAPIKeyHandler(r *Runner) (*IssueAPIKeyHandler, error) {
	if r == nil {
		return nil, errors.New("commands: NewIssueAPIKeyHandler: nil runner")
	}
	return &IssueAPIKeyHandler{r: r}, nil
}

// Handle issues the key. Errors match domain.ErrCustomerNotFound,
// domain.ErrAccountClosed, domain.ErrCustomerSuspended, domain.ErrValidation
// (name, scopes) or domain.ErrAPIKeyExists.
func (h *IssueAPIKeyHandler) Handle(ctx context.Context, cmd IssueAPIKey) (IssueAPIKeyResult, error) {
	if err := cmd.Meta.validate(); err != nil {
		return IssueAPIKeyResult{}, err
	}
	if _, err := h.r.activeCustomer(ctx, cmd.CustomerID, "IssueAPIKey"); err != nil {
		return IssueAPIKeyResult{}, err
	}
	keyID := cmd.KeyID
	if keyID == uuid.Nil {
		keyID = DeriveID(cmd.CommandID, "apikey")
	}
	return issueKey(ctx, h.r, cmd.Meta, cmd.CustomerID, keyID, cmd.Name, cmd.Scopes, h.r.now())
}

// issueKey generates a key and appends APIKeyIssued with its hash.
func issueKey(ctx context.Context, r *Runner, meta Meta, customerID, keyID uuid.UUID, name string, scopes []string, now time.Time) (IssueAPIKeyResult, error) {
	plain, prefix, hash, err := generateAPIKey(r.cfg.Rand)
	if err != nil {
		return IssueAPIKeyResult{}, err
	}
	res, err := execute(ctx, r, APIKeyStream(keyID), apiKeyAgg, meta, meta.CommandID, customerID.String(),
		func(k domain.APIKey) ([]domain.Event, error) {
			return domain.DecideAPIKey(k, domain.IssueAPIKey{KeyID: keyID.String(), CustomerID: customerID.String(),
				Name: name, Prefix: prefix, Hash: hash, Scopes: scopes, At: now})
		})
	if err != nil {
		return IssueAPIKeyResult{}, err
	}
	out := IssueAPIKeyResult{KeyID: keyID, Position: res.Position, Duplicate: res.Duplicate}
	if !res.Duplicate {
		out.APIKey, out.Prefix = plain, prefix
	}
	return out, nil
}

// generateAPIKey returns whs_live_ + 32 random bytes (unpadded base64url),
// its display prefix and its SHA-256 (syncauth.HashKey, the form the
// authenticators look up).
func generateAPIKey(random io.Reader) (plain, prefix, hash string, err error) {
	b := make([]byte, APIKeyRandomBytes)
	if _, err := io.ReadFull(random, b); err != nil {
		return "", "", "", fmt.Errorf("generate API key: %w", err)
	}
	body := base64.RawURLEncoding.EncodeToString(b)
	plain = syncauth.KeyPrefix + body
	return plain, syncauth.KeyPrefix + body[:apiKeyDisplayChars], syncauth.HashKey(plain), nil
}
