package httpapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/webhost-systems/webhost/commands"
	"github.com/webhost-systems/webhost/domain"
	"github.com/webhost-systems/webhost/eventstore"
	"github.com/webhost-systems/webhost/projections"
	"github.com/webhost-systems/webhost/sync/syncauth"
)

// errNotFound is the API's own not-found (a row of another tenant, an ID
// that is not a UUID).
var errNotFound = errors.New("not found")

// errInvalidCursor: a pagination cursor this API did not issue.
var errInvalidCursor = errors.New("invalid cursor")

// errorTable maps typed errors to HTTP statuses. It is the only place that
// does; the first match wins, so specific kinds come before general ones
// (a *domain.TransitionError for a missing customer matches both
// ErrCustomerNotFound and ErrInvalidTransition).
var errorTable = []struct {
	err    error
	status int
}{
	{errNotFound, http.StatusNotFound},
	{projections.ErrNotFound, http.StatusNotFound},
	{domain.ErrCustomerNotFound, http.StatusNotFound},
	{domain.ErrSubscriptionNotFound, http.StatusNotFound},
	{domain.ErrAPIKeyNotFound, http.StatusNotFound},
	{domain.ErrDeploymentNotFound, http.StatusNotFound},

	{syncauth.ErrUnauthenticated, http.StatusUnauthorized},
	{syncauth.ErrForbidden, http.StatusForbidden},

	{errInvalidCursor, http.StatusBadRequest},
	{ErrInvalidPoisonFilter, http.StatusBadRequest},
	{eventstore.ErrInvalidPosition, http.StatusBadRequest},

	{domain.ErrValidation, http.StatusUnprocessableEntity},
	{domain.ErrPlanUnknown, http.StatusUnprocessableEntity},
	{commands.ErrMissingID, http.StatusUnprocessableEntity},

	{domain.ErrEmailAlreadyRegistered, http.StatusConflict},
	{domain.ErrSlugTaken, http.StatusConflict},
	{domain.ErrSamePlan, http.StatusConflict},
	{domain.ErrNothingToChange, http.StatusConflict},
	{domain.ErrInvalidTransition, http.StatusConflict},
	{commands.ErrConcurrencyConflict, http.StatusConflict},
	{eventstore.ErrWrongExpectedVersion, http.StatusConflict},

	{projections.ErrWaitTimeout, http.StatusServiceUnavailable},
	{context.DeadlineExceeded, http.StatusServiceUnavailable},
}

// mapError turns err into a huma.StatusError (problem+json). Errors not in
// the table are logged and hidden behind a 500.
func (a *API) mapError(err error) error {
	if err == nil {
		return nil
	}
	var se huma.StatusError
	if errors.As(err, &se) {
		return err
	}
	for _, m := range errorTable {
		if errors.Is(err, m.err) {
			msg := err.Error()
			switch m.status {
			case http.StatusNotFound:
				msg = "not found" // never say whose it is
			case http.StatusUnauthorized:
				msg = "invalid or revoked API key"
			}
			return huma.NewError(m.status, msg)
		}
	}
	a.cfg.Logger.Error("request failed", "err", err)
	return huma.NewError(http.StatusInternalServerError, "internal error")
}
