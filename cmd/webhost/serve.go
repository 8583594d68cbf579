package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	wcommands "github.com/webhost-systems/webhost/commands"
	"github.com/webhost-systems/webhost/eventstore"
	"github.com/webhost-systems/webhost/httpapi"
	"github.com/webhost-systems/webhost/internal/migrate"
	"github.com/webhost-systems/webhost/projections"
	"github.com/webhost-systems/webhost/secrets"
)

// ServeMain is the `serve` command: it owns the wiring of the control plane
// (REST API, projections, process managers, /metrics, /healthz). End-to-end tests reuse it
// with Addr ":0".
type ServeMain struct {
	Addr        string
	DatabaseURL string
	// SecretKey is the master key of the secrets store (base64 or hex of
	// 32 bytes); empty means the development key.
	SecretKey string
	// MaxConns sizes the PostgreSQL pool (default 32).
	MaxConns int32
	// ReadWait bounds how long reads wait for X-Min-Position (default 5s).
	ReadWait time.Duration
	// RateLimit and RateBurst are the per-key request rate and bucket.
	RateLimit float64
	RateBurst int
	// DisableProcesses keeps the process managers off (tests that need a
	// quiet event log); `serve` runs them.
	DisableProcesses bool
	// Projections tunes the runners (Pool, Store, Projection, Metrics and
	// Logger are filled in by Open).
	Projections projections.RunnerConfig
	Logger      *slog.Logger

	platform *platform
	registry *prometheus.Registry
	runners  []*projections.Runner
	listener net.Listener
	server   *http.Server
}

// ParseFlags reads flags and environment.
func (m *ServeMain) ParseFlags(args []string) error {
	var env envValues
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&m.Addr, "addr", envOr("WEBHOST_HTTP_ADDR", "127.0.0.1:8080"), "HTTP listen address (WEBHOST_HTTP_ADDR)")
	fs.StringVar(&m.DatabaseURL, "database-url", envOr("WEBHOST_DATABASE_URL", defaultDatabaseURL), "PostgreSQL URL (WEBHOST_DATABASE_URL)")
	fs.DurationVar(&m.ReadWait, "read-wait", env.duration("WEBHOST_READ_WAIT", 5*time.Second), "longest wait of a read for X-Min-Position (WEBHOST_READ_WAIT)")
	fs.Float64Var(&m.RateLimit, "rate-limit", env.float("WEBHOST_API_RATE_LIMIT", 20), "API requests per second per key (WEBHOST_API_RATE_LIMIT)")
	fs.IntVar(&m.RateBurst, "rate-burst", int(env.int("WEBHOST_API_RATE_BURST", 40)), "API request burst per key (WEBHOST_API_RATE_BURST)")
	fs.IntVar(&m.Projections.BatchSize, "projection-batch", int(env.int("WEBHOST_PROJECTION_BATCH", 500)), "events per projection transaction (WEBHOST_PROJECTION_BATCH)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if env.err != nil {
		return env.err
	}
	m.SecretKey = envOr("WEBHOST_SECRET_KEY", "")
	return nil
}

// platform is what every control-plane command opens: the database, the
// event store, the secrets store, the command handlers and the projection
// manager.
type platform struct {
	pool        *pgxpool.Pool
	events      eventstore.Store
	closeEvents func() error
	secrets     *secrets.Store
	commands    *wcommands.Handlers
	manager     *projections.Manager
}

// openPlatform connects (creating the database if needed), migrates, and
// opens the stores. maxConns 0 keeps pgxpool's default.
func openPlatform(ctx context.Context, dsn, secretKey string, maxConns int32, logger *slog.Logger) (*platform, error) {
	first, err := openDatabase(ctx, dsn, logger)
	if err != nil {
		return nil, err
	}
	first.Close()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("database URL: %w", err)
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect database: %w", err)
	}
	p := &platform{pool: pool}
	fail := func(err error) (*platform, error) { p.close(); return nil, err }
	if err := migrate.Up(ctx, pool, logger, migrationComponents()...); err != nil {
		return fail(err)
	}
	if p.events, p.closeEvents, err = openEventStore(ctx, pool, logger); err != nil {
		return fail(err)
	}
	if secretKey == "" {
		secretKey = secrets.DevelopmentKey
	}
	key, err := secrets.ParseKey(secretKey)
	if err != nil {
		return fail(fmt.Errorf("WEBHOST_SECRET_KEY: %w", err))
	}
	if secrets.IsDevelopmentKey(key) {
		logger.Warn("secrets: using the development master key; set WEBHOST_SECRET_KEY in production")
	}
	if p.secrets, err = secrets.New(ctx, pool, secrets.Config{MasterKey: key}); err != nil {
		return fail(err)
	}
	if p.commands, err = wcommands.New(wcommands.Config{Store: p.events, Secrets: p.secrets, Logger: logger}); err != nil {
		return fail(err)
	}
	if p.manager, err = projections.NewManager(projections.ManagerConfig{Pool: pool, Store: p.events, Logger: logger}); err != nil {
		return fail(err)
	}
	if err := p.manager.Ensure(ctx); err != nil {
		return fail(err)
	}
	return p, nil
}

func (p *platform) close() {
	if p.closeEvents != nil {
		_ = p.closeEvents()
	}
	if p.pool != nil {
		p.pool.Close()
	}
}

// Open connects, migrates, installs the projections, mounts the API and
// starts listening. Run then serves and runs the projections.
func (m *ServeMain) Open(ctx context.Context) error {
	if m.Logger == nil {
		m.Logger = slog.New(slog.DiscardHandler)
	}
	if m.MaxConns == 0 {
		m.MaxConns = 32
	}
	p, err := openPlatform(ctx, m.DatabaseURL, m.SecretKey, m.MaxConns, m.Logger)
	if err != nil {
		return err
	}
	m.platform = p
	m.registry = prometheus.NewRegistry()
	m.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics, err := projections.NewMetrics(m.registry)
	if err != nil {
		return err
	}
	for _, proj := range p.manager.Projections() {
		rc := m.Projections
		rc.Pool, rc.Store, rc.Projection, rc.Metrics, rc.Logger = p.pool, p.events, proj, metrics, m.Logger
		r, err := projections.NewRunner(rc)
		if err != nil {
			return err
		}
		m.runners = append(m.runners, r)
	}
	queries, err := projections.NewQueries(projections.QueriesConfig{Pool: p.pool, MaxWait: m.ReadWait})
	if err != nil {
		return err
	}
	auth, err := projections.NewKeyAuthenticator(p.pool)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", m.healthz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{}))
	if _, err := httpapi.New(httpapi.Config{Mux: mux, Commands: p.commands, Reader: queries, Auth: auth, Secrets: p.secrets, Poison: poisonLister{pool: p.pool},
		Version: version, RateLimit: m.RateLimit, RateBurst: m.RateBurst, Logger: m.Logger}); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", m.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", m.Addr, err)
	}
	m.listener = ln
	m.server = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	return nil
}

// URL is the base URL the server listens on.
func (m *ServeMain) URL() string { return "http://" + m.listener.Addr().String() }

// Run serves and runs the projections and the process managers until ctx
// ends.
func (m *ServeMain) Run(ctx context.Context) error {
	runCtx, stopRunners := context.WithCancel(ctx)
	defer stopRunners()
	var wg sync.WaitGroup
	for _, r := range m.runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A runner returns early only at an event it cannot apply; it
			// has logged it, and /healthz reports it.
			_ = r.Run(runCtx)
		}()
	}
	stopProcesses := func() error { return nil }
	if !m.DisableProcesses {
		stop, err := m.startProcesses(runCtx)
		if err != nil {
			stopRunners()
			wg.Wait()
			return err
		}
		stopProcesses = stop
	}
	errc := make(chan error, 1)
	go func() { errc <- m.server.Serve(m.listener) }()
	m.Logger.Info("webhost serving", "api", m.URL()+"/v1", "docs", m.URL()+"/docs", "openapi", m.URL()+"/openapi.json",
		"health", m.URL()+"/healthz", "metrics", m.URL()+"/metrics")
	var serveErr error
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			serveErr = fmt.Errorf("serve: %w", err)
		}
	case <-ctx.Done():
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		serveErr = m.server.Shutdown(shutdownCtx)
		cancel()
	}
	if err := stopProcesses(); err != nil && serveErr == nil {
		serveErr = fmt.Errorf("stop processes: %w", err)
	}
	stopRunners()
	wg.Wait()
	return serveErr
}

// Close releases what Open acquired.
func (m *ServeMain) Close() error {
	if m.server != nil {
		_ = m.server.Close()
	} else if m.listener != nil {
		_ = m.listener.Close()
	}
	if m.platform != nil {
		m.platform.close()
	}
	return nil
}

// healthz reports the database and the projections; a projection stopped
// at an event it cannot apply makes the service unhealthy (503).
func (m *ServeMain) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "application/json")
	body := struct {
		Status      string               `json:"status"`
		Database    string               `json:"database"`
		Projections []projections.Status `json:"projections"`
	}{Status: "ok", Database: "ok"}
	if err := m.platform.pool.Ping(ctx); err != nil {
		body.Status, body.Database = "unavailable", "unreachable"
	}
	for _, run := range m.runners {
		st := run.Status()
		if st.Failed != "" {
			body.Status = "unavailable"
		}
		body.Projections = append(body.Projections, st)
	}
	if body.Status != "ok" {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(body)
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

// envValues reads typed environment variables and keeps the first
// malformed one's error.
type envValues struct{ err error }

func (e *envValues) fail(key string, err error) {
	if e.err == nil {
		e.err = fmt.Errorf("%s: %w", key, err)
	}
}

func (e *envValues) duration(key string, def time.Duration) time.Duration {
	v := envOr(key, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		e.fail(key, err)
	}
	return d
}

func (e *envValues) float(key string, def float64) float64 {
	v := envOr(key, "")
	if v == "" {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		e.fail(key, err)
	}
	return f
}

func (e *envValues) int(key string, def int64) int64 {
	v := envOr(key, "")
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		e.fail(key, err)
	}
	return n
}
