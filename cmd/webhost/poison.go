package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/webhost-systems/webhost/httpapi"
	"github.com/webhost-systems/webhost/processes"
)

// poisonLister serves GET /v1/admin/poison from the processes' poison table.
type poisonLister struct{ pool *pgxpool.Pool }

var _ httpapi.PoisonLister = poisonLister{}

// ListPoisoned implements httpapi.PoisonLister.
func (l poisonLister) ListPoisoned(ctx context.Context, f httpapi.PoisonFilter) ([]httpapi.PoisonedEvent, error) {
	rows, err := processes.ListPoisoned(ctx, l.pool, processes.PoisonFilter{Group: f.Group, Status: f.Status, AfterID: f.AfterID, Limit: f.Limit})
	if errors.Is(err, processes.ErrInvalidPoisonFilter) {
		return nil, fmt.Errorf("%w: %w", httpapi.ErrInvalidPoisonFilter, err)
	}
	if err != nil {
		return nil, err
	}
	out := make([]httpapi.PoisonedEvent, len(rows))
	for i, r := range rows {
		out[i] = httpapi.PoisonedEvent{
			ID: r.ID, Group: r.Group, Handler: r.Handler, EventID: r.EventID.String(), Stream: r.Stream,
			StreamVersion: r.StreamVersion, EventType: r.EventType, Position: r.Position, CorrelationID: r.CorrelationID,
			Reason: r.Reason, TimesPoisoned: r.TimesPoisoned, Status: r.Status, PoisonedAt: r.PoisonedAt,
			RedriveRequestedAt: r.RedriveRequestedAt, RedrivenAt: r.RedrivenAt,
		}
	}
	return out, nil
}
