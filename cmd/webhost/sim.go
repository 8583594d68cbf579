package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/webhost-systems/webhost/providers/sim"
)

// runSim is `webhost sim`: the Hetzner, Fly.io and Cloudflare simulators on
// one local port, with the control API under /_sim/. It prints the base
// URLs as JSON on one line (and as WEBHOST_SIM_* lines for shells) and
// serves until ctx ends.
func runSim(ctx context.Context, args []string, stdout io.Writer, logger *slog.Logger) error {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	addr := fs.String("addr", envOr("WEBHOST_SIM_ADDR", "127.0.0.1:4010"), "listen address (WEBHOST_SIM_ADDR)")
	actionDelay := fs.Duration("action-delay", 2*time.Second, "how long Hetzner actions stay running")
	startDelay := fs.Duration("machine-start-delay", time.Second, "how long Fly machines take to start")
	if err := fs.Parse(args); err != nil {
		return err
	}
	s, err := sim.New(sim.Config{ActionDelay: *actionDelay, MachineStartDelay: *startDelay, Logger: logger})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("sim: listen %s: %w", *addr, err)
	}
	urls := sim.URLsFor("http://" + ln.Addr().String())
	line, _ := json.Marshal(urls)
	fmt.Fprintln(stdout, string(line))
	fmt.Fprintf(stdout, "WEBHOST_SIM_HETZNER_URL=%s\nWEBHOST_SIM_FLY_URL=%s\nWEBHOST_SIM_CLOUDFLARE_URL=%s\nWEBHOST_SIM_CONTROL_URL=%s/_sim\n",
		urls.Hetzner, urls.Fly, urls.Cloudflare, urls.Root)
	logger.Info("provider simulators listening", "hetzner", urls.Hetzner, "fly", urls.Fly, "cloudflare", urls.Cloudflare, "control", urls.Root+"/_sim/state")
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(shutdown)
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	}
}
