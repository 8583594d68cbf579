package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/webhost-systems/webhost/eventstore"
	"github.com/webhost-systems/webhost/internal/migrate"
)

// ServeMain is the `serve` command: it owns the wiring of the control plane.
// End-to-end tests reuse it with Addr ":0".
type ServeMain struct {
	Addr        string
	DatabaseURL string
	Logger      *slog.Logger

	pool        *pgxpool.Pool
	events      eventstore.Store
	closeEvents func() error
	listener    net.Listener
	server      *http.Server
}

// ParseFlags reads flags and environment.
func (m *ServeMain) ParseFlags(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&m.Addr, "addr", envOr("WEBHOST_HTTP_ADDR", "127.0.0.1:8080"), "HTTP listen address (WEBHOST_HTTP_ADDR)")
	fs.StringVar(&m.DatabaseURL, "database-url", envOr("WEBHOST_DATABASE_URL", defaultDatabaseURL), "PostgreSQL URL (WEBHOST_DATABASE_URL)")
	return fs.Parse(args)
}

// Open connects, migrates and starts listening. Run then serves.
func (m *ServeMain) Open(ctx context.Context) error {
	pool, err := openDatabase(ctx, m.DatabaseURL, m.Logger)
	if err != nil {
		return err
	}
	m.pool = pool
	if err := migrate.Up(ctx, pool, m.Logger, migrationComponents()...); err != nil {
		return err
	}
	m.events, m.closeEvents, err = openEventStore(ctx, pool, m.Logger)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", m.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", m.Addr, err)
	}
	m.listener = ln
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", m.healthz)
	m.server = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return nil
}

// URL is the base URL the server listens on.
func (m *ServeMain) URL() string { return "http://" + m.listener.Addr().String() }

// Run serves until ctx ends.
func (m *ServeMain) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- m.server.Serve(m.listener) }()
	m.Logger.Info("webhost serving", "api", m.URL(), "health", m.URL()+"/healthz")
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return m.server.Shutdown(shutdownCtx)
}

// Close releases what Open acquired.
func (m *ServeMain) Close() error {
	if m.server != nil {
		_ = m.server.Close()
	}
	if m.closeEvents != nil {
		_ = m.closeEvents()
	}
	if m.pool != nil {
		m.pool.Close()
	}
	return nil
}

func (m *ServeMain) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "application/json")
	if err := m.pool.Ping(ctx); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "{\"status\":\"unavailable\",\"database\":%q}\n", "unreachable")
		return
	}
	fmt.Fprintln(w, `{"status":"ok","database":"ok"}`)
}

func runServe(ctx context.Context, args []string, _ io.Writer, logger *slog.Logger) error {
	m := &ServeMain{Logger: logger}
	if err := m.ParseFlags(args); err != nil {
		return err
	}
	defer m.Close()
	if err := m.Open(ctx); err != nil {
		return err
	}
	return m.Run(ctx)
}
