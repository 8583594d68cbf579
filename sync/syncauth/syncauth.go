// Package syncauth authenticates sync clients (Yjs WebSocket and row sync) by
// API key. Keys are never held in plain text: only their SHA-256 hashes are
// looked up. The control plane's key table backs it in production; a key file
// backs it for a standalone sync server.
package syncauth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
)

// Scopes an API key can hold.
const (
	ScopeRead  = "read"
	ScopeWrite = "write"
	ScopeAdmin = "admin"
)

// KeyPrefix starts every WebHost API key.
const KeyPrefix = "whs_live_"

// Principal is who a key belongs to and what it may do.
type Principal struct {
	CustomerID string
	KeyID      string
	Scopes     []string
}

// CanWrite reports whether the key may change data.
func (p Principal) CanWrite() bool {
	return slices.Contains(p.Scopes, ScopeWrite) || slices.Contains(p.Scopes, ScopeAdmin)
}

// ErrUnauthenticated means the token is missing, malformed, unknown or
// revoked (WebSocket close 4401, HTTP 401).
var ErrUnauthenticated = errors.New("syncauth: invalid or revoked API key")

// ErrForbidden means the key is valid but lacks the needed scope
// (WebSocket close 4403, HTTP 403).
var ErrForbidden = errors.New("syncauth: API key lacks the required scope")

// Authenticator resolves an API key to its principal.
type Authenticator interface {
	// Authenticate returns ErrUnauthenticated for an unknown or revoked key.
	Authenticate(ctx context.Context, token string) (Principal, error)
}

// HashKey returns the hex SHA-256 of an API key, the only form stored.
func HashKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// FileKey is one entry of a key file.
type FileKey struct {
	KeyID      string   `json:"key_id"`
	CustomerID string   `json:"customer_id"`
	KeySHA256  string   `json:"key_sha256"`
	Scopes     []string `json:"scopes"`
}

// KeyFile authenticates against a fixed set of hashed keys.
type KeyFile struct {
	byHash map[string]FileKey
}

// NewKeyFile validates keys and indexes them by hash.
func NewKeyFile(keys []FileKey) (*KeyFile, error) {
	kf := &KeyFile{byHash: make(map[string]FileKey, len(keys))}
	for i, k := range keys {
		h := strings.ToLower(k.KeySHA256)
		if len(h) != 64 {
			return nil, fmt.Errorf("syncauth: key %d (%q): key_sha256 must be 64 hex digits", i, k.KeyID)
		}
		if _, err := hex.DecodeString(h); err != nil {
			return nil, fmt.Errorf("syncauth: key %d (%q): key_sha256: %w", i, k.KeyID, err)
		}
		if k.CustomerID == "" || k.KeyID == "" {
			return nil, fmt.Errorf("syncauth: key %d: key_id and customer_id are required", i)
		}
		for _, s := range k.Scopes {
			if s != ScopeRead && s != ScopeWrite && s != ScopeAdmin {
				return nil, fmt.Errorf("syncauth: key %q: unknown scope %q", k.KeyID, s)
			}
		}
		k.KeySHA256 = h
		kf.byHash[h] = k
	}
	return kf, nil
}

// LoadKeyFile reads a JSON array of FileKey.
func LoadKeyFile(path string) (*KeyFile, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("syncauth: read key file: %w", err)
	}
	var keys []FileKey
	if err := json.Unmarshal(raw, &keys); err != nil {
		return nil, fmt.Errorf("syncauth: parse key file %s: %w", path, err)
	}
	return NewKeyFile(keys)
}

// Authenticate implements Authenticator.
func (kf *KeyFile) Authenticate(_ context.Context, token string) (Principal, error) {
	if !strings.HasPrefix(token, KeyPrefix) {
		return Principal{}, ErrUnauthenticated
	}
	k, ok := kf.byHash[HashKey(token)]
	if !ok {
		return Principal{}, ErrUnauthenticated
	}
	return Principal{CustomerID: k.CustomerID, KeyID: k.KeyID, Scopes: slices.Clone(k.Scopes)}, nil
}
