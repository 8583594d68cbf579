package rows

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/webhost-systems/webhost/internal/migrate"
	"github.com/webhost-systems/webhost/internal/pgtest"
	"github.com/webhost-systems/webhost/sync/syncauth"
)

// testAuth maps tokens to principals.
type testAuth struct {
	mu   sync.Mutex
	keys map[string]syncauth.Principal
}

func newTestAuth() *testAuth { return &testAuth{keys: map[string]syncauth.Principal{}} }

// key registers a key for tenant with the given scopes and returns it.
func (a *testAuth) key(tenant string, scopes ...string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	token := fmt.Sprintf("%skey%d_%s", syncauth.KeyPrefix, len(a.keys), tenant)
	a.keys[token] = syncauth.Principal{CustomerID: tenant, KeyID: fmt.Sprintf("k%d", len(a.keys)), Scopes: scopes}
	return token
}

func (a *testAuth) Authenticate(_ context.Context, token string) (syncauth.Principal, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	p, ok := a.keys[token]
	if !ok {
		return syncauth.Principal{}, syncauth.ErrUnauthenticated
	}
	return p, nil
}

// fakeClock is an adjustable clock.
type fakeClock struct{ nanos atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.nanos.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.nanos.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.nanos.Add(int64(d)) }

// testConfig is a config with limits that tests do not hit by accident.
func testConfig() Config {
	return Config{
		Tables:          []string{"posts", "comments", "items"},
		PushesPerSecond: 1e6,
		PushBurst:       1e6,
	}
}

// migratedPool returns a pool on a fresh, migrated database.
func migratedPool(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	dsn := pgtest.MustCreateDatabase(tb)
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		tb.Fatal(err)
	}
	cfg.MaxConns = 24
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pool.Close)
	if err := migrate.Up(context.Background(), pool, nil, Migrations); err != nil {
		tb.Fatalf("migrate: %v", err)
	}
	return pool
}

// node is one running server behind a real HTTP listener.
type node struct {
	pool *pgxpool.Pool
	srv  *Server
	http *httptest.Server
	url  string
}

// startNode starts a server on pool. prepare runs before the listener
// starts (to set test hooks without racing handlers).
func startNode(tb testing.TB, pool *pgxpool.Pool, auth syncauth.Authenticator, cfg Config, prepare func(*Server)) *node {
	tb.Helper()
	srv, err := New(context.Background(), cfg, pool, auth)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	if prepare != nil {
		prepare(srv)
	}
	hs := httptest.NewServer(srv)
	tb.Cleanup(func() {
		_ = srv.Close()
		hs.Close()
	})
	return &node{pool: pool, srv: srv, http: hs, url: hs.URL}
}

// httpClient keeps enough idle connections for 100 concurrent devices
// (http.DefaultClient keeps 2 per host and would reconnect constantly).
var httpClient = &http.Client{Transport: &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512, IdleConnTimeout: time.Minute}}

// post sends a JSON body and returns the status and body.
func post(tb testing.TB, url, token string, body []byte) (int, []byte) {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		tb.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp.StatusCode, raw
}

func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}

func i64(v int64) *int64 { return &v }

// localRow is a row in a device's local tables.
type localRow struct {
	value   json.RawMessage
	version int64
}

// device simulates a client database: local tables, an outbox of
// mutations with increasing mids, a saved cursor, and rebase of pending
// mutations after each pulled page.
type device struct {
	tb       testing.TB
	url      string
	token    string
	clientID string
	tables   []string
	limit    int

	// pool, when set, makes sync wait until everything committed before it
	// is below the visibility horizon (other tests share the cluster's
	// horizon), so tests can expect to see completed pushes.
	pool *pgxpool.Pool

	nextMID int64
	outbox  []Mutation // not yet acknowledged by a push
	// sent are acknowledged by a push but not yet covered by a pull's
	// lastMid: their effect may not be visible yet, so they stay applied
	// on top of the server's rows.
	sent    []Mutation
	base    map[string]localRow // the server's rows as last pulled
	rows    map[string]localRow // base with the pending mutations on top
	cursor  *string
	lastMID int64
}

func newDevice(tb testing.TB, n *node, token, clientID string, tables ...string) *device {
	if len(tables) == 0 {
		tables = []string{"posts", "comments", "items"}
	}
	return &device{tb: tb, url: n.url, pool: n.pool, token: token, clientID: clientID, tables: tables, limit: 1000, nextMID: 1,
		base: map[string]localRow{}, rows: map[string]localRow{}}
}

func rowID(tbl, key string) string { return tbl + "/" + key }

// mutate records a local transaction of ops: applied locally at once and
// queued in the outbox.
func (d *device) mutate(ops ...Op) int64 {
	m := Mutation{MID: d.nextMID, TS: time.Now().UnixMilli(), Ops: ops}
	d.nextMID++
	d.outbox = append(d.outbox, m)
	for _, op := range ops {
		d.applyLocal(op)
	}
	return m.MID
}

func (d *device) applyLocal(op Op) {
	id := rowID(op.Table, op.Key)
	cur, ok := d.rows[id]
	switch op.Op {
	case OpPut:
		d.rows[id] = localRow{value: op.Value, version: cur.version}
	case OpPatch:
		if !ok {
			return
		}
		merged, err := mergePatch(cur.value, op.Patch)
		if err != nil {
			return
		}
		d.rows[id] = localRow{value: merged, version: cur.version}
	case OpDelete:
		delete(d.rows, id)
	}
}

func (d *device) put(tbl, key string, value any, base *int64) int64 {
	return d.mutate(Op{Table: tbl, Op: OpPut, Key: key, Value: mustJSON(d.tb, value), BaseVersion: base})
}

func (d *device) patch(tbl, key string, fields map[string]any) int64 {
	return d.mutate(Op{Table: tbl, Op: OpPatch, Key: key, Patch: mustJSON(d.tb, fields), BaseVersion: i64(d.version(tbl, key))})
}

func (d *device) del(tbl, key string) int64 {
	return d.mutate(Op{Table: tbl, Op: OpDelete, Key: key, BaseVersion: i64(d.version(tbl, key))})
}

func (d *device) version(tbl, key string) int64 { return d.rows[rowID(tbl, key)].version }

// pushRaw sends the outbox and returns status and body without
// interpreting them.
func (d *device) pushRaw() (int, []byte) {
	body := mustJSON(d.tb, PushRequest{V: 1, ClientID: d.clientID, SchemaHash: "h1", Mutations: d.outbox})
	return post(d.tb, d.url+PathPush, d.token, body)
}

// push sends the outbox; acknowledged mutations (applied, already or
// rejected) leave it.
func (d *device) push() PushResponse {
	d.tb.Helper()
	status, raw := d.pushRaw()
	if status != http.StatusOK {
		d.tb.Fatalf("push: %d %s", status, raw)
	}
	var resp PushResponse
	if err := json.Unmarshal(raw, &resp); err != nil {
		d.tb.Fatalf("push response: %v: %s", err, raw)
	}
	d.ack(resp.LastMID)
	return resp
}

// ack moves mutations acknowledged by a push from the outbox to sent.
func (d *device) ack(lastMID int64) {
	for len(d.outbox) > 0 && d.outbox[0].MID <= lastMID {
		d.sent = append(d.sent, d.outbox[0])
		d.outbox = d.outbox[1:]
	}
}

// pullPage pulls one page; it returns the HTTP status and, on 200, the page.
func (d *device) pullPage() (int, PullResponse, []byte) {
	d.tb.Helper()
	body := mustJSON(d.tb, PullRequest{V: 1, ClientID: d.clientID, Tables: d.tables, Cursor: d.cursor, Limit: d.limit})
	status, raw := post(d.tb, d.url+PathPull, d.token, body)
	if status != http.StatusOK {
		return status, PullResponse{}, raw
	}
	var resp PullResponse
	if err := json.Unmarshal(raw, &resp); err != nil {
		d.tb.Fatalf("pull response: %v: %s", err, raw)
	}
	d.apply(resp)
	return status, resp, raw
}

// apply applies a page to the server shadow, then recomputes the visible
// rows of every key a local mutation touched: the server's rows plus the
// mutations the page's lastMid does not cover yet (rebase), as the SDK
// does. Mutations it covers are dropped: applied ones now come from the
// server, rejected ones are undone.
func (d *device) apply(resp PullResponse) {
	for _, ch := range resp.Changes {
		id := rowID(ch.Table, ch.Key)
		if ch.Op == ChangeDelete {
			delete(d.base, id)
			delete(d.rows, id)
			continue
		}
		r := localRow{value: ch.Value, version: ch.Version}
		d.base[id], d.rows[id] = r, r
	}
	d.cursor = &resp.Cursor
	d.lastMID = resp.LastMID
	d.ack(resp.LastMID)
	touched := append(slices.Clone(d.sent), d.outbox...)
	for _, m := range touched {
		for _, op := range m.Ops {
			id := rowID(op.Table, op.Key)
			if r, ok := d.base[id]; ok {
				d.rows[id] = r
			} else {
				delete(d.rows, id)
			}
		}
	}
	d.sent = slices.DeleteFunc(d.sent, func(m Mutation) bool { return m.MID <= resp.LastMID })
	for _, m := range append(slices.Clone(d.sent), d.outbox...) {
		for _, op := range m.Ops {
			d.applyLocal(op)
		}
	}
}

// settle waits until every transaction that committed before the call is
// below the visibility horizon.
func settle(tb testing.TB, pool *pgxpool.Pool) {
	tb.Helper()
	ctx := context.Background()
	var next string
	if err := pool.QueryRow(ctx, `SELECT pg_snapshot_xmax(pg_current_snapshot())::text`).Scan(&next); err != nil {
		tb.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var below bool
		if err := pool.QueryRow(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot()) >= $1::text::xid8`, next).Scan(&below); err != nil {
			tb.Fatal(err)
		}
		if below {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatal("settle: a transaction on the cluster stayed open for 2 minutes")
		}
		time.Sleep(time.Millisecond)
	}
}

// sync pulls until the server has nothing more; on 410 it clears the
// synced tables and starts over from null. It returns how many resets.
func (d *device) sync() int {
	d.tb.Helper()
	if d.pool != nil {
		settle(d.tb, d.pool)
	}
	resets := 0
	for {
		status, resp, raw := d.pullPage()
		switch status {
		case http.StatusOK:
			if !resp.HasMore {
				return resets
			}
		case http.StatusGone:
			resets++
			if resets > 3 {
				d.tb.Fatalf("pull: reset loop: %s", raw)
			}
			d.base, d.rows = map[string]localRow{}, map[string]localRow{}
			d.cursor = nil
		default:
			d.tb.Fatalf("pull: %d %s", status, raw)
		}
	}
}

// canonical re-encodes JSON with sorted keys and no spaces.
func canonical(tb testing.TB, raw json.RawMessage) string {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		tb.Fatalf("canonical: %v: %s", err, raw)
	}
	out, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return string(out)
}

// snapshot returns the device's rows as canonical JSON by id.
func (d *device) snapshot() map[string]string {
	out := make(map[string]string, len(d.rows))
	for id, r := range d.rows {
		out[id] = canonical(d.tb, r.value)
	}
	return out
}

// checksum is an order-independent digest of rows.
type checksum struct {
	Count int
	Sum   uint64
}

func rowDigest(id string, version int64, canon string) uint64 {
	h := md5.Sum([]byte(fmt.Sprintf("%s\x00%d\x00%s", id, version, canon)))
	return binary.BigEndian.Uint64(h[:8])
}

func (d *device) checksum() checksum {
	var c checksum
	for id, r := range d.rows {
		c.Count++
		c.Sum += rowDigest(id, r.version, canonical(d.tb, r.value))
	}
	return c
}

// serverRows reads a tenant's live rows straight from PostgreSQL.
func serverRows(tb testing.TB, pool *pgxpool.Pool, tenant string, tables ...string) map[string]localRow {
	tb.Helper()
	if len(tables) == 0 {
		tables = []string{"posts", "comments", "items"}
	}
	rows, err := pool.Query(context.Background(), `SELECT tbl, pk, value, version FROM rowsync.rows WHERE tenant = $1 AND tbl = ANY($2) AND NOT deleted`, tenant, tables)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	out := map[string]localRow{}
	for rows.Next() {
		var tbl, pk string
		var value []byte
		var version int64
		if err := rows.Scan(&tbl, &pk, &value, &version); err != nil {
			tb.Fatal(err)
		}
		out[rowID(tbl, pk)] = localRow{value: value, version: version}
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

func serverChecksum(tb testing.TB, pool *pgxpool.Pool, tenant string) checksum {
	var c checksum
	for id, r := range serverRows(tb, pool, tenant) {
		c.Count++
		c.Sum += rowDigest(id, r.version, canonical(tb, r.value))
	}
	return c
}

func serverSnapshot(tb testing.TB, pool *pgxpool.Pool, tenant string) map[string]string {
	out := map[string]string{}
	for id, r := range serverRows(tb, pool, tenant) {
		out[id] = canonical(tb, r.value)
	}
	return out
}

// requireSame fails unless the device holds exactly the server's rows.
func requireSame(tb testing.TB, pool *pgxpool.Pool, tenant string, devs ...*device) {
	tb.Helper()
	want := serverSnapshot(tb, pool, tenant)
	for _, d := range devs {
		if got := d.snapshot(); !maps.Equal(got, want) {
			tb.Fatalf("device %s diverges from the server:\n got %v\nwant %v", d.clientID, got, want)
		}
	}
}

// errorBody decodes an error response.
func errorBody(tb testing.TB, raw []byte) ErrorBody {
	tb.Helper()
	var e ErrorBody
	if err := json.Unmarshal(raw, &e); err != nil {
		tb.Fatalf("error body: %v: %s", err, raw)
	}
	if e.Error == "" || e.Message == "" {
		tb.Fatalf("error body lacks code or message: %s", raw)
	}
	return e
}

// liveClient is a connected /v1/sync/live WebSocket.
type liveClient struct {
	conn  *websocket.Conn
	pokes chan struct{}
}

// dialLive connects and waits until the node has registered the
// subscription, so that no poke can be missed after it returns.
func dialLive(tb testing.TB, n *node, token, tenant string) *liveClient {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	before := n.srv.hub.count(tenant)
	wsURL := "ws" + strings.TrimPrefix(n.url, "http") + PathLive + "?token=" + token
	conn, _, err := websocket.Dial(ctx, wsURL, nil)
	if err != nil {
		tb.Fatalf("dial live: %v", err)
	}
	lc := &liveClient{conn: conn, pokes: make(chan struct{}, 1024)}
	go func() {
		for {
			_, msg, err := conn.Read(context.Background())
			if err != nil {
				close(lc.pokes)
				return
			}
			if string(msg) == string(pokeMessage) {
				lc.pokes <- struct{}{}
			}
		}
	}()
	tb.Cleanup(func() { _ = conn.Close(websocket.StatusNormalClosure, "") })
	for n.srv.hub.count(tenant) <= before {
		select {
		case <-ctx.Done():
			tb.Fatalf("live subscription never registered")
		case <-time.After(time.Millisecond):
		}
	}
	return lc
}

// waitPoke waits for a poke (bounded only to keep a broken build from
// hanging; the bound is not a performance assertion).
func (lc *liveClient) waitPoke(tb testing.TB) {
	tb.Helper()
	select {
	case _, ok := <-lc.pokes:
		if !ok {
			tb.Fatal("live connection closed before a poke")
		}
	case <-time.After(30 * time.Second):
		tb.Fatal("no poke within 30 s")
	}
}
