package yws_test

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/webhost-systems/webhost/sync/yws"
)

// Protocol-level tests with a Go WebSocket client: limits, keepalive,
// idle unloading and the LISTEN connection's recovery.

func dialRaw(t *testing.T, n *testNode, room, token string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, n.url()+"/"+room+"?token="+url.QueryEscape(token), nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	ws.SetReadLimit(64 << 20)
	t.Cleanup(func() { _ = ws.CloseNow() })
	return ws
}

// readUntilClose reads frames until the server closes and returns the close
// status and reason.
func readUntilClose(t *testing.T, ws *websocket.Conn) (websocket.StatusCode, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), eventuallyFor)
	defer cancel()
	for {
		_, _, err := ws.Read(ctx)
		if err == nil {
			continue
		}
		var ce websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code, ce.Reason
		}
		t.Fatalf("connection ended without a close frame: %v", err)
	}
}

// readMessage reads the next protocol message.
func readMessage(t *testing.T, ws *websocket.Conn) yws.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), eventuallyFor)
	defer cancel()
	_, data, err := ws.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	msgs, err := yws.DecodeMessages(data)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("decode %x: %v", data, err)
	}
	return msgs[0]
}

func write(t *testing.T, ws *websocket.Conn, frame []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ws.Write(ctx, websocket.MessageBinary, frame); err != nil {
		t.Fatalf("write: %v", err)
	}
}

func TestServerGreetsWithSyncStep1AndAnswersStep1(t *testing.T) {
	node := startNode(t, testDB(t), "127.0.0.1:0", nil)
	ws := dialRaw(t, node, "greet", writerToken)
	if m := readMessage(t, ws); m.Type != yws.MessageSync || m.SyncType != yws.SyncStep1 {
		t.Fatalf("first message %+v, want SyncStep1", m)
	}
	write(t, ws, yws.EncodeSync(yws.SyncStep1, []byte{0}))
	if m := readMessage(t, ws); m.Type != yws.MessageSync || m.SyncType != yws.SyncStep2 {
		t.Fatalf("reply %+v, want SyncStep2", m)
	}
	write(t, ws, yws.EncodeQueryAwareness())
	if m := readMessage(t, ws); m.Type != yws.MessageAwareness {
		t.Fatalf("reply %+v, want awareness", m)
	}
}

func TestLimitsCloseWithReason(t *testing.T) {
	pool := testDB(t)
	node := startNode(t, pool, "127.0.0.1:0", func(c *yws.Config) {
		c.MaxMessageBytes = 1024
		c.MessagesPerSecond = 1
		c.MessageBurst = 3
		c.MaxConnsPerDocument = 2
	})
	t.Run("message too big", func(t *testing.T) {
		ws := dialRaw(t, node, "big", writerToken)
		readMessage(t, ws)
		write(t, ws, yws.EncodeSync(yws.SyncUpdate, make([]byte, 2048)))
		code, reason := readUntilClose(t, ws)
		if code != websocket.StatusMessageTooBig || reason == "" {
			t.Fatalf("closed %d %q, want 1009 with a reason", code, reason)
		}
	})
	t.Run("update rate", func(t *testing.T) {
		ws := dialRaw(t, node, "rate", writerToken)
		readMessage(t, ws)
		for range 10 {
			write(t, ws, yws.EncodeQueryAwareness())
		}
		code, reason := readUntilClose(t, ws)
		if code != websocket.StatusPolicyViolation || reason != "message rate limit exceeded" {
			t.Fatalf("closed %d %q", code, reason)
		}
	})
	t.Run("connections per document", func(t *testing.T) {
		a := dialRaw(t, node, "crowded", writerToken)
		readMessage(t, a)
		b := dialRaw(t, node, "crowded", readerToken)
		readMessage(t, b)
		c := dialRaw(t, node, "crowded", writerToken)
		code, reason := readUntilClose(t, c)
		if code != websocket.StatusTryAgainLater || reason != "too many connections to this document" {
			t.Fatalf("closed %d %q", code, reason)
		}
		// Another customer's document of the same name has its own count.
		o := dialRaw(t, node, "crowded", otherToken)
		if m := readMessage(t, o); m.SyncType != yws.SyncStep1 {
			t.Fatalf("other customer got %+v", m)
		}
	})
	t.Run("malformed message", func(t *testing.T) {
		ws := dialRaw(t, node, "garbage", writerToken)
		readMessage(t, ws)
		write(t, ws, []byte{42})
		if code, _ := readUntilClose(t, ws); code != websocket.StatusInvalidFramePayloadData {
			t.Fatalf("closed %d, want 1007", code)
		}
	})
	t.Run("invalid Yjs update", func(t *testing.T) {
		ws := dialRaw(t, node, "garbage", writerToken)
		readMessage(t, ws)
		write(t, ws, yws.EncodeSync(yws.SyncUpdate, []byte{5, 1, 2}))
		code, reason := readUntilClose(t, ws)
		if code != websocket.StatusInvalidFramePayloadData || reason != "invalid Yjs update" {
			t.Fatalf("closed %d %q", code, reason)
		}
		var rows int
		if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM yws_updates`).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if rows != 0 {
			t.Fatalf("%d rows persisted, want none", rows)
		}
	})
	t.Run("corrupt delete set", func(t *testing.T) {
		// No structs, then a delete set cut short: it has a state vector,
		// but storing it would break every later merge of the document.
		ws := dialRaw(t, node, "garbage-ds", writerToken)
		readMessage(t, ws)
		write(t, ws, yws.EncodeSync(yws.SyncUpdate, []byte{0, 1, 1, 5}))
		code, reason := readUntilClose(t, ws)
		if code != websocket.StatusInvalidFramePayloadData || reason != "invalid Yjs update" {
			t.Fatalf("closed %d %q", code, reason)
		}
		var rows int
		if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM yws_updates`).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if rows != 0 {
			t.Fatalf("%d rows persisted, want none", rows)
		}
	})
	t.Run("empty document name", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ws, _, err := websocket.Dial(ctx, node.url()+"/?token="+writerToken, nil)
		if err != nil {
			t.Fatal(err)
		}
		if code, _ := readUntilClose(t, ws); code != yws.CloseBadRequest {
			t.Fatalf("closed %d, want 4400", code)
		}
	})
}

func TestKeepaliveClosesSilentClient(t *testing.T) {
	node := startNode(t, testDB(t), "127.0.0.1:0", func(c *yws.Config) {
		c.PingInterval = 50 * time.Millisecond
		c.PongTimeout = 100 * time.Millisecond
	})
	// A client that never reads never answers pings.
	ws := dialRaw(t, node, "silent", writerToken)
	eventually(t, "pong timeout close", func() bool {
		return node.counter(t, "webhost_yws_closes_total", map[string]string{"reason": "pong_timeout"}) >= 1
	})
	_ = ws.CloseNow()
	// A client that reads answers pings and stays.
	live := dialRaw(t, node, "live", writerToken)
	readCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		for {
			if _, _, err := live.Read(readCtx); err != nil {
				done <- err
				return
			}
		}
	}()
	time.Sleep(500 * time.Millisecond) // ten ping intervals
	select {
	case err := <-done:
		t.Fatalf("reading client was closed: %v", err)
	default:
	}
	if n := node.counter(t, "webhost_yws_closes_total", map[string]string{"reason": "pong_timeout"}); n != 1 {
		t.Fatalf("%v pong timeouts, want only the silent client's", n)
	}
}

func TestIdleDocumentsUnload(t *testing.T) {
	node := startNode(t, testDB(t), "127.0.0.1:0", func(c *yws.Config) {
		c.IdleTimeout = 100 * time.Millisecond
		c.IdleCheckInterval = 20 * time.Millisecond
	})
	ws := dialRaw(t, node, "idle", writerToken)
	readMessage(t, ws)
	if n := node.srv.LoadedDocuments(); n != 1 {
		t.Fatalf("%d documents loaded, want 1", n)
	}
	time.Sleep(300 * time.Millisecond)
	if n := node.srv.LoadedDocuments(); n != 1 {
		t.Fatalf("document with a connection unloaded (%d loaded)", n)
	}
	_ = ws.Close(websocket.StatusNormalClosure, "")
	eventually(t, "document unloaded", func() bool { return node.srv.LoadedDocuments() == 0 })
	// It loads again on the next connection.
	ws2 := dialRaw(t, node, "idle", writerToken)
	readMessage(t, ws2)
	if n := node.srv.LoadedDocuments(); n != 1 {
		t.Fatalf("%d documents loaded after reconnect, want 1", n)
	}
}

func TestCrossNodeSurvivesListenConnectionLoss(t *testing.T) {
	pool := testDB(t)
	node1 := startNode(t, pool, "127.0.0.1:0", nil)
	node2 := startNode(t, pool, "127.0.0.1:0", func(c *yws.Config) { c.ListenRetry = 50 * time.Millisecond })
	room := roomName(t)
	a, b := newJSClient(t, "a@node1"), newJSClient(t, "b@node2")
	a.open(node1, room, writerToken, nil)
	b.open(node2, room, writerToken, nil)
	waitSynced(t, a, b)
	a.call("insertText", map[string]any{"index": 0, "text": "before "}, nil)
	converge(t, a, b)

	// Kill every LISTEN session: both nodes reconnect and resync.
	if _, err := pool.Exec(context.Background(),
		`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN%' AND pid <> pg_backend_pid()`); err != nil {
		t.Fatal(err)
	}
	a.call("insertText", map[string]any{"index": 7, "text": "after"}, nil)
	got := converge(t, a, b)
	if got.Text != "before after" {
		t.Fatalf("converged to %q", got.Text)
	}
	eventually(t, "node 2 resynced after reconnecting", func() bool {
		return node2.counter(t, "webhost_yws_resyncs_total", nil) >= 1
	})
}
