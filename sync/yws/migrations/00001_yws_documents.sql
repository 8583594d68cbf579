-- +goose Up
-- One row per Yjs document, namespaced by customer. snapshot holds the
-- merged update of every log row compaction has folded in (NULL before the
-- first compaction); the document's full state is snapshot + its log rows.
CREATE TABLE yws_documents (
    doc_id        bigserial PRIMARY KEY,
    customer_id   text        NOT NULL,
    name          text        NOT NULL,
    snapshot      bytea,
    snapshot_rows bigint      NOT NULL DEFAULT 0,
    compacted_at  timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (customer_id, name)
);

-- The update log: every update a client sent, appended before it is
-- broadcast. Compaction deletes exactly the rows it merged into the snapshot.
CREATE TABLE yws_updates (
    id         bigserial   PRIMARY KEY,
    doc_id     bigint      NOT NULL REFERENCES yws_documents (doc_id) ON DELETE CASCADE,
    data       bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX yws_updates_doc_id ON yws_updates (doc_id, id);

-- +goose Down
DROP TABLE yws_updates;
DROP TABLE yws_documents;
