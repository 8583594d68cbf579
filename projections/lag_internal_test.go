package projections

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/webhost-systems/webhost/eventstore"
	"github.com/webhost-systems/webhost/eventstore/memory"
)

func TestLagMetricsCountEventsAndAge(t *testing.T) {
	ctx := context.Background()
	store := memory.New()
	for range 5 {
		if _, err := store.Append(ctx, "s-"+uuid.NewString(), eventstore.Any, eventstore.Event{ID: uuid.New(), Type: "T", Data: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	all, err := store.ReadAll(ctx, eventstore.ReadAllOptions{})
	if err != nil || len(all) != 5 {
		t.Fatalf("%d events, %v", len(all), err)
	}
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	now := all[0].Time.Add(90 * time.Second)
	r := &Runner{cfg: RunnerConfig{Store: store, Projection: EventLog(), Metrics: m, LagCountLimit: 3, Now: func() time.Time { return now }}}
	r.measureLag(ctx, eventstore.Start)
	if got := gauge(t, m.eventsBehind.WithLabelValues(NameEventLog)); got != 3 {
		t.Fatalf("events behind %v, want the cap 3", got)
	}
	if got := gauge(t, m.secondsBehind.WithLabelValues(NameEventLog)); got != 90 {
		t.Fatalf("seconds behind %v", got)
	}
	r.measureLag(ctx, all[3].Position)
	if got := gauge(t, m.eventsBehind.WithLabelValues(NameEventLog)); got != 1 {
		t.Fatalf("events behind %v", got)
	}
	r.measureLag(ctx, all[4].Position)
	if got := gauge(t, m.eventsBehind.WithLabelValues(NameEventLog)); got != 0 {
		t.Fatalf("caught up: events behind %v", got)
	}
	if got := gauge(t, m.secondsBehind.WithLabelValues(NameEventLog)); got != 0 {
		t.Fatalf("caught up: seconds behind %v", got)
	}
}

func gauge(t *testing.T, g prometheus.Gauge) float64 {
	t.Helper()
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetGauge().GetValue()
}
