// Package commands holds WebHost's write-side use cases, one file each.
// Every handler loads the aggregate's stream, folds it with the domain's
// Evolve, asks the domain's Decide, and appends the resulting events with the
// expected version, retrying a bounded number of times on a version
// conflict (see Runner). Event IDs are UUIDv5 values derived from the
// command ID, so resubmitting a command (same CommandID) is a no-op that
// returns the original result with Duplicate set.
//
// Every result carries the global Position of the events it appended; the
// REST API returns it so clients can read their own writes
// (X-Min-Position).
//
// Personal data (a customer's name and e-mail) goes to the secrets store
// under the customer's own key; events hold only the secrets' IDs, and
// CloseAccount shreds the key.
package commands
