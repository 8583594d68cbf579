// Package fly runs the paid plans on Fly.io with fly-go: apps and their
// secrets, volumes and machines (flaps, the Machines API), Fly Postgres
// clusters built from machines as flyctl's postgres launcher builds them,
// Upstash Redis add-ons (GraphQL createAddOn through GenqClient), and data
// migrations executed on a machine. It implements processes.AppLauncher,
// processes.PostgresProvisioner, processes.RedisProvisioner and
// processes.DataMigrator.
//
// flaps reads its base URL only from FLY_FLAPS_BASE_URL; this package never
// sets process environment and instead points flaps at Config.FlapsBaseURL
// with a Transport that rewrites scheme, host and path prefix.
package fly

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	fly "github.com/superfly/fly-go"
	"github.com/superfly/fly-go/flaps"
	"github.com/superfly/fly-go/tokens"
	"github.com/superfly/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/webhost-systems/webhost/processes"
	"github.com/webhost-systems/webhost/providers/call"
)

var (
	_ processes.AppLauncher         = (*Client)(nil)
	_ processes.PostgresProvisioner = (*Client)(nil)
	_ processes.RedisProvisioner    = (*Client)(nil)
	_ processes.DataMigrator        = (*Client)(nil)
)

// Defaults.
const (
	DefaultAPIBaseURL    = "https://api.fly.io"
	DefaultFlapsBaseURL  = "https://api.machines.dev"
	DefaultPostgresImage = "flyio/postgres-flex:16"
	waitChunk            = 60 * time.Second // the wait endpoint's cap
)

// Config configures the adapter.
type Config struct {
	// Token is FLY_API_TOKEN. Secret: never logged.
	Token string
	// APIBaseURL is the GraphQL API base (default https://api.fly.io); the
	// simulator's is sim.URLs.Fly. fly-go needs it set explicitly.
	APIBaseURL string
	// FlapsBaseURL is the Machines API base (default
	// https://api.machines.dev); the simulator's is sim.URLs.Fly.
	FlapsBaseURL string
	// PostgresImage (default flyio/postgres-flex:16).
	PostgresImage string
	// WaitTimeout bounds waiting for machines to start (default 5m).
	WaitTimeout time.Duration
	// Retry bounds the retries of each call.
	Retry call.Policy
	// Metrics registers provider call metrics when set.
	Metrics prometheus.Registerer
	// HTTPClient's transport is the base transport (default http.DefaultTransport).
	HTTPClient *http.Client
	// Logger (default: discard).
	Logger *slog.Logger
}

// ErrInvalidConfig is returned by Validate and New.
var ErrInvalidConfig = errors.New("fly: invalid config")

func (c *Config) setDefaults() {
	if c.APIBaseURL == "" {
		c.APIBaseURL = DefaultAPIBaseURL
	}
	if c.FlapsBaseURL == "" {
		c.FlapsBaseURL = DefaultFlapsBaseURL
	}
	if c.PostgresImage == "" {
		c.PostgresImage = DefaultPostgresImage
	}
	if c.WaitTimeout == 0 {
		c.WaitTimeout = 5 * time.Minute
	}
	c.Retry = c.Retry.WithDefaults()
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate checks the configuration (after defaults).
func (c Config) Validate() error {
	if c.Token == "" {
		return fmt.Errorf("%w: token is required (FLY_API_TOKEN)", ErrInvalidConfig)
	}
	for _, u := range []string{c.APIBaseURL, c.FlapsBaseURL} {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return fmt.Errorf("%w: %q is not an http(s) URL", ErrInvalidConfig, u)
		}
	}
	if c.WaitTimeout <= 0 {
		return fmt.Errorf("%w: wait timeout must be positive", ErrInvalidConfig)
	}
	return c.Retry.Validate()
}

// Client is the Fly.io adapter.
type Client struct {
	cfg      Config
	gql      *fly.Client
	flapsURL *url.URL
	base     http.RoundTripper
	tokens   *tokens.Tokens
	caller   *call.Caller
}

// New returns a Client. fly-go's rehttp retries never fire: the innermost
// transport turns 429/5xx and network failures into non-temporary errors,
// which call.Caller retries instead.
func New(cfg Config, opts ...call.Option) (*Client, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	metrics, err := call.NewMetrics(cfg.Metrics)
	if err != nil {
		return nil, fmt.Errorf("fly: metrics: %w", err)
	}
	caller, err := call.New("fly", cfg.Retry, classify, metrics, opts...)
	if err != nil {
		return nil, err
	}
	flapsURL, _ := url.Parse(strings.TrimRight(cfg.FlapsBaseURL, "/"))
	var base http.RoundTripper
	if cfg.HTTPClient != nil {
		base = cfg.HTTPClient.Transport
	}
	toks := tokens.Parse(cfg.Token)
	gql := fly.NewClientFromOptions(fly.ClientOptions{
		Tokens:  toks,
		Name:    "webhost",
		Version: "1",
		BaseURL: strings.TrimRight(cfg.APIBaseURL, "/"),
		Transport: &fly.Transport{
			UnderlyingTransport: &call.Transport{Base: base, StatusErrors: true},
			Tokens:              toks,
			UserAgent:           "webhost",
		},
	})
	return &Client{cfg: cfg, gql: gql, flapsURL: flapsURL, base: base, tokens: toks, caller: caller}, nil
}

func (c *Client) flaps(ctx context.Context, app string) (*flaps.Client, error) {
	return flaps.NewWithOptions(ctx, flaps.NewClientOpts{
		AppName:   app,
		Tokens:    c.tokens,
		UserAgent: "webhost",
		Transport: &call.Transport{Base: c.base, BaseURL: c.flapsURL, StatusErrors: true},
	})
}

// Error codes.
const (
	codeInsufficientCapacity = "insufficient_capacity"
	codeNotFound             = "NOT_FOUND"
)

func classify(err error) *processes.ProviderError {
	if c := call.Classify(err); c != nil {
		return c
	}
	pe := &processes.ProviderError{Err: err, Kind: processes.ErrPermanent}
	var fe *flaps.FlapsError
	var ge *graphql.GraphQLError
	var gl gqlerror.List
	switch {
	case errors.As(err, &fe):
		pe.StatusCode = fe.ResponseStatusCode
		pe.Kind = call.KindForStatus(fe.ResponseStatusCode)
		if sc := fe.StatusCode(); sc != nil && *sc != "" {
			pe.Code = string(*sc)
		}
		if pe.Code == codeInsufficientCapacity {
			pe.Kind = processes.ErrRetryable // capacity comes back; the process retries later
		}
		if fe.ResponseStatusCode == http.StatusUnprocessableEntity && strings.Contains(fe.Error(), "taken") {
			pe.Kind = processes.ErrConflict
		}
	case errors.As(err, &ge):
		pe.Code = ge.Extensions.Code
		pe.Kind = gqlKind(ge.Extensions.Code, ge.Message)
	case errors.As(err, &gl) && len(gl) > 0:
		code, _ := gl[0].Extensions["code"].(string)
		pe.Code = code
		pe.Kind = gqlKind(code, gl[0].Message)
	}
	return pe
}

func gqlKind(code, msg string) error {
	switch {
	case code == codeNotFound:
		return processes.ErrNotFound
	case strings.Contains(msg, "already been taken"):
		return processes.ErrConflict
	case code == "SERVICE_UNAVAILABLE" || code == "INTERNAL_SERVER_ERROR":
		return processes.ErrRetryable
	}
	return processes.ErrPermanent
}

func isNotFound(err error) bool {
	var pe *processes.ProviderError
	if errors.As(err, &pe) {
		return pe.Kind == processes.ErrNotFound
	}
	return errors.Is(classify(err).Kind, processes.ErrNotFound)
}

var appNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}$`)

// ErrInvalidSpec is returned (as a permanent error) for an unusable spec.
var ErrInvalidSpec = errors.New("fly: invalid spec")

func invalid(op string, format string, args ...any) error {
	return &processes.ProviderError{Provider: "fly", Op: op, Kind: processes.ErrPermanent, Err: fmt.Errorf("%w: "+format, append([]any{ErrInvalidSpec}, args...)...)}
}

// EnsureApp implements processes.AppLauncher.
func (c *Client) EnsureApp(ctx context.Context, spec processes.AppSpec) (processes.App, error) {
	if !appNameRE.MatchString(spec.Name) || spec.Org == "" {
		return processes.App{}, invalid("ensure_app", "app name %q and org %q", spec.Name, spec.Org)
	}
	if err := c.ensureApp(ctx, spec.Name, spec.Org); err != nil {
		return processes.App{}, err
	}
	if err := c.setSecrets(ctx, spec.Name, spec.Secrets); err != nil {
		return processes.App{}, err
	}
	return c.AppStatus(ctx, spec.Name)
}

func (c *Client) ensureApp(ctx context.Context, name, org string) error {
	return c.caller.Do(ctx, "ensure_app", func(ctx context.Context) error {
		owned, err := c.appOwned(ctx, name, org)
		if err != nil || owned {
			return err
		}
		fc, err := c.flaps(ctx, name)
		if err != nil {
			return err
		}
		err = fc.CreateApp(ctx, name, org)
		var fe *flaps.FlapsError
		if errors.As(err, &fe) && (fe.ResponseStatusCode == http.StatusConflict || fe.ResponseStatusCode == http.StatusUnprocessableEntity) {
			// Taken: by an earlier attempt of ours whose response was lost, or by someone else.
			owned, lerr := c.appOwned(ctx, name, org)
			if lerr != nil {
				return lerr
			}
			if owned {
				return nil
			}
			return &processes.ProviderError{Kind: processes.ErrConflict, StatusCode: fe.ResponseStatusCode, Err: err}
		}
		if err == nil {
			c.cfg.Logger.Info("fly app created", "app", name, "org", org)
		}
		return err
	})
}

// appOwned reports whether the app exists in org; an app of another
// organisation is a conflict.
func (c *Client) appOwned(ctx context.Context, name, org string) (bool, error) {
	app, err := c.gql.GetAppCompact(ctx, name)
	if err != nil {
		if isNotFound(err) {
			return false, nil
		}
		return false, err
	}
	if app.Organization != nil && app.Organization.Slug != org {
		return false, &processes.ProviderError{Kind: processes.ErrConflict, Err: fmt.Errorf("app %q belongs to another organisation", name)}
	}
	return true, nil
}

func (c *Client) setSecrets(ctx context.Context, app string, secrets map[string]string) error {
	if len(secrets) == 0 {
		return nil
	}
	values := make(map[string]*string, len(secrets))
	for k, v := range secrets {
		values[k] = &v
	}
	return c.caller.Do(ctx, "set_secrets", func(ctx context.Context) error {
		fc, err := c.flaps(ctx, app)
		if err != nil {
			return err
		}
		_, err = fc.UpdateAppSecrets(ctx, values)
		return err
	})
}

// machinePlan is one machine to ensure.
type machinePlan struct {
	name       string
	region     string
	volumeName string // "" for none
	volumeGB   int
	mountPath  string
	config     fly.MachineConfig
}

// ensureMachines launches the missing machines of plans (adopting machines
// with the planned names, so a timed-out launch is not repeated) and waits
// until all are started.
func (c *Client) ensureMachines(ctx context.Context, app string, plans []machinePlan, progress processes.Progress) ([]*fly.Machine, error) {
	out := make([]*fly.Machine, 0, len(plans))
	for _, plan := range plans {
		var m *fly.Machine
		err := c.caller.Do(ctx, "launch_machine", func(ctx context.Context) error {
			fc, err := c.flaps(ctx, app)
			if err != nil {
				return err
			}
			existing, err := fc.List(ctx, "")
			if err != nil {
				return err
			}
			for _, em := range existing {
				if em.Name == plan.name && em.State != "destroyed" && em.State != "destroying" {
					m = em
					return nil
				}
			}
			cfg := plan.config
			cfg.Metadata = maps.Clone(cfg.Metadata)
			if plan.volumeName != "" {
				vol, err := c.ensureVolume(ctx, fc, plan)
				if err != nil {
					return err
				}
				cfg.Mounts = []fly.MachineMount{{Volume: vol.ID, Path: plan.mountPath}}
			}
			m, err = fc.Launch(ctx, fly.LaunchMachineInput{Name: plan.name, Region: plan.region, Config: &cfg})
			if err == nil {
				c.cfg.Logger.Info("fly machine launched", "app", app, "machine", m.ID, "name", plan.name, "region", plan.region)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	for i, m := range out {
		if err := c.waitStarted(ctx, app, m); err != nil {
			return nil, err
		}
		if progress != nil {
			progress((i + 1) * 100 / len(out))
		}
	}
	return out, nil
}

// ensureVolume finds an unattached volume named plan.volumeName in the
// region, or creates it.
func (c *Client) ensureVolume(ctx context.Context, fc *flaps.Client, plan machinePlan) (*fly.Volume, error) {
	vols, err := fc.GetVolumes(ctx)
	if err != nil {
		return nil, err
	}
	for i := range vols {
		v := vols[i]
		if v.Name == plan.volumeName && v.Region == plan.region && !v.IsAttached() {
			return &v, nil
		}
	}
	size := plan.volumeGB
	encrypted := true
	return fc.CreateVolume(ctx, fly.CreateVolumeRequest{Name: plan.volumeName, Region: plan.region, SizeGb: &size, Encrypted: &encrypted})
}

// waitStarted loops the wait endpoint, which holds a request at most 60s.
func (c *Client) waitStarted(ctx context.Context, app string, m *fly.Machine) error {
	if m.State == "started" {
		return nil
	}
	return c.caller.DoWithTimeout(ctx, "wait_machine", c.cfg.WaitTimeout, func(ctx context.Context) error {
		fc, err := c.flaps(ctx, app)
		if err != nil {
			return err
		}
		for {
			chunk := waitChunk
			if dl, ok := ctx.Deadline(); ok && time.Until(dl) < chunk {
				chunk = max(time.Until(dl), time.Second)
			}
			err := fc.Wait(ctx, m, "started", chunk)
			var fe *flaps.FlapsError
			if errors.As(err, &fe) && fe.ResponseStatusCode == http.StatusRequestTimeout {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				continue
			}
			return err
		}
	})
}

func (c *Client) labelsConfig(spec processes.DeploySpec) fly.MachineConfig {
	port := spec.InternalPort
	if port == 0 {
		port = 4000
	}
	p443, p80 := 443, 80
	meta := maps.Clone(spec.Labels)
	if meta == nil {
		meta = map[string]string{}
	}
	meta["webhost_app"] = spec.App
	return fly.MachineConfig{
		Image:    spec.Image,
		Env:      maps.Clone(spec.Env),
		Metadata: meta,
		Guest:    &fly.MachineGuest{CPUKind: "shared", CPUs: 1, MemoryMB: 512},
		Restart:  &fly.MachineRestart{Policy: fly.MachineRestartPolicyAlways},
		Services: []fly.MachineService{{
			Protocol:     "tcp",
			InternalPort: port,
			Ports: []fly.MachinePort{
				{Port: &p443, Handlers: []string{"tls", "http"}},
				{Port: &p80, Handlers: []string{"http"}, ForceHTTPS: true},
			},
		}},
	}
}

// Deploy implements processes.AppLauncher: MachinesPerRegion machines in
// each region, named <app>-<region>-<n>, each with its own volume when
// VolumeSizeGB > 0, serving 443 (TLS) → InternalPort (default 4000).
func (c *Client) Deploy(ctx context.Context, spec processes.DeploySpec) (processes.App, error) {
	if !appNameRE.MatchString(spec.App) || spec.Image == "" || len(spec.Regions) == 0 {
		return processes.App{}, invalid("deploy", "app %q, image %q, regions %v", spec.App, spec.Image, spec.Regions)
	}
	perRegion := max(spec.MachinesPerRegion, 1)
	base := c.labelsConfig(spec)
	var plans []machinePlan
	for _, region := range spec.Regions {
		for i := range perRegion {
			p := machinePlan{name: fmt.Sprintf("%s-%s-%d", spec.App, region, i), region: region, config: base}
			if spec.VolumeSizeGB > 0 {
				p.volumeName, p.volumeGB, p.mountPath = fmt.Sprintf("data_%s_%d", region, i), spec.VolumeSizeGB, "/data"
			}
			plans = append(plans, p)
		}
	}
	if _, err := c.ensureMachines(ctx, spec.App, plans, spec.OnProgress); err != nil {
		return processes.App{}, err
	}
	return c.AppStatus(ctx, spec.App)
}

// AppStatus implements processes.AppLauncher.
func (c *Client) AppStatus(ctx context.Context, name string) (processes.App, error) {
	var out processes.App
	err := c.caller.Do(ctx, "app_status", func(ctx context.Context) error {
		app, err := c.gql.GetAppCompact(ctx, name)
		if err != nil {
			return err
		}
		fc, err := c.flaps(ctx, name)
		if err != nil {
			return err
		}
		machines, err := fc.List(ctx, "")
		if err != nil {
			return err
		}
		out = processes.App{Name: app.Name, Hostname: app.Hostname, Status: processes.StatusRunning}
		for _, m := range machines {
			pm := toMachine(m)
			out.Machines = append(out.Machines, pm)
			if pm.Status != processes.StatusRunning && out.Status == processes.StatusRunning {
				out.Status = pm.Status
			}
		}
		return nil
	})
	if err != nil {
		return processes.App{}, err
	}
	return out, nil
}

func toMachine(m *fly.Machine) processes.Machine {
	out := processes.Machine{ID: m.ID, Name: m.Name, Region: m.Region, State: m.State, Health: processes.HealthUnknown}
	switch m.State {
	case "started":
		out.Status = processes.StatusRunning
	case "stopped", "suspended":
		out.Status = processes.StatusStopped
	case "failed":
		out.Status = processes.StatusFailed
	case "destroying", "destroyed":
		out.Status = processes.StatusDeleting
	default:
		out.Status = processes.StatusPending
	}
	if len(m.Checks) > 0 {
		out.Health = processes.HealthPassing
		for _, ch := range m.Checks {
			if ch.Status != "passing" {
				out.Health = processes.HealthCritical
			}
		}
	}
	return out
}

// DeleteApp implements processes.AppLauncher; a missing app is success.
func (c *Client) DeleteApp(ctx context.Context, name string) error {
	return c.caller.Do(ctx, "delete_app", func(ctx context.Context) error {
		err := c.gql.DeleteApp(ctx, name)
		if err != nil && isNotFound(err) {
			return nil
		}
		if err == nil {
			c.cfg.Logger.Info("fly app deleted", "app", name)
		}
		return err
	})
}

// String describes the configuration with the token redacted.
func (c Config) String() string {
	return fmt.Sprintf("fly.Config{Token:%s APIBaseURL:%s FlapsBaseURL:%s}", call.Redact(c.Token), c.APIBaseURL, c.FlapsBaseURL)
}

// LogValue implements slog.LogValuer with the token redacted.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }
