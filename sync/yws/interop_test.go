package yws_test

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/webhost-systems/webhost/sync/syncauth"
	"github.com/webhost-systems/webhost/sync/yws"
)

// Interop tests: the real npm yjs + y-websocket WebsocketProvider (Node,
// `ws` polyfill, disableBc) against the server.

func TestInteropTwoClientsConverge(t *testing.T) {
	node := startNode(t, testDB(t), "127.0.0.1:0", nil)
	room := roomName(t)
	a, b := newJSClient(t, "a"), newJSClient(t, "b")
	a.open(node, room, writerToken, nil)
	b.open(node, room, writerToken, nil)
	waitSynced(t, a, b)

	a.call("insertText", map[string]any{"index": 0, "text": "Hello 😀 world"}, nil)
	b.call("mapSet", map[string]any{"key": "title", "value": "from b"}, nil)
	a.call("arrayPush", map[string]any{"values": []any{1, "two", map[string]any{"three": 3}}}, nil)
	b.call("arrayPush", map[string]any{"values": []any{"b1"}}, nil)
	got := converge(t, a, b)
	if len(got.Array) != 4 || got.Map["title"] != "from b" {
		t.Fatalf("converged to unexpected state %+v", got)
	}
	// Concurrent edits of the same text and key.
	a.call("insertText", map[string]any{"index": 0, "text": "A:"}, nil)
	b.call("insertText", map[string]any{"index": 5, "text": "[b]"}, nil)
	b.call("deleteText", map[string]any{"index": 0, "length": 1}, nil)
	a.call("mapSet", map[string]any{"key": "title", "value": "from a"}, nil)
	a.call("arrayDelete", map[string]any{"index": 0, "length": 1}, nil)
	got = converge(t, a, b)
	if len(got.Array) != 3 {
		t.Fatalf("array after delete: %+v", got.Array)
	}

	// A third client joining later gets everything from the server.
	c := newJSClient(t, "c")
	c.open(node, room, writerToken, nil)
	waitSynced(t, c)
	if late := converge(t, a, c); !reflect.DeepEqual(late, got) {
		t.Fatalf("late joiner: %+v, want %+v", late, got)
	}
	if n := node.counter(t, "webhost_yws_updates_total", map[string]string{"source": "local"}); n < 5 {
		t.Fatalf("updates_total = %v, want at least 5", n)
	}
}

func TestInteropOfflineEditsConverge(t *testing.T) {
	node := startNode(t, testDB(t), "127.0.0.1:0", nil)
	room := roomName(t)
	a, b := newJSClient(t, "a"), newJSClient(t, "b")
	a.open(node, room, writerToken, nil)
	b.open(node, room, writerToken, nil)
	waitSynced(t, a, b)
	a.call("insertText", map[string]any{"index": 0, "text": "shared "}, nil)
	converge(t, a, b)

	b.call("disconnect", nil, nil)
	b.call("insertText", map[string]any{"index": 7, "text": "offline-b "}, nil)
	b.call("mapSet", map[string]any{"key": "offline", "value": true}, nil)
	a.call("insertText", map[string]any{"index": 0, "text": "online-a "}, nil)
	eventually(t, "a has its own edit", func() bool { return a.snapshot().Text == "online-a shared " })
	if s := b.snapshot(); s.Text != "shared offline-b " {
		t.Fatalf("offline client saw %q", s.Text)
	}
	b.call("connect", nil, nil)
	got := converge(t, a, b)
	if got.Text != "online-a shared offline-b " || got.Map["offline"] != true {
		t.Fatalf("after reconnect: %+v", got)
	}
}

func TestInteropServerRestartLosesNoUpdate(t *testing.T) {
	pool := testDB(t)
	node := startNode(t, pool, "127.0.0.1:0", nil)
	addr := node.addr
	room := roomName(t)
	a, b := newJSClient(t, "a"), newJSClient(t, "b")
	a.open(node, room, writerToken, nil)
	b.open(node, room, writerToken, nil)
	waitSynced(t, a, b)
	for i := range 20 {
		a.call("arrayPush", map[string]any{"values": []any{fmt.Sprintf("a%d", i)}}, nil)
		b.call("arrayPush", map[string]any{"values": []any{fmt.Sprintf("b%d", i)}}, nil)
	}
	before := converge(t, a, b)

	node.stop() // closes every connection with 1012; clients keep retrying
	for i := range 5 {
		a.call("arrayPush", map[string]any{"values": []any{fmt.Sprintf("down%d", i)}}, nil)
	}
	restarted := startNode(t, pool, addr, nil)
	got := converge(t, a, b)
	if len(got.Array) != len(before.Array)+5 {
		t.Fatalf("after restart %d items, want %d", len(got.Array), len(before.Array)+5)
	}
	// A fresh client reads the document from PostgreSQL alone.
	restarted.stop()
	fresh := startNode(t, pool, "127.0.0.1:0", nil)
	c := newJSClient(t, "c")
	c.open(fresh, room, writerToken, nil)
	waitSynced(t, c)
	if s := c.snapshot(); !reflect.DeepEqual(s, got) {
		t.Fatalf("reloaded document %+v, want %+v", s, got)
	}
}

func TestInteropTwoNodesConverge(t *testing.T) {
	pool := testDB(t)
	node1 := startNode(t, pool, "127.0.0.1:0", nil)
	node2 := startNode(t, pool, "127.0.0.1:0", nil)
	room := roomName(t)
	a, b := newJSClient(t, "a@node1"), newJSClient(t, "b@node2")
	a.open(node1, room, writerToken, map[string]any{"user": "alice"})
	b.open(node2, room, writerToken, map[string]any{"user": "bob"})
	waitSynced(t, a, b)
	a.call("insertText", map[string]any{"index": 0, "text": "from node 1. "}, nil)
	b.call("mapSet", map[string]any{"key": "n2", "value": "from node 2"}, nil)
	for i := range 10 {
		a.call("arrayPush", map[string]any{"values": []any{i}}, nil)
		b.call("arrayPush", map[string]any{"values": []any{100 + i}}, nil)
	}
	got := converge(t, a, b)
	if got.Text != "from node 1. " || got.Map["n2"] != "from node 2" || len(got.Array) != 20 {
		t.Fatalf("converged to %+v", got)
	}
	if n := node2.counter(t, "webhost_yws_updates_total", map[string]string{"source": "remote"}); n < 11 {
		t.Fatalf("node 2 applied %v remote updates, want at least 11", n)
	}
	if n := node1.counter(t, "webhost_yws_updates_total", map[string]string{"source": "remote"}); n < 11 {
		t.Fatalf("node 1 applied %v remote updates, want at least 11", n)
	}
	// Awareness crosses nodes too, and so does its removal on close.
	eventually(t, "alice sees bob across nodes", func() bool { return hasUser(a.awareness(), "bob") })
	eventually(t, "bob sees alice across nodes", func() bool { return hasUser(b.awareness(), "alice") })
	b.crash() // no goodbye from the client: node 2's removal crosses over
	eventually(t, "bob disappears from alice across nodes", func() bool { return !hasUser(a.awareness(), "bob") })
}

func TestInteropAwarenessAppearsAndDisappears(t *testing.T) {
	node := startNode(t, testDB(t), "127.0.0.1:0", nil)
	room := roomName(t)
	a, b := newJSClient(t, "a"), newJSClient(t, "b")
	a.open(node, room, writerToken, map[string]any{"user": "alice"})
	waitSynced(t, a)
	b.open(node, room, readerToken, map[string]any{"user": "bob"})
	waitSynced(t, b)
	eventually(t, "a sees bob", func() bool { return hasUser(a.awareness(), "bob") })
	eventually(t, "b sees alice (sent on connect)", func() bool { return hasUser(b.awareness(), "alice") })

	b.call("setAwareness", map[string]any{"state": map[string]any{"user": "bob", "cursor": 3}}, nil)
	eventually(t, "a sees bob's cursor", func() bool {
		for _, st := range a.awareness() {
			if st["cursor"] == float64(3) {
				return true
			}
		}
		return false
	})
	// Killing the process skips the client's own goodbye: the server's
	// removal on close is what tells a.
	b.crash()
	eventually(t, "bob disappears from a", func() bool { return !hasUser(a.awareness(), "bob") })
}

func hasUser(states map[string]map[string]any, user string) bool {
	for _, st := range states {
		if st["user"] == user {
			return true
		}
	}
	return false
}

func TestInteropBadTokenStopsReconnecting(t *testing.T) {
	node := startNode(t, testDB(t), "127.0.0.1:0", nil)
	room := roomName(t)
	for _, tc := range []struct {
		name, token string
		code        float64
		metric      string
	}{
		{"unknown key", syncauth.KeyPrefix + "not-a-key", 4401, "unauthenticated"},
		{"malformed key", "garbage", 4401, "unauthenticated"},
		{"key without scope", noScopeToken, 4403, "forbidden"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newJSClient(t, "bad")
			before := node.counter(t, "webhost_yws_connects_total", map[string]string{"result": tc.metric})
			c.open(node, room, tc.token, nil)
			eventually(t, "closed event", func() bool { return len(c.eventsNamed("closed")) == 1 })
			ev := c.eventsNamed("closed")[0]
			if ev["code"] != tc.code {
				t.Fatalf("closed with %v (%v), want %v", ev["code"], ev["reason"], tc.code)
			}
			// The client's backoff would retry within 500 ms; give it three
			// times that, then check nobody came back.
			time.Sleep(1500 * time.Millisecond)
			if n := len(c.eventsNamed("connection-close")); n != 1 {
				t.Fatalf("%d connection attempts, want 1", n)
			}
			if got := node.counter(t, "webhost_yws_connects_total", map[string]string{"result": tc.metric}) - before; got != 1 {
				t.Fatalf("server saw %v rejected attempts, want 1", got)
			}
		})
	}
}

func TestInteropReadOnlyKeyWritesDropped(t *testing.T) {
	node := startNode(t, testDB(t), "127.0.0.1:0", nil)
	room := roomName(t)
	w, r := newJSClient(t, "writer"), newJSClient(t, "reader")
	w.open(node, room, writerToken, nil)
	r.open(node, room, readerToken, nil)
	waitSynced(t, w, r)
	r.call("insertText", map[string]any{"index": 0, "text": "not allowed"}, nil)
	w.call("insertText", map[string]any{"index": 0, "text": "allowed"}, nil)
	eventually(t, "reader receives writer's edit", func() bool {
		return len(r.snapshot().Text) == len("allowed")+len("not allowed")
	})
	eventually(t, "server dropped the reader's update", func() bool {
		return node.counter(t, "webhost_yws_readonly_writes_dropped_total", nil) >= 1
	})
	if s := w.snapshot().Text; s != "allowed" {
		t.Fatalf("writer sees %q; the read-only edit leaked", s)
	}
	// Another customer's document of the same name is a different document.
	o := newJSClient(t, "other-customer")
	o.open(node, room, otherToken, nil)
	waitSynced(t, o)
	if s := o.snapshot().Text; s != "" {
		t.Fatalf("customer b sees customer a's text %q", s)
	}
}

func TestInteropCompactionKeepsDocument(t *testing.T) {
	pool := testDB(t)
	node := startNode(t, pool, "127.0.0.1:0", func(c *yws.Config) { c.CompactRows = 10 })
	room := roomName(t)
	a := newJSClient(t, "a")
	a.open(node, room, writerToken, nil)
	waitSynced(t, a)
	for i := range 40 {
		a.call("arrayPush", map[string]any{"values": []any{i}}, nil)
	}
	eventually(t, "all 40 persisted", func() bool {
		return node.counter(t, "webhost_yws_updates_total", map[string]string{"source": "local"}) >= 40
	})
	eventually(t, "a compaction ran", func() bool {
		return node.counter(t, "webhost_yws_compactions_total", map[string]string{"result": "ok"}) >= 1
	})
	var snapRows, logRows int
	if err := pool.QueryRow(context.Background(), `SELECT (SELECT snapshot_rows FROM yws_documents), (SELECT count(*) FROM yws_updates)`).Scan(&snapRows, &logRows); err != nil {
		t.Fatal(err)
	}
	if snapRows == 0 || snapRows+logRows < 40 {
		t.Fatalf("snapshot holds %d rows and the log %d; want a snapshot and 40 in all", snapRows, logRows)
	}
	want := a.snapshot()
	fresh := startNode(t, pool, "127.0.0.1:0", nil)
	b := newJSClient(t, "b")
	b.open(fresh, room, readerToken, nil)
	waitSynced(t, b)
	if got := b.snapshot(); !reflect.DeepEqual(got, want) {
		t.Fatalf("after compaction a fresh node serves %+v, want %+v", got, want)
	}
}

// revocableAuth wraps the test keys with revocation and scope changes, as
// the control plane's key table will do.
type revocableAuth struct {
	inner    syncauth.Authenticator
	mu       sync.Mutex
	revoked  map[string]bool
	readOnly map[string]bool
}

func (a *revocableAuth) Authenticate(ctx context.Context, token string) (syncauth.Principal, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.revoked[token] {
		return syncauth.Principal{}, syncauth.ErrUnauthenticated
	}
	p, err := a.inner.Authenticate(ctx, token)
	if err == nil && a.readOnly[token] {
		p.Scopes = []string{syncauth.ScopeRead}
	}
	return p, err
}

func TestInteropRevokedKeyIsDisconnected(t *testing.T) {
	auth := &revocableAuth{inner: testAuth(t), revoked: map[string]bool{}, readOnly: map[string]bool{}}
	node := startNode(t, testDB(t), "127.0.0.1:0", func(c *yws.Config) {
		c.Auth = auth
		c.ReauthInterval = 50 * time.Millisecond
	})
	room := roomName(t)
	a, b := newJSClient(t, "a"), newJSClient(t, "b")
	a.open(node, room, writerToken, nil)
	b.open(node, room, otherWriterToken, nil)
	waitSynced(t, a, b)
	b.call("insertText", map[string]any{"index": 0, "text": "b1 "}, nil)
	eventually(t, "a sees b1", func() bool { return a.snapshot().Text == "b1 " })

	// b's key loses its write scope: its edits stop reaching anyone.
	auth.mu.Lock()
	auth.readOnly[otherWriterToken] = true
	auth.mu.Unlock()
	time.Sleep(200 * time.Millisecond) // four re-authentication rounds
	b.call("insertText", map[string]any{"index": 3, "text": "b2"}, nil)
	eventually(t, "b2 dropped", func() bool {
		return node.counter(t, "webhost_yws_readonly_writes_dropped_total", nil) >= 1
	})
	if s := a.snapshot().Text; s != "b1 " {
		t.Fatalf("a sees %q after b became read-only", s)
	}

	// a's key is revoked: 4401, and the client stops reconnecting.
	auth.mu.Lock()
	auth.revoked[writerToken] = true
	auth.mu.Unlock()
	eventually(t, "a closed", func() bool { return len(a.eventsNamed("closed")) == 1 })
	if ev := a.eventsNamed("closed")[0]; ev["code"] != float64(4401) {
		t.Fatalf("a closed with %v %v, want 4401", ev["code"], ev["reason"])
	}
	time.Sleep(1500 * time.Millisecond)
	if n := len(a.eventsNamed("connection-close")); n != 1 {
		t.Fatalf("a saw %d closes, want 1 (no reconnect)", n)
	}
}

// Two nodes compact the same document while both append to it: the row
// lock serialises them, each deletes only the rows it merged, and nothing
// is lost.
func TestInteropConcurrentCompactionOnTwoNodes(t *testing.T) {
	pool := testDB(t)
	tune := func(c *yws.Config) { c.CompactRows = 5 }
	node1 := startNode(t, pool, "127.0.0.1:0", tune)
	node2 := startNode(t, pool, "127.0.0.1:0", tune)
	room := roomName(t)
	a, b := newJSClient(t, "a@node1"), newJSClient(t, "b@node2")
	a.open(node1, room, writerToken, nil)
	b.open(node2, room, writerToken, nil)
	waitSynced(t, a, b)
	for i := range 40 {
		a.call("arrayPush", map[string]any{"values": []any{fmt.Sprintf("a%d", i)}}, nil)
		b.call("arrayPush", map[string]any{"values": []any{fmt.Sprintf("b%d", i)}}, nil)
		if i%10 == 9 {
			time.Sleep(100 * time.Millisecond) // let compactions run in between
		}
	}
	got := converge(t, a, b)
	if len(got.Array) != 80 {
		t.Fatalf("%d items, want 80", len(got.Array))
	}
	eventually(t, "both nodes ran compactions, and some merged rows", func() bool {
		merged := node1.counter(t, "webhost_yws_compactions_total", map[string]string{"result": "ok"}) +
			node2.counter(t, "webhost_yws_compactions_total", map[string]string{"result": "ok"})
		return merged >= 1 &&
			node1.counter(t, "webhost_yws_compactions_total", nil) >= 1 &&
			node2.counter(t, "webhost_yws_compactions_total", nil) >= 1
	})
	for i, n := range []*testNode{node1, node2} {
		if errs := n.counter(t, "webhost_yws_compactions_total", map[string]string{"result": "error"}); errs != 0 {
			t.Fatalf("node %d: %v failed compactions", i+1, errs)
		}
	}
	fresh := startNode(t, pool, "127.0.0.1:0", nil)
	c := newJSClient(t, "c")
	c.open(fresh, room, readerToken, nil)
	waitSynced(t, c)
	if s := c.snapshot(); !reflect.DeepEqual(s, got) {
		t.Fatalf("fresh node serves %d items, want %d", len(s.Array), len(got.Array))
	}
}
