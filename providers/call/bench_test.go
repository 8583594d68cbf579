package call_test

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/webhost-systems/webhost/providers/call"
)

// BenchmarkDo measures what the call runner (per-attempt context, metrics)
// adds to a successful provider call, against calling the step directly.
func BenchmarkDo(b *testing.B) {
	step := func(ctx context.Context) error { return ctx.Err() }
	b.Run("impl=baseline", func(b *testing.B) {
		ctx := context.Background()
		for b.Loop() {
			_ = step(ctx)
		}
	})
	b.Run("impl=caller", func(b *testing.B) {
		m, err := call.NewMetrics(prometheus.NewRegistry())
		if err != nil {
			b.Fatal(err)
		}
		c, err := call.New("bench", call.Policy{}, classify, m)
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		for b.Loop() {
			_ = c.Do(ctx, "op", step)
		}
	})
}
