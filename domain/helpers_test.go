package domain

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// gwt is one given/when/then case: given past events, when a command, then
// these events or this error.
type gwt[C any] struct {
	name  string
	given []Event
	when  C
	then  []Event
	err   error // matched with errors.Is; nil means success
}

func runGWT[S any, C any](t *testing.T, fold func(...Event) (S, error), decide func(S, C) ([]Event, error), evolve func(S, Event) S, cases []gwt[C]) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			state, err := fold(tc.given...)
			if err != nil {
				t.Fatalf("given: %v", err)
			}
			got, err := decide(state, tc.when)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("error = %v, want %v", err, tc.err)
				}
				if got != nil {
					t.Fatalf("events %v returned with error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !reflect.DeepEqual(got, tc.then) {
				t.Fatalf("events:\n got %#v\nwant %#v", got, tc.then)
			}
			// Every decided event applies, encodes and decodes.
			all := append(append([]Event{}, tc.given...), got...)
			if _, err := fold(all...); err != nil {
				t.Fatalf("decided events do not fold: %v", err)
			}
			for _, e := range got {
				typ, data, meta, err := EncodeEvent(e, Metadata{Tenant: "c"})
				if err != nil {
					t.Fatalf("encode: %v", err)
				}
				back, _, err := DecodeEvent(typ, data, meta)
				if err != nil {
					t.Fatalf("decode: %v", err)
				}
				if !reflect.DeepEqual(evolve(state, back), evolve(state, e)) {
					t.Fatalf("decoded %s evolves differently", typ)
				}
			}
		})
	}
}
