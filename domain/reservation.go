package domain

import "time"

// Reservation event type names.
const (
	TypeEmailReserved = "EmailReserved"
	TypeEmailReleased = "EmailReleased"
	TypeSlugReserved  = "SlugReserved"
	TypeSlugReleased  = "SlugReleased"
)

// EmailReserved gives an e-mail address to a customer. It is the first event
// of the stream named after the address's hash, so the address itself
// appears nowhere.
type EmailReserved struct {
	CustomerID string    `json:"customer_id"`
	ReservedAt time.Time `json:"reserved_at"`
}

// EmailReleased frees an e-mail address (account closed, address changed or
// sign-up abandoned).
type EmailReleased struct {
	CustomerID string    `json:"customer_id"`
	ReleasedAt time.Time `json:"released_at"`
}

// SlugReserved gives a slug to a customer.
type SlugReserved struct {
	CustomerID string    `json:"customer_id"`
	Slug       string    `json:"slug"`
	ReservedAt time.Time `json:"reserved_at"`
}

// SlugReleased frees a slug (sign-up abandoned).
type SlugReleased struct {
	CustomerID string    `json:"customer_id"`
	Slug       string    `json:"slug"`
	ReleasedAt time.Time `json:"released_at"`
}

// EventType implements Event.
func (EmailReserved) EventType() string { return TypeEmailReserved }

// EventType implements Event.
func (EmailReleased) EventType() string { return TypeEmailReleased }

// EventType implements Event.
func (SlugReserved) EventType() string { return TypeSlugReserved }

// EventType implements Event.
func (SlugReleased) EventType() string { return TypeSlugReleased }

// ReservationKind is what a reservation holds.
type ReservationKind string

// Reservation kinds.
const (
	ReservationEmail ReservationKind = "email"
	ReservationSlug  ReservationKind = "slug"
)

// Reservation is the state of one reservation stream: who holds the value,
// if anyone.
type Reservation struct {
	holder string
}

// Holder returns the ID of the customer holding the reservation, or "".
func (r Reservation) Holder() string { return r.holder }

// Held reports whether someone holds the reservation.
func (r Reservation) Held() bool { return r.holder != "" }

// ReservationCommand is a command on a reservation.
type ReservationCommand interface {
	reservationCommand() string
}

// Reserve claims a value for a customer. Slug is required for a slug
// reservation (the e-mail address is never stored).
type Reserve struct {
	Kind       ReservationKind
	CustomerID string
	Slug       string
	At         time.Time
}

// Release frees a value the customer holds.
type Release struct {
	Kind       ReservationKind
	CustomerID string
	Slug       string
	At         time.Time
}

func (Reserve) reservationCommand() string { return "Reserve" }
func (Release) reservationCommand() string { return "Release" }

// DecideReservation returns the events cmd causes on r. Reserving what the
// customer already holds, or releasing what nobody holds any more on its
// behalf, causes no events. Reserving what another customer holds returns an
// error matching ErrEmailAlreadyRegistered or ErrSlugTaken; releasing what
// another customer holds one matching ErrReservationNotHeld.
func DecideReservation(r Reservation, cmd ReservationCommand) ([]Event, error) {
	switch cmd := cmd.(type) {
	case Reserve:
		if err := validateReservation(cmd.Kind, cmd.CustomerID, cmd.Slug); err != nil {
			return nil, err
		}
		switch r.holder {
		case cmd.CustomerID:
			return nil, nil
		case "":
		default:
			taken := ErrEmailAlreadyRegistered
			if cmd.Kind == ReservationSlug {
				taken = ErrSlugTaken
			}
			return nil, transition("reservation", string(cmd.Kind), "held", "Reserve", taken)
		}
		if cmd.Kind == ReservationEmail {
			return []Event{EmailReserved{CustomerID: cmd.CustomerID, ReservedAt: cmd.At.UTC()}}, nil
		}
		return []Event{SlugReserved{CustomerID: cmd.CustomerID, Slug: cmd.Slug, ReservedAt: cmd.At.UTC()}}, nil
	case Release:
		if err := validateReservation(cmd.Kind, cmd.CustomerID, cmd.Slug); err != nil {
			return nil, err
		}
		switch r.holder {
		case "":
			return nil, nil
		case cmd.CustomerID:
		default:
			return nil, transition("reservation", string(cmd.Kind), "held", "Release", ErrReservationNotHeld)
		}
		if cmd.Kind == ReservationEmail {
			return []Event{EmailReleased{CustomerID: cmd.CustomerID, ReleasedAt: cmd.At.UTC()}}, nil
		}
		return []Event{SlugReleased{CustomerID: cmd.CustomerID, Slug: cmd.Slug, ReleasedAt: cmd.At.UTC()}}, nil
	}
	return nil, invalid("command", "unknown reservation command")
}

func validateReservation(kind ReservationKind, customerID, slug string) error {
	if err := requireID("customer_id", customerID); err != nil {
		return err
	}
	switch kind {
	case ReservationEmail:
		return nil
	case ReservationSlug:
		return ValidateSlug(slug)
	}
	return invalid("kind", "must be email or slug")
}

// EvolveReservation applies e to r.
func EvolveReservation(r Reservation, e Event) Reservation {
	next, _ := evolveReservation(r, e)
	return next
}

func evolveReservation(r Reservation, e Event) (Reservation, bool) {
	switch e := e.(type) {
	case EmailReserved:
		r.holder = e.CustomerID
	case SlugReserved:
		r.holder = e.CustomerID
	case EmailReleased, SlugReleased:
		r.holder = ""
	default:
		return r, false
	}
	return r, true
}

// FoldReservation rebuilds a reservation from its events. An event of
// another aggregate is an error matching ErrForeignEvent.
func FoldReservation(events ...Event) (Reservation, error) {
	return fold(Reservation{}, evolveReservation, events)
}
