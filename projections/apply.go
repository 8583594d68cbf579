package projections

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/webhost-systems/webhost/domain"
	"github.com/webhost-systems/webhost/eventstore"
)

// applyResult is what one batch did.
type applyResult struct {
	applied int                 // events after the checkpoint (handled or not)
	last    eventstore.Position // new checkpoint (unchanged when applied == 0)
	lastAt  eventstore.RecordedEvent
}

// applyBatch applies the events of batch that lie after the checkpoint
// cpName, inside tx, into schema, and advances the checkpoint in the same
// transaction. It locks the checkpoint row first, so that two appliers of
// the same checkpoint (a failed-over runner, a rebuild's swap) serialise
// and never apply an event twice. An event the projection cannot apply
// returns an *ApplyError and tx must be rolled back.
func applyBatch(ctx context.Context, tx pgx.Tx, p *Projection, schema, cpName string, batch []eventstore.RecordedEvent) (applyResult, error) {
	var res applyResult
	if _, err := tx.Exec(ctx, "SET LOCAL search_path TO "+ident(schema)); err != nil {
		return res, fmt.Errorf("projection %s: set search_path: %w", p.Name, err)
	}
	cp, err := lockCheckpoint(ctx, tx, cpName)
	if err != nil {
		return res, err
	}
	res.last = cp
	start := 0
	for start < len(batch) && !cp.Before(batch[start].Position) {
		start++
	}
	events := batch[start:]
	if len(events) == 0 {
		return res, nil
	}
	var b Batch
	for i, rec := range events {
		b.cur = i
		if !p.Handles(rec.Type) {
			continue
		}
		env := Envelope{Record: rec}
		if p.Decode {
			env.Event, env.Meta, err = domain.DecodeEvent(rec.Type, rec.Data, rec.Metadata)
			if err != nil {
				return res, applyError(p, rec, fmt.Errorf("decode: %w", err))
			}
		}
		if err := p.Apply(&b, env); err != nil {
			return res, applyError(p, rec, err)
		}
	}
	last := events[len(events)-1]
	b.cur = -1
	b.Queue(`UPDATE projections.checkpoints SET position = $2, events_applied = events_applied + $3, updated_at = now() WHERE name = $1`,
		cpName, last.Position.String(), int64(len(events)))
	br := tx.SendBatch(ctx, &b.b)
	for i, owner := range b.owners {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			var pgErr *pgconn.PgError
			if owner >= 0 && errors.As(err, &pgErr) {
				return res, applyError(p, events[owner], fmt.Errorf("statement %d: %w", i, err))
			}
			return res, fmt.Errorf("projection %s: apply batch: %w", p.Name, err)
		}
	}
	if err := br.Close(); err != nil {
		return res, fmt.Errorf("projection %s: apply batch: %w", p.Name, err)
	}
	res.applied, res.last, res.lastAt = len(events), last.Position, last
	return res, nil
}

func applyError(p *Projection, rec eventstore.RecordedEvent, err error) *ApplyError {
	return &ApplyError{Projection: p.Name, Position: rec.Position, Stream: rec.Stream, Version: rec.Version,
		Type: rec.Type, EventID: rec.ID.String(), Err: err}
}

// lockCheckpoint locks and returns the checkpoint row name.
func lockCheckpoint(ctx context.Context, tx pgx.Tx, name string) (eventstore.Position, error) {
	var s string
	err := tx.QueryRow(ctx, `SELECT position FROM projections.checkpoints WHERE name = $1 FOR UPDATE`, name).Scan(&s)
	if errors.Is(err, pgx.ErrNoRows) {
		return eventstore.Position{}, fmt.Errorf("projection checkpoint %s: missing (run Manager.Ensure)", name)
	}
	if err != nil {
		return eventstore.Position{}, fmt.Errorf("projection checkpoint %s: %w", name, err)
	}
	pos, err := eventstore.ParsePosition(s)
	if err != nil {
		return eventstore.Position{}, fmt.Errorf("projection checkpoint %s: %w", name, err)
	}
	return pos, nil
}

// querier is what reading a checkpoint needs (pool, conn or tx).
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Checkpoint returns the position projection name has applied, Start when
// it has applied nothing, or an error matching ErrUnknownProjection when it
// has never been installed.
func Checkpoint(ctx context.Context, q querier, name string) (eventstore.Position, error) {
	var s string
	err := q.QueryRow(ctx, `SELECT position FROM projections.checkpoints WHERE name = $1`, name).Scan(&s)
	if errors.Is(err, pgx.ErrNoRows) {
		return eventstore.Position{}, fmt.Errorf("%w: %q not installed", ErrUnknownProjection, name)
	}
	if err != nil {
		return eventstore.Position{}, fmt.Errorf("checkpoint %s: %w", name, err)
	}
	return eventstore.ParsePosition(s)
}
