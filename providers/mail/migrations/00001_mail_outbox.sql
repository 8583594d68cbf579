-- +goose Up
-- Every notification e-mail, keyed by its message ID (idempotency). With
-- SMTP configured a row records the delivery (status 'sent'); without, the
-- row is the outbox that admins read (status 'stored').
CREATE TABLE mail_outbox (
    id          text PRIMARY KEY,
    recipient   text        NOT NULL,
    subject     text        NOT NULL,
    body        text        NOT NULL,
    status      text        NOT NULL CHECK (status IN ('pending', 'sent', 'stored')),
    created_at  timestamptz NOT NULL,
    sent_at     timestamptz
);
CREATE INDEX mail_outbox_created_at ON mail_outbox (created_at DESC, id);

-- +goose Down
DROP TABLE mail_outbox;
