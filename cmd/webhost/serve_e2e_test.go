package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"pgregory.net/rapid"

	wcommands "github.com/webhost-systems/webhost/commands"
	"github.com/webhost-systems/webhost/domain"
	"github.com/webhost-systems/webhost/internal/pgtest"
	"github.com/webhost-systems/webhost/projections"
)

type e2e struct {
	t      testing.TB
	m      *ServeMain
	dsn    string
	client *http.Client
}

func startServe(t testing.TB, rate float64, burst int) *e2e {
	t.Helper()
	dsn := pgtest.MustCreateDatabase(t)
	m := &ServeMain{Addr: "127.0.0.1:0", DatabaseURL: dsn, Logger: slog.New(slog.DiscardHandler), RateLimit: rate, RateBurst: burst, DisableProcesses: true,
		ReadWait: 20 * time.Second, Projections: projections.RunnerConfig{LockRetry: 20 * time.Millisecond}}
	ctx, cancel := context.WithCancel(context.Background())
	if err := m.Open(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		_ = m.Close()
	})
	return &e2e{t: t, m: m, dsn: dsn, client: &http.Client{Timeout: 30 * time.Second}}
}

type resp struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (e *e2e) do(method, path, key string, body any, header map[string]string) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.m.URL()+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := resp{status: res.StatusCode, header: res.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &out.body)
	return out
}

func (e *e2e) expect(r resp, status int) resp {
	e.t.Helper()
	if r.status != status {
		e.t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
	}
	return r
}

func minPos(pos any) map[string]string { return map[string]string{"X-Min-Position": fmt.Sprint(pos)} }

type tenant struct {
	customerID, key, position string
}

func (e *e2e) signUp(slug string) tenant {
	e.t.Helper()
	r := e.expect(e.do("POST", "/v1/signup", "", map[string]any{"name": "Ada " + slug, "email": slug + "@example.com", "slug": slug, "plan": "hobby"}, nil), 201)
	return tenant{customerID: r.body["customer_id"].(string), key: r.body["api_key"].(string), position: r.body["position"].(string)}
}

func (e *e2e) eventCount() int {
	e.t.Helper()
	var n int
	if err := e.m.platform.pool.QueryRow(context.Background(), `SELECT count(*) FROM eventstore.events`).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func TestEndToEndSignupPlanEventsRebuildVerify(t *testing.T) {
	t.Parallel()
	e := startServe(t, 1000, 1000)
	a := e.signUp("alpha")

	me := e.expect(e.do("GET", "/v1/me", a.key, nil, minPos(a.position)), 200)
	if me.body["slug"] != "alpha" || me.body["name"] != "Ada alpha" || me.body["email"] != "alpha@example.com" {
		t.Fatalf("me: %s", me.raw)
	}
	if sub, _ := me.body["subscription"].(map[string]any); sub == nil || sub["plan"] != "hobby" {
		t.Fatalf("subscription: %s", me.raw)
	}

	plan := e.expect(e.do("POST", "/v1/subscription/plan", a.key, map[string]any{"plan": "starter"}, nil), 200)
	me = e.expect(e.do("GET", "/v1/me?min_position="+url.QueryEscape(plan.body["position"].(string)), a.key, nil, nil), 200)
	sub := me.body["subscription"].(map[string]any)
	if sub["plan"] != "starter" || len(sub["plan_history"].([]any)) != 2 {
		t.Fatalf("after plan change: %s", me.raw)
	}

	// The feed, page by page, holds the customer's events in log order.
	var types []string
	var positions []string
	cursor := ""
	for pages := 0; ; pages++ {
		r := e.expect(e.do("GET", "/v1/events?limit=2&cursor="+cursor, a.key, nil, minPos(plan.body["position"])), 200)
		for _, ev := range r.body["events"].([]any) {
			m := ev.(map[string]any)
			types = append(types, m["type"].(string))
			positions = append(positions, m["position"].(string))
			if m["tenant"] != a.customerID {
				t.Fatalf("foreign event in feed: %v", m)
			}
		}
		next, _ := r.body["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = next
		if pages > 50 {
			t.Fatal("pagination does not end")
		}
	}
	want := []string{"EmailReserved", "SlugReserved", "CustomerSignedUp", "APIKeyIssued", "SubscriptionStarted", "PlanChanged"}
	if !slices.Equal(types, want) {
		t.Fatalf("feed types %v, want %v", types, want)
	}
	if !slices.IsSorted(positions) {
		t.Fatalf("feed out of order: %v", positions)
	}

	var out bytes.Buffer
	if err := run(context.Background(), []string{"projections", "rebuild", "--database-url", e.dsn}, &out, io.Discard); err == nil {
		t.Fatal("flags after the subcommand should be rejected")
	}
	if err := run(context.Background(), []string{"projections", "--database-url", e.dsn, "rebuild"}, &out, io.Discard); err != nil {
		t.Fatalf("rebuild: %v (%s)", err, out.String())
	}
	// Reads keep working after the swap, and the runners carry on.
	e.expect(e.do("GET", "/v1/me", a.key, nil, nil), 200)
	b := e.signUp("bravo")
	e.expect(e.do("GET", "/v1/me", b.key, nil, minPos(b.position)), 200)
	out.Reset()
	if err := run(context.Background(), []string{"projections", "--database-url", e.dsn, "verify"}, &out, io.Discard); err != nil {
		t.Fatalf("verify: %v (%s)", err, out.String())
	}
	if !strings.Contains(out.String(), "equal a full replay") {
		t.Fatalf("verify printed %q", out.String())
	}
	// A tampered read model fails verify (non-zero exit) until rebuilt.
	if _, err := e.m.platform.pool.Exec(context.Background(), `UPDATE read.customers SET company = 'tampered'`); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run(context.Background(), []string{"projections", "--database-url", e.dsn, "verify"}, &out, io.Discard); !errors.Is(err, errVerifyFailed) ||
		!strings.Contains(out.String(), "table=customers") {
		t.Fatalf("verify of a tampered table: %v (%s)", err, out.String())
	}
	if err := run(context.Background(), []string{"projections", "--database-url", e.dsn, "rebuild", "read_models"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), []string{"projections", "--database-url", e.dsn, "verify"}, &out, io.Discard); err != nil {
		t.Fatalf("verify after rebuild: %v", err)
	}
	if err := run(context.Background(), []string{"projections", "--database-url", e.dsn, "rebuild", "nope"}, &out, io.Discard); !errors.Is(err, projections.ErrUnknownProjection) {
		t.Fatalf("unknown projection: %v", err)
	}
	health := e.expect(e.do("GET", "/healthz", "", nil, nil), 200)
	if len(health.body["projections"].([]any)) != 3 {
		t.Fatalf("healthz: %s", health.raw)
	}
	metrics := e.expect(e.do("GET", "/metrics", "", nil, nil), 200)
	if !strings.Contains(metrics.raw, "webhost_projection_seconds_behind") {
		t.Fatal("lag metrics missing from /metrics")
	}
	e.expect(e.do("GET", "/openapi.json", "", nil, nil), 200)
	e.expect(e.do("GET", "/docs", "", nil, nil), 200)
}

// requestDeployment adds a deployment for a tenant through the commands
// (provisioning processes are not part of this test).
func (e *e2e) requestDeployment(tn tenant) (string, string) {
	e.t.Helper()
	dep := uuid.New()
	res, err := e.m.platform.commands.RequestDeployment.Handle(context.Background(), wcommands.RequestDeployment{
		Meta: wcommands.Meta{CommandID: uuid.New(), Actor: "system"}, CustomerID: uuid.MustParse(tn.customerID), DeploymentID: dep, Plan: domain.PlanHobby})
	if err != nil {
		e.t.Fatal(err)
	}
	return dep.String(), res.Position.String()
}

func TestIsolationScopesAndBadInput(t *testing.T) {
	t.Parallel()
	e := startServe(t, 1000, 1000)
	a, b := e.signUp("alpha"), e.signUp("bravo")
	depB, pos := e.requestDeployment(b)
	e.expect(e.do("GET", "/v1/deployments/"+depB, b.key, nil, minPos(pos)), 200)
	e.expect(e.do("GET", "/v1/deployments/"+depB+"/history", b.key, nil, nil), 200)
	notFound := e.expect(e.do("GET", "/v1/deployments/"+depB, a.key, nil, nil), 404)
	if ct := notFound.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type %q", ct)
	}
	e.expect(e.do("GET", "/v1/deployments/"+depB+"/history", a.key, nil, nil), 404)
	feed := e.expect(e.do("GET", "/v1/events?limit=500", a.key, nil, nil), 200)
	if strings.Contains(feed.raw, b.customerID) || strings.Contains(feed.raw, depB) {
		t.Fatal("B's events in A's feed")
	}
	// Admin endpoints do not exist for customers.
	e.expect(e.do("GET", "/v1/admin/events", a.key, nil, nil), 404)

	// Scopes: a read key cannot write, nor mint keys.
	rk := e.expect(e.do("POST", "/v1/api-keys", a.key, map[string]any{"name": "ro", "scopes": []string{"read"}}, nil), 201)
	readKey := rk.body["api_key"].(string)
	e.expect(e.do("GET", "/v1/me", readKey, nil, minPos(rk.body["position"])), 200)
	before := e.eventCount()
	e.expect(e.do("PATCH", "/v1/me", readKey, map[string]any{"company": "X"}, nil), 403)
	e.expect(e.do("POST", "/v1/api-keys", readKey, map[string]any{"name": "x", "scopes": []string{"read"}}, nil), 403)
	e.expect(e.do("DELETE", "/v1/api-keys/"+rk.body["id"].(string), b.key, nil, nil), 404)
	e.expect(e.do("GET", "/v1/me", "whs_live_nope", nil, nil), 401)
	e.expect(e.do("GET", "/v1/me", "", nil, nil), 401)

	// Bad input: clear 4xx, nothing changes.
	for _, c := range []struct {
		method, path, body string
		status             int
	}{
		{"PATCH", "/v1/me", `{"company": 42}`, 422},
		{"PATCH", "/v1/me", `{"company": "x", "is_admin": true}`, 422},
		{"PATCH", "/v1/me", `{"company": "x"`, 400},
		{"PATCH", "/v1/me", `{"company": "` + strings.Repeat("x", 100<<10) + `"}`, 413},
		{"POST", "/v1/subscription/plan", `{"plan": "platinum"}`, 422},
		{"POST", "/v1/subscription/plan", `{"plan": "hobby"}`, 409},
		{"POST", "/v1/signup", `{"name": "A", "email": "alpha@example.com", "slug": "alpha2"}`, 409},
		{"POST", "/v1/signup", `{"name": "A", "email": "not-an-email", "slug": "alpha3"}`, 422},
		{"GET", "/v1/events?cursor=not-a-cursor", ``, 400},
		{"GET", "/v1/events?cursor=" + "djE6Yzpmb28", ``, 400},
		{"GET", "/v1/events?limit=0", ``, 422},
		{"GET", "/v1/me?min_position=zzz", ``, 400},
	} {
		r := e.do(c.method, c.path, a.key, nilIfEmpty(c.body), nil)
		if r.status != c.status {
			t.Errorf("%s %s %.60s: status %d, want %d: %.300s", c.method, c.path, c.body, r.status, c.status, r.raw)
		}
	}
	if after := e.eventCount(); after != before {
		t.Fatalf("bad input appended %d events", after-before)
	}
	// Revoking works for the owner; the key stops working.
	rv := e.expect(e.do("DELETE", "/v1/api-keys/"+rk.body["id"].(string), a.key, nil, nil), 200)
	e.expect(e.do("GET", "/v1/me", a.key, nil, minPos(rv.body["position"])), 200)
	e.expect(e.do("GET", "/v1/me", readKey, nil, nil), 401)
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func TestRateLimitReturns429WithRetryAfter(t *testing.T) {
	t.Parallel()
	e := startServe(t, 1, 3)
	a := e.signUp("alpha")
	e.expect(e.do("GET", "/v1/me", a.key, nil, minPos(a.position)), 200)
	var last resp
	for range 5 {
		last = e.do("GET", "/v1/me", a.key, nil, nil)
	}
	if last.status != 429 || last.header.Get("Retry-After") == "" {
		t.Fatalf("status %d, Retry-After %q", last.status, last.header.Get("Retry-After"))
	}
}

// TestIsolationProperty hits every read endpoint with random tenants and
// random IDs (their own, other tenants', unknown): a response never
// mentions another tenant, and another tenant's deployment is a 404.
func TestIsolationProperty(t *testing.T) {
	t.Parallel()
	e := startServe(t, 1e6, 1e6)
	var tenants []tenant
	deps := map[string]string{} // deployment -> owner
	var last string
	for i := range 3 {
		tn := e.signUp(fmt.Sprintf("tenant%d", i))
		tenants = append(tenants, tn)
		for range 2 {
			d, p := e.requestDeployment(tn)
			deps[d] = tn.customerID
			last = p
		}
	}
	e.expect(e.do("GET", "/v1/me", tenants[0].key, nil, minPos(last)), 200)
	var depIDs []string
	for d := range deps {
		depIDs = append(depIDs, d)
	}
	slices.Sort(depIDs)
	rapid.Check(t, func(rt *rapid.T) {
		tn := rapid.SampledFrom(tenants).Draw(rt, "tenant")
		id := rapid.OneOf(rapid.SampledFrom(depIDs), rapid.StringMatching(`[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}`),
			rapid.StringMatching(`[a-z0-9-]{1,40}`)).Draw(rt, "id")
		path := rapid.SampledFrom([]string{"/v1/me", "/v1/deployments", "/v1/deployments/" + id, "/v1/deployments/" + id + "/history",
			"/v1/api-keys", "/v1/events?limit=500", "/v1/admin/events", "/v1/admin/customers"}).Draw(rt, "path")
		r := e.do("GET", path, tn.key, nil, nil)
		for _, other := range tenants {
			if other.customerID != tn.customerID && strings.Contains(r.raw, other.customerID) {
				rt.Fatalf("%s as %s leaks tenant %s: %s", path, tn.customerID, other.customerID, r.raw)
			}
		}
		for d, owner := range deps {
			if owner != tn.customerID && strings.Contains(r.raw, d) && r.status == 200 {
				rt.Fatalf("%s as %s shows deployment %s of %s", path, tn.customerID, d, owner)
			}
		}
		if strings.HasPrefix(path, "/v1/deployments/") {
			want := 404
			if deps[id] == tn.customerID {
				want = 200
			}
			if r.status != want {
				rt.Fatalf("%s as %s: %d, want %d", path, tn.customerID, r.status, want)
			}
		} else if strings.HasPrefix(path, "/v1/admin/") {
			if r.status != 404 {
				rt.Fatalf("%s as customer: %d", path, r.status)
			}
		} else if r.status != 200 {
			rt.Fatalf("%s: %d %s", path, r.status, r.raw)
		}
	})
}

func TestOperatorKeySeesAllTenantsAndIdempotentWrites(t *testing.T) {
	t.Parallel()
	e := startServe(t, 1000, 1000)
	a, b := e.signUp("alpha"), e.signUp("bravo")

	var out bytes.Buffer
	if err := run(context.Background(), []string{"admin", "--database-url", e.dsn, "create-key"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	opKey := lines[len(lines)-1]
	out.Reset()
	// A second key: the operator account exists now.
	if err := run(context.Background(), []string{"admin", "--database-url", e.dsn, "create-key"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	lines = strings.Split(strings.TrimSpace(out.String()), "\n")
	if second := lines[len(lines)-1]; second == opKey || !strings.HasPrefix(second, "whs_live_") {
		t.Fatalf("second operator key %q", second)
	}
	// Wait until the operator's key is known (its position is not
	// printed; b's sign-up is earlier, so poll).
	var cs resp
	for range 200 {
		cs = e.do("GET", "/v1/admin/customers?limit=1", opKey, nil, nil)
		if cs.status == 200 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.expect(cs, 200)
	// The key projection can run ahead of the customers read model: page
	// through until the operator's own customer row is there too.
	seen := map[string]bool{}
	for range 200 {
		seen = map[string]bool{}
		cursor := ""
		for range 10 {
			r := e.expect(e.do("GET", "/v1/admin/customers?limit=1&cursor="+cursor, opKey, nil, minPos(b.position)), 200)
			for _, c := range r.body["customers"].([]any) {
				seen[c.(map[string]any)["id"].(string)] = true
			}
			cursor, _ = r.body["next_cursor"].(string)
			if cursor == "" {
				break
			}
		}
		if len(seen) >= 3 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !seen[a.customerID] || !seen[b.customerID] || len(seen) != 3 {
		t.Fatalf("operator sees customers %v", seen)
	}
	all := e.expect(e.do("GET", "/v1/admin/events?limit=500", opKey, nil, nil), 200)
	if !strings.Contains(all.raw, a.customerID) || !strings.Contains(all.raw, b.customerID) {
		t.Fatal("admin feed lacks a tenant")
	}
	onlyB := e.expect(e.do("GET", "/v1/admin/events?limit=500&tenant="+b.customerID, opKey, nil, nil), 200)
	if strings.Contains(onlyB.raw, a.customerID) {
		t.Fatal("tenant filter leaks")
	}

	// The same Idempotency-Key twice: one change, same position.
	idem := map[string]string{"Idempotency-Key": uuid.NewString()}
	first := e.expect(e.do("PATCH", "/v1/me", a.key, map[string]any{"company": "Acme"}, idem), 200)
	n := e.eventCount()
	again := e.expect(e.do("PATCH", "/v1/me", a.key, map[string]any{"company": "Acme"}, idem), 200)
	if again.body["position"] != first.body["position"] || e.eventCount() != n {
		t.Fatalf("resubmission changed something: %s vs %s", first.raw, again.raw)
	}
	e.expect(e.do("PATCH", "/v1/me", a.key, map[string]any{"company": "Acme"}, map[string]string{"Idempotency-Key": "nope"}), 400)
	me := e.expect(e.do("GET", "/v1/me", a.key, nil, minPos(first.body["position"])), 200)
	if me.body["company"] != "Acme" {
		t.Fatalf("company: %s", me.raw)
	}
	// Cancel, then no subscription; choosing a plan starts a new one.
	c := e.expect(e.do("DELETE", "/v1/subscription", a.key, nil, nil), 200)
	e.expect(e.do("DELETE", "/v1/subscription", a.key, nil, minPos(c.body["position"])), 404)
	p := e.expect(e.do("POST", "/v1/subscription/plan", a.key, map[string]any{"plan": "business"}, nil), 200)
	if p.body["started"] != true {
		t.Fatalf("plan after cancel: %s", p.raw)
	}
}

func TestAdminPoisonFeed(t *testing.T) {
	t.Parallel()
	e := startServe(t, 1000, 1000)
	a := e.signUp("poisoned")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"admin", "--database-url", e.dsn, "create-key"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	opKey := lines[len(lines)-1]
	ctx := context.Background()
	for i, group := range []string{"provisioning", "provisioning", "billing"} {
		if _, err := e.m.platform.pool.Exec(ctx, `INSERT INTO processes.poison (group_name, handler, event_id, stream, stream_version, event_type, position, reason, poisoned_at)
			VALUES ($1, 'ProvisionOnSubscriptionStarted', $2, 'subscription-x', $3, 'SubscriptionStarted', '0-0', 'provider said no', now())`, group, uuid.New(), i); err != nil {
			t.Fatal(err)
		}
	}
	var page resp
	for range 200 { // until the operator key is projected
		if page = e.do("GET", "/v1/admin/poison?group=provisioning&limit=1", opKey, nil, nil); page.status == 200 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.expect(page, 200)
	events := page.body["events"].([]any)
	cursor, _ := page.body["next_cursor"].(string)
	if len(events) != 1 || cursor == "" || events[0].(map[string]any)["group"] != "provisioning" {
		t.Fatalf("first page: %s", page.raw)
	}
	next := e.expect(e.do("GET", "/v1/admin/poison?group=provisioning&limit=1&cursor="+cursor, opKey, nil, nil), 200)
	if evs := next.body["events"].([]any); len(evs) != 1 || next.body["next_cursor"] != nil {
		t.Fatalf("second page: %s", next.raw)
	}
	all := e.expect(e.do("GET", "/v1/admin/poison?status=poisoned", opKey, nil, nil), 200)
	if evs := all.body["events"].([]any); len(evs) != 3 {
		t.Fatalf("all poisoned: %s", all.raw)
	}
	e.expect(e.do("GET", "/v1/admin/poison?status=bogus", opKey, nil, nil), 422)
	e.expect(e.do("GET", "/v1/admin/poison?cursor=garbage", opKey, nil, nil), 400)
	// Customers do not learn that the endpoint exists.
	e.expect(e.do("GET", "/v1/admin/poison", a.key, nil, nil), 404)
}
