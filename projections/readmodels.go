package projections

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/webhost-systems/webhost/domain"
)

// readModelsDDL creates the analyst-facing tables of schema `read`. Every
// value derives from events only (never now()), so a replay reproduces the
// rows exactly. IDs are text: a malformed ID in an event must not stop the
// projection on a cast.
const readModelsDDL = `
CREATE TABLE customers (
    customer_id      text        PRIMARY KEY,
    slug             text        NOT NULL,
    company          text        NOT NULL DEFAULT '',
    status           text        NOT NULL,
    name_secret_id   text        NOT NULL,
    email_secret_id  text        NOT NULL,
    suspended_reason text,
    signed_up_at     timestamptz NOT NULL,
    closed_at        timestamptz,
    updated_at       timestamptz NOT NULL,
    last_position    text        NOT NULL
);
CREATE INDEX customers_slug_idx ON customers (slug);
COMMENT ON TABLE customers IS 'One row per customer. Name and e-mail are encrypted secrets (crypto-shredded on account closure); only their IDs are here.';

CREATE TABLE subscriptions (
    subscription_id        text        PRIMARY KEY,
    customer_id            text        NOT NULL,
    plan                   text        NOT NULL,
    status                 text        NOT NULL,
    price_cents            bigint      NOT NULL,
    currency               text        NOT NULL,
    trial_ends_at          timestamptz,
    stripe_customer_id     text,
    stripe_subscription_id text,
    started_at             timestamptz NOT NULL,
    activated_at           timestamptz,
    canceled_at            timestamptz,
    cancel_reason          text,
    plan_changes           integer     NOT NULL DEFAULT 0,
    updated_at             timestamptz NOT NULL,
    last_position          text        NOT NULL
);
CREATE INDEX subscriptions_customer_idx ON subscriptions (customer_id, started_at);

CREATE TABLE subscription_plan_history (
    subscription_id text        NOT NULL,
    seq             integer     NOT NULL,
    customer_id     text        NOT NULL,
    from_plan       text,
    to_plan         text        NOT NULL,
    changed_at      timestamptz NOT NULL,
    position        text        NOT NULL,
    PRIMARY KEY (subscription_id, seq)
);

CREATE TABLE subscription_periods (
    subscription_id text        NOT NULL,
    seq             integer     NOT NULL,
    customer_id     text        NOT NULL,
    plan            text        NOT NULL,
    status          text        NOT NULL,
    price_cents     bigint      NOT NULL,
    currency        text        NOT NULL,
    started_at      timestamptz NOT NULL,
    ended_at        timestamptz,
    PRIMARY KEY (subscription_id, seq)
);
CREATE INDEX subscription_periods_time_idx ON subscription_periods (started_at, ended_at);

CREATE TABLE deployments (
    deployment_id          text        PRIMARY KEY,
    customer_id            text        NOT NULL,
    subscription_id        text,
    slug                   text        NOT NULL,
    plan                   text        NOT NULL,
    provider               text        NOT NULL,
    regions                text[]      NOT NULL,
    read_replicas          integer     NOT NULL DEFAULT 0,
    status                 text        NOT NULL,
    health                 text        NOT NULL,
    health_detail          text,
    api_url                text,
    sync_url               text,
    current_step           text,
    current_attempt        integer,
    last_error             text,
    replaces_deployment_id text,
    migration_target_id    text,
    spec                   jsonb       NOT NULL,
    requested_at           timestamptz NOT NULL,
    provisioned_at         timestamptz,
    failed_at              timestamptz,
    decommissioned_at      timestamptz,
    cleaned_up_at          timestamptz,
    updated_at             timestamptz NOT NULL,
    last_position          text        NOT NULL
);
CREATE INDEX deployments_customer_idx ON deployments (customer_id, requested_at);

CREATE TABLE deployment_resources (
    deployment_id text        NOT NULL,
    step          text        NOT NULL,
    resource_id   text        NOT NULL,
    provider      text        NOT NULL,
    details       jsonb       NOT NULL,
    created_at    timestamptz NOT NULL,
    cleaned_up_at timestamptz,
    PRIMARY KEY (deployment_id, step)
);

CREATE TABLE api_keys (
    key_id        text        PRIMARY KEY,
    customer_id   text        NOT NULL,
    name          text        NOT NULL,
    prefix        text        NOT NULL,
    scopes        text[]      NOT NULL,
    issued_at     timestamptz NOT NULL,
    revoked_at    timestamptz,
    revoke_reason text,
    last_position text        NOT NULL
);
CREATE INDEX api_keys_customer_idx ON api_keys (customer_id, issued_at);
COMMENT ON TABLE api_keys IS 'API keys without their hashes (authentication uses auth.api_keys).';

CREATE VIEW mrr_daily AS
WITH bounds AS (
    SELECT min(started_at)::date AS first_day FROM subscription_periods
), days AS (
    SELECT d::date AS day FROM bounds, generate_series(bounds.first_day, current_date, interval '1 day') AS d
)
SELECT days.day, p.plan, p.currency,
       count(*)::bigint AS subscriptions,
       sum(p.price_cents)::bigint AS mrr_cents
FROM days
JOIN subscription_periods p
  ON p.status IN ('active', 'past_due')
 AND p.started_at < days.day + 1
 AND (p.ended_at IS NULL OR p.ended_at >= days.day + 1)
GROUP BY days.day, p.plan, p.currency;
COMMENT ON VIEW mrr_daily IS 'Monthly recurring revenue at the end of each day (UTC) by plan: paying subscriptions (active, past_due); trials excluded.';
`

// ReadModels is the projection of the analyst-facing read models in schema
// `read`: customers, subscriptions (with plan history and billing
// periods), deployments, deployment_resources, api_keys and the mrr_daily
// view. Its name, NameReadModels, is stable: renaming it means a replay.
func ReadModels() *Projection {
	return &Projection{
		Name:    NameReadModels,
		Schema:  "read",
		Version: 1,
		Tables:  []string{"customers", "subscriptions", "subscription_plan_history", "subscription_periods", "deployments", "deployment_resources", "api_keys"},
		Views:   []string{"mrr_daily"},
		DDL:     readModelsDDL,
		Decode:  true,
		Handles: func(t string) bool { _, ok := readModelTypes[t]; return ok },
		Apply:   applyReadModel,
	}
}

var readModelTypes = map[string]struct{}{}

func init() {
	for _, t := range []string{
		domain.TypeCustomerSignedUp, domain.TypeCustomerProfileUpdated, domain.TypeCustomerSuspended,
		domain.TypeCustomerReinstated, domain.TypeCustomerAccountClosed,
		domain.TypeSubscriptionStarted, domain.TypePlanChanged, domain.TypeStripeCustomerLinked,
		domain.TypeSubscriptionActivated, domain.TypeSubscriptionPastDue, domain.TypeSubscriptionCanceled,
		domain.TypeAPIKeyIssued, domain.TypeAPIKeyRevoked,
		domain.TypeDeploymentRequested, domain.TypeProvisioningStepStarted, domain.TypeServerCreated,
		domain.TypeAppCreated, domain.TypeDatabaseCreated, domain.TypeRedisCreated, domain.TypeMachinesLaunched,
		domain.TypeDNSRecordCreated, domain.TypeDeploymentProvisioned, domain.TypeDeploymentFailed,
		domain.TypeResourcesCleanedUp, domain.TypeDeploymentHealthChanged, domain.TypeDeploymentScaled,
		domain.TypeDeploymentMigrationStarted, domain.TypeDeploymentMigrationCompleted,
		domain.TypeDeploymentMigrationFailed, domain.TypeDeploymentDecommissioned,
	} {
		readModelTypes[t] = struct{}{}
	}
}

// newPeriod closes the open billing period of a subscription at `at` and
// opens the next one from the subscription's current row.
func newPeriod(b *Batch, subscriptionID string, at time.Time) {
	b.Queue(`UPDATE subscription_periods SET ended_at = $2 WHERE subscription_id = $1 AND ended_at IS NULL`, subscriptionID, at)
	b.Queue(`INSERT INTO subscription_periods (subscription_id, seq, customer_id, plan, status, price_cents, currency, started_at)
		SELECT s.subscription_id, coalesce((SELECT max(seq) + 1 FROM subscription_periods WHERE subscription_id = $1), 0),
		       s.customer_id, s.plan, s.status, s.price_cents, s.currency, $2
		FROM subscriptions s WHERE s.subscription_id = $1`, subscriptionID, at)
}

func applyReadModel(b *Batch, env Envelope) error {
	pos := env.Record.Position.String()
	switch e := env.Event.(type) {
	case domain.CustomerSignedUp:
		b.Queue(`INSERT INTO customers (customer_id, slug, company, status, name_secret_id, email_secret_id, signed_up_at, updated_at, last_position)
			VALUES ($1, $2, $3, 'active', $4, $5, $6, $6, $7)`,
			e.CustomerID, clean(e.Slug), clean(e.Company), e.NameSecretID, e.EmailSecretID, e.SignedUpAt, pos)
	case domain.CustomerProfileUpdated:
		b.Queue(`UPDATE customers SET name_secret_id = coalesce(nullif($2, ''), name_secret_id),
			email_secret_id = coalesce(nullif($3, ''), email_secret_id), company = coalesce($4, company),
			updated_at = $5, last_position = $6 WHERE customer_id = $1`,
			e.CustomerID, e.NameSecretID, e.EmailSecretID, cleanPtr(e.Company), e.UpdatedAt, pos)
	case domain.CustomerSuspended:
		b.Queue(`UPDATE customers SET status = 'suspended', suspended_reason = $2, updated_at = $3, last_position = $4 WHERE customer_id = $1`,
			e.CustomerID, clean(e.Reason), e.SuspendedAt, pos)
	case domain.CustomerReinstated:
		b.Queue(`UPDATE customers SET status = 'active', suspended_reason = NULL, updated_at = $2, last_position = $3 WHERE customer_id = $1`,
			e.CustomerID, e.ReinstatedAt, pos)
	case domain.CustomerAccountClosed:
		b.Queue(`UPDATE customers SET status = 'closed', closed_at = $2, updated_at = $2, last_position = $3 WHERE customer_id = $1`,
			e.CustomerID, e.ClosedAt, pos)

	case domain.SubscriptionStarted:
		plan, err := domain.LookupPlan(e.Plan)
		if err != nil {
			return err
		}
		b.Queue(`INSERT INTO subscriptions (subscription_id, customer_id, plan, status, price_cents, currency, trial_ends_at, started_at, updated_at, last_position)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9)`,
			e.SubscriptionID, e.CustomerID, string(e.Plan), string(e.Status), plan.PriceCents, plan.Currency, e.TrialEndsAt, e.StartedAt, pos)
		b.Queue(`INSERT INTO subscription_plan_history (subscription_id, seq, customer_id, from_plan, to_plan, changed_at, position)
			VALUES ($1, 0, $2, NULL, $3, $4, $5)`, e.SubscriptionID, e.CustomerID, string(e.Plan), e.StartedAt, pos)
		newPeriod(b, e.SubscriptionID, e.StartedAt)
	case domain.PlanChanged:
		plan, err := domain.LookupPlan(e.ToPlan)
		if err != nil {
			return err
		}
		b.Queue(`UPDATE subscriptions SET plan = $2, price_cents = $3, currency = $4, plan_changes = plan_changes + 1,
			updated_at = $5, last_position = $6 WHERE subscription_id = $1`,
			e.SubscriptionID, string(e.ToPlan), plan.PriceCents, plan.Currency, e.ChangedAt, pos)
		b.Queue(`INSERT INTO subscription_plan_history (subscription_id, seq, customer_id, from_plan, to_plan, changed_at, position)
			VALUES ($1, coalesce((SELECT max(seq) + 1 FROM subscription_plan_history WHERE subscription_id = $1), 0), $2, $3, $4, $5, $6)`,
			e.SubscriptionID, e.CustomerID, string(e.FromPlan), string(e.ToPlan), e.ChangedAt, pos)
		newPeriod(b, e.SubscriptionID, e.ChangedAt)
	case domain.StripeCustomerLinked:
		b.Queue(`UPDATE subscriptions SET stripe_customer_id = $2, stripe_subscription_id = nullif($3, ''), updated_at = $4, last_position = $5
			WHERE subscription_id = $1`, e.SubscriptionID, e.StripeCustomerID, e.StripeSubscriptionID, e.LinkedAt, pos)
	case domain.SubscriptionActivated:
		b.Queue(`UPDATE subscriptions SET status = 'active', activated_at = coalesce(activated_at, $2), updated_at = $2, last_position = $3
			WHERE subscription_id = $1`, e.SubscriptionID, e.ActivatedAt, pos)
		newPeriod(b, e.SubscriptionID, e.ActivatedAt)
	case domain.SubscriptionPastDue:
		b.Queue(`UPDATE subscriptions SET status = 'past_due', updated_at = $2, last_position = $3 WHERE subscription_id = $1`,
			e.SubscriptionID, e.PastDueAt, pos)
		newPeriod(b, e.SubscriptionID, e.PastDueAt)
	case domain.SubscriptionCanceled:
		b.Queue(`UPDATE subscriptions SET status = 'canceled', canceled_at = $2, cancel_reason = nullif($3, ''), updated_at = $2, last_position = $4
			WHERE subscription_id = $1`, e.SubscriptionID, e.CanceledAt, clean(e.Reason), pos)
		b.Queue(`UPDATE subscription_periods SET ended_at = $2 WHERE subscription_id = $1 AND ended_at IS NULL`, e.SubscriptionID, e.CanceledAt)

	case domain.APIKeyIssued:
		b.Queue(`INSERT INTO api_keys (key_id, customer_id, name, prefix, scopes, issued_at, last_position) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			e.KeyID, e.CustomerID, clean(e.Name), e.Prefix, nonNil(e.Scopes), e.IssuedAt, pos)
	case domain.APIKeyRevoked:
		b.Queue(`UPDATE api_keys SET revoked_at = $2, revoke_reason = nullif($3, ''), last_position = $4 WHERE key_id = $1`,
			e.KeyID, e.RevokedAt, clean(e.Reason), pos)

	default:
		return applyDeployment(b, env.Event, pos)
	}
	return nil
}

func applyDeployment(b *Batch, ev domain.Event, pos string) error {
	switch e := ev.(type) {
	case domain.DeploymentRequested:
		spec, err := json.Marshal(e.Spec)
		if err != nil {
			return fmt.Errorf("encode spec: %w", err)
		}
		regions := e.Spec.Regions
		if len(regions) == 0 && e.Spec.Location != "" {
			regions = []string{e.Spec.Location}
		}
		b.Queue(`INSERT INTO deployments (deployment_id, customer_id, subscription_id, slug, plan, provider, regions, read_replicas,
				status, health, replaces_deployment_id, spec, requested_at, updated_at, last_position)
			VALUES ($1, $2, nullif($3, ''), $4, $5, $6, $7, $8, 'requested', 'unknown', nullif($9, ''), $10, $11, $11, $12)`,
			e.DeploymentID, e.CustomerID, e.SubscriptionID, clean(e.Slug), string(e.Spec.Plan), string(e.Spec.Provider),
			nonNil(regions), e.Spec.Database.ReadReplicas, e.ReplacesDeploymentID, spec, e.RequestedAt, pos)
	case domain.ProvisioningStepStarted:
		b.Queue(`UPDATE deployments SET status = 'provisioning', current_step = $2, current_attempt = $3, updated_at = $4, last_position = $5
			WHERE deployment_id = $1`, e.DeploymentID, string(e.Step), e.Attempt, e.StartedAt, pos)
	case domain.ServerCreated:
		return resource(b, e, e.DeploymentID, "hetzner", e.CreatedAt, pos)
	case domain.AppCreated:
		return resource(b, e, e.DeploymentID, "fly", e.CreatedAt, pos)
	case domain.DatabaseCreated:
		return resource(b, e, e.DeploymentID, "fly", e.CreatedAt, pos)
	case domain.RedisCreated:
		return resource(b, e, e.DeploymentID, "upstash", e.CreatedAt, pos)
	case domain.MachinesLaunched:
		return resource(b, e, e.DeploymentID, "fly", e.CreatedAt, pos)
	case domain.DNSRecordCreated:
		return resource(b, e, e.DeploymentID, "cloudflare", e.CreatedAt, pos)
	case domain.DeploymentProvisioned:
		b.Queue(`UPDATE deployments SET status = 'provisioned', api_url = $2, sync_url = $3, provisioned_at = $4, current_step = NULL,
			current_attempt = NULL, updated_at = $4, last_position = $5 WHERE deployment_id = $1`,
			e.DeploymentID, e.APIURL, e.SyncURL, e.ProvisionedAt, pos)
	case domain.DeploymentFailed:
		b.Queue(`UPDATE deployments SET status = 'failed', current_step = $2, last_error = $3, failed_at = $4, updated_at = $4, last_position = $5
			WHERE deployment_id = $1`, e.DeploymentID, string(e.Step), clean(e.Reason), e.FailedAt, pos)
	case domain.ResourcesCleanedUp:
		for _, r := range e.Resources {
			b.Queue(`UPDATE deployment_resources SET cleaned_up_at = $3 WHERE deployment_id = $1 AND step = $2`, e.DeploymentID, string(r.Step), e.CleanedAt)
		}
		b.Queue(`UPDATE deployments SET cleaned_up_at = $2, updated_at = $2, last_position = $3 WHERE deployment_id = $1`, e.DeploymentID, e.CleanedAt, pos)
	case domain.DeploymentHealthChanged:
		b.Queue(`UPDATE deployments SET health = $2, health_detail = nullif($3, ''), updated_at = $4, last_position = $5 WHERE deployment_id = $1`,
			e.DeploymentID, string(e.To), clean(e.Detail), e.CheckedAt, pos)
	case domain.DeploymentScaled:
		b.Queue(`UPDATE deployments SET regions = $2, read_replicas = $3, updated_at = $4, last_position = $5 WHERE deployment_id = $1`,
			e.DeploymentID, nonNil(e.Regions), e.ReadReplicasTo, e.ScaledAt, pos)
	case domain.DeploymentMigrationStarted:
		b.Queue(`UPDATE deployments SET migration_target_id = $2, updated_at = $3, last_position = $4 WHERE deployment_id = $1`,
			e.DeploymentID, e.TargetDeploymentID, e.StartedAt, pos)
	case domain.DeploymentMigrationCompleted:
		b.Queue(`UPDATE deployments SET updated_at = $2, last_position = $3 WHERE deployment_id = $1`, e.DeploymentID, e.CompletedAt, pos)
	case domain.DeploymentMigrationFailed:
		b.Queue(`UPDATE deployments SET migration_target_id = NULL, last_error = $2, updated_at = $3, last_position = $4 WHERE deployment_id = $1`,
			e.DeploymentID, clean(e.Reason), e.FailedAt, pos)
	case domain.DeploymentDecommissioned:
		b.Queue(`UPDATE deployments SET status = 'decommissioned', decommissioned_at = $2, updated_at = $2, last_position = $3 WHERE deployment_id = $1`,
			e.DeploymentID, e.DecommissionedAt, pos)
	default:
		return fmt.Errorf("read models: no handler for %T", ev)
	}
	return nil
}

// resource records the provider resource a step created.
func resource(b *Batch, e domain.StepResult, deploymentID, provider string, at time.Time, pos string) error {
	details, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode %s: %w", e.EventType(), err)
	}
	b.Queue(`INSERT INTO deployment_resources (deployment_id, step, resource_id, provider, details, created_at) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (deployment_id, step) DO UPDATE SET resource_id = EXCLUDED.resource_id, provider = EXCLUDED.provider,
		details = EXCLUDED.details, created_at = EXCLUDED.created_at, cleaned_up_at = NULL`,
		deploymentID, string(e.ProvisioningStep()), e.ResourceID(), provider, sanitizeJSON(details), at)
	b.Queue(`UPDATE deployments SET current_step = $2, updated_at = $3, last_position = $4 WHERE deployment_id = $1`,
		deploymentID, string(e.ProvisioningStep()), at, pos)
	return nil
}

func cleanPtr(s *string) *string {
	if s == nil {
		return nil
	}
	c := clean(*s)
	return &c
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
