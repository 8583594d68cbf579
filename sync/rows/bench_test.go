package rows

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/jackc/pgx/v5"

	"github.com/webhost-systems/webhost/sync/syncauth"
)

// Benchmarks compare each row-sync path with raw PostgreSQL doing the
// nearest equivalent work in the same run (impl=baseline):
//   - push: one mutation of one put per request vs one autocommit UPSERT;
//   - initial sync: 100,000 rows over HTTP at limit 1000 vs keyset-paged
//     SELECTs of the same rows;
//   - push → poke → pull with 100 live clients vs INSERT+NOTIFY, LISTEN, and
//     100 SELECTs.

func benchConfig() Config {
	cfg := testConfig()
	cfg.MaxLiveConnsPerKey = 1000
	return cfg
}

func BenchmarkPush(b *testing.B) {
	pool := migratedPool(b)
	auth := newTestAuth()
	n := startNode(b, pool, auth, benchConfig(), nil)
	if _, err := pool.Exec(context.Background(), `CREATE TABLE bench_upsert (LIKE rowsync.rows INCLUDING DEFAULTS, PRIMARY KEY (tenant, tbl, pk))`); err != nil {
		b.Fatal(err)
	}
	for _, clients := range []int{1, 16} {
		b.Run(fmt.Sprintf("clients=%d/impl=baseline", clients), func(b *testing.B) {
			var next atomic.Int64
			runParallelN(b, clients, func(worker int) {
				i := next.Add(1)
				_, err := pool.Exec(context.Background(), `
					INSERT INTO bench_upsert (tenant, tbl, pk, value, version) VALUES ('acme', 'items', $1, $2::text::jsonb, 1)
					ON CONFLICT (tenant, tbl, pk) DO UPDATE SET value = EXCLUDED.value, version = bench_upsert.version + 1,
						xid = pg_current_xact_id(), seq = nextval('rowsync.row_seq')`,
					fmt.Sprintf("b%d", i), `{"title":"hello","n":1}`)
				if err != nil {
					b.Error(err)
				}
			})
		})
		b.Run(fmt.Sprintf("clients=%d/impl=rows", clients), func(b *testing.B) {
			devs := make([]*pushClient, clients)
			for i := range devs {
				devs[i] = &pushClient{url: n.url + PathPush, token: auth.key("acme", syncauth.ScopeWrite), clientID: fmt.Sprintf("bench_%d_%d_%d", clients, b.N, i)}
			}
			runParallelN(b, clients, func(worker int) {
				if err := devs[worker].pushOne(); err != nil {
					b.Error(err)
				}
			})
		})
	}
}

// runParallelN runs b.N calls of fn spread over workers goroutines and
// reports mutations/s.
func runParallelN(b *testing.B, workers int, fn func(worker int)) {
	var left atomic.Int64
	left.Store(int64(b.N))
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := range workers {
		wg.Go(func() {
			for left.Add(-1) >= 0 {
				fn(w)
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "mutations/s")
}

// pushClient pushes one-put mutations with increasing mids.
type pushClient struct {
	url, token, clientID string
	mid                  int64
}

func (p *pushClient) pushOne() error {
	p.mid++
	body := fmt.Sprintf(`{"v":1,"clientId":%q,"mutations":[{"mid":%d,"ops":[{"tbl":"items","op":"put","key":"%s_%d","value":{"title":"hello","n":1}}]}]}`,
		p.clientID, p.mid, p.clientID, p.mid)
	req, err := http.NewRequest(http.MethodPost, p.url, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+p.token)
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var out PushResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 || out.Results[0].Status != StatusApplied {
		return fmt.Errorf("push: %d %+v %v", resp.StatusCode, out, err)
	}
	return nil
}

func BenchmarkInitialSync(b *testing.B) {
	const total = 100_000
	pool := migratedPool(b)
	auth := newTestAuth()
	n := startNode(b, pool, auth, benchConfig(), nil)
	token := auth.key("acme", syncauth.ScopeRead)
	seedRows(b, pool, "acme", "items", total)
	if _, err := pool.Exec(context.Background(), `VACUUM ANALYZE rowsync.rows`); err != nil {
		b.Fatal(err)
	}
	report := func(b *testing.B, start time.Time) {
		secs := time.Since(start).Seconds() / float64(b.N)
		b.ReportMetric(secs, "sync-s")
		b.ReportMetric(total/secs, "rows/s")
	}
	b.Run("rows=100000/impl=baseline", func(b *testing.B) {
		start := time.Now()
		for b.Loop() {
			type row struct {
				tbl, pk string
				value   json.RawMessage
				version int64
			}
			got := 0
			xid, seq := "0", int64(0)
			for {
				rows, err := pool.Query(context.Background(), `
					SELECT r.tbl, r.pk, r.value, r.version, r.xid::text AS xid_text, r.seq FROM rowsync.rows r
					WHERE r.tenant = 'acme' AND r.tbl = ANY($1) AND (r.xid, r.seq) > ($2::text::xid8, $3)
					ORDER BY r.xid, r.seq LIMIT 1000`, []string{"items"}, xid, seq)
				if err != nil {
					b.Fatal(err)
				}
				page, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
					var x row
					err := r.Scan(&x.tbl, &x.pk, &x.value, &x.version, &xid, &seq)
					return x, err
				})
				if err != nil {
					b.Fatal(err)
				}
				got += len(page)
				if len(page) < 1000 {
					break
				}
			}
			if got != total {
				b.Fatalf("baseline read %d rows", got)
			}
		}
		report(b, start)
	})
	b.Run("rows=100000/impl=rows", func(b *testing.B) {
		start := time.Now()
		for b.Loop() {
			d := newDevice(b, n, token, "c_bench", "items")
			d.pool = nil
			d.sync()
			if len(d.rows) != total {
				b.Fatalf("synced %d rows", len(d.rows))
			}
		}
		report(b, start)
	})
}

// BenchmarkPokeLatency measures, per push, the time until each of 100 live
// clients (on another node than the pusher) has been poked and has pulled
// the pushed row.
func BenchmarkPokeLatency(b *testing.B) {
	const clients = 100
	pool := migratedPool(b)
	auth := newTestAuth()
	node1 := startNode(b, pool, auth, benchConfig(), nil)
	node2 := startNode(b, pool, auth, benchConfig(), nil)
	token := auth.key("acme", syncauth.ScopeWrite)

	b.Run(fmt.Sprintf("clients=%d/impl=baseline", clients), func(b *testing.B) {
		ctx := context.Background()
		if _, err := pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS bench_notify (id bigserial PRIMARY KEY, value jsonb)`); err != nil {
			b.Fatal(err)
		}
		listener, err := pgx.ConnectConfig(ctx, pool.Config().ConnConfig.Copy())
		if err != nil {
			b.Fatal(err)
		}
		defer listener.Close(ctx)
		if _, err := listener.Exec(ctx, `LISTEN bench`); err != nil {
			b.Fatal(err)
		}
		var lat []time.Duration
		for b.Loop() {
			start := time.Now()
			var id int64
			tx, err := pool.Begin(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if err := tx.QueryRow(ctx, `INSERT INTO bench_notify (value) VALUES ('{"title":"x"}') RETURNING id`).Scan(&id); err != nil {
				b.Fatal(err)
			}
			if _, err := tx.Exec(ctx, `SELECT pg_notify('bench', $1::text)`, fmt.Sprint(id)); err != nil {
				b.Fatal(err)
			}
			if err := tx.Commit(ctx); err != nil {
				b.Fatal(err)
			}
			if _, err := listener.WaitForNotification(ctx); err != nil {
				b.Fatal(err)
			}
			var mu sync.Mutex
			var wg sync.WaitGroup
			for range clients {
				wg.Go(func() {
					var v []byte
					if err := pool.QueryRow(ctx, `SELECT value FROM bench_notify WHERE id >= $1 ORDER BY id LIMIT 1000`, id).Scan(&v); err != nil {
						b.Error(err)
					}
					d := time.Since(start)
					mu.Lock()
					lat = append(lat, d)
					mu.Unlock()
				})
			}
			wg.Wait()
		}
		reportPercentiles(b, lat)
	})

	b.Run(fmt.Sprintf("clients=%d/impl=rows", clients), func(b *testing.B) {
		type watcher struct {
			dev  *device
			live *liveClient
		}
		ws := make([]*watcher, clients)
		for i := range ws {
			d := newDevice(b, node2, token, fmt.Sprintf("c_w%d_%d", b.N, i), "items")
			d.pool = nil
			d.sync()
			ws[i] = &watcher{dev: d, live: dialLive(b, node2, token, "acme")}
		}
		pusher := &pushClient{url: node1.url + PathPush, token: token, clientID: fmt.Sprintf("c_pusher_%d", b.N)}
		var lat, pokeLat []time.Duration
		for b.Loop() {
			start := time.Now()
			if err := pusher.pushOne(); err != nil {
				b.Fatal(err)
			}
			key := fmt.Sprintf("%s_%d", pusher.clientID, pusher.mid)
			var mu sync.Mutex
			var wg sync.WaitGroup
			for _, w := range ws {
				wg.Go(func() {
					for first := true; ; first = false {
						w.live.waitPoke(b)
						if first {
							d := time.Since(start)
							mu.Lock()
							pokeLat = append(pokeLat, d)
							mu.Unlock()
						}
						w.dev.sync()
						if _, ok := w.dev.rows[rowID("items", key)]; ok {
							break
						}
					}
					d := time.Since(start)
					mu.Lock()
					lat = append(lat, d)
					mu.Unlock()
				})
			}
			wg.Wait()
		}
		for _, w := range ws {
			_ = w.live.conn.Close(websocket.StatusNormalClosure, "")
		}
		reportPercentiles(b, lat)
		// The poke alone (push start → poke received), to tell waiting for
		// the visibility horizon apart from pull cost.
		slices.Sort(pokeLat)
		b.ReportMetric(float64(pokeLat[len(pokeLat)/2].Microseconds())/1000, "poke-p50-ms")
		b.ReportMetric(float64(pokeLat[min(len(pokeLat)-1, len(pokeLat)*95/100)].Microseconds())/1000, "poke-p95-ms")
	})
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	at := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.95), "p95-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}
