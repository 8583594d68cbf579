// Package rows is the Dexie table-sync server: POST /v1/sync/push,
// POST /v1/sync/pull and the GET /v1/sync/live WebSocket, implementing the
// row sync protocol v1 (shared/ROW-SYNC.md) on PostgreSQL.
//
// Rows are a compacted change log keyed by (tenant, table, key) that keeps
// tombstones; every write stamps the row with its transaction's xid8 and a
// fresh seq. Pulls read below the visibility horizon
// pg_snapshot_xmin(pg_current_snapshot()) ordered by (xid, seq), so a row
// that commits late with a lower seq is never skipped. Pushes are idempotent
// by the client's mutation ID. Commits NOTIFY a channel that every node
// LISTENs on, and each node pokes its live clients of that tenant once the
// writing transaction is below the horizon, so a poked client's pull sees
// the change.
package rows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/time/rate"

	"github.com/webhost-systems/webhost/sync/syncauth"
)

// Paths served by Mount.
const (
	PathPush = "/v1/sync/push"
	PathPull = "/v1/sync/pull"
	PathLive = "/v1/sync/live"
)

// Error codes of the JSON error body {"error": code, "message": ...}.
const (
	CodeMalformed       = "malformed"
	CodeUnknownTable    = "unknown_table"
	CodeUnauthenticated = "unauthenticated"
	CodeForbidden       = "forbidden"
	CodeMidGap          = "mid_gap"
	CodeReset           = "reset"
	CodeSchemaMismatch  = "schema_mismatch"
	CodeTooLarge        = "request_too_large"
	CodeTooManyMuts     = "too_many_mutations"
	CodeTooManyOps      = "too_many_ops"
	CodeRateLimited     = "rate_limited"
	CodeUnavailable     = "unavailable"
	CodeInternal        = "internal"
)

// ErrorBody is the JSON body of every non-200 response. ExpectedMID is set
// on 409, LastMID and Results on 409 too (the mutations before the gap were
// processed).
type ErrorBody struct {
	Error       string       `json:"error"`
	Message     string       `json:"message"`
	ExpectedMID *int64       `json:"expectedMid,omitempty"`
	LastMID     *int64       `json:"lastMid,omitempty"`
	Results     []PushResult `json:"results,omitempty"`
}

// Server serves row sync. Create it with New, mount it with Mount or use it
// as an http.Handler, and Close it to stop its listener, cleanup loop and
// live connections.
type Server struct {
	cfg     Config
	store   *store
	auth    syncauth.Authenticator
	metrics *metrics
	log     *slog.Logger
	tables  map[string]bool
	hashes  map[string]bool
	hub     *hub
	mux     *http.ServeMux

	limMu    sync.Mutex
	limiters map[string]*keyLimiter

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type keyLimiter struct {
	lim      *rate.Limiter
	lastUsed time.Time
	live     int
}

// New validates cfg, checks that the rowsync schema is migrated, and starts
// the LISTEN loop (cross-node pokes) and the tombstone cleanup loop. It
// returns ErrInvalidConfig for a bad config.
func New(ctx context.Context, cfg Config, pool *pgxpool.Pool, auth syncauth.Authenticator) (*Server, error) {
	if pool == nil || auth == nil {
		return nil, fmt.Errorf("%w: pool and authenticator are required", ErrInvalidConfig)
	}
	cfg.Tables = slices.Clone(cfg.Tables)
	cfg.SchemaHashes = slices.Clone(cfg.SchemaHashes)
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:      cfg,
		store:    newStore(pool, &cfg),
		auth:     auth,
		metrics:  m,
		log:      cfg.Logger,
		limiters: map[string]*keyLimiter{},
	}
	if _, err := s.store.loadEpoch(ctx); err != nil {
		return nil, err
	}
	if len(cfg.Tables) > 0 {
		s.tables = map[string]bool{}
		for _, t := range cfg.Tables {
			s.tables[t] = true
		}
	}
	if len(cfg.SchemaHashes) > 0 {
		s.hashes = map[string]bool{}
		for _, h := range cfg.SchemaHashes {
			s.hashes[h] = true
		}
	}
	s.hub = newHub(s.store, &s.cfg, m, s.log)
	s.mux = http.NewServeMux()
	s.Mount(s.mux)

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	ready := make(chan struct{})
	s.wg.Add(3)
	go func() { defer s.wg.Done(); s.hub.listen(runCtx, pool, ready) }()
	go func() { defer s.wg.Done(); s.hub.gate(runCtx) }()
	go func() { defer s.wg.Done(); s.cleanupLoop(runCtx) }()
	// Serve only once LISTEN is up, so that no commit after New returns
	// can go unannounced to this node's live clients.
	wait := time.NewTimer(30 * time.Second)
	defer wait.Stop()
	select {
	case <-ready:
		return s, nil
	case <-ctx.Done():
		_ = s.Close()
		return nil, fmt.Errorf("rows: waiting for LISTEN: %w", ctx.Err())
	case <-wait.C:
		_ = s.Close()
		return nil, errors.New("rows: LISTEN connection not established within 30 s")
	}
}

// Config returns the effective configuration, defaults applied.
func (s *Server) Config() Config { return s.cfg }

// Mount registers the three endpoints on mux.
func (s *Server) Mount(mux *http.ServeMux) {
	mux.HandleFunc("POST "+PathPush, s.handlePush)
	mux.HandleFunc("POST "+PathPull, s.handlePull)
	mux.HandleFunc("GET "+PathLive, s.handleLive)
}

// ServeHTTP serves the three endpoints.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Close stops the background loops and closes every live connection with
// "going away". It is safe to call more than once.
func (s *Server) Close() error {
	s.cancel()
	s.hub.closeAll()
	s.wg.Wait()
	return nil
}

// CleanupTombstones purges tombstones deleted more than TombstoneRetention
// ago (and acks as old), moving each tenant's cursor floor: cursors from
// before a purged tombstone get 410 reset. It returns how many tombstones
// were purged. Run calls it every CleanupInterval; it is exported for
// operators and tests.
func (s *Server) CleanupTombstones(ctx context.Context) (int64, error) {
	return s.store.cleanup(ctx, s.cfg.Now().Add(-s.cfg.TombstoneRetention))
}

func (s *Server) cleanupLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.CleanupInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := s.CleanupTombstones(ctx)
			if err != nil {
				if ctx.Err() == nil {
					s.log.Error("row sync: tombstone cleanup failed", "err", err)
				}
				continue
			}
			if n > 0 {
				s.log.Info("row sync: tombstones purged", "count", n, "retention", s.cfg.TombstoneRetention)
			}
			s.sweepLimiters()
		}
	}
}

// httpError is an error with its response.
type httpError struct {
	status     int
	body       ErrorBody
	retryAfter int
}

func (e *httpError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.status, e.body.Error, e.body.Message)
}

func newHTTPError(status int, code, format string, args ...any) *httpError {
	return &httpError{status: status, body: ErrorBody{Error: code, Message: fmt.Sprintf(format, args...)}}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) writeError(w http.ResponseWriter, err error) int {
	var he *httpError
	if !errors.As(err, &he) {
		if errors.Is(err, context.Canceled) {
			s.log.Debug("row sync: request canceled by the client", "err", err)
		} else {
			s.log.Error("row sync: internal error", "err", err)
		}
		he = newHTTPError(http.StatusInternalServerError, CodeInternal, "internal error; retry with backoff")
	}
	if he.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(he.retryAfter))
	}
	if he.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="webhost-sync"`)
	}
	writeJSON(w, he.status, he.body)
	return he.status
}

// bearerToken returns the API key of an Authorization: Bearer header.
func bearerToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if scheme, token, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(token)
	}
	return ""
}

// authenticate resolves the request's key (Bearer header; the live
// endpoint also accepts the query parameter token, which browsers need for
// WebSockets).
func (s *Server) authenticate(r *http.Request, allowQuery bool) (syncauth.Principal, error) {
	token := bearerToken(r)
	if token == "" && allowQuery {
		token = r.URL.Query().Get("token")
	}
	if token == "" {
		return syncauth.Principal{}, newHTTPError(http.StatusUnauthorized, CodeUnauthenticated, "missing API key: send Authorization: Bearer <key>")
	}
	p, err := s.auth.Authenticate(r.Context(), token)
	switch {
	case errors.Is(err, syncauth.ErrUnauthenticated):
		return p, newHTTPError(http.StatusUnauthorized, CodeUnauthenticated, "invalid, expired or revoked API key")
	case errors.Is(err, syncauth.ErrForbidden):
		return p, newHTTPError(http.StatusForbidden, CodeForbidden, "API key not allowed")
	case err != nil:
		s.log.Error("row sync: authenticator failed", "err", err)
		he := newHTTPError(http.StatusServiceUnavailable, CodeUnavailable, "authentication is temporarily unavailable")
		he.retryAfter = 1
		return p, he
	}
	if p.CustomerID == "" {
		return p, newHTTPError(http.StatusForbidden, CodeForbidden, "API key has no customer")
	}
	if !p.CanWrite() && !slices.Contains(p.Scopes, syncauth.ScopeRead) {
		return p, newHTTPError(http.StatusForbidden, CodeForbidden, "API key has neither read nor write scope")
	}
	return p, nil
}

func (s *Server) limiter(keyID string) *keyLimiter {
	s.limMu.Lock()
	defer s.limMu.Unlock()
	kl, ok := s.limiters[keyID]
	if !ok {
		kl = &keyLimiter{lim: rate.NewLimiter(rate.Limit(s.cfg.PushesPerSecond), s.cfg.PushBurst)}
		s.limiters[keyID] = kl
	}
	kl.lastUsed = s.cfg.Now()
	return kl
}

// allowPush takes a token from the key's push limiter, or returns 429 with
// the seconds until the next token.
func (s *Server) allowPush(keyID string) error {
	kl := s.limiter(keyID)
	now := s.cfg.Now()
	if kl.lim.AllowN(now, 1) {
		return nil
	}
	r := kl.lim.ReserveN(now, 1)
	delay := r.DelayFrom(now)
	r.CancelAt(now)
	he := newHTTPError(http.StatusTooManyRequests, CodeRateLimited, "more than %g pushes per second for this API key", s.cfg.PushesPerSecond)
	he.retryAfter = max(1, int(math.Ceil(delay.Seconds())))
	return he
}

// sweepLimiters forgets limiters idle for a minute with no live sockets.
func (s *Server) sweepLimiters() {
	s.limMu.Lock()
	defer s.limMu.Unlock()
	cutoff := s.cfg.Now().Add(-time.Minute)
	for id, kl := range s.limiters {
		if kl.live == 0 && kl.lastUsed.Before(cutoff) {
			delete(s.limiters, id)
		}
	}
}

// readBody reads at most MaxRequestBytes (413 beyond).
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > s.cfg.MaxRequestBytes {
		return nil, newHTTPError(http.StatusRequestEntityTooLarge, CodeTooLarge, "request body of %d bytes exceeds the limit of %d bytes", r.ContentLength, s.cfg.MaxRequestBytes)
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxRequestBytes))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, newHTTPError(http.StatusRequestEntityTooLarge, CodeTooLarge, "request body exceeds the limit of %d bytes", s.cfg.MaxRequestBytes)
	}
	if err != nil {
		return nil, newHTTPError(http.StatusBadRequest, CodeMalformed, "reading the body failed: %v", err)
	}
	return raw, nil
}

func (s *Server) checkTable(name string) error {
	if s.tables != nil && !s.tables[name] {
		return newHTTPError(http.StatusBadRequest, CodeUnknownTable, "unknown table %q: it is not a synced table of this server", name)
	}
	return nil
}

func (s *Server) handlePush(w http.ResponseWriter, r *http.Request) {
	resp, err := s.push(w, r)
	code := http.StatusOK
	if err != nil {
		code = s.writeError(w, err)
	} else {
		writeJSON(w, http.StatusOK, resp)
	}
	s.metrics.pushes.WithLabelValues(strconv.Itoa(code)).Inc()
}

func (s *Server) push(w http.ResponseWriter, r *http.Request) (PushResponse, error) {
	p, err := s.authenticate(r, false)
	if err != nil {
		return PushResponse{}, err
	}
	if err := s.allowPush(p.KeyID); err != nil {
		return PushResponse{}, err
	}
	raw, err := s.readBody(w, r)
	if err != nil {
		return PushResponse{}, err
	}
	req, err := DecodePush(raw)
	if err != nil {
		return PushResponse{}, newHTTPError(http.StatusBadRequest, CodeMalformed, "%s", strings.TrimPrefix(err.Error(), "rows: "))
	}
	if len(req.Mutations) > s.cfg.MaxMutationsPerPush {
		return PushResponse{}, newHTTPError(http.StatusRequestEntityTooLarge, CodeTooManyMuts, "%d mutations in one push, the limit is %d: split the batch", len(req.Mutations), s.cfg.MaxMutationsPerPush)
	}
	for _, m := range req.Mutations {
		if len(m.Ops) > s.cfg.MaxOpsPerMutation {
			return PushResponse{}, newHTTPError(http.StatusRequestEntityTooLarge, CodeTooManyOps, "mutation %d has %d ops, the limit is %d", m.MID, len(m.Ops), s.cfg.MaxOpsPerMutation)
		}
		for _, op := range m.Ops {
			if err := s.checkTable(op.Table); err != nil {
				return PushResponse{}, err
			}
		}
	}
	if s.hashes != nil && !s.hashes[req.SchemaHash] {
		return PushResponse{}, newHTTPError(http.StatusPreconditionFailed, CodeSchemaMismatch, "schemaHash %q is not accepted by this server: upgrade the app", req.SchemaHash)
	}

	conn, err := s.store.pool.Acquire(r.Context())
	if err != nil {
		return PushResponse{}, fmt.Errorf("rows: acquire connection: %w", err)
	}
	defer conn.Release()
	// last is learnt from the first mutation's transaction; mutations at or
	// below it are "already" without another one.
	var last int64
	if len(req.Mutations) == 0 {
		if last, err = s.store.lastMID(r.Context(), conn, p.CustomerID, req.ClientID); err != nil {
			return PushResponse{}, err
		}
	}
	resp := PushResponse{LastMID: last, Results: make([]PushResult, 0, len(req.Mutations))}
	// One NOTIFY per push, after its commits, for the newest transaction
	// that changed rows; it also runs when a later mutation fails.
	var notifyXID uint64
	defer func() {
		if notifyXID == 0 {
			return
		}
		if err := s.store.notify(context.WithoutCancel(r.Context()), conn, p.CustomerID, notifyXID); err != nil {
			// The rows are committed; live clients catch up on their next
			// periodic pull.
			s.log.Warn("row sync: poke notification failed", "tenant", p.CustomerID, "err", err)
		}
	}()
	for i, m := range req.Mutations {
		if m.MID <= last {
			resp.Results = append(resp.Results, PushResult{MID: m.MID, Status: StatusAlready})
			s.metrics.mutations.WithLabelValues(StatusAlready).Inc()
			continue
		}
		in := mutationInput{tenant: p.CustomerID, clientID: req.ClientID, mutation: m, reject: s.preReject(p, m), notify: i == len(req.Mutations)-1}
		out, err := s.store.applyMutation(r.Context(), conn, in)
		var gap *midGapError
		if errors.As(err, &gap) {
			he := newHTTPError(http.StatusConflict, CodeMidGap, "mutation %d skips mids: resend from mid %d", m.MID, gap.expected)
			he.body.ExpectedMID = &gap.expected
			lastMID := gap.expected - 1
			he.body.LastMID = &lastMID
			he.body.Results = resp.Results
			return PushResponse{}, he
		}
		if err != nil {
			return PushResponse{}, err
		}
		switch {
		case out.notified:
			notifyXID = 0 // its NOTIFY covers the earlier mutations too
		case out.changed > 0:
			notifyXID = max(notifyXID, out.xid)
		}
		last = out.lastMID
		resp.LastMID = out.lastMID
		resp.Results = append(resp.Results, PushResult{MID: m.MID, Status: out.status, Error: out.reason})
		s.metrics.mutations.WithLabelValues(out.status).Inc()
		if out.status == StatusRejected {
			s.log.Info("row sync: mutation rejected", "tenant", p.CustomerID, "key_id", p.KeyID, "client_id", req.ClientID, "mid", m.MID, "client_ts", m.TS, "reason", out.reason)
		}
	}
	return resp, nil
}

// preReject returns why a mutation is refused before touching rows: the
// key cannot write, an op targets another tenant, or a value is too large.
// A refused mutation is still recorded and advances last_mid.
func (s *Server) preReject(p syncauth.Principal, m Mutation) string {
	if !p.CanWrite() {
		return "forbidden: the API key is read-only"
	}
	for _, op := range m.Ops {
		if op.Tenant != "" && op.Tenant != p.CustomerID {
			return fmt.Sprintf("forbidden: op on %s/%s targets tenant %q, not the API key's", op.Table, op.Key, op.Tenant)
		}
		if n := max(len(op.Value), len(op.Patch)); n > s.cfg.MaxValueBytes {
			return fmt.Sprintf("value_too_large: %s/%s is %d bytes, the limit is %d", op.Table, op.Key, n, s.cfg.MaxValueBytes)
		}
	}
	return ""
}

func (s *Server) handlePull(w http.ResponseWriter, r *http.Request) {
	resp, err := s.pull(w, r)
	code := http.StatusOK
	if err != nil {
		code = s.writeError(w, err)
	} else {
		writeJSON(w, http.StatusOK, resp)
		s.metrics.pullRows.Add(float64(len(resp.Changes)))
	}
	s.metrics.pulls.WithLabelValues(strconv.Itoa(code)).Inc()
}

func (s *Server) pull(w http.ResponseWriter, r *http.Request) (PullResponse, error) {
	p, err := s.authenticate(r, false)
	if err != nil {
		return PullResponse{}, err
	}
	raw, err := s.readBody(w, r)
	if err != nil {
		return PullResponse{}, err
	}
	req, err := DecodePull(raw)
	if err != nil {
		return PullResponse{}, newHTTPError(http.StatusBadRequest, CodeMalformed, "%s", strings.TrimPrefix(err.Error(), "rows: "))
	}
	for _, t := range req.Tables {
		if err := s.checkTable(t); err != nil {
			return PullResponse{}, err
		}
	}
	th := tablesHash(req.Tables)
	var from position
	var cur *cursor
	if req.Cursor != nil {
		c, err := decodeCursor(*req.Cursor)
		if err != nil {
			return PullResponse{}, newHTTPError(http.StatusBadRequest, CodeMalformed, "cursor is not a cursor issued by this server; pull from null to start over")
		}
		if c.TablesHash != th {
			return PullResponse{}, newHTTPError(http.StatusGone, CodeReset, "the cursor was issued for other tables: clear the synced tables and pull from null")
		}
		cur = &c
		from = c.Pos
	}
	limit := req.Limit
	if limit == 0 || limit > s.cfg.MaxPullLimit {
		limit = s.cfg.MaxPullLimit
	}
	tables := slices.Clone(req.Tables)
	slices.Sort(tables)
	tables = slices.Compact(tables)
	page, err := s.store.pull(r.Context(), p.CustomerID, req.ClientID, tables, from, limit)
	if err != nil {
		return PullResponse{}, err
	}
	if cur != nil {
		if cur.Epoch != page.epoch {
			return PullResponse{}, newHTTPError(http.StatusGone, CodeReset, "the database was reset since the cursor was issued: clear the synced tables and pull from null")
		}
		if from.less(page.floor) {
			return PullResponse{}, newHTTPError(http.StatusGone, CodeReset, "the cursor is older than tombstone cleanup: clear the synced tables and pull from null")
		}
	}
	next := from
	if len(page.changes) > 0 {
		next = page.last
	}
	if !page.hasMore {
		// Every change below the horizon has been returned: later writes get
		// an xid at or above it.
		if h := (position{XID: page.horizon}); next.less(h) {
			next = h
		}
	}
	c := cursor{Epoch: page.epoch, TablesHash: th, Pos: next}
	return PullResponse{Changes: page.changes, Cursor: c.encode(), HasMore: page.hasMore, LastMID: page.lastMID}, nil
}
