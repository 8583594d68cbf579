package domain

import (
	"encoding/json"
	"testing"
)

// BenchmarkDecodeEvent compares DecodeEvent (metadata, version check,
// upcasting, typed decode) with a bare json.Unmarshal of the same data into
// the struct, for a current event and for a v1 event that is upcast.
func BenchmarkDecodeEvent(b *testing.B) {
	typ, data, meta, err := EncodeEvent(PlanChanged{SubscriptionID: "s1", CustomerID: "c1", FromPlan: PlanHobby, ToPlan: PlanStarter, ChangedAt: t0},
		Metadata{Tenant: "c1", CorrelationID: "x", CausationID: "y", Actor: "system", CommandID: "z"})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("event=PlanChanged/impl=baseline", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			var e PlanChanged
			if err := json.Unmarshal(data, &e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("event=PlanChanged/impl=codec", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, _, err := DecodeEvent(typ, data, meta); err != nil {
				b.Fatal(err)
			}
		}
	})
	v1 := []byte(`{"key_id":"k1","customer_id":"c1","name":"ci","prefix":"whs_live_abcd","hash":"` + testHash + `","scope":"write","issued_at":"2026-11-27T12:00:00Z"}`)
	v1meta := []byte(`{"tenant":"c1","schema_version":1}`)
	b.Run("event=APIKeyIssuedV1/impl=baseline", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			var e APIKeyIssued
			if err := json.Unmarshal(v1, &e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("event=APIKeyIssuedV1/impl=codec", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, _, err := DecodeEvent(TypeAPIKeyIssued, v1, v1meta); err != nil {
				b.Fatal(err)
			}
		}
	})
}
