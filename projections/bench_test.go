package projections_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/webhost-systems/webhost/domain"
)

// benchEvents is the size of the replayed log (WEBHOST_BENCH_EVENTS
// overrides it for a quick run).
func benchEvents() int {
	if n, err := strconv.Atoi(os.Getenv("WEBHOST_BENCH_EVENTS")); err == nil && n > 0 {
		return n
	}
	return 200_000
}

// seedLog writes n synthetic events (sign-ups, subscriptions, plan changes,
// API keys: four per customer) straight into the event table with COPY, 100 per transaction.
func seedLog(b *testing.B, e *env, n int) {
	b.Helper()
	ctx := context.Background()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rows := make([][]any, 0, n)
	plans := []domain.PlanID{domain.PlanHobby, domain.PlanStarter, domain.PlanProfessional, domain.PlanBusiness}
	for i := 0; len(rows) < n; i++ {
		cid, sid, kid := uuid.New().String(), uuid.New().String(), uuid.New().String()
		meta := domain.Metadata{Tenant: cid, CorrelationID: cid, CausationID: cid, Actor: "system", CommandID: cid}
		t := at.Add(time.Duration(i) * time.Minute)
		evs := []struct {
			stream  string
			version int64
			ev      domain.Event
		}{
			{"customer-" + cid, 0, domain.CustomerSignedUp{CustomerID: cid, Slug: fmt.Sprintf("c%d", i), NameSecretID: "n" + cid, EmailSecretID: "e" + cid, SignedUpAt: t}},
			{"subscription-" + sid, 0, domain.SubscriptionStarted{SubscriptionID: sid, CustomerID: cid, Plan: plans[i%4], Status: domain.SubscriptionStatusActive, StartedAt: t}},
			{"subscription-" + sid, 1, domain.PlanChanged{SubscriptionID: sid, CustomerID: cid, FromPlan: plans[i%4], ToPlan: plans[(i+1)%4], ChangedAt: t.Add(time.Hour)}},
			{"apikey-" + kid, 0, domain.APIKeyIssued{KeyID: kid, CustomerID: cid, Name: "default", Prefix: "whs_live_x", Hash: fmt.Sprintf("%064x", i), Scopes: []string{"read"}, IssuedAt: t}},
		}
		for _, x := range evs {
			if len(rows) == n {
				break
			}
			typ, data, md, err := domain.EncodeEvent(x.ev, meta)
			if err != nil {
				b.Fatal(err)
			}
			rows = append(rows, []any{uuid.New(), x.stream, x.version, typ, string(data), string(md)})
		}
	}
	// One transaction per 100 events, like many small commands: the log's
	// order is (transaction, sequence).
	for i := 0; i < len(rows); i += 100 {
		_, err := e.pool.CopyFrom(ctx, pgx.Identifier{"eventstore", "events"},
			[]string{"event_id", "stream_id", "stream_version", "event_type", "data", "metadata"}, pgx.CopyFromRows(rows[i:min(i+100, len(rows))]))
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReplay rebuilds projections from a log of 200,000 events
// (impl=runner) and compares the event log's replay with plain INSERTs of
// the same rows in batches of the same size (impl=baseline).
func BenchmarkReplay(b *testing.B) {
	n := benchEvents()
	e := setup(b)
	seedLog(b, e, n)
	ctx := context.Background()
	if err := e.mgr.Rebuild(ctx, "event_log"); err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"event_log", "read_models"} {
		b.Run(fmt.Sprintf("projection=%s/events=%d/impl=runner", name, n), func(b *testing.B) {
			start := time.Now()
			for range b.N {
				if err := e.mgr.Rebuild(ctx, name); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n*b.N)/time.Since(start).Seconds(), "events/s")
		})
	}
	b.Run(fmt.Sprintf("projection=event_log/events=%d/impl=baseline", n), func(b *testing.B) {
		rows, err := e.pool.Query(ctx, `SELECT position, event_id, stream, stream_version, type, tenant, actor, correlation_id,
			causation_id, command_id, schema_version, recorded_at, data FROM read.event_log ORDER BY position`)
		if err != nil {
			b.Fatal(err)
		}
		all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([]any, error) { return r.Values() })
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		start := time.Now()
		for range b.N {
			if _, err := e.pool.Exec(ctx, `DROP TABLE IF EXISTS public.bench_event_log; CREATE TABLE public.bench_event_log (LIKE read.event_log INCLUDING ALL)`); err != nil {
				b.Fatal(err)
			}
			for i := 0; i < len(all); i += 1000 {
				var batch pgx.Batch
				for _, r := range all[i:min(i+1000, len(all))] {
					batch.Queue(`INSERT INTO public.bench_event_log VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`, r...)
				}
				if err := pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error { return tx.SendBatch(ctx, &batch).Close() }); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(n*b.N)/time.Since(start).Seconds(), "events/s")
	})
}
