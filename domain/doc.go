// Package domain owns WebHost's business rules: the Customer, Subscription,
// Deployment and APIKey aggregates, the e-mail and slug reservations, their
// commands and events, the plan catalogue and the infrastructure decision
// matrix.
//
// Every aggregate is a pair of pure functions. Decide validates a command
// against the current state and returns the events it causes, or a typed
// error; Evolve applies one event to a state. State is rebuilt by folding an
// aggregate's events with Evolve from its zero value. Aggregate fields are
// unexported: state changes only through events.
//
// Events are Go structs with stable type names (EventType). EncodeEvent and
// DecodeEvent turn them into JSON and back, with the schema version kept in
// the event's Metadata; DecodeEvent upgrades old versions through the
// registered upcasters, so history is never rewritten.
//
// The package imports only the standard library (a test enforces it).
// Personal data never appears in events: events refer to encrypted secrets by
// ID, so that deleting a customer's key erases it (crypto-shredding).
package domain
