package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/webhost-systems/webhost/internal/pgtest"
)

func TestVersionAndUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"version"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "webhost ") {
		t.Fatalf("version printed %q", out.String())
	}
	if err := run(context.Background(), []string{"nope"}, &out, &errOut); err == nil || !strings.Contains(errOut.String(), "usage: webhost") {
		t.Fatalf("unknown command: err %v, stderr %q", err, errOut.String())
	}
}

func TestMigrateCreatesDatabaseAndIsIdempotent(t *testing.T) {
	dsn := pgtest.MustCreateDatabase(t)
	// A database that does not exist yet is created, as on a fresh machine.
	fresh := strings.Replace(dsn, "webhost_test_", "webhost_test_new_", 1)
	t.Cleanup(func() { dropDatabase(t, fresh) })
	for i := 0; i < 2; i++ {
		var out bytes.Buffer
		if err := run(context.Background(), []string{"migrate", "--database-url", fresh}, &out, io.Discard); err != nil {
			t.Fatalf("migrate run %d: %v", i+1, err)
		}
		if !strings.Contains(out.String(), "migrations up to date") {
			t.Fatalf("migrate printed %q", out.String())
		}
	}
}

func dropDatabase(t *testing.T, dsn string) {
	t.Helper()
	ctx := context.Background()
	pool, err := openDatabase(ctx, pgtest.ServerURL(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Log(err)
		return
	}
	defer pool.Close()
	name := dsn[strings.LastIndex(dsn, "/")+1:]
	if i := strings.Index(name, "?"); i >= 0 {
		name = name[:i]
	}
	if _, err := pool.Exec(ctx, `DROP DATABASE IF EXISTS "`+name+`" WITH (FORCE)`); err != nil {
		t.Log(err)
	}
}

func TestServeHealthz(t *testing.T) {
	m := &ServeMain{Addr: "127.0.0.1:0", DatabaseURL: pgtest.MustCreateDatabase(t), Logger: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := m.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(m.URL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"status":"ok"`) {
		t.Fatalf("healthz: %d %s", resp.StatusCode, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}
