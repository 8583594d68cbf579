package domain

import (
	"reflect"
	"testing"
)

// FuzzDecodeEvent feeds stored-event bytes (type, data, metadata) to the
// decoder: it must never panic, and whatever it accepts must encode and
// decode to the same event.
func FuzzDecodeEvent(f *testing.F) {
	for _, e := range sampleEvents() {
		typ, data, meta, err := EncodeEvent(e, Metadata{Tenant: "c1", Actor: "system"})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(typ, data, meta)
	}
	f.Add(TypeAPIKeyIssued, []byte(`{"scope":"write"}`), []byte(`{"schema_version":1}`))
	f.Add(TypeCustomerSignedUp, []byte(`{"slug":`), []byte(`{}`))
	f.Fuzz(func(t *testing.T, typ string, data, meta []byte) {
		e, m, err := DecodeEvent(typ, data, meta)
		if err != nil {
			return
		}
		if m.SchemaVersion < 1 {
			t.Fatalf("schema version %d accepted", m.SchemaVersion)
		}
		typ2, data2, meta2, err := EncodeEvent(e, m)
		if err != nil {
			t.Fatalf("re-encode %s: %v", typ, err)
		}
		e2, _, err := DecodeEvent(typ2, data2, meta2)
		if err != nil {
			t.Fatalf("decode re-encoded %s: %v", typ, err)
		}
		if !reflect.DeepEqual(e, e2) {
			t.Fatalf("round trip differs: %#v vs %#v", e, e2)
		}
	})
}
