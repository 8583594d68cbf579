package call

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// StatusError is a 429 or 5xx response turned into an error by Transport,
// so that no SDK-internal retry layer above it (fly-go's rehttp, for one)
// retries it, and so that Retry-After survives SDKs that drop headers.
type StatusError struct {
	StatusCode int
	RetryAfter time.Duration
	Body       []byte // at most 64 KiB; provider error bodies carry no secrets
}

// Error reports the status and a short body excerpt.
func (e *StatusError) Error() string {
	body := string(e.Body)
	if len(body) > 200 {
		body = body[:200] + "..."
	}
	return fmt.Sprintf("provider responded HTTP %d: %s", e.StatusCode, strings.TrimSpace(body))
}

// Transport is the innermost RoundTripper of every adapter's HTTP client.
type Transport struct {
	// Base does the I/O (default http.DefaultTransport).
	Base http.RoundTripper
	// BaseURL, when set, replaces scheme and host of every request and
	// prefixes its path (how flaps is pointed at a simulator without
	// setting FLY_FLAPS_BASE_URL in the process environment).
	BaseURL *url.URL
	// StatusErrors turns 429 and 5xx responses into *StatusError.
	StatusErrors bool
	// Now is the clock for HTTP-date Retry-After values (default time.Now).
	Now func() time.Time
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	if t.BaseURL != nil {
		r := req.Clone(req.Context())
		r.URL.Scheme = t.BaseURL.Scheme
		r.URL.Host = t.BaseURL.Host
		r.Host = t.BaseURL.Host
		if p := strings.TrimRight(t.BaseURL.Path, "/"); p != "" {
			r.URL.Path = p + r.URL.Path
			if r.URL.RawPath != "" {
				r.URL.RawPath = p + r.URL.RawPath
			}
		}
		req = r
	}
	resp, err := base.RoundTrip(req)
	if err != nil && t.StatusErrors {
		// Hide Temporary() so SDK retry layers (rehttp) leave it to us.
		return nil, &TransportError{Err: err}
	}
	if err != nil || !t.StatusErrors {
		return resp, err
	}
	if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode < 500 {
		return resp, nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	now := time.Now
	if t.Now != nil {
		now = t.Now
	}
	return nil, &StatusError{StatusCode: resp.StatusCode, RetryAfter: ParseRetryAfter(resp.Header.Get("Retry-After"), now()), Body: body}
}

// ParseRetryAfter reads a Retry-After value: delay-seconds or an HTTP-date.
// Unparseable, negative or past values give 0. Values are capped at 24h.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	const maxWait = 24 * time.Hour
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(maxWait/time.Second) {
			return maxWait
		}
		return time.Duration(secs) * time.Second
	}
	if at, err := http.ParseTime(v); err == nil {
		d := at.Sub(now)
		if d <= 0 {
			return 0
		}
		if d > maxWait {
			return maxWait
		}
		return d
	}
	return 0
}

// TransportError is a failed round trip; it keeps the cause matchable with
// errors.Is/As but does not report itself Temporary, so SDK retry layers
// do not retry it on top of call.Caller.
type TransportError struct{ Err error }

// Error returns the cause's message.
func (e *TransportError) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *TransportError) Unwrap() error { return e.Err }

// Redact shows whether a secret is set without showing it, for String and
// LogValue methods of adapter configs.
func Redact(secret string) string {
	if secret == "" {
		return "(unset)"
	}
	return "(redacted)"
}
