package call_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/webhost-systems/webhost/processes"
	"github.com/webhost-systems/webhost/providers/call"
)

var errFlaky = errors.New("flaky")

func classify(err error) *processes.ProviderError {
	if errors.Is(err, errFlaky) {
		return &processes.ProviderError{Kind: processes.ErrRetryable, Err: err}
	}
	return &processes.ProviderError{Kind: processes.ErrPermanent, Err: err}
}

type recorder struct{ sleeps []time.Duration }

func (r *recorder) sleep(ctx context.Context, d time.Duration) error {
	r.sleeps = append(r.sleeps, d)
	return ctx.Err()
}

func newCaller(t *testing.T, p call.Policy, reg prometheus.Registerer) (*call.Caller, *recorder) {
	t.Helper()
	m, err := call.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	c, err := call.New("test", p, classify, m, call.WithSleep(rec.sleep), call.WithJitter(func() float64 { return 1 }))
	if err != nil {
		t.Fatal(err)
	}
	return c, rec
}

func TestRetriesWithinBoundsAndBacksOffExponentially(t *testing.T) {
	c, rec := newCaller(t, call.Policy{MaxAttempts: 4, BaseDelay: 100 * time.Millisecond, MaxDelay: 250 * time.Millisecond}, nil)
	calls := 0
	err := c.Do(context.Background(), "op", func(context.Context) error { calls++; return errFlaky })
	if !errors.Is(err, processes.ErrRetryable) || calls != 4 {
		t.Fatalf("err %v after %d calls, want retryable after 4", err, calls)
	}
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 250 * time.Millisecond}
	if fmt.Sprint(rec.sleeps) != fmt.Sprint(want) {
		t.Fatalf("sleeps = %v, want %v", rec.sleeps, want)
	}
	var pe *processes.ProviderError
	if !errors.As(err, &pe) || pe.Provider != "test" || pe.Op != "op" {
		t.Fatalf("error %#v lacks provider and op", err)
	}
}

func TestPermanentStopsAtOnce(t *testing.T) {
	c, rec := newCaller(t, call.Policy{}, nil)
	calls := 0
	err := c.Do(context.Background(), "op", func(context.Context) error { calls++; return errors.New("bad input") })
	if !errors.Is(err, processes.ErrPermanent) || calls != 1 || len(rec.sleeps) != 0 {
		t.Fatalf("err %v, calls %d, sleeps %v", err, calls, rec.sleeps)
	}
}

func TestRetryAfterHonouredAndCapped(t *testing.T) {
	c, rec := newCaller(t, call.Policy{MaxRetryAfter: 10 * time.Second}, nil)
	calls := 0
	err := c.Do(context.Background(), "op", func(context.Context) error {
		calls++
		switch calls {
		case 1:
			return &processes.ProviderError{Kind: processes.ErrRetryable, RetryAfter: 3 * time.Second}
		case 2:
			return &processes.ProviderError{Kind: processes.ErrRetryable, RetryAfter: time.Minute}
		}
		return nil
	})
	if !errors.Is(err, processes.ErrRetryable) || calls != 2 || len(rec.sleeps) != 1 || rec.sleeps[0] != 3*time.Second {
		t.Fatalf("err %v calls %d sleeps %v; want 3s wait, then give up on a 1m Retry-After", err, calls, rec.sleeps)
	}
	var pe *processes.ProviderError
	if errors.As(err, &pe); pe.RetryAfter != time.Minute {
		t.Fatalf("RetryAfter = %s, want the hint passed on", pe.RetryAfter)
	}
}

func TestDoesNotSleepPastTheCallersDeadline(t *testing.T) {
	c, rec := newCaller(t, call.Policy{}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := c.Do(ctx, "op", func(context.Context) error {
		return &processes.ProviderError{Kind: processes.ErrRetryable, RetryAfter: 5 * time.Second}
	})
	if !errors.Is(err, processes.ErrRetryable) || len(rec.sleeps) != 0 {
		t.Fatalf("err %v sleeps %v; want an immediate return", err, rec.sleeps)
	}
}

func TestAttemptTimeoutIsRetryableCallerDeadlineIsNot(t *testing.T) {
	c, _ := newCaller(t, call.Policy{AttemptTimeout: 10 * time.Millisecond, MaxAttempts: 2}, nil)
	calls := 0
	err := c.Do(context.Background(), "op", func(ctx context.Context) error {
		calls++
		<-ctx.Done()
		return ctx.Err()
	})
	if !errors.Is(err, processes.ErrRetryable) || !errors.Is(err, context.DeadlineExceeded) || calls != 2 {
		t.Fatalf("err %v calls %d", err, calls)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls = 0
	err = c.Do(ctx, "op", func(ctx context.Context) error { calls++; return ctx.Err() })
	if !errors.Is(err, context.Canceled) || calls != 1 {
		t.Fatalf("canceled: err %v calls %d", err, calls)
	}
}

func TestStepClassificationKept(t *testing.T) {
	c, _ := newCaller(t, call.Policy{}, nil)
	err := c.Do(context.Background(), "op", func(context.Context) error {
		return fmt.Errorf("wrapped: %w", &processes.ProviderError{Kind: processes.ErrConflict, Code: "taken"})
	})
	var pe *processes.ProviderError
	if !errors.Is(err, processes.ErrConflict) || !errors.As(err, &pe) || pe.Code != "taken" || pe.Provider != "test" {
		t.Fatalf("err = %#v", err)
	}
}

func TestMetricsSharedRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	c1, _ := newCaller(t, call.Policy{}, reg)
	c2, _ := newCaller(t, call.Policy{}, reg) // second adapter on the same registry
	_ = c1.Do(context.Background(), "a", func(context.Context) error { return nil })
	_ = c2.Do(context.Background(), "b", func(context.Context) error { return errors.New("x") })
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, mf := range mfs {
		if mf.GetName() != "webhost_provider_calls_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			seen[fmt.Sprint(labels)] = true
		}
	}
	for _, want := range []string{"[operation=a outcome=success provider=test]", "[operation=b outcome=permanent provider=test]"} {
		if !seen[want] {
			t.Fatalf("metrics %v lack %s", seen, want)
		}
	}
}

func TestPolicyValidate(t *testing.T) {
	if _, err := call.New("x", call.Policy{MaxAttempts: 100}, classify, nil); !errors.Is(err, call.ErrInvalidPolicy) {
		t.Fatalf("err = %v", err)
	}
}
