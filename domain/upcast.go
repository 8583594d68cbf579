package domain

import (
	"encoding/json"
	"fmt"
)

// Upcaster upgrades the stored data of one event type from schema version
// From to From+1. Upcasters are pure functions of the JSON document; they
// never touch the store, so history stays as written.
type Upcaster struct {
	EventType string
	From      int
	Upcast    func(data []byte) ([]byte, error)
}

type upcastKey struct {
	eventType string
	from      int
}

// UpcasterRegistry holds upcasters by event type and version.
type UpcasterRegistry struct {
	byKey map[upcastKey]Upcaster
}

// NewUpcasterRegistry returns a registry holding ups. It rejects an upcaster
// without a type or function, with From < 1, or registered twice.
func NewUpcasterRegistry(ups ...Upcaster) (*UpcasterRegistry, error) {
	r := &UpcasterRegistry{byKey: make(map[upcastKey]Upcaster, len(ups))}
	for _, u := range ups {
		if u.EventType == "" || u.Upcast == nil || u.From < 1 {
			return nil, fmt.Errorf("domain: invalid upcaster %q from version %d", u.EventType, u.From)
		}
		k := upcastKey{u.EventType, u.From}
		if _, dup := r.byKey[k]; dup {
			return nil, fmt.Errorf("domain: upcaster %q from version %d registered twice", u.EventType, u.From)
		}
		r.byKey[k] = u
	}
	return r, nil
}

// Upcast upgrades data of eventType from version from to version to, one
// step at a time. A missing step is an error matching
// ErrUnsupportedSchemaVersion; a failing upcaster one matching ErrEventData.
func (r *UpcasterRegistry) Upcast(eventType string, from, to int, data []byte) ([]byte, error) {
	for v := from; v < to; v++ {
		u, ok := r.byKey[upcastKey{eventType, v}]
		if !ok {
			return nil, fmt.Errorf("%w: no upcaster for %s from version %d", ErrUnsupportedSchemaVersion, eventType, v)
		}
		next, err := u.Upcast(data)
		if err != nil {
			return nil, fmt.Errorf("%w: upcast %s from version %d: %v", ErrEventData, eventType, v, err)
		}
		data = next
	}
	return data, nil
}

// Decode decodes like DecodeEvent, with the upcasters of r.
func (r *UpcasterRegistry) Decode(eventType string, data, metadata []byte) (Event, Metadata, error) {
	return r.decode(eventType, data, metadata)
}

// DefaultUpcasters returns the registry DecodeEvent uses.
func DefaultUpcasters() *UpcasterRegistry { return defaultUpcasters }

var defaultUpcasters = mustUpcasters(
	// APIKeyIssued v1 carried one hierarchical "scope" (read < write <
	// admin, each implying the ones before it). v2 lists the granted
	// scopes explicitly in "scopes", so that scopes can be combined freely.
	Upcaster{EventType: TypeAPIKeyIssued, From: 1, Upcast: upcastAPIKeyIssuedV1},
)

func mustUpcasters(ups ...Upcaster) *UpcasterRegistry {
	r, err := NewUpcasterRegistry(ups...)
	if err != nil {
		panic(err) // a programming error in this file, caught by every test
	}
	return r
}

func upcastAPIKeyIssuedV1(data []byte) ([]byte, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	var scope string
	if raw, ok := doc["scope"]; ok {
		if err := json.Unmarshal(raw, &scope); err != nil {
			return nil, fmt.Errorf("scope: %w", err)
		}
	}
	var scopes []string
	switch scope {
	case ScopeRead:
		scopes = []string{ScopeRead}
	case ScopeWrite:
		scopes = []string{ScopeRead, ScopeWrite}
	case ScopeAdmin:
		scopes = []string{ScopeRead, ScopeWrite, ScopeAdmin}
	default:
		return nil, fmt.Errorf("unknown v1 scope %q", scope)
	}
	raw, err := json.Marshal(scopes)
	if err != nil {
		return nil, err
	}
	delete(doc, "scope")
	doc["scopes"] = raw
	return json.Marshal(doc)
}
