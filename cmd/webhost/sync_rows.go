package main

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/webhost-systems/webhost/sync/syncauth"
)

// mountRowSync mounts the row-sync endpoints (/v1/sync/...) on mux. It is
// replaced by sync/rows's wiring; until then the sync server serves Yjs only.
func mountRowSync(_ context.Context, _ *http.ServeMux, _ *pgxpool.Pool, _ syncauth.Authenticator, _ *slog.Logger) (func() error, error) {
	return func() error { return nil }, nil
}
