package rows

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/webhost-systems/webhost/sync/syncauth"
)

// tableCounts returns how many rows, clients and acks are stored.
func tableCounts(t *testing.T, pool *pgxpool.Pool) [3]int {
	t.Helper()
	var c [3]int
	err := pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM rowsync.rows), (SELECT count(*) FROM rowsync.clients), (SELECT count(*) FROM rowsync.acks)`).Scan(&c[0], &c[1], &c[2])
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Case 10: malformed bodies and unknown tables get a clear 4xx and change
// nothing.
func TestConformance10MalformedRequests(t *testing.T) {
	t.Parallel()
	pool := migratedPool(t)
	auth := newTestAuth()
	cfg := testConfig()
	cfg.MaxMutationsPerPush = 3
	cfg.MaxOpsPerMutation = 2
	cfg.MaxRequestBytes = 4096
	cfg.SchemaHashes = []string{"h1"}
	n := startNode(t, pool, auth, cfg, nil)
	token := auth.key("acme", syncauth.ScopeWrite)
	put := func(mid int, tbl string) string {
		return fmt.Sprintf(`{"mid":%d,"ts":1,"ops":[{"tbl":%q,"op":"put","key":"k%d","value":{"a":1}}]}`, mid, tbl, mid)
	}
	push := func(muts ...string) string {
		return `{"v":1,"clientId":"c_1","schemaHash":"h1","mutations":[` + strings.Join(muts, ",") + `]}`
	}
	cases := []struct {
		name, path, token, body string
		status                  int
		code, mentions          string
	}{
		{"not json", PathPush, token, `{"v":1,`, 400, CodeMalformed, "invalid JSON"},
		{"empty body", PathPush, token, ``, 400, CodeMalformed, "JSON object"},
		{"array body", PathPush, token, `[]`, 400, CodeMalformed, "JSON object"},
		{"trailing data", PathPush, token, push(put(1, "posts")) + `{}`, 400, CodeMalformed, "trailing"},
		{"wrong version", PathPush, token, `{"v":2,"clientId":"c","mutations":[]}`, 400, CodeMalformed, "version"},
		{"no client id", PathPush, token, `{"v":1,"mutations":[]}`, 400, CodeMalformed, "clientId"},
		{"no mutations", PathPush, token, `{"v":1,"clientId":"c"}`, 400, CodeMalformed, "mutations"},
		{"mid as string", PathPush, token, push(`{"mid":"1","ops":[]}`), 400, CodeMalformed, "mid"},
		{"mid zero", PathPush, token, push(put(0, "posts")), 400, CodeMalformed, "mid"},
		{"mids not increasing", PathPush, token, push(put(2, "posts"), put(1, "posts")), 400, CodeMalformed, "not greater"},
		{"no ops", PathPush, token, push(`{"mid":1,"ops":[]}`), 400, CodeMalformed, "no ops"},
		{"unknown op", PathPush, token, push(`{"mid":1,"ops":[{"tbl":"posts","op":"upsert","key":"k","value":{}}]}`), 400, CodeMalformed, "unknown op"},
		{"missing key", PathPush, token, push(`{"mid":1,"ops":[{"tbl":"posts","op":"put","value":{}}]}`), 400, CodeMalformed, "key"},
		{"numeric key", PathPush, token, push(`{"mid":1,"ops":[{"tbl":"posts","op":"put","key":5,"value":{}}]}`), 400, CodeMalformed, "key"},
		{"put without value", PathPush, token, push(`{"mid":1,"ops":[{"tbl":"posts","op":"put","key":"k"}]}`), 400, CodeMalformed, "value"},
		{"patch not object", PathPush, token, push(`{"mid":1,"ops":[{"tbl":"posts","op":"patch","key":"k","patch":[1]}]}`), 400, CodeMalformed, "patch"},
		{"nul in value", PathPush, token, push(`{"mid":1,"ops":[{"tbl":"posts","op":"put","key":"k","value":{"a":"\u0000"}}]}`), 400, CodeMalformed, "u0000"},
		{"bad table name", PathPush, token, push(put(1, "po sts")), 400, CodeMalformed, "table name"},
		{"unknown table", PathPush, token, push(put(1, "posts"), put(2, "secrets")), 400, CodeUnknownTable, `"secrets"`},
		{"too many mutations", PathPush, token, push(put(1, "posts"), put(2, "posts"), put(3, "posts"), put(4, "posts")), 413, CodeTooManyMuts, "limit is 3"},
		{"too many ops", PathPush, token, push(`{"mid":1,"ops":[{"tbl":"posts","op":"delete","key":"a"},{"tbl":"posts","op":"delete","key":"b"},{"tbl":"posts","op":"delete","key":"c"}]}`), 413, CodeTooManyOps, "limit is 2"},
		{"body too large", PathPush, token, push(fmt.Sprintf(`{"mid":1,"ops":[{"tbl":"posts","op":"put","key":"k","value":{"a":%q}}]}`, strings.Repeat("x", 5000))), 413, CodeTooLarge, "4096"},
		{"schema mismatch", PathPush, token, `{"v":1,"clientId":"c_1","schemaHash":"old","mutations":[` + put(1, "posts") + `]}`, 412, CodeSchemaMismatch, "upgrade"},
		{"no key", PathPush, "", push(put(1, "posts")), 401, CodeUnauthenticated, "Bearer"},
		{"bad key", PathPush, "whs_live_nope", push(put(1, "posts")), 401, CodeUnauthenticated, "invalid"},
		{"pull not json", PathPull, token, `nope`, 400, CodeMalformed, "JSON object"},
		{"pull no tables", PathPull, token, `{"v":1,"clientId":"c","tables":[],"cursor":null}`, 400, CodeMalformed, "tables"},
		{"pull unknown table", PathPull, token, `{"v":1,"clientId":"c","tables":["posts","nope"],"cursor":null}`, 400, CodeUnknownTable, `"nope"`},
		{"pull bad cursor", PathPull, token, `{"v":1,"clientId":"c","tables":["posts"],"cursor":"garbage"}`, 400, CodeMalformed, "cursor"},
		{"pull negative limit", PathPull, token, `{"v":1,"clientId":"c","tables":["posts"],"cursor":null,"limit":-1}`, 400, CodeMalformed, "limit"},
		{"pull bad key", PathPull, "whs_live_nope", `{"v":1,"clientId":"c","tables":["posts"],"cursor":null}`, 401, CodeUnauthenticated, "invalid"},
	}
	for _, tc := range cases {
		status, raw := post(t, n.url+tc.path, tc.token, []byte(tc.body))
		if status != tc.status {
			t.Errorf("%s: status %d, want %d: %s", tc.name, status, tc.status, raw)
			continue
		}
		e := errorBody(t, raw)
		if e.Error != tc.code || !strings.Contains(e.Message, tc.mentions) {
			t.Errorf("%s: body %s, want code %s mentioning %q", tc.name, raw, tc.code, tc.mentions)
		}
	}
	if c := tableCounts(t, pool); c != [3]int{} {
		t.Fatalf("rejected requests changed the database: rows, clients, acks = %v", c)
	}
	// Wrong method.
	req, _ := http.NewRequest(http.MethodGet, n.url+PathPush, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET push: %d", resp.StatusCode)
	}
	// A valid push still works afterwards.
	status, raw := post(t, n.url+PathPush, token, []byte(push(put(1, "posts"))))
	if status != 200 {
		t.Fatalf("valid push: %d %s", status, raw)
	}
}

// TestPushRateLimit: pushes beyond the per-key rate get 429 with
// Retry-After; another key is not affected.
func TestPushRateLimit(t *testing.T) {
	t.Parallel()
	pool := migratedPool(t)
	auth := newTestAuth()
	clock := newFakeClock()
	cfg := testConfig()
	cfg.Now = clock.Now
	cfg.PushesPerSecond = 1
	cfg.PushBurst = 2
	n := startNode(t, pool, auth, cfg, nil)
	k1 := auth.key("acme", syncauth.ScopeWrite)
	k2 := auth.key("acme", syncauth.ScopeWrite)
	body := `{"v":1,"clientId":"c","mutations":[]}`
	for i := range 2 {
		if status, raw := post(t, n.url+PathPush, k1, []byte(body)); status != 200 {
			t.Fatalf("push %d: %d %s", i, status, raw)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, n.url+PathPush, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+k1)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var e ErrorBody
	_ = json.NewDecoder(resp.Body).Decode(&e)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || e.Error != CodeRateLimited {
		t.Fatalf("third push: %d %+v", resp.StatusCode, e)
	}
	if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 {
		t.Fatalf("Retry-After %q", resp.Header.Get("Retry-After"))
	}
	if status, _ := post(t, n.url+PathPush, k2, []byte(body)); status != 200 {
		t.Fatalf("other key limited: %d", status)
	}
	clock.Advance(1100 * 1e6)
	if status, _ := post(t, n.url+PathPush, k1, []byte(body)); status != 200 {
		t.Fatalf("after a second: %d", status)
	}
}

// TestRowsPerTableLimit: a mutation that would overfill a table is
// rejected and advances last_mid.
func TestRowsPerTableLimit(t *testing.T) {
	t.Parallel()
	pool := migratedPool(t)
	auth := newTestAuth()
	cfg := testConfig()
	cfg.MaxRowsPerTable = 3
	n := startNode(t, pool, auth, cfg, nil)
	d := newDevice(t, n, auth.key("acme", syncauth.ScopeWrite), "c")
	for i := range 3 {
		d.put("posts", fmt.Sprint(i), map[string]any{}, nil)
	}
	d.put("posts", "3", map[string]any{}, nil)
	d.put("posts", "0", map[string]any{"updated": true}, i64(1)) // updates are fine
	resp := d.push()
	if resp.LastMID != 5 || resp.Results[3].Status != StatusRejected || !strings.HasPrefix(resp.Results[3].Error, "table_full") || resp.Results[4].Status != StatusApplied {
		t.Fatalf("push: %+v", resp)
	}
	d.sync()
	requireSame(t, pool, "acme", d)
}

// TestMetricsAndListenerReconnect: the metrics count pushes, mutations by
// status, pulled rows, live connections and push→poke latency; and when the
// LISTEN connection is killed, live clients are poked (notifications may
// have been missed) and later pushes poke them again.
func TestMetricsAndListenerReconnect(t *testing.T) {
	t.Parallel()
	pool := migratedPool(t)
	auth := newTestAuth()
	reg := prometheus.NewRegistry()
	cfg := testConfig()
	cfg.Registerer = reg
	n := startNode(t, pool, auth, cfg, nil)
	// A second node in the same process adopts the registered collectors.
	startNode(t, pool, auth, cfg, nil)
	token := auth.key("acme", syncauth.ScopeWrite)
	live := dialLive(t, n, token, "acme")
	d := newDevice(t, n, token, "c_1")
	d.put("posts", "p1", map[string]any{"a": 1}, nil)
	d.put("posts", "p2", map[string]any{"a": strings.Repeat("x", 300_000)}, nil)
	d.push()
	d.outbox = []Mutation{{MID: 1, Ops: []Op{{Table: "posts", Op: OpDelete, Key: "p1"}}}}
	d.push()
	live.waitPoke(t)
	d.sync()

	if got := metricValue(t, n.srv.metrics.mutations.WithLabelValues(StatusApplied)); got != 1 {
		t.Errorf("applied mutations %v, want 1", got)
	}
	if got := metricValue(t, n.srv.metrics.mutations.WithLabelValues(StatusRejected)); got != 1 {
		t.Errorf("rejected mutations %v, want 1", got)
	}
	if got := metricValue(t, n.srv.metrics.mutations.WithLabelValues(StatusAlready)); got != 1 {
		t.Errorf("already mutations %v, want 1", got)
	}
	if got := metricValue(t, n.srv.metrics.pushes.WithLabelValues("200")); got != 2 {
		t.Errorf("pushes %v, want 2", got)
	}
	if got := metricValue(t, n.srv.metrics.pullRows); got != 1 {
		t.Errorf("pulled rows %v, want 1", got)
	}
	if got := metricValue(t, n.srv.metrics.liveConns); got != 1 {
		t.Errorf("live connections %v, want 1", got)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	observed := uint64(0)
	for _, f := range families {
		if f.GetName() == "webhost_rowsync_push_poke_latency_seconds" {
			observed = f.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	if observed == 0 {
		t.Errorf("push→poke latency histogram has no samples")
	}

	// Kill the LISTEN connection: the node reconnects and pokes everyone.
	var killed bool
	err = pool.QueryRow(context.Background(), `SELECT bool_or(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()`).Scan(&killed)
	if err != nil || !killed {
		t.Fatalf("terminate listener: %v %v", killed, err)
	}
	live.waitPoke(t)
	d.put("posts", "p3", map[string]any{"a": 3}, nil)
	d.push()
	live.waitPoke(t)
}

// metricValue reads a counter or gauge.
func metricValue(t *testing.T, c prometheus.Metric) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}
