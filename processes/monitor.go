package processes

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/google/uuid"

	"github.com/webhost-systems/webhost/commands"
	"github.com/webhost-systems/webhost/domain"
	"github.com/webhost-systems/webhost/eventstore"
)

// deploymentIndex folds every deployment stream incrementally from the
// event log, so periodic jobs know all deployments without a read model.
type deploymentIndex struct {
	store eventstore.Store
	mu    sync.Mutex
	after eventstore.Position
	deps  map[string]domain.Deployment
}

func (ix *deploymentIndex) refresh(ctx context.Context) (map[string]domain.Deployment, error) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.deps == nil {
		ix.deps = map[string]domain.Deployment{}
	}
	for {
		recs, err := ix.store.ReadAll(ctx, eventstore.ReadAllOptions{After: ix.after, Limit: 1000,
			Filter: eventstore.Filter{StreamPrefixes: []string{"deployment-"}}})
		if err != nil {
			return nil, fmt.Errorf("read deployments: %w", err)
		}
		for _, r := range recs {
			e, _, err := domain.DecodeEvent(r.Type, r.Data, r.Metadata)
			if err == nil {
				id := strings.TrimPrefix(r.Stream, "deployment-")
				ix.deps[id] = domain.EvolveDeployment(ix.deps[id], e)
			}
			ix.after = r.Position
		}
		if len(recs) < 1000 {
			break
		}
	}
	out := make(map[string]domain.Deployment, len(ix.deps))
	for k, v := range ix.deps {
		out[k] = v
	}
	return out, nil
}

// Monitor checks the health of every provisioned deployment through its
// provider and records DeploymentHealthChanged only when the health
// changes, alerting through the log and the optional webhook.
type Monitor struct {
	cfg Config
	pms *managers
	ix  deploymentIndex
}

// HealthCheck is the outcome of one deployment's check.
type HealthCheck struct {
	DeploymentID string
	Health       domain.DeploymentHealth
	Detail       string
	Changed      bool
}

// CheckOnce checks every provisioned deployment once. Provider errors
// other than a missing resource leave a deployment's health as it was.
func (mo *Monitor) CheckOnce(ctx context.Context) error {
	_, err := mo.Check(ctx)
	return err
}

// Check is CheckOnce returning each deployment's result.
func (mo *Monitor) Check(ctx context.Context) ([]HealthCheck, error) {
	if mo.ix.store == nil {
		mo.ix.store = mo.cfg.Store
	}
	deps, err := mo.ix.refresh(ctx)
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(deps))
	for k := range deps {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	al := alerter{url: mo.cfg.AlertWebhookURL, client: mo.cfg.HTTPClient, logger: mo.cfg.Logger}
	var out []HealthCheck
	for _, id := range keys {
		switch deps[id].Status() {
		case domain.DeploymentStatusFailed, domain.DeploymentStatusDecommissioned:
			continue
		}
		// The index can trail the streams (the log's visibility horizon):
		// read the deployment itself.
		d, err := mo.pms.loadDeployment(ctx, id)
		if err != nil {
			return out, err
		}
		if d.Status() != domain.DeploymentStatusProvisioned {
			continue
		}
		health, detail, ok := mo.health(ctx, d)
		if !ok {
			continue
		}
		hc := HealthCheck{DeploymentID: id, Health: health, Detail: detail}
		if health != d.Health() {
			customerID, depID, err := ids(d)
			if err != nil {
				return out, err
			}
			cmdID, err := uuid.NewRandomFromReader(mo.cfg.Rand)
			if err != nil {
				return out, fmt.Errorf("monitor: command id: %w", err)
			}
			res, err := mo.cfg.Commands.RecordHealth.Handle(ctx, commands.RecordHealth{
				Meta:       commands.Meta{CommandID: cmdID, CorrelationID: "monitor", Actor: "process:Monitor"},
				CustomerID: customerID, DeploymentID: depID, Health: health, Detail: detail})
			if err := commandErr("record health", err, domain.ErrDeploymentDecommissioned, domain.ErrDeploymentFailed); err != nil {
				return out, err
			}
			if res.Appended > 0 {
				hc.Changed = true
				if err := al.alert(ctx, HealthAlert{DeploymentID: id, CustomerID: d.CustomerID(), From: d.Health(), To: health,
					Detail: detail, At: mo.cfg.Now().UTC()}); err != nil {
					mo.cfg.Logger.Error("health alert", "deployment_id", id, "err", err)
				}
			}
		}
		out = append(out, hc)
	}
	return out, nil
}

// health maps the provider's view to a deployment health: every part
// passing is healthy, some failing degraded, all failing (or gone)
// unhealthy. ok is false when the provider could not be asked.
func (mo *Monitor) health(ctx context.Context, d domain.Deployment) (domain.DeploymentHealth, string, bool) {
	p := mo.cfg.Providers
	name := ResourceName(d.ID())
	log := mo.cfg.Logger.With("deployment_id", d.ID())
	switch d.Spec().Provider {
	case domain.ProviderHetzner:
		if p.Servers == nil {
			return "", "", false
		}
		srv, err := p.Servers.ServerStatus(ctx, name)
		if errors.Is(err, ErrNotFound) {
			return domain.HealthUnhealthy, "server " + name + " not found", true
		}
		if err != nil {
			log.Warn("health check failed", "err", err)
			return "", "", false
		}
		if srv.Status != StatusRunning || srv.Health == HealthCritical {
			return domain.HealthUnhealthy, fmt.Sprintf("server %s is %s", name, srv.Status), true
		}
		return domain.HealthHealthy, "", true
	case domain.ProviderFly:
		if p.Apps == nil {
			return "", "", false
		}
		app, err := p.Apps.AppStatus(ctx, name)
		if errors.Is(err, ErrNotFound) {
			return domain.HealthUnhealthy, "app " + name + " not found", true
		}
		if err != nil {
			log.Warn("health check failed", "err", err)
			return "", "", false
		}
		var bad []string
		for _, mc := range app.Machines {
			if mc.Health == HealthCritical || mc.Status != StatusRunning {
				bad = append(bad, mc.ID+"@"+mc.Region)
			}
		}
		switch {
		case len(app.Machines) == 0:
			return domain.HealthUnhealthy, "no machines", true
		case len(bad) == len(app.Machines):
			return domain.HealthUnhealthy, "all machines failing: " + strings.Join(bad, ", "), true
		case len(bad) > 0:
			return domain.HealthDegraded, "failing machines: " + strings.Join(bad, ", "), true
		}
		return domain.HealthHealthy, "", true
	}
	return "", "", false
}

// Orphan is a provider resource labelled by WebHost that no live deployment
// owns.
type Orphan struct {
	Provider     string            `json:"provider"`
	Kind         string            `json:"kind"`
	Name         string            `json:"name"`
	ID           string            `json:"id"`
	DeploymentID string            `json:"deployment_id,omitempty"`
	Reason       string            `json:"reason"`
	Labels       map[string]string `json:"labels,omitempty"`
}

// Sweeper reports orphaned resources. It never deletes anything: an
// operator decides.
type Sweeper struct {
	cfg Config
	pms *managers
	ix  deploymentIndex
}

// Sweep lists the resources labelled webhost/managed=true and reports
// those whose deployment is unknown or already cleaned up. Only providers
// that can list by label are swept (Hetzner servers).
func (s *Sweeper) Sweep(ctx context.Context) ([]Orphan, error) {
	if s.ix.store == nil {
		s.ix.store = s.cfg.Store
	}
	if s.cfg.Providers.Servers == nil {
		return nil, nil
	}
	servers, err := s.cfg.Providers.Servers.ListServers(ctx, map[string]string{LabelManaged: "true"})
	if err != nil {
		return nil, fmt.Errorf("sweep: list servers: %w", err)
	}
	// Refresh after listing, so a deployment requested meanwhile is known.
	deps, err := s.ix.refresh(ctx)
	if err != nil {
		return nil, err
	}
	var out []Orphan
	for _, srv := range servers {
		depID := srv.Labels[LabelDeployment]
		d, known := deps[depID]
		if !known {
			// The index can trail the streams: ask the stream itself.
			if _, err := uuid.Parse(depID); err == nil {
				fresh, err := s.pms.loadDeployment(ctx, depID)
				if err != nil {
					return out, err
				}
				d, known = fresh, fresh.Status() != domain.DeploymentStatusNone
			}
		}
		reason := ""
		switch {
		case !known:
			reason = "no deployment " + depID
		case d.CleanedUp():
			reason = "deployment " + depID + " was cleaned up"
		case srv.Name != ResourceName(depID):
			reason = "name does not match deployment " + depID
		}
		if reason == "" {
			continue
		}
		o := Orphan{Provider: "hetzner", Kind: "server", Name: srv.Name, ID: srv.ID, DeploymentID: depID, Reason: reason, Labels: srv.Labels}
		s.cfg.Logger.Warn("orphaned resource (not deleted)", "provider", o.Provider, "kind", o.Kind, "name", o.Name, "id", o.ID, "reason", reason)
		out = append(out, o)
	}
	return out, nil
}
