-- Row sync storage (ROW-SYNC.md): a compacted change log of rows that keeps
-- tombstones, per-client mutation acks, and the per-tenant cursor floor that
-- tombstone cleanup moves.

-- +goose Up
CREATE SCHEMA IF NOT EXISTS rowsync;

-- meta holds the database epoch carried by every cursor. A restored or
-- recreated database gets a new epoch, so old cursors get 410 reset.
CREATE TABLE rowsync.meta (
	singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	epoch uuid NOT NULL DEFAULT gen_random_uuid(),
	created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO rowsync.meta DEFAULT VALUES;

CREATE SEQUENCE rowsync.row_seq AS bigint;

-- rows: one row per (tenant, table, key). Every change rewrites xid (the
-- writing transaction) and seq, so the row moves to the end of the log.
CREATE TABLE rowsync.rows (
	tenant text NOT NULL,
	tbl text NOT NULL,
	pk text NOT NULL,
	value jsonb,
	deleted boolean NOT NULL DEFAULT false,
	version bigint NOT NULL,
	xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
	seq bigint NOT NULL DEFAULT nextval('rowsync.row_seq'),
	deleted_at timestamptz,
	PRIMARY KEY (tenant, tbl, pk)
);
CREATE INDEX rows_feed ON rowsync.rows (tenant, xid, seq);
CREATE INDEX rows_tombstones ON rowsync.rows (deleted_at) WHERE deleted;

-- clients: the last mutation ID processed per client (applied or rejected).
-- xid is the transaction that last moved last_mid.
CREATE TABLE rowsync.clients (
	tenant text NOT NULL,
	client_id text NOT NULL,
	last_mid bigint NOT NULL DEFAULT 0,
	xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant, client_id)
);

-- acks: the outcome of each mutation, kept for the retention period so that
-- pulls can report lastMid below the visibility horizon.
CREATE TABLE rowsync.acks (
	tenant text NOT NULL,
	client_id text NOT NULL,
	mid bigint NOT NULL,
	status text NOT NULL CHECK (status IN ('applied', 'rejected')),
	reason text,
	client_ts bigint,
	xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
	created_at timestamptz NOT NULL,
	PRIMARY KEY (tenant, client_id, mid)
);
CREATE INDEX acks_created ON rowsync.acks (created_at);

-- floors: per tenant, the log position of the newest purged tombstone. A
-- cursor below it may have missed a delete and gets 410 reset.
CREATE TABLE rowsync.floors (
	tenant text PRIMARY KEY,
	xid xid8 NOT NULL,
	seq bigint NOT NULL
);

-- expect_rows aborts the transaction when an upsert wrote fewer rows than
-- planned: a row thought missing was created concurrently, and the mutation
-- is retried from the start.
-- +goose StatementBegin
CREATE FUNCTION rowsync.expect_rows(actual bigint, expected bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	IF actual <> expected THEN
		RAISE EXCEPTION 'rowsync: wrote % rows, expected %', actual, expected USING ERRCODE = 'RSRTY';
	END IF;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP SCHEMA rowsync CASCADE;
