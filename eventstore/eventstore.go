// Package eventstore owns the event store contract: append-only streams with
// optimistic concurrency, a globally ordered log ($all) that readers never
// skip, and catch-up subscriptions. Adapters live in sub-packages: postgres
// (the default), esdb (EventStoreDB, production) and memory (unit tests).
// eventstoretest holds the conformance suite every adapter passes.
package eventstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Event is an event to append. ID makes appends idempotent: appending an
// event whose ID is already in the stream is a no-op. Data and Metadata are
// JSON documents.
type Event struct {
	ID       uuid.UUID
	Type     string
	Data     []byte
	Metadata []byte
}

// RecordedEvent is an event as stored.
type RecordedEvent struct {
	ID       uuid.UUID
	Stream   string
	Version  uint64 // zero-based revision within Stream
	Position Position
	Time     time.Time
	Type     string
	Data     []byte
	Metadata []byte
}

// Position is an opaque, totally ordered place in the global log. The zero
// value is Start, before the first event. Positions compare with Compare and
// round-trip through String and ParsePosition; their string forms sort in the
// same order as the positions themselves.
type Position struct {
	// Commit and Prepare are adapter-defined. PostgreSQL stores the
	// transaction ID and the global sequence; EventStoreDB its commit and
	// prepare positions.
	Commit  uint64
	Prepare uint64
}

// Start is the position before the first event of the log.
var Start = Position{}

// Compare returns -1, 0 or +1 as p is before, equal to or after other.
func (p Position) Compare(other Position) int {
	switch {
	case p.Commit < other.Commit:
		return -1
	case p.Commit > other.Commit:
		return 1
	case p.Prepare < other.Prepare:
		return -1
	case p.Prepare > other.Prepare:
		return 1
	}
	return 0
}

// Before reports whether p comes before other.
func (p Position) Before(other Position) bool { return p.Compare(other) < 0 }

// IsStart reports whether p is Start.
func (p Position) IsStart() bool { return p == Start }

// String encodes the position as fixed-width hexadecimal, so that string
// order equals position order.
func (p Position) String() string {
	return fmt.Sprintf("%016x-%016x", p.Commit, p.Prepare)
}

// ErrInvalidPosition is returned by ParsePosition for malformed input.
var ErrInvalidPosition = errors.New("eventstore: invalid position")

// ParsePosition parses the output of Position.String. The empty string is
// Start.
func ParsePosition(s string) (Position, error) {
	if s == "" {
		return Start, nil
	}
	commit, prepare, ok := strings.Cut(s, "-")
	if !ok || len(commit) != 16 || len(prepare) != 16 {
		return Position{}, fmt.Errorf("%w: %q", ErrInvalidPosition, s)
	}
	c, err := strconv.ParseUint(commit, 16, 64)
	if err != nil {
		return Position{}, fmt.Errorf("%w: %q", ErrInvalidPosition, s)
	}
	p, err := strconv.ParseUint(prepare, 16, 64)
	if err != nil {
		return Position{}, fmt.Errorf("%w: %q", ErrInvalidPosition, s)
	}
	return Position{Commit: c, Prepare: p}, nil
}

// ExpectedVersion is the optimistic-concurrency condition of an Append.
type ExpectedVersion struct {
	kind    expectedKind
	version uint64
}

type expectedKind uint8

const (
	expectAny expectedKind = iota
	expectNoStream
	expectStreamExists
	expectExact
)

var (
	// Any appends whatever the stream's state.
	Any = ExpectedVersion{kind: expectAny}
	// NoStream appends only if the stream has no events.
	NoStream = ExpectedVersion{kind: expectNoStream}
	// StreamExists appends only if the stream has at least one event.
	StreamExists = ExpectedVersion{kind: expectStreamExists}
)

// Exact appends only if the stream's last event has version v.
func Exact(v uint64) ExpectedVersion { return ExpectedVersion{kind: expectExact, version: v} }

// IsAny, IsNoStream and IsStreamExists report the kind of e.
func (e ExpectedVersion) IsAny() bool          { return e.kind == expectAny }
func (e ExpectedVersion) IsNoStream() bool     { return e.kind == expectNoStream }
func (e ExpectedVersion) IsStreamExists() bool { return e.kind == expectStreamExists }

// ExactVersion returns the version of an Exact expectation.
func (e ExpectedVersion) ExactVersion() (uint64, bool) { return e.version, e.kind == expectExact }

// Allows reports whether a stream whose last version is actual (-1 for no
// stream) satisfies e.
func (e ExpectedVersion) Allows(actual int64) bool {
	switch e.kind {
	case expectNoStream:
		return actual < 0
	case expectStreamExists:
		return actual >= 0
	case expectExact:
		return actual >= 0 && uint64(actual) == e.version
	}
	return true
}

func (e ExpectedVersion) String() string {
	switch e.kind {
	case expectNoStream:
		return "NoStream"
	case expectStreamExists:
		return "StreamExists"
	case expectExact:
		return "Exact(" + strconv.FormatUint(e.version, 10) + ")"
	}
	return "Any"
}

// NoStreamVersion is the "actual version" of a stream that has no events.
const NoStreamVersion int64 = -1

// ErrWrongExpectedVersion is matched (errors.Is) by every optimistic
// concurrency failure; errors.As gives the *WrongExpectedVersionError.
var ErrWrongExpectedVersion = errors.New("eventstore: wrong expected version")

// ErrStreamNotFound is returned by ReadStream for a stream with no events.
var ErrStreamNotFound = errors.New("eventstore: stream not found")

// ErrDuplicateEventID is returned when a batch repeats only some of the
// event IDs already in the stream, or reuses an ID stored in another stream.
var ErrDuplicateEventID = errors.New("eventstore: duplicate event id")

// ErrInvalidEvent is returned for an event that cannot be stored (empty
// type, invalid JSON, nil ID).
var ErrInvalidEvent = errors.New("eventstore: invalid event")

// WrongExpectedVersionError carries the stream, the expectation and the
// actual version (NoStreamVersion when the stream has no events).
type WrongExpectedVersionError struct {
	Stream   string
	Expected ExpectedVersion
	Actual   int64
}

func (e *WrongExpectedVersionError) Error() string {
	return fmt.Sprintf("eventstore: wrong expected version on stream %q: expected %s, actual %d", e.Stream, e.Expected, e.Actual)
}

// Is makes errors.Is(err, ErrWrongExpectedVersion) true.
func (e *WrongExpectedVersionError) Is(target error) bool { return target == ErrWrongExpectedVersion }

// AppendResult describes a successful append.
type AppendResult struct {
	// NextExpectedVersion is the version of the last event now in the stream.
	NextExpectedVersion uint64
	// Position is the global position of the last appended event. Readers
	// that have passed it have seen the whole batch.
	Position Position
}

// Direction of a stream read.
type Direction uint8

const (
	// Forwards reads from older to newer events.
	Forwards Direction = iota
	// Backwards reads from newer to older events.
	Backwards
)

// EndOfStream, used as ReadStreamOptions.From with Backwards, starts at the
// newest event.
const EndOfStream uint64 = math.MaxUint64

// ReadStreamOptions selects a slice of a stream.
type ReadStreamOptions struct {
	Direction Direction
	// From is the first version returned (inclusive).
	From uint64
	// Limit caps the number of events; 0 means no limit.
	Limit int
}

// Filter selects events of $all. An empty filter matches everything. When
// both lists are set, an event must match both.
type Filter struct {
	EventTypes     []string
	StreamPrefixes []string
}

// Matches reports whether an event of that stream and type passes f.
func (f Filter) Matches(stream, eventType string) bool {
	if len(f.EventTypes) > 0 {
		found := false
		for _, t := range f.EventTypes {
			if t == eventType {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	if len(f.StreamPrefixes) > 0 {
		for _, p := range f.StreamPrefixes {
			if strings.HasPrefix(stream, p) {
				return true
			}
		}
		return false
	}
	return true
}

// IsEmpty reports whether f matches everything.
func (f Filter) IsEmpty() bool { return len(f.EventTypes) == 0 && len(f.StreamPrefixes) == 0 }

// ReadAllOptions selects a slice of $all.
type ReadAllOptions struct {
	// After is exclusive: events strictly after it are returned. Start reads
	// from the beginning.
	After  Position
	Limit  int // 0 means a default page (1000)
	Filter Filter
}

// DefaultReadAllLimit is the page size of ReadAll when Limit is 0.
const DefaultReadAllLimit = 1000

// Subscription delivers events of $all in order: first the history after the
// starting position, then live events as they commit. Events is closed when
// the subscription ends; Err then tells why (nil after Close, the context's
// error after cancellation).
type Subscription interface {
	Events() <-chan RecordedEvent
	Err() error
	Close() error
}

// Store is the event store contract. Every adapter passes
// eventstoretest.Run.
type Store interface {
	// Append writes events to the end of stream atomically, if expected
	// holds. A mismatch returns a *WrongExpectedVersionError. Appending a
	// batch whose IDs are all already in the stream, in the same order,
	// returns the original result whatever expected says.
	Append(ctx context.Context, stream string, expected ExpectedVersion, events ...Event) (AppendResult, error)
	// ReadStream reads one stream. A stream with no events gives
	// ErrStreamNotFound.
	ReadStream(ctx context.Context, stream string, opts ReadStreamOptions) ([]RecordedEvent, error)
	// ReadAll reads the global log in position order.
	ReadAll(ctx context.Context, opts ReadAllOptions) ([]RecordedEvent, error)
	// Subscribe catches up from after and then follows live events.
	Subscribe(ctx context.Context, after Position, filter Filter) (Subscription, error)
	// Head returns the position of the last event in the log, or Start.
	Head(ctx context.Context) (Position, error)
}

// ValidateEvents checks what every adapter requires of an appended batch.
func ValidateEvents(stream string, events []Event) error {
	if stream == "" {
		return fmt.Errorf("%w: empty stream name", ErrInvalidEvent)
	}
	if len(events) == 0 {
		return fmt.Errorf("%w: empty batch for stream %q", ErrInvalidEvent, stream)
	}
	seen := make(map[uuid.UUID]struct{}, len(events))
	for i, e := range events {
		if e.ID == uuid.Nil {
			return fmt.Errorf("%w: event %d of stream %q has no ID", ErrInvalidEvent, i, stream)
		}
		if _, dup := seen[e.ID]; dup {
			return fmt.Errorf("%w: event ID %s repeated in one batch", ErrDuplicateEventID, e.ID)
		}
		seen[e.ID] = struct{}{}
		if e.Type == "" {
			return fmt.Errorf("%w: event %d of stream %q has no type", ErrInvalidEvent, i, stream)
		}
		if !jsonValid(e.Data) {
			return fmt.Errorf("%w: event %d (%s) of stream %q: data is not JSON", ErrInvalidEvent, i, e.Type, stream)
		}
		if len(e.Metadata) > 0 && !jsonValid(e.Metadata) {
			return fmt.Errorf("%w: event %d (%s) of stream %q: metadata is not JSON", ErrInvalidEvent, i, e.Type, stream)
		}
	}
	return nil
}
