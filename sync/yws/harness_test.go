package yws_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/webhost-systems/webhost/internal/migrate"
	"github.com/webhost-systems/webhost/internal/pgtest"
	"github.com/webhost-systems/webhost/sync/syncauth"
	"github.com/webhost-systems/webhost/sync/yws"
)

// Test keys: two customers, one writer and one read-only key.
const (
	writerToken  = syncauth.KeyPrefix + "writer-key-for-tests"
	readerToken  = syncauth.KeyPrefix + "reader-key-for-tests"
	otherToken   = syncauth.KeyPrefix + "other-customer-key"
	noScopeToken = syncauth.KeyPrefix + "no-scope-key"
	// otherWriterToken is a second writer of customer a.
	otherWriterToken = syncauth.KeyPrefix + "second-writer-key"
	eventuallyFor    = 20 * time.Second
)

func testAuth(t testing.TB) syncauth.Authenticator {
	kf, err := syncauth.NewKeyFile([]syncauth.FileKey{
		{KeyID: "k-writer", CustomerID: "cust-a", KeySHA256: syncauth.HashKey(writerToken), Scopes: []string{syncauth.ScopeRead, syncauth.ScopeWrite}},
		{KeyID: "k-reader", CustomerID: "cust-a", KeySHA256: syncauth.HashKey(readerToken), Scopes: []string{syncauth.ScopeRead}},
		{KeyID: "k-other", CustomerID: "cust-b", KeySHA256: syncauth.HashKey(otherToken), Scopes: []string{syncauth.ScopeRead, syncauth.ScopeWrite}},
		{KeyID: "k-none", CustomerID: "cust-a", KeySHA256: syncauth.HashKey(noScopeToken), Scopes: []string{}},
		{KeyID: "k-writer2", CustomerID: "cust-a", KeySHA256: syncauth.HashKey(otherWriterToken), Scopes: []string{syncauth.ScopeWrite}},
	})
	if err != nil {
		panic(err) // fixed test keys
	}
	return kf
}

// testDB is a fresh database with the yws schema.
func testDB(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), testDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// testDSN creates a fresh database with the yws schema and returns its URL.
func testDSN(t testing.TB) string {
	t.Helper()
	dsn := pgtest.MustCreateDatabase(t)
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := migrate.Up(context.Background(), pool, nil, yws.Migrations); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return dsn
}

// testNode is one in-process sync server on a loopback port.
type testNode struct {
	srv  *yws.Server
	http *http.Server
	ln   net.Listener
	reg  *prometheus.Registry
	addr string
}

// startNode serves a new yws.Server on addr ("127.0.0.1:0" for any port).
func startNode(t testing.TB, pool *pgxpool.Pool, addr string, tune func(*yws.Config)) *testNode {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg := yws.Config{Pool: pool, Auth: testAuth(t), Codec: yws.YjsCodec{}, Registerer: reg, Logger: slog.New(slog.NewTextHandler(&prefixWriter{t: t, prefix: "server: "}, &slog.HandlerOptions{Level: slog.LevelWarn})),
		IdleTimeout: time.Second, CompactMinAge: time.Nanosecond}
	if tune != nil {
		tune(&cfg)
	}
	srv, err := yws.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("yws.New: %v", err)
	}
	var ln net.Listener
	for attempt := 0; ; attempt++ { // a just-closed port can take a moment to free
		ln, err = net.Listen("tcp", addr)
		if err == nil || attempt == 50 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/sync/", srv)
	n := &testNode{srv: srv, http: &http.Server{Handler: mux}, ln: ln, reg: reg, addr: ln.Addr().String()}
	go func() { _ = n.http.Serve(ln) }()
	t.Cleanup(n.stop)
	return n
}

func (n *testNode) url() string { return "ws://" + n.addr + "/sync" }

func (n *testNode) stop() {
	_ = n.srv.Close()
	_ = n.http.Close()
}

// counter reads a counter or gauge of the node's registry (summing the
// series whose labels include labels).
func (n *testNode) counter(t testing.TB, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := n.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for k, v := range labels {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == k && lp.GetValue() == v {
						found = true
					}
				}
				if !found {
					continue metric
				}
			}
			switch {
			case m.Counter != nil:
				sum += m.GetCounter().GetValue()
			case m.Gauge != nil:
				sum += m.GetGauge().GetValue()
			case m.Histogram != nil:
				sum += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return sum
}

// interopDir holds the Node harness (package.json, client.mjs).
func interopDir(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs("interop")
	if err != nil {
		t.Fatal(err)
	}
	missing := ""
	if _, err := exec.LookPath("node"); err != nil {
		missing = "node is not installed"
	} else if _, err := os.Stat(filepath.Join(dir, "node_modules", "y-websocket")); err != nil {
		missing = "node_modules missing: run `npm ci --prefix sync/yws/interop` (scripts/ci.d/yws.sh)"
	}
	if missing != "" {
		if os.Getenv("WEBHOST_TEST_STRICT") == "1" {
			t.Fatalf("yws interop: %s", missing)
		}
		t.Skipf("yws interop: %s", missing)
	}
	return dir
}

// jsClient is one Node process running a real Y.Doc + WebsocketProvider.
type jsClient struct {
	t      testing.TB
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	mu     sync.Mutex
	nextID int
	wait   map[int]chan reply
	events []map[string]any
	done   chan struct{}
}

type reply struct {
	OK     bool            `json:"ok"`
	Result json.RawMessage `json:"result"`
	Error  string          `json:"error"`
}

func newJSClient(t testing.TB, name string) *jsClient {
	t.Helper()
	dir := interopDir(t)
	cmd := exec.Command("node", filepath.Join(dir, "client.mjs"))
	cmd.Dir = dir
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = &prefixWriter{t: t, prefix: name + " stderr: "}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node: %v", err)
	}
	c := &jsClient{t: t, name: name, cmd: cmd, stdin: stdin, wait: make(map[int]chan reply), done: make(chan struct{})}
	go c.readLoop(stdout)
	t.Cleanup(c.kill)
	return c
}

func (c *jsClient) readLoop(r io.Reader) {
	defer close(c.done)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var msg struct {
			ID    *int   `json:"id"`
			Event string `json:"event"`
			reply
		}
		line := sc.Bytes()
		if err := json.Unmarshal(line, &msg); err != nil {
			continue
		}
		c.mu.Lock()
		if msg.Event != "" {
			var ev map[string]any
			_ = json.Unmarshal(line, &ev)
			c.events = append(c.events, ev)
		} else if msg.ID != nil {
			if ch := c.wait[*msg.ID]; ch != nil {
				ch <- msg.reply
				delete(c.wait, *msg.ID)
			}
		}
		c.mu.Unlock()
	}
}

// call runs op in the client and decodes its result into out (may be nil).
func (c *jsClient) call(op string, args map[string]any, out any) {
	c.t.Helper()
	req := map[string]any{"op": op}
	for k, v := range args {
		req[k] = v
	}
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	req["id"] = id
	ch := make(chan reply, 1)
	c.wait[id] = ch
	c.mu.Unlock()
	line, _ := json.Marshal(req)
	if _, err := c.stdin.Write(append(line, '\n')); err != nil {
		c.t.Fatalf("%s: write %s: %v", c.name, op, err)
	}
	select {
	case r := <-ch:
		if !r.OK {
			c.t.Fatalf("%s: %s failed: %s", c.name, op, r.Error)
		}
		if out != nil {
			if err := json.Unmarshal(r.Result, out); err != nil {
				c.t.Fatalf("%s: %s result %s: %v", c.name, op, r.Result, err)
			}
		}
	case <-c.done:
		c.t.Fatalf("%s: node exited during %s", c.name, op)
	case <-time.After(eventuallyFor):
		c.t.Fatalf("%s: no reply to %s", c.name, op)
	}
}

// open connects the provider to room on node with token.
func (c *jsClient) open(n *testNode, room, token string, awareness any) {
	c.t.Helper()
	args := map[string]any{"url": n.url(), "room": room, "token": token}
	if awareness != nil {
		args["awareness"] = awareness
	}
	c.call("open", args, nil)
}

func (c *jsClient) snapshot() docSnapshot {
	c.t.Helper()
	var s docSnapshot
	c.call("snapshot", nil, &s)
	return s
}

func (c *jsClient) synced() bool {
	c.t.Helper()
	var ok bool
	c.call("synced", nil, &ok)
	return ok
}

func (c *jsClient) awareness() map[string]map[string]any {
	c.t.Helper()
	var out map[string]map[string]any
	c.call("awareness", nil, &out)
	return out
}

// eventsNamed returns the events of one kind received so far.
func (c *jsClient) eventsNamed(name string) []map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []map[string]any
	for _, e := range c.events {
		if e["event"] == name {
			out = append(out, e)
		}
	}
	return out
}

// crash kills the Node process: no goodbye messages, the socket just drops.
func (c *jsClient) crash() {
	_ = c.cmd.Process.Kill()
	<-c.done
}

func (c *jsClient) kill() {
	_ = c.stdin.Close()
	select {
	case <-c.done:
	case <-time.After(3 * time.Second):
		_ = c.cmd.Process.Kill()
	}
	_ = c.cmd.Wait()
}

type docSnapshot struct {
	Text  string         `json:"text"`
	Map   map[string]any `json:"map"`
	Array []any          `json:"array"`
}

// eventually polls cond until it holds, failing with msg after eventuallyFor.
func eventually(t testing.TB, msg string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(eventuallyFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitSynced waits for the provider's first sync.
func waitSynced(t testing.TB, cs ...*jsClient) {
	t.Helper()
	for _, c := range cs {
		eventually(t, c.name+" synced", c.synced)
	}
}

// converge waits until every client shows the same document and returns it.
func converge(t testing.TB, cs ...*jsClient) docSnapshot {
	t.Helper()
	var last []docSnapshot
	deadline := time.Now().Add(eventuallyFor)
	for {
		last = last[:0]
		for _, c := range cs {
			last = append(last, c.snapshot())
		}
		same := true
		for _, s := range last[1:] {
			if !reflect.DeepEqual(s, last[0]) {
				same = false
			}
		}
		if same {
			return last[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("clients did not converge: %+v", last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type prefixWriter struct {
	t      testing.TB
	prefix string
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		if line != "" {
			w.t.Log(w.prefix + line)
		}
	}
	return len(p), nil
}

func roomName(t testing.TB) string {
	return fmt.Sprintf("rooms/%s/doc", strings.ReplaceAll(t.Name(), "/", "-"))
}
