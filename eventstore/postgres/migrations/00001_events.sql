-- +goose Up
CREATE SCHEMA IF NOT EXISTS eventstore;

-- One row per event. The global order is (transaction_id, global_position):
-- readers only read rows whose transaction is below the visibility horizon
-- pg_snapshot_xmin(pg_current_snapshot()), so a transaction that commits
-- late with a lower position is never skipped (as watermill-sql and Emmett).
CREATE TABLE eventstore.events (
    global_position bigint GENERATED ALWAYS AS IDENTITY,
    transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
    event_id        uuid        NOT NULL,
    stream_id       text        NOT NULL,
    stream_version  bigint      NOT NULL CHECK (stream_version >= 0),
    event_type      text        NOT NULL,
    data            json        NOT NULL,
    metadata        json        NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- The global order, and the index $all reads scan. global_position
    -- alone is unique too (identity), so this key is.
    PRIMARY KEY (transaction_id, global_position)
);

-- Optimistic concurrency: exactly one writer wins each stream version.
CREATE UNIQUE INDEX events_stream_version_key ON eventstore.events (stream_id, stream_version);
-- Idempotency: an event ID is stored once.
CREATE UNIQUE INDEX events_event_id_key ON eventstore.events (event_id);

COMMENT ON TABLE eventstore.events IS 'WebHost event log. Append-only; rows are never updated or deleted.';

-- +goose Down
DROP SCHEMA eventstore CASCADE;
