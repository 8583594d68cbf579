// Package pgtest gives tests their own fresh PostgreSQL database.
//
// The server comes from WEBHOST_TEST_DATABASE_URL (default
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable). When it is
// unreachable, tests skip with a message naming that variable, unless
// WEBHOST_TEST_STRICT=1 (set by .ci/run), when they fail.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultURL is the server used when WEBHOST_TEST_DATABASE_URL is unset.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// ServerURL returns the admin connection URL of the test server.
func ServerURL() string {
	if u := os.Getenv("WEBHOST_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// MustCreateDatabase creates an empty database, drops it when the test ends,
// and returns its connection URL.
func MustCreateDatabase(tb testing.TB) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, ServerURL())
	if err != nil {
		if os.Getenv("WEBHOST_TEST_STRICT") == "1" {
			tb.Fatalf("pgtest: PostgreSQL required but unreachable at WEBHOST_TEST_DATABASE_URL: %v", err)
		}
		tb.Skipf("pgtest: PostgreSQL unreachable (set WEBHOST_TEST_DATABASE_URL): %v", err)
	}
	defer admin.Close(ctx)

	var suffix [6]byte
	_, _ = rand.Read(suffix[:])
	name := "webhost_test_" + sanitize(tb.Name()) + "_" + hex.EncodeToString(suffix[:])
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		tb.Fatalf("pgtest: create database %s: %v", name, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, ServerURL())
		if err != nil {
			tb.Logf("pgtest: drop database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			tb.Logf("pgtest: drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(ServerURL())
	if err != nil {
		tb.Fatalf("pgtest: parse WEBHOST_TEST_DATABASE_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// MustPool creates a fresh database and returns a pool on it, closed when
// the test ends.
func MustPool(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	dsn := MustCreateDatabase(tb)
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		tb.Fatalf("pgtest: connect %s: %v", dsn, err)
	}
	tb.Cleanup(pool.Close)
	return pool
}

func sanitize(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if b.Len() >= 30 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}
