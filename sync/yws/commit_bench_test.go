package yws

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/webhost-systems/webhost/internal/migrate"
	"github.com/webhost-systems/webhost/internal/pgtest"
	"github.com/webhost-systems/webhost/sync/syncauth"
)

// BenchmarkDurableAppend measures how many updates per second reach the
// log durably (committed, with their NOTIFY) when `writers` connections
// send at once: impl=baseline runs one INSERT per update, as a naive
// server would; impl=groupcommit goes through the server's group committer
// (ARCHITECTURE flow 7) and counts an update once it was broadcast.
func BenchmarkDurableAppend(b *testing.B) {
	for _, writers := range []int{1, 32} {
		b.Run(fmt.Sprintf("writers=%d/impl=baseline", writers), func(b *testing.B) {
			pool, docID := benchDB(b, writers)
			st := &store{pool: pool}
			update := []byte("a small yjs-sized update payload.")
			b.ResetTimer()
			start := time.Now()
			runWriters(b, writers, func() {
				if err := st.appendBatch(context.Background(), "bench", []int64{docID}, [][]byte{update}); err != nil {
					b.Error(err)
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "updates/s")
		})
		b.Run(fmt.Sprintf("writers=%d/impl=groupcommit", writers), func(b *testing.B) {
			pool, docID := benchDB(b, writers)
			kf, err := syncauth.NewKeyFile(nil)
			if err != nil {
				b.Fatal(err)
			}
			s, err := New(context.Background(), Config{Pool: pool, Auth: kf, Codec: YjsCodec{},
				CompactRows: 1 << 30, CompactBytes: 1 << 30, MergePendingBytes: 1 << 30})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = s.Close() })
			d := &document{id: docID, loaded: make(chan struct{}), conns: map[*conn]struct{}{},
				awareness: map[uint64]*awarenessState{}}
			close(d.loaded)
			// One observer connection receives every broadcast update.
			observer := &conn{s: s, wake: make(chan struct{}, 1), closing: make(chan struct{})}
			s.cfg.SendQueue = 1 << 30
			d.conns[observer] = struct{}{}
			update := []byte("a small yjs-sized update payload.")
			b.ResetTimer()
			start := time.Now()
			runWriters(b, writers, func() {
				d.mu.Lock()
				d.inflight++
				d.mu.Unlock()
				s.appendCh <- appendReq{doc: d, update: update, received: time.Now()}
			})
			for {
				observer.qmu.Lock()
				got := len(observer.queue)
				observer.qmu.Unlock()
				if got >= b.N {
					break
				}
				<-observer.wake
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "updates/s")
		})
	}
}

// runWriters calls op b.N times from n goroutines.
func runWriters(b *testing.B, n int, op func()) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	left := b.N
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				if left == 0 {
					mu.Unlock()
					return
				}
				left--
				mu.Unlock()
				op()
			}
		}()
	}
	wg.Wait()
}

// benchDB is a fresh database with the schema, a pool of conns connections
// and one document.
func benchDB(b *testing.B, conns int) (*pgxpool.Pool, int64) {
	b.Helper()
	cfg, err := pgxpool.ParseConfig(pgtest.MustCreateDatabase(b))
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns = int32(max(conns, 4))
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	if err := migrate.Up(context.Background(), pool, nil, Migrations); err != nil {
		b.Fatal(err)
	}
	id, err := (&store{pool: pool}).ensureDocument(context.Background(), "bench", "doc")
	if err != nil {
		b.Fatal(err)
	}
	return pool, id
}
