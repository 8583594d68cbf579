package yws

import (
	"context"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/webhost-systems/webhost/internal/migrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations is the sync/yws schema (tables yws_documents and yws_updates),
// applied with migrate.Up. Its name is stable: it names the version table.
var Migrations = migrate.Component{Name: "yws", FS: mustSub(migrationFiles, "migrations")}

func mustSub(f embed.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err) // the embedded directory is fixed at compile time
	}
	return sub
}

// notifyChannel is the LISTEN/NOTIFY channel on which nodes announce the
// update rows they appended.
const notifyChannel = "yws_updates"

// awarenessChannel is the LISTEN/NOTIFY channel on which nodes relay
// awareness updates ("node;doc;base64"), which are never stored.
const awarenessChannel = "yws_awareness"

// maxAwarenessNotify is the largest awareness update relayed to other nodes:
// its base64 text must fit the 8000-byte NOTIFY payload with the prefix.
const maxAwarenessNotify = 5600

// maxBatchRows bounds a group-commit batch so that its notification (node ID
// and "doc:id,id;" lists of 19-digit ids) stays under PostgreSQL's 8000-byte
// NOTIFY payload limit.
const maxBatchRows = 128

// store is the PostgreSQL persistence of documents and their update logs.
type store struct {
	pool *pgxpool.Pool
}

// ensureDocument returns the id of the customer's document, creating it.
func (s *store) ensureDocument(ctx context.Context, customerID, name string) (int64, error) {
	const q = `WITH ins AS (
	INSERT INTO yws_documents (customer_id, name) VALUES ($1, $2)
	ON CONFLICT (customer_id, name) DO NOTHING RETURNING doc_id)
SELECT doc_id FROM ins
UNION ALL
SELECT doc_id FROM yws_documents WHERE customer_id = $1 AND name = $2
LIMIT 1`
	// A concurrent creator makes ON CONFLICT wait and then return nothing,
	// while the statement's snapshot predates its row: a second try sees it.
	for attempt := 0; ; attempt++ {
		var id int64
		err := s.pool.QueryRow(ctx, q, customerID, name).Scan(&id)
		if err == nil {
			return id, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) || attempt == 2 {
			return 0, fmt.Errorf("ensure document: %w", err)
		}
	}
}

// loadDocument returns the document's snapshot (if any) followed by its log
// rows, read in one statement so that a concurrent compaction is seen either
// entirely or not at all.
func (s *store) loadDocument(ctx context.Context, docID int64) (parts [][]byte, logRows, logBytes int, err error) {
	const q = `SELECT false, snapshot FROM yws_documents WHERE doc_id = $1 AND snapshot IS NOT NULL
UNION ALL
SELECT true, data FROM (SELECT id, data FROM yws_updates WHERE doc_id = $1 ORDER BY id) AS log`
	rows, err := s.pool.Query(ctx, q, docID)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("load document %d: %w", docID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var isLog bool
		var data []byte
		if err := rows.Scan(&isLog, &data); err != nil {
			return nil, 0, 0, fmt.Errorf("load document %d: %w", docID, err)
		}
		if isLog {
			logRows++
			logBytes += len(data)
		}
		parts = append(parts, data)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, 0, fmt.Errorf("load document %d: %w", docID, err)
	}
	return parts, logRows, logBytes, nil
}

// appendBatch inserts the updates (docIDs[i], updates[i]) in one statement
// and, in the same implicit transaction, notifies the other nodes of the new
// rows as "node;doc:id,id;doc:id". Nothing is visible, and nothing is
// notified, unless all rows commit.
func (s *store) appendBatch(ctx context.Context, nodeID string, docIDs []int64, updates [][]byte) error {
	const q = `WITH ins AS (
	INSERT INTO yws_updates (doc_id, data)
	SELECT d, u FROM unnest($1::bigint[], $2::bytea[]) AS t(d, u)
	RETURNING id, doc_id
), per_doc AS (
	SELECT doc_id, string_agg(id::text, ',' ORDER BY id) AS ids FROM ins GROUP BY doc_id
)
SELECT pg_notify($3, $4 || ';' || string_agg(doc_id::text || ':' || ids, ';')) FROM per_doc`
	if _, err := s.pool.Exec(ctx, q, docIDs, updates, notifyChannel, nodeID); err != nil {
		return fmt.Errorf("append %d updates: %w", len(updates), err)
	}
	return nil
}

// notifyAwareness relays an awareness update of a document to other nodes.
func (s *store) notifyAwareness(ctx context.Context, nodeID string, docID int64, update []byte) error {
	payload := nodeID + ";" + strconv.FormatInt(docID, 10) + ";" + base64.StdEncoding.EncodeToString(update)
	if _, err := s.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, awarenessChannel, payload); err != nil {
		return fmt.Errorf("notify awareness of document %d: %w", docID, err)
	}
	return nil
}

// awarenessQuery is the payload tail of a node asking the others for their
// clients' awareness states of a document it just loaded.
const awarenessQuery = "?"

// notifyAwarenessQuery asks the other nodes for their awareness states.
func (s *store) notifyAwarenessQuery(ctx context.Context, nodeID string, docID int64) error {
	payload := nodeID + ";" + strconv.FormatInt(docID, 10) + ";" + awarenessQuery
	if _, err := s.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, awarenessChannel, payload); err != nil {
		return fmt.Errorf("query awareness of document %d: %w", docID, err)
	}
	return nil
}

// parseAwarenessNotification decodes a "node;doc;base64" payload; a nil
// update with no error is a query ("node;doc;?").
func parseAwarenessNotification(payload string) (nodeID string, docID int64, update []byte, err error) {
	parts := strings.SplitN(payload, ";", 3)
	if len(parts) != 3 || parts[0] == "" {
		return "", 0, nil, fmt.Errorf("%w: awareness notification", ErrMalformed)
	}
	if docID, err = strconv.ParseInt(parts[1], 10, 64); err != nil {
		return "", 0, nil, fmt.Errorf("%w: awareness notification doc %q", ErrMalformed, parts[1])
	}
	if parts[2] == awarenessQuery {
		return parts[0], docID, nil, nil
	}
	if update, err = base64.StdEncoding.DecodeString(parts[2]); err != nil {
		return "", 0, nil, fmt.Errorf("%w: awareness notification: %w", ErrMalformed, err)
	}
	return parts[0], docID, update, nil
}

// fetchedRow is one update row read for cross-node fan-out.
type fetchedRow struct {
	id    int64
	docID int64
	data  []byte
}

// fetchRows reads the given update rows; rows compacted away are absent.
func (s *store) fetchRows(ctx context.Context, ids []int64) ([]fetchedRow, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, doc_id, data FROM yws_updates WHERE id = ANY($1) ORDER BY id`, ids)
	if err != nil {
		return nil, fmt.Errorf("fetch %d update rows: %w", len(ids), err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (fetchedRow, error) {
		var f fetchedRow
		err := r.Scan(&f.id, &f.docID, &f.data)
		return f, err
	})
	if err != nil {
		return nil, fmt.Errorf("fetch %d update rows: %w", len(ids), err)
	}
	return out, nil
}

// compactResult says what one compaction did.
type compactResult struct {
	mergedRows  int
	mergedBytes int
	outBytes    int
}

// compact folds the document's log rows older than minAge into its
// snapshot with merge. The document row is locked FOR NO KEY UPDATE, which
// serialises compactions (on any node) without blocking appends (their
// foreign-key check takes only KEY SHARE); the rows merged are deleted by id,
// so rows that commit concurrently stay in the log.
func (s *store) compact(ctx context.Context, docID int64, minAge time.Duration, merge func([][]byte) ([]byte, error)) (compactResult, error) {
	var res compactResult
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var snapshot []byte
		if err := tx.QueryRow(ctx, `SELECT snapshot FROM yws_documents WHERE doc_id = $1 FOR NO KEY UPDATE`, docID).Scan(&snapshot); err != nil {
			return fmt.Errorf("lock document: %w", err)
		}
		rows, err := tx.Query(ctx, `SELECT id, data FROM yws_updates
WHERE doc_id = $1 AND created_at <= now() - make_interval(secs => $2) ORDER BY id`, docID, minAge.Seconds())
		if err != nil {
			return fmt.Errorf("read log: %w", err)
		}
		var ids []int64
		parts := [][]byte{}
		if snapshot != nil {
			parts = append(parts, snapshot)
		}
		for rows.Next() {
			var id int64
			var data []byte
			if err := rows.Scan(&id, &data); err != nil {
				rows.Close()
				return fmt.Errorf("read log: %w", err)
			}
			ids = append(ids, id)
			parts = append(parts, data)
			res.mergedBytes += len(data)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read log: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		merged, err := merge(parts)
		if err != nil {
			return fmt.Errorf("merge %d updates: %w", len(parts), err)
		}
		if _, err := tx.Exec(ctx, `UPDATE yws_documents SET snapshot = $2, snapshot_rows = snapshot_rows + $3, compacted_at = now() WHERE doc_id = $1`,
			docID, merged, len(ids)); err != nil {
			return fmt.Errorf("store snapshot: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM yws_updates WHERE id = ANY($1)`, ids); err != nil {
			return fmt.Errorf("delete merged rows: %w", err)
		}
		res.mergedRows = len(ids)
		res.outBytes = len(merged)
		return nil
	})
	if err != nil {
		return compactResult{}, fmt.Errorf("compact document %d: %w", docID, err)
	}
	return res, nil
}

// notification is a parsed "node;doc:id,id;doc:id" payload.
type notification struct {
	nodeID string
	docs   map[int64][]int64
}

// parseNotification decodes a notification payload.
func parseNotification(payload string) (notification, error) {
	parts := strings.Split(payload, ";")
	if len(parts) < 2 || parts[0] == "" {
		return notification{}, fmt.Errorf("%w: notification %q", ErrMalformed, payload)
	}
	n := notification{nodeID: parts[0], docs: make(map[int64][]int64, len(parts)-1)}
	for _, p := range parts[1:] {
		docStr, idList, ok := strings.Cut(p, ":")
		if !ok {
			return notification{}, fmt.Errorf("%w: notification entry %q", ErrMalformed, p)
		}
		docID, err := strconv.ParseInt(docStr, 10, 64)
		if err != nil {
			return notification{}, fmt.Errorf("%w: notification doc %q", ErrMalformed, docStr)
		}
		for _, s := range strings.Split(idList, ",") {
			id, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return notification{}, fmt.Errorf("%w: notification row %q", ErrMalformed, s)
			}
			n.docs[docID] = append(n.docs[docID], id)
		}
	}
	return n, nil
}
