// Package hetzner provisions the hobby plan's dedicated servers on Hetzner
// Cloud with hcloud-go. It implements processes.ServerProvisioner.
//
// Servers are addressed by a deterministic name and carry the labels of the
// deployment that owns them. EnsureServer looks the name up first and
// adopts a server whose labels match, treats uniqueness_error on create as
// "maybe mine" (a create that timed out but succeeded), and waits for the
// create action with progress. Delete of a missing server succeeds.
package hetzner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/webhost-systems/webhost/processes"
	"github.com/webhost-systems/webhost/providers/call"
)

var _ processes.ServerProvisioner = (*Client)(nil)

// Config configures the adapter.
type Config struct {
	// Token is HCLOUD_TOKEN. It is a secret: never logged.
	Token string
	// Endpoint is the API base URL (default hcloud.Endpoint); the simulator's
	// is sim.URLs.Hetzner.
	Endpoint string
	// DefaultImage is used when a spec names none (default "debian-12").
	DefaultImage string
	// PollInterval is the action polling interval (default 500ms).
	PollInterval time.Duration
	// WaitTimeout bounds the wait for a server to run (default 10m).
	WaitTimeout time.Duration
	// Retry bounds the retries of each call.
	Retry call.Policy
	// Metrics registers provider call metrics when set.
	Metrics prometheus.Registerer
	// HTTPClient is the base HTTP client (default: a new one).
	HTTPClient *http.Client
	// Logger (default: discard).
	Logger *slog.Logger
}

// ErrInvalidConfig is returned by Validate and New.
var ErrInvalidConfig = errors.New("hetzner: invalid config")

func (c *Config) setDefaults() {
	if c.Endpoint == "" {
		c.Endpoint = hcloud.Endpoint
	}
	if c.DefaultImage == "" {
		c.DefaultImage = "debian-12"
	}
	if c.PollInterval == 0 {
		c.PollInterval = 500 * time.Millisecond
	}
	if c.WaitTimeout == 0 {
		c.WaitTimeout = 10 * time.Minute
	}
	c.Retry = c.Retry.WithDefaults()
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate checks the configuration (after defaults).
func (c Config) Validate() error {
	if c.Token == "" {
		return fmt.Errorf("%w: token is required (HCLOUD_TOKEN)", ErrInvalidConfig)
	}
	if !strings.HasPrefix(c.Endpoint, "http://") && !strings.HasPrefix(c.Endpoint, "https://") {
		return fmt.Errorf("%w: endpoint %q is not an http(s) URL", ErrInvalidConfig, c.Endpoint)
	}
	if c.PollInterval <= 0 || c.WaitTimeout <= 0 {
		return fmt.Errorf("%w: poll interval and wait timeout must be positive", ErrInvalidConfig)
	}
	return c.Retry.Validate()
}

// Client is the Hetzner adapter.
type Client struct {
	cfg    Config
	api    *hcloud.Client
	caller *call.Caller
}

// New returns a Client. The SDK's own retries are disabled: call.Caller
// retries whole idempotent steps instead.
func New(cfg Config, opts ...call.Option) (*Client, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	metrics, err := call.NewMetrics(cfg.Metrics)
	if err != nil {
		return nil, fmt.Errorf("hetzner: metrics: %w", err)
	}
	caller, err := call.New("hetzner", cfg.Retry, classify, metrics, opts...)
	if err != nil {
		return nil, err
	}
	httpClient := &http.Client{}
	if cfg.HTTPClient != nil {
		cp := *cfg.HTTPClient
		httpClient = &cp
	}
	api := hcloud.NewClient(
		hcloud.WithToken(cfg.Token),
		hcloud.WithEndpoint(cfg.Endpoint),
		hcloud.WithApplication("webhost", ""),
		hcloud.WithHTTPClient(httpClient),
		hcloud.WithRetryOpts(hcloud.RetryOpts{MaxRetries: 0}),
		hcloud.WithPollOpts(hcloud.PollOpts{BackoffFunc: hcloud.ConstantBackoff(cfg.PollInterval)}),
	)
	return &Client{cfg: cfg, api: api, caller: caller}, nil
}

// respError keeps the HTTP status and Retry-After of a failed call.
type respError struct {
	status     int
	retryAfter time.Duration
	err        error
}

func (e *respError) Error() string { return e.err.Error() }
func (e *respError) Unwrap() error { return e.err }

func withResp(resp *hcloud.Response, err error) error {
	if err == nil || resp == nil || resp.Response == nil {
		return err
	}
	return &respError{status: resp.StatusCode, retryAfter: call.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()), err: err}
}

// classify maps hcloud errors to kinds. resource_unavailable (a server type
// sold out in a location) is transient: Hetzner restocks, so it is retried.
func classify(err error) *processes.ProviderError {
	pe := &processes.ProviderError{Err: err}
	var re *respError
	if errors.As(err, &re) {
		pe.StatusCode, pe.RetryAfter = re.status, re.retryAfter
	}
	var he hcloud.Error
	var ae hcloud.ActionError
	switch {
	case errors.As(err, &he):
		pe.Code = string(he.Code)
	case errors.As(err, &ae):
		pe.Code = ae.Code
	default:
		if c := call.Classify(err); c != nil {
			return c
		}
		if pe.StatusCode != 0 {
			pe.Kind = call.KindForStatus(pe.StatusCode)
			return pe
		}
		pe.Kind = processes.ErrPermanent
		return pe
	}
	switch hcloud.ErrorCode(pe.Code) {
	case hcloud.ErrorCodeNotFound:
		pe.Kind = processes.ErrNotFound
	case hcloud.ErrorCodeUniquenessError:
		pe.Kind = processes.ErrConflict
	case hcloud.ErrorCodeRateLimitExceeded, hcloud.ErrorCodeConflict, hcloud.ErrorCodeLocked,
		hcloud.ErrorCodeResourceUnavailable, hcloud.ErrorCodeServiceError, hcloud.ErrorCodeServerError,
		hcloud.ErrorCodeMaintenance, hcloud.ErrorCodeTimeout, hcloud.ErrorCodeBadGateway,
		hcloud.ErrorCodeRobotUnavailable, hcloud.ErrorCodeUnknownError, hcloud.ErrorCodePlacementError, "unavailable":
		pe.Kind = processes.ErrRetryable
	default:
		if pe.StatusCode >= 500 || pe.StatusCode == http.StatusTooManyRequests {
			pe.Kind = processes.ErrRetryable
		} else {
			pe.Kind = processes.ErrPermanent
		}
	}
	return pe
}

var nameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// ErrInvalidSpec is returned (wrapped in a permanent ProviderError) for a
// spec that cannot be sent.
var ErrInvalidSpec = errors.New("hetzner: invalid server spec")

func validateSpec(spec processes.ServerSpec) error {
	if !nameRE.MatchString(spec.Name) {
		return fmt.Errorf("%w: name %q is not a valid hostname", ErrInvalidSpec, spec.Name)
	}
	if spec.ServerType == "" || spec.Location == "" {
		return fmt.Errorf("%w: server type and location are required", ErrInvalidSpec)
	}
	if len(spec.Labels) == 0 {
		return fmt.Errorf("%w: labels are required to recognise the server on adoption", ErrInvalidSpec)
	}
	return nil
}

func permanent(op string, err error) error {
	return &processes.ProviderError{Provider: "hetzner", Op: op, Kind: processes.ErrPermanent, Err: err}
}

// EnsureServer implements processes.ServerProvisioner.
func (c *Client) EnsureServer(ctx context.Context, spec processes.ServerSpec) (processes.Server, error) {
	if err := validateSpec(spec); err != nil {
		return processes.Server{}, permanent("ensure_server", err)
	}
	image := spec.Image
	if image == "" {
		image = c.cfg.DefaultImage
	}
	var server *hcloud.Server
	var actions []*hcloud.Action
	err := c.caller.Do(ctx, "ensure_server", func(ctx context.Context) error {
		server, actions = nil, nil
		found, err := c.findOwned(ctx, spec)
		if err != nil || found != nil {
			server = found
			return err
		}
		sshKeys := make([]*hcloud.SSHKey, 0, len(spec.SSHKeys))
		for _, name := range spec.SSHKeys {
			key, resp, err := c.api.SSHKey.GetByName(ctx, name)
			if err != nil {
				return withResp(resp, err)
			}
			if key == nil {
				return permanent("ensure_server", fmt.Errorf("%w: ssh key %q does not exist", ErrInvalidSpec, name))
			}
			sshKeys = append(sshKeys, key)
		}
		res, resp, err := c.api.Server.Create(ctx, hcloud.ServerCreateOpts{
			Name:       spec.Name,
			ServerType: &hcloud.ServerType{Name: spec.ServerType},
			Image:      &hcloud.Image{Name: image},
			Location:   &hcloud.Location{Name: spec.Location},
			Labels:     maps.Clone(spec.Labels),
			UserData:   CloudInit(spec.SyncServerImage),
			SSHKeys:    sshKeys,
			PublicNet:  &hcloud.ServerCreatePublicNet{EnableIPv4: true, EnableIPv6: true},
		})
		if hcloud.IsError(err, hcloud.ErrorCodeUniquenessError) {
			// Maybe ours: an earlier attempt's create succeeded after its
			// response was lost. Adopt it if the labels say so.
			found, ferr := c.findOwned(ctx, spec)
			if ferr != nil {
				return ferr
			}
			if found == nil {
				// The name was taken and released meanwhile: try again.
				return &processes.ProviderError{Provider: "hetzner", Op: "ensure_server", Kind: processes.ErrRetryable,
					Code: string(hcloud.ErrorCodeUniquenessError), Err: withResp(resp, err)}
			}
			server = found
			return nil
		}
		if err != nil {
			return withResp(resp, err)
		}
		server = res.Server
		actions = append([]*hcloud.Action{res.Action}, res.NextActions...)
		c.cfg.Logger.Info("hetzner server created", "name", spec.Name, "id", server.ID, "type", spec.ServerType, "location", spec.Location)
		return nil
	})
	if err != nil {
		return processes.Server{}, err
	}
	if len(actions) == 0 && server.Status == hcloud.ServerStatusOff {
		// Adopted a powered-off server: ensure means running.
		err := c.caller.Do(ctx, "power_on_server", func(ctx context.Context) error {
			a, resp, err := c.api.Server.Poweron(ctx, server)
			if err != nil {
				return withResp(resp, err)
			}
			actions = []*hcloud.Action{a}
			return nil
		})
		if err != nil {
			return processes.Server{}, err
		}
	}
	if err := c.waitRunning(ctx, server.ID, actions, spec.OnProgress); err != nil {
		return processes.Server{}, err
	}
	return c.serverByID(ctx, "ensure_server", server.ID)
}

// findOwned looks the server up by name; a server with that name but other
// labels is a conflict.
func (c *Client) findOwned(ctx context.Context, spec processes.ServerSpec) (*hcloud.Server, error) {
	s, resp, err := c.api.Server.GetByName(ctx, spec.Name)
	if err != nil {
		return nil, withResp(resp, err)
	}
	if s == nil {
		return nil, nil
	}
	for k, v := range spec.Labels {
		if s.Labels[k] != v {
			return nil, &processes.ProviderError{Provider: "hetzner", Op: "ensure_server", Kind: processes.ErrConflict,
				Code: string(hcloud.ErrorCodeUniquenessError),
				Err:  fmt.Errorf("server %q exists with label %s=%q, want %q", spec.Name, k, s.Labels[k], v)}
		}
	}
	return s, nil
}

// waitRunning waits for the create actions (reporting progress) and then
// for the server to run.
func (c *Client) waitRunning(ctx context.Context, id int64, actions []*hcloud.Action, progress processes.Progress) error {
	if len(actions) > 0 {
		last := -1
		err := c.caller.DoWithTimeout(ctx, "wait_server", c.cfg.WaitTimeout, func(ctx context.Context) error {
			return c.api.Action.WaitForFunc(ctx, func(a *hcloud.Action) error {
				if progress != nil && a.ID == actions[0].ID && a.Progress != last {
					last = a.Progress
					progress(a.Progress)
				}
				if a.Status == hcloud.ActionStatusError {
					return a.Error()
				}
				return nil
			}, actions...)
		})
		if err != nil {
			return err
		}
	}
	// Adopted servers (no action at hand) and belt and braces: poll status.
	return c.caller.DoWithTimeout(ctx, "wait_server", c.cfg.WaitTimeout, func(ctx context.Context) error {
		for {
			s, resp, err := c.api.Server.GetByID(ctx, id)
			if err != nil {
				return withResp(resp, err)
			}
			if s == nil {
				return &processes.ProviderError{Provider: "hetzner", Op: "wait_server", Kind: processes.ErrNotFound,
					Err: fmt.Errorf("server %d disappeared while starting", id)}
			}
			switch s.Status {
			case hcloud.ServerStatusRunning:
				if progress != nil {
					progress(100)
				}
				return nil
			case hcloud.ServerStatusOff:
				if len(actions) > 0 { // our create finished but it is off: start is the next action
					return nil
				}
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(c.cfg.PollInterval):
			}
		}
	})
}

func (c *Client) serverByID(ctx context.Context, op string, id int64) (processes.Server, error) {
	var s *hcloud.Server
	err := c.caller.Do(ctx, op, func(ctx context.Context) error {
		var resp *hcloud.Response
		var err error
		s, resp, err = c.api.Server.GetByID(ctx, id)
		return withResp(resp, err)
	})
	if err != nil {
		return processes.Server{}, err
	}
	if s == nil {
		return processes.Server{}, &processes.ProviderError{Provider: "hetzner", Op: op, Kind: processes.ErrNotFound, Err: fmt.Errorf("server %d not found", id)}
	}
	return toServer(s), nil
}

func toServer(s *hcloud.Server) processes.Server {
	out := processes.Server{ID: strconv.FormatInt(s.ID, 10), Name: s.Name, Labels: maps.Clone(s.Labels), Created: s.Created, Health: processes.HealthUnknown}
	if s.PublicNet.IPv4.IP != nil {
		out.IPv4 = s.PublicNet.IPv4.IP.String()
	}
	if s.PublicNet.IPv6.IP != nil {
		out.IPv6 = s.PublicNet.IPv6.IP.String()
	}
	if s.Location != nil {
		out.Location = s.Location.Name
	}
	switch s.Status {
	case hcloud.ServerStatusRunning:
		out.Status, out.Health = processes.StatusRunning, processes.HealthPassing
	case hcloud.ServerStatusOff, hcloud.ServerStatusStopping:
		out.Status, out.Health = processes.StatusStopped, processes.HealthCritical
	case hcloud.ServerStatusDeleting:
		out.Status = processes.StatusDeleting
	default:
		out.Status = processes.StatusPending
	}
	return out
}

// ServerStatus implements processes.ServerProvisioner.
func (c *Client) ServerStatus(ctx context.Context, name string) (processes.Server, error) {
	var s *hcloud.Server
	err := c.caller.Do(ctx, "server_status", func(ctx context.Context) error {
		var resp *hcloud.Response
		var err error
		s, resp, err = c.api.Server.GetByName(ctx, name)
		return withResp(resp, err)
	})
	if err != nil {
		return processes.Server{}, err
	}
	if s == nil {
		return processes.Server{}, &processes.ProviderError{Provider: "hetzner", Op: "server_status", Kind: processes.ErrNotFound, Err: fmt.Errorf("server %q not found", name)}
	}
	return toServer(s), nil
}

// DeleteServer implements processes.ServerProvisioner: it deletes the
// server and waits for the delete action. A missing server is success.
func (c *Client) DeleteServer(ctx context.Context, name string) error {
	var action *hcloud.Action
	err := c.caller.Do(ctx, "delete_server", func(ctx context.Context) error {
		action = nil
		s, resp, err := c.api.Server.GetByName(ctx, name)
		if err != nil {
			return withResp(resp, err)
		}
		if s == nil {
			return nil
		}
		res, resp, err := c.api.Server.DeleteWithResult(ctx, s)
		if hcloud.IsError(err, hcloud.ErrorCodeNotFound) {
			return nil
		}
		if err != nil {
			return withResp(resp, err)
		}
		action = res.Action
		c.cfg.Logger.Info("hetzner server deleted", "name", name, "id", s.ID)
		return nil
	})
	if err != nil || action == nil {
		return err
	}
	return c.caller.DoWithTimeout(ctx, "wait_delete_server", c.cfg.WaitTimeout, func(ctx context.Context) error {
		return c.api.Action.WaitFor(ctx, action)
	})
}

// LabelSelector renders labels as a Hetzner label selector (k=v,...), keys
// sorted.
func LabelSelector(labels map[string]string) string {
	keys := slices.Sorted(maps.Keys(labels))
	terms := make([]string, 0, len(keys))
	for _, k := range keys {
		terms = append(terms, k+"="+labels[k])
	}
	return strings.Join(terms, ",")
}

// ListServers implements processes.ServerProvisioner; it follows pagination.
func (c *Client) ListServers(ctx context.Context, selector map[string]string) ([]processes.Server, error) {
	var servers []*hcloud.Server
	err := c.caller.Do(ctx, "list_servers", func(ctx context.Context) error {
		var err error
		servers, err = c.api.Server.AllWithOpts(ctx, hcloud.ServerListOpts{ListOpts: hcloud.ListOpts{LabelSelector: LabelSelector(selector), PerPage: 50}})
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]processes.Server, 0, len(servers))
	for _, s := range servers {
		out = append(out, toServer(s))
	}
	return out, nil
}

// String describes the configuration with the token redacted, so that a
// logged Config never leaks HCLOUD_TOKEN.
func (c Config) String() string {
	return fmt.Sprintf("hetzner.Config{Token:%s Endpoint:%s}", call.Redact(c.Token), c.Endpoint)
}

// LogValue implements slog.LogValuer with the token redacted.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }
