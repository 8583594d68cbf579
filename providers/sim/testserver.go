package sim

import (
	"net/http/httptest"
	"testing"
)

// NewTestServer starts a Sim on a local port for a test and stops it when
// the test ends. Tests in other packages (process manager end-to-end
// tests) use it with the adapters' Endpoint/BaseURL set from the URLs.
func NewTestServer(tb testing.TB, cfg Config) (*Sim, URLs) {
	tb.Helper()
	s, err := New(cfg)
	if err != nil {
		tb.Fatalf("sim: %v", err)
	}
	srv := httptest.NewServer(s.Handler())
	tb.Cleanup(srv.Close)
	return s, URLsFor(srv.URL)
}
