package fly

import (
	"context"
	"fmt"
	"maps"

	fly "github.com/superfly/fly-go"

	"github.com/webhost-systems/webhost/processes"
)

// EnsurePostgres implements processes.PostgresProvisioner. Like flyctl's
// postgres launcher it builds a postgres-flex cluster from plain machines:
// an app whose secrets carry the superuser, replication and operator
// passwords and a Consul URL (GraphQL enablePostgresConsul) for leader
// election, then 1+Replicas machines in one region, each with its own
// pg_data volume mounted at /data, private services 5432 (primary via
// proxy) and 5433 (direct), and the pg, role and vm checks.
func (c *Client) EnsurePostgres(ctx context.Context, spec processes.PostgresSpec) (processes.PostgresCluster, error) {
	if !appNameRE.MatchString(spec.Name) || spec.Org == "" || spec.Region == "" {
		return processes.PostgresCluster{}, invalid("ensure_postgres", "name %q, org %q, region %q", spec.Name, spec.Org, spec.Region)
	}
	if spec.SuperuserPassword == "" || spec.ReplicationPassword == "" || spec.OperatorPassword == "" {
		return processes.PostgresCluster{}, invalid("ensure_postgres", "the three passwords are required")
	}
	if err := c.ensureApp(ctx, spec.Name, spec.Org); err != nil {
		return processes.PostgresCluster{}, err
	}
	consulURL, err := c.enableConsul(ctx, spec.Name)
	if err != nil {
		return processes.PostgresCluster{}, err
	}
	if err := c.setSecrets(ctx, spec.Name, map[string]string{
		"SU_PASSWORD":       spec.SuperuserPassword,
		"REPL_PASSWORD":     spec.ReplicationPassword,
		"OPERATOR_PASSWORD": spec.OperatorPassword,
		"FLY_CONSUL_URL":    consulURL,
	}); err != nil {
		return processes.PostgresCluster{}, err
	}
	image := spec.Image
	if image == "" {
		image = c.cfg.PostgresImage
	}
	size := spec.VolumeSizeGB
	if size == 0 {
		size = 10
	}
	meta := maps.Clone(spec.Labels)
	if meta == nil {
		meta = map[string]string{}
	}
	meta["fly-managed-postgres"] = "true"
	meta["managed-by-fly-deploy"] = "false"
	meta["fly_platform_version"] = "v2"
	p5432, p5433 := 5432, 5433
	cfg := fly.MachineConfig{
		Image:    image,
		Env:      map[string]string{"PRIMARY_REGION": spec.Region},
		Metadata: meta,
		Guest:    &fly.MachineGuest{CPUKind: "shared", CPUs: 1, MemoryMB: 1024},
		Restart:  &fly.MachineRestart{Policy: fly.MachineRestartPolicyAlways},
		Services: []fly.MachineService{
			{Protocol: "tcp", InternalPort: 5432, Ports: []fly.MachinePort{{Port: &p5432, Handlers: []string{"pg_tls"}}}},
			{Protocol: "tcp", InternalPort: 5433, Ports: []fly.MachinePort{{Port: &p5433, Handlers: []string{"pg_tls"}}}},
		},
		Checks: map[string]fly.MachineCheck{
			"pg":   pgCheck("/flycheck/pg"),
			"role": pgCheck("/flycheck/role"),
			"vm":   pgCheck("/flycheck/vm"),
		},
	}
	var plans []machinePlan
	for i := range 1 + max(spec.Replicas, 0) {
		plans = append(plans, machinePlan{name: fmt.Sprintf("%s-%d", spec.Name, i), region: spec.Region, config: cfg,
			volumeName: fmt.Sprintf("pg_data_%d", i), volumeGB: size, mountPath: "/data"})
	}
	if _, err := c.ensureMachines(ctx, spec.Name, plans, nil); err != nil {
		return processes.PostgresCluster{}, err
	}
	return c.PostgresStatus(ctx, spec.Name)
}

func pgCheck(path string) fly.MachineCheck {
	port := 5500
	typ, method := "http", "get"
	interval, timeout := fly.MustParseDuration("15s"), fly.MustParseDuration("10s")
	return fly.MachineCheck{Port: &port, Type: &typ, HTTPMethod: &method, HTTPPath: &path, Interval: interval, Timeout: timeout}
}

type enableConsulResponse struct {
	EnablePostgresConsul struct {
		ConsulURL string `json:"consulUrl"`
	} `json:"enablePostgresConsul"`
}

const enableConsulMutation = `mutation EnablePostgresConsul($input: EnablePostgresConsulInput!) {
  enablePostgresConsul(input: $input) { consulUrl }
}`

func (c *Client) enableConsul(ctx context.Context, app string) (string, error) {
	var out enableConsulResponse
	err := c.caller.Do(ctx, "enable_postgres_consul", func(ctx context.Context) error {
		return c.gql.GenqClient().MakeRequest(ctx,
			&genqRequest{Query: enableConsulMutation, Variables: map[string]any{"input": map[string]any{"appId": app}}, OpName: "EnablePostgresConsul"},
			&genqResponse{Data: &out})
	})
	return out.EnablePostgresConsul.ConsulURL, err
}

// PostgresStatus implements processes.PostgresProvisioner.
func (c *Client) PostgresStatus(ctx context.Context, name string) (processes.PostgresCluster, error) {
	app, err := c.AppStatus(ctx, name)
	if err != nil {
		return processes.PostgresCluster{}, err
	}
	return processes.PostgresCluster{Name: app.Name, Status: app.Status, Host: app.Name + ".flycast", Port: 5432, Machines: app.Machines}, nil
}

// DeletePostgres implements processes.PostgresProvisioner.
func (c *Client) DeletePostgres(ctx context.Context, name string) error {
	return c.DeleteApp(ctx, name)
}
