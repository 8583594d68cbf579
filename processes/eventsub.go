package processes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/webhost-systems/webhost/domain"
	"github.com/webhost-systems/webhost/eventstore"
)

// Metadata keys of the Watermill messages that carry recorded events.
const (
	MetaEventType     = "event_type"
	MetaStream        = "stream"
	MetaStreamVersion = "stream_version"
	MetaPosition      = "position"
	MetaEventMetadata = "event_metadata"
	MetaEventTime     = "event_time"
	MetaGroup         = "group"
	// MetaRedriveID is set on an event re-driven from the poison table.
	MetaRedriveID = "redrive_id"
)

// groupSubscriber is a Watermill subscriber over the event store for one
// process-manager group. While this process holds the group's lease it
// subscribes from the group's checkpoint and delivers events, several at a
// time but never two of one stream at once (so a stream's events are
// handled in order); the checkpoint moves to the last position below which
// every event was acknowledged. Nacked events are delivered again after a
// delay. Poisoned events whose redrive an admin asked for are delivered
// again too, marked with MetaRedriveID.
type groupSubscriber struct {
	group       string
	store       eventstore.Store
	pool        *pgxpool.Pool
	leaser      *leaser
	filter      eventstore.Filter
	maxInFlight int
	nackDelay   time.Duration
	redrivePoll time.Duration
	// checkpointEvery bounds how often the checkpoint is written.
	checkpointEvery time.Duration
	logger          *slog.Logger

	mu     sync.Mutex
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

var _ message.Subscriber = (*groupSubscriber)(nil)

// Subscribe starts delivering; topic is informational (the group name).
func (s *groupSubscriber) Subscribe(ctx context.Context, _ string) (<-chan *message.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil {
		return nil, fmt.Errorf("processes: group %s subscribed twice", s.group)
	}
	ctx, cancel := context.WithCancel(ctx)
	s.cancel = cancel
	out := make(chan *message.Message)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(out)
		s.leaser.runLeased(ctx, s.group, func(lctx context.Context) error { return s.lead(lctx, out) })
	}()
	return out, nil
}

// Close stops delivering and releases the lease.
func (s *groupSubscriber) Close() error {
	s.mu.Lock()
	cancel := s.cancel
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	s.wg.Wait()
	return nil
}

type outstanding struct {
	pos   eventstore.Position
	acked bool
}

type delivery struct {
	ev      eventstore.RecordedEvent
	entry   *outstanding // nil for a redrive
	redrive int64
}

type deliveryResult struct {
	d     delivery
	acked bool
}

// lead runs while the lease is held.
func (s *groupSubscriber) lead(ctx context.Context, out chan<- *message.Message) error {
	from, err := loadCheckpoint(ctx, s.pool, s.group)
	if err != nil {
		return err
	}
	sub, err := s.store.Subscribe(ctx, from, s.filter)
	if err != nil {
		return fmt.Errorf("group %s: subscribe from %s: %w", s.group, from, err)
	}
	defer sub.Close()
	s.logger.Info("process group active", "group", s.group, "from", from.String())

	var order []*outstanding
	queued := map[string][]delivery{}
	busy := map[string]bool{}
	redriving := map[int64]bool{}
	results := make(chan deliveryResult)
	again := make(chan delivery)
	redriveTick := time.NewTicker(s.redrivePoll)
	defer redriveTick.Stop()

	deliver := func(d delivery) bool {
		msg := toMessage(ctx, s.group, d.ev, d.redrive)
		select {
		case out <- msg:
		case <-ctx.Done():
			return false
		}
		go func() {
			var r deliveryResult
			select {
			case <-msg.Acked():
				r = deliveryResult{d: d, acked: true}
			case <-msg.Nacked():
				r = deliveryResult{d: d}
			case <-ctx.Done():
				return
			}
			select {
			case results <- r:
			case <-ctx.Done():
			}
		}()
		return true
	}

	// The checkpoint is written at most every checkpointEvery (and when
	// the lease ends), not per event: a crash re-delivers the events after
	// the stored checkpoint, which the handlers tolerate (idempotent).
	var dirty bool
	var pending eventstore.Position
	flushTick := time.NewTicker(s.checkpointEvery)
	defer flushTick.Stop()
	defer func() {
		if dirty {
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := saveCheckpoint(fctx, s.pool, s.group, pending); err != nil {
				s.logger.Warn("final checkpoint", "group", s.group, "err", err)
			}
		}
	}()

	events := sub.Events()
	for {
		var in <-chan eventstore.RecordedEvent
		if len(order) < s.maxInFlight {
			in = events
		}
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-in:
			if !ok {
				if err := sub.Err(); err != nil && ctx.Err() == nil {
					return fmt.Errorf("group %s: subscription ended: %w", s.group, err)
				}
				return nil
			}
			e := &outstanding{pos: ev.Position}
			order = append(order, e)
			d := delivery{ev: ev, entry: e}
			if busy[ev.Stream] {
				queued[ev.Stream] = append(queued[ev.Stream], d)
				continue
			}
			busy[ev.Stream] = true
			if !deliver(d) {
				return nil
			}
		case r := <-results:
			if r.d.entry == nil {
				delete(redriving, r.d.redrive)
				if r.acked {
					if err := markRedriven(ctx, s.pool, r.d.redrive); err != nil {
						s.logger.Error("mark redriven", "group", s.group, "poison_id", r.d.redrive, "err", err)
					}
				}
				continue
			}
			if !r.acked {
				d := r.d
				time.AfterFunc(s.nackDelay, func() {
					select {
					case again <- d:
					case <-ctx.Done():
					}
				})
				continue
			}
			r.d.entry.acked = true
			stream := r.d.ev.Stream
			if q := queued[stream]; len(q) > 0 {
				next := q[0]
				if len(q) == 1 {
					delete(queued, stream)
				} else {
					queued[stream] = q[1:]
				}
				if !deliver(next) {
					return nil
				}
			} else {
				delete(busy, stream)
			}
			n := 0
			for n < len(order) && order[n].acked {
				n++
			}
			if n > 0 {
				pending, dirty = order[n-1].pos, true
				order = order[n:]
			}
		case <-flushTick.C:
			if dirty {
				if err := saveCheckpoint(ctx, s.pool, s.group, pending); err != nil {
					return err
				}
				dirty = false
			}
		case d := <-again:
			if !deliver(d) {
				return nil
			}
		case <-redriveTick.C:
			reqs, err := pendingRedrives(ctx, s.pool, s.store, s.group)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				s.logger.Error("load redrive requests", "group", s.group, "err", err)
				continue
			}
			for _, d := range reqs {
				if redriving[d.redrive] {
					continue
				}
				redriving[d.redrive] = true
				if !deliver(d) {
					return nil
				}
			}
		}
	}
}

func toMessage(ctx context.Context, group string, ev eventstore.RecordedEvent, redrive int64) *message.Message {
	msg := message.NewMessage(ev.ID.String(), ev.Data)
	msg.Metadata.Set(MetaEventType, ev.Type)
	msg.Metadata.Set(MetaStream, ev.Stream)
	msg.Metadata.Set(MetaStreamVersion, strconv.FormatUint(ev.Version, 10))
	msg.Metadata.Set(MetaPosition, ev.Position.String())
	msg.Metadata.Set(MetaEventMetadata, string(ev.Metadata))
	msg.Metadata.Set(MetaEventTime, ev.Time.UTC().Format(time.RFC3339Nano))
	msg.Metadata.Set(MetaGroup, group)
	if redrive != 0 {
		msg.Metadata.Set(MetaRedriveID, strconv.FormatInt(redrive, 10))
	}
	var md domain.Metadata
	if len(ev.Metadata) > 0 {
		_ = json.Unmarshal(ev.Metadata, &md) // malformed metadata: correlate by event ID
	}
	if md.CorrelationID != "" {
		middleware.SetCorrelationID(md.CorrelationID, msg)
	} else {
		middleware.SetCorrelationID(ev.ID.String(), msg)
	}
	msg.SetContext(ctx)
	return msg
}

// ErrBadMessage is returned for a message that does not carry a recorded
// event (missing or malformed metadata).
var ErrBadMessage = errors.New("processes: message does not carry a recorded event")

// RecordedEventFromMessage rebuilds the recorded event a message carries.
// It returns an error matching ErrBadMessage for malformed metadata.
func RecordedEventFromMessage(msg *message.Message) (eventstore.RecordedEvent, error) {
	id, err := uuid.Parse(msg.UUID)
	if err != nil {
		return eventstore.RecordedEvent{}, fmt.Errorf("%w: uuid %q", ErrBadMessage, msg.UUID)
	}
	version, err := strconv.ParseUint(msg.Metadata.Get(MetaStreamVersion), 10, 64)
	if err != nil {
		return eventstore.RecordedEvent{}, fmt.Errorf("%w: stream version %q", ErrBadMessage, msg.Metadata.Get(MetaStreamVersion))
	}
	pos, err := eventstore.ParsePosition(msg.Metadata.Get(MetaPosition))
	if err != nil {
		return eventstore.RecordedEvent{}, fmt.Errorf("%w: %w", ErrBadMessage, err)
	}
	typ, stream := msg.Metadata.Get(MetaEventType), msg.Metadata.Get(MetaStream)
	if typ == "" || stream == "" {
		return eventstore.RecordedEvent{}, fmt.Errorf("%w: missing type or stream", ErrBadMessage)
	}
	at, _ := time.Parse(time.RFC3339Nano, msg.Metadata.Get(MetaEventTime))
	var meta []byte
	if m := msg.Metadata.Get(MetaEventMetadata); m != "" {
		meta = []byte(m)
	}
	return eventstore.RecordedEvent{ID: id, Stream: stream, Version: version, Position: pos, Time: at,
		Type: typ, Data: msg.Payload, Metadata: meta}, nil
}

func loadCheckpoint(ctx context.Context, pool *pgxpool.Pool, group string) (eventstore.Position, error) {
	var s string
	err := pool.QueryRow(ctx, "SELECT position FROM processes.checkpoints WHERE group_name = $1", group).Scan(&s)
	if err != nil {
		if isNoRows(err) {
			return eventstore.Start, nil
		}
		return eventstore.Start, fmt.Errorf("load checkpoint of %s: %w", group, err)
	}
	p, err := eventstore.ParsePosition(s)
	if err != nil {
		return eventstore.Start, fmt.Errorf("checkpoint of %s: %w", group, err)
	}
	return p, nil
}

// saveCheckpoint only moves a checkpoint forward, so a runner that lost its
// lease cannot move it back.
func saveCheckpoint(ctx context.Context, pool *pgxpool.Pool, group string, pos eventstore.Position) error {
	_, err := pool.Exec(ctx, `INSERT INTO processes.checkpoints (group_name, position, updated_at) VALUES ($1, $2, now())
		ON CONFLICT (group_name) DO UPDATE SET position = EXCLUDED.position, updated_at = now()
		WHERE processes.checkpoints.position < EXCLUDED.position`, group, pos.String())
	if err != nil {
		return fmt.Errorf("save checkpoint of %s: %w", group, err)
	}
	return nil
}

// Checkpoint returns the stored checkpoint of a group (Start when none).
func Checkpoint(ctx context.Context, pool *pgxpool.Pool, group string) (eventstore.Position, error) {
	return loadCheckpoint(ctx, pool, group)
}
