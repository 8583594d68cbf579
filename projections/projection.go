// Package projections owns WebHost's read side: the runner that follows the
// event log from a checkpoint and applies events in batches (checkpoint and
// rows in one PostgreSQL transaction, one active runner per projection
// across processes), the read models in schema `read` (documented for
// analysts in docs/read-models.md), the API-key table in schema `auth`
// that authentication uses, the queries the HTTP API runs, and rebuild and
// verify (replay into a shadow schema, then swap or compare).
package projections

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/webhost-systems/webhost/domain"
	"github.com/webhost-systems/webhost/eventstore"
	"github.com/webhost-systems/webhost/internal/migrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations creates the schemas `projections` (checkpoints), `read` and
// `auth`. The projections create their own tables (Manager.Ensure).
var Migrations = migrate.Component{Name: "projections", FS: mustSub(migrationFiles, "migrations")}

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err)
	}
	return sub
}

// Errors. Match them with errors.Is.
var (
	// ErrCannotApply is matched by every *ApplyError: a projection met an
	// event it cannot apply and stopped there. It never skips the event;
	// fix the code or the data and restart.
	ErrCannotApply = errors.New("projections: cannot apply event")
	// ErrNotFound: no such row in a read model (or it belongs to another
	// tenant).
	ErrNotFound = errors.New("projections: not found")
	// ErrWaitTimeout: the projections did not reach the requested position
	// within the bound.
	ErrWaitTimeout = errors.New("projections: read model has not caught up yet")
	// ErrUnknownProjection: no projection has that name.
	ErrUnknownProjection = errors.New("projections: unknown projection")
	// ErrInvalidProjection: a projection definition is unusable.
	ErrInvalidProjection = errors.New("projections: invalid projection")
)

// ApplyError reports the event a projection could not apply.
type ApplyError struct {
	Projection string
	Position   eventstore.Position
	Stream     string
	Version    uint64
	Type       string
	EventID    string
	Err        error
}

func (e *ApplyError) Error() string {
	return fmt.Sprintf("projection %s cannot apply %s (stream %s version %d, position %s, id %s): %v",
		e.Projection, e.Type, e.Stream, e.Version, e.Position, e.EventID, e.Err)
}

// Unwrap returns the cause.
func (e *ApplyError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrCannotApply) true.
func (e *ApplyError) Is(target error) bool { return target == ErrCannotApply }

// Envelope is one event handed to a projection. Event and Meta are set
// when the projection decodes (Projection.Decode); Record is always set.
type Envelope struct {
	Record eventstore.RecordedEvent
	Event  domain.Event
	Meta   domain.Metadata
}

// Batch collects the SQL statements of one batch of events; they run in
// one round trip inside the batch's transaction, with search_path set to
// the target schema, so statements name tables without a schema.
type Batch struct {
	b      pgx.Batch
	owners []int
	cur    int
}

// Queue adds a statement for the event being applied.
func (b *Batch) Queue(sql string, args ...any) {
	b.b.Queue(sql, args...)
	b.owners = append(b.owners, b.cur)
}

// Projection is one set of read-model tables fed by the event log.
type Projection struct {
	// Name identifies the projection: it keys the checkpoint row and the
	// advisory lock. It is stable — renaming a projection means a full
	// replay under the new name.
	Name string
	// Schema is the live schema of the tables ("read" or "auth").
	Schema string
	// Version is bumped with every DDL or Apply change that alters rows;
	// Manager.Ensure rebuilds a projection whose stored version differs.
	Version int
	// Tables and Views name what DDL creates, unqualified. Rebuild swaps
	// exactly these; Verify compares the tables.
	Tables []string
	Views  []string
	// DDL creates Tables and Views with unqualified names; it runs with
	// search_path set to the target schema.
	DDL string
	// Decode asks the runner to decode events (domain.DecodeEvent) before
	// Apply; a decoding failure stops the projection.
	Decode bool
	// Handles reports whether the projection applies events of this type.
	// Others only advance its checkpoint.
	Handles func(eventType string) bool
	// Apply queues the statements of one event. An error stops the
	// projection at that event.
	Apply func(b *Batch, ev Envelope) error
}

var identRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,40}$`)

// Validate reports a projection definition that cannot work.
func (p *Projection) Validate() error {
	if p == nil {
		return fmt.Errorf("%w: nil", ErrInvalidProjection)
	}
	for _, id := range append([]string{p.Name, p.Schema}, append(p.Tables, p.Views...)...) {
		if !identRE.MatchString(id) {
			return fmt.Errorf("%w: %q is not a lower-case identifier", ErrInvalidProjection, id)
		}
	}
	switch {
	case len(p.Tables) == 0:
		return fmt.Errorf("%w: %s has no tables", ErrInvalidProjection, p.Name)
	case strings.TrimSpace(p.DDL) == "":
		return fmt.Errorf("%w: %s has no DDL", ErrInvalidProjection, p.Name)
	case p.Handles == nil || p.Apply == nil:
		return fmt.Errorf("%w: %s needs Handles and Apply", ErrInvalidProjection, p.Name)
	case p.Version < 1:
		return fmt.Errorf("%w: %s version must be at least 1", ErrInvalidProjection, p.Name)
	}
	return nil
}

// shadowSchema is where rebuild and verify replay p.
func (p *Projection) shadowSchema() string { return p.Schema + "_shadow_" + p.Name }

// shadowCheckpoint names the checkpoint row of p's shadow.
func (p *Projection) shadowCheckpoint() string { return p.Name + "@shadow" }

func ident(s string) string { return pgx.Identifier{s}.Sanitize() }

// Names of the built-in projections. They are stable: renaming one means a
// full replay.
const (
	// NameReadModels feeds read.customers, subscriptions, plan history,
	// periods, deployments, deployment_resources and api_keys.
	NameReadModels = "read_models"
	// NameEventLog feeds read.event_log, the flattened audit log.
	NameEventLog = "event_log"
	// NameAuthKeys feeds auth.api_keys and auth.customers, the tables
	// authentication looks keys up in.
	NameAuthKeys = "auth_keys"
)

// All returns the built-in projections, each a fresh value.
func All() []*Projection {
	return []*Projection{ReadModels(), EventLog(), AuthKeys()}
}

// ByName returns the built-in projection with that name, or an error
// matching ErrUnknownProjection.
func ByName(name string) (*Projection, error) {
	for _, p := range All() {
		if p.Name == name {
			return p, nil
		}
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownProjection, name)
}

// clean makes free text storable in PostgreSQL text columns (no NUL).
func clean(s string) string {
	if strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}
