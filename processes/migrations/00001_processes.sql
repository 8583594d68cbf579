-- +goose Up
CREATE SCHEMA IF NOT EXISTS processes;

-- One row per process-manager group: the position of $all up to which every
-- event was handled. Positions are eventstore.Position strings, whose text
-- order is their log order; the runner only ever moves them forward.
CREATE TABLE processes.checkpoints (
	group_name text PRIMARY KEY,
	position   text NOT NULL,
	updated_at timestamptz NOT NULL DEFAULT now()
);

-- Which process holds a group's advisory lock (for operators; the lock
-- itself is pg_advisory_lock).
CREATE TABLE processes.leases (
	group_name  text PRIMARY KEY,
	holder      text NOT NULL,
	acquired_at timestamptz NOT NULL
);

-- Events a handler gave up on after its retries. An admin lists them and
-- asks for a redrive (status 'redrive'); the group's active runner then
-- handles the event again and marks it 'redriven', or 'poisoned' again.
CREATE TABLE processes.poison (
	id                   bigserial PRIMARY KEY,
	group_name           text NOT NULL,
	handler              text NOT NULL,
	event_id             uuid NOT NULL,
	stream               text NOT NULL,
	stream_version       bigint NOT NULL,
	event_type           text NOT NULL,
	position             text NOT NULL,
	correlation_id       text NOT NULL DEFAULT '',
	reason               text NOT NULL,
	times_poisoned       int NOT NULL DEFAULT 1,
	status               text NOT NULL DEFAULT 'poisoned' CHECK (status IN ('poisoned', 'redrive', 'redriven')),
	poisoned_at          timestamptz NOT NULL,
	redrive_requested_at timestamptz,
	redriven_at          timestamptz,
	UNIQUE (group_name, event_id)
);
CREATE INDEX poison_status ON processes.poison (group_name, status);

-- The deployment that currently serves each subscription (process-manager
-- state: a plan change moves it to the migration target once the
-- migration completes).
CREATE TABLE processes.active_deployments (
	subscription_id uuid PRIMARY KEY,
	customer_id     uuid NOT NULL,
	deployment_id   uuid NOT NULL,
	updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Notifications waiting for a mail transport (when no SMTP server is
-- configured). The recipient is the ID of the encrypted e-mail secret,
-- never the address.
CREATE TABLE processes.outbox (
	id              text PRIMARY KEY,
	customer_id     text NOT NULL,
	email_secret_id text NOT NULL,
	kind            text NOT NULL,
	subject         text NOT NULL,
	body            text NOT NULL,
	created_at      timestamptz NOT NULL
);

-- +goose Down
DROP SCHEMA processes CASCADE;
