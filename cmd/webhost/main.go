// Command webhost is the WebHost platform in one binary. Subcommands:
//
//	serve        the control plane: REST API, dashboard, projections, processes
//	migrate      apply database migrations (idempotent)
//	sync         the per-customer sync server (Yjs and row sync)
//	sim          local simulators of the Hetzner, Fly.io and Cloudflare APIs
//	version      print the version
//
// Configuration is read here only, from flags and WEBHOST_* environment
// variables; see the README's configuration table.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// command is one subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout io.Writer, logger *slog.Logger) error
}

func commands() map[string]command {
	return map[string]command{
		"serve":       {"run the control plane (API, projections, processes)", runServe},
		"migrate":     {"apply database migrations", runMigrate},
		"sync":        {"run the sync server (Yjs over WebSocket, row sync)", runSync},
		"sim":         {"run the cloud provider simulators", runSim},
		"version":     {"print the version", runVersion},
		"projections": {"rebuild [name] | verify the read models", runProjections},
		"admin":       {"create-key: print a new operator API key", runAdmin},
		"processes":   {"poison | redrive: inspect and redrive the process managers' poison queue", runProcesses},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "webhost:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr, cmds)
		return flag.ErrHelp
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		usage(stderr, cmds)
		return fmt.Errorf("unknown command %q", args[0])
	}
	logger, err := newLogger(stderr, envOr("WEBHOST_LOG_LEVEL", "info"), envOr("WEBHOST_LOG_FORMAT", "text"))
	if err != nil {
		return err
	}
	return cmd.run(ctx, args[1:], stdout, logger)
}

func usage(w io.Writer, cmds map[string]command) {
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(w, "usage: webhost <command> [flags]")
	fmt.Fprintln(w, "commands:")
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, cmds[n].summary)
	}
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("WEBHOST_LOG_LEVEL: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch strings.ToLower(format) {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("WEBHOST_LOG_FORMAT: want text or json, got %q", format)
}

// envOr returns the environment variable key, or def when it is unset.
func envOr(key, def string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return def
}

func runVersion(_ context.Context, _ []string, stdout io.Writer, _ *slog.Logger) error {
	_, err := fmt.Fprintln(stdout, "webhost", version)
	return err
}
