package sim

import (
	"encoding/json"
	"testing"
)

func FuzzDecodeFaultSet(f *testing.F) {
	f.Add([]byte(`{"rules":[{"provider":"hetzner","method":"POST","path":"/v1/servers","status":429,"retry_after":2}]}`))
	f.Add([]byte(`{"hetzner_unavailable":[{"server_type":"cax11","location":"nbg1"}],"fly_no_capacity":["iad"]}`))
	f.Add([]byte(`{"rules":[{"path":"[","delay_ms":5}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fs, err := DecodeFaultSet(data)
		if err != nil {
			return
		}
		if err := fs.Validate(); err != nil {
			t.Fatalf("decoded set does not validate: %v", err)
		}
		out, err := json.Marshal(fs)
		if err != nil {
			t.Fatal(err)
		}
		again, err := DecodeFaultSet(out)
		if err != nil || len(again.Rules) != len(fs.Rules) {
			t.Fatalf("round trip: %v", err)
		}
		s, _ := New(Config{})
		if _, err := s.AddFaults(fs); err != nil {
			t.Fatalf("AddFaults: %v", err)
		}
	})
}

func TestLabelSelector(t *testing.T) {
	labels := map[string]string{"a": "1", "b": "2"}
	for sel, want := range map[string]bool{"": true, "a=1": true, "a=1,b=2": true, "a==1": true, "a=2": false, "a!=1": false, "c": false, "!c": true, "!a": false, "b": true} {
		if got := labelSelectorMatch(sel, labels); got != want {
			t.Errorf("%q: got %v want %v", sel, got, want)
		}
	}
}
