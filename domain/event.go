package domain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
)

// Event is a domain event. EventType returns its stable type name, the name
// stored with it; renaming a type would orphan its history, so names never
// change (schema changes add an upcaster instead).
type Event interface {
	EventType() string
}

// Metadata travels with every stored event.
type Metadata struct {
	// Tenant is the ID of the customer the event belongs to.
	Tenant string `json:"tenant"`
	// CorrelationID ties together everything one request or process caused.
	CorrelationID string `json:"correlation_id"`
	// CausationID is the ID of the command or event that caused this one.
	CausationID string `json:"causation_id"`
	// Actor is who acted: "customer:<id>", "apikey:<id>", "admin:<id>",
	// "system" or "process:<name>".
	Actor string `json:"actor"`
	// CommandID is the ID of the command that appended the event.
	CommandID string `json:"command_id"`
	// SchemaVersion is the version of the event's data layout. EncodeEvent
	// sets it; DecodeEvent returns it as stored (before upcasting).
	SchemaVersion int `json:"schema_version"`
}

type eventCodec struct {
	version int
	decode  func(data []byte) (Event, error)
}

func codec[E Event](version int) eventCodec {
	return eventCodec{version: version, decode: func(data []byte) (Event, error) {
		var e E
		if err := json.Unmarshal(data, &e); err != nil {
			return nil, err
		}
		return e, nil
	}}
}

// registry maps every stable event type name to its current schema version
// and decoder. A test checks that each key equals the type's EventType.
var registry = map[string]eventCodec{
	TypeCustomerSignedUp:       codec[CustomerSignedUp](1),
	TypeCustomerProfileUpdated: codec[CustomerProfileUpdated](1),
	TypeCustomerSuspended:      codec[CustomerSuspended](1),
	TypeCustomerReinstated:     codec[CustomerReinstated](1),
	TypeCustomerAccountClosed:  codec[CustomerAccountClosed](1),

	TypeEmailReserved: codec[EmailReserved](1),
	TypeEmailReleased: codec[EmailReleased](1),
	TypeSlugReserved:  codec[SlugReserved](1),
	TypeSlugReleased:  codec[SlugReleased](1),

	TypeSubscriptionStarted:   codec[SubscriptionStarted](1),
	TypePlanChanged:           codec[PlanChanged](1),
	TypeStripeCustomerLinked:  codec[StripeCustomerLinked](1),
	TypeSubscriptionActivated: codec[SubscriptionActivated](1),
	TypeSubscriptionPastDue:   codec[SubscriptionPastDue](1),
	TypeSubscriptionCanceled:  codec[SubscriptionCanceled](1),

	TypeAPIKeyIssued:  codec[APIKeyIssued](2),
	TypeAPIKeyRevoked: codec[APIKeyRevoked](1),

	TypeDeploymentRequested:          codec[DeploymentRequested](1),
	TypeProvisioningStepStarted:      codec[ProvisioningStepStarted](1),
	TypeServerCreated:                codec[ServerCreated](1),
	TypeAppCreated:                   codec[AppCreated](1),
	TypeDatabaseCreated:              codec[DatabaseCreated](1),
	TypeRedisCreated:                 codec[RedisCreated](1),
	TypeMachinesLaunched:             codec[MachinesLaunched](1),
	TypeDNSRecordCreated:             codec[DNSRecordCreated](1),
	TypeDeploymentProvisioned:        codec[DeploymentProvisioned](1),
	TypeDeploymentFailed:             codec[DeploymentFailed](1),
	TypeResourcesCleanedUp:           codec[ResourcesCleanedUp](1),
	TypeDeploymentHealthChanged:      codec[DeploymentHealthChanged](1),
	TypeDeploymentScaled:             codec[DeploymentScaled](1),
	TypeDeploymentMigrationStarted:   codec[DeploymentMigrationStarted](1),
	TypeDeploymentMigrationCompleted: codec[DeploymentMigrationCompleted](1),
	TypeDeploymentMigrationFailed:    codec[DeploymentMigrationFailed](1),
	TypeDeploymentDecommissioned:     codec[DeploymentDecommissioned](1),
}

// EventTypes returns every registered event type name, sorted.
func EventTypes() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// SchemaVersion returns the current schema version of an event type, or an
// error matching ErrUnknownEventType.
func SchemaVersion(eventType string) (int, error) {
	c, ok := registry[eventType]
	if !ok {
		return 0, fmt.Errorf("%w: %q", ErrUnknownEventType, eventType)
	}
	return c.version, nil
}

// EncodeEvent serialises e for storage: its type name, its JSON data, and
// meta as JSON with SchemaVersion set to the type's current version. It
// returns an error matching ErrUnknownEventType for an unregistered type.
func EncodeEvent(e Event, meta Metadata) (eventType string, data, metadata []byte, err error) {
	if e == nil {
		return "", nil, nil, fmt.Errorf("%w: nil event", ErrUnknownEventType)
	}
	eventType = e.EventType()
	c, ok := registry[eventType]
	if !ok {
		return "", nil, nil, fmt.Errorf("%w: %q", ErrUnknownEventType, eventType)
	}
	data, err = json.Marshal(e)
	if err != nil {
		return "", nil, nil, fmt.Errorf("encode %s: %w", eventType, err)
	}
	meta.SchemaVersion = c.version
	metadata, err = json.Marshal(meta)
	if err != nil {
		return "", nil, nil, fmt.Errorf("encode %s metadata: %w", eventType, err)
	}
	return eventType, data, metadata, nil
}

// DecodeEvent is the inverse of EncodeEvent, for events read from the store
// (eventstore.RecordedEvent's Type, Data and Metadata). Data stored at an
// older schema version is upgraded with DefaultUpcasters first, so the
// returned event is always at the current version; the returned Metadata
// keeps the stored SchemaVersion (missing means 1).
//
// Errors match ErrUnknownEventType (a type this code does not know:
// projections usually skip it), ErrUnsupportedSchemaVersion (newer than this
// code, or no upcaster path) or ErrEventData (malformed JSON).
func DecodeEvent(eventType string, data, metadata []byte) (Event, Metadata, error) {
	return defaultUpcasters.decode(eventType, data, metadata)
}

func (r *UpcasterRegistry) decode(eventType string, data, metadata []byte) (Event, Metadata, error) {
	var meta Metadata
	c, ok := registry[eventType]
	if !ok {
		return nil, meta, fmt.Errorf("%w: %q", ErrUnknownEventType, eventType)
	}
	if len(bytes.TrimSpace(metadata)) > 0 {
		if err := json.Unmarshal(metadata, &meta); err != nil {
			return nil, meta, fmt.Errorf("%w: %s metadata: %v", ErrEventData, eventType, err)
		}
	}
	if meta.SchemaVersion == 0 {
		meta.SchemaVersion = 1
	}
	if meta.SchemaVersion < 0 || meta.SchemaVersion > c.version {
		return nil, meta, fmt.Errorf("%w: %s version %d (this code knows up to %d)", ErrUnsupportedSchemaVersion, eventType, meta.SchemaVersion, c.version)
	}
	if !isJSONObject(data) {
		return nil, meta, fmt.Errorf("%w: %s data is not a JSON object", ErrEventData, eventType)
	}
	upcast, err := r.Upcast(eventType, meta.SchemaVersion, c.version, data)
	if err != nil {
		return nil, meta, err
	}
	e, err := c.decode(upcast)
	if err != nil {
		return nil, meta, fmt.Errorf("%w: %s: %v", ErrEventData, eventType, err)
	}
	return e, meta, nil
}

// isJSONObject is a cheap pre-check (json.Unmarshal validates the rest); it
// rejects null, which would decode into a zero event without error.
func isJSONObject(data []byte) bool {
	data = bytes.TrimSpace(data)
	return len(data) >= 2 && data[0] == '{'
}
