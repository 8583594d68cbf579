package main

import (
	"context"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/webhost-systems/webhost/eventstore"
	"github.com/webhost-systems/webhost/eventstore/esdb"
	"github.com/webhost-systems/webhost/eventstore/postgres"
)

// openEventStore returns EventStoreDB when EVENTSTORE_URL is set, and the
// PostgreSQL store otherwise. The returned closer stops the store.
func openEventStore(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) (eventstore.Store, func() error, error) {
	if url := envOr("EVENTSTORE_URL", ""); url != "" {
		s, err := esdb.New(esdb.Config{URL: url, Logger: logger})
		if err != nil {
			return nil, nil, err
		}
		logger.Info("event store: EventStoreDB")
		return s, s.Close, nil
	}
	s, err := postgres.New(ctx, pool, postgres.Config{Logger: logger})
	if err != nil {
		return nil, nil, err
	}
	logger.Info("event store: PostgreSQL")
	return s, s.Close, nil
}
