package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/webhost-systems/webhost/projections"
)

// errVerifyFailed makes `webhost projections verify` exit non-zero.
var errVerifyFailed = errors.New("projections verify: live read models differ from a replay")

// runProjections is `webhost projections rebuild [name]` and
// `webhost projections verify`.
func runProjections(ctx context.Context, args []string, stdout io.Writer, logger *slog.Logger) error {
	fs := flag.NewFlagSet("projections", flag.ContinueOnError)
	dsn := fs.String("database-url", envOr("WEBHOST_DATABASE_URL", defaultDatabaseURL), "PostgreSQL URL (WEBHOST_DATABASE_URL)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) == 0 || (rest[0] != "rebuild" && rest[0] != "verify") || (rest[0] == "verify" && len(rest) > 1) || len(rest) > 2 {
		return errors.New("usage: webhost projections [--database-url URL] rebuild [name] | verify")
	}
	p, err := openPlatform(ctx, *dsn, envOr("WEBHOST_SECRET_KEY", ""), 0, logger)
	if err != nil {
		return err
	}
	defer p.close()
	return projectionsCommand(ctx, p.manager, rest, stdout)
}

func projectionsCommand(ctx context.Context, mgr *projections.Manager, args []string, stdout io.Writer) error {
	switch args[0] {
	case "rebuild":
		names := []string{}
		if len(args) == 2 {
			names = append(names, args[1])
		} else {
			for _, p := range mgr.Projections() {
				names = append(names, p.Name)
			}
		}
		for _, n := range names {
			if err := mgr.Rebuild(ctx, n); err != nil {
				return fmt.Errorf("rebuild %s: %w", n, err)
			}
			fmt.Fprintf(stdout, "rebuilt %s\n", n)
		}
		return nil
	default:
		diffs, err := mgr.Verify(ctx)
		if err != nil {
			return err
		}
		for _, d := range diffs {
			fmt.Fprintf(stdout, "DIFF projection=%s table=%s only_live=%d only_replay=%d %s\n", d.Projection, d.Table, d.OnlyLive, d.OnlyReplay, d.Detail)
		}
		if len(diffs) > 0 {
			return errVerifyFailed
		}
		fmt.Fprintln(stdout, "verify: live read models equal a full replay")
		return nil
	}
}
