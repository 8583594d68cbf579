package httpapi

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiter is a token bucket per key (API key ID or client address).
type limiter struct {
	rate  rate.Limit
	burst int
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// maxBuckets bounds the limiter's memory; idle buckets are dropped first.
const maxBuckets = 100_000

func newLimiter(perSecond float64, burst int, now func() time.Time) *limiter {
	r := rate.Limit(perSecond)
	if perSecond == 0 {
		r = rate.Inf
	}
	return &limiter{rate: r, burst: burst, now: now, buckets: map[string]*bucket{}}
}

// allow takes a token from key's bucket.
func (l *limiter) allow(key string) bool {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxBuckets {
			l.evict(now)
		}
		b = &bucket{lim: rate.NewLimiter(l.rate, l.burst)}
		l.buckets[key] = b
	}
	b.seen = now
	return b.lim.AllowN(now, 1)
}

// evict drops buckets idle long enough to be full again.
func (l *limiter) evict(now time.Time) {
	full := time.Duration(float64(l.burst) / float64(l.rate) * float64(time.Second))
	for k, b := range l.buckets {
		if now.Sub(b.seen) > full {
			delete(l.buckets, k)
		}
	}
}

// retryAfterSeconds is how long until one token is back.
func (l *limiter) retryAfterSeconds() int {
	if l.rate == rate.Inf || l.rate <= 0 {
		return 1
	}
	return max(1, int(math.Ceil(1/float64(l.rate))))
}
