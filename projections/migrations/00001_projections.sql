-- +goose Up
-- Schemas of the read side. The tables inside `read` and `auth` are created
-- by the projections themselves (projections.Manager.Ensure) from the DDL in
-- Go, so that a rebuild can create the same tables in a shadow schema and
-- swap them in; a DDL change bumps the projection's version and triggers a
-- rebuild.
CREATE SCHEMA IF NOT EXISTS projections;
CREATE SCHEMA IF NOT EXISTS read;
CREATE SCHEMA IF NOT EXISTS auth;

-- One row per projection (and per running rebuild, name@shadow): the
-- position of the last event applied, written in the same transaction as
-- the read-model rows.
CREATE TABLE projections.checkpoints (
    name           text        PRIMARY KEY,
    position       text        NOT NULL DEFAULT '',
    version        integer     NOT NULL,
    events_applied bigint      NOT NULL DEFAULT 0,
    updated_at     timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE projections.checkpoints IS 'Last applied event position per projection; position is eventstore.Position.String() (fixed-width hex, sorts like the log).';

-- +goose Down
DROP SCHEMA auth CASCADE;
DROP SCHEMA read CASCADE;
DROP SCHEMA projections CASCADE;
