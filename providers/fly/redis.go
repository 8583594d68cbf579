package fly

import (
	"context"
	"fmt"

	genq "github.com/Khan/genqlient/graphql"

	"github.com/webhost-systems/webhost/processes"
)

type (
	genqRequest  = genq.Request
	genqResponse = genq.Response
)

type addOn struct {
	ID            string   `json:"id"`
	Name          string   `json:"name"`
	Status        string   `json:"status"`
	PrimaryRegion string   `json:"primaryRegion"`
	ReadRegions   []string `json:"readRegions"`
	PublicURL     string   `json:"publicUrl"`
}

const (
	createAddOnMutation = `mutation CreateAddOn($input: CreateAddOnInput!) {
  createAddOn(input: $input) { addOn { id name status primaryRegion readRegions publicUrl } }
}`
	getAddOnQuery = `query GetAddOn($name: String) {
  addOn(name: $name) { id name status primaryRegion readRegions publicUrl }
}`
	deleteAddOnMutation = `mutation DeleteAddOn($input: DeleteAddOnInput!) {
  deleteAddOn(input: $input) { deletedAddOnName }
}`
)

func (c *Client) gqlDo(ctx context.Context, op, query string, vars map[string]any, out any) error {
	return c.gql.GenqClient().MakeRequest(ctx, &genq.Request{Query: query, Variables: vars, OpName: op}, &genq.Response{Data: out})
}

func (c *Client) getAddOn(ctx context.Context, name string) (*addOn, error) {
	var out struct {
		AddOn *addOn `json:"addOn"`
	}
	if err := c.gqlDo(ctx, "GetAddOn", getAddOnQuery, map[string]any{"name": name}, &out); err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	return out.AddOn, nil
}

func toRedis(a *addOn) processes.Redis {
	st := processes.StatusPending
	switch a.Status {
	case "ready", "created", "":
		st = processes.StatusRunning
	case "error", "failed":
		st = processes.StatusFailed
	}
	return processes.Redis{ID: a.ID, Name: a.Name, Status: st, URL: a.PublicURL}
}

// EnsureRedis implements processes.RedisProvisioner with an Upstash Redis
// add-on (GraphQL createAddOn, type upstash_redis, sent through
// GenqClient().MakeRequest). An add-on with the name is adopted.
func (c *Client) EnsureRedis(ctx context.Context, spec processes.RedisSpec) (processes.Redis, error) {
	if !appNameRE.MatchString(spec.Name) || spec.OrgID == "" || spec.PrimaryRegion == "" {
		return processes.Redis{}, invalid("ensure_redis", "name %q, org id %q, region %q", spec.Name, spec.OrgID, spec.PrimaryRegion)
	}
	var got *addOn
	err := c.caller.Do(ctx, "ensure_redis", func(ctx context.Context) error {
		var err error
		if got, err = c.getAddOn(ctx, spec.Name); err != nil || got != nil {
			return err
		}
		input := map[string]any{"organizationId": spec.OrgID, "name": spec.Name, "primaryRegion": spec.PrimaryRegion,
			"readRegions": append([]string{}, spec.ReadRegions...), "type": "upstash_redis"}
		if spec.PlanID != "" {
			input["planId"] = spec.PlanID
		}
		var out struct {
			CreateAddOn struct {
				AddOn addOn `json:"addOn"`
			} `json:"createAddOn"`
		}
		err = c.gqlDo(ctx, "CreateAddOn", createAddOnMutation, map[string]any{"input": input}, &out)
		if err != nil && classify(err).Kind == processes.ErrConflict {
			// Name taken: an earlier attempt of ours, adopt it.
			if got, err = c.getAddOn(ctx, spec.Name); err != nil || got != nil {
				return err
			}
			return &processes.ProviderError{Kind: processes.ErrRetryable, Err: fmt.Errorf("redis %q reported taken but not found", spec.Name)}
		}
		if err != nil {
			return err
		}
		got = &out.CreateAddOn.AddOn
		c.cfg.Logger.Info("upstash redis created", "name", spec.Name, "region", spec.PrimaryRegion)
		return nil
	})
	if err != nil {
		return processes.Redis{}, err
	}
	return toRedis(got), nil
}

// RedisStatus implements processes.RedisProvisioner.
func (c *Client) RedisStatus(ctx context.Context, name string) (processes.Redis, error) {
	var got *addOn
	err := c.caller.Do(ctx, "redis_status", func(ctx context.Context) error {
		var err error
		got, err = c.getAddOn(ctx, name)
		return err
	})
	if err != nil {
		return processes.Redis{}, err
	}
	if got == nil {
		return processes.Redis{}, &processes.ProviderError{Provider: "fly", Op: "redis_status", Kind: processes.ErrNotFound, Err: fmt.Errorf("redis %q not found", name)}
	}
	return toRedis(got), nil
}

// DeleteRedis implements processes.RedisProvisioner; missing is success.
func (c *Client) DeleteRedis(ctx context.Context, name string) error {
	return c.caller.Do(ctx, "delete_redis", func(ctx context.Context) error {
		var out struct {
			DeleteAddOn struct {
				DeletedAddOnName string `json:"deletedAddOnName"`
			} `json:"deleteAddOn"`
		}
		err := c.gqlDo(ctx, "DeleteAddOn", deleteAddOnMutation, map[string]any{"input": map[string]any{"name": name}}, &out)
		if err != nil && isNotFound(err) {
			return nil
		}
		return err
	})
}
