package processes

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"

	"github.com/google/uuid"

	"github.com/webhost-systems/webhost/commands"
	"github.com/webhost-systems/webhost/domain"
	"github.com/webhost-systems/webhost/secrets"
)

// Labels every WebHost resource carries. The orphan sweeper finds
// resources by LabelManaged; adoption checks LabelDeployment.
const (
	LabelManaged    = "webhost/managed"
	LabelDeployment = "webhost/deployment"
	LabelCustomer   = "webhost/customer"
)

// Secret kinds the process managers store.
const (
	SecretKindPostgresPasswords = "postgres_passwords"
	SecretKindDatabaseURL       = "database_url"
	SecretKindRedisURL          = "redis_url"
)

// ErrProviderMissing is returned (permanently) for a step whose provider is
// not configured.
var ErrProviderMissing = errors.New("processes: provider not configured")

// ResourceName is the deterministic name of a deployment's server (Hetzner)
// or application (Fly.io): a retry or a resumed run finds what an earlier
// attempt created under it.
func ResourceName(deploymentID string) string { return "wh-" + deploymentID }

// DatabaseName is the deterministic name of a deployment's PostgreSQL
// cluster (Fly.io).
func DatabaseName(deploymentID string) string { return ResourceName(deploymentID) + "-db" }

// RedisName is the deterministic name of a deployment's Redis (Upstash).
func RedisName(deploymentID string) string { return ResourceName(deploymentID) + "-redis" }

// DNSName is a deployment's own DNS record name under the base domain: the
// customer's slug, or for the target of a migration the slug and the first
// eight characters of its ID (the slug itself still points at the old
// deployment until the switch).
func DNSName(d domain.Deployment) string {
	if d.Replaces() == "" {
		return d.Slug()
	}
	id := d.ID()
	if len(id) > 8 {
		id = id[:8]
	}
	return d.Slug() + "-" + id
}

func (m *managers) hostName(d domain.Deployment) string { return DNSName(d) + "." + m.cfg.BaseDomain }

// Labels returns the labels of a deployment's resources.
func Labels(d domain.Deployment) map[string]string {
	return map[string]string{LabelManaged: "true", LabelDeployment: d.ID(), LabelCustomer: d.CustomerID()}
}

func dnsType(p domain.Provider) string {
	if p == domain.ProviderHetzner {
		return "A"
	}
	return "CNAME"
}

func secretID(deploymentID, kind string) string {
	id, err := uuid.Parse(deploymentID)
	if err != nil {
		return "deployment:" + deploymentID + ":" + kind
	}
	return commands.DeriveID(id, "secret", kind).String()
}

// runStep makes one step's provider call and returns its result event.
func (m *managers) runStep(ctx context.Context, d domain.Deployment, step domain.Step) (domain.StepResult, error) {
	p := m.cfg.Providers
	spec := d.Spec()
	name := ResourceName(d.ID())
	switch step {
	case domain.StepServer:
		if p.Servers == nil {
			return nil, permanent(fmt.Errorf("%w: servers (Hetzner)", ErrProviderMissing))
		}
		srv, err := p.Servers.EnsureServer(ctx, ServerSpec{Name: name, ServerType: spec.ServerType, Location: spec.Location,
			Labels: Labels(d), SyncServerImage: m.cfg.SyncServerImage})
		if err != nil {
			return nil, err
		}
		return domain.ServerCreated{ServerID: srv.ID, Name: srv.Name, ServerType: spec.ServerType, Location: spec.Location,
			IPv4: srv.IPv4, IPv6: srv.IPv6}, nil
	case domain.StepApp:
		if p.Apps == nil {
			return nil, permanent(fmt.Errorf("%w: apps (Fly.io)", ErrProviderMissing))
		}
		app, err := p.Apps.EnsureApp(ctx, AppSpec{Name: name, Org: m.cfg.FlyOrg, Labels: Labels(d)})
		if err != nil {
			return nil, err
		}
		return domain.AppCreated{AppName: app.Name, Hostname: app.Hostname}, nil
	case domain.StepDatabase:
		cluster, err := m.ensurePostgres(ctx, d)
		if err != nil {
			return nil, err
		}
		return domain.DatabaseCreated{ClusterName: cluster.Name, Host: cluster.Host, Port: cluster.Port, Region: spec.Regions[0],
			ReadReplicas: spec.Database.ReadReplicas, URLSecretID: secretID(d.ID(), SecretKindDatabaseURL)}, nil
	case domain.StepRedis:
		if p.Redis == nil {
			return nil, permanent(fmt.Errorf("%w: redis (Upstash)", ErrProviderMissing))
		}
		r, err := p.Redis.EnsureRedis(ctx, m.redisSpec(d))
		if err != nil {
			return nil, err
		}
		if err := m.putSecret(ctx, d, SecretKindRedisURL, r.URL); err != nil {
			return nil, err
		}
		return domain.RedisCreated{RedisID: r.ID, Name: r.Name, Tier: spec.Redis.Tier, URLSecretID: secretID(d.ID(), SecretKindRedisURL)}, nil
	case domain.StepMachines:
		if p.Apps == nil {
			return nil, permanent(fmt.Errorf("%w: apps (Fly.io)", ErrProviderMissing))
		}
		dbURL, err := m.getSecret(ctx, secretID(d.ID(), SecretKindDatabaseURL))
		if err != nil {
			return nil, err
		}
		redisURL, err := m.getSecret(ctx, secretID(d.ID(), SecretKindRedisURL))
		if err != nil {
			return nil, err
		}
		if _, err := p.Apps.EnsureApp(ctx, AppSpec{Name: name, Org: m.cfg.FlyOrg, Labels: Labels(d),
			Secrets: map[string]string{"WEBHOST_DATABASE_URL": dbURL, "WEBHOST_REDIS_URL": redisURL}}); err != nil {
			return nil, err
		}
		app, err := p.Apps.Deploy(ctx, m.deploySpec(d))
		if err != nil {
			return nil, err
		}
		ev := domain.MachinesLaunched{AppName: name}
		for _, mc := range app.Machines {
			ev.Machines = append(ev.Machines, domain.LaunchedMachine{MachineID: mc.ID, Region: mc.Region})
		}
		return ev, nil
	case domain.StepDNS:
		if p.DNS == nil {
			return nil, permanent(fmt.Errorf("%w: DNS (Cloudflare)", ErrProviderMissing))
		}
		typ, content, err := m.dnsContent(ctx, d)
		if err != nil {
			return nil, err
		}
		rec, err := p.DNS.UpsertRecord(ctx, DNSRecord{Name: DNSName(d), Type: typ, Content: content, TTL: 1})
		if err != nil {
			return nil, err
		}
		return domain.DNSRecordCreated{RecordID: rec.ID, Name: DNSName(d), Type: typ, Content: content}, nil
	}
	return nil, permanent(fmt.Errorf("unknown step %q", step))
}

// dnsContent is what a deployment's records point at: its server's IPv4
// address (A) or its application's host name (CNAME).
func (m *managers) dnsContent(ctx context.Context, d domain.Deployment) (typ, content string, err error) {
	p := m.cfg.Providers
	name := ResourceName(d.ID())
	if d.Spec().Provider == domain.ProviderHetzner {
		if p.Servers == nil {
			return "", "", permanent(fmt.Errorf("%w: servers (Hetzner)", ErrProviderMissing))
		}
		srv, err := p.Servers.ServerStatus(ctx, name)
		if err != nil {
			return "", "", err
		}
		if srv.IPv4 == "" {
			return "", "", &ProviderError{Provider: "hetzner", Op: "server_status", Kind: ErrRetryable, Err: errors.New("server has no IPv4 address yet")}
		}
		return "A", srv.IPv4, nil
	}
	if p.Apps == nil {
		return "", "", permanent(fmt.Errorf("%w: apps (Fly.io)", ErrProviderMissing))
	}
	app, err := p.Apps.AppStatus(ctx, name)
	if err != nil {
		return "", "", err
	}
	host := app.Hostname
	if host == "" {
		host = name + ".fly.dev"
	}
	return "CNAME", host, nil
}

func (m *managers) ensurePostgres(ctx context.Context, d domain.Deployment) (PostgresCluster, error) {
	p := m.cfg.Providers
	if p.Postgres == nil {
		return PostgresCluster{}, permanent(fmt.Errorf("%w: postgres (Fly.io)", ErrProviderMissing))
	}
	// Record intent before the create: the passwords are generated once
	// and kept (Put keeps the first value), so a retry that adopts the
	// cluster uses the passwords it was created with.
	pw, err := m.postgresPasswords(ctx, d)
	if err != nil {
		return PostgresCluster{}, err
	}
	spec := d.Spec()
	cluster, err := p.Postgres.EnsurePostgres(ctx, PostgresSpec{Name: DatabaseName(d.ID()), Org: m.cfg.FlyOrg, Region: spec.Regions[0],
		Replicas: spec.Database.ReadReplicas, VolumeSizeGB: spec.Database.SizeGB, Labels: Labels(d),
		SuperuserPassword: pw.Superuser, ReplicationPassword: pw.Replication, OperatorPassword: pw.Operator})
	if err != nil {
		return cluster, err
	}
	port := cluster.Port
	if port == 0 {
		port = 5432
	}
	u := url.URL{Scheme: "postgres", User: url.UserPassword("postgres", pw.Superuser), Host: cluster.Host + ":" + strconv.Itoa(port), Path: "/postgres"}
	if err := m.putSecret(ctx, d, SecretKindDatabaseURL, u.String()); err != nil {
		return cluster, err
	}
	return cluster, nil
}

type postgresPasswords struct {
	Superuser   string `json:"superuser"`
	Replication string `json:"replication"`
	Operator    string `json:"operator"`
}

func (m *managers) postgresPasswords(ctx context.Context, d domain.Deployment) (postgresPasswords, error) {
	var pw postgresPasswords
	for _, p := range []*string{&pw.Superuser, &pw.Replication, &pw.Operator} {
		s, err := m.password()
		if err != nil {
			return pw, err
		}
		*p = s
	}
	raw, err := json.Marshal(pw)
	if err != nil {
		return pw, err
	}
	if err := m.putSecret(ctx, d, SecretKindPostgresPasswords, string(raw)); err != nil {
		return pw, err
	}
	stored, err := m.getSecret(ctx, secretID(d.ID(), SecretKindPostgresPasswords))
	if err != nil {
		return pw, err
	}
	if err := json.Unmarshal([]byte(stored), &pw); err != nil {
		return pw, permanent(fmt.Errorf("stored postgres passwords of %s: %w", d.ID(), err))
	}
	return pw, nil
}

func (m *managers) password() (string, error) {
	var b [24]byte
	if _, err := io.ReadFull(m.cfg.Rand, b[:]); err != nil {
		return "", fmt.Errorf("generate password: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

func (m *managers) putSecret(ctx context.Context, d domain.Deployment, kind, value string) error {
	err := m.cfg.Secrets.Put(ctx, secrets.Secret{ID: secretID(d.ID(), kind), Owner: d.CustomerID(), Kind: kind, Plaintext: []byte(value)})
	if err != nil {
		err = fmt.Errorf("store %s of %s: %w", kind, d.ID(), err)
		if errors.Is(err, secrets.ErrConflict) || errors.Is(err, secrets.ErrErased) || errors.Is(err, secrets.ErrInvalid) {
			return permanent(err)
		}
	}
	return err
}

func (m *managers) getSecret(ctx context.Context, id string) (string, error) {
	s, err := m.cfg.Secrets.Get(ctx, id)
	if err != nil {
		err = fmt.Errorf("read secret %s: %w", id, err)
		if errors.Is(err, secrets.ErrNotFound) || errors.Is(err, secrets.ErrErased) {
			return "", permanent(err)
		}
		return "", err
	}
	return string(s.Plaintext), nil
}

func (m *managers) redisSpec(d domain.Deployment) RedisSpec {
	spec := d.Spec()
	var read []string
	if len(spec.Regions) > 1 {
		read = spec.Regions[1:]
	}
	return RedisSpec{Name: RedisName(d.ID()), OrgID: m.cfg.FlyOrgID, PrimaryRegion: spec.Regions[0], ReadRegions: read, PlanID: spec.Redis.Tier}
}

func (m *managers) deploySpec(d domain.Deployment) DeploySpec {
	spec := d.Spec()
	return DeploySpec{App: ResourceName(d.ID()), Image: m.cfg.SyncServerImage, Regions: spec.Regions, MachinesPerRegion: 1,
		Labels: Labels(d), InternalPort: 4000,
		Env: map[string]string{"WEBHOST_DEPLOYMENT_ID": d.ID(), "WEBHOST_PUBLIC_HOST": m.hostName(d)}}
}

// deleteStep deletes the resource of one step; a missing resource is
// success. The returned reference names what was deleted.
func (m *managers) deleteStep(ctx context.Context, d domain.Deployment, step domain.Step, recorded map[domain.Step]string) (domain.ResourceRef, error) {
	p := m.cfg.Providers
	name := ResourceName(d.ID())
	ref := domain.ResourceRef{Step: step, ID: recorded[step]}
	var err error
	switch step {
	case domain.StepServer:
		if ref.ID == "" {
			ref.ID = name
		}
		if p.Servers == nil {
			return ref, permanent(fmt.Errorf("%w: servers (Hetzner)", ErrProviderMissing))
		}
		err = p.Servers.DeleteServer(ctx, name)
	case domain.StepApp, domain.StepMachines:
		if ref.ID == "" {
			ref.ID = name
		}
		if p.Apps == nil {
			return ref, permanent(fmt.Errorf("%w: apps (Fly.io)", ErrProviderMissing))
		}
		err = p.Apps.DeleteApp(ctx, name)
	case domain.StepDatabase:
		if ref.ID == "" {
			ref.ID = DatabaseName(d.ID())
		}
		if p.Postgres == nil {
			return ref, permanent(fmt.Errorf("%w: postgres (Fly.io)", ErrProviderMissing))
		}
		err = p.Postgres.DeletePostgres(ctx, DatabaseName(d.ID()))
	case domain.StepRedis:
		if ref.ID == "" {
			ref.ID = RedisName(d.ID())
		}
		if p.Redis == nil {
			return ref, permanent(fmt.Errorf("%w: redis (Upstash)", ErrProviderMissing))
		}
		err = p.Redis.DeleteRedis(ctx, RedisName(d.ID()))
	case domain.StepDNS:
		if ref.ID == "" {
			ref.ID = DNSName(d)
		}
		if p.DNS == nil {
			return ref, permanent(fmt.Errorf("%w: DNS (Cloudflare)", ErrProviderMissing))
		}
		err = m.deleteOwnRecord(ctx, d, recorded[step])
	default:
		return ref, permanent(fmt.Errorf("unknown step %q", step))
	}
	if err != nil && !errors.Is(err, ErrNotFound) {
		return ref, stepCallErr("delete "+string(step)+" of "+d.ID(), err)
	}
	return ref, nil
}

// deleteOwnRecord deletes the deployment's DNS record, but only while it is
// still this deployment's: after a migration the slug's record may have
// been switched to (recreated for) the replacement, which must keep it.
func (m *managers) deleteOwnRecord(ctx context.Context, d domain.Deployment, recordedID string) error {
	dns := m.cfg.Providers.DNS
	name, typ := DNSName(d), dnsType(d.Spec().Provider)
	rec, err := dns.Record(ctx, name, typ)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	switch {
	case recordedID != "":
		if rec.ID != recordedID {
			return nil
		}
	case name == d.Slug():
		// Not recorded (the DNS step failed): delete it if it points at
		// this deployment, or if this deployment's target is gone.
		if _, content, err := m.dnsContent(ctx, d); err == nil && content != rec.Content {
			return nil
		}
	}
	return dns.DeleteRecord(ctx, name, typ)
}
