package processes_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/webhost-systems/webhost/httpapi"
	"github.com/webhost-systems/webhost/processes"
	"github.com/webhost-systems/webhost/projections"
)

// TestSignupThroughRESTShowsProvisionedDeployment is the whole flow as a
// customer sees it: POST /v1/signup with a plan, the process managers
// provision on the simulators, and GET /v1/deployments/{id} (served from
// the read model) shows the API and sync URLs.
func TestSignupThroughRESTShowsProvisionedDeployment(t *testing.T) {
	h := newHarness(t)
	mgr, err := projections.NewManager(projections.ManagerConfig{Pool: h.pool, Store: h.store})
	if err != nil {
		t.Fatal(err)
	}
	if err := mgr.Ensure(h.ctx); err != nil {
		t.Fatal(err)
	}
	for _, p := range mgr.Projections() {
		r, err := projections.NewRunner(projections.RunnerConfig{Pool: h.pool, Store: h.store, Projection: p, LockRetry: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		go func() { _ = r.Run(h.ctx) }()
	}
	queries, err := projections.NewQueries(projections.QueriesConfig{Pool: h.pool})
	if err != nil {
		t.Fatal(err)
	}
	auth, err := projections.NewKeyAuthenticator(h.pool)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	if _, err := httpapi.New(httpapi.Config{Mux: mux, Commands: h.cmds, Reader: queries, Auth: auth, Secrets: h.secrets}); err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(mux)
	defer api.Close()
	// The production default: the signup event names no plan, the API
	// starts the trial, and the process managers provision it.
	h.start(t, func(c *processes.Config) { c.ChosenPlan = nil })

	body, _ := json.Marshal(map[string]string{"name": "Grace Hopper", "email": "grace@example.com", "slug": "grace", "plan": "hobby"})
	resp, err := http.Post(api.URL+"/v1/signup", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var signup httpapi.SignUpResponse
	if err := json.NewDecoder(resp.Body).Decode(&signup); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("signup: %d %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	subID, err := uuid.Parse(signup.SubscriptionID)
	if err != nil {
		t.Fatalf("subscription id %q: %v", signup.SubscriptionID, err)
	}
	depID := processes.InitialDeploymentID(subID)

	var dep httpapi.Deployment
	waitFor(t, "GET /v1/deployments/{id} to show provisioned", func() bool {
		req, _ := http.NewRequest(http.MethodGet, api.URL+"/v1/deployments/"+depID.String(), nil)
		req.Header.Set("Authorization", "Bearer "+signup.APIKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return false
		}
		dep = httpapi.Deployment{}
		if err := json.NewDecoder(resp.Body).Decode(&dep); err != nil {
			t.Fatal(err)
		}
		return dep.Status == "provisioned"
	})
	if dep.APIURL == nil || *dep.APIURL != "https://grace."+baseDomain || dep.SyncURL == nil || *dep.SyncURL != "wss://grace."+baseDomain+"/sync" {
		t.Fatalf("deployment = %+v", dep)
	}
	if dep.Provider != "hetzner" {
		t.Fatalf("provider = %s", dep.Provider)
	}
	st := h.sim.State()
	if len(st.Hetzner.Servers) != 1 || len(st.Cloudflare.Records) != 1 {
		t.Fatalf("servers %+v records %+v: want one of each (one subscription, one deployment)", st.Hetzner.Servers, st.Cloudflare.Records)
	}
}
