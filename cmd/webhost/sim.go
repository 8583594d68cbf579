package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
)

// runSim is replaced by the provider simulators (issue: providers).
func runSim(context.Context, []string, io.Writer, *slog.Logger) error {
	return errors.New("sim: the provider simulators are not part of this build yet")
}
