// Package mail sends notification e-mails: over SMTP (net/smtp, STARTTLS
// when offered) when an SMTP server is configured, otherwise into an outbox
// table in PostgreSQL that admins read with List. It implements
// processes.Mailer. Messages are idempotent by ID when a pool is given: a
// message already sent or stored is not sent again.
package mail

import (
	"context"
	"crypto/tls"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/smtp"
	"net/textproto"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/webhost-systems/webhost/internal/migrate"
	"github.com/webhost-systems/webhost/processes"
	"github.com/webhost-systems/webhost/providers/call"
)

var _ processes.Mailer = (*Mailer)(nil)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations is the outbox schema, for `webhost migrate`.
var Migrations = migrate.Component{Name: "mail", FS: mustSub(migrationFiles, "migrations")}

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err)
	}
	return sub
}

// Config configures the Mailer.
type Config struct {
	// SMTPAddr is host:port of the SMTP server (WEBHOST_SMTP_ADDR); empty
	// means outbox only.
	SMTPAddr string
	// SMTPUsername and SMTPPassword authenticate with PLAIN (only over TLS
	// or to localhost, as net/smtp enforces). The password is a secret.
	SMTPUsername string
	SMTPPassword string
	// From is the sender address (default "WebHost <noreply@webhost.local>").
	From string
	// Pool holds the outbox table; required without SMTPAddr.
	Pool *pgxpool.Pool
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Retry bounds the retries of each send.
	Retry call.Policy
	// Metrics registers provider call metrics when set.
	Metrics prometheus.Registerer
	// Logger (default: discard).
	Logger *slog.Logger
	// TLSConfig for STARTTLS (default: ServerName from SMTPAddr).
	TLSConfig *tls.Config
}

// ErrInvalidConfig is returned by Validate and New.
var ErrInvalidConfig = errors.New("mail: invalid config")

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.SMTPAddr == "" && c.Pool == nil {
		return fmt.Errorf("%w: need an SMTP server or a database pool for the outbox", ErrInvalidConfig)
	}
	if c.SMTPAddr != "" {
		if _, _, err := net.SplitHostPort(c.SMTPAddr); err != nil {
			return fmt.Errorf("%w: smtp addr %q: %v", ErrInvalidConfig, c.SMTPAddr, err)
		}
	}
	if (c.SMTPUsername == "") != (c.SMTPPassword == "") {
		return fmt.Errorf("%w: smtp username and password go together", ErrInvalidConfig)
	}
	return c.Retry.WithDefaults().Validate()
}

// Mailer sends mail.
type Mailer struct {
	cfg    Config
	caller *call.Caller
}

// New returns a Mailer.
func New(cfg Config, opts ...call.Option) (*Mailer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.From == "" {
		cfg.From = "WebHost <noreply@webhost.local>"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Retry = cfg.Retry.WithDefaults()
	metrics, err := call.NewMetrics(cfg.Metrics)
	if err != nil {
		return nil, fmt.Errorf("mail: metrics: %w", err)
	}
	caller, err := call.New("mail", cfg.Retry, classify, metrics, opts...)
	if err != nil {
		return nil, err
	}
	return &Mailer{cfg: cfg, caller: caller}, nil
}

func classify(err error) *processes.ProviderError {
	var te *textproto.Error
	if errors.As(err, &te) {
		kind := processes.ErrPermanent
		if te.Code >= 400 && te.Code < 500 {
			kind = processes.ErrRetryable // 4xx SMTP replies are transient by definition
		}
		return &processes.ProviderError{Kind: kind, Code: fmt.Sprint(te.Code), Err: err}
	}
	if c := call.Classify(err); c != nil {
		return c
	}
	return &processes.ProviderError{Kind: processes.ErrPermanent, Err: err}
}

// ErrInvalidMessage is returned (as a permanent error) for a message that
// cannot be sent safely.
var ErrInvalidMessage = errors.New("mail: invalid message")

func validate(msg processes.MailMessage) error {
	switch {
	case msg.ID == "":
		return fmt.Errorf("%w: id required", ErrInvalidMessage)
	case !strings.Contains(msg.To, "@") || strings.ContainsAny(msg.To, "\r\n<>,;") || strings.TrimSpace(msg.To) != msg.To:
		return fmt.Errorf("%w: recipient %q", ErrInvalidMessage, msg.To)
	case strings.ContainsAny(msg.Subject, "\r\n"):
		return fmt.Errorf("%w: subject contains a line break", ErrInvalidMessage)
	}
	return nil
}

// Send implements processes.Mailer.
func (m *Mailer) Send(ctx context.Context, msg processes.MailMessage) error {
	if err := validate(msg); err != nil {
		return &processes.ProviderError{Provider: "mail", Op: "send", Kind: processes.ErrPermanent, Err: err}
	}
	if m.cfg.Pool != nil {
		done, err := m.reserve(ctx, msg)
		if err != nil || done {
			return err
		}
	}
	if m.cfg.SMTPAddr == "" {
		return m.mark(ctx, msg.ID, "stored")
	}
	if err := m.caller.Do(ctx, "send", func(ctx context.Context) error { return m.sendSMTP(ctx, msg) }); err != nil {
		return err
	}
	m.cfg.Logger.Info("mail sent", "id", msg.ID)
	if m.cfg.Pool != nil {
		return m.mark(ctx, msg.ID, "sent")
	}
	return nil
}

// reserve inserts the message as pending; done reports that it was
// already sent or stored.
func (m *Mailer) reserve(ctx context.Context, msg processes.MailMessage) (done bool, err error) {
	var status string
	err = m.caller.Do(ctx, "outbox_insert", func(ctx context.Context) error {
		return m.cfg.Pool.QueryRow(ctx, `
			WITH ins AS (
				INSERT INTO mail_outbox (id, recipient, subject, body, status, created_at)
				VALUES ($1, $2, $3, $4, 'pending', $5)
				ON CONFLICT (id) DO NOTHING
				RETURNING status)
			SELECT status FROM ins
			UNION ALL SELECT status FROM mail_outbox WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM ins)`,
			msg.ID, msg.To, msg.Subject, msg.Text, m.cfg.Now().UTC()).Scan(&status)
	})
	if err != nil {
		return false, err
	}
	return status != "pending", nil
}

func (m *Mailer) mark(ctx context.Context, id, status string) error {
	return m.caller.Do(ctx, "outbox_mark", func(ctx context.Context) error {
		_, err := m.cfg.Pool.Exec(ctx, `UPDATE mail_outbox SET status = $2, sent_at = $3 WHERE id = $1`, id, status, m.cfg.Now().UTC())
		return err
	})
}

func (m *Mailer) sendSMTP(ctx context.Context, msg processes.MailMessage) error {
	host, _, _ := net.SplitHostPort(m.cfg.SMTPAddr)
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", m.cfg.SMTPAddr)
	if err != nil {
		return err
	}
	// Unblock I/O once ctx ends (after ctx.Err is set, so ctxErr sees it).
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		_ = conn.Close()
		return ctxErr(ctx, err)
	}
	defer c.Close()
	if err := c.Hello("webhost"); err != nil {
		return ctxErr(ctx, err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		tlsCfg := m.cfg.TLSConfig
		if tlsCfg == nil {
			tlsCfg = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		}
		if err := c.StartTLS(tlsCfg); err != nil {
			return ctxErr(ctx, err)
		}
	}
	if m.cfg.SMTPUsername != "" {
		if err := c.Auth(smtp.PlainAuth("", m.cfg.SMTPUsername, m.cfg.SMTPPassword, host)); err != nil {
			return ctxErr(ctx, err)
		}
	}
	from := m.cfg.From
	if i := strings.LastIndex(from, "<"); i >= 0 {
		from = strings.TrimSuffix(from[i+1:], ">")
	}
	if err := c.Mail(from); err != nil {
		return ctxErr(ctx, err)
	}
	if err := c.Rcpt(msg.To); err != nil {
		return ctxErr(ctx, err)
	}
	w, err := c.Data()
	if err != nil {
		return ctxErr(ctx, err)
	}
	if _, err := w.Write(Render(m.cfg.From, msg, m.cfg.Now())); err != nil {
		return ctxErr(ctx, err)
	}
	if err := w.Close(); err != nil {
		return ctxErr(ctx, err)
	}
	return ctxErr(ctx, c.Quit())
}

func ctxErr(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("%w: %v", ctx.Err(), err)
	}
	return err
}

// Render formats msg as an RFC 5322 message with CRLF line endings. The
// Message-ID is derived from msg.ID, so a resend is recognisable.
// Dot-stuffing is left to net/smtp's DATA writer.
func Render(from string, msg processes.MailMessage, now time.Time) []byte {
	var b strings.Builder
	b.WriteString("From: " + from + "\r\n")
	b.WriteString("To: " + msg.To + "\r\n")
	b.WriteString("Subject: " + msg.Subject + "\r\n")
	b.WriteString("Date: " + now.UTC().Format(time.RFC1123Z) + "\r\n")
	b.WriteString("Message-ID: <" + strings.Map(func(r rune) rune {
		if r == '<' || r == '>' || r == '\r' || r == '\n' || r == ' ' {
			return '-'
		}
		return r
	}, msg.ID) + "@webhost>\r\n")
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	for _, line := range strings.Split(strings.ReplaceAll(msg.Text, "\r\n", "\n"), "\n") {
		b.WriteString(line + "\r\n")
	}
	return []byte(b.String())
}

// OutboxMessage is one row of the outbox.
type OutboxMessage struct {
	ID        string
	To        string
	Subject   string
	Text      string
	Status    string // pending, sent or stored
	CreatedAt time.Time
	SentAt    *time.Time
}

// ListOptions pages the outbox, newest first.
type ListOptions struct {
	Limit  int    // default 50, max 500
	Status string // filter; empty: all
}

// List returns outbox messages for admins, newest first.
func List(ctx context.Context, pool *pgxpool.Pool, opts ListOptions) ([]OutboxMessage, error) {
	limit := opts.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 500)
	rows, err := pool.Query(ctx, `SELECT id, recipient, subject, body, status, created_at, sent_at FROM mail_outbox
		WHERE $1 = '' OR status = $1 ORDER BY created_at DESC, id LIMIT $2`, opts.Status, limit)
	if err != nil {
		return nil, fmt.Errorf("mail: list outbox: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (OutboxMessage, error) {
		var m OutboxMessage
		err := r.Scan(&m.ID, &m.To, &m.Subject, &m.Text, &m.Status, &m.CreatedAt, &m.SentAt)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("mail: list outbox: %w", err)
	}
	return out, nil
}

// String describes the configuration with the SMTP password redacted.
func (c Config) String() string {
	return fmt.Sprintf("mail.Config{SMTPAddr:%s SMTPUsername:%s SMTPPassword:%s From:%s Outbox:%t}", c.SMTPAddr, c.SMTPUsername, call.Redact(c.SMTPPassword), c.From, c.Pool != nil)
}

// LogValue implements slog.LogValuer with the password redacted.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }
