// Package stripe is the billing adapter on stripe-go/v76: customers, a
// subscription checkout with a 14-day trial, subscription reads, price
// changes and cancellation, and webhook verification. It implements
// processes.Billing.
//
// Every POST carries an explicit idempotency key derived from the command
// ID ("webhost:<operation>:<command id>"), so a retried or resubmitted
// command has exactly one effect at Stripe. stripe-go's own network retries
// are off; call.Caller retries, reusing the same key.
package stripe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	stripego "github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"

	"github.com/webhost-systems/webhost/processes"
	"github.com/webhost-systems/webhost/providers/call"
)

var _ processes.Billing = (*Client)(nil)

// DefaultTrialDays is the trial of a checkout subscription.
const DefaultTrialDays = 14

// Config configures the adapter.
type Config struct {
	// SecretKey is STRIPE_SECRET_KEY. Secret: never logged.
	SecretKey string
	// WebhookSecret is STRIPE_WEBHOOK_SECRET (whsec_...), for Verifier.
	WebhookSecret string
	// APIURL overrides the API base (stripe-mock: http://127.0.0.1:12111).
	APIURL string
	// Retry bounds the retries of each call.
	Retry call.Policy
	// Metrics registers provider call metrics when set.
	Metrics prometheus.Registerer
	// HTTPClient is the HTTP client (default: a new one with a 80s timeout).
	HTTPClient *http.Client
	// Logger (default: discard).
	Logger *slog.Logger
}

// ErrInvalidConfig is returned by Validate and New.
var ErrInvalidConfig = errors.New("stripe: invalid config")

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.SecretKey == "" {
		return fmt.Errorf("%w: secret key is required (STRIPE_SECRET_KEY)", ErrInvalidConfig)
	}
	if c.APIURL != "" && !strings.HasPrefix(c.APIURL, "http://") && !strings.HasPrefix(c.APIURL, "https://") {
		return fmt.Errorf("%w: api url %q", ErrInvalidConfig, c.APIURL)
	}
	return c.Retry.WithDefaults().Validate()
}

// Client is the Stripe adapter.
type Client struct {
	cfg    Config
	sc     *client.API
	caller *call.Caller
}

// New returns a Client.
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
		return nil, fmt.Errorf("stripe: metrics: %w", err)
	}
	caller, err := call.New("stripe", cfg.Retry, classify, metrics, opts...)
	if err != nil {
		return nil, err
	}
	httpClient := cfg.HTTPClient
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 80 * time.Second}
	}
	backend := func(t stripego.SupportedBackend) stripego.Backend {
		bc := &stripego.BackendConfig{HTTPClient: httpClient, MaxNetworkRetries: stripego.Int64(0),
			LeveledLogger: &stripego.LeveledLogger{Level: stripego.LevelNull}, EnableTelemetry: stripego.Bool(false)}
		if cfg.APIURL != "" && t == stripego.APIBackend {
			u := strings.TrimRight(cfg.APIURL, "/")
			bc.URL = &u
		}
		return stripego.GetBackendWithConfig(t, bc)
	}
	sc := client.New(cfg.SecretKey, &stripego.Backends{API: backend(stripego.APIBackend), Connect: backend(stripego.ConnectBackend), Uploads: backend(stripego.UploadsBackend)})
	return &Client{cfg: cfg, sc: sc, caller: caller}, nil
}

func classify(err error) *processes.ProviderError {
	var se *stripego.Error
	if errors.As(err, &se) {
		pe := &processes.ProviderError{Err: err, StatusCode: se.HTTPStatusCode, Code: string(se.Code)}
		if pe.Code == "" {
			pe.Code = string(se.Type)
		}
		if se.LastResponse != nil && se.LastResponse.Header != nil {
			pe.RetryAfter = call.ParseRetryAfter(se.LastResponse.Header.Get("Retry-After"), time.Now())
		}
		switch {
		case se.Type == stripego.ErrorTypeIdempotency:
			pe.Kind = processes.ErrConflict
		case se.Code == stripego.ErrorCodeResourceMissing:
			pe.Kind = processes.ErrNotFound
		case se.HTTPStatusCode == 0:
			pe.Kind = processes.ErrRetryable // no response: a network failure inside stripe-go
		default:
			pe.Kind = call.KindForStatus(se.HTTPStatusCode)
		}
		return pe
	}
	if c := call.Classify(err); c != nil {
		return c
	}
	return &processes.ProviderError{Kind: processes.ErrPermanent, Err: err}
}

// ErrMissingCommandID is returned (as a permanent error) for a POST without
// a command ID to derive its idempotency key from.
var ErrMissingCommandID = errors.New("stripe: command id required for the idempotency key")

// IdempotencyKey derives the key of operation op of a command.
func IdempotencyKey(op, commandID string) string { return "webhost:" + op + ":" + commandID }

func (c *Client) post(ctx context.Context, op, commandID string, params *stripego.Params, fn func() error) error {
	if commandID == "" {
		return &processes.ProviderError{Provider: "stripe", Op: op, Kind: processes.ErrPermanent, Err: ErrMissingCommandID}
	}
	params.SetIdempotencyKey(IdempotencyKey(op, commandID))
	return c.caller.Do(ctx, op, func(ctx context.Context) error {
		params.Context = ctx
		return fn()
	})
}

func (c *Client) get(ctx context.Context, op string, params *stripego.Params, fn func() error) error {
	return c.caller.Do(ctx, op, func(ctx context.Context) error {
		params.Context = ctx
		return fn()
	})
}

// EnsureCustomer implements processes.Billing. The idempotency key makes a
// retried command return the customer the first attempt created.
func (c *Client) EnsureCustomer(ctx context.Context, spec processes.CustomerSpec) (processes.BillingCustomer, error) {
	p := &stripego.CustomerParams{Email: stripego.String(spec.Email)}
	if spec.Name != "" {
		p.Name = stripego.String(spec.Name)
	}
	p.AddMetadata("webhost_customer_id", spec.CustomerID)
	var cus *stripego.Customer
	err := c.post(ctx, "create_customer", spec.CommandID, &p.Params, func() (err error) {
		cus, err = c.sc.Customers.New(p)
		return err
	})
	if err != nil {
		return processes.BillingCustomer{}, err
	}
	return processes.BillingCustomer{ID: cus.ID, Email: cus.Email, Deleted: cus.Deleted}, nil
}

// Customer implements processes.Billing.
func (c *Client) Customer(ctx context.Context, id string) (processes.BillingCustomer, error) {
	p := &stripego.CustomerParams{}
	var cus *stripego.Customer
	err := c.get(ctx, "get_customer", &p.Params, func() (err error) {
		cus, err = c.sc.Customers.Get(id, p)
		return err
	})
	if err != nil {
		return processes.BillingCustomer{}, err
	}
	return processes.BillingCustomer{ID: cus.ID, Email: cus.Email, Deleted: cus.Deleted}, nil
}

// DeleteCustomer implements processes.Billing; a missing customer is
// success.
func (c *Client) DeleteCustomer(ctx context.Context, commandID, id string) error {
	p := &stripego.CustomerParams{}
	err := c.post(ctx, "delete_customer", commandID, &p.Params, func() error {
		_, err := c.sc.Customers.Del(id, p)
		return err
	})
	if errors.Is(err, processes.ErrNotFound) {
		return nil
	}
	return err
}

// CreateCheckoutSession implements processes.Billing: subscription mode,
// one line item, a trial (14 days unless spec.TrialDays says otherwise).
func (c *Client) CreateCheckoutSession(ctx context.Context, spec processes.CheckoutSpec) (processes.CheckoutSession, error) {
	trial := spec.TrialDays
	if trial == 0 {
		trial = DefaultTrialDays
	}
	p := &stripego.CheckoutSessionParams{
		Mode:             stripego.String(string(stripego.CheckoutSessionModeSubscription)),
		Customer:         stripego.String(spec.BillingCustomerID),
		SuccessURL:       stripego.String(spec.SuccessURL),
		CancelURL:        stripego.String(spec.CancelURL),
		LineItems:        []*stripego.CheckoutSessionLineItemParams{{Price: stripego.String(spec.PriceID), Quantity: stripego.Int64(1)}},
		SubscriptionData: &stripego.CheckoutSessionSubscriptionDataParams{TrialPeriodDays: stripego.Int64(int64(trial))},
	}
	if spec.ClientReference != "" {
		p.ClientReferenceID = stripego.String(spec.ClientReference)
	}
	var s *stripego.CheckoutSession
	err := c.post(ctx, "create_checkout_session", spec.CommandID, &p.Params, func() (err error) {
		s, err = c.sc.CheckoutSessions.New(p)
		return err
	})
	if err != nil {
		return processes.CheckoutSession{}, err
	}
	return processes.CheckoutSession{ID: s.ID, URL: s.URL}, nil
}

func toSubscription(s *stripego.Subscription) processes.Subscription {
	out := processes.Subscription{ID: s.ID, Status: string(s.Status), CancelAtPeriodEnd: s.CancelAtPeriodEnd}
	if s.Customer != nil {
		out.CustomerID = s.Customer.ID
	}
	if s.CurrentPeriodEnd > 0 {
		out.CurrentPeriodEnd = time.Unix(s.CurrentPeriodEnd, 0).UTC()
	}
	if s.Items != nil && len(s.Items.Data) > 0 && s.Items.Data[0].Price != nil {
		out.PriceID = s.Items.Data[0].Price.ID
	}
	return out
}

// Subscription implements processes.Billing.
func (c *Client) Subscription(ctx context.Context, id string) (processes.Subscription, error) {
	s, err := c.getSubscription(ctx, id)
	if err != nil {
		return processes.Subscription{}, err
	}
	return toSubscription(s), nil
}

func (c *Client) getSubscription(ctx context.Context, id string) (*stripego.Subscription, error) {
	p := &stripego.SubscriptionParams{}
	var s *stripego.Subscription
	err := c.get(ctx, "get_subscription", &p.Params, func() (err error) {
		s, err = c.sc.Subscriptions.Get(id, p)
		return err
	})
	return s, err
}

// UpdateSubscriptionPrice implements processes.Billing: the subscription's
// first item moves to priceID, prorated.
func (c *Client) UpdateSubscriptionPrice(ctx context.Context, commandID, id, priceID string) (processes.Subscription, error) {
	cur, err := c.getSubscription(ctx, id)
	if err != nil {
		return processes.Subscription{}, err
	}
	if cur.Items == nil || len(cur.Items.Data) == 0 {
		return processes.Subscription{}, &processes.ProviderError{Provider: "stripe", Op: "update_subscription", Kind: processes.ErrPermanent,
			Err: fmt.Errorf("subscription %s has no items", id)}
	}
	p := &stripego.SubscriptionParams{
		Items:             []*stripego.SubscriptionItemsParams{{ID: stripego.String(cur.Items.Data[0].ID), Price: stripego.String(priceID)}},
		ProrationBehavior: stripego.String("create_prorations"),
	}
	var s *stripego.Subscription
	err = c.post(ctx, "update_subscription", commandID, &p.Params, func() (err error) {
		s, err = c.sc.Subscriptions.Update(id, p)
		return err
	})
	if err != nil {
		return processes.Subscription{}, err
	}
	return toSubscription(s), nil
}

// CancelSubscription implements processes.Billing; cancelling a canceled
// subscription returns it unchanged.
func (c *Client) CancelSubscription(ctx context.Context, commandID, id string) (processes.Subscription, error) {
	cur, err := c.getSubscription(ctx, id)
	if err != nil {
		return processes.Subscription{}, err
	}
	if cur.Status == stripego.SubscriptionStatusCanceled {
		return toSubscription(cur), nil
	}
	p := &stripego.SubscriptionCancelParams{}
	var s *stripego.Subscription
	err = c.post(ctx, "cancel_subscription", commandID, &p.Params, func() (err error) {
		s, err = c.sc.Subscriptions.Cancel(id, p)
		return err
	})
	if err != nil {
		return processes.Subscription{}, err
	}
	return toSubscription(s), nil
}

// String describes the configuration with the keys redacted.
func (c Config) String() string {
	return fmt.Sprintf("stripe.Config{SecretKey:%s WebhookSecret:%s APIURL:%s}", call.Redact(c.SecretKey), call.Redact(c.WebhookSecret), c.APIURL)
}

// LogValue implements slog.LogValuer with the keys redacted.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// String describes the verifier with the secret redacted.
func (v Verifier) String() string {
	return fmt.Sprintf("stripe.Verifier{Secret:%s AllowAPIVersionMismatch:%t}", call.Redact(v.Secret), v.AllowAPIVersionMismatch)
}
