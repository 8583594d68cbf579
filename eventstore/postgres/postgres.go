// Package postgres is the PostgreSQL eventstore.Store, the default store on
// machines without EventStoreDB. Its tables live in the schema `eventstore`,
// created by Migrations (`webhost migrate`).
//
// Global order is (transaction ID, sequence). Reads of $all only return rows
// whose transaction is below pg_snapshot_xmin(pg_current_snapshot()), so a
// reader never skips an event that commits after a later-positioned one.
// Subscriptions are woken by LISTEN/NOTIFY and by appends in this process,
// and poll as a fallback.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/webhost-systems/webhost/eventstore"
	"github.com/webhost-systems/webhost/internal/migrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations creates the `eventstore` schema.
var Migrations = migrate.Component{Name: "eventstore", FS: mustSub(migrationFiles, "migrations")}

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err)
	}
	return sub
}

// Config tunes a Store. The zero value is valid.
type Config struct {
	// Channel is the NOTIFY channel (default "webhost_eventstore").
	Channel string
	// PollInterval is the subscriptions' fallback poll (default 1s).
	PollInterval time.Duration
	// BatchSize is the page size of subscriptions (default 512).
	BatchSize int
	// AppendRetries bounds internal retries of Any-appends that lose a race
	// for the next stream version (default 16).
	AppendRetries int
	Logger        *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Channel == "" {
		c.Channel = "webhost_eventstore"
	}
	if c.PollInterval <= 0 {
		c.PollInterval = time.Second
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 512
	}
	if c.AppendRetries <= 0 {
		c.AppendRetries = 16
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if len(c.Channel) > 63 {
		return fmt.Errorf("postgres eventstore: channel name %q longer than 63 bytes", c.Channel)
	}
	return nil
}

// Store is the PostgreSQL event store. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
	cfg  Config

	wake     *broadcaster
	notifyCh chan struct{}

	startOnce sync.Once
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
}

var _ eventstore.Store = (*Store)(nil)

// New returns a store on pool. The schema must exist (Migrations).
func New(ctx context.Context, pool *pgxpool.Pool, cfg Config) (*Store, error) {
	if pool == nil {
		return nil, errors.New("postgres eventstore: nil pool")
	}
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('eventstore.events') IS NOT NULL`).Scan(&exists); err != nil {
		return nil, fmt.Errorf("postgres eventstore: check schema: %w", err)
	}
	if !exists {
		return nil, errors.New("postgres eventstore: table eventstore.events missing: run `webhost migrate`")
	}
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &Store{pool: pool, cfg: cfg, wake: newBroadcaster(), notifyCh: make(chan struct{}, 1), ctx: bg, cancel: cancel}
	s.wg.Add(1)
	go s.notifier()
	return s, nil
}

// Close stops the store's background goroutines. It does not close the pool.
func (s *Store) Close() error {
	s.cancel()
	s.wg.Wait()
	return nil
}

const appendSQL = `
WITH cur AS (
    SELECT coalesce(max(stream_version), -1) AS v FROM eventstore.events WHERE stream_id = $1
), ins AS (
    INSERT INTO eventstore.events (event_id, stream_id, stream_version, event_type, data, metadata)
    SELECT e.id, $1, cur.v + e.n, e.typ, e.data::json, e.meta::json
    FROM cur, unnest($2::uuid[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS e(id, typ, data, meta, n)
    WHERE CASE $6::int WHEN 0 THEN true WHEN 1 THEN cur.v = -1 WHEN 2 THEN cur.v >= 0 ELSE cur.v = $7::bigint END
    RETURNING stream_version, global_position
)
SELECT (SELECT v FROM cur), coalesce(max(stream_version), -1), coalesce(max(global_position), 0),
       CASE WHEN count(*) > 0 THEN pg_current_xact_id()::text ELSE '0' END
FROM ins`

// appendOneSQL is appendSQL for the common single-event batch, without the
// unnest and aggregation. When the expectation fails it returns no row and
// the caller reads the actual version.
const appendOneSQL = `
INSERT INTO eventstore.events (event_id, stream_id, stream_version, event_type, data, metadata)
SELECT $2::uuid, $1, cur.v + 1, $3, $4::text::json, $5::text::json
FROM (SELECT coalesce(max(stream_version), -1) AS v FROM eventstore.events WHERE stream_id = $1) AS cur
WHERE CASE $6::int WHEN 0 THEN true WHEN 1 THEN cur.v = -1 WHEN 2 THEN cur.v >= 0 ELSE cur.v = $7::bigint END
RETURNING stream_version, global_position, transaction_id::text AS transaction_id_text`

// querier is satisfied by the pool and by a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Append implements eventstore.Store. The batch is one statement, so one
// transaction.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events ...eventstore.Event) (eventstore.AppendResult, error) {
	res, err := s.append(ctx, s.pool, stream, expected, events)
	if err != nil {
		return eventstore.AppendResult{}, err
	}
	s.wake.broadcast()
	select {
	case s.notifyCh <- struct{}{}:
	default: // a NOTIFY is already pending; it covers this append too
	}
	return res, nil
}

// AppendTx appends inside the caller's transaction, which decides when the
// events commit. Subscribers in other processes are woken by the polling
// fallback or the next NOTIFY; call Wake after committing to wake them now.
func (s *Store) AppendTx(ctx context.Context, tx pgx.Tx, stream string, expected eventstore.ExpectedVersion, events ...eventstore.Event) (eventstore.AppendResult, error) {
	return s.append(ctx, tx, stream, expected, events)
}

// Wake signals subscribers, here and in other processes, that events may
// have been committed.
func (s *Store) Wake() {
	s.wake.broadcast()
	select {
	case s.notifyCh <- struct{}{}:
	default:
	}
}

func (s *Store) append(ctx context.Context, q querier, stream string, expected eventstore.ExpectedVersion, events []eventstore.Event) (eventstore.AppendResult, error) {
	if err := ctx.Err(); err != nil {
		return eventstore.AppendResult{}, fmt.Errorf("append %s: %w", stream, err)
	}
	if err := eventstore.ValidateEvents(stream, events); err != nil {
		return eventstore.AppendResult{}, err
	}
	ids := make([]uuid.UUID, len(events))
	types := make([]string, len(events))
	data := make([]string, len(events))
	meta := make([]string, len(events))
	for i, e := range events {
		ids[i], types[i], data[i] = e.ID, e.Type, string(e.Data)
		meta[i] = "{}"
		if len(e.Metadata) > 0 {
			meta[i] = string(e.Metadata)
		}
	}
	kind, exact := expectedArgs(expected)
	for attempt := 0; ; attempt++ {
		var before, last, position int64
		var xid string
		var err error
		if len(events) == 1 {
			err = q.QueryRow(ctx, appendOneSQL, stream, ids[0], types[0], data[0], meta[0], kind, exact).Scan(&last, &position, &xid)
			if errors.Is(err, pgx.ErrNoRows) { // the expectation did not hold
				last, err = -1, nil
				if before, err = s.streamVersionIn(ctx, q, stream); err != nil {
					return eventstore.AppendResult{}, err
				}
			}
		} else {
			err = q.QueryRow(ctx, appendSQL, stream, ids, types, data, meta, kind, exact).Scan(&before, &last, &position, &xid)
		}
		if err == nil && last >= 0 {
			pos, perr := positionOf(xid, position)
			if perr != nil {
				return eventstore.AppendResult{}, fmt.Errorf("append %s: %w", stream, perr)
			}
			return eventstore.AppendResult{NextExpectedVersion: uint64(last), Position: pos}, nil
		}
		var pgErr *pgconn.PgError
		switch {
		case err == nil: // the expectation did not hold
			if res, done, ierr := s.idempotent(ctx, q, stream, ids); done {
				return res, ierr
			}
			return eventstore.AppendResult{}, &eventstore.WrongExpectedVersionError{Stream: stream, Expected: expected, Actual: before}
		case errors.As(err, &pgErr) && pgErr.Code == "23505":
			if pgErr.ConstraintName == "events_event_id_key" {
				if _, inTx := q.(pgx.Tx); !inTx {
					if res, done, ierr := s.idempotent(ctx, q, stream, ids); done {
						return res, ierr
					}
				}
				return eventstore.AppendResult{}, fmt.Errorf("append %s: %w", stream, eventstore.ErrDuplicateEventID)
			}
			// Another writer took the next version after our snapshot.
			if _, inTx := q.(pgx.Tx); inTx || !expected.IsAny() || attempt >= s.cfg.AppendRetries {
				actual, aerr := s.streamVersion(ctx, stream)
				if aerr != nil {
					return eventstore.AppendResult{}, aerr
				}
				if _, inTx := q.(pgx.Tx); !inTx {
					if res, done, ierr := s.idempotent(ctx, q, stream, ids); done {
						return res, ierr
					}
				}
				return eventstore.AppendResult{}, &eventstore.WrongExpectedVersionError{Stream: stream, Expected: expected, Actual: actual}
			}
		default:
			return eventstore.AppendResult{}, fmt.Errorf("append %s: %w", stream, err)
		}
	}
}

func expectedArgs(e eventstore.ExpectedVersion) (kind int, exact int64) {
	switch {
	case e.IsNoStream():
		return 1, 0
	case e.IsStreamExists():
		return 2, 0
	}
	if v, ok := e.ExactVersion(); ok {
		return 3, int64(v)
	}
	return 0, 0
}

func (s *Store) streamVersion(ctx context.Context, stream string) (int64, error) {
	return s.streamVersionIn(ctx, s.pool, stream)
}

func (s *Store) streamVersionIn(ctx context.Context, q querier, stream string) (int64, error) {
	var v int64
	err := q.QueryRow(ctx, `SELECT coalesce(max(stream_version), -1) FROM eventstore.events WHERE stream_id = $1`, stream).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("read version of %s: %w", stream, err)
	}
	return v, nil
}

// idempotent checks whether the batch is already stored. done is false when
// none of its events is.
func (s *Store) idempotent(ctx context.Context, q querier, stream string, ids []uuid.UUID) (eventstore.AppendResult, bool, error) {
	rows, err := q.Query(ctx, `
SELECT e.event_id, e.stream_id, e.stream_version, e.transaction_id::text, e.global_position
FROM unnest($1::uuid[]) WITH ORDINALITY AS b(id, n)
JOIN eventstore.events e ON e.event_id = b.id
ORDER BY b.n`, ids)
	if err != nil {
		return eventstore.AppendResult{}, true, fmt.Errorf("append %s: check idempotency: %w", stream, err)
	}
	type stored struct {
		id      uuid.UUID
		stream  string
		version int64
		xid     string
		pos     int64
	}
	found, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (stored, error) {
		var st stored
		return st, r.Scan(&st.id, &st.stream, &st.version, &st.xid, &st.pos)
	})
	if err != nil {
		return eventstore.AppendResult{}, true, fmt.Errorf("append %s: check idempotency: %w", stream, err)
	}
	if len(found) == 0 {
		return eventstore.AppendResult{}, false, nil
	}
	if len(found) < len(ids) {
		return eventstore.AppendResult{}, true, fmt.Errorf("%w: batch for %q repeats %d of %d stored events", eventstore.ErrDuplicateEventID, stream, len(found), len(ids))
	}
	for i, f := range found {
		if f.stream != stream {
			return eventstore.AppendResult{}, true, fmt.Errorf("%w: %s is already in stream %q", eventstore.ErrDuplicateEventID, f.id, f.stream)
		}
		if f.id != ids[i] || f.version != found[0].version+int64(i) {
			return eventstore.AppendResult{}, true, fmt.Errorf("%w: batch for %q does not match the stored order", eventstore.ErrDuplicateEventID, stream)
		}
	}
	last := found[len(found)-1]
	pos, err := positionOf(last.xid, last.pos)
	if err != nil {
		return eventstore.AppendResult{}, true, fmt.Errorf("append %s: %w", stream, err)
	}
	return eventstore.AppendResult{NextExpectedVersion: uint64(last.version), Position: pos}, true, nil
}

// selectColumns aliases every cast: an output column named like a table
// column would win over it in ORDER BY, and xids would sort as text.
const selectColumns = `event_id, stream_id, stream_version, transaction_id::text AS transaction_id_text, global_position, event_type, data::text AS data_text, metadata::text AS metadata_text, created_at`

func scanEvent(row pgx.CollectableRow) (eventstore.RecordedEvent, error) {
	var e eventstore.RecordedEvent
	var xid, data, meta string
	var version, pos int64
	if err := row.Scan(&e.ID, &e.Stream, &version, &xid, &pos, &e.Type, &data, &meta, &e.Time); err != nil {
		return e, err
	}
	var err error
	if e.Position, err = positionOf(xid, pos); err != nil {
		return e, err
	}
	e.Version = uint64(version)
	e.Data, e.Metadata = []byte(data), []byte(meta)
	e.Time = e.Time.UTC()
	return e, nil
}

// ReadStream implements eventstore.Store.
func (s *Store) ReadStream(ctx context.Context, stream string, opts eventstore.ReadStreamOptions) ([]eventstore.RecordedEvent, error) {
	limit := int64(opts.Limit)
	if limit <= 0 {
		limit = -1
	}
	var sql string
	from := int64(opts.From)
	if opts.Direction == eventstore.Backwards {
		if opts.From == eventstore.EndOfStream || opts.From > 1<<62 {
			from = 1 << 62
		}
		sql = `SELECT ` + selectColumns + ` FROM eventstore.events WHERE stream_id = $1 AND stream_version <= $2 ORDER BY stream_version DESC LIMIT CASE WHEN $3::bigint < 0 THEN NULL ELSE $3::bigint END`
	} else {
		if opts.From > 1<<62 {
			from = 1 << 62
		}
		sql = `SELECT ` + selectColumns + ` FROM eventstore.events WHERE stream_id = $1 AND stream_version >= $2 ORDER BY stream_version LIMIT CASE WHEN $3::bigint < 0 THEN NULL ELSE $3::bigint END`
	}
	read := func() ([]eventstore.RecordedEvent, error) {
		rows, err := s.pool.Query(ctx, sql, stream, from, limit)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", stream, err)
		}
		events, err := pgx.CollectRows(rows, scanEvent)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", stream, err)
		}
		return events, nil
	}
	events, err := read()
	if err != nil || len(events) > 0 {
		return events, err
	}
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM eventstore.events WHERE stream_id = $1)`, stream).Scan(&exists); err != nil {
		return nil, fmt.Errorf("read %s: %w", stream, err)
	}
	if !exists {
		return nil, fmt.Errorf("read %s: %w", stream, eventstore.ErrStreamNotFound)
	}
	// The stream was created after the first read's snapshot: read again.
	return read()
}

// readAllSQL builds the $all query for one filter shape. Each shape is its
// own prepared statement, so a cached generic plan never has to cover an
// optional filter (which made it abandon the ordered index scan).
func readAllSQL(types, prefixes bool) string {
	sql := `
SELECT ` + selectColumns + `
FROM eventstore.events
WHERE (transaction_id, global_position) > ($1::text::xid8, $2::bigint)
  AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())`
	n := 3
	if types {
		sql += fmt.Sprintf("\n  AND event_type = ANY($%d::text[])", n)
		n++
	}
	if prefixes {
		sql += fmt.Sprintf("\n  AND EXISTS (SELECT 1 FROM unnest($%d::text[]) AS p(prefix) WHERE starts_with(stream_id, p.prefix))", n)
		n++
	}
	return sql + fmt.Sprintf("\nORDER BY transaction_id, global_position\nLIMIT $%d", n)
}

var readAllStatements = [4]string{
	readAllSQL(false, false), readAllSQL(true, false), readAllSQL(false, true), readAllSQL(true, true),
}

// ReadAll implements eventstore.Store. Only events below the visibility
// horizon are returned, so the result never has a gap that a later commit
// could fill.
func (s *Store) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) ([]eventstore.RecordedEvent, error) {
	limit := opts.Limit
	if limit <= 0 {
		limit = eventstore.DefaultReadAllLimit
	}
	args := []any{strconv.FormatUint(opts.After.Commit, 10), int64(opts.After.Prepare)}
	shape := 0
	if len(opts.Filter.EventTypes) > 0 {
		args = append(args, opts.Filter.EventTypes)
		shape |= 1
	}
	if len(opts.Filter.StreamPrefixes) > 0 {
		args = append(args, opts.Filter.StreamPrefixes)
		shape |= 2
	}
	args = append(args, limit)
	rows, err := s.pool.Query(ctx, readAllStatements[shape], args...)
	if err != nil {
		return nil, fmt.Errorf("read all after %s: %w", opts.After, err)
	}
	events, err := pgx.CollectRows(rows, scanEvent)
	if err != nil {
		return nil, fmt.Errorf("read all after %s: %w", opts.After, err)
	}
	return events, nil
}

// Head implements eventstore.Store: the last position a reader can reach now.
func (s *Store) Head(ctx context.Context) (eventstore.Position, error) {
	var xid string
	var pos int64
	err := s.pool.QueryRow(ctx, `
SELECT transaction_id::text AS transaction_id_text, global_position FROM eventstore.events
WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY transaction_id DESC, global_position DESC LIMIT 1`).Scan(&xid, &pos)
	if errors.Is(err, pgx.ErrNoRows) {
		return eventstore.Start, nil
	}
	if err != nil {
		return eventstore.Position{}, fmt.Errorf("read head: %w", err)
	}
	p, err := positionOf(xid, pos)
	if err != nil {
		return eventstore.Position{}, fmt.Errorf("read head: %w", err)
	}
	return p, nil
}

// positionOf makes the Position of a row from its transaction ID (read as
// text: pgx has no xid8 codec) and its global position.
func positionOf(xid string, globalPosition int64) (eventstore.Position, error) {
	commit, err := strconv.ParseUint(xid, 10, 64)
	if err != nil {
		return eventstore.Position{}, fmt.Errorf("parse transaction id %q: %w", xid, err)
	}
	return eventstore.Position{Commit: commit, Prepare: uint64(globalPosition)}, nil
}

// Subscribe implements eventstore.Store.
func (s *Store) Subscribe(ctx context.Context, after eventstore.Position, filter eventstore.Filter) (eventstore.Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.startOnce.Do(func() {
		s.wg.Add(1)
		go s.listen()
	})
	return eventstore.NewPollingSubscription(ctx, eventstore.PollingSource{
		Read: func(ctx context.Context, after eventstore.Position, limit int) ([]eventstore.RecordedEvent, error) {
			return s.ReadAll(ctx, eventstore.ReadAllOptions{After: after, Limit: limit, Filter: filter})
		},
		Changed:      s.wake.current,
		PollInterval: s.cfg.PollInterval,
		BatchSize:    s.cfg.BatchSize,
	}, after), nil
}

// notifier sends one NOTIFY per burst of local appends, outside the append
// transactions: NOTIFY inside them would serialise every commit on the
// notification queue lock.
func (s *Store) notifier() {
	defer s.wg.Done()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.notifyCh:
		}
		ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
		_, err := s.pool.Exec(ctx, `SELECT pg_notify($1, '')`, s.cfg.Channel)
		cancel()
		if err != nil && s.ctx.Err() == nil {
			s.cfg.Logger.Warn("eventstore notify failed; subscribers elsewhere fall back to polling", "err", err)
		}
	}
}

// listen holds a LISTEN connection and wakes subscribers on each NOTIFY,
// reconnecting with backoff.
func (s *Store) listen() {
	defer s.wg.Done()
	backoff := 100 * time.Millisecond
	for s.ctx.Err() == nil {
		err := s.listenOnce()
		if s.ctx.Err() != nil {
			return
		}
		s.cfg.Logger.Warn("eventstore listener lost; reconnecting", "err", err, "backoff", backoff)
		s.wake.broadcast() // let subscribers poll while we are away
		select {
		case <-time.After(backoff):
		case <-s.ctx.Done():
			return
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (s *Store) listenOnce() error {
	conn, err := s.pool.Acquire(s.ctx)
	if err != nil {
		return fmt.Errorf("acquire listen connection: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(s.ctx, "LISTEN "+pgx.Identifier{s.cfg.Channel}.Sanitize()); err != nil {
		conn.Conn().Close(context.Background())
		return fmt.Errorf("listen: %w", err)
	}
	s.wake.broadcast() // events may have been appended before LISTEN took effect
	for {
		_, err := conn.Conn().WaitForNotification(s.ctx)
		if err != nil {
			// The connection state is unknown after an interrupted wait.
			conn.Conn().Close(context.Background())
			return fmt.Errorf("wait for notification: %w", err)
		}
		s.wake.broadcast()
	}
}

// broadcaster wakes every waiter at once: current returns a channel that the
// next broadcast closes.
type broadcaster struct {
	mu sync.Mutex
	ch chan struct{}
}

func newBroadcaster() *broadcaster { return &broadcaster{ch: make(chan struct{})} }

func (b *broadcaster) current() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ch
}

func (b *broadcaster) broadcast() {
	b.mu.Lock()
	defer b.mu.Unlock()
	close(b.ch)
	b.ch = make(chan struct{})
}
