package processes

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/webhost-systems/webhost/eventstore"
)

// Poison statuses.
const (
	PoisonStatusPoisoned = "poisoned" // waiting for an admin
	PoisonStatusRedrive  = "redrive"  // an admin asked to handle it again
	PoisonStatusRedriven = "redriven" // handled successfully on redrive
)

// PoisonedEvent is an event a process-manager group gave up on.
type PoisonedEvent struct {
	ID                 int64      `json:"id"`
	Group              string     `json:"group"`
	Handler            string     `json:"handler"`
	EventID            uuid.UUID  `json:"event_id"`
	Stream             string     `json:"stream"`
	StreamVersion      uint64     `json:"stream_version"`
	EventType          string     `json:"event_type"`
	Position           string     `json:"position"`
	CorrelationID      string     `json:"correlation_id"`
	Reason             string     `json:"reason"`
	TimesPoisoned      int        `json:"times_poisoned"`
	Status             string     `json:"status"`
	PoisonedAt         time.Time  `json:"poisoned_at"`
	RedriveRequestedAt *time.Time `json:"redrive_requested_at,omitempty"`
	RedrivenAt         *time.Time `json:"redriven_at,omitempty"`
}

// PoisonFilter selects poisoned events. Zero values match everything.
type PoisonFilter struct {
	Group  string
	Status string // one of the PoisonStatus* values
	// AfterID pages: only rows with a larger ID.
	AfterID int64
	// Limit caps the rows (default 100, at most 1000).
	Limit int
}

// ErrInvalidPoisonFilter is returned for an unknown status or a negative
// limit.
var ErrInvalidPoisonFilter = errors.New("processes: invalid poison filter")

// ListPoisoned lists poisoned events, oldest first; GET /v1/admin/poison
// serves it. Errors match ErrInvalidPoisonFilter or wrap a database error.
func ListPoisoned(ctx context.Context, pool *pgxpool.Pool, f PoisonFilter) ([]PoisonedEvent, error) {
	switch f.Status {
	case "", PoisonStatusPoisoned, PoisonStatusRedrive, PoisonStatusRedriven:
	default:
		return nil, fmt.Errorf("%w: status %q", ErrInvalidPoisonFilter, f.Status)
	}
	if f.Limit < 0 || f.AfterID < 0 {
		return nil, fmt.Errorf("%w: negative limit or cursor", ErrInvalidPoisonFilter)
	}
	if f.Limit == 0 {
		f.Limit = 100
	}
	if f.Limit > 1000 {
		f.Limit = 1000
	}
	rows, err := pool.Query(ctx, `SELECT id, group_name, handler, event_id, stream, stream_version, event_type, position,
		correlation_id, reason, times_poisoned, status, poisoned_at, redrive_requested_at, redriven_at
		FROM processes.poison
		WHERE ($1 = '' OR group_name = $1) AND ($2 = '' OR status = $2) AND id > $3
		ORDER BY id LIMIT $4`, f.Group, f.Status, f.AfterID, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("list poisoned events: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (PoisonedEvent, error) {
		var p PoisonedEvent
		var version int64
		err := row.Scan(&p.ID, &p.Group, &p.Handler, &p.EventID, &p.Stream, &version, &p.EventType, &p.Position,
			&p.CorrelationID, &p.Reason, &p.TimesPoisoned, &p.Status, &p.PoisonedAt, &p.RedriveRequestedAt, &p.RedrivenAt)
		p.StreamVersion = uint64(version)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("list poisoned events: %w", err)
	}
	return out, nil
}

// RedriveRequest selects poisoned events to handle again: IDs, or every
// poisoned event (of Group, when set) with All.
type RedriveRequest struct {
	IDs   []int64
	Group string
	All   bool
}

// ErrNothingToRedrive is returned when a request selects no poisoned event.
var ErrNothingToRedrive = errors.New("processes: no poisoned event matches")

// RequestRedrive marks the selected poisoned events for redrive and returns
// how many it marked. The active runner of each event's group handles them
// again within its redrive poll interval. Errors match ErrNothingToRedrive
// or wrap a database error.
func RequestRedrive(ctx context.Context, pool *pgxpool.Pool, req RedriveRequest, now time.Time) (int, error) {
	if !req.All && len(req.IDs) == 0 {
		return 0, fmt.Errorf("%w: give IDs or All", ErrNothingToRedrive)
	}
	ids := req.IDs
	if ids == nil {
		ids = []int64{}
	}
	tag, err := pool.Exec(ctx, `UPDATE processes.poison SET status = 'redrive', redrive_requested_at = $1
		WHERE status = 'poisoned' AND ($2 OR id = ANY($3)) AND ($4 = '' OR group_name = $4)`,
		now.UTC(), req.All, ids, req.Group)
	if err != nil {
		return 0, fmt.Errorf("request redrive: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return 0, ErrNothingToRedrive
	}
	return int(tag.RowsAffected()), nil
}

// poisonPublisher is the PoisonQueue middleware's publisher: it records a
// poisoned message in processes.poison. A re-driven message that fails
// again puts its row back to 'poisoned'.
type poisonPublisher struct {
	pool *pgxpool.Pool
	now  func() time.Time
}

var _ message.Publisher = (*poisonPublisher)(nil)

func (p *poisonPublisher) Publish(_ string, msgs ...*message.Message) error {
	for _, msg := range msgs {
		ctx := context.WithoutCancel(msg.Context())
		reason := msg.Metadata.Get(middleware.ReasonForPoisonedKey)
		if id := msg.Metadata.Get(MetaRedriveID); id != "" {
			n, err := strconv.ParseInt(id, 10, 64)
			if err != nil {
				return fmt.Errorf("poison: redrive id %q: %w", id, err)
			}
			if _, err := p.pool.Exec(ctx, `UPDATE processes.poison SET status = 'poisoned', reason = $2,
				times_poisoned = times_poisoned + 1, poisoned_at = $3 WHERE id = $1`, n, reason, p.now().UTC()); err != nil {
				return fmt.Errorf("poison: record failed redrive %d: %w", n, err)
			}
			continue
		}
		ev, err := RecordedEventFromMessage(msg)
		if err != nil {
			return fmt.Errorf("poison: %w", err)
		}
		group := msg.Metadata.Get(MetaGroup)
		handler := msg.Metadata.Get(middleware.PoisonedHandlerKey)
		if handler == "" {
			handler = group
		}
		if _, err := p.pool.Exec(ctx, `INSERT INTO processes.poison (group_name, handler, event_id, stream, stream_version,
			event_type, position, correlation_id, reason, poisoned_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)
			ON CONFLICT (group_name, event_id) DO UPDATE SET status = 'poisoned', reason = EXCLUDED.reason,
			times_poisoned = processes.poison.times_poisoned + 1, poisoned_at = EXCLUDED.poisoned_at`,
			group, handler, ev.ID, ev.Stream, int64(ev.Version), ev.Type, ev.Position.String(),
			middleware.MessageCorrelationID(msg), reason, p.now().UTC()); err != nil {
			return fmt.Errorf("poison: record %s: %w", ev.ID, err)
		}
	}
	return nil
}

func (p *poisonPublisher) Close() error { return nil }

// pendingRedrives loads the events an admin asked to redrive.
func pendingRedrives(ctx context.Context, pool *pgxpool.Pool, store eventstore.Store, group string) ([]delivery, error) {
	rows, err := pool.Query(ctx, `SELECT id, stream, stream_version, event_id FROM processes.poison
		WHERE group_name = $1 AND status = 'redrive' ORDER BY id LIMIT 100`, group)
	if err != nil {
		return nil, err
	}
	type req struct {
		id      int64
		stream  string
		version int64
		eventID uuid.UUID
	}
	reqs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (req, error) {
		var r req
		return r, row.Scan(&r.id, &r.stream, &r.version, &r.eventID)
	})
	if err != nil {
		return nil, err
	}
	out := make([]delivery, 0, len(reqs))
	for _, r := range reqs {
		evs, err := store.ReadStream(ctx, r.stream, eventstore.ReadStreamOptions{From: uint64(r.version), Limit: 1})
		if err != nil {
			return nil, fmt.Errorf("read poisoned event %s@%d: %w", r.stream, r.version, err)
		}
		if len(evs) != 1 || evs[0].ID != r.eventID {
			return nil, fmt.Errorf("poisoned event %s@%d is not %s in the store", r.stream, r.version, r.eventID)
		}
		out = append(out, delivery{ev: evs[0], redrive: r.id})
	}
	return out, nil
}

func markRedriven(ctx context.Context, pool *pgxpool.Pool, id int64) error {
	_, err := pool.Exec(ctx, `UPDATE processes.poison SET status = 'redriven', redriven_at = now() WHERE id = $1 AND status = 'redrive'`, id)
	return err
}

func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }
