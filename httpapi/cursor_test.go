package httpapi

import (
	"errors"
	"testing"
)

func TestCursorRoundTripAndRejects(t *testing.T) {
	pos := "00000000000cad30-0000000000000019"
	got, err := DecodeCursor(EncodeCursor(cursorEvents, pos), cursorEvents)
	if err != nil || got != pos {
		t.Fatalf("round trip: %q %v", got, err)
	}
	for _, bad := range []string{"!!", EncodeCursor(cursorCustomers, pos), EncodeCursor(cursorEvents, "nope"), EncodeCursor(cursorEvents, "")} {
		if _, err := DecodeCursor(bad, cursorEvents); !errors.Is(err, errInvalidCursor) {
			t.Fatalf("%q: %v", bad, err)
		}
	}
}

// FuzzDecodeCursor: any client-supplied cursor either decodes to a value
// that re-encodes to the same cursor, or is rejected as invalid.
func FuzzDecodeCursor(f *testing.F) {
	f.Add(EncodeCursor(cursorEvents, "00000000000cad30-0000000000000019"), cursorEvents)
	f.Add(EncodeCursor(cursorCustomers, "5c0f1d7e-8a4b-4c1e-9a57-2f6f3c1d0a01"), cursorCustomers)
	f.Add("djE6ZTo", cursorEvents)
	f.Add("", cursorCustomers)
	f.Fuzz(func(t *testing.T, cursor, kind string) {
		v, err := DecodeCursor(cursor, kind)
		if err != nil {
			if !errors.Is(err, errInvalidCursor) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if cursor == "" {
			if v != "" {
				t.Fatal("empty cursor decoded to a value")
			}
			return
		}
		if EncodeCursor(kind, v) != cursor {
			t.Fatalf("cursor %q decodes to %q, which encodes differently", cursor, v)
		}
	})
}
