package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/webhost-systems/webhost/commands"
	"github.com/webhost-systems/webhost/domain"
	"github.com/webhost-systems/webhost/eventstore"
	"github.com/webhost-systems/webhost/projections"
	"github.com/webhost-systems/webhost/secrets"
)

// Consistency is accepted by every read: wait until the read models have
// applied the log up to this position (returned by a write).
type Consistency struct {
	MinPosition      string `header:"X-Min-Position" doc:"Wait (within a bound) until the read models include this position, as returned by a write."`
	MinPositionQuery string `query:"min_position" doc:"Same as X-Min-Position."`
}

// Idempotency makes writes safe to resubmit.
type Idempotency struct {
	IdempotencyKey string `header:"Idempotency-Key" doc:"A UUID; resubmitting a write with the same key has no further effect."`
}

// Page selects a page of a list.
type Page struct {
	Cursor string `query:"cursor" doc:"Opaque cursor from next_cursor of the previous Page." maxLength:"200"`
	Limit  int    `query:"limit" minimum:"1" maximum:"500" default:"100" doc:"Page size."`
}

// WriteResult is the body of writes that return nothing else.
type WriteResult struct {
	Position string `json:"position" doc:"Log position of the write; send as X-Min-Position to read it back."`
}

type writeOutput struct {
	Body WriteResult
}

// SignUpRequest is the body of POST /v1/signup.
type SignUpRequest struct {
	Name    string `json:"name" minLength:"1" maxLength:"200"`
	Email   string `json:"email" format:"email" maxLength:"320"`
	Slug    string `json:"slug" minLength:"3" maxLength:"40" doc:"Lower-case DNS label of the customer's backend."`
	Company string `json:"company,omitempty" maxLength:"200"`
	Plan    string `json:"plan,omitempty" enum:"hobby,starter,professional,business" doc:"Start a 14-day trial on this plan."`
}

// SignUpResponse is the answer to a sign-up. APIKey is shown only once.
type SignUpResponse struct {
	CustomerID     string `json:"customer_id"`
	APIKeyID       string `json:"api_key_id"`
	APIKey         string `json:"api_key,omitempty" doc:"The first API key (all scopes). Shown only in this response."`
	SubscriptionID string `json:"subscription_id,omitempty"`
	Duplicate      bool   `json:"duplicate,omitempty" doc:"Set when the Idempotency-Key was already used; no key is shown again."`
	Position       string `json:"position"`
}

// Me is the authenticated customer.
type Me struct {
	CustomerID          string        `json:"customer_id"`
	Slug                string        `json:"slug"`
	Company             string        `json:"company"`
	Status              string        `json:"status"`
	Name                string        `json:"name"`
	Email               string        `json:"email"`
	PersonalDataErased  bool          `json:"personal_data_erased,omitempty"`
	SignedUpAt          time.Time     `json:"signed_up_at"`
	Subscription        *Subscription `json:"subscription"`
	ReadModelPosition   string        `json:"read_model_position" doc:"Position of the last event that changed this customer."`
	AuthenticatedKeyID  string        `json:"authenticated_key_id"`
	AuthenticatedScopes []string      `json:"authenticated_scopes"`
}

// Subscription is a customer's current subscription with its plan history.
type Subscription struct {
	ID          string       `json:"id"`
	Plan        string       `json:"plan"`
	Status      string       `json:"status"`
	PriceCents  int64        `json:"price_cents"`
	Currency    string       `json:"currency"`
	TrialEndsAt *time.Time   `json:"trial_ends_at,omitempty"`
	StartedAt   time.Time    `json:"started_at"`
	PlanHistory []PlanChange `json:"plan_history"`
}

// PlanChange is one entry of a plan history.
type PlanChange struct {
	FromPlan  *string   `json:"from_plan"`
	ToPlan    string    `json:"to_plan"`
	ChangedAt time.Time `json:"changed_at"`
	Position  string    `json:"position"`
}

// ProfileUpdate is the body of PATCH /v1/me; absent fields stay.
type ProfileUpdate struct {
	Name    *string `json:"name,omitempty" minLength:"1" maxLength:"200"`
	Email   *string `json:"email,omitempty" format:"email" maxLength:"320"`
	Company *string `json:"company,omitempty" maxLength:"200"`
}

// PlanRequest is the body of POST /v1/subscription/plan.
type PlanRequest struct {
	Plan string `json:"plan" enum:"hobby,starter,professional,business"`
}

// PlanResponse answers a plan change.
type PlanResponse struct {
	SubscriptionID string `json:"subscription_id"`
	Plan           string `json:"plan"`
	Started        bool   `json:"started" doc:"Set when no subscription existed and a trial was started."`
	Position       string `json:"position"`
}

// Deployment is a customer backend.
type Deployment struct {
	ID            string          `json:"id"`
	Plan          string          `json:"plan"`
	Provider      string          `json:"provider"`
	Regions       []string        `json:"regions"`
	ReadReplicas  int             `json:"read_replicas"`
	Status        string          `json:"status"`
	Health        string          `json:"health"`
	APIURL        *string         `json:"api_url"`
	SyncURL       *string         `json:"sync_url"`
	CurrentStep   *string         `json:"current_step"`
	LastError     *string         `json:"last_error"`
	RequestedAt   time.Time       `json:"requested_at"`
	ProvisionedAt *time.Time      `json:"provisioned_at,omitempty"`
	UpdatedAt     time.Time       `json:"updated_at"`
	Spec          json.RawMessage `json:"spec,omitempty"`
	Resources     []Resource      `json:"resources,omitempty"`
}

// Resource is a provider resource of a deployment.
type Resource struct {
	Step        string     `json:"step"`
	ResourceID  string     `json:"resource_id"`
	Provider    string     `json:"provider"`
	CreatedAt   time.Time  `json:"created_at"`
	CleanedUpAt *time.Time `json:"cleaned_up_at,omitempty"`
}

// APIKey describes a key; the key itself is never shown again.
type APIKey struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Prefix    string     `json:"prefix"`
	Scopes    []string   `json:"scopes"`
	IssuedAt  time.Time  `json:"issued_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// NewAPIKeyRequest is the body of POST /v1/api-keys.
type NewAPIKeyRequest struct {
	Name   string   `json:"name" minLength:"1" maxLength:"100"`
	Scopes []string `json:"scopes" minItems:"1" maxItems:"3" uniqueItems:"true" enum:"read,write,admin"`
}

// NewAPIKeyResponse shows the new key once.
type NewAPIKeyResponse struct {
	ID       string   `json:"id"`
	APIKey   string   `json:"api_key,omitempty"`
	Prefix   string   `json:"prefix,omitempty"`
	Scopes   []string `json:"scopes"`
	Position string   `json:"position"`
}

// Event is one entry of the audit feed.
type Event struct {
	Position      string          `json:"position"`
	ID            string          `json:"id"`
	Stream        string          `json:"stream"`
	StreamVersion int64           `json:"stream_version"`
	Type          string          `json:"type"`
	Tenant        string          `json:"tenant"`
	Actor         string          `json:"actor"`
	CorrelationID string          `json:"correlation_id"`
	CausationID   string          `json:"causation_id"`
	SchemaVersion int             `json:"schema_version"`
	RecordedAt    time.Time       `json:"recorded_at"`
	Data          json.RawMessage `json:"data"`
}

// EventPage is a Page of the audit feed.
type EventPage struct {
	Events     []Event `json:"events"`
	NextCursor string  `json:"next_cursor,omitempty" doc:"Pass as cursor for the next Page; absent on the last Page."`
}

// AdminCustomer is a customer as the operator sees it (no personal data).
type AdminCustomer struct {
	ID         string    `json:"id"`
	Slug       string    `json:"slug"`
	Company    string    `json:"company"`
	Status     string    `json:"status"`
	SignedUpAt time.Time `json:"signed_up_at"`
}

// CustomerPage is a Page of customers.
type CustomerPage struct {
	Customers  []AdminCustomer `json:"customers"`
	NextCursor string          `json:"next_cursor,omitempty"`
}

var (
	readScope  = map[string]any{metaScope: domain.ScopeRead}
	writeScope = map[string]any{metaScope: domain.ScopeWrite}
	adminScope = map[string]any{metaScope: domain.ScopeAdmin}
	operator   = map[string]any{metaScope: domain.ScopeAdmin, metaOperator: true}
	secured    = []map[string][]string{{"bearer": {}}}
)

func (a *API) op(id, method, path, summary, tag string, meta map[string]any, status int) huma.Operation {
	o := huma.Operation{OperationID: id, Method: method, Path: path, Summary: summary, Tags: []string{tag},
		Metadata: meta, MaxBodyBytes: a.cfg.MaxBodyBytes, DefaultStatus: status}
	errs := []int{http.StatusBadRequest, http.StatusUnprocessableEntity, http.StatusTooManyRequests}
	if meta != nil {
		o.Security = secured
		errs = append(errs, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound)
	}
	if method != http.MethodGet {
		errs = append(errs, http.StatusConflict)
	}
	o.Errors = errs
	return o
}

func (a *API) register() {
	api := a.huma
	huma.Register(api, a.op("signup", http.MethodPost, "/v1/signup", "Sign up a customer", "account", nil, http.StatusCreated), a.signUp)
	huma.Register(api, a.op("get-me", http.MethodGet, "/v1/me", "The authenticated customer", "account", readScope, 0), a.getMe)
	huma.Register(api, a.op("update-me", http.MethodPatch, "/v1/me", "Update the profile", "account", writeScope, 0), a.updateMe)
	huma.Register(api, a.op("change-plan", http.MethodPost, "/v1/subscription/plan", "Choose or change the plan", "subscription", writeScope, 0), a.changePlan)
	huma.Register(api, a.op("cancel-subscription", http.MethodDelete, "/v1/subscription", "Cancel the subscription", "subscription", writeScope, 0), a.cancelSubscription)
	huma.Register(api, a.op("list-deployments", http.MethodGet, "/v1/deployments", "List deployments", "deployments", readScope, 0), a.listDeployments)
	huma.Register(api, a.op("get-deployment", http.MethodGet, "/v1/deployments/{id}", "One deployment", "deployments", readScope, 0), a.getDeployment)
	huma.Register(api, a.op("deployment-history", http.MethodGet, "/v1/deployments/{id}/history", "A deployment's events", "deployments", readScope, 0), a.deploymentHistory)
	huma.Register(api, a.op("list-api-keys", http.MethodGet, "/v1/api-keys", "List API keys", "api-keys", readScope, 0), a.listKeys)
	huma.Register(api, a.op("create-api-key", http.MethodPost, "/v1/api-keys", "Issue an API key", "api-keys", adminScope, http.StatusCreated), a.createKey)
	huma.Register(api, a.op("revoke-api-key", http.MethodDelete, "/v1/api-keys/{id}", "Revoke an API key", "api-keys", adminScope, 0), a.revokeKey)
	huma.Register(api, a.op("list-events", http.MethodGet, "/v1/events", "Audit feed of the customer's events", "events", readScope, 0), a.listEvents)
	huma.Register(api, a.op("admin-list-events", http.MethodGet, "/v1/admin/events", "Audit feed of all tenants (operator)", "admin", operator, 0), a.adminEvents)
	huma.Register(api, a.op("admin-list-customers", http.MethodGet, "/v1/admin/customers", "All customers (operator)", "admin", operator, 0), a.adminCustomers)
	a.registerPoison(api)
}

// meta builds the command metadata of a request.
func (a *API) meta(ctx context.Context, idem Idempotency) (commands.Meta, error) {
	id := a.cfg.NewID()
	if idem.IdempotencyKey != "" {
		parsed, err := uuid.Parse(idem.IdempotencyKey)
		if err != nil {
			return commands.Meta{}, huma.Error400BadRequest("Idempotency-Key must be a UUID")
		}
		id = parsed
	}
	actor := "api:signup"
	if p := principal(ctx); p.KeyID != "" {
		actor = "apikey:" + p.KeyID
	}
	return commands.Meta{CommandID: id, Actor: actor}, nil
}

func customerUUID(ctx context.Context) (uuid.UUID, error) {
	id, err := uuid.Parse(principal(ctx).CustomerID)
	if err != nil {
		return uuid.Nil, fmt.Errorf("principal customer: %w", errNotFound)
	}
	return id, nil
}

// --- account ---

type signUpInput struct {
	Idempotency
	Body SignUpRequest
}

func (a *API) signUp(ctx context.Context, in *signUpInput) (*struct{ Body SignUpResponse }, error) {
	m, err := a.meta(ctx, in.Idempotency)
	if err != nil {
		return nil, err
	}
	res, err := a.cfg.Commands.SignUp.Handle(ctx, commands.SignUp{Meta: m, Name: in.Body.Name, Email: in.Body.Email,
		Slug: in.Body.Slug, Company: in.Body.Company})
	if err != nil {
		return nil, a.mapError(err)
	}
	out := SignUpResponse{CustomerID: res.CustomerID.String(), APIKeyID: res.APIKeyID.String(), APIKey: res.APIKey,
		Duplicate: res.Duplicate, Position: res.Position.String()}
	if in.Body.Plan != "" {
		subID := commands.DeriveID(m.CommandID, "subscription")
		sm := m
		sm.CommandID = commands.DeriveID(m.CommandID, "start-subscription")
		sr, err := a.cfg.Commands.StartSubscription.Handle(ctx, commands.StartSubscription{Meta: sm, CustomerID: res.CustomerID,
			SubscriptionID: subID, Plan: domain.PlanID(in.Body.Plan), Trial: true})
		if err != nil && !errors.Is(err, domain.ErrSubscriptionExists) {
			return nil, a.mapError(err)
		}
		out.SubscriptionID = subID.String()
		if sr.Position.Compare(res.Position) > 0 {
			out.Position = sr.Position.String()
		}
	}
	return &struct{ Body SignUpResponse }{out}, nil
}

type readInput struct {
	Consistency
}

func (a *API) getMe(ctx context.Context, _ *readInput) (*struct{ Body Me }, error) {
	p := principal(ctx)
	c, err := a.cfg.Reader.Customer(ctx, p.CustomerID)
	if err != nil {
		return nil, a.mapError(err)
	}
	me := Me{CustomerID: c.ID, Slug: c.Slug, Company: c.Company, Status: c.Status, SignedUpAt: c.SignedUpAt,
		ReadModelPosition: c.LastPosition, AuthenticatedKeyID: p.KeyID, AuthenticatedScopes: p.Scopes}
	for _, f := range []struct {
		id  string
		dst *string
	}{{c.NameSecretID, &me.Name}, {c.EmailSecretID, &me.Email}} {
		v, err := secrets.GetString(ctx, a.cfg.Secrets, f.id)
		switch {
		case err == nil:
			*f.dst = v
		case errors.Is(err, secrets.ErrErased), errors.Is(err, secrets.ErrNotFound):
			me.PersonalDataErased = true
		default:
			return nil, a.mapError(err)
		}
	}
	sub, err := a.subscription(ctx, p.CustomerID)
	if err != nil {
		return nil, err
	}
	me.Subscription = sub
	return &struct{ Body Me }{me}, nil
}

func (a *API) subscription(ctx context.Context, customerID string) (*Subscription, error) {
	s, err := a.cfg.Reader.CurrentSubscription(ctx, customerID)
	if errors.Is(err, projections.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, a.mapError(err)
	}
	hist, err := a.cfg.Reader.PlanHistory(ctx, customerID, s.ID)
	if err != nil {
		return nil, a.mapError(err)
	}
	out := &Subscription{ID: s.ID, Plan: s.Plan, Status: s.Status, PriceCents: s.PriceCents, Currency: s.Currency,
		TrialEndsAt: s.TrialEndsAt, StartedAt: s.StartedAt, PlanHistory: make([]PlanChange, 0, len(hist))}
	for _, h := range hist {
		out.PlanHistory = append(out.PlanHistory, PlanChange{FromPlan: h.FromPlan, ToPlan: h.ToPlan, ChangedAt: h.ChangedAt, Position: h.Position})
	}
	return out, nil
}

type updateMeInput struct {
	Idempotency
	Body ProfileUpdate
}

func (a *API) updateMe(ctx context.Context, in *updateMeInput) (*writeOutput, error) {
	m, err := a.meta(ctx, in.Idempotency)
	if err != nil {
		return nil, err
	}
	cid, err := customerUUID(ctx)
	if err != nil {
		return nil, a.mapError(err)
	}
	if in.Body.Name == nil && in.Body.Email == nil && in.Body.Company == nil {
		return nil, huma.Error422UnprocessableEntity("nothing to update: send name, email or company")
	}
	res, err := a.cfg.Commands.UpdateProfile.Handle(ctx, commands.UpdateProfile{Meta: m, CustomerID: cid,
		Name: in.Body.Name, Email: in.Body.Email, Company: in.Body.Company})
	if err != nil {
		return nil, a.mapError(err)
	}
	return &writeOutput{WriteResult{Position: res.Position.String()}}, nil
}

// --- subscription ---

type planInput struct {
	Idempotency
	Body PlanRequest
}

func (a *API) changePlan(ctx context.Context, in *planInput) (*struct{ Body PlanResponse }, error) {
	m, err := a.meta(ctx, in.Idempotency)
	if err != nil {
		return nil, err
	}
	cid, err := customerUUID(ctx)
	if err != nil {
		return nil, a.mapError(err)
	}
	plan := domain.PlanID(in.Body.Plan)
	cur, err := a.cfg.Reader.CurrentSubscription(ctx, cid.String())
	switch {
	case errors.Is(err, projections.ErrNotFound):
		subID := commands.DeriveID(m.CommandID, "subscription")
		res, err := a.cfg.Commands.StartSubscription.Handle(ctx, commands.StartSubscription{Meta: m, CustomerID: cid,
			SubscriptionID: subID, Plan: plan, Trial: true})
		if err != nil {
			return nil, a.mapError(err)
		}
		return &struct{ Body PlanResponse }{PlanResponse{SubscriptionID: subID.String(), Plan: in.Body.Plan, Started: true, Position: res.Position.String()}}, nil
	case err != nil:
		return nil, a.mapError(err)
	}
	subID, err := uuid.Parse(cur.ID)
	if err != nil {
		return nil, a.mapError(fmt.Errorf("subscription id %q: %w", cur.ID, errNotFound))
	}
	res, err := a.cfg.Commands.ChangePlan.Handle(ctx, commands.ChangePlan{Meta: m, CustomerID: cid, SubscriptionID: subID, Plan: plan})
	if err != nil {
		return nil, a.mapError(err)
	}
	return &struct{ Body PlanResponse }{PlanResponse{SubscriptionID: cur.ID, Plan: in.Body.Plan, Position: res.Position.String()}}, nil
}

type cancelInput struct {
	Idempotency
	Reason string `query:"reason" maxLength:"500" doc:"Why the subscription ends."`
}

func (a *API) cancelSubscription(ctx context.Context, in *cancelInput) (*writeOutput, error) {
	m, err := a.meta(ctx, in.Idempotency)
	if err != nil {
		return nil, err
	}
	cid, err := customerUUID(ctx)
	if err != nil {
		return nil, a.mapError(err)
	}
	cur, err := a.cfg.Reader.CurrentSubscription(ctx, cid.String())
	if err != nil {
		return nil, a.mapError(err)
	}
	subID, err := uuid.Parse(cur.ID)
	if err != nil {
		return nil, a.mapError(errNotFound)
	}
	res, err := a.cfg.Commands.CancelSubscription.Handle(ctx, commands.CancelSubscription{Meta: m, CustomerID: cid, SubscriptionID: subID, Reason: in.Reason})
	if err != nil {
		return nil, a.mapError(err)
	}
	return &writeOutput{WriteResult{Position: res.Position.String()}}, nil
}

// --- deployments ---

func deploymentOut(d projections.Deployment, detail bool) Deployment {
	out := Deployment{ID: d.ID, Plan: d.Plan, Provider: d.Provider, Regions: d.Regions, ReadReplicas: d.ReadReplicas,
		Status: d.Status, Health: d.Health, APIURL: d.APIURL, SyncURL: d.SyncURL, CurrentStep: d.CurrentStep,
		LastError: d.LastError, RequestedAt: d.RequestedAt, ProvisionedAt: d.ProvisionedAt, UpdatedAt: d.UpdatedAt}
	if detail {
		out.Spec = d.Spec
		out.Resources = make([]Resource, 0, len(d.Resources))
		for _, r := range d.Resources {
			out.Resources = append(out.Resources, Resource{Step: r.Step, ResourceID: r.ResourceID, Provider: r.Provider,
				CreatedAt: r.CreatedAt, CleanedUpAt: r.CleanedUpAt})
		}
	}
	return out
}

func (a *API) listDeployments(ctx context.Context, _ *readInput) (*struct {
	Body struct {
		Deployments []Deployment `json:"deployments"`
	}
}, error) {
	ds, err := a.cfg.Reader.Deployments(ctx, principal(ctx).CustomerID)
	if err != nil {
		return nil, a.mapError(err)
	}
	out := &struct {
		Body struct {
			Deployments []Deployment `json:"deployments"`
		}
	}{}
	out.Body.Deployments = make([]Deployment, 0, len(ds))
	for _, d := range ds {
		out.Body.Deployments = append(out.Body.Deployments, deploymentOut(d, false))
	}
	return out, nil
}

type deploymentInput struct {
	Consistency
	ID string `path:"id" maxLength:"100" doc:"Deployment ID."`
}

func (a *API) getDeployment(ctx context.Context, in *deploymentInput) (*struct{ Body Deployment }, error) {
	d, err := a.cfg.Reader.Deployment(ctx, principal(ctx).CustomerID, in.ID)
	if err != nil {
		return nil, a.mapError(err)
	}
	return &struct{ Body Deployment }{deploymentOut(d, true)}, nil
}

type historyInput struct {
	Consistency
	Page
	ID string `path:"id" maxLength:"100" doc:"Deployment ID."`
}

func (a *API) deploymentHistory(ctx context.Context, in *historyInput) (*struct{ Body EventPage }, error) {
	tenant := principal(ctx).CustomerID
	if _, err := a.cfg.Reader.Deployment(ctx, tenant, in.ID); err != nil {
		return nil, a.mapError(err)
	}
	return a.events(ctx, projections.EventQuery{Tenant: tenant, Stream: "deployment-" + in.ID}, in.Page)
}

// --- API keys ---

func keyOut(k projections.APIKey) APIKey {
	return APIKey{ID: k.ID, Name: k.Name, Prefix: k.Prefix, Scopes: k.Scopes, IssuedAt: k.IssuedAt, RevokedAt: k.RevokedAt}
}

func (a *API) listKeys(ctx context.Context, _ *readInput) (*struct {
	Body struct {
		APIKeys []APIKey `json:"api_keys"`
	}
}, error) {
	ks, err := a.cfg.Reader.APIKeys(ctx, principal(ctx).CustomerID)
	if err != nil {
		return nil, a.mapError(err)
	}
	out := &struct {
		Body struct {
			APIKeys []APIKey `json:"api_keys"`
		}
	}{}
	out.Body.APIKeys = make([]APIKey, 0, len(ks))
	for _, k := range ks {
		out.Body.APIKeys = append(out.Body.APIKeys, keyOut(k))
	}
	return out, nil
}

type createKeyInput struct {
	Idempotency
	Body NewAPIKeyRequest
}

func (a *API) createKey(ctx context.Context, in *createKeyInput) (*struct{ Body NewAPIKeyResponse }, error) {
	m, err := a.meta(ctx, in.Idempotency)
	if err != nil {
		return nil, err
	}
	cid, err := customerUUID(ctx)
	if err != nil {
		return nil, a.mapError(err)
	}
	p := principal(ctx)
	for _, s := range in.Body.Scopes {
		if !slices.Contains(p.Scopes, s) {
			return nil, huma.Error403Forbidden(fmt.Sprintf("a key cannot grant the %q scope it does not hold", s))
		}
	}
	res, err := a.cfg.Commands.IssueAPIKey.Handle(ctx, commands.IssueAPIKey{Meta: m, CustomerID: cid, Name: in.Body.Name, Scopes: in.Body.Scopes})
	if err != nil {
		return nil, a.mapError(err)
	}
	return &struct{ Body NewAPIKeyResponse }{NewAPIKeyResponse{ID: res.KeyID.String(), APIKey: res.APIKey, Prefix: res.Prefix,
		Scopes: in.Body.Scopes, Position: res.Position.String()}}, nil
}

type revokeKeyInput struct {
	Idempotency
	ID string `path:"id" maxLength:"100" doc:"API key ID."`
}

func (a *API) revokeKey(ctx context.Context, in *revokeKeyInput) (*writeOutput, error) {
	m, err := a.meta(ctx, in.Idempotency)
	if err != nil {
		return nil, err
	}
	cid, err := customerUUID(ctx)
	if err != nil {
		return nil, a.mapError(err)
	}
	keyID, err := uuid.Parse(in.ID)
	if err != nil {
		return nil, a.mapError(errNotFound)
	}
	res, err := a.cfg.Commands.RevokeAPIKey.Handle(ctx, commands.RevokeAPIKey{Meta: m, CustomerID: cid, KeyID: keyID, Reason: "revoked through the API"})
	if err != nil {
		return nil, a.mapError(err)
	}
	return &writeOutput{WriteResult{Position: res.Position.String()}}, nil
}

// --- events ---

type eventsInput struct {
	Consistency
	Page
}

func (a *API) listEvents(ctx context.Context, in *eventsInput) (*struct{ Body EventPage }, error) {
	return a.events(ctx, projections.EventQuery{Tenant: principal(ctx).CustomerID}, in.Page)
}

type adminEventsInput struct {
	Consistency
	Page
	Tenant string `query:"tenant" maxLength:"100" doc:"Only this customer's events."`
}

func (a *API) adminEvents(ctx context.Context, in *adminEventsInput) (*struct{ Body EventPage }, error) {
	return a.events(ctx, projections.EventQuery{Tenant: in.Tenant, AllTenants: in.Tenant == ""}, in.Page)
}

func (a *API) events(ctx context.Context, q projections.EventQuery, pg Page) (*struct{ Body EventPage }, error) {
	after, err := DecodeCursor(pg.Cursor, cursorEvents)
	if err != nil {
		return nil, a.mapError(err)
	}
	if pg.Limit < 1 {
		pg.Limit = 100
	}
	q.After = after
	q.Limit = pg.Limit + 1
	evs, err := a.cfg.Reader.Events(ctx, q)
	if err != nil {
		return nil, a.mapError(err)
	}
	evs, next := nextPage(evs, pg.Limit, cursorEvents, func(e projections.LogEvent) string { return e.Position })
	out := EventPage{Events: make([]Event, 0, len(evs)), NextCursor: next}
	for _, e := range evs {
		out.Events = append(out.Events, Event{Position: e.Position, ID: e.EventID, Stream: e.Stream, StreamVersion: e.StreamVersion,
			Type: e.Type, Tenant: e.Tenant, Actor: e.Actor, CorrelationID: e.CorrelationID, CausationID: e.CausationID,
			SchemaVersion: e.SchemaVersion, RecordedAt: e.RecordedAt, Data: e.Data})
	}
	return &struct{ Body EventPage }{out}, nil
}

type adminCustomersInput struct {
	Consistency
	Page
}

func (a *API) adminCustomers(ctx context.Context, in *adminCustomersInput) (*struct{ Body CustomerPage }, error) {
	after, err := DecodeCursor(in.Cursor, cursorCustomers)
	if err != nil {
		return nil, a.mapError(err)
	}
	if in.Limit < 1 {
		in.Limit = 100
	}
	cs, err := a.cfg.Reader.Customers(ctx, after, in.Limit+1)
	if err != nil {
		return nil, a.mapError(err)
	}
	cs, next := nextPage(cs, in.Limit, cursorCustomers, func(c projections.Customer) string { return c.ID })
	out := CustomerPage{Customers: make([]AdminCustomer, 0, len(cs)), NextCursor: next}
	for _, c := range cs {
		out.Customers = append(out.Customers, AdminCustomer{ID: c.ID, Slug: c.Slug, Company: c.Company, Status: c.Status, SignedUpAt: c.SignedUpAt})
	}
	return &struct{ Body CustomerPage }{out}, nil
}

// Cursor kinds.
const (
	cursorEvents    = "e"
	cursorCustomers = "c"
)

// nextPage trims rows, fetched with limit+1, to limit and returns the cursor
// of kind that continues after the last row kept ("" on the last page).
func nextPage[T any](rows []T, limit int, kind string, key func(T) string) ([]T, string) {
	if len(rows) <= limit {
		return rows, ""
	}
	return rows[:limit], EncodeCursor(kind, key(rows[limit-1]))
}

// EncodeCursor makes an opaque pagination cursor of kind for value.
func EncodeCursor(kind, value string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("v1:" + kind + ":" + value))
}

// DecodeCursor returns the value of a cursor of kind made by EncodeCursor;
// "" decodes to "" (the first Page). Anything else returns an error
// matching errInvalidCursor (HTTP 400).
func DecodeCursor(cursor, kind string) (string, error) {
	if cursor == "" {
		return "", nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return "", fmt.Errorf("%w: not base64url", errInvalidCursor)
	}
	value, ok := strings.CutPrefix(string(raw), "v1:"+kind+":")
	if !ok || value == "" {
		return "", fmt.Errorf("%w: not a cursor of this list", errInvalidCursor)
	}
	switch kind {
	case cursorEvents:
		if _, err := eventstore.ParsePosition(value); err != nil {
			return "", fmt.Errorf("%w: bad position", errInvalidCursor)
		}
	case cursorCustomers:
		if _, err := uuid.Parse(value); err != nil {
			return "", fmt.Errorf("%w: bad customer ID", errInvalidCursor)
		}
	}
	return value, nil
}
