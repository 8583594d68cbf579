package domain

import (
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Deployment event type names.
const (
	TypeDeploymentRequested          = "DeploymentRequested"
	TypeProvisioningStepStarted      = "ProvisioningStepStarted"
	TypeServerCreated                = "ServerCreated"
	TypeAppCreated                   = "AppCreated"
	TypeDatabaseCreated              = "DatabaseCreated"
	TypeRedisCreated                 = "RedisCreated"
	TypeMachinesLaunched             = "MachinesLaunched"
	TypeDNSRecordCreated             = "DNSRecordCreated"
	TypeDeploymentProvisioned        = "DeploymentProvisioned"
	TypeDeploymentFailed             = "DeploymentFailed"
	TypeResourcesCleanedUp           = "ResourcesCleanedUp"
	TypeDeploymentHealthChanged      = "DeploymentHealthChanged"
	TypeDeploymentScaled             = "DeploymentScaled"
	TypeDeploymentMigrationStarted   = "DeploymentMigrationStarted"
	TypeDeploymentMigrationCompleted = "DeploymentMigrationCompleted"
	TypeDeploymentMigrationFailed    = "DeploymentMigrationFailed"
	TypeDeploymentDecommissioned     = "DeploymentDecommissioned"
)

// DeploymentRequested asks for a customer backend built to Spec.
type DeploymentRequested struct {
	DeploymentID   string         `json:"deployment_id"`
	CustomerID     string         `json:"customer_id"`
	SubscriptionID string         `json:"subscription_id,omitempty"`
	Slug           string         `json:"slug"`
	Spec           DeploymentSpec `json:"spec"`
	// ReplacesDeploymentID is set when this deployment is the target of a
	// migration (a plan change across clouds).
	ReplacesDeploymentID string    `json:"replaces_deployment_id,omitempty"`
	RequestedAt          time.Time `json:"requested_at"`
}

// ProvisioningStepStarted records the intent to run a step (attempt 1, 2,
// ...), before the provider call.
type ProvisioningStepStarted struct {
	DeploymentID string    `json:"deployment_id"`
	Step         Step      `json:"step"`
	Attempt      int       `json:"attempt"`
	StartedAt    time.Time `json:"started_at"`
}

// ServerCreated completes StepServer (Hetzner). The server runs
// PostgreSQL, Redis and the sync server; its generated credentials live in
// the secrets store under CredentialsSecretID.
type ServerCreated struct {
	DeploymentID        string    `json:"deployment_id"`
	ServerID            string    `json:"server_id"`
	Name                string    `json:"name"`
	ServerType          string    `json:"server_type"`
	Location            string    `json:"location"`
	IPv4                string    `json:"ipv4,omitempty"`
	IPv6                string    `json:"ipv6,omitempty"`
	CredentialsSecretID string    `json:"credentials_secret_id,omitempty"`
	CreatedAt           time.Time `json:"created_at"`
}

// AppCreated completes StepApp (Fly.io).
type AppCreated struct {
	DeploymentID string    `json:"deployment_id"`
	AppName      string    `json:"app_name"`
	Hostname     string    `json:"hostname,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
}

// DatabaseCreated completes StepDatabase (Fly.io PostgreSQL). The
// connection URL is a secret.
type DatabaseCreated struct {
	DeploymentID string    `json:"deployment_id"`
	ClusterName  string    `json:"cluster_name"`
	Host         string    `json:"host,omitempty"`
	Port         int       `json:"port,omitempty"`
	Region       string    `json:"region"`
	ReadReplicas int       `json:"read_replicas"`
	URLSecretID  string    `json:"url_secret_id,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
}

// RedisCreated completes StepRedis (Upstash). The URL is a secret.
type RedisCreated struct {
	DeploymentID string    `json:"deployment_id"`
	RedisID      string    `json:"redis_id"`
	Name         string    `json:"name"`
	Tier         string    `json:"tier"`
	URLSecretID  string    `json:"url_secret_id,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
}

// LaunchedMachine is one machine of MachinesLaunched.
type LaunchedMachine struct {
	MachineID string `json:"machine_id"`
	Region    string `json:"region"`
}

// MachinesLaunched completes StepMachines (Fly.io machines in every region).
type MachinesLaunched struct {
	DeploymentID string            `json:"deployment_id"`
	AppName      string            `json:"app_name"`
	Machines     []LaunchedMachine `json:"machines"`
	CreatedAt    time.Time         `json:"created_at"`
}

// DNSRecordCreated completes StepDNS (Cloudflare).
type DNSRecordCreated struct {
	DeploymentID string    `json:"deployment_id"`
	RecordID     string    `json:"record_id"`
	Name         string    `json:"name"`
	Type         string    `json:"type"`
	Content      string    `json:"content"`
	CreatedAt    time.Time `json:"created_at"`
}

// DeploymentProvisioned: every step completed; the backend serves.
type DeploymentProvisioned struct {
	DeploymentID  string    `json:"deployment_id"`
	APIURL        string    `json:"api_url"`
	SyncURL       string    `json:"sync_url"`
	ProvisionedAt time.Time `json:"provisioned_at"`
}

// DeploymentFailed: provisioning gave up at Step. Compensation
// (ResourcesCleanedUp) follows.
type DeploymentFailed struct {
	DeploymentID string    `json:"deployment_id"`
	Step         Step      `json:"step"`
	Reason       string    `json:"reason"`
	FailedAt     time.Time `json:"failed_at"`
}

// ResourceRef names one provider resource of a deployment.
type ResourceRef struct {
	Step Step   `json:"step"`
	ID   string `json:"id"`
}

// ResourcesCleanedUp: the resources of a failed or decommissioned
// deployment were deleted.
type ResourcesCleanedUp struct {
	DeploymentID string        `json:"deployment_id"`
	Resources    []ResourceRef `json:"resources"`
	CleanedAt    time.Time     `json:"cleaned_at"`
}

// DeploymentHealthChanged is appended only when the health changes.
type DeploymentHealthChanged struct {
	DeploymentID string           `json:"deployment_id"`
	From         DeploymentHealth `json:"from"`
	To           DeploymentHealth `json:"to"`
	Detail       string           `json:"detail,omitempty"`
	CheckedAt    time.Time        `json:"checked_at"`
}

// DeploymentScaled changes the regions and read replicas.
type DeploymentScaled struct {
	DeploymentID     string    `json:"deployment_id"`
	RegionsAdded     []string  `json:"regions_added,omitempty"`
	RegionsRemoved   []string  `json:"regions_removed,omitempty"`
	Regions          []string  `json:"regions"`
	ReadReplicasFrom int       `json:"read_replicas_from"`
	ReadReplicasTo   int       `json:"read_replicas_to"`
	ScaledAt         time.Time `json:"scaled_at"`
}

// DeploymentMigrationStarted: data moves to TargetDeploymentID.
type DeploymentMigrationStarted struct {
	DeploymentID       string    `json:"deployment_id"`
	TargetDeploymentID string    `json:"target_deployment_id"`
	StartedAt          time.Time `json:"started_at"`
}

// DeploymentMigrationCompleted: the target serves; this deployment can be
// decommissioned.
type DeploymentMigrationCompleted struct {
	DeploymentID       string    `json:"deployment_id"`
	TargetDeploymentID string    `json:"target_deployment_id"`
	CompletedAt        time.Time `json:"completed_at"`
}

// DeploymentMigrationFailed: the migration was abandoned; this deployment
// keeps serving.
type DeploymentMigrationFailed struct {
	DeploymentID       string    `json:"deployment_id"`
	TargetDeploymentID string    `json:"target_deployment_id"`
	Reason             string    `json:"reason"`
	FailedAt           time.Time `json:"failed_at"`
}

// DeploymentDecommissioned: the deployment stops serving; the deletion of
// its resources follows (ResourcesCleanedUp).
type DeploymentDecommissioned struct {
	DeploymentID     string    `json:"deployment_id"`
	Reason           string    `json:"reason,omitempty"`
	DecommissionedAt time.Time `json:"decommissioned_at"`
}

// EventType implements Event.
func (DeploymentRequested) EventType() string { return TypeDeploymentRequested }

// EventType implements Event.
func (ProvisioningStepStarted) EventType() string { return TypeProvisioningStepStarted }

// EventType implements Event.
func (ServerCreated) EventType() string { return TypeServerCreated }

// EventType implements Event.
func (AppCreated) EventType() string { return TypeAppCreated }

// EventType implements Event.
func (DatabaseCreated) EventType() string { return TypeDatabaseCreated }

// EventType implements Event.
func (RedisCreated) EventType() string { return TypeRedisCreated }

// EventType implements Event.
func (MachinesLaunched) EventType() string { return TypeMachinesLaunched }

// EventType implements Event.
func (DNSRecordCreated) EventType() string { return TypeDNSRecordCreated }

// EventType implements Event.
func (DeploymentProvisioned) EventType() string { return TypeDeploymentProvisioned }

// EventType implements Event.
func (DeploymentFailed) EventType() string { return TypeDeploymentFailed }

// EventType implements Event.
func (ResourcesCleanedUp) EventType() string { return TypeResourcesCleanedUp }

// EventType implements Event.
func (DeploymentHealthChanged) EventType() string { return TypeDeploymentHealthChanged }

// EventType implements Event.
func (DeploymentScaled) EventType() string { return TypeDeploymentScaled }

// EventType implements Event.
func (DeploymentMigrationStarted) EventType() string { return TypeDeploymentMigrationStarted }

// EventType implements Event.
func (DeploymentMigrationCompleted) EventType() string { return TypeDeploymentMigrationCompleted }

// EventType implements Event.
func (DeploymentMigrationFailed) EventType() string { return TypeDeploymentMigrationFailed }

// EventType implements Event.
func (DeploymentDecommissioned) EventType() string { return TypeDeploymentDecommissioned }

// StepResult is an event that completes a provisioning step: ServerCreated,
// AppCreated, DatabaseCreated, RedisCreated, MachinesLaunched or
// DNSRecordCreated.
type StepResult interface {
	Event
	// ProvisioningStep is the step the event completes.
	ProvisioningStep() Step
	// ResourceID identifies the created resource at its provider.
	ResourceID() string
	withDeployment(id string, at time.Time) StepResult
}

// ProvisioningStep implements StepResult.
func (e ServerCreated) ProvisioningStep() Step { return StepServer }

// ResourceID implements StepResult.
func (e ServerCreated) ResourceID() string { return e.ServerID }

func (e ServerCreated) withDeployment(id string, at time.Time) StepResult {
	e.DeploymentID, e.CreatedAt = id, at
	return e
}

// ProvisioningStep implements StepResult.
func (e AppCreated) ProvisioningStep() Step { return StepApp }

// ResourceID implements StepResult.
func (e AppCreated) ResourceID() string { return e.AppName }

func (e AppCreated) withDeployment(id string, at time.Time) StepResult {
	e.DeploymentID, e.CreatedAt = id, at
	return e
}

// ProvisioningStep implements StepResult.
func (e DatabaseCreated) ProvisioningStep() Step { return StepDatabase }

// ResourceID implements StepResult.
func (e DatabaseCreated) ResourceID() string { return e.ClusterName }

func (e DatabaseCreated) withDeployment(id string, at time.Time) StepResult {
	e.DeploymentID, e.CreatedAt = id, at
	return e
}

// ProvisioningStep implements StepResult.
func (e RedisCreated) ProvisioningStep() Step { return StepRedis }

// ResourceID implements StepResult.
func (e RedisCreated) ResourceID() string { return e.RedisID }

func (e RedisCreated) withDeployment(id string, at time.Time) StepResult {
	e.DeploymentID, e.CreatedAt = id, at
	return e
}

// ProvisioningStep implements StepResult.
func (e MachinesLaunched) ProvisioningStep() Step { return StepMachines }

// ResourceID implements StepResult.
func (e MachinesLaunched) ResourceID() string { return e.AppName }

func (e MachinesLaunched) withDeployment(id string, at time.Time) StepResult {
	e.DeploymentID, e.CreatedAt = id, at
	e.Machines = slices.Clone(e.Machines)
	return e
}

// ProvisioningStep implements StepResult.
func (e DNSRecordCreated) ProvisioningStep() Step { return StepDNS }

// ResourceID implements StepResult.
func (e DNSRecordCreated) ResourceID() string { return e.RecordID }

func (e DNSRecordCreated) withDeployment(id string, at time.Time) StepResult {
	e.DeploymentID, e.CreatedAt = id, at
	return e
}

// DeploymentStatus is the lifecycle state of a deployment.
type DeploymentStatus string

// Deployment statuses. The zero value means not requested.
const (
	DeploymentStatusNone           DeploymentStatus = ""
	DeploymentStatusRequested      DeploymentStatus = "requested"
	DeploymentStatusProvisioning   DeploymentStatus = "provisioning"
	DeploymentStatusProvisioned    DeploymentStatus = "provisioned"
	DeploymentStatusFailed         DeploymentStatus = "failed"
	DeploymentStatusDecommissioned DeploymentStatus = "decommissioned"
)

// DeploymentHealth is the health of a provisioned deployment.
type DeploymentHealth string

// Health values. A deployment is HealthUnknown until its first check.
const (
	HealthUnknown   DeploymentHealth = "unknown"
	HealthHealthy   DeploymentHealth = "healthy"
	HealthDegraded  DeploymentHealth = "degraded"
	HealthUnhealthy DeploymentHealth = "unhealthy"
)

// MigrationStatus is the state of a deployment's migration to a
// replacement.
type MigrationStatus string

// Migration statuses. The zero value means none was started.
const (
	MigrationNone      MigrationStatus = ""
	MigrationRunning   MigrationStatus = "running"
	MigrationCompleted MigrationStatus = "completed"
	MigrationFailed    MigrationStatus = "failed"
)

// Deployment is the state of one deployment.
type Deployment struct {
	id             string
	customerID     string
	subscriptionID string
	slug           string
	replaces       string
	spec           DeploymentSpec
	status         DeploymentStatus

	// currentStep is the step started last; attempts counts its starts.
	currentStep Step
	attempts    int
	// resources are the completed steps' resources, in step order.
	resources []ResourceRef

	apiURL, syncURL string
	failedStep      Step
	failureReason   string
	cleanedUp       bool
	health          DeploymentHealth

	migrationTarget string
	migration       MigrationStatus
}

// ID returns the deployment's ID.
func (d Deployment) ID() string { return d.id }

// CustomerID returns the owner's ID.
func (d Deployment) CustomerID() string { return d.customerID }

// SubscriptionID returns the subscription the deployment serves.
func (d Deployment) SubscriptionID() string { return d.subscriptionID }

// Slug returns the owner's slug at request time (its DNS name).
func (d Deployment) Slug() string { return d.slug }

// Replaces returns the deployment this one replaces, if any.
func (d Deployment) Replaces() string { return d.replaces }

// Spec returns the deployment spec (with the current regions and replicas).
func (d Deployment) Spec() DeploymentSpec { return d.spec.Clone() }

// Status returns the lifecycle state.
func (d Deployment) Status() DeploymentStatus { return d.status }

// Resources returns the resources of the completed steps, in step order.
func (d Deployment) Resources() []ResourceRef { return slices.Clone(d.resources) }

// APIURL returns the API URL once provisioned.
func (d Deployment) APIURL() string { return d.apiURL }

// SyncURL returns the sync URL once provisioned.
func (d Deployment) SyncURL() string { return d.syncURL }

// Failure returns the step and reason of a failed deployment.
func (d Deployment) Failure() (Step, string) { return d.failedStep, d.failureReason }

// CleanedUp reports whether the resources were cleaned up.
func (d Deployment) CleanedUp() bool { return d.cleanedUp }

// Health returns the last recorded health.
func (d Deployment) Health() DeploymentHealth { return d.health }

// Migration returns the migration target and status.
func (d Deployment) Migration() (target string, status MigrationStatus) {
	return d.migrationTarget, d.migration
}

// StepCompleted reports whether step has its resource recorded.
func (d Deployment) StepCompleted(step Step) bool {
	return slices.ContainsFunc(d.resources, func(r ResourceRef) bool { return r.Step == step })
}

// NextStep returns the first step of the spec without a recorded resource,
// and how many times it was started already. A process manager that resumes
// after a crash continues there (its provider calls are idempotent, so a
// started step whose resource exists is adopted). ok is false when every
// step completed or the deployment is not provisioning.
func (d Deployment) NextStep() (step Step, attempts int, ok bool) {
	if d.status != DeploymentStatusRequested && d.status != DeploymentStatusProvisioning {
		return "", 0, false
	}
	for _, s := range d.spec.Steps() {
		if !d.StepCompleted(s) {
			if s == d.currentStep {
				return s, d.attempts, true
			}
			return s, 0, true
		}
	}
	return "", 0, false
}

// DeploymentCommand is a command on the Deployment aggregate.
type DeploymentCommand interface {
	deploymentCommand() string
}

// RequestDeployment asks for a deployment of Plan; the spec comes from
// DecideInfrastructure.
type RequestDeployment struct {
	DeploymentID         string
	CustomerID           string
	SubscriptionID       string
	Slug                 string
	Plan                 PlanID
	ReplacesDeploymentID string
	At                   time.Time
}

// StartProvisioningStep records the intent to run Step (the next one, or the
// current one again for a retry).
type StartProvisioningStep struct {
	Step Step
	At   time.Time
}

// RecordProvisioningStep records the resource a started step created.
// Result's DeploymentID and CreatedAt are filled in by Decide.
type RecordProvisioningStep struct {
	Result StepResult
	At     time.Time
}

// MarkDeploymentProvisioned completes provisioning.
type MarkDeploymentProvisioned struct {
	APIURL  string
	SyncURL string
	At      time.Time
}

// MarkDeploymentFailed gives up provisioning at Step.
type MarkDeploymentFailed struct {
	Step   Step
	Reason string
	At     time.Time
}

// RecordCleanup records the deletion of the resources of a failed or
// decommissioned deployment. Empty Resources means every recorded one.
type RecordCleanup struct {
	Resources []ResourceRef
	At        time.Time
}

// RecordHealth records a health check; only a change causes an event.
type RecordHealth struct {
	Health DeploymentHealth
	Detail string
	At     time.Time
}

// ScaleDeployment adds or removes Fly.io regions and sets the number of read
// replicas (nil: unchanged).
type ScaleDeployment struct {
	AddRegions    []string
	RemoveRegions []string
	ReadReplicas  *int
	At            time.Time
}

// StartMigration starts moving data to a replacement deployment.
type StartMigration struct {
	TargetDeploymentID string
	At                 time.Time
}

// CompleteMigration records that the replacement serves.
type CompleteMigration struct {
	TargetDeploymentID string
	At                 time.Time
}

// FailMigration abandons the migration.
type FailMigration struct {
	TargetDeploymentID string
	Reason             string
	At                 time.Time
}

// DecommissionDeployment retires a provisioned (not migrating) or failed
// deployment.
type DecommissionDeployment struct {
	Reason string
	At     time.Time
}

func (RequestDeployment) deploymentCommand() string         { return "RequestDeployment" }
func (StartProvisioningStep) deploymentCommand() string     { return "StartProvisioningStep" }
func (RecordProvisioningStep) deploymentCommand() string    { return "RecordProvisioningStep" }
func (MarkDeploymentProvisioned) deploymentCommand() string { return "MarkDeploymentProvisioned" }
func (MarkDeploymentFailed) deploymentCommand() string      { return "MarkDeploymentFailed" }
func (RecordCleanup) deploymentCommand() string             { return "RecordCleanup" }
func (RecordHealth) deploymentCommand() string              { return "RecordHealth" }
func (ScaleDeployment) deploymentCommand() string           { return "ScaleDeployment" }
func (StartMigration) deploymentCommand() string            { return "StartMigration" }
func (CompleteMigration) deploymentCommand() string         { return "CompleteMigration" }
func (FailMigration) deploymentCommand() string             { return "FailMigration" }
func (DecommissionDeployment) deploymentCommand() string    { return "DecommissionDeployment" }

// MaxReasonLength bounds failure reasons, in bytes; longer ones are cut.
const MaxReasonLength = 1000

// DecideDeployment returns the events cmd causes on d. Errors match
// ErrValidation (ErrPlanUnknown for an unknown plan) or ErrInvalidTransition
// with one of ErrDeploymentExists, ErrDeploymentNotFound,
// ErrDeploymentFailed, ErrDeploymentProvisioned,
// ErrDeploymentNotProvisioned, ErrDeploymentDecommissioned,
// ErrStepOutOfOrder, ErrStepCompleted, ErrStepsIncomplete,
// ErrProvisioningInProgress, ErrAlreadyCleanedUp, ErrScaleNotSupported, ErrMigrationInProgress,
// ErrNoMigration or ErrNothingToChange. Recording the resource a step
// already recorded, and a health equal to the current one, cause no events.
func DecideDeployment(d Deployment, cmd DeploymentCommand) ([]Event, error) {
	name := cmd.deploymentCommand()
	deny := func(err error) ([]Event, error) {
		state := string(d.status)
		if state == "" {
			state = "none"
		}
		return nil, transition("deployment", d.id, state, name, err)
	}
	if req, ok := cmd.(RequestDeployment); ok {
		if d.status != DeploymentStatusNone {
			return deny(ErrDeploymentExists)
		}
		return decideRequest(req)
	}
	if d.status == DeploymentStatusNone {
		return deny(ErrDeploymentNotFound)
	}
	// provisioning reports why a provisioning command is refused, or nil.
	provisioning := func() error {
		switch d.status {
		case DeploymentStatusFailed:
			return ErrDeploymentFailed
		case DeploymentStatusProvisioned:
			return ErrDeploymentProvisioned
		case DeploymentStatusDecommissioned:
			return ErrDeploymentDecommissioned
		}
		return nil
	}
	provisioned := func() error {
		switch d.status {
		case DeploymentStatusProvisioned:
			return nil
		case DeploymentStatusFailed:
			return ErrDeploymentFailed
		case DeploymentStatusDecommissioned:
			return ErrDeploymentDecommissioned
		}
		return ErrDeploymentNotProvisioned
	}

	switch cmd := cmd.(type) {
	case StartProvisioningStep:
		if err := provisioning(); err != nil {
			return deny(err)
		}
		next, attempts, ok := d.NextStep()
		if !ok || cmd.Step != next {
			if slices.Contains(d.spec.Steps(), cmd.Step) && d.StepCompleted(cmd.Step) {
				return deny(ErrStepCompleted)
			}
			if !slices.Contains(d.spec.Steps(), cmd.Step) {
				return nil, invalid("step", "step "+string(cmd.Step)+" is not part of this deployment")
			}
			return deny(ErrStepOutOfOrder)
		}
		return []Event{ProvisioningStepStarted{DeploymentID: d.id, Step: cmd.Step, Attempt: attempts + 1, StartedAt: cmd.At.UTC()}}, nil

	case RecordProvisioningStep:
		if cmd.Result == nil {
			return nil, invalid("result", "is required")
		}
		if err := provisioning(); err != nil {
			return deny(err)
		}
		step := cmd.Result.ProvisioningStep()
		if !slices.Contains(d.spec.Steps(), step) {
			return nil, invalid("step", "step "+string(step)+" is not part of this deployment")
		}
		if err := requireID("resource_id", cmd.Result.ResourceID()); err != nil {
			return nil, err
		}
		for _, r := range d.resources {
			if r.Step == step {
				if r.ID == cmd.Result.ResourceID() {
					return nil, nil // already recorded: a resumed process manager
				}
				return deny(ErrStepCompleted)
			}
		}
		if d.currentStep != step {
			return deny(ErrStepOutOfOrder)
		}
		if m, ok := cmd.Result.(MachinesLaunched); ok {
			if len(m.Machines) == 0 {
				return nil, invalid("machines", "at least one machine is required")
			}
		}
		return []Event{cmd.Result.withDeployment(d.id, cmd.At.UTC())}, nil

	case MarkDeploymentProvisioned:
		if err := provisioning(); err != nil {
			return deny(err)
		}
		for _, s := range d.spec.Steps() {
			if !d.StepCompleted(s) {
				return deny(ErrStepsIncomplete)
			}
		}
		if err := validateURL("api_url", cmd.APIURL, "https"); err != nil {
			return nil, err
		}
		if err := validateURL("sync_url", cmd.SyncURL, "wss"); err != nil {
			return nil, err
		}
		return []Event{DeploymentProvisioned{DeploymentID: d.id, APIURL: cmd.APIURL, SyncURL: cmd.SyncURL, ProvisionedAt: cmd.At.UTC()}}, nil

	case MarkDeploymentFailed:
		if err := provisioning(); err != nil {
			return deny(err)
		}
		if !slices.Contains(d.spec.Steps(), cmd.Step) {
			return nil, invalid("step", "step "+string(cmd.Step)+" is not part of this deployment")
		}
		reason := strings.TrimSpace(cmd.Reason)
		if reason == "" {
			return nil, invalid("reason", "is required")
		}
		return []Event{DeploymentFailed{DeploymentID: d.id, Step: cmd.Step, Reason: truncate(reason, MaxReasonLength), FailedAt: cmd.At.UTC()}}, nil

	case RecordCleanup:
		switch d.status {
		case DeploymentStatusFailed, DeploymentStatusDecommissioned:
		case DeploymentStatusProvisioned:
			return deny(ErrDeploymentProvisioned)
		default:
			return deny(ErrProvisioningInProgress)
		}
		if d.cleanedUp {
			return deny(ErrAlreadyCleanedUp)
		}
		resources := slices.Clone(cmd.Resources)
		if len(resources) == 0 {
			resources = slices.Clone(d.resources)
		}
		for _, r := range resources {
			if r.Step == "" || strings.TrimSpace(r.ID) == "" {
				return nil, invalid("resources", "every resource needs a step and an ID")
			}
		}
		if resources == nil {
			resources = []ResourceRef{}
		}
		return []Event{ResourcesCleanedUp{DeploymentID: d.id, Resources: resources, CleanedAt: cmd.At.UTC()}}, nil

	case RecordHealth:
		if err := provisioned(); err != nil {
			return deny(err)
		}
		switch cmd.Health {
		case HealthUnknown, HealthHealthy, HealthDegraded, HealthUnhealthy:
		default:
			return nil, invalid("health", "must be unknown, healthy, degraded or unhealthy")
		}
		if cmd.Health == d.health {
			return nil, nil
		}
		return []Event{DeploymentHealthChanged{DeploymentID: d.id, From: d.health, To: cmd.Health, Detail: truncate(cmd.Detail, MaxReasonLength), CheckedAt: cmd.At.UTC()}}, nil

	case ScaleDeployment:
		if err := provisioned(); err != nil {
			return deny(err)
		}
		if d.spec.Provider != ProviderFly {
			return deny(ErrScaleNotSupported)
		}
		return d.decideScale(cmd, deny)

	case StartMigration:
		if err := provisioned(); err != nil {
			return deny(err)
		}
		if err := requireID("target_deployment_id", cmd.TargetDeploymentID); err != nil {
			return nil, err
		}
		if cmd.TargetDeploymentID == d.id {
			return nil, invalid("target_deployment_id", "a deployment cannot migrate to itself")
		}
		if d.migration == MigrationRunning || d.migration == MigrationCompleted {
			return deny(ErrMigrationInProgress)
		}
		return []Event{DeploymentMigrationStarted{DeploymentID: d.id, TargetDeploymentID: cmd.TargetDeploymentID, StartedAt: cmd.At.UTC()}}, nil

	case CompleteMigration:
		if d.migration != MigrationRunning || d.migrationTarget != cmd.TargetDeploymentID {
			return deny(ErrNoMigration)
		}
		return []Event{DeploymentMigrationCompleted{DeploymentID: d.id, TargetDeploymentID: cmd.TargetDeploymentID, CompletedAt: cmd.At.UTC()}}, nil

	case FailMigration:
		if d.migration != MigrationRunning || d.migrationTarget != cmd.TargetDeploymentID {
			return deny(ErrNoMigration)
		}
		reason := strings.TrimSpace(cmd.Reason)
		if reason == "" {
			return nil, invalid("reason", "is required")
		}
		return []Event{DeploymentMigrationFailed{DeploymentID: d.id, TargetDeploymentID: cmd.TargetDeploymentID, Reason: truncate(reason, MaxReasonLength), FailedAt: cmd.At.UTC()}}, nil

	case DecommissionDeployment:
		switch d.status {
		case DeploymentStatusProvisioned, DeploymentStatusFailed:
		case DeploymentStatusDecommissioned:
			return deny(ErrDeploymentDecommissioned)
		default:
			return deny(ErrProvisioningInProgress)
		}
		if d.migration == MigrationRunning {
			return deny(ErrMigrationInProgress)
		}
		return []Event{DeploymentDecommissioned{DeploymentID: d.id, Reason: cmd.Reason, DecommissionedAt: cmd.At.UTC()}}, nil
	}
	return nil, invalid("command", "unknown deployment command "+name)
}

func decideRequest(req RequestDeployment) ([]Event, error) {
	if err := requireID("deployment_id", req.DeploymentID); err != nil {
		return nil, err
	}
	if err := requireID("customer_id", req.CustomerID); err != nil {
		return nil, err
	}
	if err := ValidateSlug(req.Slug); err != nil {
		return nil, err
	}
	if req.ReplacesDeploymentID == req.DeploymentID {
		return nil, invalid("replaces_deployment_id", "a deployment cannot replace itself")
	}
	spec, err := DecideInfrastructure(req.Plan)
	if err != nil {
		return nil, err
	}
	return []Event{DeploymentRequested{DeploymentID: req.DeploymentID, CustomerID: req.CustomerID,
		SubscriptionID: req.SubscriptionID, Slug: req.Slug, Spec: spec,
		ReplacesDeploymentID: req.ReplacesDeploymentID, RequestedAt: req.At.UTC()}}, nil
}

func (d Deployment) decideScale(cmd ScaleDeployment, deny func(error) ([]Event, error)) ([]Event, error) {
	regions := slices.Clone(d.spec.Regions)
	var added, removed []string
	for _, r := range cmd.AddRegions {
		if !IsFlyRegion(r) {
			return nil, invalid("add_regions", "unknown region "+strings.ToValidUTF8(r, "?"))
		}
		if !slices.Contains(regions, r) {
			regions = append(regions, r)
			added = append(added, r)
		}
	}
	for _, r := range cmd.RemoveRegions {
		if slices.Contains(cmd.AddRegions, r) {
			return nil, invalid("remove_regions", "region "+r+" is both added and removed")
		}
		if len(d.spec.Regions) > 0 && r == d.spec.Regions[0] {
			return nil, invalid("remove_regions", "the primary region "+r+" cannot be removed")
		}
		if i := slices.Index(regions, r); i >= 0 {
			regions = slices.Delete(regions, i, i+1)
			removed = append(removed, r)
		}
	}
	replicas := d.spec.Database.ReadReplicas
	if cmd.ReadReplicas != nil {
		replicas = *cmd.ReadReplicas
	}
	if replicas < 0 || replicas > len(regions)-1 {
		return nil, invalid("read_replicas", "must be between 0 and the number of regions minus one")
	}
	if len(added) == 0 && len(removed) == 0 && replicas == d.spec.Database.ReadReplicas {
		return deny(ErrNothingToChange)
	}
	return []Event{DeploymentScaled{DeploymentID: d.id, RegionsAdded: added, RegionsRemoved: removed, Regions: regions,
		ReadReplicasFrom: d.spec.Database.ReadReplicas, ReadReplicasTo: replicas, ScaledAt: cmd.At.UTC()}}, nil
}

func validateURL(field, raw, scheme string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != scheme || u.Host == "" || u.User != nil {
		return invalid(field, "must be an "+scheme+":// URL")
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// EvolveDeployment applies e to d. Events of other aggregates leave d
// unchanged.
func EvolveDeployment(d Deployment, e Event) Deployment {
	next, _ := evolveDeployment(d, e)
	return next
}

func evolveDeployment(d Deployment, e Event) (Deployment, bool) {
	switch e := e.(type) {
	case DeploymentRequested:
		d = Deployment{id: e.DeploymentID, customerID: e.CustomerID, subscriptionID: e.SubscriptionID, slug: e.Slug,
			replaces: e.ReplacesDeploymentID, spec: e.Spec.Clone(), status: DeploymentStatusRequested}
	case ProvisioningStepStarted:
		d.status = DeploymentStatusProvisioning
		d.currentStep, d.attempts = e.Step, e.Attempt
	case StepResult:
		// Copy on write: earlier states share the old slice.
		d.resources = append(slices.Clip(d.resources), ResourceRef{Step: e.ProvisioningStep(), ID: e.ResourceID()})
	case DeploymentProvisioned:
		d.status = DeploymentStatusProvisioned
		d.apiURL, d.syncURL = e.APIURL, e.SyncURL
		d.health = HealthUnknown
	case DeploymentFailed:
		d.status = DeploymentStatusFailed
		d.failedStep, d.failureReason = e.Step, e.Reason
	case ResourcesCleanedUp:
		d.cleanedUp = true
	case DeploymentHealthChanged:
		d.health = e.To
	case DeploymentScaled:
		d.spec = d.spec.Clone()
		d.spec.Regions = slices.Clone(e.Regions)
		d.spec.Database.ReadReplicas = e.ReadReplicasTo
	case DeploymentMigrationStarted:
		d.migrationTarget, d.migration = e.TargetDeploymentID, MigrationRunning
	case DeploymentMigrationCompleted:
		d.migration = MigrationCompleted
	case DeploymentMigrationFailed:
		d.migration = MigrationFailed
	case DeploymentDecommissioned:
		d.status = DeploymentStatusDecommissioned
	default:
		return d, false
	}
	return d, true
}

// FoldDeployment rebuilds a deployment from its events. An event of another
// aggregate is an error matching ErrForeignEvent.
func FoldDeployment(events ...Event) (Deployment, error) {
	return fold(Deployment{}, evolveDeployment, events)
}
