package projections

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/webhost-systems/webhost/domain"
)

const eventLogDDL = `
CREATE TABLE event_log (
    position       text        PRIMARY KEY,
    event_id       text        NOT NULL,
    stream         text        NOT NULL,
    stream_version bigint      NOT NULL,
    type           text        NOT NULL,
    tenant         text        NOT NULL,
    actor          text        NOT NULL,
    correlation_id text        NOT NULL,
    causation_id   text        NOT NULL,
    command_id     text        NOT NULL,
    schema_version integer     NOT NULL,
    recorded_at    timestamptz NOT NULL,
    data           jsonb       NOT NULL
);
CREATE INDEX event_log_tenant_idx ON event_log (tenant, position);
CREATE INDEX event_log_stream_idx ON event_log (stream, stream_version);
CREATE INDEX event_log_type_idx ON event_log (type, position);
COMMENT ON TABLE event_log IS 'Every event of the log, flattened for audit: data as stored (schema_version says its layout).';
`

// EventLog is the projection of read.event_log, the flattened audit log of
// every event. Its name, NameEventLog, is stable: renaming it means a
// replay.
func EventLog() *Projection {
	return &Projection{
		Name:    NameEventLog,
		Schema:  "read",
		Version: 1,
		Tables:  []string{"event_log"},
		DDL:     eventLogDDL,
		Handles: func(string) bool { return true },
		Apply:   applyEventLog,
	}
}

func applyEventLog(b *Batch, env Envelope) error {
	rec := env.Record
	var meta domain.Metadata
	if md := bytes.TrimSpace(rec.Metadata); len(md) > 0 && !bytes.Equal(md, []byte("null")) {
		if err := json.Unmarshal(md, &meta); err != nil {
			return fmt.Errorf("metadata: %w", err)
		}
	}
	if meta.SchemaVersion == 0 {
		meta.SchemaVersion = 1
	}
	data := bytes.TrimSpace(rec.Data)
	if len(data) == 0 {
		data = []byte("null")
	}
	b.Queue(`INSERT INTO event_log (position, event_id, stream, stream_version, type, tenant, actor, correlation_id, causation_id,
			command_id, schema_version, recorded_at, data)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		rec.Position.String(), rec.ID.String(), clean(rec.Stream), int64(rec.Version), clean(rec.Type), clean(meta.Tenant), clean(meta.Actor),
		clean(meta.CorrelationID), clean(meta.CausationID), clean(meta.CommandID), meta.SchemaVersion, rec.Time, sanitizeJSON(data))
	return nil
}

// sanitizeJSON replaces the escape \u0000, which jsonb cannot store, with
// \ufffd. Escapes are walked pair by pair, so an escaped backslash
// followed by the text u0000 stays as it is.
func sanitizeJSON(data []byte) json.RawMessage {
	if !bytes.Contains(data, []byte(`\u0000`)) {
		return data
	}
	out := make([]byte, 0, len(data))
	for i := 0; i < len(data); i++ {
		if data[i] == '\\' && i+1 < len(data) {
			if bytes.HasPrefix(data[i:], []byte(`\u0000`)) {
				out = append(out, `\ufffd`...)
				i += 5
				continue
			}
			out = append(out, data[i], data[i+1])
			i++
			continue
		}
		out = append(out, data[i])
	}
	return out
}
