package rows

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// WebSocket close codes of /v1/sync/live, mirroring the HTTP statuses.
const (
	CloseUnauthenticated websocket.StatusCode = 4401
	CloseForbidden       websocket.StatusCode = 4403
	CloseRateLimited     websocket.StatusCode = 4429
)

// pokeMessage is the only message the live endpoint sends.
var pokeMessage = []byte(`{"type":"poke"}`)

// notice is one commit notification: the writing transaction, when it was
// sent, and the tenant whose live clients must be poked.
type notice struct {
	xid    uint64
	sentAt time.Time
	tenant string
}

// parseNotice decodes "<xid> <unix-nanos> <tenant>".
func parseNotice(payload string) (notice, bool) {
	xs, rest, ok := strings.Cut(payload, " ")
	if !ok {
		return notice{}, false
	}
	ns, tenant, ok := strings.Cut(rest, " ")
	if !ok || tenant == "" {
		return notice{}, false
	}
	xid, err := strconv.ParseUint(xs, 10, 64)
	if err != nil {
		return notice{}, false
	}
	nanos, err := strconv.ParseInt(ns, 10, 64)
	if err != nil {
		return notice{}, false
	}
	return notice{xid: xid, sentAt: time.Unix(0, nanos), tenant: tenant}, true
}

// liveConn is one subscribed WebSocket.
type liveConn struct {
	tenant string
	// poke holds at most one pending poke (coalesced); the value is the
	// earliest send time among the coalesced notices.
	poke chan time.Time
	done chan struct{}
}

// hub fans commit notifications out to this node's live connections.
type hub struct {
	store   *store
	cfg     *Config
	metrics *metrics
	log     *slog.Logger

	mu     sync.Mutex
	subs   map[string]map[*liveConn]struct{}
	closed bool

	pendMu  sync.Mutex
	pending []notice
	wake    chan struct{}
}

func newHub(st *store, cfg *Config, m *metrics, log *slog.Logger) *hub {
	return &hub{store: st, cfg: cfg, metrics: m, log: log, subs: map[string]map[*liveConn]struct{}{}, wake: make(chan struct{}, 1)}
}

func (h *hub) subscribe(tenant string) (*liveConn, bool) {
	c := &liveConn{tenant: tenant, poke: make(chan time.Time, 1), done: make(chan struct{})}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, false
	}
	set := h.subs[tenant]
	if set == nil {
		set = map[*liveConn]struct{}{}
		h.subs[tenant] = set
	}
	set[c] = struct{}{}
	h.metrics.liveConns.Inc()
	return c, true
}

func (h *hub) unsubscribe(c *liveConn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	set := h.subs[c.tenant]
	if _, ok := set[c]; !ok {
		return
	}
	delete(set, c)
	if len(set) == 0 {
		delete(h.subs, c.tenant)
	}
	h.metrics.liveConns.Dec()
}

// closeAll tells every connection to close and refuses new ones.
func (h *hub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	for _, set := range h.subs {
		for c := range set {
			close(c.done)
		}
	}
}

// deliver pokes the tenant's connections (every tenant's when tenant is
// empty, after a lost LISTEN connection).
func (h *hub) deliver(tenant string, sentAt time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	pokeSet := func(set map[*liveConn]struct{}) {
		for c := range set {
			select {
			case c.poke <- sentAt:
			default: // a poke is already pending; it covers this one
			}
		}
	}
	if tenant == "" {
		for _, set := range h.subs {
			pokeSet(set)
		}
		return
	}
	pokeSet(h.subs[tenant])
}

// listen holds a dedicated connection that LISTENs on the notify channel
// and reconnects with backoff. After a reconnect every local client is
// poked, since notifications may have been missed.
// ready is closed once LISTEN is established the first time.
func (h *hub) listen(ctx context.Context, pool *pgxpool.Pool, ready chan<- struct{}) {
	backoff := 50 * time.Millisecond
	first := true
	for ctx.Err() == nil {
		err := h.listenOnce(ctx, pool, func() {
			if first {
				close(ready)
			} else {
				h.deliver("", time.Now())
			}
			first = false
			backoff = 50 * time.Millisecond
		})
		if ctx.Err() != nil {
			return
		}
		h.log.Warn("row sync: LISTEN connection lost, reconnecting", "err", err, "backoff", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (h *hub) listenOnce(ctx context.Context, pool *pgxpool.Pool, onListening func()) error {
	conn, err := pgx.ConnectConfig(ctx, pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{h.cfg.NotifyChannel}.Sanitize()); err != nil {
		return err
	}
	onListening()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		nt, ok := parseNotice(n.Payload)
		if !ok {
			h.log.Warn("row sync: ignoring malformed notification", "payload_len", len(n.Payload))
			continue
		}
		h.pendMu.Lock()
		h.pending = append(h.pending, nt)
		h.pendMu.Unlock()
		select {
		case h.wake <- struct{}{}:
		default:
		}
	}
}

// gate releases notices once their transaction is below the visibility
// horizon, so that a poked client's pull sees the change (the horizon can
// lag a commit while an older transaction is still open).
func (h *hub) gate(ctx context.Context) {
	var horizon uint64
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.wake:
		}
		for {
			h.pendMu.Lock()
			batch := h.pending
			h.pending = nil
			h.pendMu.Unlock()
			if len(batch) == 0 {
				break
			}
			stale := false
			for _, nt := range batch {
				stale = stale || nt.xid >= horizon
			}
			if stale {
				hz, err := h.store.horizon(ctx)
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					h.log.Warn("row sync: reading the horizon failed; poking anyway", "err", err)
					for _, nt := range batch {
						hz = max(hz, nt.xid+1)
					}
				}
				horizon = max(horizon, hz)
			}
			var waiting []notice
			for _, nt := range batch {
				if nt.xid < horizon {
					h.deliver(nt.tenant, nt.sentAt)
				} else {
					waiting = append(waiting, nt)
				}
			}
			if len(waiting) == 0 {
				continue
			}
			h.pendMu.Lock()
			h.pending = append(waiting, h.pending...)
			h.pendMu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-time.After(h.cfg.HorizonPollInterval):
			}
		}
	}
}

// handleLive serves GET /v1/sync/live: a WebSocket that receives
// {"type":"poke"} after commits of the key's customer. The key comes from
// the token query parameter (browsers cannot set headers on a WebSocket)
// or an Authorization: Bearer header. Auth failures on an upgrade request
// are reported as close codes 4401/4403 (readable by browsers), otherwise
// as HTTP 401/403.
func (s *Server) handleLive(w http.ResponseWriter, r *http.Request) {
	p, err := s.authenticate(r, true)
	var kl *keyLimiter
	if err == nil {
		kl = s.limiter(p.KeyID)
		s.limMu.Lock()
		if kl.live >= s.cfg.MaxLiveConnsPerKey {
			err = newHTTPError(http.StatusTooManyRequests, CodeRateLimited, "more than %d live connections for this API key", s.cfg.MaxLiveConnsPerKey)
		} else {
			kl.live++
		}
		s.limMu.Unlock()
	}
	if err != nil {
		var he *httpError
		if errors.As(err, &he) && strings.EqualFold(r.Header.Get("Upgrade"), "websocket") && he.status != http.StatusServiceUnavailable {
			ws, aerr := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: []string{"*"}})
			if aerr != nil {
				return
			}
			code := CloseUnauthenticated
			switch he.status {
			case http.StatusForbidden:
				code = CloseForbidden
			case http.StatusTooManyRequests:
				code = CloseRateLimited
			}
			_ = ws.Close(code, he.body.Message)
			return
		}
		s.writeError(w, err)
		return
	}
	defer func() {
		s.limMu.Lock()
		kl.live--
		s.limMu.Unlock()
	}()
	// The key, not cookies, authenticates, so any origin may connect.
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: []string{"*"}})
	if err != nil {
		return
	}
	defer ws.CloseNow()
	lc, ok := s.hub.subscribe(p.CustomerID)
	if !ok {
		_ = ws.Close(websocket.StatusGoingAway, "server shutting down")
		return
	}
	defer s.hub.unsubscribe(lc)
	ctx := ws.CloseRead(r.Context())
	ping := time.NewTicker(s.cfg.LivePingInterval)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-lc.done:
			_ = ws.Close(websocket.StatusGoingAway, "server shutting down")
			return
		case sentAt := <-lc.poke:
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := ws.Write(wctx, websocket.MessageText, pokeMessage)
			cancel()
			if err != nil {
				return
			}
			s.metrics.pokeLatency.Observe(time.Since(sentAt).Seconds())
		case <-ping.C:
			pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			err := ws.Ping(pctx)
			cancel()
			if err != nil {
				return
			}
		}
	}
}

// count returns the number of live connections of tenant on this node.
func (h *hub) count(tenant string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs[tenant])
}
