package secrets

import (
	"context"
	"crypto/cipher"
	"fmt"
	"sync"
)

// Memory is an in-process secrets store for unit tests of other packages.
// It encrypts like Store and behaves the same, but keeps nothing across
// restarts.
type Memory struct {
	keys *keyring
	mu   sync.Mutex
	// dataKeys holds wrapped keys; nil means shredded.
	dataKeys map[string][]byte
	secrets  map[string]memSecret
}

type memSecret struct {
	owner, kind string
	sealed      []byte // nil once shredded
}

// NewMemory returns an empty in-memory store. It returns ErrInvalidKey for a
// bad master key.
func NewMemory(cfg Config) (*Memory, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	keys, err := newKeyring(cfg.MasterKey, cfg.Rand, cfg.PreviousKeys...)
	if err != nil {
		return nil, err
	}
	return &Memory{keys: keys, dataKeys: map[string][]byte{}, secrets: map[string]memSecret{}}, nil
}

func (m *Memory) dataKey(owner string) (cipher.AEAD, error) {
	wrapped := m.dataKeys[owner]
	if wrapped == nil {
		return nil, ErrErased
	}
	return m.keys.unwrap(owner, m.keys.kekID, wrapped)
}

// Put behaves like (*Store).Put.
func (m *Memory) Put(_ context.Context, sec Secret) error {
	if err := sec.validate(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.dataKeys[sec.Owner]; !ok {
		wrapped, err := m.keys.newDataKey(sec.Owner)
		if err != nil {
			return err
		}
		m.dataKeys[sec.Owner] = wrapped
	}
	dk, err := m.dataKey(sec.Owner)
	if err != nil {
		return fmt.Errorf("put %s: owner %q: %w", sec.ID, sec.Owner, err)
	}
	if old, ok := m.secrets[sec.ID]; ok {
		if old.owner != sec.Owner || old.kind != sec.Kind {
			return fmt.Errorf("put %s: %w", sec.ID, ErrConflict)
		}
		return nil
	}
	sealed, err := m.keys.sealSecret(dk, sec)
	if err != nil {
		return err
	}
	m.secrets[sec.ID] = memSecret{owner: sec.Owner, kind: sec.Kind, sealed: sealed}
	return nil
}

// Get behaves like (*Store).Get.
func (m *Memory) Get(_ context.Context, id string) (Secret, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.secrets[id]
	if !ok {
		return Secret{}, fmt.Errorf("get %q: %w", id, ErrNotFound)
	}
	if s.sealed == nil {
		return Secret{}, fmt.Errorf("get %q: %w", id, ErrErased)
	}
	dk, err := m.dataKey(s.owner)
	if err != nil {
		return Secret{}, fmt.Errorf("get %q: %w", id, err)
	}
	plain, err := m.keys.openSecret(dk, id, s.owner, s.kind, s.sealed)
	if err != nil {
		return Secret{}, err
	}
	return Secret{ID: id, Owner: s.owner, Kind: s.kind, Plaintext: plain}, nil
}

// Shred behaves like (*Store).Shred.
func (m *Memory) Shred(_ context.Context, owner string) error {
	if err := (Secret{ID: "-", Owner: owner, Kind: "-"}).validate(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.dataKeys[owner] = nil
	for id, s := range m.secrets {
		if s.owner == owner {
			s.sealed = nil
			m.secrets[id] = s
		}
	}
	return nil
}

// Shredded behaves like (*Store).Shredded.
func (m *Memory) Shredded(_ context.Context, owner string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	wrapped, ok := m.dataKeys[owner]
	return ok && wrapped == nil, nil
}
