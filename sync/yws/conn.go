package yws

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"

	"github.com/webhost-systems/webhost/sync/syncauth"
)

// Close codes. 4400-4499 tell the y-websocket client (3.1+) not to
// reconnect: the request cannot succeed as it is.
const (
	CloseBadRequest     websocket.StatusCode = 4400 // invalid document name
	CloseUnauthorized   websocket.StatusCode = 4401 // missing, bad or revoked API key
	CloseForbidden      websocket.StatusCode = 4403 // key lacks the needed scope
	closeServiceRestart                      = websocket.StatusServiceRestart
	closeInternalError                       = websocket.StatusInternalError
	closePolicy                              = websocket.StatusPolicyViolation
	closeTryAgainLater                       = websocket.StatusTryAgainLater
	closeInvalidData                         = websocket.StatusInvalidFramePayloadData
)

// conn is one client connection to one document.
type conn struct {
	s         *Server
	ws        *websocket.Conn
	principal syncauth.Principal
	// token is kept (in memory only, never logged) to re-authenticate.
	token    string
	canWrite atomic.Bool
	doc      *document
	cork     *corkConn // nil if the connection could not be wrapped
	limiter  *rate.Limiter

	// queue holds frames for the writer, which wake tells of new ones; a
	// slice grown on demand costs an idle connection nothing, unlike a
	// buffered channel sized for the worst case.
	qmu   sync.Mutex
	queue []outMsg
	spare []outMsg
	wake  chan struct{}

	closeOnce   sync.Once
	closing     chan struct{}
	closeCode   websocket.StatusCode
	closeReason string

	// awarenessIDs are the awareness client IDs this connection announced;
	// guarded by doc.mu.
	awarenessIDs map[uint64]struct{}
}

// outMsg is one frame to write; received is when the update it carries
// reached this node (zero for replies), for the fan-out latency histogram.
type outMsg struct {
	data     []byte
	received time.Time
}

// enqueue queues m without blocking; a connection whose queue is full is
// too slow to keep up and is closed.
func (c *conn) enqueue(m outMsg) {
	c.qmu.Lock()
	if len(c.queue) >= c.s.cfg.SendQueue {
		c.qmu.Unlock()
		c.closeAsync(closePolicy, "send queue full: client too slow", "slow_consumer")
		return
	}
	c.queue = append(c.queue, m)
	c.qmu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default: // the writer is already due to look
	}
}

// closeAsync asks the writer to close the connection with code and reason;
// the first request wins.
func (c *conn) closeAsync(code websocket.StatusCode, reason, metricReason string) {
	c.closeOnce.Do(func() {
		c.closeCode, c.closeReason = code, reason
		c.s.m.closesTotal.WithLabelValues(metricReason).Inc()
		close(c.closing)
	})
}

// ServeHTTP accepts a y-websocket connection for the document named by the
// raw URL path after PathPrefix, e.g. /sync/notes/2024 is room "notes/2024".
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutPrefix(r.URL.EscapedPath(), s.cfg.PathPrefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	// Browsers send an Origin; API keys, not cookies, authenticate here, so
	// cross-origin apps are the normal case and the origin check is off.
	cw := &corkingWriter{ResponseWriter: w}
	ws, err := websocket.Accept(cw, r, &websocket.AcceptOptions{
		InsecureSkipVerify: true,
		CompressionMode:    websocket.CompressionDisabled,
	})
	if err != nil {
		s.m.connectsTotal.WithLabelValues("bad_handshake").Inc()
		return // Accept wrote the HTTP error
	}
	ctx := s.ctxOrBackground()
	principal, err := s.cfg.Auth.Authenticate(r.Context(), r.URL.Query().Get("token"))
	switch {
	case errors.Is(err, syncauth.ErrUnauthenticated):
		s.reject(ws, CloseUnauthorized, "invalid or revoked API key", "unauthenticated")
		return
	case errors.Is(err, syncauth.ErrForbidden):
		s.reject(ws, CloseForbidden, "API key not allowed to sync", "forbidden")
		return
	case err != nil:
		s.log.Error("authenticate", "err", err)
		s.reject(ws, closeTryAgainLater, "authentication unavailable", "auth_error")
		return
	}
	if !hasSyncScope(principal) {
		s.reject(ws, CloseForbidden, "API key lacks the read scope", "forbidden")
		return
	}
	if name == "" || len(name) > s.cfg.MaxNameBytes || !utf8.ValidString(name) {
		s.reject(ws, CloseBadRequest, "invalid document name", "bad_name")
		return
	}
	ws.SetReadLimit(s.cfg.MaxMessageBytes)
	c := &conn{
		s:            s,
		ws:           ws,
		principal:    principal,
		token:        r.URL.Query().Get("token"),
		cork:         cw.conn,
		wake:         make(chan struct{}, 1),
		limiter:      rate.NewLimiter(rate.Limit(s.cfg.MessagesPerSecond), s.cfg.MessageBurst),
		closing:      make(chan struct{}),
		awarenessIDs: make(map[uint64]struct{}),
	}
	c.canWrite.Store(principal.CanWrite())
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.reject(ws, closeServiceRestart, "server shutting down", "shutdown")
		return
	}
	s.conns[c] = struct{}{}
	s.connWG.Add(1)
	s.mu.Unlock()
	defer s.connWG.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()

	writerDone := make(chan struct{})
	go func() { defer close(writerDone); c.writeLoop(ctx) }()
	defer func() {
		c.closeAsync(websocket.StatusNormalClosure, "", "normal")
		<-writerDone
	}()

	d, err := s.acquire(ctx, docKey{customerID: principal.CustomerID, name: name}, c)
	switch {
	case errors.Is(err, errTooManyConns):
		s.m.connectsTotal.WithLabelValues("too_many_connections").Inc()
		c.closeAsync(closeTryAgainLater, "too many connections to this document", "too_many_connections")
		return
	case errors.Is(err, ErrClosed):
		c.closeAsync(closeServiceRestart, "server shutting down", "shutdown")
		return
	case err != nil:
		s.m.connectsTotal.WithLabelValues("load_failed").Inc()
		c.closeAsync(closeTryAgainLater, "document unavailable", "load_failed")
		return
	}
	c.doc = d
	s.m.connectsTotal.WithLabelValues("accepted").Inc()
	s.m.connections.Inc()
	defer s.m.connections.Dec()
	defer s.leave(c)
	if err := s.greet(c); err != nil {
		s.log.Error("greet", "doc_id", d.id, "err", err)
		c.closeAsync(closeInternalError, "document state unreadable", "internal")
		return
	}
	c.readLoop(ctx)
}

// hasSyncScope reports whether p may read documents at all.
func hasSyncScope(p syncauth.Principal) bool {
	return slices.ContainsFunc(p.Scopes, func(sc string) bool {
		return sc == syncauth.ScopeRead || sc == syncauth.ScopeWrite || sc == syncauth.ScopeAdmin
	})
}

func (s *Server) ctxOrBackground() context.Context {
	if s.ctx != nil {
		return s.ctx
	}
	return context.Background()
}

// reject closes with code and reason. It does not send y-protocols'
// permission-denied auth message: y-websocket logs it with the full URL,
// which carries the API key, to the console.
func (s *Server) reject(ws *websocket.Conn, code websocket.StatusCode, reason, metricReason string) {
	s.m.connectsTotal.WithLabelValues(metricReason).Inc()
	_ = ws.Close(code, reason)
}

// greet sends the server's SyncStep1 (so the client replies with what the
// server lacks, e.g. offline edits) and the document's awareness states.
func (s *Server) greet(c *conn) error {
	d := c.doc
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := s.mergePendingLocked(d); err != nil {
		return err
	}
	sv, err := s.cfg.Codec.EncodeStateVectorFromUpdate(d.state)
	if err != nil {
		return err
	}
	c.enqueue(outMsg{data: EncodeSync(SyncStep1, sv)})
	if states := encodeAwarenessStates(d); len(states) > 1 {
		c.enqueue(outMsg{data: EncodeAwarenessMessage(states)})
	}
	return nil
}

func encodeAwarenessStates(d *document) []byte {
	entries := make([]AwarenessEntry, 0, len(d.awareness))
	for id, st := range d.awareness {
		if st.state != "null" { // removed states are kept only for their clock
			entries = append(entries, AwarenessEntry{ClientID: id, Clock: st.clock, State: st.state})
		}
	}
	return EncodeAwareness(entries)
}

// leave unregisters c from its document and broadcasts the removal of the
// awareness states c announced.
func (s *Server) leave(c *conn) {
	d := c.doc
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.conns, c)
	var removed []AwarenessEntry
	for id := range c.awarenessIDs {
		if st := d.awareness[id]; st != nil && st.owner == c && st.state != "null" {
			st.clock, st.state, st.owner = clockAfter(st.clock), "null", nil
			removed = append(removed, AwarenessEntry{ClientID: id, Clock: st.clock, State: "null"})
		}
	}
	if len(removed) > 0 {
		update := EncodeAwareness(removed)
		msg := EncodeAwarenessMessage(update)
		for other := range d.conns {
			other.enqueue(outMsg{data: msg})
		}
		s.relayAwareness(d, update)
	}
	if len(d.conns) == 0 {
		d.idleSince = s.cfg.Now()
	}
}

// readLoop handles the client's messages until the connection ends.
func (c *conn) readLoop(ctx context.Context) {
	for {
		// No deadline: shutdown and errors end reads by closing the
		// connection, and a per-read context timer would cost every message.
		typ, data, err := c.ws.Read(context.Background())
		if err != nil {
			return // closed by the peer, by the writer, or too big (1009 sent by the library)
		}
		if typ != websocket.MessageBinary {
			c.closeAsync(websocket.StatusUnsupportedData, "binary messages only", "bad_message")
			return
		}
		if !c.limiter.Allow() {
			c.closeAsync(closePolicy, "message rate limit exceeded", "rate_limited")
			return
		}
		received := c.s.cfg.Now()
		msgs, err := DecodeMessages(data)
		if err != nil {
			c.closeAsync(closeInvalidData, "malformed y-websocket message", "bad_message")
			return
		}
		for _, m := range msgs {
			if err := c.handle(ctx, m, received); err != nil {
				return
			}
		}
	}
}

// errConnClosing stops readLoop after the connection was asked to close.
var errConnClosing = errors.New("yws: connection closing")

func (c *conn) handle(ctx context.Context, m Message, received time.Time) error {
	s, d := c.s, c.doc
	switch m.Type {
	case MessageSync:
		switch m.SyncType {
		case SyncStep1:
			d.mu.Lock()
			defer d.mu.Unlock()
			if err := s.mergePendingLocked(d); err != nil {
				s.log.Error("sync step 1", "doc_id", d.id, "err", err)
				c.closeAsync(closeInternalError, "document state unreadable", "internal")
				return errConnClosing
			}
			diff, err := s.cfg.Codec.DiffUpdate(d.state, m.Payload)
			if err != nil {
				c.closeAsync(closeInvalidData, "invalid state vector", "bad_message")
				return errConnClosing
			}
			c.enqueue(outMsg{data: EncodeSync(SyncStep2, diff)})
			return nil
		default: // SyncStep2 and SyncUpdate carry an update
			return c.submit(ctx, m.Payload, received)
		}
	case MessageAwareness:
		return c.awareness(m.Payload)
	case MessageQueryAwareness:
		d.mu.Lock()
		defer d.mu.Unlock()
		c.enqueue(outMsg{data: EncodeAwarenessMessage(encodeAwarenessStates(d))})
		return nil
	}
	return nil // MessageAuth from a client carries nothing for the server
}

// submit validates an update and queues it for the group committer, which
// broadcasts it once it is durable.
func (c *conn) submit(ctx context.Context, update []byte, received time.Time) error {
	s, d := c.s, c.doc
	if !c.canWrite.Load() {
		s.m.droppedWrites.Inc()
		return nil
	}
	if bytes.Equal(update, emptyUpdate) {
		return nil
	}
	if err := s.cfg.Codec.ValidateUpdate(update); err != nil {
		c.closeAsync(closeInvalidData, "invalid Yjs update", "bad_update")
		return errConnClosing
	}
	// The frame buffer is reused by the next Read only after we return, but
	// the update outlives it in the queue and the log.
	update = bytes.Clone(update)
	d.mu.Lock()
	d.inflight++
	d.mu.Unlock()
	select {
	case s.appendCh <- appendReq{doc: d, update: update, origin: c, received: received}:
		return nil
	case <-c.closing:
	case <-ctx.Done():
	}
	d.mu.Lock()
	d.inflight--
	d.mu.Unlock()
	return errConnClosing
}

// awareness applies a client's awareness update and relays it to every
// connection of the document, the sender included (clients treat their own
// echo as a sign of life), and to other nodes if it changed anything.
func (c *conn) awareness(update []byte) error {
	entries, err := DecodeAwareness(update)
	if err != nil {
		c.closeAsync(closeInvalidData, "malformed awareness update", "bad_message")
		return errConnClosing
	}
	d := c.doc
	msg := EncodeAwarenessMessage(update)
	d.mu.Lock()
	defer d.mu.Unlock()
	changed := applyAwarenessLocked(d, entries, c)
	for other := range d.conns {
		other.enqueue(outMsg{data: msg})
	}
	if changed {
		c.s.relayAwareness(d, update)
	}
	return nil
}

// applyAwarenessLocked applies entries to d's awareness states the way
// y-protocols' applyAwarenessUpdate does: only a newer clock (or a removal
// at the same clock) counts. A client ID belongs to the connection that
// introduced it (owner; nil for other nodes), because clients echo every
// state they learn back to the server. It reports whether anything changed.
// d.mu is held.
func applyAwarenessLocked(d *document, entries []AwarenessEntry, owner *conn) bool {
	changed := false
	for _, e := range entries {
		st := d.awareness[e.ClientID]
		removal := e.State == "null"
		switch {
		case st == nil:
			st = &awarenessState{}
			d.awareness[e.ClientID] = st
		case st.clock < e.Clock, st.clock == e.Clock && removal && st.state != "null":
		default:
			continue // an echo or a stale update
		}
		wasPresent := st.state != "" && st.state != "null"
		st.clock, st.state = e.Clock, e.State
		changed = true
		switch {
		case !wasPresent && !removal:
			st.owner = owner
			if owner != nil {
				owner.awarenessIDs[e.ClientID] = struct{}{}
			}
		case wasPresent && removal:
			if st.owner != nil {
				delete(st.owner.awarenessIDs, e.ClientID)
			}
			st.owner = nil
		}
	}
	return changed
}

// writeLoop writes queued frames, pings, and performs the close handshake
// when asked to close.
func (c *conn) writeLoop(ctx context.Context) {
	s := c.s
	ping := time.NewTicker(s.cfg.PingInterval)
	defer ping.Stop()
	for {
		select {
		case <-c.wake:
			c.qmu.Lock()
			batch := c.queue
			c.queue, c.spare = c.spare[:0], nil
			c.qmu.Unlock()
			if err := c.writeBatch(ctx, batch); err != nil {
				c.closeAsync(websocket.StatusGoingAway, "write failed", "write_failed")
				_ = c.ws.CloseNow()
				return
			}
			clear(batch) // drop references to the frames
			c.qmu.Lock()
			c.spare = batch[:0]
			c.qmu.Unlock()
		case <-ping.C:
			go func() {
				pctx, cancel := context.WithTimeout(ctx, s.cfg.PongTimeout)
				defer cancel()
				if err := c.ws.Ping(pctx); err != nil {
					c.closeAsync(websocket.StatusGoingAway, "keepalive: no pong", "pong_timeout")
				}
			}()
		case <-c.closing:
			_ = c.ws.Close(c.closeCode, c.closeReason)
			return
		}
	}
}

// writeBatch writes queued frames; corked, they leave in one system call.
func (c *conn) writeBatch(ctx context.Context, batch []outMsg) error {
	s := c.s
	if c.cork == nil {
		for _, m := range batch {
			wctx, cancel := context.WithTimeout(ctx, s.cfg.WriteTimeout)
			err := c.ws.Write(wctx, websocket.MessageBinary, m.data)
			cancel()
			if err != nil {
				return err
			}
		}
	} else {
		c.cork.cork()
		for _, m := range batch {
			// Corked writes only fill a buffer: nothing here can block.
			if err := c.ws.Write(context.Background(), websocket.MessageBinary, m.data); err != nil {
				_ = c.cork.flush(s.cfg.WriteTimeout)
				return err
			}
		}
		if err := c.cork.flush(s.cfg.WriteTimeout); err != nil {
			return err
		}
	}
	now := s.cfg.Now()
	for _, m := range batch {
		if !m.received.IsZero() {
			s.m.deliveriesTotal.Inc()
			s.m.fanoutLatency.Observe(now.Sub(m.received).Seconds())
		}
	}
	return nil
}
