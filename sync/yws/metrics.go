package yws

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the server's Prometheus instruments (namespace webhost_yws).
type metrics struct {
	connections      prometheus.Gauge
	connectsTotal    *prometheus.CounterVec // result: accepted, unauthenticated, forbidden, ...
	closesTotal      *prometheus.CounterVec // reason
	docsLoaded       prometheus.Gauge
	updatesTotal     *prometheus.CounterVec // source: local, remote
	updateBytesTotal *prometheus.CounterVec // source
	droppedWrites    prometheus.Counter
	deliveriesTotal  prometheus.Counter
	fanoutLatency    prometheus.Histogram
	batchRows        prometheus.Histogram
	compactionsTotal *prometheus.CounterVec // result: ok, noop, error
	resyncsTotal     prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns, sub = "webhost", "yws"
	m := &metrics{
		connections: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "connections", Help: "Open WebSocket connections."}),
		connectsTotal: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "connects_total", Help: "Connection attempts by result."}, []string{"result"}),
		closesTotal: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "closes_total", Help: "Connections closed by the server, by reason."}, []string{"reason"}),
		docsLoaded: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "documents_loaded", Help: "Documents held in memory."}),
		updatesTotal: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "updates_total", Help: "Yjs updates applied, from local clients or other nodes."}, []string{"source"}),
		updateBytesTotal: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "update_bytes_total", Help: "Bytes of Yjs updates applied."}, []string{"source"}),
		droppedWrites: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "readonly_writes_dropped_total", Help: "Updates from read-only keys that were ignored."}),
		deliveriesTotal: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "deliveries_total", Help: "Updates written to client connections."}),
		fanoutLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "fanout_latency_seconds", Help: "Time from an update's arrival (from a client or a notification) to its write to each recipient.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
		batchRows: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "commit_batch_rows", Help: "Updates per group-commit INSERT.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 8)}),
		compactionsTotal: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "compactions_total", Help: "Log compactions by result (noop: nothing left to merge, e.g. another node compacted first)."}, []string{"result"}),
		resyncsTotal: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "resyncs_total", Help: "Documents reloaded from the database after a missed or compacted notification."}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.connections, m.connectsTotal, m.closesTotal, m.docsLoaded,
		m.updatesTotal, m.updateBytesTotal, m.droppedWrites, m.deliveriesTotal, m.fanoutLatency, m.batchRows,
		m.compactionsTotal, m.resyncsTotal} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("yws: metrics already registered (one Server per Registerer): %w", err)
			}
			return nil, fmt.Errorf("yws: register metrics: %w", err)
		}
	}
	return m, nil
}
