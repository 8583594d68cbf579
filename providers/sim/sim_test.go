package sim

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
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

var fuzzRoutes = []struct{ method, path string }{
	{"POST", "/hetzner/v1/servers"}, {"GET", "/hetzner/v1/servers?label_selector=a%3D1,!b&page=2&per_page=1"},
	{"GET", "/hetzner/v1/actions?id=1&id=x"}, {"DELETE", "/hetzner/v1/servers/1"},
	{"POST", "/fly/v1/apps"}, {"POST", "/fly/v1/apps/a1/machines"}, {"POST", "/fly/v1/apps/a1/volumes"},
	{"POST", "/fly/v1/apps/a1/secrets"}, {"POST", "/fly/v1/apps/a1/machines/m/exec"}, {"POST", "/fly/graphql"},
	{"POST", "/cloudflare/client/v4/zones/z/dns_records"}, {"PATCH", "/cloudflare/client/v4/zones/z/dns_records/r"},
	{"POST", "/_sim/faults"}, {"POST", "/_sim/health"},
}

// FuzzHandlers feeds arbitrary bodies to every endpoint that decodes one:
// the sim must answer, never panic.
func FuzzHandlers(f *testing.F) {
	f.Add(uint8(0), []byte(`{"name":"a1","server_type":"cax11","image":"debian-12","location":"nbg1"}`))
	f.Add(uint8(4), []byte(`{"app_name":"a1","org_slug":"o"}`))
	f.Add(uint8(5), []byte(`{"region":"iad","config":{"image":"x","mounts":[{"volume":"v"}]}}`))
	f.Add(uint8(9), []byte(`{"query":"mutation { createAddOn(input: $input) { addOn { id } } }","variables":{"input":{"type":"upstash_redis","name":"r1","organizationId":"o","primaryRegion":"iad","readRegions":[1,"x"]}}}`))
	f.Add(uint8(10), []byte(`{"type":"A","name":"x.test","content":"1.2.3.4"}`))
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		s, err := New(Config{ActionDelay: 1, MachineStartDelay: 1})
		if err != nil {
			t.Fatal(err)
		}
		// An app so that app-scoped routes get past the lookup.
		s.mu.Lock()
		_, _ = s.createApp("a1", "o")
		s.mu.Unlock()
		r := fuzzRoutes[int(route)%len(fuzzRoutes)]
		req := httptest.NewRequest(r.method, r.path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer t")
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		if rec.Code == 0 || rec.Code >= 500 {
			t.Fatalf("%s %s: status %d", r.method, r.path, rec.Code)
		}
	})
}
