// Package call runs provider API calls with a per-attempt deadline, bounded
// retries that honour Retry-After, error classification into the kinds of
// package processes, and Prometheus metrics by provider, operation and
// outcome. Every adapter in providers/... funnels its SDK calls through a
// Caller; the SDKs' own retries are switched off so they do not multiply.
package call

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"syscall"
	"time"

	"github.com/webhost-systems/webhost/processes"
)

// Policy bounds the retries of one operation.
type Policy struct {
	// MaxAttempts is the number of tries, including the first (default 4).
	MaxAttempts int
	// BaseDelay is the first backoff (default 200ms); it doubles per retry.
	BaseDelay time.Duration
	// MaxDelay caps a backoff (default 5s).
	MaxDelay time.Duration
	// MaxRetryAfter is the longest Retry-After we wait for inside one call
	// (default 30s); a longer hint ends the call with ErrRetryable so the
	// process manager retries later instead of holding a worker.
	MaxRetryAfter time.Duration
	// AttemptTimeout bounds one attempt (default 30s). A create whose
	// attempt timed out is retried, and the retry adopts what the timed-out
	// attempt created.
	AttemptTimeout time.Duration
}

// WithDefaults fills zero fields.
func (p Policy) WithDefaults() Policy {
	if p.MaxAttempts == 0 {
		p.MaxAttempts = 4
	}
	if p.BaseDelay == 0 {
		p.BaseDelay = 200 * time.Millisecond
	}
	if p.MaxDelay == 0 {
		p.MaxDelay = 5 * time.Second
	}
	if p.MaxRetryAfter == 0 {
		p.MaxRetryAfter = 30 * time.Second
	}
	if p.AttemptTimeout == 0 {
		p.AttemptTimeout = 30 * time.Second
	}
	return p
}

// ErrInvalidPolicy is returned by Validate.
var ErrInvalidPolicy = errors.New("call: invalid retry policy")

// Validate checks the bounds.
func (p Policy) Validate() error {
	switch {
	case p.MaxAttempts < 1 || p.MaxAttempts > 20:
		return fmt.Errorf("%w: MaxAttempts %d not in 1..20", ErrInvalidPolicy, p.MaxAttempts)
	case p.BaseDelay < 0 || p.MaxDelay < p.BaseDelay:
		return fmt.Errorf("%w: delays %s..%s", ErrInvalidPolicy, p.BaseDelay, p.MaxDelay)
	case p.MaxRetryAfter < 0 || p.AttemptTimeout <= 0:
		return fmt.Errorf("%w: MaxRetryAfter %s, AttemptTimeout %s", ErrInvalidPolicy, p.MaxRetryAfter, p.AttemptTimeout)
	}
	return nil
}

// Classifier turns an SDK error into a *processes.ProviderError without
// Provider and Op (the Caller fills them). It is never called with nil.
type Classifier func(err error) *processes.ProviderError

// Caller runs the operations of one provider.
type Caller struct {
	provider string
	policy   Policy
	classify Classifier
	metrics  *Metrics
	sleep    func(context.Context, time.Duration) error
	jitter   func() float64
}

// Option customises a Caller (tests).
type Option func(*Caller)

// WithSleep replaces the backoff sleep, e.g. to record delays in tests.
func WithSleep(sleep func(context.Context, time.Duration) error) Option {
	return func(c *Caller) { c.sleep = sleep }
}

// WithJitter replaces the random source of backoff jitter (returns [0,1)).
func WithJitter(jitter func() float64) Option { return func(c *Caller) { c.jitter = jitter } }

// New returns a Caller. metrics may be nil (no metrics).
func New(provider string, policy Policy, classify Classifier, metrics *Metrics, opts ...Option) (*Caller, error) {
	policy = policy.WithDefaults()
	if err := policy.Validate(); err != nil {
		return nil, err
	}
	if classify == nil {
		return nil, fmt.Errorf("%w: nil classifier", ErrInvalidPolicy)
	}
	c := &Caller{provider: provider, policy: policy, classify: classify, metrics: metrics, sleep: Sleep, jitter: rand.Float64}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// Policy returns the effective policy.
func (c *Caller) Policy() Policy { return c.policy }

// Sleep waits d or until ctx ends.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Do runs fn until it succeeds, fails with a non-retryable error, the
// attempts are spent, or ctx ends. Each attempt gets its own deadline
// (Policy.AttemptTimeout, never past ctx's). fn must be idempotent: it is the
// whole lookup-then-create step, not a bare POST.
func (c *Caller) Do(ctx context.Context, op string, fn func(ctx context.Context) error) error {
	start := time.Now()
	var last *processes.ProviderError
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, c.policy.AttemptTimeout)
		err := fn(actx)
		attemptTimedOut := actx.Err() != nil && ctx.Err() == nil
		cancel()
		if err == nil {
			c.metrics.observe(c.provider, op, "success", attempt, time.Since(start))
			return nil
		}
		if ctx.Err() != nil {
			// The caller's deadline or cancellation: report it as such.
			pe := &processes.ProviderError{Provider: c.provider, Op: op, Kind: processes.ErrRetryable,
				Err: fmt.Errorf("%w (after %d attempts; last: %v)", ctx.Err(), attempt, err)}
			c.metrics.observe(c.provider, op, "canceled", attempt, time.Since(start))
			return pe
		}
		var pe *processes.ProviderError
		if errors.As(err, &pe) {
			// Already classified, by the step itself or a nested call.
			pe = &processes.ProviderError{Provider: pe.Provider, Op: pe.Op, Kind: pe.Kind, StatusCode: pe.StatusCode, Code: pe.Code, RetryAfter: pe.RetryAfter, Err: pe.Err}
		} else if attemptTimedOut {
			pe = &processes.ProviderError{Kind: processes.ErrRetryable, Err: fmt.Errorf("attempt timed out after %s: %w", c.policy.AttemptTimeout, err)}
		} else {
			pe = c.classify(err)
			if pe == nil {
				pe = &processes.ProviderError{Kind: processes.ErrPermanent, Err: err}
			}
		}
		if pe.Provider == "" {
			pe.Provider = c.provider
		}
		if pe.Op == "" {
			pe.Op = op
		}
		last = pe
		if pe.Kind != processes.ErrRetryable || attempt >= c.policy.MaxAttempts {
			c.metrics.observe(c.provider, op, outcome(pe.Kind), attempt, time.Since(start))
			return last
		}
		delay := c.backoff(attempt)
		if pe.RetryAfter > 0 {
			if pe.RetryAfter > c.policy.MaxRetryAfter {
				c.metrics.observe(c.provider, op, outcome(pe.Kind), attempt, time.Since(start))
				return last
			}
			if pe.RetryAfter > delay {
				delay = pe.RetryAfter
			}
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < delay {
			// Waiting would outlive the caller: give the error back now.
			c.metrics.observe(c.provider, op, outcome(pe.Kind), attempt, time.Since(start))
			return last
		}
		c.metrics.retry(c.provider, op)
		if err := c.sleep(ctx, delay); err != nil {
			c.metrics.observe(c.provider, op, "canceled", attempt, time.Since(start))
			return &processes.ProviderError{Provider: c.provider, Op: op, Kind: processes.ErrRetryable,
				Err: fmt.Errorf("%w (after %d attempts; last: %v)", err, attempt, last.Err)}
		}
	}
}

// backoff is exponential with full jitter in [d/2, d].
func (c *Caller) backoff(attempt int) time.Duration {
	d := c.policy.BaseDelay << (attempt - 1)
	if d > c.policy.MaxDelay || d <= 0 {
		d = c.policy.MaxDelay
	}
	return d/2 + time.Duration(c.jitter()*float64(d/2))
}

func outcome(kind error) string {
	switch kind {
	case processes.ErrRetryable:
		return "retryable"
	case processes.ErrNotFound:
		return "not_found"
	case processes.ErrConflict:
		return "conflict"
	default:
		return "permanent"
	}
}

// KindForStatus maps an HTTP status to an error kind.
func KindForStatus(status int) error {
	switch {
	case status == 404 || status == 410:
		return processes.ErrNotFound
	case status == 409:
		return processes.ErrConflict
	case status == 408 || status == 425 || status == 429 || status >= 500:
		return processes.ErrRetryable
	default:
		return processes.ErrPermanent
	}
}

// IsTransportError reports whether err is a network failure worth retrying
// (connection refused or reset, unexpected EOF, a network timeout).
func IsTransportError(err error) bool {
	var ne net.Error
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return true
	case errors.As(err, &ne):
		return true
	}
	return false
}

// Classify is the common part of every classifier: StatusError from
// Transport, transport failures and attempt deadlines. It returns nil when
// err is none of those.
func Classify(err error) *processes.ProviderError {
	var se *StatusError
	if errors.As(err, &se) {
		return &processes.ProviderError{Kind: KindForStatus(se.StatusCode), StatusCode: se.StatusCode, RetryAfter: se.RetryAfter, Err: err}
	}
	var te *TransportError
	if errors.As(err, &te) || errors.Is(err, context.DeadlineExceeded) || IsTransportError(err) {
		return &processes.ProviderError{Kind: processes.ErrRetryable, Err: err}
	}
	return nil
}

// DoWithTimeout is Do with a per-attempt deadline other than the policy's,
// for long waits (a server boot, a machine start).
func (c *Caller) DoWithTimeout(ctx context.Context, op string, attemptTimeout time.Duration, fn func(ctx context.Context) error) error {
	cp := *c
	cp.policy.AttemptTimeout = attemptTimeout
	return cp.Do(ctx, op, fn)
}
