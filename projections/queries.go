package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/webhost-systems/webhost/eventstore"
)

// Customer is a row of read.customers.
type Customer struct {
	ID              string     `db:"customer_id"`
	Slug            string     `db:"slug"`
	Company         string     `db:"company"`
	Status          string     `db:"status"`
	NameSecretID    string     `db:"name_secret_id"`
	EmailSecretID   string     `db:"email_secret_id"`
	SuspendedReason *string    `db:"suspended_reason"`
	SignedUpAt      time.Time  `db:"signed_up_at"`
	ClosedAt        *time.Time `db:"closed_at"`
	UpdatedAt       time.Time  `db:"updated_at"`
	LastPosition    string     `db:"last_position"`
}

// Subscription is a row of read.subscriptions.
type Subscription struct {
	ID                   string     `db:"subscription_id"`
	CustomerID           string     `db:"customer_id"`
	Plan                 string     `db:"plan"`
	Status               string     `db:"status"`
	PriceCents           int64      `db:"price_cents"`
	Currency             string     `db:"currency"`
	TrialEndsAt          *time.Time `db:"trial_ends_at"`
	StripeCustomerID     *string    `db:"stripe_customer_id"`
	StripeSubscriptionID *string    `db:"stripe_subscription_id"`
	StartedAt            time.Time  `db:"started_at"`
	ActivatedAt          *time.Time `db:"activated_at"`
	CanceledAt           *time.Time `db:"canceled_at"`
	CancelReason         *string    `db:"cancel_reason"`
	PlanChanges          int        `db:"plan_changes"`
	UpdatedAt            time.Time  `db:"updated_at"`
	LastPosition         string     `db:"last_position"`
}

// PlanChange is a row of read.subscription_plan_history.
type PlanChange struct {
	SubscriptionID string    `db:"subscription_id"`
	Seq            int       `db:"seq"`
	CustomerID     string    `db:"customer_id"`
	FromPlan       *string   `db:"from_plan"`
	ToPlan         string    `db:"to_plan"`
	ChangedAt      time.Time `db:"changed_at"`
	Position       string    `db:"position"`
}

// Deployment is a row of read.deployments with its resources.
type Deployment struct {
	ID                   string          `db:"deployment_id"`
	CustomerID           string          `db:"customer_id"`
	SubscriptionID       *string         `db:"subscription_id"`
	Slug                 string          `db:"slug"`
	Plan                 string          `db:"plan"`
	Provider             string          `db:"provider"`
	Regions              []string        `db:"regions"`
	ReadReplicas         int             `db:"read_replicas"`
	Status               string          `db:"status"`
	Health               string          `db:"health"`
	HealthDetail         *string         `db:"health_detail"`
	APIURL               *string         `db:"api_url"`
	SyncURL              *string         `db:"sync_url"`
	CurrentStep          *string         `db:"current_step"`
	CurrentAttempt       *int            `db:"current_attempt"`
	LastError            *string         `db:"last_error"`
	ReplacesDeploymentID *string         `db:"replaces_deployment_id"`
	MigrationTargetID    *string         `db:"migration_target_id"`
	Spec                 json.RawMessage `db:"spec"`
	RequestedAt          time.Time       `db:"requested_at"`
	ProvisionedAt        *time.Time      `db:"provisioned_at"`
	FailedAt             *time.Time      `db:"failed_at"`
	DecommissionedAt     *time.Time      `db:"decommissioned_at"`
	CleanedUpAt          *time.Time      `db:"cleaned_up_at"`
	UpdatedAt            time.Time       `db:"updated_at"`
	LastPosition         string          `db:"last_position"`
	Resources            []Resource      `db:"-"`
}

// Resource is a row of read.deployment_resources.
type Resource struct {
	DeploymentID string          `db:"deployment_id"`
	Step         string          `db:"step"`
	ResourceID   string          `db:"resource_id"`
	Provider     string          `db:"provider"`
	Details      json.RawMessage `db:"details"`
	CreatedAt    time.Time       `db:"created_at"`
	CleanedUpAt  *time.Time      `db:"cleaned_up_at"`
}

// APIKey is a row of read.api_keys.
type APIKey struct {
	ID           string     `db:"key_id"`
	CustomerID   string     `db:"customer_id"`
	Name         string     `db:"name"`
	Prefix       string     `db:"prefix"`
	Scopes       []string   `db:"scopes"`
	IssuedAt     time.Time  `db:"issued_at"`
	RevokedAt    *time.Time `db:"revoked_at"`
	RevokeReason *string    `db:"revoke_reason"`
	LastPosition string     `db:"last_position"`
}

// LogEvent is a row of read.event_log.
type LogEvent struct {
	Position      string          `db:"position"`
	EventID       string          `db:"event_id"`
	Stream        string          `db:"stream"`
	StreamVersion int64           `db:"stream_version"`
	Type          string          `db:"type"`
	Tenant        string          `db:"tenant"`
	Actor         string          `db:"actor"`
	CorrelationID string          `db:"correlation_id"`
	CausationID   string          `db:"causation_id"`
	CommandID     string          `db:"command_id"`
	SchemaVersion int             `db:"schema_version"`
	RecordedAt    time.Time       `db:"recorded_at"`
	Data          json.RawMessage `db:"data"`
}

// QueriesConfig configures Queries.
type QueriesConfig struct {
	// Pool holds the read models. Required.
	Pool *pgxpool.Pool
	// MaxWait bounds WaitFor (default 5s).
	MaxWait time.Duration
	// PollInterval is how often WaitFor reads the checkpoints (default
	// 10ms).
	PollInterval time.Duration
	// Projections are the checkpoints WaitFor waits for (default: the
	// built-in projections).
	Projections []string
}

// Queries reads the read models for the HTTP API. Every query that takes a
// customer ID returns only that customer's rows: another customer's row is
// ErrNotFound, exactly like a missing one.
type Queries struct {
	pool         *pgxpool.Pool
	maxWait      time.Duration
	pollInterval time.Duration
	names        []string
}

// NewQueries validates cfg and returns Queries.
func NewQueries(cfg QueriesConfig) (*Queries, error) {
	if cfg.Pool == nil {
		return nil, errors.New("projections: QueriesConfig.Pool is required")
	}
	if cfg.MaxWait == 0 {
		cfg.MaxWait = 5 * time.Second
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 10 * time.Millisecond
	}
	if cfg.MaxWait < 0 || cfg.PollInterval < 0 {
		return nil, errors.New("projections: QueriesConfig durations must not be negative")
	}
	if cfg.Projections == nil {
		cfg.Projections = []string{NameReadModels, NameEventLog, NameAuthKeys}
	}
	return &Queries{pool: cfg.Pool, maxWait: cfg.MaxWait, pollInterval: cfg.PollInterval, names: cfg.Projections}, nil
}

// WaitFor returns once every projection has applied the log up to pos
// (read-your-writes). It gives up after MaxWait with an error matching
// ErrWaitTimeout.
func (q *Queries) WaitFor(ctx context.Context, pos eventstore.Position) error {
	if pos.IsStart() {
		return nil
	}
	deadline := time.NewTimer(q.maxWait)
	defer deadline.Stop()
	want := pos.String()
	for {
		var behind int
		err := q.pool.QueryRow(ctx, `SELECT count(*) FROM unnest($1::text[]) AS n(name)
			LEFT JOIN projections.checkpoints c ON c.name = n.name WHERE c.position IS NULL OR c.position < $2`, q.names, want).Scan(&behind)
		if err != nil {
			return fmt.Errorf("wait for %s: %w", want, err)
		}
		if behind == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("%w: position %s not reached within %s", ErrWaitTimeout, want, q.maxWait)
		case <-time.After(q.pollInterval):
		}
	}
}

func one[T any](ctx context.Context, pool *pgxpool.Pool, what, sql string, args ...any) (T, error) {
	rows, err := pool.Query(ctx, sql, args...)
	if err != nil {
		var zero T
		return zero, fmt.Errorf("%s: %w", what, err)
	}
	v, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[T])
	if errors.Is(err, pgx.ErrNoRows) {
		return v, fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	if err != nil {
		return v, fmt.Errorf("%s: %w", what, err)
	}
	return v, nil
}

func many[T any](ctx context.Context, pool *pgxpool.Pool, what, sql string, args ...any) ([]T, error) {
	rows, err := pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	v, err := pgx.CollectRows(rows, pgx.RowToStructByName[T])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if v == nil {
		v = []T{}
	}
	return v, nil
}

// Customer returns one customer, or ErrNotFound.
func (q *Queries) Customer(ctx context.Context, customerID string) (Customer, error) {
	return one[Customer](ctx, q.pool, "customer", `SELECT * FROM read.customers WHERE customer_id = $1`, customerID)
}

// Customers lists customers ordered by ID, after the ID afterID ("" from
// the start), at most limit.
func (q *Queries) Customers(ctx context.Context, afterID string, limit int) ([]Customer, error) {
	return many[Customer](ctx, q.pool, "customers", `SELECT * FROM read.customers WHERE customer_id > $1 ORDER BY customer_id LIMIT $2`, afterID, limit)
}

// CurrentSubscription returns the customer's latest subscription that is
// not canceled, or ErrNotFound.
func (q *Queries) CurrentSubscription(ctx context.Context, customerID string) (Subscription, error) {
	return one[Subscription](ctx, q.pool, "subscription", `SELECT * FROM read.subscriptions WHERE customer_id = $1 AND status <> 'canceled'
		ORDER BY started_at DESC, subscription_id DESC LIMIT 1`, customerID)
}

// PlanHistory returns a customer's subscription's plan changes, oldest
// first.
func (q *Queries) PlanHistory(ctx context.Context, customerID, subscriptionID string) ([]PlanChange, error) {
	return many[PlanChange](ctx, q.pool, "plan history", `SELECT * FROM read.subscription_plan_history
		WHERE customer_id = $1 AND subscription_id = $2 ORDER BY seq`, customerID, subscriptionID)
}

// Deployments lists a customer's deployments, newest first.
func (q *Queries) Deployments(ctx context.Context, customerID string) ([]Deployment, error) {
	return many[Deployment](ctx, q.pool, "deployments", `SELECT * FROM read.deployments WHERE customer_id = $1
		ORDER BY requested_at DESC, deployment_id`, customerID)
}

// Deployment returns one of a customer's deployments with its resources,
// or ErrNotFound (also when it belongs to another customer).
func (q *Queries) Deployment(ctx context.Context, customerID, deploymentID string) (Deployment, error) {
	d, err := one[Deployment](ctx, q.pool, "deployment", `SELECT * FROM read.deployments WHERE customer_id = $1 AND deployment_id = $2`, customerID, deploymentID)
	if err != nil {
		return d, err
	}
	d.Resources, err = many[Resource](ctx, q.pool, "deployment resources", `SELECT * FROM read.deployment_resources WHERE deployment_id = $1 ORDER BY created_at, step`, deploymentID)
	return d, err
}

// APIKeys lists a customer's API keys, oldest first.
func (q *Queries) APIKeys(ctx context.Context, customerID string) ([]APIKey, error) {
	return many[APIKey](ctx, q.pool, "api keys", `SELECT * FROM read.api_keys WHERE customer_id = $1 ORDER BY issued_at, key_id`, customerID)
}

// APIKey returns one of a customer's keys, or ErrNotFound.
func (q *Queries) APIKey(ctx context.Context, customerID, keyID string) (APIKey, error) {
	return one[APIKey](ctx, q.pool, "api key", `SELECT * FROM read.api_keys WHERE customer_id = $1 AND key_id = $2`, customerID, keyID)
}

// EventQuery selects a page of read.event_log.
type EventQuery struct {
	// Tenant restricts the page to one customer's events; AllTenants must
	// be set to read every tenant's (admins).
	Tenant     string
	AllTenants bool
	// Stream restricts the page to one stream.
	Stream string
	// After is exclusive (a position string; "" from the start).
	After string
	Limit int
}

// Events returns a page of the audit log in log order.
func (q *Queries) Events(ctx context.Context, eq EventQuery) ([]LogEvent, error) {
	if !eq.AllTenants && eq.Tenant == "" {
		return nil, errors.New("events: a tenant is required")
	}
	if eq.Limit < 1 {
		eq.Limit = 100
	}
	return many[LogEvent](ctx, q.pool, "events", `SELECT * FROM read.event_log
		WHERE ($1 OR tenant = $2) AND ($3 = '' OR stream = $3) AND position > $4
		ORDER BY position LIMIT $5`, eq.AllTenants, eq.Tenant, eq.Stream, eq.After, eq.Limit)
}
