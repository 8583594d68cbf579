// Package secrets is WebHost's encrypted secrets store: generated passwords,
// tokens, database URLs and erasable personal data (a customer's name and
// e-mail address). Events never hold them; they hold secret IDs.
//
// Every secret belongs to an owner (a customer ID, or "platform") and is
// sealed with AES-256-GCM under that owner's data key. Data keys are
// themselves sealed with the master key (WEBHOST_SECRET_KEY, read by
// cmd/webhost). Shred deletes an owner's data key and ciphertexts, which
// erases all of its secrets at once (crypto-shredding): the events that
// refer to them stay valid, and reading them reports ErrErased.
//
// Store keeps secrets in PostgreSQL (schema `secrets`, created by
// Migrations); Memory keeps them in process for unit tests. Both satisfy the
// same behaviour, checked by one test suite.
//
// Caveat: PostgreSQL keeps dead row versions until VACUUM and in WAL and
// backups, so a shredded wrapped key stays recoverable by someone who holds
// both such a copy and the master key, until those expire.
package secrets

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Errors. Match them with errors.Is.
var (
	// ErrNotFound: no secret with this ID.
	ErrNotFound = errors.New("secrets: not found")
	// ErrErased: the owner's data key was shredded; the secret is gone for
	// good. Readers show the value as erased.
	ErrErased = errors.New("secrets: erased")
	// ErrConflict: a secret with this ID exists with another owner or kind.
	ErrConflict = errors.New("secrets: id already used for another secret")
	// ErrWrongMasterKey: the data key was wrapped by another master key.
	ErrWrongMasterKey = errors.New("secrets: data key sealed with a different master key")
	// ErrCorrupt: a ciphertext fails authentication.
	ErrCorrupt = errors.New("secrets: ciphertext failed authentication")
	// ErrInvalid: a secret without ID, owner or kind, or too long a field.
	ErrInvalid = errors.New("secrets: invalid secret")
)

// Secret kinds used by the platform.
const (
	KindName  = "name"
	KindEmail = "email"
)

// PlatformOwner owns secrets that belong to no customer.
const PlatformOwner = "platform"

// Secret is one secret value.
type Secret struct {
	ID        string
	Owner     string
	Kind      string
	Plaintext []byte
}

func (s Secret) validate() error {
	for _, f := range []struct{ name, v string }{{"id", s.ID}, {"owner", s.Owner}, {"kind", s.Kind}} {
		if strings.TrimSpace(f.v) == "" || len(f.v) > 200 || strings.ContainsRune(f.v, 0) {
			return fmt.Errorf("%w: %s must be 1 to 200 bytes without NUL", ErrInvalid, f.name)
		}
	}
	if len(s.Plaintext) > 1<<20 {
		return fmt.Errorf("%w: plaintext over 1 MiB", ErrInvalid)
	}
	return nil
}

// Config configures a Store or Memory.
type Config struct {
	// MasterKey is the 32-byte key that wraps the data keys (ParseKey
	// decodes WEBHOST_SECRET_KEY). Required.
	MasterKey []byte
	// PreviousKeys are former master keys. Data keys they wrapped stay
	// readable, and Store.Rotate re-wraps them with MasterKey.
	PreviousKeys [][]byte
	// Rand supplies keys and nonces (default crypto/rand.Reader).
	Rand io.Reader
	// Now stamps rows (default time.Now).
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if c.Rand == nil {
		c.Rand = rand.Reader
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate reports a configuration that cannot work: a master key that is
// not 32 bytes (ErrInvalidKey).
func (c Config) Validate() error {
	if len(c.MasterKey) != KeySize {
		return fmt.Errorf("%w (got %d bytes)", ErrInvalidKey, len(c.MasterKey))
	}
	for i, k := range c.PreviousKeys {
		if len(k) != KeySize {
			return fmt.Errorf("previous key %d: %w (got %d bytes)", i, ErrInvalidKey, len(k))
		}
	}
	return nil
}

// Reader resolves secret IDs. Projections and the API use it to show
// personal data; they render ErrErased as "erased".
type Reader interface {
	// Get returns the secret, or an error matching ErrNotFound or ErrErased.
	Get(ctx context.Context, id string) (Secret, error)
}

// GetString returns the secret's plaintext as a string.
func GetString(ctx context.Context, r Reader, id string) (string, error) {
	s, err := r.Get(ctx, id)
	if err != nil {
		return "", err
	}
	return string(s.Plaintext), nil
}
