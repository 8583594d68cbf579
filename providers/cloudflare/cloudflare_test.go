package cloudflare_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	cfsdk "github.com/cloudflare/cloudflare-go"

	"github.com/webhost-systems/webhost/processes"
	"github.com/webhost-systems/webhost/providers/call"
	"github.com/webhost-systems/webhost/providers/cloudflare"
	"github.com/webhost-systems/webhost/providers/providertest"
	"github.com/webhost-systems/webhost/providers/sim"
)

type env struct {
	sim    *sim.Sim
	client *cloudflare.Client
	url    string
	sleeps *[]time.Duration
}

func newEnv(t *testing.T, mutate func(*cloudflare.Config)) env {
	t.Helper()
	s, err := sim.New(sim.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	cfg := cloudflare.Config{Token: "cf-token", ZoneID: "zone123", BaseDomain: "webhost.test", BaseURL: sim.URLsFor(srv.URL).Cloudflare,
		Retry: call.Policy{BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond, AttemptTimeout: 5 * time.Second}}
	if mutate != nil {
		mutate(&cfg)
	}
	sleeps := &[]time.Duration{}
	c, err := cloudflare.New(cfg, call.WithSleep(func(ctx context.Context, d time.Duration) error {
		*sleeps = append(*sleeps, d)
		return ctx.Err()
	}))
	if err != nil {
		t.Fatal(err)
	}
	return env{sim: s, client: c, url: sim.URLsFor(srv.URL).Cloudflare, sleeps: sleeps}
}

func TestAcceptance(t *testing.T) {
	e := newEnv(t, nil)
	providertest.DNS(t, e.client)
	if st := e.sim.State(); !st.Empty() {
		t.Fatalf("leaked: %+v", st.Cloudflare.Records)
	}
}

func TestRecordNamesUnderBaseDomain(t *testing.T) {
	e := newEnv(t, nil)
	if _, err := e.client.UpsertRecord(context.Background(), processes.DNSRecord{Name: "acme", Type: "CNAME", Content: "acme.fly.dev"}); err != nil {
		t.Fatal(err)
	}
	recs := e.sim.State().Cloudflare.Records
	if len(recs) != 1 || recs[0].Name != "acme.webhost.test" || recs[0].Zone != "zone123" || recs[0].Type != "CNAME" {
		t.Fatalf("records = %+v", recs)
	}
}

// A record created between our lookup and our create (by a racing or
// timed-out attempt) makes create answer 81058; upsert reads it back and
// counts it as success instead of failing or duplicating.
func TestExistingRecordCodesCountAsSuccess(t *testing.T) {
	e := newEnv(t, nil)
	api, err := cfsdk.NewWithAPIToken("cf-token", cfsdk.BaseURL(e.url))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// The first lookup is answered (empty) only after a pause, during
	// which the record appears.
	id, err := e.sim.AddFault(sim.Fault{Provider: "cloudflare", Method: "GET", Path: "/client/v4/zones/*/dns_records", After: true, DelayMS: 400})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := e.client.UpsertRecord(ctx, processes.DNSRecord{Name: "dup", Type: "A", Content: "198.51.100.1"})
		done <- err
	}()
	for hits := 0; hits == 0; {
		for _, f := range e.sim.Faults() {
			if f.ID == id {
				hits = f.Hits
			}
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := api.CreateDNSRecord(ctx, cfsdk.ZoneIdentifier("zone123"), cfsdk.CreateDNSRecordParams{Type: "A", Name: "dup.webhost.test", Content: "198.51.100.1"}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("UpsertRecord: %v", err)
	}
	st := e.sim.State()
	if len(st.Cloudflare.Records) != 1 || st.Requests["cloudflare POST /client/v4/zones/zone123/dns_records"] != 2 {
		t.Fatalf("records %d, creates %d; want one record and our create refused with 81058", len(st.Cloudflare.Records), st.Requests["cloudflare POST /client/v4/zones/zone123/dns_records"])
	}
	_, err = api.CreateDNSRecord(ctx, cfsdk.ZoneIdentifier("zone123"), cfsdk.CreateDNSRecordParams{Type: "A", Name: "dup.webhost.test", Content: "198.51.100.1"})
	var reqErr *cfsdk.RequestError
	if !errors.As(err, &reqErr) || !reqErr.InternalErrorCodeIs(81058) {
		t.Fatalf("duplicate create = %v, want the SDK's RequestError with 81058", err)
	}
}

func TestRateLimitAndServerErrors(t *testing.T) {
	e := newEnv(t, nil)
	_, _ = e.sim.AddFault(sim.Fault{Provider: "cloudflare", Method: "POST", Status: 429, RetryAfter: 3})
	_, _ = e.sim.AddFault(sim.Fault{Provider: "cloudflare", Method: "POST", Status: 502})
	if _, err := e.client.UpsertRecord(context.Background(), processes.DNSRecord{Name: "rl", Type: "A", Content: "192.0.2.1"}); err != nil {
		t.Fatalf("UpsertRecord: %v", err)
	}
	if len(*e.sleeps) != 2 || (*e.sleeps)[0] != 3*time.Second {
		t.Fatalf("backoffs = %v, want the 3s Retry-After then a short backoff", *e.sleeps)
	}
	if n := len(e.sim.State().Cloudflare.Records); n != 1 {
		t.Fatalf("records = %d", n)
	}
}

func TestPermanentNotRetried(t *testing.T) {
	e := newEnv(t, nil)
	_, _ = e.sim.AddFault(sim.Fault{Provider: "cloudflare", Method: "POST", Status: 400, Code: "9005", Message: "Content for A record is invalid."})
	_, err := e.client.UpsertRecord(context.Background(), processes.DNSRecord{Name: "bad", Type: "A", Content: "x"})
	providertest.RequireKind(t, err, processes.ErrPermanent)
	if n := e.sim.State().Requests["cloudflare POST /client/v4/zones/zone123/dns_records"]; n != 1 {
		t.Fatalf("creates = %d, want 1", n)
	}
}

func TestTimedOutCreateIsAdopted(t *testing.T) {
	e := newEnv(t, func(c *cloudflare.Config) { c.Retry.AttemptTimeout = 200 * time.Millisecond })
	_, _ = e.sim.AddFault(sim.Fault{Provider: "cloudflare", Method: "POST", After: true, DelayMS: 1500})
	if _, err := e.client.UpsertRecord(context.Background(), processes.DNSRecord{Name: "late", Type: "A", Content: "192.0.2.7"}); err != nil {
		t.Fatal(err)
	}
	st := e.sim.State()
	if len(st.Cloudflare.Records) != 1 || st.Requests["cloudflare POST /client/v4/zones/zone123/dns_records"] != 1 {
		t.Fatalf("records %d creates %d; want one adopted record", len(st.Cloudflare.Records), st.Requests["cloudflare POST /client/v4/zones/zone123/dns_records"])
	}
}

func TestTimeoutRespectsContext(t *testing.T) {
	e := newEnv(t, nil)
	_, _ = e.sim.AddFault(sim.Fault{Provider: "cloudflare", Times: -1, DelayMS: 3000})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := e.client.Record(ctx, "slow", "A")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline", err)
	}
}

func TestListPaginates(t *testing.T) {
	e := newEnv(t, nil)
	api, _ := cfsdk.NewWithAPIToken("cf-token", cfsdk.BaseURL(e.url), cfsdk.UsingRateLimit(100000))
	ctx := context.Background()
	for i := range 130 {
		if _, err := api.CreateDNSRecord(ctx, cfsdk.ZoneIdentifier("zone123"), cfsdk.CreateDNSRecordParams{Type: "A", Name: fmt.Sprintf("n%d.webhost.test", i), Content: "192.0.2.1"}); err != nil {
			t.Fatal(err)
		}
	}
	all, info, err := api.ListDNSRecords(ctx, cfsdk.ZoneIdentifier("zone123"), cfsdk.ListDNSRecordsParams{})
	if err != nil || len(all) != 130 || info.TotalPages != 2 {
		t.Fatalf("list = %d records, %+v, %v", len(all), info, err)
	}
}

func TestUnauthorisedIsPermanent(t *testing.T) {
	e := newEnv(t, nil)
	req, _ := http.NewRequest(http.MethodGet, e.url+"/zones/zone123/dns_records", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(resp.Header.Get("Content-Type"), "json") {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

// A plan change moves a host from a Hetzner server (A) to Fly (CNAME): one
// record changes type in place.
func TestUpsertChangesRecordTypeInPlace(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	a, err := e.client.UpsertRecord(ctx, processes.DNSRecord{Name: "acme", Type: "A", Content: "203.0.113.9"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := e.client.UpsertRecord(ctx, processes.DNSRecord{Name: "acme", Type: "CNAME", Content: "acme.fly.dev"})
	if err != nil || c.ID != a.ID || c.Type != "CNAME" {
		t.Fatalf("UpsertRecord CNAME = %+v, %v; want record %s changed in place", c, err, a.ID)
	}
	recs := e.sim.State().Cloudflare.Records
	if len(recs) != 1 || recs[0].Type != "CNAME" || recs[0].Content != "acme.fly.dev" {
		t.Fatalf("records = %+v", recs)
	}
	if _, err := e.client.Record(ctx, "acme", "A"); !errors.Is(err, processes.ErrNotFound) {
		t.Fatalf("A record after switch: %v", err)
	}
}
