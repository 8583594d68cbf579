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
	"net/http/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/webhost-systems/webhost/internal/migrate"
	"github.com/webhost-systems/webhost/projections"
	"github.com/webhost-systems/webhost/sync/syncauth"
	"github.com/webhost-systems/webhost/sync/yws"
)

// SyncMain is the `sync` command: the Yjs WebSocket server (/sync/<doc>),
// row sync (/v1/sync/...), /metrics and /healthz. End-to-end tests reuse it
// with Addr "127.0.0.1:0".
type SyncMain struct {
	Addr        string
	DatabaseURL string
	KeysFile    string
	NodeID      string
	// CORSOrigins are the browser origins allowed to call the HTTP
	// endpoints (row sync): "*" (the default) or a list. Keys travel in the
	// Authorization header, never in cookies, so "*" exposes nothing extra.
	CORSOrigins []string
	// Pprof mounts net/http/pprof under /debug/pprof/ (off by default).
	Pprof  bool
	Logger *slog.Logger
	// Yws holds the server's tunables (limits, compaction, group commit);
	// Pool, Auth, Codec, Logger and Registerer are filled in by Open.
	Yws yws.Config

	pool       *pgxpool.Pool
	listener   net.Listener
	server     *http.Server
	yws        *yws.Server
	closeRows  func() error
	registry   *prometheus.Registry
	openCancel context.CancelFunc
}

// ParseFlags reads flags and environment.
func (m *SyncMain) ParseFlags(args []string) error {
	fs := flag.NewFlagSet("sync", flag.ContinueOnError)
	env := envParser{}
	fs.StringVar(&m.Addr, "addr", envOr("WEBHOST_SYNC_ADDR", "127.0.0.1:8090"), "listen address (WEBHOST_SYNC_ADDR)")
	fs.StringVar(&m.DatabaseURL, "database-url", envOr("WEBHOST_DATABASE_URL", defaultDatabaseURL), "PostgreSQL URL (WEBHOST_DATABASE_URL)")
	fs.StringVar(&m.KeysFile, "keys-file", envOr("WEBHOST_SYNC_KEYS_FILE", ""), "JSON key file of hashed API keys, checked before the control plane's key table (WEBHOST_SYNC_KEYS_FILE)")
	fs.StringVar(&m.NodeID, "node-id", envOr("WEBHOST_SYNC_NODE_ID", ""), "unique name of this node among those sharing the database (WEBHOST_SYNC_NODE_ID; default random)")
	cors := fs.String("cors-origins", envOr("WEBHOST_SYNC_CORS_ORIGINS", "*"), "comma-separated origins allowed to call the HTTP endpoints, or * (WEBHOST_SYNC_CORS_ORIGINS)")
	fs.BoolVar(&m.Pprof, "pprof", envOr("WEBHOST_SYNC_PPROF", "") == "1", "serve /debug/pprof/ for profiling (WEBHOST_SYNC_PPROF=1)")
	maxMsg := fs.Int64("max-message-bytes", env.int64("WEBHOST_SYNC_MAX_MESSAGE_BYTES", 8<<20), "largest WebSocket message accepted (WEBHOST_SYNC_MAX_MESSAGE_BYTES)")
	rateLimit := fs.Float64("messages-per-second", env.float("WEBHOST_SYNC_MESSAGES_PER_SECOND", 200), "per-connection message rate limit (WEBHOST_SYNC_MESSAGES_PER_SECOND)")
	maxConns := fs.Int("max-conns-per-doc", int(env.int64("WEBHOST_SYNC_MAX_CONNS_PER_DOC", 1000)), "connections per document and node (WEBHOST_SYNC_MAX_CONNS_PER_DOC)")
	compactRows := fs.Int("compact-rows", int(env.int64("WEBHOST_SYNC_COMPACT_ROWS", 2000)), "log rows that trigger a compaction (WEBHOST_SYNC_COMPACT_ROWS)")
	idle := fs.Duration("idle-timeout", env.duration("WEBHOST_SYNC_IDLE_TIMEOUT", 30*time.Second), "unload documents idle this long (WEBHOST_SYNC_IDLE_TIMEOUT)")
	reauth := fs.Duration("reauth-interval", env.duration("WEBHOST_SYNC_REAUTH_INTERVAL", time.Minute), "re-check open connections' keys this often (WEBHOST_SYNC_REAUTH_INTERVAL)")
	if err := errors.Join(env.errs...); err != nil {
		return err
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	m.CORSOrigins = nil
	for _, o := range strings.Split(*cors, ",") {
		if o = strings.TrimSpace(o); o != "" {
			m.CORSOrigins = append(m.CORSOrigins, o)
		}
	}
	m.Yws.MaxMessageBytes = *maxMsg
	m.Yws.MessagesPerSecond = *rateLimit
	m.Yws.MessageBurst = max(1, int(2**rateLimit))
	m.Yws.MaxConnsPerDocument = *maxConns
	m.Yws.CompactRows = *compactRows
	m.Yws.IdleTimeout = *idle
	m.Yws.ReauthInterval = *reauth
	return nil
}

// Open connects, migrates the sync schema, and starts listening. Run then
// serves.
func (m *SyncMain) Open(ctx context.Context) error {
	pool, err := openDatabase(ctx, m.DatabaseURL, m.Logger)
	if err != nil {
		return err
	}
	m.pool = pool
	auth, err := m.authenticator(ctx, pool)
	if err != nil {
		return err
	}
	if err := migrate.Up(ctx, pool, m.Logger, yws.Migrations); err != nil {
		return err
	}
	m.registry = prometheus.NewRegistry()
	m.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	cfg := m.Yws
	cfg.Pool, cfg.Auth, cfg.Codec, cfg.Logger, cfg.Registerer = pool, auth, yws.YjsCodec{}, m.Logger, m.registry
	if m.NodeID != "" {
		cfg.NodeID = m.NodeID
	}
	srv, err := yws.New(ctx, cfg)
	if err != nil {
		return err
	}
	m.yws = srv

	mux := http.NewServeMux()
	mux.Handle("/sync/", srv)
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", m.healthz)
	if m.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	rowsCtx, cancel := context.WithCancel(context.Background())
	m.openCancel = cancel
	closeRows, err := mountRowSyncWithRegistry(rowsCtx, mux, pool, auth, m.registry, m.Logger)
	if err != nil {
		return fmt.Errorf("mount row sync: %w", err)
	}
	m.closeRows = closeRows

	ln, err := net.Listen("tcp", m.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", m.Addr, err)
	}
	m.listener = ln
	m.server = &http.Server{Handler: withCORS(m.CORSOrigins, mux), ReadHeaderTimeout: 10 * time.Second}
	return nil
}

// authenticator checks keys against the key file, if any, and then the
// control plane's key table (auth.api_keys, kept by `webhost serve`'s
// projections in the same database).
func (m *SyncMain) authenticator(ctx context.Context, pool *pgxpool.Pool) (syncauth.Authenticator, error) {
	table, err := projections.NewKeyAuthenticator(pool)
	if err != nil {
		return nil, err
	}
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('auth.api_keys') IS NOT NULL`).Scan(&exists); err != nil {
		return nil, fmt.Errorf("sync: look for the key table: %w", err)
	}
	if !exists {
		m.Logger.Warn("the control plane's key table auth.api_keys does not exist yet; only key-file keys work until `webhost serve` creates it")
	}
	chain := authChain{controlPlaneKeys{table}}
	if m.KeysFile != "" {
		file, err := syncauth.LoadKeyFile(m.KeysFile)
		if err != nil {
			return nil, err
		}
		chain = append(authChain{file}, chain...)
	}
	return chain, nil
}

// authChain tries each authenticator in turn: the first that knows the key
// decides; a key none knows is ErrUnauthenticated; if one failed for another
// reason (a database outage), that error is returned instead.
type authChain []syncauth.Authenticator

func (c authChain) Authenticate(ctx context.Context, token string) (syncauth.Principal, error) {
	var failure error
	for _, a := range c {
		p, err := a.Authenticate(ctx, token)
		switch {
		case err == nil:
			return p, nil
		case errors.Is(err, syncauth.ErrUnauthenticated):
		default:
			failure = err
		}
	}
	if failure != nil {
		return syncauth.Principal{}, failure
	}
	return syncauth.Principal{}, syncauth.ErrUnauthenticated
}

// controlPlaneKeys is the key table, where a table that does not exist yet
// (the control plane never ran on this database) knows no key.
type controlPlaneKeys struct{ table *projections.KeyAuthenticator }

func (k controlPlaneKeys) Authenticate(ctx context.Context, token string) (syncauth.Principal, error) {
	p, err := k.table.Authenticate(ctx, token)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "42P01" || pgErr.Code == "3F000") { // undefined_table, invalid_schema_name
		return syncauth.Principal{}, syncauth.ErrUnauthenticated
	}
	return p, err
}

// URL is the WebSocket base URL of the Yjs endpoint (append the room).
func (m *SyncMain) URL() string { return "ws://" + m.listener.Addr().String() + "/sync" }

// Run serves until ctx ends, then closes connections with 1012 so clients
// reconnect.
func (m *SyncMain) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- m.server.Serve(m.listener) }()
	base := "http://" + m.listener.Addr().String()
	m.Logger.Info("webhost sync serving", "yjs", m.URL(), "metrics", base+"/metrics", "health", base+"/healthz", "node", m.yws.NodeID())
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("sync serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = m.yws.Close()
	return m.server.Shutdown(shutdownCtx)
}

// Close releases what Open acquired.
func (m *SyncMain) Close() error {
	var errs []error
	if m.server != nil {
		errs = append(errs, m.server.Close())
	}
	if m.yws != nil {
		errs = append(errs, m.yws.Close())
	}
	if m.closeRows != nil {
		errs = append(errs, m.closeRows())
	}
	if m.openCancel != nil {
		m.openCancel()
	}
	if m.pool != nil {
		m.pool.Close()
	}
	return errors.Join(errs...)
}

func (m *SyncMain) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "application/json")
	if err := m.pool.Ping(ctx); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, `{"status":"unavailable","database":"unreachable"}`)
		return
	}
	fmt.Fprintf(w, "{\"status\":\"ok\",\"database\":\"ok\",\"documents_loaded\":%d}\n", m.yws.LoadedDocuments())
}

func runSync(ctx context.Context, args []string, _ io.Writer, logger *slog.Logger) error {
	m := &SyncMain{Logger: logger}
	if err := m.ParseFlags(args); err != nil {
		return err
	}
	defer m.Close()
	if err := m.Open(ctx); err != nil {
		return err
	}
	return m.Run(ctx)
}

// withCORS lets browser apps on the allowed origins call the sync server's
// HTTP endpoints (row sync push/pull): it answers preflight requests and
// adds Access-Control-Allow-Origin to responses. WebSockets need no CORS.
func withCORS(origins []string, next http.Handler) http.Handler {
	allowAll := slices.Contains(origins, "*")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" || (!allowAll && !slices.Contains(origins, origin)) {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		if allowAll {
			h.Set("Access-Control-Allow-Origin", "*")
		} else {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Add("Vary", "Origin")
		}
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// envParser reads typed environment variables, collecting parse errors.
type envParser struct{ errs []error }

func (e *envParser) int64(key string, def int64) int64 {
	raw := envOr(key, "")
	if raw == "" {
		return def
	}
	v, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s: %w", key, err))
		return def
	}
	return v
}

func (e *envParser) float(key string, def float64) float64 {
	raw := envOr(key, "")
	if raw == "" {
		return def
	}
	v, err := strconv.ParseFloat(raw, 64)
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s: %w", key, err))
		return def
	}
	return v
}

func (e *envParser) duration(key string, def time.Duration) time.Duration {
	raw := envOr(key, "")
	if raw == "" {
		return def
	}
	v, err := time.ParseDuration(raw)
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s: %w", key, err))
		return def
	}
	return v
}
