package rows

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/jackc/pgx/v5/pgxpool"
	"pgregory.net/rapid"

	"github.com/webhost-systems/webhost/sync/syncauth"
)

// The conformance suite runs the numbered cases of the row-sync issue
// against real servers (httptest listeners) on a real PostgreSQL, with two
// or more simulated devices.

// Case 1: offline field edits on two devices. Different fields both
// survive; the same field ends identically everywhere (last received wins).
func TestConformance01OfflineFieldEdits(t *testing.T) {
	t.Parallel()
	pool := migratedPool(t)
	auth := newTestAuth()
	n := startNode(t, pool, auth, testConfig(), nil)
	token := auth.key("acme", syncauth.ScopeWrite)
	a := newDevice(t, n, token, "c_a")
	b := newDevice(t, n, token, "c_b")

	a.put("posts", "pst_1", map[string]any{"title": "draft", "body": "text", "likes": 0}, nil)
	a.push()
	a.sync()
	b.sync()

	// Both offline.
	a.patch("posts", "pst_1", map[string]any{"title": "A's title", "likes": 1})
	b.patch("posts", "pst_1", map[string]any{"body": "B's body", "likes": 2})
	// A reconnects first, then B.
	if r := a.push(); r.Results[0].Status != StatusApplied {
		t.Fatalf("a push: %+v", r)
	}
	if r := b.push(); r.Results[0].Status != StatusApplied {
		t.Fatalf("b push: %+v", r)
	}
	a.sync()
	b.sync()

	want := `{"body":"B's body","likes":2,"title":"A's title"}`
	for _, d := range []*device{a, b} {
		if got := d.snapshot()["posts/pst_1"]; got != want {
			t.Fatalf("device %s: %s, want %s", d.clientID, got, want)
		}
	}
	requireSame(t, pool, "acme", a, b)
	if v := a.version("posts", "pst_1"); v != 3 || b.version("posts", "pst_1") != 3 {
		t.Fatalf("versions %d/%d, want 3 (one bump per mutation)", v, b.version("posts", "pst_1"))
	}
}

// Case 2: delete against update, in both push orders: the row stays deleted
// everywhere.
func TestConformance02DeleteWins(t *testing.T) {
	t.Parallel()
	pool := migratedPool(t)
	auth := newTestAuth()
	n := startNode(t, pool, auth, testConfig(), nil)
	token := auth.key("acme", syncauth.ScopeWrite)

	for _, order := range []string{"delete-first", "update-first"} {
		t.Run(order, func(t *testing.T) {
			a := newDevice(t, n, token, "c_a_"+order)
			b := newDevice(t, n, token, "c_b_"+order)
			key := "pst_" + order
			a.put("posts", key, map[string]any{"title": "t"}, nil)
			a.push()
			a.sync()
			b.sync()

			a.del("posts", key)
			b.patch("posts", key, map[string]any{"title": "edited"})
			b.put("posts", key, map[string]any{"title": "replaced"}, i64(b.version("posts", key)))
			if order == "delete-first" {
				a.push()
				b.push()
			} else {
				b.push()
				a.push()
			}
			a.sync()
			b.sync()
			for _, d := range []*device{a, b} {
				if _, ok := d.rows[rowID("posts", key)]; ok {
					t.Fatalf("device %s still has the deleted row", d.clientID)
				}
			}
			var deleted bool
			if err := pool.QueryRow(context.Background(), `SELECT deleted FROM rowsync.rows WHERE tenant = 'acme' AND tbl = 'posts' AND pk = $1`, key).Scan(&deleted); err != nil || !deleted {
				t.Fatalf("server row deleted=%v err=%v", deleted, err)
			}

			// A put with a null baseVersion deliberately brings the row back.
			c := newDevice(t, n, token, "c_c_"+order)
			c.put("posts", key, map[string]any{"title": "reborn"}, nil)
			c.push()
			a.sync()
			if got := a.snapshot()[rowID("posts", key)]; got != `{"title":"reborn"}` {
				t.Fatalf("after re-creation: %q", got)
			}
		})
	}
}

// rowMeta is a stored row's version and log position.
func rowMeta(t *testing.T, pool *pgxpool.Pool, tenant, tbl, key string) (version int64, xid string, seq int64) {
	t.Helper()
	err := pool.QueryRow(context.Background(), `SELECT version, xid::text, seq FROM rowsync.rows WHERE tenant = $1 AND tbl = $2 AND pk = $3`, tenant, tbl, key).Scan(&version, &xid, &seq)
	if err != nil {
		t.Fatalf("row %s/%s: %v", tbl, key, err)
	}
	return version, xid, seq
}

// Case 3: a duplicate push after a lost response gives "already" with no
// version or seq change; a mid gap gives 409 with expectedMid.
func TestConformance03IdempotentPushAndGap(t *testing.T) {
	t.Parallel()
	pool := migratedPool(t)
	auth := newTestAuth()
	n := startNode(t, pool, auth, testConfig(), nil)
	token := auth.key("acme", syncauth.ScopeWrite)
	a := newDevice(t, n, token, "c_a")

	a.put("posts", "pst_1", map[string]any{"title": "one"}, nil)
	a.put("posts", "pst_2", map[string]any{"title": "two"}, nil)
	pending := append([]Mutation(nil), a.outbox...)
	a.push()
	v1, xid1, seq1 := rowMeta(t, pool, "acme", "posts", "pst_1")

	// The response was lost: the client resends the same batch.
	a.outbox = pending
	resp := a.push()
	if resp.LastMID != 2 || len(resp.Results) != 2 {
		t.Fatalf("retry response: %+v", resp)
	}
	for _, r := range resp.Results {
		if r.Status != StatusAlready {
			t.Fatalf("retry result %+v, want already", r)
		}
	}
	v2, xid2, seq2 := rowMeta(t, pool, "acme", "posts", "pst_1")
	if v1 != v2 || xid1 != xid2 || seq1 != seq2 {
		t.Fatalf("retry changed the row: version %d→%d xid %s→%s seq %d→%d", v1, v2, xid1, xid2, seq1, seq2)
	}

	// A retry that overlaps new mutations: old ones are already, new applied.
	a.outbox = append(pending[1:], Mutation{MID: 3, Ops: []Op{{Table: "posts", Op: OpPut, Key: "pst_3", Value: json.RawMessage(`{"title":"three"}`)}}})
	resp = a.push()
	if resp.Results[0].Status != StatusAlready || resp.Results[1].Status != StatusApplied || resp.LastMID != 3 {
		t.Fatalf("overlapping retry: %+v", resp)
	}

	// mid 4 is lost, mid 5 arrives: 409 with expectedMid 4, nothing applied.
	a.outbox = []Mutation{{MID: 5, Ops: []Op{{Table: "posts", Op: OpPut, Key: "pst_5", Value: json.RawMessage(`{}`)}}}}
	status, raw := a.pushRaw()
	if status != http.StatusConflict {
		t.Fatalf("gap: %d %s", status, raw)
	}
	e := errorBody(t, raw)
	if e.Error != CodeMidGap || e.ExpectedMID == nil || *e.ExpectedMID != 4 {
		t.Fatalf("gap body: %s", raw)
	}
	var exists bool
	if err := pool.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM rowsync.rows WHERE pk = 'pst_5')`).Scan(&exists); err != nil || exists {
		t.Fatalf("gap applied a row: %v %v", exists, err)
	}
	// Resending from expectedMid succeeds.
	a.outbox = []Mutation{{MID: 4, Ops: []Op{{Table: "posts", Op: OpDelete, Key: "pst_3"}}}, a.outbox[0]}
	if resp := a.push(); resp.LastMID != 5 {
		t.Fatalf("resend: %+v", resp)
	}
}

// Case 4: commit-order visibility. Transaction 1 takes seq 10 and stays
// open; transaction 2 takes seq 11 and commits. A pull must not return 11
// until 1 commits, and then returns both. lastMid is held back the same way.
func TestConformance04CommitOrderVisibility(t *testing.T) {
	t.Parallel()
	pool := migratedPool(t)
	auth := newTestAuth()
	token := auth.key("acme", syncauth.ScopeWrite)
	reached := make(chan struct{})
	release := make(chan struct{})
	n := startNode(t, pool, auth, testConfig(), func(s *Server) {
		s.store.beforeCommit = func(in mutationInput) {
			if in.clientID == "c_slow" {
				close(reached)
				<-release
			}
		}
	})
	// Nine earlier rows, so the two transactions take seq 10 and 11.
	seed := newDevice(t, n, token, "c_seed")
	for i := 1; i <= 9; i++ {
		seed.put("items", fmt.Sprintf("it_%d", i), map[string]any{"n": i}, nil)
	}
	seed.push()
	reader := newDevice(t, n, token, "c_reader")
	reader.sync()
	if len(reader.rows) != 9 {
		t.Fatalf("reader has %d rows, want 9", len(reader.rows))
	}

	slow := newDevice(t, n, token, "c_slow")
	fast := newDevice(t, n, token, "c_fast")
	slow.put("items", "it_slow", map[string]any{"n": 10}, nil)
	fast.put("items", "it_fast", map[string]any{"n": 11}, nil)
	slowDone := make(chan PushResponse, 1)
	go func() { slowDone <- slow.push() }()
	<-reached // transaction 1 holds its seq and is open
	fast.push()

	var slowSeq, fastSeq int64
	if err := pool.QueryRow(context.Background(), `SELECT seq FROM rowsync.rows WHERE pk = 'it_fast'`).Scan(&fastSeq); err != nil {
		t.Fatal(err)
	}
	if fastSeq != 11 {
		t.Fatalf("fast seq %d, want 11", fastSeq)
	}

	// No settling here: transaction 1 is deliberately open.
	reader.pool, fast.pool = nil, nil
	reader.sync()
	if _, ok := reader.rows["items/it_fast"]; ok {
		t.Fatal("pull returned seq 11 while seq 10's transaction is open")
	}
	fast.sync()
	if fast.lastMID != 0 {
		t.Fatalf("fast's lastMid %d reported before its rows are visible", fast.lastMID)
	}

	close(release)
	<-slowDone
	_, _, slowSeq = rowMeta(t, pool, "acme", "items", "it_slow")
	if slowSeq != 10 {
		t.Fatalf("slow seq %d, want 10", slowSeq)
	}
	reader.pool, fast.pool = pool, pool
	reader.sync()
	for _, k := range []string{"items/it_slow", "items/it_fast"} {
		if _, ok := reader.rows[k]; !ok {
			t.Fatalf("after commit the pull lacks %s", k)
		}
	}
	fast.sync()
	if fast.lastMID != 1 {
		t.Fatalf("fast's lastMid %d, want 1", fast.lastMID)
	}
	requireSame(t, pool, "acme", reader, fast)
}

// Case 5: rejected mutations (too large, wrong tenant, read-only key)
// advance last_mid and change nothing; the next pull restores the truth.
func TestConformance05RejectedMutationsAdvance(t *testing.T) {
	t.Parallel()
	pool := migratedPool(t)
	auth := newTestAuth()
	cfg := testConfig()
	cfg.MaxValueBytes = 64
	n := startNode(t, pool, auth, cfg, nil)
	writer := auth.key("acme", syncauth.ScopeWrite)
	reader := auth.key("acme", syncauth.ScopeRead)

	a := newDevice(t, n, writer, "c_a")
	a.put("posts", "pst_1", map[string]any{"title": "ok"}, nil)
	a.push()
	a.sync()
	before := serverSnapshot(t, pool, "acme")

	big := strings.Repeat("x", 100)
	a.put("posts", "pst_1", map[string]any{"title": big}, i64(1))                                                      // too large
	a.patch("posts", "pst_1", map[string]any{"body": big[:40], "more": big[:30]})                                      // too large after merge
	a.mutate(Op{Table: "posts", Op: OpPut, Key: "pst_x", Value: json.RawMessage(`{"t":1}`), Tenant: "other-customer"}) // wrong tenant
	resp := a.push()
	if resp.LastMID != 4 || len(resp.Results) != 3 {
		t.Fatalf("push: %+v", resp)
	}
	for i, prefix := range []string{"value_too_large", "value_too_large", "forbidden"} {
		r := resp.Results[i]
		if r.Status != StatusRejected || !strings.HasPrefix(r.Error, prefix) {
			t.Fatalf("result %d: %+v, want rejected %s", i, r, prefix)
		}
	}
	if len(a.outbox) != 0 {
		t.Fatalf("rejected mutations left in the outbox: %d", len(a.outbox))
	}
	// The device still shows its optimistic edits until it pulls.
	a.sync()
	requireSame(t, pool, "acme", a)
	if after := serverSnapshot(t, pool, "acme"); !maps.Equal(before, after) {
		t.Fatalf("rejections changed rows: %v → %v", before, after)
	}

	// A read-only key: every mutation is rejected, last_mid still advances.
	ro := newDevice(t, n, reader, "c_ro")
	ro.sync()
	ro.put("posts", "pst_1", map[string]any{"title": "hijack"}, i64(1))
	ro.del("posts", "pst_1")
	resp = ro.push()
	if resp.LastMID != 2 || resp.Results[0].Status != StatusRejected || resp.Results[1].Status != StatusRejected ||
		!strings.Contains(resp.Results[0].Error, "read-only") {
		t.Fatalf("read-only push: %+v", resp)
	}
	ro.sync()
	requireSame(t, pool, "acme", ro)
	if ro.lastMID != 2 {
		t.Fatalf("read-only client's lastMid %d, want 2", ro.lastMID)
	}
	var rejected int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM rowsync.acks WHERE status = 'rejected' AND reason <> ''`).Scan(&rejected); err != nil || rejected != 5 {
		t.Fatalf("stored rejections %d (%v), want 5 with reasons", rejected, err)
	}
	// The next mid applies normally.
	a.patch("posts", "pst_1", map[string]any{"title": "fine"})
	if resp := a.push(); resp.LastMID != 5 || resp.Results[0].Status != StatusApplied {
		t.Fatalf("after rejections: %+v", resp)
	}
}

// Case 6: tenant isolation. Random operations by devices of random tenants
// over a shared key space: every device ends with exactly its own tenant's
// rows, which match a per-tenant model, and a pull never returns a row
// written by another tenant.
func TestConformance06TenantIsolation(t *testing.T) {
	t.Parallel()
	pool := migratedPool(t)
	auth := newTestAuth()
	n := startNode(t, pool, auth, testConfig(), nil)
	iteration := 0
	rapid.Check(t, func(rt *rapid.T) {
		iteration++
		tenants := rapid.SliceOfNDistinct(rapid.StringMatching(`[a-z]{1,6}`), 2, 4, rapid.ID).Draw(rt, "tenants")
		type actor struct {
			tenant string
			dev    *device
		}
		var actors []actor
		for i, tn := range tenants {
			tenant := fmt.Sprintf("it%d_%s", iteration, tn)
			token := auth.key(tenant, syncauth.ScopeWrite)
			for j := range 2 {
				d := newDevice(t, n, token, fmt.Sprintf("c_%d_%d", i, j), "posts")
				// Mid-run pulls may lag the horizon; the property holds
				// regardless, and the final comparison settles first.
				d.pool = nil
				actors = append(actors, actor{tenant, d})
			}
		}
		model := map[string]map[string]string{} // tenant → key → canonical value
		for _, a := range actors {
			model[a.tenant] = map[string]string{}
		}
		steps := rapid.IntRange(1, 20).Draw(rt, "steps")
		var trace []string
		for range steps {
			a := actors[rapid.IntRange(0, len(actors)-1).Draw(rt, "actor")]
			key := fmt.Sprintf("k%d", rapid.IntRange(0, 4).Draw(rt, "key"))
			action := rapid.IntRange(0, 3).Draw(rt, "action")
			cpos := position{}
			if a.dev.cursor != nil {
				c, _ := decodeCursor(*a.dev.cursor)
				cpos = c.Pos
			}
			trace = append(trace, fmt.Sprintf("%s/%s a%d %s cursor=%v rows=%v", a.tenant, a.dev.clientID, action, key, cpos, a.dev.snapshot()))
			switch action {
			case 0:
				v := map[string]any{"owner": a.tenant, "n": rapid.IntRange(0, 99).Draw(rt, "n")}
				a.dev.put("posts", key, v, nil)
				a.dev.push()
				model[a.tenant][key] = canonical(t, mustJSON(t, v))
			case 1:
				a.dev.sync()
				if _, ok := a.dev.rows[rowID("posts", key)]; !ok {
					continue
				}
				a.dev.del("posts", key)
				a.dev.push()
				delete(model[a.tenant], key)
			case 2:
				a.dev.sync()
			case 3:
				// An op that names another tenant explicitly is rejected.
				other := actors[rapid.IntRange(0, len(actors)-1).Draw(rt, "other")]
				if other.tenant == a.tenant {
					continue
				}
				a.dev.mutate(Op{Table: "posts", Op: OpPut, Key: key, Value: mustJSON(t, map[string]any{"owner": a.tenant}), Tenant: other.tenant})
				if r := a.dev.push(); r.Results[len(r.Results)-1].Status != StatusRejected {
					rt.Fatalf("cross-tenant op not rejected: %+v", r)
				}
			}
		}
		settle(t, pool)
		for _, a := range actors {
			a.dev.sync()
			got := a.dev.snapshot()
			want := map[string]string{}
			for k, v := range model[a.tenant] {
				want[rowID("posts", k)] = v
			}
			if !maps.Equal(got, want) {
				c, _ := decodeCursor(*a.dev.cursor)
				var dbg string
				_ = pool.QueryRow(context.Background(), `SELECT string_agg(pk || '@' || xid::text || '/' || seq || '/' || deleted, ' ') FROM rowsync.rows WHERE tenant = $1`, a.tenant).Scan(&dbg)
				rt.Fatalf("tenant %s device %s: got %v want %v (server %v, lastMid %d, sent %d, outbox %d) cursor %+v rows %s\n%s", a.tenant, a.dev.clientID, got, want,
					serverSnapshot(t, pool, a.tenant), a.dev.lastMID, len(a.dev.sent), len(a.dev.outbox), c.Pos, dbg, strings.Join(trace, "\n"))
			}
			for id, v := range got {
				if !strings.Contains(v, `"owner":"`+a.tenant+`"`) {
					rt.Fatalf("tenant %s received foreign row %s=%s", a.tenant, id, v)
				}
			}
		}
	})
}

// Case 7: an initial sync of 100,000 rows at limit 1000, interrupted
// halfway and resumed from the saved cursor, ends with the server's count
// and checksum, including writes made concurrently during the paging.
func TestConformance07InitialSyncResume(t *testing.T) {
	t.Parallel()
	const total = 100_000
	pool := migratedPool(t)
	auth := newTestAuth()
	n := startNode(t, pool, auth, testConfig(), nil)
	token := auth.key("acme", syncauth.ScopeWrite)
	seedRows(t, pool, "acme", "items", total)

	// A writer device keeps editing while the reader pages.
	writer := newDevice(t, n, token, "c_writer", "items")
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	writes := 0
	wg.Go(func() {
		rng := rand.New(rand.NewPCG(1, 2))
		for ctx.Err() == nil {
			k := fmt.Sprintf("it_%06d", rng.IntN(total+2000))
			switch rng.IntN(3) {
			case 0:
				writer.put("items", k, map[string]any{"n": rng.IntN(1000), "by": "writer"}, nil)
			case 1:
				writer.mutate(Op{Table: "items", Op: OpPatch, Key: k, Patch: json.RawMessage(`{"touched":true}`), BaseVersion: i64(1)})
			case 2:
				writer.mutate(Op{Table: "items", Op: OpDelete, Key: k, BaseVersion: i64(1)})
			}
			writer.push()
			writes++
			time.Sleep(2 * time.Millisecond) // leave CPU to the reader under -race
		}
	})

	first := newDevice(t, n, token, "c_reader", "items")
	pages := 0
	for pages < total/1000/2 {
		status, resp, raw := first.pullPage()
		if status != http.StatusOK || !resp.HasMore {
			t.Fatalf("page %d: %d hasMore=%v %s", pages, status, resp.HasMore, raw)
		}
		pages++
	}
	// Interrupted: the app restarts with its local tables and saved cursor.
	resumed := newDevice(t, n, token, "c_reader", "items")
	resumed.base, resumed.rows, resumed.cursor = first.base, first.rows, first.cursor
	if resets := resumed.sync(); resets != 0 {
		t.Fatalf("resume was reset %d times", resets)
	}
	stop()
	wg.Wait()
	if writes == 0 {
		t.Fatal("no concurrent writes happened")
	}
	resumed.sync() // catch up with the last writes
	got, want := resumed.checksum(), serverChecksum(t, pool, "acme")
	if got != want {
		t.Fatalf("after resume: count %d sum %x, server count %d sum %x", got.Count, got.Sum, want.Count, want.Sum)
	}
	t.Logf("synced %d rows with %d concurrent pushes during paging", got.Count, writes)
}

// seedRows inserts rows for tenant directly, as earlier pushes would have.
func seedRows(tb testing.TB, pool *pgxpool.Pool, tenant, tbl string, count int) {
	tb.Helper()
	_, err := pool.Exec(context.Background(), `
		INSERT INTO rowsync.rows (tenant, tbl, pk, value, version)
		SELECT $1, $2, 'it_' || lpad(i::text, 6, '0'),
			jsonb_build_object('n', i, 'title', 'item ' || i, 'tags', jsonb_build_array('a', 'b')), 1
		FROM generate_series(0, $3 - 1) AS i`, tenant, tbl, count)
	if err != nil {
		tb.Fatalf("seed rows: %v", err)
	}
	settle(tb, pool)
}

// Case 8: a stale cursor (after tombstone cleanup) gives 410, and a full
// resync converges.
func TestConformance08StaleCursorReset(t *testing.T) {
	t.Parallel()
	pool := migratedPool(t)
	auth := newTestAuth()
	clock := newFakeClock()
	cfg := testConfig()
	cfg.Now = clock.Now
	cfg.TombstoneRetention = 24 * time.Hour
	n := startNode(t, pool, auth, cfg, nil)
	token := auth.key("acme", syncauth.ScopeWrite)
	other := auth.key("globex", syncauth.ScopeWrite)

	a := newDevice(t, n, token, "c_a")
	b := newDevice(t, n, token, "c_b")
	g := newDevice(t, n, other, "c_g")
	for i := range 5 {
		a.put("posts", fmt.Sprintf("pst_%d", i), map[string]any{"i": i}, nil)
	}
	a.push()
	g.put("posts", "pst_g", map[string]any{"g": true}, nil)
	g.push()
	a.sync()
	b.sync()
	g.sync()
	stale := *b.cursor

	// B goes away; A deletes rows; the tombstones age past retention.
	a.sync()
	a.del("posts", "pst_1")
	a.del("posts", "pst_2")
	a.push()
	a.sync()
	if purged, err := n.srv.CleanupTombstones(context.Background()); err != nil || purged != 0 {
		t.Fatalf("early cleanup purged %d (%v), want 0: retention not reached", purged, err)
	}
	clock.Advance(25 * time.Hour)
	purged, err := n.srv.CleanupTombstones(context.Background())
	if err != nil || purged != 2 {
		t.Fatalf("cleanup purged %d (%v), want 2", purged, err)
	}

	status, _, raw := b.pullPage()
	if status != http.StatusGone || errorBody(t, raw).Error != CodeReset {
		t.Fatalf("stale cursor: %d %s", status, raw)
	}
	if resets := b.sync(); resets != 1 {
		t.Fatalf("resync resets %d, want 1", resets)
	}
	requireSame(t, pool, "acme", a, b)
	if _, ok := b.rows["posts/pst_1"]; ok {
		t.Fatal("full resync kept a purged row")
	}
	// A, whose cursor is past the tombstones, and another tenant's device
	// are not reset.
	a.put("posts", "pst_9", map[string]any{"i": 9}, nil)
	a.push()
	if resets := a.sync(); resets != 0 {
		t.Fatalf("fresh cursor was reset")
	}
	if resets := g.sync(); resets != 0 {
		t.Fatalf("other tenant's cursor was reset")
	}
	// Also reset: the stale cursor stays stale, and a cursor for other
	// tables is refused.
	b2 := newDevice(t, n, token, "c_b")
	b2.cursor = &stale
	if status, _, _ := b2.pullPage(); status != http.StatusGone {
		t.Fatalf("stale cursor replay: %d", status)
	}
	b3 := newDevice(t, n, token, "c_b", "posts")
	b3.cursor = a.cursor
	if status, _, raw := b3.pullPage(); status != http.StatusGone {
		t.Fatalf("cursor for other tables: %d %s", status, raw)
	}
	// A new database epoch invalidates every cursor.
	if _, err := pool.Exec(context.Background(), `UPDATE rowsync.meta SET epoch = gen_random_uuid()`); err != nil {
		t.Fatal(err)
	}
	if status, _, _ := a.pullPage(); status != http.StatusGone {
		t.Fatalf("cursor from another epoch: %d", status)
	}
}

// Case 9: a poke reaches a live client on the other node.
func TestConformance09CrossNodePoke(t *testing.T) {
	t.Parallel()
	pool := migratedPool(t)
	auth := newTestAuth()
	node1 := startNode(t, pool, auth, testConfig(), nil)
	node2 := startNode(t, pool, auth, testConfig(), nil)
	token := auth.key("acme", syncauth.ScopeWrite)
	readOnly := auth.key("acme", syncauth.ScopeRead)

	watcher := newDevice(t, node2, readOnly, "c_watch")
	watcher.sync()
	live := dialLive(t, node2, readOnly, "acme")

	pusher := newDevice(t, node1, token, "c_push")
	pusher.put("posts", "pst_live", map[string]any{"title": "hello"}, nil)
	pusher.push()
	live.waitPoke(t)
	watcher.sync()
	if got := watcher.snapshot()["posts/pst_live"]; got != `{"title":"hello"}` {
		t.Fatalf("after poke the watcher pulled %q", got)
	}
	// And back: a push on node 2 pokes a client on node 1.
	live1 := dialLive(t, node1, token, "acme")
	other := newDevice(t, node2, token, "c_other")
	other.sync()
	other.patch("posts", "pst_live", map[string]any{"title": "again"})
	other.push()
	live1.waitPoke(t)
	pusher.sync()
	watcher.sync()
	requireSame(t, pool, "acme", pusher, watcher)

	// Auth on the live endpoint: a bad token is closed with 4401.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	wsURL := "ws" + strings.TrimPrefix(node1.url, "http") + PathLive + "?token=whs_live_nope"
	conn, _, err := websocket.Dial(ctx, wsURL, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	if _, _, err := conn.Read(ctx); websocket.CloseStatus(err) != CloseUnauthenticated {
		t.Fatalf("bad token: %v, want close 4401", err)
	}
}
