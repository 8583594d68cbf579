package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
)

// PoisonedEvent is an event a process manager gave up on after its retries.
type PoisonedEvent struct {
	ID                 int64      `json:"id"`
	Group              string     `json:"group"`
	Handler            string     `json:"handler"`
	EventID            string     `json:"event_id"`
	Stream             string     `json:"stream"`
	StreamVersion      uint64     `json:"stream_version"`
	EventType          string     `json:"event_type"`
	Position           string     `json:"position"`
	CorrelationID      string     `json:"correlation_id"`
	Reason             string     `json:"reason"`
	TimesPoisoned      int        `json:"times_poisoned"`
	Status             string     `json:"status" enum:"poisoned,redrive,redriven"`
	PoisonedAt         time.Time  `json:"poisoned_at"`
	RedriveRequestedAt *time.Time `json:"redrive_requested_at,omitempty"`
	RedrivenAt         *time.Time `json:"redriven_at,omitempty"`
}

// PoisonFilter selects poisoned events; AfterID pages.
type PoisonFilter struct {
	Group   string
	Status  string
	AfterID int64
	Limit   int
}

// PoisonLister lists the process managers' poison queue (cmd adapts
// processes.ListPoisoned). Errors matching ErrInvalidPoisonFilter are the
// caller's fault.
type PoisonLister interface {
	ListPoisoned(ctx context.Context, f PoisonFilter) ([]PoisonedEvent, error)
}

// ErrInvalidPoisonFilter is returned by a PoisonLister for a filter it
// rejects (HTTP 400).
var ErrInvalidPoisonFilter = errors.New("invalid poison filter")

// PoisonPage is one page of the poison queue.
type PoisonPage struct {
	Events     []PoisonedEvent `json:"events"`
	NextCursor string          `json:"next_cursor,omitempty" doc:"Pass as cursor for the next page; absent on the last page."`
}

type adminPoisonInput struct {
	Group  string `query:"group" maxLength:"100" doc:"Only this process-manager group."`
	Status string `query:"status" enum:"poisoned,redrive,redriven," doc:"Only events in this state."`
	Page
}

const cursorPoison = "p"

func (a *API) registerPoison(api huma.API) {
	huma.Register(api, a.op("admin-list-poison", http.MethodGet, "/v1/admin/poison", "Events the process managers gave up on (operator)", "admin", operator, 0), a.adminPoison)
}

func (a *API) adminPoison(ctx context.Context, in *adminPoisonInput) (*struct{ Body PoisonPage }, error) {
	if a.cfg.Poison == nil {
		return nil, huma.NewError(http.StatusServiceUnavailable, "the process managers do not run in this server")
	}
	var afterID int64
	if in.Cursor != "" {
		raw, err := DecodeCursor(in.Cursor, cursorPoison)
		if err != nil {
			return nil, a.mapError(err)
		}
		if afterID, err = strconv.ParseInt(raw, 10, 64); err != nil || afterID < 0 {
			return nil, a.mapError(errInvalidCursor)
		}
	}
	if in.Limit < 1 {
		in.Limit = 100
	}
	events, err := a.cfg.Poison.ListPoisoned(ctx, PoisonFilter{Group: in.Group, Status: in.Status, AfterID: afterID, Limit: in.Limit + 1})
	if err != nil {
		return nil, a.mapError(err)
	}
	events, next := nextPage(events, in.Limit, cursorPoison, func(e PoisonedEvent) string { return strconv.FormatInt(e.ID, 10) })
	if events == nil {
		events = []PoisonedEvent{} // an empty list, not null
	}
	return &struct{ Body PoisonPage }{PoisonPage{Events: events, NextCursor: next}}, nil
}
