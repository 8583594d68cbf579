package domain

import (
	"errors"
	"reflect"
	"testing"
)

func TestPlanCatalogue(t *testing.T) {
	t.Parallel()
	want := map[PlanID]struct {
		cents   int64
		channel string
		min     int
		max     int
	}{
		PlanHobby:        {1500, "email", 24, 48},
		PlanStarter:      {4900, "priority_email", 12, 24},
		PlanProfessional: {14900, "slack", 4, 8},
		PlanBusiness:     {39900, "phone", 1, 2},
	}
	plans := Plans()
	if len(plans) != len(want) {
		t.Fatalf("%d plans, want %d", len(plans), len(want))
	}
	for _, p := range plans {
		w := want[p.ID]
		if p.PriceCents != w.cents || p.Currency != "usd" || p.Support.Channel != w.channel ||
			p.Support.ResponseMinHours != w.min || p.Support.ResponseMaxHours != w.max {
			t.Errorf("plan %s = %+v", p.ID, p)
		}
	}
	if _, err := LookupPlan("free"); !errors.Is(err, ErrPlanUnknown) || !errors.Is(err, ErrValidation) {
		t.Fatalf("LookupPlan(free) = %v", err)
	}
	plans[0].PriceCents = 0
	if p, _ := LookupPlan(PlanHobby); p.PriceCents != 1500 {
		t.Fatal("Plans exposes the catalogue")
	}
}

func TestDecideInfrastructure(t *testing.T) {
	t.Parallel()
	hetznerAlerts := []string{"cpu", "memory", "disk"}
	flyAlerts := []string{"response_time", "error_rate", "throughput"}
	for _, tc := range []struct {
		plan       PlanID
		provider   Provider
		serverType string
		location   string
		regions    []string
		replicas   int
		redis      RedisSpec
		dbGB       int
		alerts     []string
		steps      []Step
	}{
		{PlanHobby, ProviderHetzner, "cax11", "nbg1", nil, 0, RedisSpec{Placement: RedisOnServer}, 10, hetznerAlerts, []Step{StepServer, StepDNS}},
		{PlanStarter, ProviderFly, "", "", []string{"iad"}, 0, RedisSpec{RedisUpstash, "free"}, 10, flyAlerts, []Step{StepApp, StepDatabase, StepRedis, StepMachines, StepDNS}},
		{PlanProfessional, ProviderFly, "", "", []string{"iad", "fra"}, 1, RedisSpec{RedisUpstash, "standard"}, 20, flyAlerts, []Step{StepApp, StepDatabase, StepRedis, StepMachines, StepDNS}},
		{PlanBusiness, ProviderFly, "", "", []string{"iad", "fra", "sin"}, 2, RedisSpec{RedisUpstash, "premium"}, 20, flyAlerts, []Step{StepApp, StepDatabase, StepRedis, StepMachines, StepDNS}},
	} {
		spec, err := DecideInfrastructure(tc.plan)
		if err != nil {
			t.Fatalf("%s: %v", tc.plan, err)
		}
		var alerts []string
		for _, a := range spec.Alerts {
			alerts = append(alerts, a.Metric)
			if a.Threshold <= 0 || a.Unit == "" {
				t.Errorf("%s: alert %+v without threshold", tc.plan, a)
			}
		}
		plan, _ := LookupPlan(tc.plan)
		if spec.Plan != tc.plan || spec.Provider != tc.provider || spec.ServerType != tc.serverType || spec.Location != tc.location ||
			!reflect.DeepEqual(spec.Regions, tc.regions) || spec.Database.ReadReplicas != tc.replicas || spec.Redis != tc.redis ||
			spec.Database.SizeGB != tc.dbGB || spec.Database.BackupRetentionDays != 30 || !reflect.DeepEqual(alerts, tc.alerts) ||
			!reflect.DeepEqual(spec.Steps(), tc.steps) || spec.Support != plan.Support {
			t.Errorf("%s: spec = %+v", tc.plan, spec)
		}
	}
	if _, err := DecideInfrastructure("platinum"); !errors.Is(err, ErrPlanUnknown) {
		t.Fatalf("unknown plan: %v", err)
	}
	a, _ := DecideInfrastructure(PlanBusiness)
	a.Regions[0] = "xxx"
	a.Alerts[0].Metric = "xxx"
	if b, _ := DecideInfrastructure(PlanBusiness); b.Regions[0] != "iad" || b.Alerts[0].Metric != "response_time" {
		t.Fatal("specs share state")
	}
}
