package postgres_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/webhost-systems/webhost/eventstore"
	"github.com/webhost-systems/webhost/eventstore/postgres"
	"github.com/webhost-systems/webhost/internal/migrate"
	"github.com/webhost-systems/webhost/internal/pgtest"
)

// The baseline table has the same columns and indexes a plain event table
// would need, written with plain INSERTs: what the store's bookkeeping
// (versions, idempotency, horizon) costs is the gap between the two.
const baselineDDL = `
CREATE TABLE bench_baseline (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id uuid NOT NULL UNIQUE,
    stream_id text NOT NULL,
    stream_version bigint NOT NULL,
    event_type text NOT NULL,
    data json NOT NULL,
    metadata json NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
)`

func benchPool(b *testing.B) *pgxpool.Pool {
	b.Helper()
	dsn := pgtest.MustCreateDatabase(b)
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns = 48
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	ctx := context.Background()
	if err := migrate.Up(ctx, pool, nil, postgres.Migrations); err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(ctx, baselineDDL); err != nil {
		b.Fatal(err)
	}
	return pool
}

var benchPayload = []byte(`{"customer_id":"6f1c7e8a-3b7d-4c55-9a53-1d2f0c0b7e11","plan":"professional","regions":["iad","fra"],"note":"benchmark payload of a typical size"}`)

// runWriters splits b.N operations over writers goroutines and reports
// events per second.
func runWriters(b *testing.B, writers, batch int, op func(ctx context.Context, writer, i int) error) {
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < writers; w++ {
		n := b.N / writers
		if w < b.N%writers {
			n++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n; i++ {
				if err := op(ctx, w, i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N*batch)/elapsed.Seconds(), "events/s")
}

func BenchmarkAppend(b *testing.B) {
	for _, batch := range []int{1, 10} {
		for _, writers := range []int{1, 8, 32} {
			name := fmt.Sprintf("batch=%d/writers=%d", batch, writers)
			b.Run(name+"/impl=baseline", func(b *testing.B) {
				pool := benchPool(b)
				var sql string
				for i := 0; i < batch; i++ {
					if i > 0 {
						sql += ","
					}
					sql += fmt.Sprintf("(gen_random_uuid(), $1, $2::bigint + %d, 'BenchEvent', $3::json, '{}')", i)
				}
				sql = "INSERT INTO bench_baseline (event_id, stream_id, stream_version, event_type, data, metadata) VALUES " + sql
				runWriters(b, writers, batch, func(ctx context.Context, w, i int) error {
					_, err := pool.Exec(ctx, sql, fmt.Sprintf("bench-%d", w), i*batch, string(benchPayload))
					return err
				})
			})
			b.Run(name+"/impl=postgres", func(b *testing.B) {
				pool := benchPool(b)
				store, err := postgres.New(context.Background(), pool, postgres.Config{})
				if err != nil {
					b.Fatal(err)
				}
				defer store.Close()
				runWriters(b, writers, batch, func(ctx context.Context, w, i int) error {
					evs := make([]eventstore.Event, batch)
					for j := range evs {
						evs[j] = eventstore.Event{ID: uuid.New(), Type: "BenchEvent", Data: benchPayload}
					}
					_, err := store.Append(ctx, fmt.Sprintf("bench-%d", w), eventstore.Any, evs...)
					return err
				})
			})
		}
	}
}

const readAllEvents = 20000

func BenchmarkReadAll(b *testing.B) {
	fill := func(b *testing.B, pool *pgxpool.Pool, store *postgres.Store) {
		ctx := context.Background()
		batch := make([]eventstore.Event, 100)
		for i := 0; i < readAllEvents/len(batch); i++ {
			for j := range batch {
				batch[j] = eventstore.Event{ID: uuid.New(), Type: "BenchEvent", Data: benchPayload}
			}
			if _, err := store.Append(ctx, fmt.Sprintf("read-%d", i%50), eventstore.Any, batch...); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := pool.Exec(ctx, `INSERT INTO bench_baseline (event_id, stream_id, stream_version, event_type, data, metadata)
			SELECT event_id, stream_id, stream_version, event_type, data, metadata FROM eventstore.events ORDER BY global_position`); err != nil {
			b.Fatal(err)
		}
		if _, err := pool.Exec(ctx, `VACUUM ANALYZE`); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("page=1000/impl=baseline", func(b *testing.B) {
		pool := benchPool(b)
		store, err := postgres.New(context.Background(), pool, postgres.Config{})
		if err != nil {
			b.Fatal(err)
		}
		defer store.Close()
		fill(b, pool, store)
		ctx := context.Background()
		b.ResetTimer()
		read := 0
		for i := 0; i < b.N; i++ {
			after := int64(0)
			for {
				rows, err := pool.Query(ctx, `SELECT id, event_id, stream_id, stream_version, event_type, data::text, metadata::text, created_at FROM bench_baseline WHERE id > $1 ORDER BY id LIMIT 1000`, after)
				if err != nil {
					b.Fatal(err)
				}
				n := 0
				for rows.Next() {
					var id, version int64
					var eventID uuid.UUID
					var stream, typ, data, meta string
					var at time.Time
					if err := rows.Scan(&id, &eventID, &stream, &version, &typ, &data, &meta, &at); err != nil {
						b.Fatal(err)
					}
					after = id
					n++
				}
				rows.Close()
				read += n
				if n < 1000 {
					break
				}
			}
		}
		b.ReportMetric(float64(read)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("page=1000/impl=postgres", func(b *testing.B) {
		pool := benchPool(b)
		store, err := postgres.New(context.Background(), pool, postgres.Config{})
		if err != nil {
			b.Fatal(err)
		}
		defer store.Close()
		fill(b, pool, store)
		ctx := context.Background()
		b.ResetTimer()
		read := 0
		for i := 0; i < b.N; i++ {
			after := eventstore.Start
			for {
				page, err := store.ReadAll(ctx, eventstore.ReadAllOptions{After: after, Limit: 1000})
				if err != nil {
					b.Fatal(err)
				}
				read += len(page)
				if len(page) < 1000 {
					break
				}
				after = page[len(page)-1].Position
			}
		}
		b.ReportMetric(float64(read)/b.Elapsed().Seconds(), "events/s")
	})
}

func reportLatencies(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op") // the per-op time mixes in setup; latency is the figure
}

// BenchmarkSubscriptionLatency measures append → delivery. The baseline is
// a plain INSERT followed by NOTIFY, timed until a LISTENing connection
// receives the notification.
func BenchmarkSubscriptionLatency(b *testing.B) {
	b.Run("impl=baseline", func(b *testing.B) {
		pool := benchPool(b)
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, pool.Config().ConnString())
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "LISTEN bench"); err != nil {
			b.Fatal(err)
		}
		lat := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			start := time.Now()
			if _, err := pool.Exec(ctx, `INSERT INTO bench_baseline (event_id, stream_id, stream_version, event_type, data) VALUES (gen_random_uuid(), 's', $1, 'BenchEvent', $2::json)`, i, string(benchPayload)); err != nil {
				b.Fatal(err)
			}
			if _, err := pool.Exec(ctx, `SELECT pg_notify('bench', '')`); err != nil {
				b.Fatal(err)
			}
			if _, err := conn.WaitForNotification(ctx); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(start))
		}
		b.StopTimer()
		reportLatencies(b, lat)
	})
	b.Run("impl=postgres", func(b *testing.B) {
		pool := benchPool(b)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		// Writer and subscriber are separate stores, as separate processes
		// would be: the subscriber is woken by NOTIFY, not by a local append.
		writer, err := postgres.New(ctx, pool, postgres.Config{})
		if err != nil {
			b.Fatal(err)
		}
		defer writer.Close()
		reader, err := postgres.New(ctx, pool, postgres.Config{Channel: "webhost_eventstore"})
		if err != nil {
			b.Fatal(err)
		}
		defer reader.Close()
		sub, err := reader.Subscribe(ctx, eventstore.Start, eventstore.Filter{})
		if err != nil {
			b.Fatal(err)
		}
		defer sub.Close()
		time.Sleep(100 * time.Millisecond) // let LISTEN take effect
		lat := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			start := time.Now()
			if _, err := writer.Append(ctx, "latency", eventstore.Any, eventstore.Event{ID: uuid.New(), Type: "BenchEvent", Data: benchPayload}); err != nil {
				b.Fatal(err)
			}
			select {
			case <-sub.Events():
			case <-time.After(10 * time.Second):
				b.Fatal("event not delivered")
			}
			lat = append(lat, time.Since(start))
		}
		b.StopTimer()
		reportLatencies(b, lat)
	})
}
