package postgres_test

import (
	"context"
	"fmt"
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

// TestGlobalOrderIsNumeric guards against ordering positions as text: with
// transaction IDs of different lengths (999 and 1000), "1000" < "999" as
// strings, and a reader would deliver out of order and skip events.
func TestGlobalOrderIsNumeric(t *testing.T) {
	s, pool := MustStore(t)
	ctx := context.Background()
	xids := []int{9, 10, 99, 100, 999, 1000}
	for i := len(xids) - 1; i >= 0; i-- { // insert in reverse to defeat physical order
		if _, err := pool.Exec(ctx, `INSERT INTO eventstore.events (transaction_id, event_id, stream_id, stream_version, event_type, data)
			VALUES ($1::text::xid8, $2, 'order-'||$1::text, 0, 'Ordered', '{}')`, fmt.Sprint(xids[i]), uuid.New()); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.ReadAll(ctx, eventstore.ReadAllOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(xids) {
		t.Fatalf("read %d events, want %d", len(got), len(xids))
	}
	for i, e := range got {
		if e.Position.Commit != uint64(xids[i]) {
			t.Fatalf("event %d has transaction %d, want %d (order %v)", i, e.Position.Commit, xids[i], got)
		}
	}
	head, err := s.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if head.Commit != 1000 {
		t.Fatalf("head at transaction %d, want 1000", head.Commit)
	}
	// Paging from each position continues in numeric order.
	after := eventstore.Start
	for i := range xids {
		page, err := s.ReadAll(ctx, eventstore.ReadAllOptions{After: after, Limit: 1})
		if err != nil || len(page) != 1 || page[0].Position.Commit != uint64(xids[i]) {
			t.Fatalf("page %d after %v: %v %v", i, after, page, err)
		}
		after = page[0].Position
	}
}
