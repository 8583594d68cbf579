package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
)

// runSync is replaced by the sync server (issue: sync server).
func runSync(context.Context, []string, io.Writer, *slog.Logger) error {
	return errors.New("sync: the sync server is not part of this build yet")
}
