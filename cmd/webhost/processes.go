package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/webhost-systems/webhost/domain"
	"github.com/webhost-systems/webhost/internal/migrate"
	"github.com/webhost-systems/webhost/processes"
	"github.com/webhost-systems/webhost/providers/cloudflare"
	"github.com/webhost-systems/webhost/providers/fly"
	"github.com/webhost-systems/webhost/providers/hetzner"
	"github.com/webhost-systems/webhost/providers/mail"
)

// processProviders builds the provider adapters from the environment. In
// sandbox mode (scripts/run.d/sim.sh exports WEBHOST_SIM_*_URL) they talk
// to `webhost sim`; otherwise to the real APIs with HCLOUD_TOKEN,
// FLY_API_TOKEN and CLOUDFLARE_API_TOKEN + CLOUDFLARE_ZONE_ID. A provider
// without configuration is left out: deployments that need it fail at
// that step (and are cleaned up), which the log warns about at start.
func processProviders(logger *slog.Logger, baseDomain string) (processes.Providers, []string, error) {
	var p processes.Providers
	var missing []string
	hzURL, hzToken := envOr("WEBHOST_SIM_HETZNER_URL", ""), envOr("HCLOUD_TOKEN", "")
	if hzURL != "" && hzToken == "" {
		hzToken = "sandbox"
	}
	if hzToken != "" {
		c, err := hetzner.New(hetzner.Config{Token: hzToken, Endpoint: hzURL, Logger: logger})
		if err != nil {
			return p, nil, err
		}
		p.Servers = c
	} else {
		missing = append(missing, "hetzner (HCLOUD_TOKEN)")
	}
	flyURL, flyToken := envOr("WEBHOST_SIM_FLY_URL", ""), envOr("FLY_API_TOKEN", "")
	if flyURL != "" && flyToken == "" {
		flyToken = "sandbox"
	}
	if flyToken != "" {
		c, err := fly.New(fly.Config{Token: flyToken, APIBaseURL: flyURL, FlapsBaseURL: flyURL, Logger: logger})
		if err != nil {
			return p, nil, err
		}
		p.Apps, p.Postgres, p.Redis, p.Data = c, c, c, c
	} else {
		missing = append(missing, "fly (FLY_API_TOKEN)")
	}
	cfURL, cfToken, zone := envOr("WEBHOST_SIM_CLOUDFLARE_URL", ""), envOr("CLOUDFLARE_API_TOKEN", ""), envOr("CLOUDFLARE_ZONE_ID", "")
	if cfURL != "" {
		if cfToken == "" {
			cfToken = "sandbox"
		}
		if zone == "" {
			zone = "sandbox-zone"
		}
	}
	if cfToken != "" {
		c, err := cloudflare.New(cloudflare.Config{Token: cfToken, ZoneID: zone, BaseDomain: baseDomain, BaseURL: cfURL, Logger: logger})
		if err != nil {
			return p, nil, err
		}
		p.DNS = c
	} else {
		missing = append(missing, "cloudflare (CLOUDFLARE_API_TOKEN, CLOUDFLARE_ZONE_ID)")
	}
	return p, missing, nil
}

// startProcesses builds and starts the process managers on the platform
// ServeMain opened. Settings (environment):
//
//	WEBHOST_BASE_DOMAIN            DNS zone of customer backends (default webhost.localhost)
//	WEBHOST_SYNC_IMAGE             customer sync server image
//	FLY_ORG, FLY_ORG_ID            Fly.io organisation (default personal)
//	WEBHOST_SMTP_ADDR, _USERNAME, _PASSWORD, WEBHOST_MAIL_FROM
//	                               SMTP for notifications (unset: processes.outbox)
//	WEBHOST_ALERT_WEBHOOK_URL      health alerts are POSTed here too
//	WEBHOST_MONITOR_INTERVAL       health check period (default 30s; 0 disables)
//	WEBHOST_ORPHAN_SWEEP_INTERVAL  orphan report period (default 15m; 0 disables)
//	WEBHOST_SIGNUP_DEFAULT_PLAN    trial plan for signups that name none (default: none)
//	WEBHOST_PROCESS_GROUPS         comma list of groups to run (default all; "none" disables)
//	WEBHOST_STEP_BACKOFF           wait before a step's second attempt (default 2s)
//
// plus the provider settings of processProviders. The returned stop waits
// for running handlers and releases the leases.
func (m *ServeMain) startProcesses(ctx context.Context) (stop func() error, err error) {
	var env envValues
	groups := strings.TrimSpace(envOr("WEBHOST_PROCESS_GROUPS", ""))
	if groups == "none" {
		m.Logger.Info("process managers disabled (WEBHOST_PROCESS_GROUPS=none)")
		return func() error { return nil }, nil
	}
	baseDomain := envOr("WEBHOST_BASE_DOMAIN", "webhost.localhost")
	providers, missing, err := processProviders(m.Logger, baseDomain)
	if err != nil {
		return nil, fmt.Errorf("processes: providers: %w", err)
	}
	if len(missing) > 0 {
		m.Logger.Warn("processes: providers not configured; deployments that need them will fail", "missing", strings.Join(missing, ", "))
	}
	cfg := processes.Config{
		Pool: m.platform.pool, Store: m.platform.events, Commands: m.platform.commands, Secrets: m.platform.secrets,
		Providers: providers, BaseDomain: baseDomain, SyncServerImage: envOr("WEBHOST_SYNC_IMAGE", ""),
		FlyOrg: envOr("FLY_ORG", ""), FlyOrgID: envOr("FLY_ORG_ID", ""),
		DefaultPlan:     domain.PlanID(envOr("WEBHOST_SIGNUP_DEFAULT_PLAN", "")),
		AlertWebhookURL: envOr("WEBHOST_ALERT_WEBHOOK_URL", ""),
		MonitorInterval: disabledIfZero(env.duration("WEBHOST_MONITOR_INTERVAL", 30*time.Second)),
		SweepInterval:   disabledIfZero(env.duration("WEBHOST_ORPHAN_SWEEP_INTERVAL", 15*time.Minute)),
		StepBackoff:     env.duration("WEBHOST_STEP_BACKOFF", 2*time.Second),
		Logger:          m.Logger.With("component", "processes"),
	}
	if env.err != nil {
		return nil, env.err
	}
	if groups != "" {
		for _, g := range strings.Split(groups, ",") {
			cfg.Groups = append(cfg.Groups, strings.TrimSpace(g))
		}
	}
	if addr := envOr("WEBHOST_SMTP_ADDR", ""); addr != "" {
		mailer, err := mail.New(mail.Config{SMTPAddr: addr, SMTPUsername: envOr("WEBHOST_SMTP_USERNAME", ""),
			SMTPPassword: envOr("WEBHOST_SMTP_PASSWORD", ""), From: envOr("WEBHOST_MAIL_FROM", ""), Logger: m.Logger})
		if err != nil {
			return nil, fmt.Errorf("processes: mailer: %w", err)
		}
		cfg.Mailer = mailer
	}
	runner, err := processes.New(cfg)
	if err != nil {
		return nil, err
	}
	if err := runner.Start(ctx); err != nil {
		return nil, fmt.Errorf("processes: start: %w", err)
	}
	m.Logger.Info("process managers started", "base_domain", baseDomain)
	return runner.Close, nil
}

func disabledIfZero(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// runProcesses is `webhost processes`:
//
//	webhost processes poison [--group G] [--status poisoned|redrive|redriven] [--limit N] [--after ID]
//	    lists poisoned events as JSON lines
//	webhost processes redrive (--id N[,N...] | --all) [--group G]
//	    asks the groups' active runners to handle those events again
func runProcesses(ctx context.Context, args []string, stdout io.Writer, logger *slog.Logger) error {
	if len(args) == 0 {
		return errors.New("processes: want a subcommand: poison or redrive")
	}
	fs := flag.NewFlagSet("processes "+args[0], flag.ContinueOnError)
	dsn := fs.String("database-url", envOr("WEBHOST_DATABASE_URL", defaultDatabaseURL), "PostgreSQL URL (WEBHOST_DATABASE_URL)")
	group := fs.String("group", "", "only this process-manager group")
	switch args[0] {
	case "poison":
		status := fs.String("status", processes.PoisonStatusPoisoned, "poisoned, redrive, redriven, or empty for all")
		limit := fs.Int("limit", 100, "rows to list (at most 1000)")
		after := fs.Int64("after", 0, "list rows with a larger ID (paging)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		pool, err := openProcessesDB(ctx, *dsn, logger)
		if err != nil {
			return err
		}
		defer pool.Close()
		rows, err := processes.ListPoisoned(ctx, pool, processes.PoisonFilter{Group: *group, Status: *status, Limit: *limit, AfterID: *after})
		if err != nil {
			return err
		}
		enc := json.NewEncoder(stdout)
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	case "redrive":
		ids := fs.String("id", "", "comma-separated poison IDs")
		all := fs.Bool("all", false, "every poisoned event (of --group, when given)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		req := processes.RedriveRequest{Group: *group, All: *all}
		if *ids != "" {
			for _, s := range strings.Split(*ids, ",") {
				n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
				if err != nil || n <= 0 {
					return fmt.Errorf("processes redrive: --id %q is not a poison ID", s)
				}
				req.IDs = append(req.IDs, n)
			}
		}
		if req.All == (len(req.IDs) > 0) {
			return errors.New("processes redrive: give either --id or --all")
		}
		pool, err := openProcessesDB(ctx, *dsn, logger)
		if err != nil {
			return err
		}
		defer pool.Close()
		n, err := processes.RequestRedrive(ctx, pool, req, time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%d event(s) marked for redrive; the active runners handle them within seconds\n", n)
		return nil
	}
	return fmt.Errorf("processes: unknown subcommand %q (want poison or redrive)", args[0])
}

func openProcessesDB(ctx context.Context, dsn string, logger *slog.Logger) (*pgxpool.Pool, error) {
	pool, err := openDatabase(ctx, dsn, logger)
	if err != nil {
		return nil, err
	}
	if err := migrate.Up(ctx, pool, logger, processes.Migrations); err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}
