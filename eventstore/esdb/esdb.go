// Package esdb is the EventStoreDB eventstore.Store, production's store, on
// EventStore-Client-Go/v4. Positions carry EventStoreDB's commit and prepare
// positions; $all reads and subscriptions exclude system events.
package esdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/webhost-systems/webhost/eventstore"
)

// Config configures a Store.
type Config struct {
	// URL is an EventStoreDB connection string, e.g.
	// esdb://127.0.0.1:2113?tls=false.
	URL string
	// ResubscribeBackoff is the first wait before re-subscribing after a
	// dropped subscription (default 200ms, doubling up to 10s).
	ResubscribeBackoff time.Duration
	Logger             *slog.Logger
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if c.URL == "" {
		return errors.New("esdb eventstore: URL is required")
	}
	return nil
}

// Store is the EventStoreDB event store.
type Store struct {
	client *esdb.Client
	cfg    Config
}

var _ eventstore.Store = (*Store)(nil)

// New connects to EventStoreDB.
func New(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.ResubscribeBackoff <= 0 {
		cfg.ResubscribeBackoff = 200 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	conf, err := esdb.ParseConnectionString(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("esdb eventstore: parse connection string: %w", err)
	}
	client, err := esdb.NewClient(conf)
	if err != nil {
		return nil, fmt.Errorf("esdb eventstore: connect: %w", err)
	}
	return &Store{client: client, cfg: cfg}, nil
}

// Close closes the connection.
func (s *Store) Close() error { return s.client.Close() }

// code returns the EventStoreDB error code of err. esdb.FromError does not
// unwrap, so errors.As is used.
func code(err error) (esdb.ErrorCode, bool) {
	var esErr *esdb.Error
	if errors.As(err, &esErr) {
		return esErr.Code(), true
	}
	return 0, false
}

func isCode(err error, c esdb.ErrorCode) bool {
	got, ok := code(err)
	return ok && got == c
}

func expectedRevision(e eventstore.ExpectedVersion) esdb.ExpectedRevision {
	switch {
	case e.IsNoStream():
		return esdb.NoStream{}
	case e.IsStreamExists():
		return esdb.StreamExists{}
	}
	if v, ok := e.ExactVersion(); ok {
		return esdb.Revision(v)
	}
	return esdb.Any{}
}

// Append implements eventstore.Store.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events ...eventstore.Event) (eventstore.AppendResult, error) {
	if err := ctx.Err(); err != nil {
		return eventstore.AppendResult{}, fmt.Errorf("append %s: %w", stream, err)
	}
	if err := eventstore.ValidateEvents(stream, events); err != nil {
		return eventstore.AppendResult{}, err
	}
	data := make([]esdb.EventData, len(events))
	for i, e := range events {
		data[i] = esdb.EventData{EventID: e.ID, EventType: e.Type, ContentType: esdb.ContentTypeJson, Data: e.Data, Metadata: e.Metadata}
	}
	res, err := s.client.AppendToStream(ctx, stream, esdb.AppendToStreamOptions{ExpectedRevision: expectedRevision(expected)}, data...)
	if err == nil {
		return eventstore.AppendResult{
			NextExpectedVersion: res.NextExpectedVersion,
			Position:            eventstore.Position{Commit: res.CommitPosition, Prepare: res.PreparePosition},
		}, nil
	}
	if !isCode(err, esdb.ErrorCodeWrongExpectedVersion) {
		return eventstore.AppendResult{}, fmt.Errorf("append %s: %w", stream, err)
	}
	// EventStoreDB is idempotent only when the expectation matches the
	// original append; the contract is idempotent whatever it says.
	if res, done, ierr := s.idempotent(ctx, stream, events); done {
		return res, ierr
	}
	actual, verr := s.lastVersion(ctx, stream)
	if verr != nil {
		return eventstore.AppendResult{}, verr
	}
	return eventstore.AppendResult{}, &eventstore.WrongExpectedVersionError{Stream: stream, Expected: expected, Actual: actual}
}

func (s *Store) lastVersion(ctx context.Context, stream string) (int64, error) {
	last, err := s.ReadStream(ctx, stream, eventstore.ReadStreamOptions{Direction: eventstore.Backwards, From: eventstore.EndOfStream, Limit: 1})
	if errors.Is(err, eventstore.ErrStreamNotFound) {
		return eventstore.NoStreamVersion, nil
	}
	if err != nil {
		return 0, err
	}
	return int64(last[0].Version), nil
}

func (s *Store) idempotent(ctx context.Context, stream string, events []eventstore.Event) (eventstore.AppendResult, bool, error) {
	stored, err := s.ReadStream(ctx, stream, eventstore.ReadStreamOptions{})
	if errors.Is(err, eventstore.ErrStreamNotFound) {
		return eventstore.AppendResult{}, false, nil
	}
	if err != nil {
		return eventstore.AppendResult{}, true, err
	}
	byID := make(map[uuid.UUID]int, len(stored))
	for i, e := range stored {
		byID[e.ID] = i
	}
	first, ok := byID[events[0].ID]
	if !ok {
		return eventstore.AppendResult{}, false, nil
	}
	for i, e := range events {
		if first+i >= len(stored) || stored[first+i].ID != e.ID {
			return eventstore.AppendResult{}, true, fmt.Errorf("%w: batch for %q does not match the stored events", eventstore.ErrDuplicateEventID, stream)
		}
	}
	last := stored[first+len(events)-1]
	return eventstore.AppendResult{NextExpectedVersion: last.Version, Position: last.Position}, true, nil
}

func convert(r *esdb.ResolvedEvent) eventstore.RecordedEvent {
	e := r.OriginalEvent()
	return eventstore.RecordedEvent{
		ID:       e.EventID,
		Stream:   e.StreamID,
		Version:  e.EventNumber,
		Position: eventstore.Position{Commit: e.Position.Commit, Prepare: e.Position.Prepare},
		Time:     e.CreatedDate.UTC(),
		Type:     e.EventType,
		Data:     e.Data,
		Metadata: e.UserMetadata,
	}
}

// ReadStream implements eventstore.Store.
func (s *Store) ReadStream(ctx context.Context, stream string, opts eventstore.ReadStreamOptions) ([]eventstore.RecordedEvent, error) {
	ro := esdb.ReadStreamOptions{Direction: esdb.Forwards, From: esdb.Revision(opts.From)}
	if opts.Direction == eventstore.Backwards {
		ro.Direction = esdb.Backwards
		if opts.From == eventstore.EndOfStream {
			ro.From = esdb.End{}
		}
	}
	count := uint64(math.MaxInt64)
	if opts.Limit > 0 {
		count = uint64(opts.Limit)
	}
	rs, err := s.client.ReadStream(ctx, stream, ro, count)
	if err != nil {
		return nil, readErr(stream, err)
	}
	defer rs.Close()
	var out []eventstore.RecordedEvent
	for {
		ev, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, readErr(stream, err)
		}
		out = append(out, convert(ev))
	}
}

func readErr(stream string, err error) error {
	if isCode(err, esdb.ErrorCodeResourceNotFound) {
		return fmt.Errorf("read %s: %w", stream, eventstore.ErrStreamNotFound)
	}
	if isCode(err, esdb.ErrorCodeStreamDeleted) {
		return fmt.Errorf("read %s: stream deleted: %w", stream, eventstore.ErrStreamNotFound)
	}
	return fmt.Errorf("read %s: %w", stream, err)
}

func isSystem(stream, eventType string) bool {
	return strings.HasPrefix(eventType, "$") || strings.HasPrefix(stream, "$")
}

// ReadAll implements eventstore.Store. System events are skipped and the
// filter is applied client-side, paging until the limit is filled.
func (s *Store) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) ([]eventstore.RecordedEvent, error) {
	limit := opts.Limit
	if limit <= 0 {
		limit = eventstore.DefaultReadAllLimit
	}
	var from esdb.AllPosition = esdb.Start{}
	if !opts.After.IsStart() {
		from = esdb.Position{Commit: opts.After.Commit, Prepare: opts.After.Prepare}
	}
	const page = 512
	var out []eventstore.RecordedEvent
	for {
		rs, err := s.client.ReadAll(ctx, esdb.ReadAllOptions{Direction: esdb.Forwards, From: from}, page)
		if err != nil {
			return nil, fmt.Errorf("read all after %s: %w", opts.After, err)
		}
		n := 0
		var last eventstore.Position
		for {
			ev, err := rs.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				rs.Close()
				return nil, fmt.Errorf("read all after %s: %w", opts.After, err)
			}
			n++
			rec := convert(ev)
			last = rec.Position
			if !opts.After.Before(rec.Position) || isSystem(rec.Stream, rec.Type) || !opts.Filter.Matches(rec.Stream, rec.Type) {
				continue
			}
			out = append(out, rec)
			if len(out) == limit {
				rs.Close()
				return out, nil
			}
		}
		rs.Close()
		if n < page {
			return out, nil
		}
		from = esdb.Position{Commit: last.Commit, Prepare: last.Prepare}
	}
}

// Head implements eventstore.Store: the position of the last non-system
// event.
func (s *Store) Head(ctx context.Context) (eventstore.Position, error) {
	rs, err := s.client.ReadAll(ctx, esdb.ReadAllOptions{Direction: esdb.Backwards, From: esdb.End{}}, 1000)
	if err != nil {
		return eventstore.Position{}, fmt.Errorf("read head: %w", err)
	}
	defer rs.Close()
	for {
		ev, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return eventstore.Start, nil
		}
		if err != nil {
			return eventstore.Position{}, fmt.Errorf("read head: %w", err)
		}
		if rec := convert(ev); !isSystem(rec.Stream, rec.Type) {
			return rec.Position, nil
		}
	}
}

// serverFilter narrows a $all subscription on the server; the exact filter
// is applied again client-side.
func serverFilter(f eventstore.Filter) *esdb.SubscriptionFilter {
	switch {
	case len(f.StreamPrefixes) > 0:
		return &esdb.SubscriptionFilter{Type: esdb.StreamFilterType, Prefixes: f.StreamPrefixes}
	case len(f.EventTypes) > 0:
		quoted := make([]string, len(f.EventTypes))
		for i, t := range f.EventTypes {
			quoted[i] = regexp.QuoteMeta(t)
		}
		return &esdb.SubscriptionFilter{Type: esdb.EventFilterType, Regex: "^(" + strings.Join(quoted, "|") + ")$"}
	}
	return esdb.ExcludeSystemEventsFilter()
}

// Subscribe implements eventstore.Store. The start position is always
// passed explicitly (the client defaults to End). After a drop it
// re-subscribes from the last delivered position.
func (s *Store) Subscribe(ctx context.Context, after eventstore.Position, filter eventstore.Filter) (eventstore.Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	sub := &subscription{events: make(chan eventstore.RecordedEvent, 256), cancel: cancel, done: make(chan struct{})}
	first, err := s.subscribeFrom(ctx, after, filter)
	if err != nil {
		cancel()
		return nil, err
	}
	go sub.run(ctx, s, first, after, filter)
	return sub, nil
}

func (s *Store) subscribeFrom(ctx context.Context, after eventstore.Position, filter eventstore.Filter) (*esdb.Subscription, error) {
	var from esdb.AllPosition = esdb.Start{}
	if !after.IsStart() {
		from = esdb.Position{Commit: after.Commit, Prepare: after.Prepare}
	}
	sub, err := s.client.SubscribeToAll(ctx, esdb.SubscribeToAllOptions{From: from, Filter: serverFilter(filter)})
	if err != nil {
		return nil, fmt.Errorf("subscribe to $all after %s: %w", after, err)
	}
	return sub, nil
}

type subscription struct {
	events chan eventstore.RecordedEvent
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	err    error
	closed bool
}

func (sub *subscription) run(ctx context.Context, s *Store, es *esdb.Subscription, after eventstore.Position, filter eventstore.Filter) {
	defer close(sub.done)
	defer close(sub.events)
	backoff := s.cfg.ResubscribeBackoff
	for {
		// Close the client subscription when ctx ends, unblocking Recv.
		stop := context.AfterFunc(ctx, func() { _ = es.Close() })
		for {
			msg := es.Recv()
			if msg.EventAppeared != nil {
				rec := convert(msg.EventAppeared)
				if !after.Before(rec.Position) || isSystem(rec.Stream, rec.Type) || !filter.Matches(rec.Stream, rec.Type) {
					continue
				}
				select {
				case sub.events <- rec:
					after = rec.Position
					backoff = s.cfg.ResubscribeBackoff
				case <-ctx.Done():
					stop()
					sub.fail(ctx.Err())
					return
				}
				continue
			}
			if msg.SubscriptionDropped != nil {
				break
			}
		}
		stop()
		_ = es.Close()
		if ctx.Err() != nil {
			sub.fail(ctx.Err())
			return
		}
		s.cfg.Logger.Warn("esdb subscription dropped; resubscribing", "after", after.String(), "backoff", backoff)
		for {
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				sub.fail(ctx.Err())
				return
			}
			backoff = min(backoff*2, 10*time.Second)
			next, err := s.subscribeFrom(ctx, after, filter)
			if err == nil {
				es = next
				break
			}
			s.cfg.Logger.Warn("esdb resubscribe failed", "err", err)
		}
	}
}

func (sub *subscription) fail(err error) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if !sub.closed && sub.err == nil {
		sub.err = err
	}
}

// Events implements eventstore.Subscription.
func (sub *subscription) Events() <-chan eventstore.RecordedEvent { return sub.events }

// Err implements eventstore.Subscription.
func (sub *subscription) Err() error {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return sub.err
}

// Close implements eventstore.Subscription.
func (sub *subscription) Close() error {
	sub.mu.Lock()
	sub.closed = true
	sub.mu.Unlock()
	sub.cancel()
	<-sub.done
	return nil
}
