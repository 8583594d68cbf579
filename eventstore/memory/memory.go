// Package memory is an in-process eventstore.Store for fast unit tests of
// other packages. It passes the same conformance suite as the durable
// adapters but keeps nothing across restarts.
package memory

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/webhost-systems/webhost/eventstore"
)

// Store keeps every event in memory. The zero value is not usable; call New.
type Store struct {
	mu      sync.RWMutex
	now     func() time.Time
	all     []eventstore.RecordedEvent
	streams map[string][]int // stream -> indexes into all
	ids     map[uuid.UUID]int
	wake    chan struct{} // closed and replaced on every append
}

// Option configures a Store.
type Option func(*Store)

// WithClock sets the clock that stamps recorded events.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// New returns an empty store.
func New(opts ...Option) *Store {
	s := &Store{
		now:     time.Now,
		streams: map[string][]int{},
		ids:     map[uuid.UUID]int{},
		wake:    make(chan struct{}),
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

var _ eventstore.Store = (*Store)(nil)

// Append implements eventstore.Store.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events ...eventstore.Event) (eventstore.AppendResult, error) {
	if err := ctx.Err(); err != nil {
		return eventstore.AppendResult{}, err
	}
	if err := eventstore.ValidateEvents(stream, events); err != nil {
		return eventstore.AppendResult{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()

	if res, done, err := s.idempotent(stream, events); done {
		return res, err
	}
	idx := s.streams[stream]
	actual := int64(len(idx)) - 1
	if !expected.Allows(actual) {
		return eventstore.AppendResult{}, &eventstore.WrongExpectedVersionError{Stream: stream, Expected: expected, Actual: actual}
	}
	now := s.now().UTC()
	for i, e := range events {
		pos := eventstore.Position{Commit: uint64(len(s.all) + 1), Prepare: uint64(len(s.all) + 1)}
		rec := eventstore.RecordedEvent{
			ID:       e.ID,
			Stream:   stream,
			Version:  uint64(actual + 1 + int64(i)),
			Position: pos,
			Time:     now,
			Type:     e.Type,
			Data:     slices.Clone(e.Data),
			Metadata: slices.Clone(e.Metadata),
		}
		s.ids[e.ID] = len(s.all)
		s.streams[stream] = append(s.streams[stream], len(s.all))
		s.all = append(s.all, rec)
	}
	last := s.all[len(s.all)-1]
	close(s.wake)
	s.wake = make(chan struct{})
	return eventstore.AppendResult{NextExpectedVersion: last.Version, Position: last.Position}, nil
}

// idempotent handles batches whose IDs are already stored. done is false
// when none of them is.
func (s *Store) idempotent(stream string, events []eventstore.Event) (eventstore.AppendResult, bool, error) {
	found := 0
	var last eventstore.RecordedEvent
	for _, e := range events {
		if i, ok := s.ids[e.ID]; ok {
			found++
			last = s.all[i]
			if last.Stream != stream {
				return eventstore.AppendResult{}, true, fmt.Errorf("%w: %s is already in stream %q", eventstore.ErrDuplicateEventID, e.ID, last.Stream)
			}
		}
	}
	switch {
	case found == 0:
		return eventstore.AppendResult{}, false, nil
	case found < len(events):
		return eventstore.AppendResult{}, true, fmt.Errorf("%w: batch for %q repeats %d of %d stored events", eventstore.ErrDuplicateEventID, stream, found, len(events))
	}
	// All stored: they must be consecutive and in order.
	first := s.all[s.ids[events[0].ID]]
	idx := s.streams[stream]
	for i, e := range events {
		v := first.Version + uint64(i)
		if v >= uint64(len(idx)) || s.all[idx[v]].ID != e.ID {
			return eventstore.AppendResult{}, true, fmt.Errorf("%w: batch for %q does not match the stored order", eventstore.ErrDuplicateEventID, stream)
		}
		last = s.all[idx[v]]
	}
	return eventstore.AppendResult{NextExpectedVersion: last.Version, Position: last.Position}, true, nil
}

// ReadStream implements eventstore.Store.
func (s *Store) ReadStream(ctx context.Context, stream string, opts eventstore.ReadStreamOptions) ([]eventstore.RecordedEvent, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	idx := s.streams[stream]
	if len(idx) == 0 {
		return nil, fmt.Errorf("read %q: %w", stream, eventstore.ErrStreamNotFound)
	}
	var out []eventstore.RecordedEvent
	take := func(v int) bool {
		out = append(out, cloneEvent(s.all[idx[v]]))
		return opts.Limit > 0 && len(out) >= opts.Limit
	}
	if opts.Direction == eventstore.Backwards {
		start := len(idx) - 1
		if opts.From < uint64(len(idx)) {
			start = int(opts.From)
		}
		for v := start; v >= 0; v-- {
			if take(v) {
				break
			}
		}
		return out, nil
	}
	for v := opts.From; v < uint64(len(idx)); v++ {
		if take(int(v)) {
			break
		}
	}
	return out, nil
}

// ReadAll implements eventstore.Store.
func (s *Store) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) ([]eventstore.RecordedEvent, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	limit := opts.Limit
	if limit <= 0 {
		limit = eventstore.DefaultReadAllLimit
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	start := int(opts.After.Prepare) // positions are 1-based indexes
	var out []eventstore.RecordedEvent
	for i := start; i < len(s.all) && len(out) < limit; i++ {
		e := s.all[i]
		if opts.Filter.Matches(e.Stream, e.Type) {
			out = append(out, cloneEvent(e))
		}
	}
	return out, nil
}

// Head implements eventstore.Store.
func (s *Store) Head(ctx context.Context) (eventstore.Position, error) {
	if err := ctx.Err(); err != nil {
		return eventstore.Position{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(s.all) == 0 {
		return eventstore.Start, nil
	}
	return s.all[len(s.all)-1].Position, nil
}

func (s *Store) waitChan() <-chan struct{} {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.wake
}

// Subscribe implements eventstore.Store.
func (s *Store) Subscribe(ctx context.Context, after eventstore.Position, filter eventstore.Filter) (eventstore.Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return eventstore.NewPollingSubscription(ctx, eventstore.PollingSource{
		Read: func(ctx context.Context, after eventstore.Position, limit int) ([]eventstore.RecordedEvent, error) {
			return s.ReadAll(ctx, eventstore.ReadAllOptions{After: after, Limit: limit, Filter: filter})
		},
		Changed: s.waitChan,
	}, after), nil
}

func cloneEvent(e eventstore.RecordedEvent) eventstore.RecordedEvent {
	e.Data = slices.Clone(e.Data)
	e.Metadata = slices.Clone(e.Metadata)
	return e
}
