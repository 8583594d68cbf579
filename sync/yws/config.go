package yws

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/webhost-systems/webhost/sync/syncauth"
)

// Config configures a Server. Zero fields take the defaults documented on
// each field.
type Config struct {
	// Pool is the PostgreSQL pool holding the yws schema (required).
	Pool *pgxpool.Pool
	// Auth resolves the `token` query parameter (required).
	Auth syncauth.Authenticator
	// Codec is the Yjs update algebra (required; sync/yjs in production).
	Codec Codec
	// Logger receives structured logs (default: discard).
	Logger *slog.Logger
	// Registerer receives the server's metrics (default: none registered).
	Registerer prometheus.Registerer
	// Now is the clock (default time.Now).
	Now func() time.Time
	// NodeID names this process in cross-node notifications; it must be
	// unique among the nodes sharing a database (default: 16 random hex
	// digits). It may not contain ';' or ':'.
	NodeID string

	// PathPrefix is stripped from the request path to give the room name
	// (default "/sync/").
	PathPrefix string
	// MaxNameBytes bounds the room name (default 512).
	MaxNameBytes int
	// MaxMessageBytes is the largest WebSocket message accepted; a larger one
	// closes the connection with 1009 (default 8 MiB).
	MaxMessageBytes int64
	// MessagesPerSecond and MessageBurst limit each connection's incoming
	// messages; exceeding them closes it with 1008 (default 200/s, burst 400).
	MessagesPerSecond float64
	MessageBurst      int
	// MaxConnsPerDocument bounds the connections of one document on this node;
	// one more is closed with 1013 (default 1000).
	MaxConnsPerDocument int
	// SendQueue is the per-connection outgoing queue; a connection whose
	// queue overflows is closed with 1008 (default 1024 messages).
	SendQueue int
	// PingInterval and PongTimeout drive the keepalive (default 30s, 15s).
	PingInterval time.Duration
	PongTimeout  time.Duration
	// WriteTimeout bounds one frame write (default 10s).
	WriteTimeout time.Duration

	// GroupCommitWindow is how long the first update of a batch waits for
	// more before the batch is inserted. The default, 0, adds no wait: while
	// one batch is being inserted the next accumulates anyway, so batches
	// grow with the load and a lone update is not delayed.
	GroupCommitWindow time.Duration
	// MaxBatchRows bounds a batch (default and maximum 128, for the NOTIFY
	// payload limit).
	MaxBatchRows int
	// AppendQueue is the number of updates waiting for the committer before
	// readers block (default 4096).
	AppendQueue int

	// CompactRows and CompactBytes trigger a compaction of a document whose
	// log grew past either (default 2000 rows, 4 MiB).
	CompactRows  int
	CompactBytes int
	// CompactMinAge keeps log rows younger than this out of a compaction, so
	// that other nodes can still read rows they were just notified of
	// (default 2s).
	CompactMinAge time.Duration
	// MergePendingBytes bounds the in-memory updates of a loaded document
	// before they are merged into its state (default 256 KiB).
	MergePendingBytes int
	// IdleTimeout unloads a document that has had no connection this long
	// (default 30s); IdleCheckInterval is how often that is checked
	// (default IdleTimeout/3).
	IdleTimeout       time.Duration
	IdleCheckInterval time.Duration
	// ReauthInterval is how often open connections re-present their key, so
	// that a revoked key (ErrUnauthenticated) is closed with 4401 and a key
	// that lost its write scope stops writing (default 1m).
	ReauthInterval time.Duration
	// ListenRetry is the delay before the LISTEN connection is re-established
	// after a failure (default 1s).
	ListenRetry time.Duration
}

// ErrInvalidConfig is returned by Validate and New for a bad Config.
var ErrInvalidConfig = errors.New("yws: invalid config")

func (c *Config) setDefaults() error {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.NodeID == "" {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return fmt.Errorf("yws: node id: %w", err)
		}
		c.NodeID = hex.EncodeToString(b[:])
	}
	setDefault(&c.PathPrefix, "/sync/")
	setDefault(&c.MaxNameBytes, 512)
	setDefault(&c.MaxMessageBytes, 8<<20)
	setDefault(&c.MessagesPerSecond, 200)
	setDefault(&c.MessageBurst, 400)
	setDefault(&c.MaxConnsPerDocument, 1000)
	setDefault(&c.SendQueue, 1024)
	setDefault(&c.PingInterval, 30*time.Second)
	setDefault(&c.PongTimeout, 15*time.Second)
	setDefault(&c.WriteTimeout, 10*time.Second)
	setDefault(&c.MaxBatchRows, maxBatchRows)
	setDefault(&c.AppendQueue, 4096)
	setDefault(&c.CompactRows, 2000)
	setDefault(&c.CompactBytes, 4<<20)
	setDefault(&c.CompactMinAge, 2*time.Second)
	setDefault(&c.MergePendingBytes, 256<<10)
	setDefault(&c.IdleTimeout, 30*time.Second)
	setDefault(&c.IdleCheckInterval, c.IdleTimeout/3)
	setDefault(&c.ReauthInterval, time.Minute)
	setDefault(&c.ListenRetry, time.Second)
	return nil
}

func setDefault[T comparable](field *T, def T) {
	var zero T
	if *field == zero {
		*field = def
	}
}

// Validate reports the first problem of a Config after defaults are
// applied, wrapped in ErrInvalidConfig.
func (c *Config) Validate() error {
	switch {
	case c.Pool == nil:
		return fmt.Errorf("%w: Pool is required", ErrInvalidConfig)
	case c.Auth == nil:
		return fmt.Errorf("%w: Auth is required", ErrInvalidConfig)
	case c.Codec == nil:
		return fmt.Errorf("%w: Codec is required", ErrInvalidConfig)
	case strings.ContainsAny(c.NodeID, ";:"):
		return fmt.Errorf("%w: NodeID %q contains ';' or ':'", ErrInvalidConfig, c.NodeID)
	case !strings.HasPrefix(c.PathPrefix, "/") || !strings.HasSuffix(c.PathPrefix, "/"):
		return fmt.Errorf("%w: PathPrefix %q must start and end with '/'", ErrInvalidConfig, c.PathPrefix)
	case c.MaxBatchRows < 1 || c.MaxBatchRows > maxBatchRows:
		return fmt.Errorf("%w: MaxBatchRows must be in [1, %d]", ErrInvalidConfig, maxBatchRows)
	case c.MaxNameBytes < 1, c.MaxMessageBytes < 1, c.MessagesPerSecond <= 0, c.MessageBurst < 1,
		c.MaxConnsPerDocument < 1, c.SendQueue < 1, c.AppendQueue < 1, c.CompactRows < 2, c.CompactBytes < 1,
		c.MergePendingBytes < 1:
		return fmt.Errorf("%w: sizes, counts and rates must be positive (CompactRows at least 2)", ErrInvalidConfig)
	case c.PingInterval <= 0, c.PongTimeout <= 0, c.WriteTimeout <= 0, c.GroupCommitWindow < 0,
		c.CompactMinAge < 0, c.IdleTimeout <= 0, c.IdleCheckInterval <= 0, c.ListenRetry <= 0, c.ReauthInterval <= 0:
		return fmt.Errorf("%w: durations must be positive", ErrInvalidConfig)
	}
	return nil
}

// Codec is the Yjs v1 update algebra the server needs; sync/yjs implements
// it (see YjsCodec).
type Codec interface {
	// MergeUpdates merges updates into one.
	MergeUpdates(updates [][]byte) ([]byte, error)
	// DiffUpdate returns the part of update missing from stateVector.
	DiffUpdate(update, stateVector []byte) ([]byte, error)
	// EncodeStateVectorFromUpdate returns the state vector of update; it
	// fails on an update that does not decode.
	EncodeStateVectorFromUpdate(update []byte) ([]byte, error)
	// ValidateUpdate checks a whole update, delete set included, so that a
	// corrupt update is never stored (it would break every later
	// compaction and sync step 2 of its document).
	ValidateUpdate(update []byte) error
}
