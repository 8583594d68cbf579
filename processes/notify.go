package processes

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/webhost-systems/webhost/commands"
	"github.com/webhost-systems/webhost/domain"
	"github.com/webhost-systems/webhost/secrets"
)

// Notification kinds.
const (
	NotificationWelcome            = "welcome"
	NotificationProvisioningFailed = "provisioning_failed"
	NotificationMigrationDone      = "migration_done"
)

// Notification is an e-mail to a customer. ID makes delivery idempotent.
type Notification struct {
	ID         string
	CustomerID string
	Kind       string
	Subject    string
	Text       string
}

// deliver sends n by the Mailer, or queues it in processes.outbox when no
// mail transport is configured. The outbox holds the ID of the customer's
// encrypted e-mail secret, never the address. A customer whose personal
// data was erased gets nothing.
func (m *managers) deliver(ctx context.Context, n Notification) error {
	c, err := m.loadCustomer(ctx, n.CustomerID)
	if err != nil {
		return err
	}
	if !c.Exists() || c.EmailSecretID() == "" {
		return nil
	}
	log := m.cfg.Logger.With("notification_id", n.ID, "kind", n.Kind, "customer_id", n.CustomerID)
	if m.cfg.Mailer == nil {
		_, err := m.cfg.Pool.Exec(ctx, `INSERT INTO processes.outbox (id, customer_id, email_secret_id, kind, subject, body, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING`,
			n.ID, n.CustomerID, c.EmailSecretID(), n.Kind, n.Subject, n.Text, m.cfg.Now().UTC())
		if err != nil {
			return fmt.Errorf("queue notification %s: %w", n.ID, err)
		}
		log.Info("notification queued in outbox")
		return nil
	}
	to, err := secrets.GetString(ctx, m.cfg.Secrets, c.EmailSecretID())
	if errors.Is(err, secrets.ErrErased) || errors.Is(err, secrets.ErrNotFound) {
		log.Info("notification skipped: e-mail address erased")
		return nil
	}
	if err != nil {
		return fmt.Errorf("notification %s: e-mail address: %w", n.ID, err)
	}
	if err := m.cfg.Mailer.Send(ctx, MailMessage{ID: n.ID, To: to, Subject: n.Subject, Text: n.Text}); err != nil {
		return stepCallErr("send notification "+n.ID, err)
	}
	log.Info("notification sent")
	return nil
}

func (m *managers) notifyWelcome(pm processManager, ctx context.Context, env envelope) error {
	e := env.event.(domain.CustomerSignedUp)
	return m.deliver(ctx, Notification{ID: commands.DeriveID(env.rec.ID, pm.name).String(), CustomerID: e.CustomerID,
		Kind: NotificationWelcome, Subject: "Welcome to WebHost",
		Text: fmt.Sprintf("Welcome to WebHost!\n\nYour backend %s.%s is being set up; we will let you know if anything goes wrong.\n", e.Slug, m.cfg.BaseDomain)})
}

func (m *managers) notifyFailed(pm processManager, ctx context.Context, env envelope) error {
	e := env.event.(domain.ResourcesCleanedUp)
	d, err := m.loadDeployment(ctx, e.DeploymentID)
	if err != nil {
		return err
	}
	if d.Status() != domain.DeploymentStatusFailed {
		return nil // a decommissioned deployment's cleanup is no failure
	}
	step, _ := d.Failure()
	return m.deliver(ctx, Notification{ID: commands.DeriveID(env.rec.ID, pm.name).String(), CustomerID: d.CustomerID(),
		Kind: NotificationProvisioningFailed, Subject: "Your WebHost backend could not be set up",
		Text: fmt.Sprintf("We could not set up your backend (%s plan): the %s step failed. Nothing is left running and you are not charged for it. Our team has been alerted.\n", d.Spec().Plan, step)})
}

func (m *managers) notifyMigrated(pm processManager, ctx context.Context, env envelope) error {
	e := env.event.(domain.DeploymentMigrationCompleted)
	t, err := m.loadDeployment(ctx, e.TargetDeploymentID)
	if err != nil {
		return err
	}
	return m.deliver(ctx, Notification{ID: commands.DeriveID(env.rec.ID, pm.name).String(), CustomerID: t.CustomerID(),
		Kind: NotificationMigrationDone, Subject: "Your WebHost backend moved to the " + string(t.Spec().Plan) + " plan",
		Text: fmt.Sprintf("Your backend now runs on the %s plan. Its address https://%s.%s is unchanged; your data came along.\n", t.Spec().Plan, t.Slug(), m.cfg.BaseDomain)})
}

// OutboxMessage is a queued notification.
type OutboxMessage struct {
	ID            string    `json:"id"`
	CustomerID    string    `json:"customer_id"`
	EmailSecretID string    `json:"email_secret_id"`
	Kind          string    `json:"kind"`
	Subject       string    `json:"subject"`
	Body          string    `json:"body"`
	CreatedAt     time.Time `json:"created_at"`
}

// ListOutbox returns the queued notifications, oldest first; customerID ""
// lists all.
func ListOutbox(ctx context.Context, pool *pgxpool.Pool, customerID string) ([]OutboxMessage, error) {
	rows, err := pool.Query(ctx, `SELECT id, customer_id, email_secret_id, kind, subject, body, created_at
		FROM processes.outbox WHERE $1 = '' OR customer_id = $1 ORDER BY created_at, id`, customerID)
	if err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (OutboxMessage, error) {
		var o OutboxMessage
		return o, row.Scan(&o.ID, &o.CustomerID, &o.EmailSecretID, &o.Kind, &o.Subject, &o.Body, &o.CreatedAt)
	})
	if err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	return out, nil
}

// HealthAlert is sent when a deployment's health changes.
type HealthAlert struct {
	DeploymentID string                  `json:"deployment_id"`
	CustomerID   string                  `json:"customer_id"`
	From         domain.DeploymentHealth `json:"from"`
	To           domain.DeploymentHealth `json:"to"`
	Detail       string                  `json:"detail,omitempty"`
	At           time.Time               `json:"at"`
}

// alerter logs health alerts and posts them to an optional webhook.
type alerter struct {
	url    string
	client *http.Client
	logger *slog.Logger
}

func (a alerter) alert(ctx context.Context, h HealthAlert) error {
	level := slog.LevelWarn
	if h.To == domain.HealthHealthy {
		level = slog.LevelInfo
	}
	a.logger.Log(ctx, level, "deployment health changed", "deployment_id", h.DeploymentID, "from", h.From, "to", h.To, "detail", h.Detail)
	if a.url == "" {
		return nil
	}
	body, err := json.Marshal(h)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("alert webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		return fmt.Errorf("alert webhook: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("alert webhook: HTTP %d", resp.StatusCode)
	}
	return nil
}
