package domain

import (
	"fmt"
	"slices"
)

// PlanID names a plan of the catalogue.
type PlanID string

// The plans WebHost sells.
const (
	PlanHobby        PlanID = "hobby"
	PlanStarter      PlanID = "starter"
	PlanProfessional PlanID = "professional"
	PlanBusiness     PlanID = "business"
)

// SupportLevel is the support a plan includes.
type SupportLevel struct {
	Channel string `json:"channel"` // "email", "priority_email", "slack", "phone"
	// Response time bounds in hours.
	ResponseMinHours int `json:"response_min_hours"`
	ResponseMaxHours int `json:"response_max_hours"`
}

// Plan is one entry of the catalogue.
type Plan struct {
	ID PlanID
	// PriceCents is the monthly price in US cents.
	PriceCents int64
	Currency   string
	Support    SupportLevel
}

var catalogue = []Plan{
	{ID: PlanHobby, PriceCents: 1500, Currency: "usd", Support: SupportLevel{Channel: "email", ResponseMinHours: 24, ResponseMaxHours: 48}},
	{ID: PlanStarter, PriceCents: 4900, Currency: "usd", Support: SupportLevel{Channel: "priority_email", ResponseMinHours: 12, ResponseMaxHours: 24}},
	{ID: PlanProfessional, PriceCents: 14900, Currency: "usd", Support: SupportLevel{Channel: "slack", ResponseMinHours: 4, ResponseMaxHours: 8}},
	{ID: PlanBusiness, PriceCents: 39900, Currency: "usd", Support: SupportLevel{Channel: "phone", ResponseMinHours: 1, ResponseMaxHours: 2}},
}

// Plans returns the catalogue, cheapest first.
func Plans() []Plan { return slices.Clone(catalogue) }

// LookupPlan returns the plan with that ID, or an error matching
// ErrPlanUnknown (and ErrValidation).
func LookupPlan(id PlanID) (Plan, error) {
	for _, p := range catalogue {
		if p.ID == id {
			return p, nil
		}
	}
	return Plan{}, &ValidationError{Field: "plan", Reason: fmt.Sprintf("%q is not a plan", string(id)), Err: ErrPlanUnknown}
}

// Provider is the cloud a deployment runs on.
type Provider string

// Providers.
const (
	ProviderHetzner Provider = "hetzner"
	ProviderFly     Provider = "fly"
)

// RedisPlacement says where a deployment's Redis runs.
type RedisPlacement string

// Redis placements.
const (
	RedisOnServer RedisPlacement = "server"  // on the deployment's own server
	RedisUpstash  RedisPlacement = "upstash" // Upstash through Fly.io
)

// RedisSpec is the Redis part of a deployment.
type RedisSpec struct {
	Placement RedisPlacement `json:"placement"`
	// Tier is the Upstash tier ("free", "standard", "premium"); empty on a
	// server.
	Tier string `json:"tier,omitempty"`
}

// DatabaseSpec is the PostgreSQL part of a deployment.
type DatabaseSpec struct {
	SizeGB       int `json:"size_gb"`
	ReadReplicas int `json:"read_replicas"`
	// BackupRetentionDays is how long backups are kept.
	BackupRetentionDays int `json:"backup_retention_days"`
}

// Alert is one monitoring alert of a deployment.
type Alert struct {
	Metric string `json:"metric"` // e.g. "cpu", "response_time"
	// Threshold and Unit describe when it fires, e.g. 90 "percent" or
	// 1000 "ms".
	Threshold float64 `json:"threshold"`
	Unit      string  `json:"unit"`
}

// Step is one provisioning step of a deployment. Steps run in the order
// DeploymentSpec.Steps gives; each is recorded when it starts and when its
// resource exists, so a process manager can resume after a crash.
type Step string

// Provisioning steps.
const (
	StepServer   Step = "server"   // Hetzner: server with PostgreSQL, Redis and the sync server
	StepApp      Step = "app"      // Fly.io: the application
	StepDatabase Step = "database" // Fly.io: the PostgreSQL cluster
	StepRedis    Step = "redis"    // Upstash Redis
	StepMachines Step = "machines" // Fly.io: the application's machines in every region
	StepDNS      Step = "dns"      // Cloudflare: the customer's DNS record
)

// DeploymentSpec is what DecideInfrastructure chooses for a plan: everything
// the provisioning process needs to build a customer's backend.
type DeploymentSpec struct {
	Plan     PlanID   `json:"plan"`
	Provider Provider `json:"provider"`
	// ServerType and Location are set for Hetzner.
	ServerType string `json:"server_type,omitempty"`
	Location   string `json:"location,omitempty"`
	// Regions are the Fly.io regions, primary first.
	Regions  []string     `json:"regions,omitempty"`
	Redis    RedisSpec    `json:"redis"`
	Database DatabaseSpec `json:"database"`
	Alerts   []Alert      `json:"alerts"`
	Support  SupportLevel `json:"support"`
}

// BackupRetentionDays is how long every plan keeps backups.
const BackupRetentionDays = 30

var (
	hetznerAlerts = []Alert{
		{Metric: "cpu", Threshold: 90, Unit: "percent"},
		{Metric: "memory", Threshold: 90, Unit: "percent"},
		{Metric: "disk", Threshold: 85, Unit: "percent"},
	}
	flyAlerts = []Alert{
		{Metric: "response_time", Threshold: 1000, Unit: "ms"},
		{Metric: "error_rate", Threshold: 5, Unit: "percent"},
		{Metric: "throughput", Threshold: 1, Unit: "requests_per_second_min"},
	}
)

// DecideInfrastructure returns the deployment spec of a plan:
//
//	hobby         Hetzner cax11 in nbg1, Redis on the server, 10 GB
//	starter       Fly.io iad, Upstash free, 10 GB
//	professional  Fly.io iad + fra, 1 read replica, Upstash standard, 20 GB
//	business      Fly.io iad + fra + sin, 2 read replicas, Upstash premium, 20 GB
//
// Hetzner deployments alert on CPU, memory and disk; Fly.io deployments on
// response time, error rate and throughput. Backups are kept 30 days. An
// unknown plan returns an error matching ErrPlanUnknown.
func DecideInfrastructure(plan PlanID) (DeploymentSpec, error) {
	p, err := LookupPlan(plan)
	if err != nil {
		return DeploymentSpec{}, err
	}
	spec := DeploymentSpec{Plan: p.ID, Support: p.Support}
	switch p.ID {
	case PlanHobby:
		spec.Provider = ProviderHetzner
		spec.ServerType = "cax11"
		spec.Location = "nbg1"
		spec.Redis = RedisSpec{Placement: RedisOnServer}
		spec.Database = DatabaseSpec{SizeGB: 10}
		spec.Alerts = slices.Clone(hetznerAlerts)
	case PlanStarter:
		spec.Provider = ProviderFly
		spec.Regions = []string{"iad"}
		spec.Redis = RedisSpec{Placement: RedisUpstash, Tier: "free"}
		spec.Database = DatabaseSpec{SizeGB: 10}
		spec.Alerts = slices.Clone(flyAlerts)
	case PlanProfessional:
		spec.Provider = ProviderFly
		spec.Regions = []string{"iad", "fra"}
		spec.Redis = RedisSpec{Placement: RedisUpstash, Tier: "standard"}
		spec.Database = DatabaseSpec{SizeGB: 20, ReadReplicas: 1}
		spec.Alerts = slices.Clone(flyAlerts)
	case PlanBusiness:
		spec.Provider = ProviderFly
		spec.Regions = []string{"iad", "fra", "sin"}
		spec.Redis = RedisSpec{Placement: RedisUpstash, Tier: "premium"}
		spec.Database = DatabaseSpec{SizeGB: 20, ReadReplicas: 2}
		spec.Alerts = slices.Clone(flyAlerts)
	}
	spec.Database.BackupRetentionDays = BackupRetentionDays
	return spec, nil
}

// Steps returns the provisioning steps of the spec in the order they run.
func (s DeploymentSpec) Steps() []Step {
	if s.Provider == ProviderHetzner {
		return []Step{StepServer, StepDNS}
	}
	return []Step{StepApp, StepDatabase, StepRedis, StepMachines, StepDNS}
}

// Clone returns a deep copy of s.
func (s DeploymentSpec) Clone() DeploymentSpec {
	s.Regions = slices.Clone(s.Regions)
	s.Alerts = slices.Clone(s.Alerts)
	return s
}

// flyRegions are the Fly.io regions a deployment may scale into.
var flyRegions = []string{
	"ams", "arn", "atl", "bog", "bom", "bos", "cdg", "den", "dfw", "ewr", "eze", "fra", "gdl", "gig", "gru",
	"hkg", "iad", "jnb", "lax", "lhr", "mad", "mia", "nrt", "ord", "otp", "phx", "qro", "scl", "sea", "sin",
	"sjc", "syd", "waw", "yul", "yyz",
}

// IsFlyRegion reports whether code is a Fly.io region a deployment may use.
func IsFlyRegion(code string) bool { return slices.Contains(flyRegions, code) }
