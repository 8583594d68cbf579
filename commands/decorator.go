package commands

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/webhost-systems/webhost/domain"
)

// Handler is any command handler of this package: SignUpHandler,
// ChangePlanHandler and so on.
type Handler[C any, R any] interface {
	Handle(ctx context.Context, cmd C) (R, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc[C any, R any] func(ctx context.Context, cmd C) (R, error)

// Handle calls f.
func (f HandlerFunc[C, R]) Handle(ctx context.Context, cmd C) (R, error) { return f(ctx, cmd) }

// commandMeta is implemented by every command through its embedded Meta.
type commandMeta interface{ meta() Meta }

func (m Meta) meta() Meta { return m }

// WithLogging wraps h so that every command is logged once with its name,
// command ID, actor, duration and outcome: debug on success, info for a
// rejection by the domain (the caller's mistake), error for anything else.
// Payloads are never logged: they may hold personal data.
func WithLogging[C commandMeta, R any](name string, h Handler[C, R], logger *slog.Logger) Handler[C, R] {
	if logger == nil {
		return h
	}
	return HandlerFunc[C, R](func(ctx context.Context, cmd C) (R, error) {
		start := time.Now()
		res, err := h.Handle(ctx, cmd)
		m := cmd.meta()
		attrs := []any{"command", name, "command_id", m.CommandID, "actor", m.Actor, "duration", time.Since(start)}
		switch {
		case err == nil:
			logger.DebugContext(ctx, "command handled", attrs...)
		case errors.Is(err, domain.ErrInvalidTransition) || errors.Is(err, domain.ErrValidation) ||
			errors.Is(err, ErrInvalidMeta) || errors.Is(err, ErrMissingID):
			logger.InfoContext(ctx, "command rejected", append(attrs, "err", err)...)
		default:
			logger.ErrorContext(ctx, "command failed", append(attrs, "err", err)...)
		}
		return res, err
	})
}
