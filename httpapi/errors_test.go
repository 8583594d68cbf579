package httpapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"testing"

	"github.com/danielgtaylor/huma/v2"

	"github.com/webhost-systems/webhost/commands"
	"github.com/webhost-systems/webhost/domain"
	"github.com/webhost-systems/webhost/projections"
	"github.com/webhost-systems/webhost/sync/syncauth"
)

func TestErrorTableMapsTypedErrors(t *testing.T) {
	t.Parallel()
	a := &API{cfg: Config{Logger: slog.New(slog.DiscardHandler)}}
	for _, c := range []struct {
		name string
		err  error
		want int
	}{
		{"missing customer beats transition", &domain.TransitionError{Aggregate: "customer", Err: domain.ErrCustomerNotFound}, 404},
		{"other tenant's deployment", fmt.Errorf("load: %w", &domain.TransitionError{Err: domain.ErrDeploymentNotFound}), 404},
		{"read model miss", fmt.Errorf("deployment: %w", projections.ErrNotFound), 404},
		{"validation", &domain.ValidationError{Field: "slug", Reason: "bad"}, 422},
		{"unknown plan", fmt.Errorf("x: %w", domain.ErrPlanUnknown), 422},
		{"slug taken", fmt.Errorf("sign up: %w", domain.ErrSlugTaken), 409},
		{"same plan", &domain.TransitionError{Err: domain.ErrSamePlan}, 409},
		{"closed account", &domain.TransitionError{Err: domain.ErrAccountClosed}, 409},
		{"conflict retries spent", fmt.Errorf("s: %w", commands.ErrConcurrencyConflict), 409},
		{"bad key", syncauth.ErrUnauthenticated, 401},
		{"missing scope", syncauth.ErrForbidden, 403},
		{"bad cursor", fmt.Errorf("%w: x", errInvalidCursor), 400},
		{"projection behind", fmt.Errorf("%w: x", projections.ErrWaitTimeout), 503},
		{"anything else", errors.New("disk on fire"), 500},
	} {
		var se huma.StatusError
		if !errors.As(a.mapError(c.err), &se) || se.GetStatus() != c.want {
			t.Errorf("%s: got %v, want %d", c.name, se, c.want)
		}
	}
	// 404s and 500s never echo internals.
	var se huma.StatusError
	errors.As(a.mapError(errors.New("secret detail")), &se)
	if se.GetStatus() != http.StatusInternalServerError || se.Error() != "internal error" {
		t.Fatalf("500 body: %q", se.Error())
	}
}
