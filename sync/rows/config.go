package rows

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Config configures a Server. Zero fields take the defaults below; Validate
// rejects values that cannot work.
type Config struct {
	// Tables lists the synced tables. A push or pull naming any other table
	// gets 400. Empty accepts every well-formed table name.
	Tables []string
	// SchemaHashes lists the client schema hashes this server accepts; a
	// push with another hash gets 412. Empty accepts every hash.
	SchemaHashes []string

	// MaxRequestBytes caps a push or pull body (413). Default 4 MiB.
	MaxRequestBytes int64
	// MaxMutationsPerPush caps the mutations of one push (413). Default 500.
	MaxMutationsPerPush int
	// MaxOpsPerMutation caps the ops of one mutation (413). Default 1000.
	MaxOpsPerMutation int
	// MaxValueBytes caps a stored row value, after a patch is merged; a
	// mutation that exceeds it is rejected. Default 256 KiB.
	MaxValueBytes int
	// MaxRowsPerTable caps the live rows of one table per customer; a
	// mutation that would exceed it is rejected. The check uses a count
	// cached for RowCountTTL plus this node's own inserts, so several nodes
	// writing at once can overshoot slightly. Default 1,000,000.
	MaxRowsPerTable int64
	// RowCountTTL is how long a table's row count is cached. Default 5 s.
	RowCountTTL time.Duration
	// PushesPerSecond and PushBurst rate-limit pushes per API key (429).
	// Defaults 20/s with a burst of 40.
	PushesPerSecond float64
	PushBurst       int
	// MaxPullLimit caps a pull page; larger limits are clamped. Default 1000.
	MaxPullLimit int
	// MaxLiveConnsPerKey caps concurrent live WebSockets per key (429).
	// Default 100.
	MaxLiveConnsPerKey int

	// TombstoneRetention is how long deleted rows are kept before cleanup
	// purges them; cursors older than a purged tombstone get 410 reset.
	// Default 30 days.
	TombstoneRetention time.Duration
	// CleanupInterval is how often Run purges tombstones and old acks.
	// Default 1 h.
	CleanupInterval time.Duration
	// HorizonPollInterval is how often a poke whose transaction is not yet
	// below the visibility horizon is re-checked. Default 2 ms.
	HorizonPollInterval time.Duration
	// LivePingInterval is the WebSocket keep-alive period. Default 30 s.
	LivePingInterval time.Duration
	// NotifyChannel is the PostgreSQL LISTEN/NOTIFY channel shared by all
	// nodes. Default "rowsync".
	NotifyChannel string

	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Registerer receives the metrics; nil registers nowhere.
	Registerer prometheus.Registerer
	// Logger defaults to a discarding logger.
	Logger *slog.Logger
}

// ErrInvalidConfig is wrapped by every Validate error.
var ErrInvalidConfig = errors.New("rows: invalid config")

func (c *Config) setDefaults() {
	if c.MaxRequestBytes == 0 {
		c.MaxRequestBytes = 4 << 20
	}
	if c.MaxMutationsPerPush == 0 {
		c.MaxMutationsPerPush = 500
	}
	if c.MaxOpsPerMutation == 0 {
		c.MaxOpsPerMutation = 1000
	}
	if c.MaxValueBytes == 0 {
		c.MaxValueBytes = 256 << 10
	}
	if c.MaxRowsPerTable == 0 {
		c.MaxRowsPerTable = 1_000_000
	}
	if c.RowCountTTL == 0 {
		c.RowCountTTL = 5 * time.Second
	}
	if c.PushesPerSecond == 0 {
		c.PushesPerSecond = 20
	}
	if c.PushBurst == 0 {
		c.PushBurst = 40
	}
	if c.MaxPullLimit == 0 {
		c.MaxPullLimit = 1000
	}
	if c.MaxLiveConnsPerKey == 0 {
		c.MaxLiveConnsPerKey = 100
	}
	if c.TombstoneRetention == 0 {
		c.TombstoneRetention = 30 * 24 * time.Hour
	}
	if c.CleanupInterval == 0 {
		c.CleanupInterval = time.Hour
	}
	if c.HorizonPollInterval == 0 {
		c.HorizonPollInterval = 2 * time.Millisecond
	}
	if c.LivePingInterval == 0 {
		c.LivePingInterval = 30 * time.Second
	}
	if c.NotifyChannel == "" {
		c.NotifyChannel = "rowsync"
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports the first unusable setting, wrapping ErrInvalidConfig.
// It is called after defaults are applied.
func (c *Config) Validate() error {
	for _, t := range c.Tables {
		if err := validateTableName(t); err != nil {
			return fmt.Errorf("%w: Tables: %q is not a valid table name", ErrInvalidConfig, t)
		}
	}
	if slices.Contains(c.SchemaHashes, "") {
		return fmt.Errorf("%w: SchemaHashes: empty hash", ErrInvalidConfig)
	}
	switch {
	case c.MaxRequestBytes < 1024:
		return fmt.Errorf("%w: MaxRequestBytes %d < 1024", ErrInvalidConfig, c.MaxRequestBytes)
	case c.MaxMutationsPerPush < 1:
		return fmt.Errorf("%w: MaxMutationsPerPush must be positive", ErrInvalidConfig)
	case c.MaxOpsPerMutation < 1:
		return fmt.Errorf("%w: MaxOpsPerMutation must be positive", ErrInvalidConfig)
	case c.MaxValueBytes < 16:
		return fmt.Errorf("%w: MaxValueBytes %d < 16", ErrInvalidConfig, c.MaxValueBytes)
	case c.MaxRowsPerTable < 1:
		return fmt.Errorf("%w: MaxRowsPerTable must be positive", ErrInvalidConfig)
	case c.RowCountTTL < 0:
		return fmt.Errorf("%w: RowCountTTL must not be negative", ErrInvalidConfig)
	case c.PushesPerSecond <= 0:
		return fmt.Errorf("%w: PushesPerSecond must be positive", ErrInvalidConfig)
	case c.PushBurst < 1:
		return fmt.Errorf("%w: PushBurst must be positive", ErrInvalidConfig)
	case c.MaxPullLimit < 1:
		return fmt.Errorf("%w: MaxPullLimit must be positive", ErrInvalidConfig)
	case c.MaxLiveConnsPerKey < 1:
		return fmt.Errorf("%w: MaxLiveConnsPerKey must be positive", ErrInvalidConfig)
	case c.TombstoneRetention <= 0:
		return fmt.Errorf("%w: TombstoneRetention must be positive", ErrInvalidConfig)
	case c.CleanupInterval <= 0:
		return fmt.Errorf("%w: CleanupInterval must be positive", ErrInvalidConfig)
	case c.HorizonPollInterval <= 0:
		return fmt.Errorf("%w: HorizonPollInterval must be positive", ErrInvalidConfig)
	case c.LivePingInterval <= 0:
		return fmt.Errorf("%w: LivePingInterval must be positive", ErrInvalidConfig)
	case !tableNamePattern.MatchString(c.NotifyChannel) || len(c.NotifyChannel) > 63:
		return fmt.Errorf("%w: NotifyChannel %q is not a plain identifier", ErrInvalidConfig, c.NotifyChannel)
	}
	return nil
}

// metrics are the server's Prometheus collectors.
type metrics struct {
	pushes      *prometheus.CounterVec
	mutations   *prometheus.CounterVec
	pullRows    prometheus.Counter
	pulls       *prometheus.CounterVec
	liveConns   prometheus.Gauge
	pokeLatency prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "webhost_rowsync_pushes_total",
			Help: "Row-sync push requests by HTTP status code.",
		}, []string{"code"}),
		mutations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "webhost_rowsync_mutations_total",
			Help: "Pushed mutations by outcome (applied, already, rejected).",
		}, []string{"status"}),
		pullRows: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "webhost_rowsync_pull_rows_total",
			Help: "Changes returned by row-sync pulls.",
		}),
		pulls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "webhost_rowsync_pulls_total",
			Help: "Row-sync pull requests by HTTP status code.",
		}, []string{"code"}),
		liveConns: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "webhost_rowsync_live_connections",
			Help: "Open /v1/sync/live WebSockets on this node.",
		}),
		pokeLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "webhost_rowsync_push_poke_latency_seconds",
			Help:    "Time from a push's commit notification to the poke written to a live client (any node).",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .2, .5, 1, 2, 5},
		}),
	}
	if reg == nil {
		return m, nil
	}
	// Several servers in one process (tests, two nodes) share one set of
	// collectors: an already registered collector is adopted.
	var err error
	m.pushes, err = register(reg, m.pushes)
	if err == nil {
		m.mutations, err = register(reg, m.mutations)
	}
	if err == nil {
		m.pullRows, err = register(reg, m.pullRows)
	}
	if err == nil {
		m.pulls, err = register(reg, m.pulls)
	}
	if err == nil {
		m.liveConns, err = register(reg, m.liveConns)
	}
	if err == nil {
		m.pokeLatency, err = register(reg, m.pokeLatency)
	}
	if err != nil {
		return nil, fmt.Errorf("rows: register metrics: %w", err)
	}
	return m, nil
}

// register registers c, or returns the equal collector registered before.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, err
}
