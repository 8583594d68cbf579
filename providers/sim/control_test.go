package sim_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/webhost-systems/webhost/providers/sim"
)

func do(t *testing.T, method, url, body string, hdr map[string]string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp, out
}

func TestControlAPI(t *testing.T) {
	s, err := sim.New(sim.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	u := sim.URLsFor(srv.URL)
	auth := map[string]string{"Authorization": "Bearer t"}

	resp, body := do(t, "POST", u.Root+"/_sim/faults", `{"rules":[{"provider":"hetzner","path":"/v1/servers","status":429,"retry_after":3,"times":1}]}`, nil)
	if resp.StatusCode != http.StatusCreated || body["ids"] == nil {
		t.Fatalf("POST faults: %d %v", resp.StatusCode, body)
	}
	resp, body = do(t, "GET", u.Hetzner+"/servers", "", auth)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "3" || body["error"].(map[string]any)["code"] != "rate_limit_exceeded" {
		t.Fatalf("faulted call: %d %v", resp.StatusCode, body)
	}
	resp, _ = do(t, "GET", u.Hetzner+"/servers", "", auth)
	if resp.StatusCode != 200 {
		t.Fatalf("second call: %d", resp.StatusCode)
	}
	resp, _ = do(t, "GET", u.Hetzner+"/servers", "", nil)
	if resp.StatusCode != 401 {
		t.Fatalf("no token: %d", resp.StatusCode)
	}
	resp, body = do(t, "POST", u.Root+"/_sim/faults", `{"rules":[{"status":200}]}`, nil)
	if resp.StatusCode != 400 {
		t.Fatalf("invalid fault accepted: %d %v", resp.StatusCode, body)
	}
	resp, body = do(t, "POST", u.Root+"/_sim/faults", `{"rules":[{"provider":"cloudflare","status":503}],"bogus":1}`, nil)
	if resp.StatusCode != 400 {
		t.Fatalf("unknown field accepted: %d %v", resp.StatusCode, body)
	}
	resp, body = do(t, "POST", u.Hetzner+"/servers", `{"name":"web-1","server_type":"cax11","image":"debian-12","location":"nbg1","labels":{"a":"b"}}`, auth)
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d %v", resp.StatusCode, body)
	}
	resp, _ = do(t, "POST", u.Root+"/_sim/health", `{"kind":"server","id":"web-1","healthy":false}`, nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("health: %d", resp.StatusCode)
	}
	_, state := do(t, "GET", u.Root+"/_sim/state", "", nil)
	servers := state["hetzner"].(map[string]any)["servers"].([]any)
	if len(servers) != 1 {
		t.Fatalf("state: %v", state)
	}
	resp, _ = do(t, "DELETE", u.Root+"/_sim/state", "", nil)
	if resp.StatusCode != http.StatusNoContent || !s.State().Empty() || len(s.Faults()) != 0 {
		t.Fatalf("reset: %d", resp.StatusCode)
	}
	resp, body = do(t, "GET", u.Fly+"/v1/apps/nope", "", auth)
	if resp.StatusCode != 404 || body["error"] != "app not found" {
		t.Fatalf("fly 404: %d %v", resp.StatusCode, body)
	}
	resp, body = do(t, "GET", u.Cloudflare+"/zones/z/dns_records/nope", "", auth)
	if resp.StatusCode != 404 || body["success"] != false || body["errors"].([]any)[0].(map[string]any)["code"].(float64) != 81044 {
		t.Fatalf("cloudflare 404: %d %v", resp.StatusCode, body)
	}
}
