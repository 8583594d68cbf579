-- +goose Up
CREATE SCHEMA IF NOT EXISTS secrets;

-- One data key per owner (a customer ID, or "platform"), wrapped with the
-- master key (AES-256-GCM). Crypto-shredding sets wrapped_key to NULL and
-- keeps the row as a tombstone, so that nothing new is ever encrypted for a
-- shredded owner and reads report "erased" rather than "not found".
CREATE TABLE secrets.data_keys (
    owner       text        PRIMARY KEY,
    kek_id      text,
    wrapped_key bytea,
    created_at  timestamptz NOT NULL,
    shredded_at timestamptz,
    CHECK ((wrapped_key IS NULL) = (shredded_at IS NOT NULL)),
    CHECK ((wrapped_key IS NULL) = (kek_id IS NULL))
);

-- Secrets sealed with their owner's data key. Events refer to them by id.
CREATE TABLE secrets.secrets (
    id         text        PRIMARY KEY,
    owner      text        NOT NULL REFERENCES secrets.data_keys (owner),
    kind       text        NOT NULL,
    sealed     bytea,
    created_at timestamptz NOT NULL
);
CREATE INDEX secrets_owner_idx ON secrets.secrets (owner);

COMMENT ON TABLE secrets.data_keys IS 'Per-owner data keys wrapped with WEBHOST_SECRET_KEY; NULL wrapped_key = crypto-shredded.';
COMMENT ON TABLE secrets.secrets IS 'AES-256-GCM sealed secrets (nonce || ciphertext); NULL sealed = erased.';

-- +goose Down
DROP SCHEMA secrets CASCADE;
