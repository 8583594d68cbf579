package eventstore

import (
	"context"
	"sync"
	"time"
)

// PollingSource is what NewPollingSubscription needs from an adapter whose
// log can be read in pages and that can signal "something was appended".
type PollingSource struct {
	// Read returns up to limit events strictly after the position, in order.
	Read func(ctx context.Context, after Position, limit int) ([]RecordedEvent, error)
	// Changed returns a channel that is closed when new events may exist. It
	// is taken before each read, so a wake between a read and the wait is
	// never lost.
	Changed func() <-chan struct{}
	// PollInterval is the fallback when no wake arrives (default 1s).
	PollInterval time.Duration
	// BatchSize is the page size (default 512).
	BatchSize int
	// Buffer is the capacity of the Events channel (default 256).
	Buffer int
}

type pollingSubscription struct {
	events chan RecordedEvent
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	err    error
	closed bool
}

// NewPollingSubscription runs a catch-up-then-live subscription over src. A
// wake that finds nothing (an event committed but not yet below a visibility
// horizon) is retried with a short, growing backoff, so late commits are
// delivered promptly without a storm of reads.
func NewPollingSubscription(ctx context.Context, src PollingSource, after Position) Subscription {
	if src.PollInterval <= 0 {
		src.PollInterval = time.Second
	}
	if src.BatchSize <= 0 {
		src.BatchSize = 512
	}
	if src.Buffer <= 0 {
		src.Buffer = 256
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &pollingSubscription{events: make(chan RecordedEvent, src.Buffer), cancel: cancel, done: make(chan struct{})}
	go s.run(ctx, src, after)
	return s
}

func (s *pollingSubscription) run(ctx context.Context, src PollingSource, after Position) {
	defer close(s.done)
	defer close(s.events)
	const minRetry = 2 * time.Millisecond
	retry := time.Duration(0)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		changed := src.Changed()
		batch, err := src.Read(ctx, after, src.BatchSize)
		if err != nil {
			s.fail(ctx, err)
			return
		}
		for _, e := range batch {
			select {
			case s.events <- e:
				after = e.Position
			case <-ctx.Done():
				s.fail(ctx, ctx.Err())
				return
			}
		}
		if len(batch) == src.BatchSize {
			retry = 0
			continue
		}
		if len(batch) > 0 {
			retry = 0
		}
		wait := src.PollInterval
		if retry > 0 {
			wait = retry
		}
		timer.Reset(wait)
		select {
		case <-changed:
			if !timer.Stop() {
				<-timer.C
			}
			// Something was appended: read now, and if it is not visible yet,
			// retry soon rather than at the poll interval.
			retry = minRetry
		case <-timer.C:
			if retry > 0 {
				retry *= 2
				if retry >= src.PollInterval {
					retry = 0
				}
			}
		case <-ctx.Done():
			s.fail(ctx, ctx.Err())
			return
		}
	}
}

func (s *pollingSubscription) fail(_ context.Context, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return // Close ends a subscription without error
	}
	if s.err == nil {
		s.err = err
	}
}

// Events implements Subscription.
func (s *pollingSubscription) Events() <-chan RecordedEvent { return s.events }

// Err implements Subscription.
func (s *pollingSubscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close implements Subscription. It waits for the delivery goroutine to end.
func (s *pollingSubscription) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	<-s.done
	return nil
}
