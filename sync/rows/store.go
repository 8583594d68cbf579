package rows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// errMidGap is returned by applyMutation when a mutation skips mids.
type midGapError struct{ expected int64 }

func (e *midGapError) Error() string {
	return fmt.Sprintf("rows: mid gap: expected mid %d", e.expected)
}

// errRetryMutation means a concurrent push created a row this mutation
// thought missing; the mutation is retried from the start.
var errRetryMutation = errors.New("rows: concurrent insert, retry mutation")

// mutationInput is one mutation to apply for a client.
type mutationInput struct {
	tenant   string
	clientID string
	mutation Mutation
	// reject, when set, is the reason the mutation was refused before it
	// reached the database (scope, tenant, size); it is stored as rejected.
	reject string
	// notify sends the NOTIFY right after this mutation's COMMIT (the last
	// mutation of a push).
	notify bool
}

// mutationOutcome is the result of applying one mutation.
type mutationOutcome struct {
	status   string
	reason   string
	lastMID  int64
	changed  int    // rows written
	xid      uint64 // the transaction that recorded the mutation
	notified bool   // the NOTIFY for this and earlier mutations was sent
}

// store is the PostgreSQL side of row sync.
type store struct {
	pool    *pgxpool.Pool
	cfg     *Config
	channel string

	countsMu sync.Mutex
	counts   map[[2]string]*rowCount

	// beforeCommit, when set (tests only), runs after a mutation's writes
	// and before its COMMIT, with the transaction still open.
	beforeCommit func(in mutationInput)
}

type rowCount struct {
	live      int64
	fetchedAt time.Time
}

func newStore(pool *pgxpool.Pool, cfg *Config) *store {
	return &store{pool: pool, cfg: cfg, channel: cfg.NotifyChannel, counts: map[[2]string]*rowCount{}}
}

func (s *store) loadEpoch(ctx context.Context) ([16]byte, error) {
	var epoch [16]byte
	if err := s.pool.QueryRow(ctx, `SELECT epoch FROM rowsync.meta`).Scan(&epoch); err != nil {
		return epoch, fmt.Errorf("rows: load epoch (is the rowsync migration applied?): %w", err)
	}
	return epoch, nil
}

// lastMID returns the client's last processed mid without locking. It only
// grows, so mids at or below it are "already" without a transaction.
func (s *store) lastMID(ctx context.Context, conn *pgxpool.Conn, tenant, clientID string) (int64, error) {
	var last int64
	err := conn.QueryRow(ctx, `SELECT last_mid FROM rowsync.clients WHERE tenant = $1 AND client_id = $2`, tenant, clientID).Scan(&last)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("rows: read last mid: %w", err)
	}
	return last, nil
}

// applyMutation applies one mutation in its own transaction, following
// ROW-SYNC.md: already (mid ≤ last_mid), gap (*midGapError), or apply and
// record the ack. A mutation that breaks a rule is stored as rejected and
// still advances last_mid. Rows are written with the transaction's xid8 and
// a fresh seq, and a NOTIFY wakes the tenant's live clients on every node.
func (s *store) applyMutation(ctx context.Context, conn *pgxpool.Conn, in mutationInput) (mutationOutcome, error) {
	for attempt := 0; ; attempt++ {
		out, err := s.applyOnce(ctx, conn, in)
		if errors.Is(err, errRetryMutation) && attempt < 5 {
			continue
		}
		return out, err
	}
}

func (s *store) applyOnce(ctx context.Context, conn *pgxpool.Conn, in mutationInput) (out mutationOutcome, err error) {
	m := in.mutation
	committed := false
	defer func() {
		if !committed && !conn.Conn().PgConn().IsClosed() && conn.Conn().PgConn().TxStatus() != 'I' {
			// A failed rollback leaves the connection in a transaction;
			// the pool destroys such connections on release.
			_, _ = conn.Exec(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()

	// One round trip: begin, make sure the client row exists, lock it, and
	// lock the mutation's rows (always in this order: client, then rows by
	// key, so concurrent pushes cannot deadlock).
	var pl *plan
	if in.reject == "" {
		pl = newPlan(m)
	}
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue(`INSERT INTO rowsync.clients (tenant, client_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, in.tenant, in.clientID)
	b.Queue(`SELECT last_mid FROM rowsync.clients WHERE tenant = $1 AND client_id = $2 FOR UPDATE`, in.tenant, in.clientID)
	if pl != nil {
		pl.queueLock(b, in.tenant)
	}
	br := conn.SendBatch(ctx, b)
	_, err1 := br.Exec()
	_, err2 := br.Exec()
	var last int64
	err3 := br.QueryRow().Scan(&last)
	var err4 error
	if pl != nil && err3 == nil {
		err4 = pl.scanLocked(br)
	}
	if err := errors.Join(err1, err2, err3, err4, br.Close()); err != nil {
		return out, fmt.Errorf("rows: lock client and rows: %w", err)
	}
	if m.MID <= last {
		return mutationOutcome{status: StatusAlready, lastMID: last}, nil
	}
	if m.MID > last+1 {
		return mutationOutcome{lastMID: last}, &midGapError{expected: last + 1}
	}

	reason := in.reject
	var writes []rowWrite
	var deltas map[string]int64
	if pl != nil {
		writes, deltas, reason = s.computeWrites(in.mutation, pl)
	}
	if reason == "" {
		reason, err = s.checkRowLimits(ctx, conn, in.tenant, deltas)
		if err != nil {
			return out, err
		}
	}

	status := StatusApplied
	b = &pgx.Batch{}
	if reason != "" {
		status = StatusRejected
		writes = nil
	}
	if len(writes) > 0 {
		queueUpsert(b, in.tenant, writes, s.cfg.Now())
	}
	var reasonArg *string
	if reason != "" {
		reasonArg = &reason
	}
	b.Queue(`INSERT INTO rowsync.acks (tenant, client_id, mid, status, reason, client_ts, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		in.tenant, in.clientID, m.MID, status, reasonArg, m.TS, s.cfg.Now())
	b.Queue(`UPDATE rowsync.clients SET last_mid = $3, xid = pg_current_xact_id(), updated_at = $4 WHERE tenant = $1 AND client_id = $2`,
		in.tenant, in.clientID, m.MID, s.cfg.Now())
	// The NOTIFY is sent after COMMIT (see notify): inside the transaction
	// it would serialize every commit, fsync included, on the notify queue
	// lock. The transaction's xid tells the listeners when it is visible.
	xidIndex := b.Len()
	b.Queue(`SELECT pg_current_xact_id()::text`)
	notified := false
	if s.beforeCommit == nil {
		b.Queue("COMMIT")
		if in.notify && len(writes) > 0 {
			// Right after COMMIT, in the same round trip. clients.xid is
			// this transaction's xid (or a newer one of the same client).
			b.Queue(`SELECT pg_notify($1, (SELECT xid::text FROM rowsync.clients WHERE tenant = $2 AND client_id = $3) || ' ' || $4::text || ' ' || $2::text)`,
				s.channel, in.tenant, in.clientID, strconv.FormatInt(time.Now().UnixNano(), 10))
			notified = true
		}
	}
	br = conn.SendBatch(ctx, b)
	// Statements after a failed one are skipped by the server up to the
	// batch's end, so a failed upsert never reaches COMMIT.
	var xidText string
	for i := 0; i < b.Len(); i++ {
		var err error
		if i == xidIndex {
			err = br.QueryRow().Scan(&xidText)
		} else {
			_, err = br.Exec()
		}
		if err != nil {
			_ = br.Close()
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && pgErr.Code == sqlstateRetry {
				return out, errRetryMutation
			}
			return out, fmt.Errorf("rows: write mutation %d: %w", m.MID, err)
		}
	}
	if err := br.Close(); err != nil {
		return out, fmt.Errorf("rows: commit mutation: %w", err)
	}
	if s.beforeCommit != nil {
		s.beforeCommit(in)
		if _, err := conn.Exec(ctx, "COMMIT"); err != nil {
			return out, fmt.Errorf("rows: commit mutation: %w", err)
		}
	}
	committed = true
	s.addCounts(in.tenant, deltas)
	xid, err := strconv.ParseUint(xidText, 10, 64)
	if err != nil {
		return out, fmt.Errorf("rows: parse xid %q: %w", xidText, err)
	}
	return mutationOutcome{status: status, reason: reason, lastMID: m.MID, changed: len(writes), xid: xid, notified: notified}, nil
}

// notify tells every node's listeners that tenant's rows changed in
// transactions up to xid. It runs after the commits it announces; a node
// pokes its live clients once xid is below the visibility horizon.
func (s *store) notify(ctx context.Context, conn *pgxpool.Conn, tenant string, xid uint64) error {
	// The wall-clock send time lets listeners time push→poke latency.
	payload := strconv.FormatUint(xid, 10) + " " + strconv.FormatInt(time.Now().UnixNano(), 10) + " " + tenant
	if _, err := conn.Exec(ctx, `SELECT pg_notify($1, $2)`, s.channel, payload); err != nil {
		return fmt.Errorf("rows: notify: %w", err)
	}
	return nil
}

// sqlstateRetry is raised by rowsync.expect_rows when an upsert wrote fewer
// rows than planned.
const sqlstateRetry = "RSRTY"

// rowWrite is the new state of one row.
type rowWrite struct {
	tbl, pk string
	value   json.RawMessage
	deleted bool
	version int64
}

// rowKey names a row within a tenant.
type rowKey struct{ tbl, pk string }

// plan holds the rows a mutation touches, as locked and read.
type plan struct {
	states  map[rowKey]*rowState
	wasLive map[rowKey]bool
	order   []rowKey
	tbls    []string
	pks     []string
}

func newPlan(m Mutation) *plan {
	p := &plan{states: map[rowKey]*rowState{}, wasLive: map[rowKey]bool{}}
	for _, op := range m.Ops {
		k := rowKey{op.Table, op.Key}
		if _, ok := p.states[k]; ok {
			continue
		}
		p.states[k] = &rowState{}
		p.order = append(p.order, k)
		p.tbls = append(p.tbls, op.Table)
		p.pks = append(p.pks, op.Key)
	}
	return p
}

// queueLock reads and locks the stored rows (live or tombstones) in key
// order.
func (p *plan) queueLock(b *pgx.Batch, tenant string) {
	b.Queue(`
		SELECT r.tbl, r.pk, r.value, r.deleted, r.version
		FROM rowsync.rows r
		JOIN unnest($2::text[], $3::text[]) AS k(tbl, pk) ON r.tbl = k.tbl AND r.pk = k.pk
		WHERE r.tenant = $1
		ORDER BY r.tbl, r.pk
		FOR UPDATE OF r`, tenant, p.tbls, p.pks)
}

func (p *plan) scanLocked(br pgx.BatchResults) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k rowKey
		var value []byte
		var st rowState
		if err := rows.Scan(&k.tbl, &k.pk, &value, &st.deleted, &st.version); err != nil {
			return fmt.Errorf("scan row: %w", err)
		}
		st.exists = true
		if value != nil {
			st.value = json.RawMessage(value)
		}
		if dst, ok := p.states[k]; ok {
			*dst = st
			p.wasLive[k] = !st.deleted
		}
	}
	return rows.Err()
}

// computeWrites applies the mutation's ops in order to the locked rows and
// returns the rows to write and the change of live rows per table, or a
// rejection reason.
func (s *store) computeWrites(m Mutation, p *plan) ([]rowWrite, map[string]int64, string) {
	for _, op := range m.Ops {
		st := p.states[rowKey{op.Table, op.Key}]
		if _, err := applyOp(st, op); err != nil {
			return nil, nil, fmt.Sprintf("invalid_patch: %s/%s: %v", op.Table, op.Key, err)
		}
	}
	var writes []rowWrite
	deltas := map[string]int64{}
	for _, k := range p.order {
		st := p.states[k]
		if !st.changed {
			continue
		}
		if len(st.value) > s.cfg.MaxValueBytes {
			return nil, nil, fmt.Sprintf("value_too_large: %s/%s is %d bytes, the limit is %d", k.tbl, k.pk, len(st.value), s.cfg.MaxValueBytes)
		}
		isLive := !st.deleted
		switch {
		case isLive && !p.wasLive[k]:
			deltas[k.tbl]++
		case !isLive && p.wasLive[k]:
			deltas[k.tbl]--
		}
		// A row's version moves once per mutation that changes it; a
		// missing row starts at 1, a tombstone continues its count.
		writes = append(writes, rowWrite{tbl: k.tbl, pk: k.pk, value: st.value, deleted: st.deleted, version: st.version + 1})
	}
	return writes, deltas, ""
}

func queueUpsert(b *pgx.Batch, tenant string, writes []rowWrite, now time.Time) {
	tbls := make([]string, len(writes))
	pks := make([]string, len(writes))
	values := make([]*string, len(writes))
	deleted := make([]bool, len(writes))
	versions := make([]int64, len(writes))
	for i, w := range writes {
		tbls[i], pks[i], deleted[i], versions[i] = w.tbl, w.pk, w.deleted, w.version
		if w.value != nil {
			v := string(w.value)
			values[i] = &v
		}
	}
	// version = old + 1; the conflict branch only fires when the stored
	// version is the one this mutation read, so a row created concurrently
	// (thought missing here) is not overwritten: the mutation retries.
	b.Queue(`
		WITH up AS (
		INSERT INTO rowsync.rows AS r (tenant, tbl, pk, value, deleted, version, deleted_at)
		SELECT $1, u.tbl, u.pk, u.value::jsonb, u.deleted, u.version,
			CASE WHEN u.deleted THEN $7::timestamptz END
		FROM unnest($2::text[], $3::text[], $4::text[], $5::bool[], $6::bigint[]) AS u(tbl, pk, value, deleted, version)
		ON CONFLICT (tenant, tbl, pk) DO UPDATE SET
			value = EXCLUDED.value,
			deleted = EXCLUDED.deleted,
			version = EXCLUDED.version,
			deleted_at = EXCLUDED.deleted_at,
			xid = pg_current_xact_id(),
			seq = nextval('rowsync.row_seq')
		WHERE r.version = EXCLUDED.version - 1
		RETURNING 1)
		SELECT rowsync.expect_rows(count(*), $8) FROM up`,
		tenant, tbls, pks, values, deleted, versions, now, int64(len(writes)))
}

// checkRowLimits returns a rejection reason when a mutation would push a
// table over MaxRowsPerTable.
func (s *store) checkRowLimits(ctx context.Context, conn *pgxpool.Conn, tenant string, deltas map[string]int64) (string, error) {
	for tbl, d := range deltas {
		if d <= 0 {
			continue
		}
		live, err := s.liveRows(ctx, conn, tenant, tbl)
		if err != nil {
			return "", err
		}
		if live+d > s.cfg.MaxRowsPerTable {
			return fmt.Sprintf("table_full: table %q would hold %d rows, the limit is %d", tbl, live+d, s.cfg.MaxRowsPerTable), nil
		}
	}
	return "", nil
}

// liveRows counts on the push's own connection: taking a second one from
// the pool while holding the first could starve the pool.
func (s *store) liveRows(ctx context.Context, conn *pgxpool.Conn, tenant, tbl string) (int64, error) {
	key := [2]string{tenant, tbl}
	now := s.cfg.Now()
	s.countsMu.Lock()
	c, ok := s.counts[key]
	if ok && now.Sub(c.fetchedAt) < s.cfg.RowCountTTL {
		live := c.live
		s.countsMu.Unlock()
		return live, nil
	}
	s.countsMu.Unlock()
	var live int64
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM rowsync.rows WHERE tenant = $1 AND tbl = $2 AND NOT deleted`, tenant, tbl).Scan(&live); err != nil {
		return 0, fmt.Errorf("rows: count rows of %q: %w", tbl, err)
	}
	s.countsMu.Lock()
	s.counts[key] = &rowCount{live: live, fetchedAt: now}
	s.countsMu.Unlock()
	return live, nil
}

func (s *store) addCounts(tenant string, deltas map[string]int64) {
	if len(deltas) == 0 {
		return
	}
	s.countsMu.Lock()
	defer s.countsMu.Unlock()
	for tbl, d := range deltas {
		if c, ok := s.counts[[2]string{tenant, tbl}]; ok {
			c.live += d
		}
	}
}

// pullPage is one page read in one snapshot.
type pullPage struct {
	epoch   [16]byte
	horizon uint64
	floor   position
	changes []Change
	last    position // position of the last change
	hasMore bool
	lastMID int64
}

// pull reads up to limit changes after from, below the visibility horizon
// pg_snapshot_xmin(pg_current_snapshot()), in one REPEATABLE READ snapshot
// and one round trip.
func (s *store) pull(ctx context.Context, tenant, clientID string, tables []string, from position, limit int) (pullPage, error) {
	var page pullPage
	b := &pgx.Batch{}
	b.Queue("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
	b.Queue(`SELECT pg_snapshot_xmin(pg_current_snapshot())::text, m.epoch, f.xid::text, f.seq
		FROM rowsync.meta m LEFT JOIN rowsync.floors f ON f.tenant = $1`, tenant)
	// Qualified names: a bare "ORDER BY xid" would sort by the xid::text
	// output column.
	b.Queue(`SELECT r.tbl, r.pk, r.value, r.deleted, r.version, r.xid::text AS xid_text, r.seq
		FROM rowsync.rows r
		WHERE r.tenant = $1 AND r.tbl = ANY($2::text[])
			AND (r.xid, r.seq) > ($3::text::xid8, $4::bigint)
			AND r.xid < pg_snapshot_xmin(pg_current_snapshot())
		ORDER BY r.xid, r.seq
		LIMIT $5`, tenant, tables, strconv.FormatUint(from.XID, 10), from.Seq, limit+1)
	b.Queue(`SELECT CASE WHEN c.xid < h.x THEN c.last_mid
			ELSE COALESCE((SELECT max(a.mid) FROM rowsync.acks a
				WHERE a.tenant = c.tenant AND a.client_id = c.client_id AND a.xid < h.x), 0) END
		FROM rowsync.clients c, (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS x) h
		WHERE c.tenant = $1 AND c.client_id = $2`, tenant, clientID)
	b.Queue("COMMIT")
	br := s.pool.SendBatch(ctx, b)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return page, fmt.Errorf("rows: pull begin: %w", err)
	}
	var horizon string
	var floorXID *string
	var floorSeq *int64
	if err := br.QueryRow().Scan(&horizon, &page.epoch, &floorXID, &floorSeq); err != nil {
		return page, fmt.Errorf("rows: pull horizon: %w", err)
	}
	h, err := strconv.ParseUint(horizon, 10, 64)
	if err != nil {
		return page, fmt.Errorf("rows: parse horizon %q: %w", horizon, err)
	}
	page.horizon = h
	if floorXID != nil && floorSeq != nil {
		fx, err := strconv.ParseUint(*floorXID, 10, 64)
		if err != nil {
			return page, fmt.Errorf("rows: parse floor %q: %w", *floorXID, err)
		}
		page.floor = position{XID: fx, Seq: *floorSeq}
	}
	rows, err := br.Query()
	if err != nil {
		return page, fmt.Errorf("rows: pull rows: %w", err)
	}
	page.changes = make([]Change, 0, min(limit, 1024))
	for rows.Next() {
		var ch Change
		var value []byte
		var deleted bool
		var xid string
		var seq int64
		if err := rows.Scan(&ch.Table, &ch.Key, &value, &deleted, &ch.Version, &xid, &seq); err != nil {
			rows.Close()
			return page, fmt.Errorf("rows: scan change: %w", err)
		}
		if len(page.changes) == limit {
			page.hasMore = true
			continue
		}
		x, err := strconv.ParseUint(xid, 10, 64)
		if err != nil {
			rows.Close()
			return page, fmt.Errorf("rows: parse xid %q: %w", xid, err)
		}
		if deleted {
			ch.Op = ChangeDelete
		} else {
			ch.Op = ChangeUpsert
			ch.Value = json.RawMessage(value)
		}
		page.changes = append(page.changes, ch)
		page.last = position{XID: x, Seq: seq}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return page, fmt.Errorf("rows: pull rows: %w", err)
	}
	if err := br.QueryRow().Scan(&page.lastMID); err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return page, fmt.Errorf("rows: pull last mid: %w", err)
	}
	if _, err := br.Exec(); err != nil {
		return page, fmt.Errorf("rows: pull commit: %w", err)
	}
	return page, nil
}

// horizon returns the current visibility horizon.
func (s *store) horizon(ctx context.Context) (uint64, error) {
	var h string
	if err := s.pool.QueryRow(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot())::text`).Scan(&h); err != nil {
		return 0, fmt.Errorf("rows: read horizon: %w", err)
	}
	x, err := strconv.ParseUint(h, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("rows: parse horizon %q: %w", h, err)
	}
	return x, nil
}

// cleanupBatch bounds the rows one cleanup statement deletes.
const cleanupBatch = 10_000

// cleanup purges tombstones deleted before cutoff, moving each affected
// tenant's cursor floor to the newest purged position, and acks recorded
// before cutoff. It returns the number of tombstones purged.
func (s *store) cleanup(ctx context.Context, cutoff time.Time) (int64, error) {
	var purged int64
	for {
		var n int64
		err := s.pool.QueryRow(ctx, `
			WITH del AS (
				DELETE FROM rowsync.rows r
				USING (SELECT tenant, tbl, pk FROM rowsync.rows
					WHERE deleted AND deleted_at < $1 LIMIT $2) d
				WHERE r.tenant = d.tenant AND r.tbl = d.tbl AND r.pk = d.pk
					AND r.deleted AND r.deleted_at < $1
				RETURNING r.tenant, r.xid, r.seq
			), newest AS (
				SELECT DISTINCT ON (tenant) tenant, xid, seq FROM del
				ORDER BY tenant, xid DESC, seq DESC
			), floors AS (
				INSERT INTO rowsync.floors AS f (tenant, xid, seq)
				SELECT tenant, xid, seq FROM newest
				ON CONFLICT (tenant) DO UPDATE SET xid = EXCLUDED.xid, seq = EXCLUDED.seq
				WHERE (f.xid, f.seq) < (EXCLUDED.xid, EXCLUDED.seq)
			)
			SELECT count(*) FROM del`, cutoff, cleanupBatch).Scan(&n)
		if err != nil {
			return purged, fmt.Errorf("rows: purge tombstones: %w", err)
		}
		purged += n
		if n < cleanupBatch {
			break
		}
	}
	for {
		tag, err := s.pool.Exec(ctx, `
			DELETE FROM rowsync.acks a
			USING (SELECT tenant, client_id, mid FROM rowsync.acks WHERE created_at < $1 LIMIT $2) d
			WHERE a.tenant = d.tenant AND a.client_id = d.client_id AND a.mid = d.mid`, cutoff, cleanupBatch)
		if err != nil {
			return purged, fmt.Errorf("rows: purge acks: %w", err)
		}
		if tag.RowsAffected() < cleanupBatch {
			break
		}
	}
	return purged, nil
}
