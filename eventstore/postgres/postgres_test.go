package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/webhost-systems/webhost/eventstore"
	"github.com/webhost-systems/webhost/eventstore/eventstoretest"
	"github.com/webhost-systems/webhost/eventstore/postgres"
	"github.com/webhost-systems/webhost/internal/migrate"
	"github.com/webhost-systems/webhost/internal/pgtest"
)

// MustStore returns a store on a fresh, migrated database.
func MustStore(tb testing.TB) (*postgres.Store, *pgxpool.Pool) {
	tb.Helper()
	pool := pgtest.MustPool(tb)
	ctx := context.Background()
	if err := migrate.Up(ctx, pool, nil, postgres.Migrations); err != nil {
		tb.Fatalf("migrate: %v", err)
	}
	s, err := postgres.New(ctx, pool, postgres.Config{})
	if err != nil {
		tb.Fatalf("new store: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s, pool
}

func TestConformance(t *testing.T) {
	pools := map[eventstore.Store]*pgxpool.Pool{}
	eventstoretest.Run(t, eventstoretest.Harness{
		New: func(tb testing.TB) eventstore.Store {
			s, pool := MustStore(tb)
			pools[s] = pool
			return s
		},
		BeginAppend: func(tb testing.TB, store eventstore.Store, stream string, events ...eventstore.Event) func() error {
			tb.Helper()
			s := store.(*postgres.Store)
			ctx := context.Background()
			tx, err := pools[store].Begin(ctx)
			if err != nil {
				tb.Fatalf("begin: %v", err)
			}
			if _, err := s.AppendTx(ctx, tx, stream, eventstore.Any, events...); err != nil {
				tb.Fatalf("append in open transaction: %v", err)
			}
			return func() error {
				defer s.Wake()
				return tx.Commit(ctx)
			}
		},
	})
}

func TestMigrateIsIdempotent(t *testing.T) {
	_, pool := MustStore(t)
	for i := 0; i < 2; i++ {
		if err := migrate.Up(context.Background(), pool, nil, postgres.Migrations); err != nil {
			t.Fatalf("migrate run %d: %v", i+2, err)
		}
	}
}

func TestNewRequiresSchema(t *testing.T) {
	pool := pgtest.MustPool(t)
	if _, err := postgres.New(context.Background(), pool, postgres.Config{}); err == nil {
		t.Fatal("New on an unmigrated database succeeded")
	}
}

// TestHorizonIsServerWide documents the cost of never skipping: a
// transaction that holds an XID open anywhere on the server, even in another
// database, hides later commits from $all readers until it ends. Readers
// wait; nothing is lost or reordered.
func TestHorizonIsServerWide(t *testing.T) {
	s, _ := MustStore(t)
	other := pgtest.MustPool(t)
	ctx := context.Background()
	tx, err := other.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_current_xact_id()`); err != nil {
		t.Fatal(err)
	}
	res, err := s.Append(ctx, "horizon-1", eventstore.NoStream, eventstore.Event{ID: uuid.New(), Type: "Held", Data: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.ReadAll(ctx, eventstore.ReadAllOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Fatalf("read %d events past an open transaction's horizon", len(got))
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	// Other tests on the server may hold the horizon too: wait for it.
	deadline := time.Now().Add(20 * time.Second)
	for len(got) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		if got, err = s.ReadAll(ctx, eventstore.ReadAllOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 1 || got[0].Position != res.Position {
		t.Fatalf("after the transaction ended: %d events", len(got))
	}
}
