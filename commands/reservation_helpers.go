package commands

import (
	"context"
	"time"

	"github.com/webhost-systems/webhost/domain"
)

// reserve claims an e-mail or slug reservation stream for owner. The first
// claim of a stream appends with expected version NoStream, so exactly one
// of several concurrent claims wins; the others reload, find it held and
// get domain.ErrEmailAlreadyRegistered or domain.ErrSlugTaken.
func reserve(ctx context.Context, r *Runner, meta Meta, kind domain.ReservationKind, stream, owner, slug string, at time.Time) (Result, error) {
	return execute(ctx, r, stream, reservationAgg, meta, DeriveID(meta.CommandID, "reserve", stream), owner,
		func(s domain.Reservation) ([]domain.Event, error) {
			return domain.DecideReservation(s, domain.Reserve{Kind: kind, CustomerID: owner, Slug: slug, At: at})
		})
}

// release frees a reservation owner holds; releasing a free one is a no-op.
func release(ctx context.Context, r *Runner, meta Meta, kind domain.ReservationKind, stream, owner, slug string, at time.Time) (Result, error) {
	return execute(ctx, r, stream, reservationAgg, meta, DeriveID(meta.CommandID, "release", stream), owner,
		func(s domain.Reservation) ([]domain.Event, error) {
			return domain.DecideReservation(s, domain.Release{Kind: kind, CustomerID: owner, Slug: slug, At: at})
		})
}
