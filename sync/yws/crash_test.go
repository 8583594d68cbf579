package yws_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/webhost-systems/webhost/sync/yws"
)

// childServerEnv makes the test binary serve yws instead of running tests:
// the crash test runs the server in a child process it can SIGKILL.
const childServerEnv = "YWS_TEST_CHILD_SERVER"

func TestMain(m *testing.M) {
	if spec := os.Getenv(childServerEnv); spec != "" {
		os.Exit(runChildServer(spec))
	}
	os.Exit(m.Run())
}

// runChildServer serves yws on addr for the database dsn ("dsn addr") until
// killed, printing "ready" once it listens.
func runChildServer(spec string) int {
	dsn, addr, _ := strings.Cut(spec, " ")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer pool.Close()
	srv, err := yws.New(ctx, yws.Config{Pool: pool, Auth: testAuth(nil), Codec: yws.YjsCodec{}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var ln net.Listener
	for attempt := 0; ; attempt++ {
		if ln, err = net.Listen("tcp", addr); err == nil || attempt == 50 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	mux := http.NewServeMux()
	mux.Handle("/sync/", srv)
	go func() { _ = http.Serve(ln, mux) }()
	fmt.Println("ready")
	<-ctx.Done()
	return 0
}

// startChild runs the server in a child process and waits until it listens.
func startChild(t *testing.T, dsn, addr string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childServerEnv+"="+dsn+" "+addr)
	cmd.Stderr = &prefixWriter{t: t, prefix: "child: "}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		ok := sc.Scan() && sc.Text() == "ready"
		ready <- ok
		for sc.Scan() {
		}
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatal("child server failed to start")
		}
	case <-time.After(eventuallyFor):
		t.Fatal("child server did not start")
	}
	return cmd
}

// A server killed with SIGKILL while clients edit loses nothing: what a
// client received was committed first, and what the server never committed
// is still in its sender's document, which resyncs on reconnect.
func TestInteropServerCrashLosesNoUpdate(t *testing.T) {
	dsn := testDSN(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	child := startChild(t, dsn, addr)
	node := &testNode{addr: addr}
	room := roomName(t)
	a, b := newJSClient(t, "a"), newJSClient(t, "b")
	a.open(node, room, writerToken, nil)
	b.open(node, room, writerToken, nil)
	waitSynced(t, a, b)
	for i := range 30 {
		a.call("arrayPush", map[string]any{"values": []any{fmt.Sprintf("a%d", i)}}, nil)
		b.call("arrayPush", map[string]any{"values": []any{fmt.Sprintf("b%d", i)}}, nil)
		if i == 15 {
			_ = child.Process.Kill() // mid-stream: some of these were in flight
			_ = child.Wait()
		}
	}
	startChild(t, dsn, addr)
	got := converge(t, a, b)
	if len(got.Array) != 60 {
		t.Fatalf("after the crash %d items, want 60", len(got.Array))
	}
	// Everything is in PostgreSQL: a new client on a fresh process sees it.
	c := newJSClient(t, "c")
	c.open(node, room, readerToken, nil)
	waitSynced(t, c)
	if n := len(c.snapshot().Array); n != 60 {
		t.Fatalf("reloaded document has %d items, want 60", n)
	}
}
