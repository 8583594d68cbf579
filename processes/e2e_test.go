package processes_test

import (
	"strings"
	"testing"

	"github.com/webhost-systems/webhost/domain"
	"github.com/webhost-systems/webhost/processes"
	"github.com/webhost-systems/webhost/providers/sim"
)

func TestHobbySignupProvisionsOnHetzner(t *testing.T) {
	h := newHarness(t)
	h.start(t, nil)
	customerID, slug := h.signUp(t, domain.PlanHobby)
	depID := initialDeployment(customerID)
	d := h.waitStatus(t, depID, domain.DeploymentStatusProvisioned, domain.DeploymentStatusFailed)
	if d.Status() != domain.DeploymentStatusProvisioned {
		_, reason := d.Failure()
		t.Fatalf("deployment %s: %s", d.Status(), reason)
	}
	if d.APIURL() != "https://"+slug+"."+baseDomain || d.SyncURL() != "wss://"+slug+"."+baseDomain+"/sync" {
		t.Fatalf("URLs = %s, %s", d.APIURL(), d.SyncURL())
	}
	st := h.sim.State()
	if len(st.Hetzner.Servers) != 1 {
		t.Fatalf("servers = %+v, want one", st.Hetzner.Servers)
	}
	srv := st.Hetzner.Servers[0]
	if srv.Name != processes.ResourceName(depID.String()) || srv.ServerType != "cax11" || srv.Location != "nbg1" ||
		srv.Labels[processes.LabelDeployment] != depID.String() {
		t.Fatalf("server = %+v", srv)
	}
	if len(st.Cloudflare.Records) != 1 || st.Cloudflare.Records[0].Type != "A" ||
		!strings.HasPrefix(st.Cloudflare.Records[0].Name, slug) {
		t.Fatalf("records = %+v, want one A record for %s", st.Cloudflare.Records, slug)
	}
	if len(st.Fly.Apps) != 0 {
		t.Fatalf("fly apps = %+v, want none", st.Fly.Apps)
	}
	// The trial started on the chosen plan, and the welcome mail is queued.
	waitFor(t, "welcome notification", func() bool {
		out, err := processes.ListOutbox(h.ctx, h.pool, customerID.String())
		return err == nil && len(out) == 1 && out[0].Kind == processes.NotificationWelcome
	})
	if got := h.events(t, "subscription-"+processes.SubscriptionID(customerID).String()); len(got) != 1 || got[0] != domain.TypeSubscriptionStarted {
		t.Fatalf("subscription events = %v", got)
	}
}

func TestBusinessSignupProvisionsOnFlyInThreeRegions(t *testing.T) {
	h := newHarness(t)
	h.start(t, nil)
	customerID, slug := h.signUp(t, domain.PlanBusiness)
	depID := initialDeployment(customerID)
	d := h.waitStatus(t, depID, domain.DeploymentStatusProvisioned, domain.DeploymentStatusFailed)
	if d.Status() != domain.DeploymentStatusProvisioned {
		_, reason := d.Failure()
		t.Fatalf("deployment %s: %s", d.Status(), reason)
	}
	st := h.sim.State()
	app := processes.ResourceName(depID.String())
	regions := map[string]int{}
	for _, m := range st.Fly.Machines {
		if m.App == app {
			regions[m.Region]++
		}
	}
	if len(regions) != 3 || regions["iad"] == 0 || regions["fra"] == 0 || regions["sin"] == 0 {
		t.Fatalf("machines of %s by region = %v, want iad, fra and sin", app, regions)
	}
	if len(st.Fly.Redis) != 1 || len(st.Hetzner.Servers) != 0 {
		t.Fatalf("redis = %+v servers = %+v", st.Fly.Redis, st.Hetzner.Servers)
	}
	if len(st.Cloudflare.Records) != 1 || st.Cloudflare.Records[0].Type != "CNAME" {
		t.Fatalf("records = %+v, want one CNAME", st.Cloudflare.Records)
	}
	if d.APIURL() != "https://"+slug+"."+baseDomain {
		t.Fatalf("API URL = %s", d.APIURL())
	}
	// No secret values in the sim's view of the app, and the deployment
	// events reference the database URL by secret ID only.
	for _, a := range st.Fly.Apps {
		if a.Name == app && len(a.SecretNames) == 0 {
			t.Fatalf("app %s has no secrets set", app)
		}
	}
	_ = sim.State{}
}
