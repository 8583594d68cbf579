package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/webhost-systems/webhost/internal/migrate"
)

func runMigrate(ctx context.Context, args []string, stdout io.Writer, logger *slog.Logger) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	dsn := fs.String("database-url", envOr("WEBHOST_DATABASE_URL", defaultDatabaseURL), "PostgreSQL URL (WEBHOST_DATABASE_URL)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	pool, err := openDatabase(ctx, *dsn, logger)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := migrate.Up(ctx, pool, logger, migrationComponents()...); err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, "migrations up to date")
	return err
}
