package processes

import (
	"context"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"

	"github.com/webhost-systems/webhost/eventstore"
)

// FuzzRecordedEventFromMessage feeds arbitrary message metadata (what a
// redrive or another subscriber could hand the router) to the decoder: it
// must never panic, and what toMessage encodes must decode to the same
// event.
func FuzzRecordedEventFromMessage(f *testing.F) {
	f.Add("6f1c9d2e-8b7a-4c1d-9e2f-3a4b5c6d7e8f", "deployment-1", uint64(3), uint64(42), uint64(7), "ServerCreated", []byte(`{"a":1}`), `{"tenant":"t","correlation_id":"c"}`, "3", "0000000000000001-0000000000000002")
	f.Add("not-a-uuid", "", uint64(0), uint64(0), uint64(0), "", []byte(nil), "", "-1", "zz")
	f.Add("00000000-0000-0000-0000-000000000000", "s", uint64(1<<63), uint64(1<<62), uint64(1), "X", []byte("{}"), "{", "18446744073709551616", "")
	f.Fuzz(func(t *testing.T, id, stream string, version, commit, prepare uint64, typ string, data []byte, meta, rawVersion, rawPosition string) {
		// Arbitrary metadata: errors are fine, panics are not.
		msg := message.NewMessage(id, data)
		msg.Metadata.Set(MetaStream, stream)
		msg.Metadata.Set(MetaEventType, typ)
		msg.Metadata.Set(MetaStreamVersion, rawVersion)
		msg.Metadata.Set(MetaPosition, rawPosition)
		msg.Metadata.Set(MetaEventMetadata, meta)
		_, _ = RecordedEventFromMessage(msg)

		// Round trip of a well-formed event.
		if stream == "" || typ == "" {
			return
		}
		uid := uuid.NewSHA1(uuid.NameSpaceOID, []byte(id))
		ev := eventstore.RecordedEvent{ID: uid, Stream: stream, Version: version, Position: eventstore.Position{Commit: commit, Prepare: prepare},
			Time: time.Unix(int64(commit%1e9), 0).UTC(), Type: typ, Data: data}
		if meta != "" {
			ev.Metadata = []byte(meta)
		}
		got, err := RecordedEventFromMessage(toMessage(context.Background(), "g", ev, 0))
		if err != nil {
			t.Fatalf("round trip: %v", err)
		}
		if got.ID != ev.ID || got.Stream != ev.Stream || got.Version != ev.Version || got.Position != ev.Position ||
			got.Type != ev.Type || string(got.Data) != string(ev.Data) || string(got.Metadata) != string(ev.Metadata) || !got.Time.Equal(ev.Time) {
			t.Fatalf("round trip: got %+v, want %+v", got, ev)
		}
	})
}
