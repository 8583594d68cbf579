// Package migrate applies the SQL migrations of each component (event store,
// secrets, projections, sync, ...) with goose. Each component keeps its own
// version table, so components evolve independently, and a PostgreSQL
// advisory lock makes concurrent runs (two `serve` processes) safe.
package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"
	"github.com/pressly/goose/v3/lock"
)

// Component is one owner of SQL migrations. FS holds files named like
// 00001_create_events.sql at its root, in goose's SQL format
// (-- +goose Up / -- +goose Down).
type Component struct {
	// Name is stable: it names the version table webhost_migrations_<name>.
	Name string
	FS   fs.FS
}

// ErrInvalidComponent is returned for a component without a name or files.
var ErrInvalidComponent = errors.New("migrate: invalid component")

// Up applies every pending migration of each component, in order.
func Up(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger, components ...Component) error {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	return UpDB(ctx, db, logger, components...)
}

// UpDB is Up on a database/sql handle.
func UpDB(ctx context.Context, db *sql.DB, logger *slog.Logger, components ...Component) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	for _, c := range components {
		if c.Name == "" || c.FS == nil {
			return fmt.Errorf("%w: %q", ErrInvalidComponent, c.Name)
		}
		store, err := database.NewStore(database.DialectPostgres, "webhost_migrations_"+c.Name)
		if err != nil {
			return fmt.Errorf("migrate %s: store: %w", c.Name, err)
		}
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return fmt.Errorf("migrate %s: locker: %w", c.Name, err)
		}
		provider, err := goose.NewProvider(database.DialectCustom, db, c.FS,
			goose.WithStore(store), goose.WithSessionLocker(locker))
		if err != nil {
			return fmt.Errorf("migrate %s: %w", c.Name, err)
		}
		results, err := provider.Up(ctx)
		if err != nil {
			return fmt.Errorf("migrate %s: %w", c.Name, err)
		}
		for _, r := range results {
			logger.Info("migration applied", "component", c.Name, "version", r.Source.Version, "file", r.Source.Path, "duration", r.Duration)
		}
	}
	return nil
}
