package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/webhost-systems/webhost/internal/migrate"
	"github.com/webhost-systems/webhost/sync/rows"
	"github.com/webhost-systems/webhost/sync/syncauth"
)

// mountRowSyncWithRegistry applies the row-sync migrations, starts the
// row-sync server (sync/rows) and mounts POST /v1/sync/push,
// POST /v1/sync/pull and GET /v1/sync/live on mux. Its metrics
// (webhost_rowsync_*) go to reg. The returned closer stops its LISTEN and
// cleanup loops and closes live connections. Settings come from
// WEBHOST_ROWS_* (see rowSyncConfigFromEnv).
func mountRowSyncWithRegistry(ctx context.Context, mux *http.ServeMux, pool *pgxpool.Pool, auth syncauth.Authenticator, reg prometheus.Registerer, logger *slog.Logger) (func() error, error) {
	cfg, err := rowSyncConfigFromEnv(os.LookupEnv)
	if err != nil {
		return nil, err
	}
	cfg.Logger = logger
	cfg.Registerer = reg
	if err := migrate.Up(ctx, pool, logger, rows.Migrations); err != nil {
		return nil, fmt.Errorf("row sync: %w", err)
	}
	srv, err := rows.New(ctx, cfg, pool, auth)
	if err != nil {
		return nil, fmt.Errorf("row sync: %w", err)
	}
	srv.Mount(mux)
	eff := srv.Config()
	tables := strings.Join(eff.Tables, ",")
	if tables == "" {
		tables = "(any)"
	}
	logger.Info("row sync mounted", "push", rows.PathPush, "pull", rows.PathPull, "live", rows.PathLive,
		"tables", tables, "tombstone_retention", eff.TombstoneRetention, "pushes_per_second", eff.PushesPerSecond)
	return srv.Close, nil
}

// rowSyncConfigFromEnv reads the row-sync settings. Unset variables keep
// the defaults of rows.Config:
//
//	WEBHOST_ROWS_TABLES               comma-separated synced tables (default: any well-formed name)
//	WEBHOST_ROWS_SCHEMA_HASHES        comma-separated accepted schemaHash values (default: any)
//	WEBHOST_ROWS_MAX_REQUEST_BYTES    push/pull body limit (4194304)
//	WEBHOST_ROWS_MAX_MUTATIONS        mutations per push (500)
//	WEBHOST_ROWS_MAX_OPS              ops per mutation (1000)
//	WEBHOST_ROWS_MAX_VALUE_BYTES      stored value size (262144)
//	WEBHOST_ROWS_MAX_ROWS_PER_TABLE   live rows per table and customer (1000000)
//	WEBHOST_ROWS_PUSHES_PER_SECOND    pushes per second per key (20)
//	WEBHOST_ROWS_PUSH_BURST           push burst per key (40)
//	WEBHOST_ROWS_MAX_PULL_LIMIT       largest pull page (1000)
//	WEBHOST_ROWS_MAX_LIVE_PER_KEY     live WebSockets per key (100)
//	WEBHOST_ROWS_TOMBSTONE_RETENTION  how long tombstones are kept (720h)
//	WEBHOST_ROWS_CLEANUP_INTERVAL     how often tombstones are purged (1h)
func rowSyncConfigFromEnv(lookup func(string) (string, bool)) (rows.Config, error) {
	var cfg rows.Config
	get := func(name string) (string, bool) {
		v, ok := lookup(name)
		v = strings.TrimSpace(v)
		return v, ok && v != ""
	}
	list := func(name string, dst *[]string) {
		if v, ok := get(name); ok {
			for _, item := range strings.Split(v, ",") {
				if item = strings.TrimSpace(item); item != "" {
					*dst = append(*dst, item)
				}
			}
		}
	}
	var errs []string
	integer := func(name string, set func(int64)) {
		if v, ok := get(name); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 {
				errs = append(errs, fmt.Sprintf("%s: want a positive integer, got %q", name, v))
				return
			}
			set(n)
		}
	}
	duration := func(name string, dst *time.Duration) {
		if v, ok := get(name); ok {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				errs = append(errs, fmt.Sprintf("%s: want a positive duration like 720h, got %q", name, v))
				return
			}
			*dst = d
		}
	}
	list("WEBHOST_ROWS_TABLES", &cfg.Tables)
	list("WEBHOST_ROWS_SCHEMA_HASHES", &cfg.SchemaHashes)
	integer("WEBHOST_ROWS_MAX_REQUEST_BYTES", func(n int64) { cfg.MaxRequestBytes = n })
	integer("WEBHOST_ROWS_MAX_MUTATIONS", func(n int64) { cfg.MaxMutationsPerPush = int(n) })
	integer("WEBHOST_ROWS_MAX_OPS", func(n int64) { cfg.MaxOpsPerMutation = int(n) })
	integer("WEBHOST_ROWS_MAX_VALUE_BYTES", func(n int64) { cfg.MaxValueBytes = int(n) })
	integer("WEBHOST_ROWS_MAX_ROWS_PER_TABLE", func(n int64) { cfg.MaxRowsPerTable = n })
	integer("WEBHOST_ROWS_PUSH_BURST", func(n int64) { cfg.PushBurst = int(n) })
	integer("WEBHOST_ROWS_MAX_PULL_LIMIT", func(n int64) { cfg.MaxPullLimit = int(n) })
	integer("WEBHOST_ROWS_MAX_LIVE_PER_KEY", func(n int64) { cfg.MaxLiveConnsPerKey = int(n) })
	if v, ok := get("WEBHOST_ROWS_PUSHES_PER_SECOND"); ok {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 {
			errs = append(errs, fmt.Sprintf("WEBHOST_ROWS_PUSHES_PER_SECOND: want a positive number, got %q", v))
		}
		cfg.PushesPerSecond = f
	}
	duration("WEBHOST_ROWS_TOMBSTONE_RETENTION", &cfg.TombstoneRetention)
	duration("WEBHOST_ROWS_CLEANUP_INTERVAL", &cfg.CleanupInterval)
	if len(errs) > 0 {
		return cfg, fmt.Errorf("row sync config: %s", strings.Join(errs, "; "))
	}
	return cfg, nil
}
