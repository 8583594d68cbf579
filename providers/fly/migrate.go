package fly

import (
	"context"
	"fmt"
	"regexp"

	fly "github.com/superfly/fly-go"

	"github.com/webhost-systems/webhost/processes"
)

var migrationIDRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// migrationScript dumps the source database and restores it into the
// target. The URLs (secrets) arrive on stdin, never in the command line; a
// marker file on the machine's volume makes a repeated run a no-op.
func migrationScript(id string) string {
	return fmt.Sprintf(`sh -c "set -eu
# webhost-migration-%[1]s
marker=/data/.webhost-migration-%[1]s
if [ -f \$marker ]; then echo already migrated; exit 0; fi
read -r SRC; read -r DST
pg_dump --format=custom --no-owner --no-acl --dbname=\$SRC | pg_restore --clean --if-exists --no-owner --no-acl --exit-on-error --dbname=\$DST
touch \$marker"`, id)
}

// MigrateData implements processes.DataMigrator: it runs pg_dump |
// pg_restore on a started machine of m.RunnerApp (the Fly side of a
// cross-cloud plan change) through the Machines API exec endpoint.
func (c *Client) MigrateData(ctx context.Context, m processes.DataMigration) error {
	if !migrationIDRE.MatchString(m.ID) || m.RunnerApp == "" || m.SourceURL == "" || m.TargetURL == "" {
		return invalid("migrate_data", "migration id %q, runner app %q and both URLs are required", m.ID, m.RunnerApp)
	}
	return c.caller.DoWithTimeout(ctx, "migrate_data", c.cfg.WaitTimeout, func(ctx context.Context) error {
		fc, err := c.flaps(ctx, m.RunnerApp)
		if err != nil {
			return err
		}
		machines, err := fc.List(ctx, "")
		if err != nil {
			return err
		}
		var runner *fly.Machine
		for _, mm := range machines {
			if mm.State == "started" {
				runner = mm
				break
			}
		}
		if runner == nil {
			return &processes.ProviderError{Kind: processes.ErrRetryable, Err: fmt.Errorf("no started machine in %s to run the migration", m.RunnerApp)}
		}
		res, err := fc.Exec(ctx, runner.ID, &fly.MachineExecRequest{Cmd: migrationScript(m.ID), Stdin: m.SourceURL + "\n" + m.TargetURL + "\n", Timeout: int(c.cfg.WaitTimeout.Seconds())})
		if err != nil {
			return err
		}
		if res.ExitCode != 0 {
			// stderr may quote a connection string: report only its size.
			return &processes.ProviderError{Kind: processes.ErrPermanent, Code: fmt.Sprintf("exit_%d", res.ExitCode),
				Err: fmt.Errorf("migration %s on %s exited %d (%d bytes of stderr withheld)", m.ID, runner.ID, res.ExitCode, len(res.StdErr))}
		}
		c.cfg.Logger.Info("data migration done", "migration", m.ID, "app", m.RunnerApp, "machine", runner.ID)
		return nil
	})
}
