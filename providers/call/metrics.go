package call

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the provider call metrics. One Metrics may be shared by every
// adapter; NewMetrics on a registerer that already has them reuses them.
type Metrics struct {
	calls    *prometheus.CounterVec
	attempts *prometheus.CounterVec
	retries  *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics registers the metrics on reg. reg nil returns nil (no metrics).
//
//	webhost_provider_calls_total{provider,operation,outcome}
//	webhost_provider_attempts_total{provider,operation}
//	webhost_provider_retries_total{provider,operation}
//	webhost_provider_call_duration_seconds{provider,operation,outcome}
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &Metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "webhost_provider_calls_total",
			Help: "Provider operations by outcome (success, retryable, permanent, not_found, conflict, canceled).",
		}, []string{"provider", "operation", "outcome"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "webhost_provider_attempts_total",
			Help: "Provider attempts, including retries.",
		}, []string{"provider", "operation"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "webhost_provider_retries_total",
			Help: "Provider retries after a retryable error.",
		}, []string{"provider", "operation"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "webhost_provider_call_duration_seconds",
			Help:    "Duration of provider operations including retries.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2.5, 10),
		}, []string{"provider", "operation", "outcome"}),
	}
	var err error
	m.calls, err = register(reg, m.calls)
	if err != nil {
		return nil, err
	}
	if m.attempts, err = register(reg, m.attempts); err != nil {
		return nil, err
	}
	if m.retries, err = register(reg, m.retries); err != nil {
		return nil, err
	}
	if m.duration, err = register(reg, m.duration); err != nil {
		return nil, err
	}
	return m, nil
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, err
	}
	return c, nil
}

func (m *Metrics) observe(provider, op, outcome string, attempts int, d time.Duration) {
	if m == nil {
		return
	}
	m.calls.WithLabelValues(provider, op, outcome).Inc()
	m.attempts.WithLabelValues(provider, op).Add(float64(attempts))
	m.duration.WithLabelValues(provider, op, outcome).Observe(d.Seconds())
}

func (m *Metrics) retry(provider, op string) {
	if m == nil {
		return
	}
	m.retries.WithLabelValues(provider, op).Inc()
}
