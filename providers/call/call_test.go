package call

import (
	"testing"
	"time"
)

func FuzzParseRetryAfter(f *testing.F) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, s := range []string{"", "0", "7", "-1", "99999999999999999999", "Fri, 02 Jan 2026 03:04:15 GMT", "garbage"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d := ParseRetryAfter(v, now)
		if d < 0 || d > 24*time.Hour {
			t.Fatalf("ParseRetryAfter(%q) = %s out of [0, 24h]", v, d)
		}
	})
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := map[string]time.Duration{"": 0, "3": 3 * time.Second, "-2": 0, "Fri, 02 Jan 2026 03:04:15 GMT": 10 * time.Second, "x": 0}
	for in, want := range cases {
		if got := ParseRetryAfter(in, now); got != want {
			t.Errorf("%q: got %s want %s", in, got, want)
		}
	}
}
