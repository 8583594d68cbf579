// Package cloudflare manages the DNS records of customer deployments,
// <slug>.<base domain>, with cloudflare-go. It implements processes.DNS.
package cloudflare

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	cf "github.com/cloudflare/cloudflare-go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/webhost-systems/webhost/processes"
	"github.com/webhost-systems/webhost/providers/call"
)

var _ processes.DNS = (*Client)(nil)

// Cloudflare error codes for a record that already exists.
const (
	codeRecordExists    = 81057 // "Record already exists."
	codeIdenticalRecord = 81058 // "An identical record already exists."
	codeHostExists      = 81053 // "An A, AAAA, or CNAME record with that host already exists."
)

// Config configures the adapter.
type Config struct {
	// Token is CLOUDFLARE_API_TOKEN (scoped to DNS edit on the zone). Secret.
	Token string
	// ZoneID is the zone of BaseDomain (CLOUDFLARE_ZONE_ID).
	ZoneID string
	// BaseDomain, e.g. "webhost.app"; record names are <slug>.<BaseDomain>.
	BaseDomain string
	// BaseURL is the API base (default cloudflare-go's); the simulator's is
	// sim.URLs.Cloudflare.
	BaseURL string
	// Retry bounds the retries of each call.
	Retry call.Policy
	// Metrics registers provider call metrics when set.
	Metrics prometheus.Registerer
	// HTTPClient's transport is wrapped (default http.DefaultTransport).
	HTTPClient *http.Client
	// Logger (default: discard).
	Logger *slog.Logger
}

// ErrInvalidConfig is returned by Validate and New.
var ErrInvalidConfig = errors.New("cloudflare: invalid config")

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.Token == "":
		return fmt.Errorf("%w: token is required (CLOUDFLARE_API_TOKEN)", ErrInvalidConfig)
	case c.ZoneID == "":
		return fmt.Errorf("%w: zone id is required (CLOUDFLARE_ZONE_ID)", ErrInvalidConfig)
	case c.BaseDomain == "" || strings.HasPrefix(c.BaseDomain, ".") || strings.HasSuffix(c.BaseDomain, "."):
		return fmt.Errorf("%w: base domain %q", ErrInvalidConfig, c.BaseDomain)
	}
	return c.Retry.WithDefaults().Validate()
}

// Client is the Cloudflare DNS adapter.
type Client struct {
	cfg    Config
	api    *cf.API
	zone   *cf.ResourceContainer
	caller *call.Caller
}

// New returns a Client. cloudflare-go's retries are disabled and its rate
// limiter opened up: call.Caller retries, honouring Retry-After, which the
// SDK would drop.
func New(cfg Config, opts ...call.Option) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Retry = cfg.Retry.WithDefaults()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	metrics, err := call.NewMetrics(cfg.Metrics)
	if err != nil {
		return nil, fmt.Errorf("cloudflare: metrics: %w", err)
	}
	caller, err := call.New("cloudflare", cfg.Retry, classify, metrics, opts...)
	if err != nil {
		return nil, err
	}
	var base http.RoundTripper
	if cfg.HTTPClient != nil {
		base = cfg.HTTPClient.Transport
	}
	httpClient := &http.Client{Transport: &call.Transport{Base: base, StatusErrors: true}}
	apiOpts := []cf.Option{cf.HTTPClient(httpClient), cf.UsingRetryPolicy(0, 0, 0), cf.UsingRateLimit(1000), cf.UserAgent("webhost")}
	if cfg.BaseURL != "" {
		apiOpts = append(apiOpts, cf.BaseURL(strings.TrimRight(cfg.BaseURL, "/")))
	}
	api, err := cf.NewWithAPIToken(cfg.Token, apiOpts...)
	if err != nil {
		return nil, fmt.Errorf("cloudflare: client: %w", err)
	}
	return &Client{cfg: cfg, api: api, zone: cf.ZoneIdentifier(cfg.ZoneID), caller: caller}, nil
}

type codedError interface {
	error
	ErrorCodes() []int
	Type() cf.ErrorType
}

func classify(err error) *processes.ProviderError {
	if c := call.Classify(err); c != nil {
		return c
	}
	pe := &processes.ProviderError{Err: err, Kind: processes.ErrPermanent}
	var ce codedError
	if errors.As(err, &ce) {
		if codes := ce.ErrorCodes(); len(codes) > 0 {
			pe.Code = fmt.Sprint(codes[0])
		}
		switch ce.Type() {
		case cf.ErrorTypeNotFound:
			pe.Kind, pe.StatusCode = processes.ErrNotFound, http.StatusNotFound
		case cf.ErrorTypeRateLimit:
			pe.Kind, pe.StatusCode = processes.ErrRetryable, http.StatusTooManyRequests
		case cf.ErrorTypeService:
			pe.Kind = processes.ErrRetryable
		}
		for _, code := range ce.ErrorCodes() {
			switch code {
			case codeRecordExists, codeIdenticalRecord, codeHostExists:
				pe.Kind = processes.ErrConflict
			case 81044:
				pe.Kind = processes.ErrNotFound
			}
		}
	}
	return pe
}

// FQDN returns the record name for name: a slug gets the base domain
// appended; a name already under the base domain is kept.
func (c *Client) FQDN(name string) string {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if name == c.cfg.BaseDomain || strings.HasSuffix(name, "."+c.cfg.BaseDomain) {
		return name
	}
	return name + "." + c.cfg.BaseDomain
}

// ErrInvalidRecord is returned (as a permanent error) for a record we do
// not manage.
var ErrInvalidRecord = errors.New("cloudflare: invalid record")

func (c *Client) find(ctx context.Context, fqdn, typ string) (*cf.DNSRecord, error) {
	recs, _, err := c.api.ListDNSRecords(ctx, c.zone, cf.ListDNSRecordsParams{Name: fqdn, Type: typ})
	if err != nil {
		return nil, err
	}
	for i := range recs {
		if strings.EqualFold(recs[i].Name, fqdn) && recs[i].Type == typ {
			return &recs[i], nil
		}
	}
	return nil, nil
}

// findHost returns the A or CNAME record of fqdn, preferring typ: the host
// record an upsert replaces, also across a type change (hobby A → paid
// CNAME on a plan change), which is one PATCH and no gap in resolution.
func (c *Client) findHost(ctx context.Context, fqdn, typ string) (*cf.DNSRecord, error) {
	recs, _, err := c.api.ListDNSRecords(ctx, c.zone, cf.ListDNSRecordsParams{Name: fqdn})
	if err != nil {
		return nil, err
	}
	var other *cf.DNSRecord
	for i := range recs {
		if !strings.EqualFold(recs[i].Name, fqdn) {
			continue
		}
		if recs[i].Type == typ {
			return &recs[i], nil
		}
		if other == nil && (recs[i].Type == "A" || recs[i].Type == "CNAME") {
			other = &recs[i]
		}
	}
	return other, nil
}

func toRecord(r cf.DNSRecord) processes.DNSRecord {
	return processes.DNSRecord{ID: r.ID, Name: r.Name, Type: r.Type, Content: r.Content, TTL: r.TTL, Proxied: r.Proxied != nil && *r.Proxied}
}

// UpsertRecord implements processes.DNS: it creates the record, or updates
// an existing one whose content differs. An existing A or CNAME record of
// the other type is changed in place (the DNS switch of a plan change). A create answered with 81057 or
// 81058 (it already exists, e.g. made by a timed-out attempt) is resolved by
// reading the record back and updating it if needed.
func (c *Client) UpsertRecord(ctx context.Context, rec processes.DNSRecord) (processes.DNSRecord, error) {
	if rec.Type != "A" && rec.Type != "CNAME" {
		return processes.DNSRecord{}, &processes.ProviderError{Provider: "cloudflare", Op: "upsert_record", Kind: processes.ErrPermanent,
			Err: fmt.Errorf("%w: type %q (want A or CNAME)", ErrInvalidRecord, rec.Type)}
	}
	if rec.Content == "" || rec.Name == "" {
		return processes.DNSRecord{}, &processes.ProviderError{Provider: "cloudflare", Op: "upsert_record", Kind: processes.ErrPermanent,
			Err: fmt.Errorf("%w: name and content are required", ErrInvalidRecord)}
	}
	fqdn := c.FQDN(rec.Name)
	ttl := rec.TTL
	if ttl == 0 {
		ttl = 1
	}
	proxied := rec.Proxied
	var out cf.DNSRecord
	err := c.caller.Do(ctx, "upsert_record", func(ctx context.Context) error {
		existing, err := c.findHost(ctx, fqdn, rec.Type)
		if err != nil {
			return err
		}
		if existing == nil {
			created, err := c.api.CreateDNSRecord(ctx, c.zone, cf.CreateDNSRecordParams{Type: rec.Type, Name: fqdn, Content: rec.Content, TTL: ttl, Proxied: &proxied})
			if err == nil {
				out = created
				c.cfg.Logger.Info("dns record created", "name", fqdn, "type", rec.Type)
				return nil
			}
			var ce codedError
			if !errors.As(err, &ce) || !hasCode(ce.ErrorCodes(), codeRecordExists, codeIdenticalRecord, codeHostExists) {
				return err
			}
			if existing, err = c.findHost(ctx, fqdn, rec.Type); err != nil {
				return err
			}
			if existing == nil {
				return &processes.ProviderError{Kind: processes.ErrRetryable, Err: fmt.Errorf("record %s reported existing but not listed", fqdn)}
			}
		}
		if existing.Type == rec.Type && existing.Content == rec.Content && existing.TTL == ttl && (existing.Proxied != nil && *existing.Proxied) == proxied {
			out = *existing
			return nil
		}
		updated, err := c.api.UpdateDNSRecord(ctx, c.zone, cf.UpdateDNSRecordParams{ID: existing.ID, Type: rec.Type, Name: fqdn, Content: rec.Content, TTL: ttl, Proxied: &proxied})
		if err != nil {
			return err
		}
		out = updated
		c.cfg.Logger.Info("dns record updated", "name", fqdn, "type", rec.Type)
		return nil
	})
	if err != nil {
		return processes.DNSRecord{}, err
	}
	return toRecord(out), nil
}

func hasCode(codes []int, want ...int) bool {
	for _, c := range codes {
		for _, w := range want {
			if c == w {
				return true
			}
		}
	}
	return false
}

// Record implements processes.DNS.
func (c *Client) Record(ctx context.Context, name, recordType string) (processes.DNSRecord, error) {
	fqdn := c.FQDN(name)
	var found *cf.DNSRecord
	err := c.caller.Do(ctx, "get_record", func(ctx context.Context) error {
		var err error
		found, err = c.find(ctx, fqdn, recordType)
		return err
	})
	if err != nil {
		return processes.DNSRecord{}, err
	}
	if found == nil {
		return processes.DNSRecord{}, &processes.ProviderError{Provider: "cloudflare", Op: "get_record", Kind: processes.ErrNotFound,
			Err: fmt.Errorf("no %s record %s", recordType, fqdn)}
	}
	return toRecord(*found), nil
}

// DeleteRecord implements processes.DNS; a missing record is success.
func (c *Client) DeleteRecord(ctx context.Context, name, recordType string) error {
	fqdn := c.FQDN(name)
	return c.caller.Do(ctx, "delete_record", func(ctx context.Context) error {
		found, err := c.find(ctx, fqdn, recordType)
		if err != nil || found == nil {
			return err
		}
		err = c.api.DeleteDNSRecord(ctx, c.zone, found.ID)
		var ce codedError
		if errors.As(err, &ce) && (ce.Type() == cf.ErrorTypeNotFound || hasCode(ce.ErrorCodes(), 81044)) {
			return nil
		}
		if err == nil {
			c.cfg.Logger.Info("dns record deleted", "name", fqdn, "type", recordType)
		}
		return err
	})
}

// String describes the configuration with the token redacted.
func (c Config) String() string {
	return fmt.Sprintf("cloudflare.Config{Token:%s ZoneID:%s BaseDomain:%s BaseURL:%s}", call.Redact(c.Token), c.ZoneID, c.BaseDomain, c.BaseURL)
}

// LogValue implements slog.LogValuer with the token redacted.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }
