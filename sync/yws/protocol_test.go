package yws

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestDecodeMessages(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want []Message
	}{
		{"sync step 1", EncodeSync(SyncStep1, []byte{1, 5, 3}), []Message{{Type: MessageSync, SyncType: SyncStep1, Payload: []byte{1, 5, 3}}}},
		{"sync step 2", EncodeSync(SyncStep2, []byte{0, 0}), []Message{{Type: MessageSync, SyncType: SyncStep2, Payload: []byte{0, 0}}}},
		{"update", EncodeSync(SyncUpdate, bytes.Repeat([]byte{7}, 300)), []Message{{Type: MessageSync, SyncType: SyncUpdate, Payload: bytes.Repeat([]byte{7}, 300)}}},
		{"awareness", EncodeAwarenessMessage([]byte{1, 2, 3}), []Message{{Type: MessageAwareness, Payload: []byte{1, 2, 3}}}},
		{"query awareness", EncodeQueryAwareness(), []Message{{Type: MessageQueryAwareness}}},
		{"auth denied", EncodeAuthDenied("no"), []Message{{Type: MessageAuth, AuthReason: "no"}}},
		{"two in one frame", append(EncodeQueryAwareness(), EncodeSync(SyncStep1, []byte{0})...),
			[]Message{{Type: MessageQueryAwareness}, {Type: MessageSync, SyncType: SyncStep1, Payload: []byte{0}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeMessages(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestDecodeMessagesRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"unknown type", []byte{9}},
		{"unknown sync type", []byte{0, 3, 0}},
		{"truncated payload", []byte{0, 2, 5, 1, 2}},
		{"truncated varuint", []byte{0, 0x80}},
		{"varuint beyond 2^53", []byte{0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
		{"auth with unknown kind", []byte{2, 1, 0}},
		{"auth reason not utf-8", []byte{2, 0, 1, 0xff}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := DecodeMessages(tc.in); !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestVarUintMatchesLib0(t *testing.T) {
	// lib0 encoding.writeVarUint outputs, checked by hand against its source.
	for v, want := range map[uint64][]byte{
		0:                {0},
		127:              {0x7f},
		128:              {0x80, 0x01},
		300:              {0xac, 0x02},
		1<<32 - 1:        {0xff, 0xff, 0xff, 0xff, 0x0f},
		maxSafeInteger:   {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f},
		1<<53 - 1 - 1<<7: {0xff, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f},
	} {
		got := appendVarUint(nil, v)
		if !bytes.Equal(got, want) {
			t.Errorf("appendVarUint(%d) = %x, want %x", v, got, want)
		}
		d := decoder{buf: got}
		back, err := d.varUint()
		if err != nil || back != v {
			t.Errorf("varUint(%x) = %d, %v; want %d", got, back, err, v)
		}
	}
}

func TestAwarenessRoundTrip(t *testing.T) {
	in := []AwarenessEntry{
		{ClientID: 1, Clock: 0, State: `{"user":"ä😀"}`},
		{ClientID: 4294967295, Clock: 77, State: "null"},
	}
	enc := EncodeAwareness(in)
	out, err := DecodeAwareness(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out, in) {
		t.Fatalf("got %+v, want %+v", out, in)
	}
	if _, err := DecodeAwareness(append(enc, 0)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("trailing byte: err = %v", err)
	}
	if _, err := DecodeAwareness([]byte{200, 1}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("count beyond input: err = %v", err)
	}
}

func TestParseNotification(t *testing.T) {
	n, err := parseNotification("node-1;12:5,6,9;3:7")
	if err != nil {
		t.Fatal(err)
	}
	want := notification{nodeID: "node-1", docs: map[int64][]int64{12: {5, 6, 9}, 3: {7}}}
	if !reflect.DeepEqual(n, want) {
		t.Fatalf("got %+v, want %+v", n, want)
	}
	for _, bad := range []string{"", "node", "node;", "node;x:1", "node;1:", "node;1:a", ";1:1"} {
		if _, err := parseNotification(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("parseNotification(%q) err = %v, want ErrMalformed", bad, err)
		}
	}
}

// The largest batch's notification must fit PostgreSQL's 8000-byte limit
// even with 19-digit row and document ids.
func TestNotificationPayloadBound(t *testing.T) {
	nodeID := strings.Repeat("n", 64)
	id := "9223372036854775807"
	var b strings.Builder
	b.WriteString(nodeID)
	for range maxBatchRows {
		b.WriteString(";" + id + ":" + id)
	}
	if b.Len() >= 8000 {
		t.Fatalf("worst-case payload is %d bytes", b.Len())
	}
}

func TestConfigValidate(t *testing.T) {
	base := func() Config {
		c := Config{Pool: nil, Auth: nil, Codec: YjsCodec{}}
		if err := c.setDefaults(); err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := base()
	if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("missing pool: %v", err)
	}
	if c.NodeID == "" || c.PathPrefix != "/sync/" || c.MaxBatchRows != maxBatchRows {
		t.Fatalf("defaults not applied: %+v", c)
	}
	c.MaxBatchRows = maxBatchRows + 1
	if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("batch too large: %v", err)
	}
}

func FuzzProtocolMessage(f *testing.F) {
	f.Add(EncodeSync(SyncStep1, []byte{1, 1, 5}))
	f.Add(EncodeSync(SyncStep2, []byte{0, 0}))
	f.Add(EncodeSync(SyncUpdate, []byte{1, 1, 1, 0, 4, 1, 4, 116, 101, 120, 116, 1, 97, 0}))
	f.Add(EncodeAwarenessMessage(EncodeAwareness([]AwarenessEntry{{ClientID: 9, Clock: 2, State: `{"a":1}`}})))
	f.Add(EncodeQueryAwareness())
	f.Add(EncodeAuthDenied("denied"))
	f.Add([]byte{0, 0x80})
	f.Fuzz(func(t *testing.T, data []byte) {
		msgs, err := DecodeMessages(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error not ErrMalformed: %v", err)
			}
			return
		}
		// Re-encoding what decoded gives a frame that decodes the same way.
		var re []byte
		for _, m := range msgs {
			switch m.Type {
			case MessageSync:
				re = append(re, EncodeSync(m.SyncType, m.Payload)...)
			case MessageAwareness:
				re = append(re, EncodeAwarenessMessage(m.Payload)...)
				if entries, err := DecodeAwareness(m.Payload); err == nil {
					if again, err := DecodeAwareness(EncodeAwareness(entries)); err != nil || !reflect.DeepEqual(again, entries) {
						t.Fatalf("awareness round trip: %v", err)
					}
				}
			case MessageQueryAwareness:
				re = append(re, EncodeQueryAwareness()...)
			case MessageAuth:
				re = append(re, EncodeAuthDenied(m.AuthReason)...)
			}
		}
		again, err := DecodeMessages(re)
		if err != nil {
			t.Fatalf("re-encoded frame does not decode: %v", err)
		}
		if len(again) != len(msgs) {
			t.Fatalf("re-decoded %d messages, want %d", len(again), len(msgs))
		}
		for i := range msgs {
			if again[i].Type != msgs[i].Type || again[i].SyncType != msgs[i].SyncType ||
				!bytes.Equal(again[i].Payload, msgs[i].Payload) || again[i].AuthReason != msgs[i].AuthReason {
				t.Fatalf("message %d: %+v != %+v", i, again[i], msgs[i])
			}
		}
	})
}
