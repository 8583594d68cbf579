// Package httpapi is WebHost's REST API (Huma v2 on net/http): sign-up,
// profile, subscription, deployments, API keys and the audit feed, with
// Bearer API-key authentication and scopes, per-key rate limiting,
// problem+json errors (RFC 9457) mapped from typed errors in one table,
// and read-your-writes through X-Min-Position. It reads from the read
// models (package projections) and writes only through package commands.
// The OpenAPI document is served at /openapi.json, the docs UI at /docs.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/google/uuid"

	"github.com/webhost-systems/webhost/commands"
	"github.com/webhost-systems/webhost/eventstore"
	"github.com/webhost-systems/webhost/projections"
	"github.com/webhost-systems/webhost/secrets"
	"github.com/webhost-systems/webhost/sync/syncauth"
)

// OperatorSignUpCommandID is the command ID of the platform operator's
// sign-up (`webhost admin create-key`). The operator's customer ID derives
// from it, so every process knows it without configuration.
var OperatorSignUpCommandID = uuid.MustParse("5c0f1d7e-8a4b-4c1e-9a57-2f6f3c1d0a01")

// OperatorCustomerID is the platform operator's customer ID. Its keys with
// the admin scope may call the /v1/admin endpoints.
var OperatorCustomerID = commands.DeriveID(OperatorSignUpCommandID, "customer")

// Reader is what the API reads; *projections.Queries implements it.
type Reader interface {
	WaitFor(ctx context.Context, pos eventstore.Position) error
	Customer(ctx context.Context, customerID string) (projections.Customer, error)
	Customers(ctx context.Context, afterID string, limit int) ([]projections.Customer, error)
	CurrentSubscription(ctx context.Context, customerID string) (projections.Subscription, error)
	PlanHistory(ctx context.Context, customerID, subscriptionID string) ([]projections.PlanChange, error)
	Deployments(ctx context.Context, customerID string) ([]projections.Deployment, error)
	Deployment(ctx context.Context, customerID, deploymentID string) (projections.Deployment, error)
	APIKeys(ctx context.Context, customerID string) ([]projections.APIKey, error)
	APIKey(ctx context.Context, customerID, keyID string) (projections.APIKey, error)
	Events(ctx context.Context, q projections.EventQuery) ([]projections.LogEvent, error)
}

var _ Reader = (*projections.Queries)(nil)

// Config configures the API.
type Config struct {
	// Mux receives the routes. Required.
	Mux *http.ServeMux
	// Commands writes. Required.
	Commands *commands.Handlers
	// Reader reads the read models. Required.
	Reader Reader
	// Auth resolves API keys (projections.KeyAuthenticator). Required.
	Auth syncauth.Authenticator
	// Secrets resolves the personal data that events refer to. Required.
	Secrets secrets.Reader
	// Poison lists the process managers' poison queue for
	// GET /v1/admin/poison; nil answers 503.
	Poison PoisonLister
	// Version is shown in the OpenAPI document.
	Version string
	// RateLimit is the sustained requests per second per API key (and per
	// client address for unauthenticated calls); default 20.
	RateLimit float64
	// RateBurst is the bucket size (default 40).
	RateBurst int
	// MaxBodyBytes caps request bodies (default 64 KiB).
	MaxBodyBytes int64
	// NewID makes command IDs when the client sends no Idempotency-Key
	// (default uuid.New).
	NewID func() uuid.UUID
	// Now is the clock of the rate limiter (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.RateLimit == 0 {
		c.RateLimit = 20
	}
	if c.RateBurst == 0 {
		c.RateBurst = 40
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 64 << 10
	}
	if c.NewID == nil {
		c.NewID = uuid.New
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Version == "" {
		c.Version = "dev"
	}
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	switch {
	case c.Mux == nil, c.Commands == nil, c.Reader == nil, c.Auth == nil, c.Secrets == nil:
		return errors.New("httpapi: Config needs Mux, Commands, Reader, Auth and Secrets")
	case c.RateLimit < 0 || c.RateBurst < 1:
		return errors.New("httpapi: RateLimit must not be negative and RateBurst must be at least 1")
	case c.MaxBodyBytes < 1:
		return errors.New("httpapi: MaxBodyBytes must be positive")
	}
	return nil
}

// API is the mounted REST API.
type API struct {
	cfg     Config
	huma    huma.API
	limiter *limiter
}

// New validates cfg and mounts the API on cfg.Mux.
func New(cfg Config) (*API, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	hc := huma.DefaultConfig("WebHost API", cfg.Version)
	hc.Info.Description = "Managed backends for offline-first apps. Authenticate with `Authorization: Bearer whs_live_...`. " +
		"Write responses carry `position`; send it back as `X-Min-Position` to read your own writes."
	hc.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", Description: "WebHost API key (whs_live_...)"},
	}
	a := &API{cfg: cfg, limiter: newLimiter(cfg.RateLimit, cfg.RateBurst, cfg.Now)}
	a.huma = humago.New(cfg.Mux, hc)
	a.huma.UseMiddleware(a.middleware)
	a.register()
	return a, nil
}

// OpenAPI returns the OpenAPI document.
func (a *API) OpenAPI() *huma.OpenAPI { return a.huma.OpenAPI() }

type principalKey struct{}

// principal returns the authenticated caller.
func principal(ctx context.Context) syncauth.Principal {
	p, _ := ctx.Value(principalKey{}).(syncauth.Principal)
	return p
}

// Operation metadata keys.
const (
	metaScope    = "webhost-scope"    // scope required: read, write, admin
	metaOperator = "webhost-operator" // operator only
)

// middleware authenticates, enforces scopes and the rate limit, and waits
// for X-Min-Position, before the handler runs. The wait comes after
// authentication and the rate limit, so that nobody can hold requests open
// for free; only a key that is not known yet (issued by a write the caller
// has just made) is looked up again after the wait.
func (a *API) middleware(ctx huma.Context, next func(huma.Context)) {
	op := ctx.Operation()
	minPos, err := a.minPosition(ctx)
	if err != nil {
		a.writeError(ctx, err)
		return
	}
	if op == nil || len(op.Security) == 0 {
		if !a.limiter.allow("addr:" + clientAddr(ctx.RemoteAddr())) {
			a.tooMany(ctx)
			return
		}
		if err := a.cfg.Reader.WaitFor(ctx.Context(), minPos); err != nil {
			a.writeError(ctx, err)
			return
		}
		next(ctx)
		return
	}
	token, ok := bearer(ctx.Header("Authorization"))
	if !ok {
		ctx.SetHeader("WWW-Authenticate", `Bearer realm="webhost"`)
		a.writeErr(ctx, http.StatusUnauthorized, "missing or malformed Authorization: Bearer <API key>")
		return
	}
	waited := false
	p, err := a.cfg.Auth.Authenticate(ctx.Context(), token)
	if errors.Is(err, syncauth.ErrUnauthenticated) && !minPos.IsStart() {
		if !a.limiter.allow("addr:" + clientAddr(ctx.RemoteAddr())) {
			a.tooMany(ctx)
			return
		}
		if err := a.cfg.Reader.WaitFor(ctx.Context(), minPos); err != nil {
			a.writeError(ctx, err)
			return
		}
		waited = true
		p, err = a.cfg.Auth.Authenticate(ctx.Context(), token)
	}
	if err != nil {
		if errors.Is(err, syncauth.ErrUnauthenticated) {
			ctx.SetHeader("WWW-Authenticate", `Bearer realm="webhost", error="invalid_token"`)
		}
		a.writeError(ctx, err)
		return
	}
	if !a.limiter.allow("key:" + p.KeyID) {
		a.tooMany(ctx)
		return
	}
	scope, _ := op.Metadata[metaScope].(string)
	if scope != "" && !slices.Contains(p.Scopes, scope) {
		a.writeErr(ctx, http.StatusForbidden, fmt.Sprintf("this API key lacks the %q scope", scope))
		return
	}
	if op.Metadata[metaOperator] == true && p.CustomerID != OperatorCustomerID.String() {
		// Customers do not learn that admin routes exist.
		a.writeErr(ctx, http.StatusNotFound, "not found")
		return
	}
	if !waited {
		if err := a.cfg.Reader.WaitFor(ctx.Context(), minPos); err != nil {
			a.writeError(ctx, err)
			return
		}
	}
	next(huma.WithValue(ctx, principalKey{}, p))
}

// minPosition reads X-Min-Position (or ?min_position=); Start when absent.
func (a *API) minPosition(ctx huma.Context) (eventstore.Position, error) {
	raw := ctx.Header("X-Min-Position")
	if raw == "" {
		raw = ctx.Query("min_position")
	}
	if raw == "" {
		return eventstore.Start, nil
	}
	p, err := eventstore.ParsePosition(raw)
	if err != nil {
		return p, fmt.Errorf("X-Min-Position / min_position is not a position returned by this API: %w", err)
	}
	return p, nil
}

func (a *API) tooMany(ctx huma.Context) {
	ctx.SetHeader("Retry-After", strconv.Itoa(a.limiter.retryAfterSeconds()))
	a.writeErr(ctx, http.StatusTooManyRequests, "rate limit exceeded; retry after the Retry-After delay")
}

func (a *API) writeErr(ctx huma.Context, status int, msg string) {
	_ = huma.WriteErr(a.huma, ctx, status, msg)
}

func (a *API) writeError(ctx huma.Context, err error) {
	var se huma.StatusError
	if errors.As(a.mapError(err), &se) {
		a.writeErr(ctx, se.GetStatus(), se.Error())
		return
	}
	a.writeErr(ctx, http.StatusInternalServerError, "internal error")
}

func bearer(h string) (string, bool) {
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

func clientAddr(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return remote
	}
	return host
}
