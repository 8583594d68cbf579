// Package yws is the y-websocket protocol server: Yjs documents synced over
// WebSocket (github.com/coder/websocket), persisted in PostgreSQL and fanned
// out across nodes with LISTEN/NOTIFY.
//
// Each update a client sends is appended to the document's log in
// PostgreSQL before any other client sees it. Updates arriving within a
// short window share one multi-row INSERT (group commit), whose NOTIFY tells
// the other nodes which rows to read. Logs are compacted into a snapshot
// with the Yjs merge of sync/yjs. Awareness (presence) is relayed in memory
// and cleaned up when a connection closes.
//
// Clients authenticate with an API key in the `token` query parameter;
// documents are namespaced by the key's customer. Rejections close with 4401
// (bad or revoked key), 4403 (forbidden) or 4400 (bad request): codes the
// y-websocket client treats as permanent.
package yws

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/webhost-systems/webhost/sync/syncauth"
)

// ErrClosed is returned for work submitted to a closed Server.
var ErrClosed = errors.New("yws: server closed")

// errTooManyConns is returned when a document has MaxConnsPerDocument
// connections on this node.
var errTooManyConns = errors.New("yws: document connection limit reached")

// Server serves y-websocket connections. Create it with New, mount it as an
// http.Handler under Config.PathPrefix, and Close it on shutdown.
type Server struct {
	cfg   Config
	store *store
	m     *metrics
	log   *slog.Logger

	ctx    context.Context // cancelled by Close after connections are gone
	cancel context.CancelFunc

	mu     sync.Mutex
	docs   map[docKey]*document
	byID   map[int64]*document
	conns  map[*conn]struct{}
	closed bool

	appendCh    chan appendReq
	notifyCh    chan notifyItem
	awarenessCh chan awarenessNote
	compactCh   chan *document

	connWG     sync.WaitGroup // connection handlers
	bgWG       sync.WaitGroup // committer, listener, remote, compactor, janitor
	commitDone chan struct{}
}

// docKey namespaces a document by customer.
type docKey struct {
	customerID string
	name       string
}

// document is one loaded Yjs document.
type document struct {
	key    docKey
	loaded chan struct{} // closed when loading finished (see loadErr)
	// id and loadErr are written before loaded is closed.
	id      int64
	loadErr error

	mu           sync.Mutex
	conns        map[*conn]struct{}
	state        []byte   // merged update
	pending      [][]byte // updates applied after state was merged
	pendingBytes int
	logRows      int // estimated rows in the database log
	logBytes     int
	compacting   bool
	compactAfter time.Time
	inflight     int // updates queued for the committer
	idleSince    time.Time
	unloaded     bool
	awareness    map[uint64]*awarenessState
}

// awarenessState is one client's last awareness state; state "null" is a
// removed client, kept for its clock so that late echoes cannot revive it.
type awarenessState struct {
	clock uint64
	state string
	owner *conn // the connection that introduced it; nil for other nodes
}

type appendReq struct {
	doc      *document
	update   []byte
	origin   *conn
	received time.Time
}

// awarenessNote is an awareness update to relay to other nodes.
type awarenessNote struct {
	docID  int64
	update []byte // nil: ask the other nodes for their states
}

type notifyItem struct {
	channel   string
	payload   string
	received  time.Time
	resyncAll bool
}

// New validates cfg, starts LISTENing for other nodes' updates and the
// background workers, and returns a Server. It returns ErrInvalidConfig for
// a bad Config and the connection error when LISTEN cannot be set up.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:         cfg,
		store:       &store{pool: cfg.Pool},
		m:           m,
		log:         cfg.Logger.With("component", "yws", "node", cfg.NodeID),
		docs:        make(map[docKey]*document),
		byID:        make(map[int64]*document),
		conns:       make(map[*conn]struct{}),
		appendCh:    make(chan appendReq, cfg.AppendQueue),
		notifyCh:    make(chan notifyItem, 256),
		awarenessCh: make(chan awarenessNote, 1024),
		compactCh:   make(chan *document, 64),
		commitDone:  make(chan struct{}),
	}
	listenConn, err := s.connectListener(ctx)
	if err != nil {
		return nil, err
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.bgWG.Add(6)
	go func() { defer s.bgWG.Done(); s.reauthLoop() }()
	go func() { defer s.bgWG.Done(); s.listenLoop(listenConn) }()
	go func() { defer s.bgWG.Done(); s.awarenessLoop() }()
	go func() { defer s.bgWG.Done(); s.remoteLoop() }()
	go func() { defer s.bgWG.Done(); s.compactLoop() }()
	go func() { defer s.bgWG.Done(); s.janitorLoop() }()
	go func() { defer close(s.commitDone); s.commitLoop() }()
	return s, nil
}

// NodeID is the node name used in cross-node notifications.
func (s *Server) NodeID() string { return s.cfg.NodeID }

// Close closes every connection with 1012 (service restart), so clients
// reconnect elsewhere or later, waits for queued updates to be persisted,
// and stops the background workers. It is safe to call more than once.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for c := range s.conns {
		c.closeAsync(closeServiceRestart, "server shutting down", "shutdown")
	}
	s.mu.Unlock()
	s.connWG.Wait()
	close(s.appendCh) // no handler is left to send
	<-s.commitDone
	s.cancel()
	s.bgWG.Wait()
	return nil
}

// acquire returns the loaded document for key with c registered on it.
func (s *Server) acquire(ctx context.Context, key docKey, c *conn) (*document, error) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, ErrClosed
		}
		d := s.docs[key]
		loader := false
		if d == nil {
			d = &document{key: key, loaded: make(chan struct{}), conns: make(map[*conn]struct{}),
				awareness: make(map[uint64]*awarenessState)}
			s.docs[key] = d
			loader = true
		}
		s.mu.Unlock()
		if loader {
			s.load(ctx, d)
		}
		select {
		case <-d.loaded:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if d.loadErr != nil {
			return nil, d.loadErr
		}
		d.mu.Lock()
		if d.unloaded {
			d.mu.Unlock()
			continue // unloaded between lookup and registration: load afresh
		}
		if len(d.conns) >= s.cfg.MaxConnsPerDocument {
			d.mu.Unlock()
			return nil, errTooManyConns
		}
		d.conns[c] = struct{}{}
		d.mu.Unlock()
		return d, nil
	}
}

// load reads d from the database. d is registered in byID before its rows
// are read, so a notification that commits after the read is not missed.
func (s *Server) load(ctx context.Context, d *document) {
	// Others wait for the load (connections, the remote loop): bound it.
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err := func() error {
		id, err := s.store.ensureDocument(ctx, d.key.customerID, d.key.name)
		if err != nil {
			return err
		}
		d.id = id
		s.mu.Lock()
		s.byID[id] = d
		s.mu.Unlock()
		parts, rows, size, err := s.store.loadDocument(ctx, id)
		if err != nil {
			return err
		}
		state, err := s.merge(parts)
		if err != nil {
			return fmt.Errorf("load document %d: %w", id, err)
		}
		d.state, d.logRows, d.logBytes = state, rows, size
		return nil
	}()
	if err != nil {
		d.loadErr = err
		s.log.Error("load document", "customer", d.key.customerID, "doc", d.key.name, "err", err)
		s.mu.Lock()
		delete(s.docs, d.key)
		if s.byID[d.id] == d {
			delete(s.byID, d.id)
		}
		s.mu.Unlock()
	} else {
		s.m.docsLoaded.Inc()
		// Clients on other nodes renew their awareness only every 15 s.
		select {
		case s.awarenessCh <- awarenessNote{docID: d.id}:
		default:
		}
	}
	close(d.loaded)
}

// merge merges updates; none gives the empty update.
func (s *Server) merge(parts [][]byte) ([]byte, error) {
	switch len(parts) {
	case 0:
		return append([]byte(nil), emptyUpdate...), nil
	case 1:
		return parts[0], nil
	}
	return s.cfg.Codec.MergeUpdates(parts)
}

// mergePendingLocked folds d.pending into d.state. d.mu is held.
func (s *Server) mergePendingLocked(d *document) error {
	if len(d.pending) == 0 {
		return nil
	}
	merged, err := s.merge(append([][]byte{d.state}, d.pending...))
	if err != nil {
		return fmt.Errorf("merge %d pending updates of document %d: %w", len(d.pending), d.id, err)
	}
	d.state, d.pending, d.pendingBytes = merged, nil, 0
	return nil
}

// applyAndBroadcast records an update that is persisted in d's log and
// sends it to every connection of d but except.
func (s *Server) applyAndBroadcast(d *document, update []byte, except *conn, received time.Time, source string) {
	msg := EncodeSync(SyncUpdate, update)
	s.m.updatesTotal.WithLabelValues(source).Inc()
	s.m.updateBytesTotal.WithLabelValues(source).Add(float64(len(update)))
	d.mu.Lock()
	d.pending = append(d.pending, update)
	d.pendingBytes += len(update)
	d.logRows++
	d.logBytes += len(update)
	for c := range d.conns {
		if c != except {
			c.enqueue(outMsg{data: msg, received: received})
		}
	}
	if d.pendingBytes > s.cfg.MergePendingBytes {
		if err := s.mergePendingLocked(d); err != nil {
			s.log.Error("merge pending updates", "doc_id", d.id, "err", err)
		}
	}
	s.maybeCompactLocked(d)
	d.mu.Unlock()
}

// maybeCompactLocked queues d for compaction past a threshold. d.mu is held.
func (s *Server) maybeCompactLocked(d *document) {
	if d.compacting || d.unloaded || (d.logRows < s.cfg.CompactRows && d.logBytes < s.cfg.CompactBytes) ||
		s.cfg.Now().Before(d.compactAfter) {
		return
	}
	select {
	case s.compactCh <- d:
		d.compacting = true
	default: // the compactor is busy; a later update retries
	}
}

// commitLoop is the group committer: it inserts queued updates in batches
// and broadcasts each batch once it is durable.
func (s *Server) commitLoop() {
	batch := make([]appendReq, 0, s.cfg.MaxBatchRows)
	docIDs := make([]int64, 0, s.cfg.MaxBatchRows)
	updates := make([][]byte, 0, s.cfg.MaxBatchRows)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		first, ok := <-s.appendCh
		if !ok {
			return
		}
		batch = append(batch[:0], first)
		open := true
		if s.cfg.GroupCommitWindow > 0 {
			timer.Reset(s.cfg.GroupCommitWindow)
		collect:
			for len(batch) < s.cfg.MaxBatchRows {
				select {
				case r, more := <-s.appendCh:
					if !more {
						open = false
						break collect
					}
					batch = append(batch, r)
				case <-timer.C:
					break collect
				}
			}
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		}
	drain:
		for open && len(batch) < s.cfg.MaxBatchRows {
			select {
			case r, more := <-s.appendCh:
				if !more {
					open = false
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		docIDs, updates = docIDs[:0], updates[:0]
		for _, r := range batch {
			docIDs = append(docIDs, r.doc.id)
			updates = append(updates, r.update)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := s.store.appendBatch(ctx, s.cfg.NodeID, docIDs, updates)
		cancel()
		s.m.batchRows.Observe(float64(len(batch)))
		for _, r := range batch {
			if err == nil {
				s.applyAndBroadcast(r.doc, r.update, r.origin, r.received, "local")
			} else {
				// Not durable, so not broadcast: the client still has the
				// update and sends it again when it resyncs on reconnect.
				r.origin.closeAsync(closeInternalError, "could not persist update; reconnect to resend", "persist_failed")
			}
			r.doc.mu.Lock()
			r.doc.inflight--
			r.doc.mu.Unlock()
		}
		if err != nil {
			s.log.Error("group commit", "rows", len(batch), "err", err)
		}
		if !open {
			return
		}
	}
}

// connectListener opens the dedicated LISTEN connection.
func (s *Server) connectListener(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, s.cfg.Pool.Config().ConnConfig.Copy())
	if err != nil {
		return nil, fmt.Errorf("yws: listen connection: %w", err)
	}
	for _, ch := range []string{notifyChannel, awarenessChannel} {
		if _, err := conn.Exec(ctx, "LISTEN "+ch); err != nil {
			_ = conn.Close(ctx)
			return nil, fmt.Errorf("yws: LISTEN %s: %w", ch, err)
		}
	}
	return conn, nil
}

// listenLoop forwards notifications to remoteLoop, reconnecting after a
// failure; after a reconnect every loaded document is resynced, since
// notifications may have been missed.
func (s *Server) listenLoop(conn *pgx.Conn) {
	defer func() {
		if conn != nil {
			_ = conn.Close(context.Background())
		}
	}()
	for {
		if conn == nil {
			c, err := s.connectListener(s.ctx)
			if err != nil {
				if s.ctx.Err() != nil {
					return
				}
				s.log.Warn("reconnect LISTEN", "err", err)
				select {
				case <-time.After(s.cfg.ListenRetry):
				case <-s.ctx.Done():
					return
				}
				continue
			}
			conn = c
			s.send(notifyItem{resyncAll: true})
		}
		n, err := conn.WaitForNotification(s.ctx)
		if err != nil {
			if s.ctx.Err() != nil {
				return
			}
			s.log.Warn("LISTEN connection lost", "err", err)
			_ = conn.Close(context.Background())
			conn = nil
			continue
		}
		s.send(notifyItem{channel: n.Channel, payload: n.Payload, received: s.cfg.Now()})
	}
}

func (s *Server) send(item notifyItem) {
	select {
	case s.notifyCh <- item:
	case <-s.ctx.Done():
	}
}

// remoteLoop applies other nodes' updates to the documents loaded here.
func (s *Server) remoteLoop() {
	for {
		var item notifyItem
		select {
		case item = <-s.notifyCh:
		case <-s.ctx.Done():
			return
		}
		if item.resyncAll {
			s.mu.Lock()
			docs := make([]*document, 0, len(s.byID))
			for _, d := range s.byID {
				docs = append(docs, d)
			}
			s.mu.Unlock()
			for _, d := range docs {
				s.resync(d)
			}
			continue
		}
		if item.channel == awarenessChannel {
			s.remoteAwareness(item.payload)
			continue
		}
		n, err := parseNotification(item.payload)
		if err != nil {
			s.log.Warn("ignoring notification", "err", err)
			continue
		}
		if n.nodeID == s.cfg.NodeID {
			continue // our own batch: already broadcast
		}
		want := make(map[*document][]int64)
		var ids []int64
		s.mu.Lock()
		for docID, rowIDs := range n.docs {
			if d := s.byID[docID]; d != nil {
				want[d] = rowIDs
				ids = append(ids, rowIDs...)
			}
		}
		s.mu.Unlock()
		if len(ids) == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
		rows, err := s.store.fetchRows(ctx, ids)
		cancel()
		if err != nil {
			s.log.Warn("fetch notified rows; resyncing", "err", err)
		}
		byDoc := make(map[int64][]fetchedRow)
		for _, r := range rows {
			byDoc[r.docID] = append(byDoc[r.docID], r)
		}
		for d, rowIDs := range want {
			<-d.loaded
			if d.loadErr != nil {
				continue
			}
			got := byDoc[d.id]
			if err != nil || len(got) < len(rowIDs) {
				s.resync(d) // rows compacted away (or unreadable): reload
				continue
			}
			for _, r := range got {
				s.applyAndBroadcast(d, r.data, nil, item.received, "remote")
			}
		}
	}
}

// resync reloads d from the database and broadcasts what this node lacks.
func (s *Server) resync(d *document) {
	select {
	case <-d.loaded:
	case <-s.ctx.Done():
		return
	}
	if d.loadErr != nil {
		return
	}
	s.m.resyncsTotal.Inc()
	received := s.cfg.Now()
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	parts, rows, size, err := s.store.loadDocument(ctx, d.id)
	if err != nil {
		s.log.Error("resync document", "doc_id", d.id, "err", err)
		return
	}
	dbState, err := s.merge(parts)
	if err != nil {
		s.log.Error("resync document", "doc_id", d.id, "err", err)
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := s.mergePendingLocked(d); err != nil {
		s.log.Error("resync document", "doc_id", d.id, "err", err)
		return
	}
	sv, err := s.cfg.Codec.EncodeStateVectorFromUpdate(d.state)
	if err != nil {
		s.log.Error("resync document", "doc_id", d.id, "err", err)
		return
	}
	missing, err := s.cfg.Codec.DiffUpdate(dbState, sv)
	if err != nil {
		s.log.Error("resync document", "doc_id", d.id, "err", err)
		return
	}
	d.pending = append(d.pending, missing)
	d.pendingBytes += len(missing)
	d.logRows, d.logBytes = rows, size
	msg := EncodeSync(SyncUpdate, missing)
	for c := range d.conns {
		c.enqueue(outMsg{data: msg, received: received})
	}
}

// compactLoop runs queued compactions one at a time.
func (s *Server) compactLoop() {
	for {
		var d *document
		select {
		case d = <-s.compactCh:
		case <-s.ctx.Done():
			return
		}
		ctx, cancel := context.WithTimeout(s.ctx, time.Minute)
		res, err := s.store.compact(ctx, d.id, s.cfg.CompactMinAge, s.cfg.Codec.MergeUpdates)
		cancel()
		if err != nil {
			s.m.compactionsTotal.WithLabelValues("error").Inc()
			s.log.Error("compaction", "doc_id", d.id, "err", err)
		} else if res.mergedRows > 0 {
			s.m.compactionsTotal.WithLabelValues("ok").Inc()
			s.log.Debug("compacted", "doc_id", d.id, "rows", res.mergedRows, "bytes_in", res.mergedBytes, "bytes_out", res.outBytes)
		} else {
			// Another node got there first, or every row was too young.
			s.m.compactionsTotal.WithLabelValues("noop").Inc()
		}
		d.mu.Lock()
		d.compacting = false
		d.logRows = max(0, d.logRows-res.mergedRows)
		d.logBytes = max(0, d.logBytes-res.mergedBytes)
		// Rows younger than CompactMinAge stayed; don't retry before they age.
		d.compactAfter = s.cfg.Now().Add(max(s.cfg.CompactMinAge, time.Second))
		d.mu.Unlock()
	}
}

// janitorLoop unloads documents idle for IdleTimeout.
func (s *Server) janitorLoop() {
	t := time.NewTicker(s.cfg.IdleCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-s.ctx.Done():
			return
		}
		s.unloadIdle()
	}
}

// unloadIdle drops documents without connections, queued updates or a
// running compaction that have been idle for IdleTimeout.
func (s *Server) unloadIdle() {
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for key, d := range s.docs {
		select {
		case <-d.loaded:
		default:
			continue
		}
		d.mu.Lock()
		if len(d.conns) == 0 && d.inflight == 0 && !d.compacting && now.Sub(d.idleSince) >= s.cfg.IdleTimeout {
			d.unloaded = true
			delete(s.docs, key)
			if s.byID[d.id] == d {
				delete(s.byID, d.id)
			}
			s.m.docsLoaded.Dec()
		}
		d.mu.Unlock()
	}
}

// LoadedDocuments is the number of documents held in memory.
func (s *Server) LoadedDocuments() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.docs)
}

// relayAwareness queues an awareness update for the other nodes. Awareness
// is best effort (clients renew it every 15 s), so a full queue or an
// oversized update is skipped rather than slowing the sender.
func (s *Server) relayAwareness(d *document, update []byte) {
	if len(update) > maxAwarenessNotify {
		return
	}
	select {
	case s.awarenessCh <- awarenessNote{docID: d.id, update: bytes.Clone(update)}:
	default:
	}
}

// awarenessLoop sends queued awareness updates as notifications.
func (s *Server) awarenessLoop() {
	for {
		select {
		case n := <-s.awarenessCh:
			ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
			var err error
			if n.update == nil {
				err = s.store.notifyAwarenessQuery(ctx, s.cfg.NodeID, n.docID)
			} else {
				err = s.store.notifyAwareness(ctx, s.cfg.NodeID, n.docID, n.update)
			}
			if err != nil && s.ctx.Err() == nil {
				s.log.Warn("relay awareness", "err", err)
			}
			cancel()
		case <-s.ctx.Done():
			return
		}
	}
}

// remoteAwareness applies another node's awareness update to the local
// copy of the document and relays it to the local connections.
func (s *Server) remoteAwareness(payload string) {
	nodeID, docID, update, err := parseAwarenessNotification(payload)
	if err != nil {
		s.log.Warn("ignoring awareness notification", "err", err)
		return
	}
	if nodeID == s.cfg.NodeID {
		return
	}
	s.mu.Lock()
	d := s.byID[docID]
	s.mu.Unlock()
	if d == nil {
		return
	}
	<-d.loaded
	if d.loadErr != nil {
		return
	}
	if update == nil { // a node that just loaded the document asks for states
		d.mu.Lock()
		var own []AwarenessEntry
		for id, st := range d.awareness {
			if st.owner != nil && st.state != "null" {
				own = append(own, AwarenessEntry{ClientID: id, Clock: st.clock, State: st.state})
			}
		}
		if len(own) > 0 {
			s.relayAwareness(d, EncodeAwareness(own))
		}
		d.mu.Unlock()
		return
	}
	entries, err := DecodeAwareness(update)
	if err != nil {
		s.log.Warn("ignoring awareness notification", "doc_id", docID, "err", err)
		return
	}
	msg := EncodeAwarenessMessage(update)
	d.mu.Lock()
	defer d.mu.Unlock()
	if !applyAwarenessLocked(d, entries, nil) {
		return
	}
	for c := range d.conns {
		c.enqueue(outMsg{data: msg})
	}
}

// reauthLoop re-authenticates open connections every ReauthInterval.
func (s *Server) reauthLoop() {
	t := time.NewTicker(s.cfg.ReauthInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-s.ctx.Done():
			return
		}
		s.mu.Lock()
		conns := make([]*conn, 0, len(s.conns))
		for c := range s.conns {
			conns = append(conns, c)
		}
		s.mu.Unlock()
		for _, c := range conns {
			s.reauth(c)
		}
	}
}

// reauth closes c with 4401 if its key was revoked, 4403 if it lost every
// scope, and updates whether it may write.
func (s *Server) reauth(c *conn) {
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	p, err := s.cfg.Auth.Authenticate(ctx, c.token)
	switch {
	case errors.Is(err, syncauth.ErrUnauthenticated):
		c.closeAsync(CloseUnauthorized, "API key revoked", "revoked")
	case errors.Is(err, syncauth.ErrForbidden), err == nil && !hasSyncScope(p):
		c.closeAsync(CloseForbidden, "API key not allowed to sync", "forbidden")
	case err != nil:
		// The key store is unreachable: keep serving; the next round retries.
		s.log.Warn("re-authenticate", "key_id", c.principal.KeyID, "err", err)
	default:
		c.canWrite.Store(p.CanWrite())
	}
}
