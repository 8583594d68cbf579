package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/webhost-systems/webhost/internal/pgtest"
	"github.com/webhost-systems/webhost/sync/syncauth"
	"github.com/webhost-systems/webhost/sync/yws"
)

func TestSyncCORS(t *testing.T) {
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	for _, tc := range []struct {
		name, method, origin, preflight string
		origins                         []string
		wantStatus                      int
		wantAllow                       string
	}{
		{"any origin, request", http.MethodPost, "https://app.example", "", []string{"*"}, http.StatusTeapot, "*"},
		{"any origin, preflight", http.MethodOptions, "https://app.example", "POST", []string{"*"}, http.StatusNoContent, "*"},
		{"listed origin", http.MethodPost, "https://app.example", "", []string{"https://app.example"}, http.StatusTeapot, "https://app.example"},
		{"unlisted origin", http.MethodOptions, "https://evil.example", "POST", []string{"https://app.example"}, http.StatusTeapot, ""},
		{"no origin", http.MethodGet, "", "", []string{"*"}, http.StatusTeapot, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "/v1/sync/push", nil)
			if tc.origin != "" {
				r.Header.Set("Origin", tc.origin)
			}
			if tc.preflight != "" {
				r.Header.Set("Access-Control-Request-Method", tc.preflight)
			}
			w := httptest.NewRecorder()
			withCORS(tc.origins, next).ServeHTTP(w, r)
			if w.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d", w.Code, tc.wantStatus)
			}
			if got := w.Header().Get("Access-Control-Allow-Origin"); got != tc.wantAllow {
				t.Fatalf("Allow-Origin %q, want %q", got, tc.wantAllow)
			}
			if tc.wantStatus == http.StatusNoContent && w.Header().Get("Access-Control-Allow-Headers") == "" {
				t.Fatal("preflight without Allow-Headers")
			}
		})
	}
}

func TestSyncMainServes(t *testing.T) {
	dsn := pgtest.MustCreateDatabase(t)
	keys := filepath.Join(t.TempDir(), "keys.json")
	if err := os.WriteFile(keys, []byte(`[{"key_id":"k","customer_id":"c","key_sha256":"`+
		syncauth.HashKey(syncauth.KeyPrefix+"e2e")+`","scopes":["read","write"]}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	m := &SyncMain{Logger: slog.New(slog.DiscardHandler)}
	if err := m.ParseFlags([]string{"--addr", "127.0.0.1:0", "--database-url", dsn, "--keys-file", keys}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := m.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	base := "http://" + m.listener.Addr().String()

	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := get("/healthz"); code != http.StatusOK || !strings.Contains(body, `"status":"ok"`) {
		t.Fatalf("healthz %d %s", code, body)
	}
	if code, body := get("/metrics"); code != http.StatusOK || !strings.Contains(body, "webhost_yws_connections") {
		t.Fatalf("metrics %d without webhost_yws_connections", code)
	}
	// A Yjs client with a key-file key gets the server's SyncStep1; one
	// with a control-plane key too, once the key table exists.
	handshake := func(token string) error {
		t.Helper()
		ws, _, err := websocket.Dial(ctx, m.URL()+"/notes/1?token="+token, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.CloseNow()
		_, frame, err := ws.Read(ctx)
		if err != nil {
			return err
		}
		if msgs, err := yws.DecodeMessages(frame); err != nil || msgs[0].SyncType != yws.SyncStep1 {
			t.Fatalf("first frame %x: %v", frame, err)
		}
		return nil
	}
	if err := handshake(syncauth.KeyPrefix + "e2e"); err != nil {
		t.Fatalf("key-file key: %v", err)
	}
	controlPlaneKey := syncauth.KeyPrefix + "from-signup"
	if err := handshake(controlPlaneKey); websocket.CloseStatus(err) != yws.CloseUnauthorized {
		t.Fatalf("unknown key before the key table exists: %v, want 4401", err)
	}
	if _, err := m.pool.Exec(ctx, `CREATE SCHEMA auth;
CREATE TABLE auth.api_keys (key_id text, customer_id text, key_sha256 text, scopes text[], revoked boolean NOT NULL DEFAULT false);
CREATE TABLE auth.customers (customer_id text, status text)`); err != nil {
		t.Fatal(err)
	}
	if _, err := m.pool.Exec(ctx, `INSERT INTO auth.api_keys VALUES ('k2', 'c2', $1, '{read,write}')`, syncauth.HashKey(controlPlaneKey)); err != nil {
		t.Fatal(err)
	}
	if err := handshake(controlPlaneKey); err != nil {
		t.Fatalf("control-plane key: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
}
