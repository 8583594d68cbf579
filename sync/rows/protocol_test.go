package rows

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

func TestApplyOpConflictRules(t *testing.T) {
	t.Parallel()
	live := func() rowState {
		return rowState{exists: true, value: json.RawMessage(`{"a":1,"b":{"c":2}}`), version: 3}
	}
	tomb := func() rowState { return rowState{exists: true, deleted: true, version: 4} }
	tests := []struct {
		name    string
		st      rowState
		op      Op
		applied bool
		value   string
		deleted bool
	}{
		{"put replaces", live(), Op{Op: OpPut, Value: json.RawMessage(`{"z":1}`), BaseVersion: i64(3)}, true, `{"z":1}`, false},
		{"put creates", rowState{}, Op{Op: OpPut, Value: json.RawMessage(`{"z":1}`)}, true, `{"z":1}`, false},
		{"put with base on deleted is dropped", tomb(), Op{Op: OpPut, Value: json.RawMessage(`{}`), BaseVersion: i64(3)}, false, ``, true},
		{"put without base revives", tomb(), Op{Op: OpPut, Value: json.RawMessage(`{"r":1}`)}, true, `{"r":1}`, false},
		{"patch merges per field", live(), Op{Op: OpPatch, Patch: json.RawMessage(`{"a":5,"n":true}`)}, true, `{"a":5,"b":{"c":2},"n":true}`, false},
		{"patch key path", live(), Op{Op: OpPatch, Patch: json.RawMessage(`{"b.d":7,"x.y":1}`)}, true, `{"a":1,"b":{"c":2,"d":7},"x":{"y":1}}`, false},
		{"patch on deleted is dropped", tomb(), Op{Op: OpPatch, Patch: json.RawMessage(`{"a":1}`)}, false, ``, true},
		{"patch on missing is dropped", rowState{}, Op{Op: OpPatch, Patch: json.RawMessage(`{"a":1}`)}, false, ``, false},
		{"delete", live(), Op{Op: OpDelete, BaseVersion: i64(3)}, true, ``, true},
		{"delete of deleted is a no-op", tomb(), Op{Op: OpDelete}, false, ``, true},
	}
	for _, tc := range tests {
		st := tc.st
		applied, err := applyOp(&st, tc.op)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if applied != tc.applied || st.deleted != tc.deleted {
			t.Fatalf("%s: applied=%v deleted=%v", tc.name, applied, st.deleted)
		}
		if tc.applied && !tc.deleted {
			var got, want any
			_ = json.Unmarshal(st.value, &got)
			_ = json.Unmarshal([]byte(tc.value), &want)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: value %s, want %s", tc.name, st.value, tc.value)
			}
		}
	}
	st := rowState{exists: true, value: json.RawMessage(`[1,2]`)}
	if _, err := applyOp(&st, Op{Op: OpPatch, Patch: json.RawMessage(`{"a":1}`)}); !errors.Is(err, errPatchTarget) {
		t.Fatalf("patch of an array: %v", err)
	}
}

func TestCursorRoundTrip(t *testing.T) {
	t.Parallel()
	c := cursor{Epoch: [16]byte{1, 2, 3}, TablesHash: tablesHash([]string{"b", "a", "a"}), Pos: position{XID: 1 << 40, Seq: 12345}}
	got, err := decodeCursor(c.encode())
	if err != nil || got != c {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	if tablesHash([]string{"a", "b"}) != c.TablesHash {
		t.Fatal("tables hash depends on order or repeats")
	}
	for _, bad := range []string{"", "x", c.encode() + "A", "AAAA"} {
		if _, err := decodeCursor(bad); !errors.Is(err, ErrMalformed) {
			t.Fatalf("decodeCursor(%q): %v", bad, err)
		}
	}
}

func TestParseNotice(t *testing.T) {
	t.Parallel()
	n, ok := parseNotice("812 1700000000000000000 cust with space")
	if !ok || n.xid != 812 || n.tenant != "cust with space" || n.sentAt.UnixNano() != 1700000000000000000 {
		t.Fatalf("parseNotice: %+v %v", n, ok)
	}
	for _, bad := range []string{"", "1", "1 2", "x 2 t", "1 y t", "1 2 "} {
		if _, ok := parseNotice(bad); ok {
			t.Fatalf("parseNotice(%q) accepted", bad)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	bad := []Config{
		{Tables: []string{"bad name"}},
		{SchemaHashes: []string{""}},
		{MaxRequestBytes: 10},
		{PushesPerSecond: -1},
		{NotifyChannel: "bad;channel"},
	}
	for i, c := range bad {
		c.setDefaults()
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("config %d: %v", i, err)
		}
	}
	var ok Config
	ok.setDefaults()
	if err := ok.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
}

// FuzzPushDecoder: DecodePush never panics, every accepted request is
// valid, and re-encoding an accepted request decodes to the same request.
func FuzzPushDecoder(f *testing.F) {
	seeds := []string{
		`{"v":1,"clientId":"c_1","schemaHash":"h","mutations":[{"mid":1,"ts":1730000000000,"ops":[{"tbl":"posts","op":"put","key":"pst_1","value":{"title":"x"},"baseVersion":null}]}]}`,
		`{"v":1,"clientId":"c_1","mutations":[{"mid":2,"ops":[{"tbl":"posts","op":"patch","key":"pst_1","patch":{"title":"y","a.b":1},"baseVersion":7}]},{"mid":3,"ops":[{"tbl":"posts","op":"delete","key":"pst_1","baseVersion":8}]}]}`,
		`{"v":1,"clientId":"c","mutations":[]}`,
		`{"v":1,"clientId":"c","mutations":[{"mid":1,"ops":[{"tbl":"t","op":"put","key":"[\"a\",1]","value":[1,2,3],"tenant":"cust"}]}]}`,
		`{"v":2}`, `[]`, `{`, `{"v":1,"clientId":"c","mutations":[{"mid":1,"ops":[{"tbl":"posts","op":"put","key":"k","value":{"a":"\u0000"}}]}]}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		req, err := DecodePush(raw)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		if req.V != 1 || req.ClientID == "" || req.Mutations == nil {
			t.Fatalf("accepted invalid request: %+v", req)
		}
		for i, m := range req.Mutations {
			if m.MID < 1 || (i > 0 && m.MID <= req.Mutations[i-1].MID) || len(m.Ops) == 0 {
				t.Fatalf("accepted invalid mutation %+v", m)
			}
			for _, op := range m.Ops {
				if op.Key == "" || validateTableName(op.Table) != nil {
					t.Fatalf("accepted invalid op %+v", op)
				}
				switch op.Op {
				case OpPut:
					if isNull(op.Value) {
						t.Fatalf("put without value accepted")
					}
				case OpPatch:
					if isNull(op.Patch) {
						t.Fatalf("patch without patch accepted")
					}
				case OpDelete:
				default:
					t.Fatalf("unknown op accepted: %q", op.Op)
				}
			}
		}
		again, err := DecodePush(mustJSON(t, req))
		if err != nil {
			t.Fatalf("re-encoded request rejected: %v", err)
		}
		if len(again.Mutations) != len(req.Mutations) {
			t.Fatalf("round trip changed the request")
		}
		for i := range req.Mutations {
			for j := range req.Mutations[i].Ops {
				a, b := req.Mutations[i].Ops[j], again.Mutations[i].Ops[j]
				if a.Table != b.Table || a.Key != b.Key || a.Op != b.Op || !reflect.DeepEqual(a.BaseVersion, b.BaseVersion) {
					t.Fatalf("round trip changed op %+v → %+v", a, b)
				}
			}
		}
	})
}

func FuzzPullDecoder(f *testing.F) {
	for _, s := range []string{
		`{"v":1,"clientId":"c","tables":["posts"],"cursor":null,"limit":1000}`,
		`{"v":1,"clientId":"c","tables":["posts","comments"],"cursor":"AQ"}`,
		`{"v":1}`, `{}`, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		req, err := DecodePull(raw)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		if req.V != 1 || len(req.Tables) == 0 || req.Limit < 0 {
			t.Fatalf("accepted invalid pull %+v", req)
		}
		if req.Cursor != nil {
			_, _ = decodeCursor(*req.Cursor)
		}
	})
}
