package processes

// This file declares the narrow provider interfaces the process managers
// call, and the value types they exchange. Adapters in providers/... satisfy
// them (each asserts it at compile time); providers/sim fakes the clouds
// behind them for tests and `webhost sim`.
//
// Every method is idempotent, so that a process manager can retry a step or
// resume after a crash without creating duplicates:
//   - resources are addressed by a deterministic name chosen by the caller,
//     and carry labels that identify the deployment that owns them;
//   - Ensure* looks the resource up first and adopts what it finds, so a
//     create that timed out but succeeded at the provider is not repeated;
//   - Delete* of a missing resource succeeds;
//   - *Status reads return ErrNotFound (wrapped in a *ProviderError) for a
//     missing resource.
//
// Errors returned by adapters are *ProviderError values whose Kind is one of
// ErrRetryable, ErrPermanent, ErrNotFound or ErrConflict; match them with
// errors.Is(err, processes.ErrRetryable) and friends, or errors.As for the
// details. Adapters already retry retryable errors within their bounds, so a
// retryable error reaching the caller means those bounds were spent.

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Error kinds of provider calls. A *ProviderError matches exactly one of them
// with errors.Is.
var (
	// ErrRetryable: rate limits (429), provider 5xx, transport failures,
	// per-attempt timeouts, temporary capacity shortages. Trying again later
	// may succeed.
	ErrRetryable = errors.New("provider: retryable error")
	// ErrPermanent: invalid input, authentication, quota; trying again with
	// the same input fails the same way.
	ErrPermanent = errors.New("provider: permanent error")
	// ErrNotFound: the resource does not exist.
	ErrNotFound = errors.New("provider: not found")
	// ErrConflict: the resource exists but is not ours (a name taken by a
	// resource with other labels), or is in a state that forbids the call.
	ErrConflict = errors.New("provider: conflict")
)

// ProviderError is the error every adapter returns. It wraps the SDK error.
type ProviderError struct {
	Provider   string        // "hetzner", "fly", "cloudflare", "stripe", "mail"
	Op         string        // operation, e.g. "ensure_server"
	Kind       error         // ErrRetryable, ErrPermanent, ErrNotFound or ErrConflict
	StatusCode int           // HTTP status when there was one
	Code       string        // provider error code when there was one
	RetryAfter time.Duration // provider's Retry-After hint, 0 if none
	Err        error         // underlying error
}

// Error describes the failure without any credentials.
func (e *ProviderError) Error() string {
	msg := fmt.Sprintf("%s %s: %v", e.Provider, e.Op, e.Kind)
	if e.StatusCode != 0 {
		msg += fmt.Sprintf(" (HTTP %d", e.StatusCode)
		if e.Code != "" {
			msg += " " + e.Code
		}
		msg += ")"
	} else if e.Code != "" {
		msg += " (" + e.Code + ")"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the underlying error (context errors stay matchable).
func (e *ProviderError) Unwrap() error { return e.Err }

// Is reports whether target is this error's kind.
func (e *ProviderError) Is(target error) bool { return target != nil && target == e.Kind }

// ResourceStatus is the provider-independent lifecycle of a resource.
type ResourceStatus string

// Resource statuses.
const (
	StatusPending  ResourceStatus = "pending"  // being created or starting
	StatusRunning  ResourceStatus = "running"  // created and started
	StatusStopped  ResourceStatus = "stopped"  // exists, not running
	StatusFailed   ResourceStatus = "failed"   // creation or start failed
	StatusDeleting ResourceStatus = "deleting" // being deleted
)

// Health is the health of a running resource as the provider reports it.
type Health string

// Health values.
const (
	HealthUnknown  Health = "unknown"
	HealthPassing  Health = "passing"
	HealthCritical Health = "critical"
)

// Progress receives the completion percentage (0-100) of a long provider
// action. It may be nil.
type Progress func(percent int)

// ServerSpec describes a dedicated server (the hobby plan: Hetzner).
type ServerSpec struct {
	Name       string            // deterministic, DNS-safe, e.g. "wh-<deployment-id>"
	ServerType string            // e.g. "cax11"
	Location   string            // e.g. "nbg1"
	Image      string            // e.g. "debian-12"; adapter default when empty
	Labels     map[string]string // identify the owner; must match on adoption
	// SyncServerImage is the container image of the sync server that
	// cloud-init installs next to PostgreSQL+PostGIS and Redis.
	SyncServerImage string
	SSHKeys         []string // names of SSH keys registered at the provider
	OnProgress      Progress
}

// Server is a server as the provider reports it.
type Server struct {
	ID       string
	Name     string
	Status   ResourceStatus
	Health   Health
	IPv4     string
	IPv6     string
	Labels   map[string]string
	Created  time.Time
	Location string
}

// ServerProvisioner creates and removes dedicated servers.
type ServerProvisioner interface {
	// EnsureServer creates the server unless one with spec.Name and the same
	// labels exists, waits for it to run, and returns it. A server with the
	// name but other labels is ErrConflict.
	EnsureServer(ctx context.Context, spec ServerSpec) (Server, error)
	// ServerStatus reads the server by name; ErrNotFound when missing.
	ServerStatus(ctx context.Context, name string) (Server, error)
	// DeleteServer removes the server; a missing server is success.
	DeleteServer(ctx context.Context, name string) error
	// ListServers lists servers whose labels include all of selector (for
	// orphan sweeps).
	ListServers(ctx context.Context, selector map[string]string) ([]Server, error)
}

// AppSpec describes an application (the paid plans: Fly.io).
type AppSpec struct {
	Name    string            // deterministic, globally unique
	Org     string            // organisation slug
	Labels  map[string]string // stored as machine metadata
	Secrets map[string]string // set as app secrets; never logged
}

// App is an application and its machines.
type App struct {
	Name     string
	Status   ResourceStatus
	Hostname string
	Machines []Machine
}

// Machine is one VM of an application.
type Machine struct {
	ID     string
	Name   string
	Region string
	Status ResourceStatus
	Health Health
	State  string // the provider's own state, e.g. "started"
}

// DeploySpec describes the machines of an application.
type DeploySpec struct {
	App               string
	Image             string   // the sync server image
	Regions           []string // first one is primary
	MachinesPerRegion int      // >= 1
	VolumeSizeGB      int      // 0: no volume
	Env               map[string]string
	Labels            map[string]string
	InternalPort      int // default 4000; exposed as TLS 443
	OnProgress        Progress
}

// AppLauncher creates applications and launches their machines.
type AppLauncher interface {
	// EnsureApp creates the app if missing and sets its secrets.
	EnsureApp(ctx context.Context, spec AppSpec) (App, error)
	// Deploy ensures the machines (and volumes) of spec exist and are
	// started. Machines are named deterministically, so a retry adopts them.
	Deploy(ctx context.Context, spec DeploySpec) (App, error)
	// AppStatus reads the app and its machines; ErrNotFound when missing.
	AppStatus(ctx context.Context, name string) (App, error)
	// DeleteApp removes the app and everything in it; missing is success.
	DeleteApp(ctx context.Context, name string) error
}

// PostgresSpec describes a managed PostgreSQL cluster.
type PostgresSpec struct {
	Name         string // the cluster's app name
	Org          string
	Region       string
	Replicas     int // standby machines in addition to the primary
	VolumeSizeGB int
	Image        string
	Labels       map[string]string
	// Passwords are secrets; the caller keeps them in the secrets table.
	SuperuserPassword   string
	ReplicationPassword string
	OperatorPassword    string
}

// PostgresCluster is a provisioned PostgreSQL cluster.
type PostgresCluster struct {
	Name     string
	Status   ResourceStatus
	Host     string // private host name, e.g. "<name>.flycast"
	Port     int
	Machines []Machine
}

// PostgresProvisioner creates PostgreSQL clusters.
type PostgresProvisioner interface {
	EnsurePostgres(ctx context.Context, spec PostgresSpec) (PostgresCluster, error)
	PostgresStatus(ctx context.Context, name string) (PostgresCluster, error)
	DeletePostgres(ctx context.Context, name string) error
}

// RedisSpec describes a managed Redis database.
type RedisSpec struct {
	Name          string
	OrgID         string // organisation ID (not slug) as the add-on API wants it
	PrimaryRegion string
	ReadRegions   []string
	PlanID        string
}

// Redis is a provisioned Redis database.
type Redis struct {
	ID     string
	Name   string
	Status ResourceStatus
	// URL includes the password: a secret. Store it in the secrets table,
	// never in events or logs.
	URL string
}

// RedisProvisioner creates managed Redis databases.
type RedisProvisioner interface {
	EnsureRedis(ctx context.Context, spec RedisSpec) (Redis, error)
	RedisStatus(ctx context.Context, name string) (Redis, error)
	DeleteRedis(ctx context.Context, name string) error
}

// DataMigration copies a PostgreSQL database from one deployment to
// another (plan changes across clouds). The URLs are secrets.
type DataMigration struct {
	ID        string // idempotency: a migration with this ID runs once
	RunnerApp string // the app whose machine runs pg_dump | pg_restore
	SourceURL string
	TargetURL string
}

// DataMigrator runs data migrations.
type DataMigrator interface {
	MigrateData(ctx context.Context, m DataMigration) error
}

// DNSRecord is one record <Name>.<base domain>.
type DNSRecord struct {
	ID      string
	Name    string // the slug, or a fully qualified name under the base domain
	Type    string // "A" or "CNAME"
	Content string
	TTL     int // 1 means automatic
	Proxied bool
}

// DNS manages the records of the customer domains.
type DNS interface {
	// UpsertRecord creates the record or updates it to rec.Content.
	UpsertRecord(ctx context.Context, rec DNSRecord) (DNSRecord, error)
	// Record reads the record by name and type; ErrNotFound when missing.
	Record(ctx context.Context, name, recordType string) (DNSRecord, error)
	// DeleteRecord removes the record; missing is success.
	DeleteRecord(ctx context.Context, name, recordType string) error
}

// CustomerSpec describes a billing customer. CommandID derives the
// idempotency key of the POST.
type CustomerSpec struct {
	CommandID  string
	CustomerID string // ours; stored as metadata
	Email      string
	Name       string
}

// BillingCustomer is a customer at the billing provider.
type BillingCustomer struct {
	ID      string
	Email   string
	Deleted bool
}

// CheckoutSpec describes a subscription checkout.
type CheckoutSpec struct {
	CommandID         string
	BillingCustomerID string
	PriceID           string
	TrialDays         int // 14 unless set
	SuccessURL        string
	CancelURL         string
	ClientReference   string // our subscription ID
}

// CheckoutSession is a created checkout session.
type CheckoutSession struct {
	ID  string
	URL string
}

// Subscription is a subscription at the billing provider.
type Subscription struct {
	ID                string
	Status            string // the provider's status: trialing, active, canceled, ...
	CustomerID        string
	PriceID           string
	CancelAtPeriodEnd bool
	CurrentPeriodEnd  time.Time
}

// Billing is the payment provider.
type Billing interface {
	EnsureCustomer(ctx context.Context, spec CustomerSpec) (BillingCustomer, error)
	Customer(ctx context.Context, id string) (BillingCustomer, error)
	DeleteCustomer(ctx context.Context, commandID, id string) error
	CreateCheckoutSession(ctx context.Context, spec CheckoutSpec) (CheckoutSession, error)
	Subscription(ctx context.Context, id string) (Subscription, error)
	UpdateSubscriptionPrice(ctx context.Context, commandID, id, priceID string) (Subscription, error)
	CancelSubscription(ctx context.Context, commandID, id string) (Subscription, error)
}

// MailMessage is one notification e-mail. ID makes sending idempotent.
type MailMessage struct {
	ID      string
	To      string
	Subject string
	Text    string
}

// Mailer sends notification e-mails.
type Mailer interface {
	Send(ctx context.Context, msg MailMessage) error
}
