package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/webhost-systems/webhost/internal/migrate"
)

// defaultDatabaseURL is the local development database.
const defaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/webhost?sslmode=disable"

// openDatabase connects to dsn, creating the database first when it does not
// exist yet (a fresh machine), so `make run` needs no manual setup.
func openDatabase(ctx context.Context, dsn string, logger *slog.Logger) (*pgxpool.Pool, error) {
	if err := ensureDatabase(ctx, dsn, logger); err != nil {
		return nil, err
	}
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("connect database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect database %s: %w", redactURL(dsn), err)
	}
	return pool, nil
}

func ensureDatabase(ctx context.Context, dsn string, logger *slog.Logger) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err == nil {
		return conn.Close(ctx)
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "3D000" { // invalid_catalog_name
		return fmt.Errorf("connect database %s: %w", redactURL(dsn), err)
	}
	cfg, perr := pgx.ParseConfig(dsn)
	if perr != nil {
		return fmt.Errorf("parse database url: %w", perr)
	}
	name := cfg.Database
	cfg.Database = "postgres"
	admin, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect maintenance database to create %q: %w", name, err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		if errors.As(err, &pgErr) && pgErr.Code == "42P04" { // duplicate_database: created concurrently
			return nil
		}
		return fmt.Errorf("create database %q: %w", name, err)
	}
	logger.Info("created database", "database", name)
	return nil
}

// redactURL hides the password of a connection URL for logs.
func redactURL(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		if strings.Contains(dsn, "password") {
			return "(connection string redacted)"
		}
		return dsn
	}
	return u.Redacted()
}

// migrationComponents lists every component's migrations, in dependency
// order. `webhost migrate` and `webhost serve` apply them.
func migrationComponents() []migrate.Component {
	return allMigrations
}
