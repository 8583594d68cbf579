package call

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

func TestTransportRewritesBaseURLAndTurnsStatusesIntoErrors(t *testing.T) {
	var gotPath string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath = r.URL.Path
		if r.URL.Query().Get("fail") != "" {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"error":"busy"}`))
			return
		}
		w.WriteHeader(http.StatusNotFound)
	}))
	defer srv.Close()
	base, _ := url.Parse(srv.URL + "/fly")
	cl := &http.Client{Transport: &Transport{BaseURL: base, StatusErrors: true}}
	resp, err := cl.Get("https://api.machines.dev/v1/apps/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if gotPath != "/fly/v1/apps/x" || resp.StatusCode != 404 {
		t.Fatalf("path %q status %d", gotPath, resp.StatusCode)
	}
	_, err = cl.Get("https://api.machines.dev/v1/apps/x?fail=1")
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != 503 || se.RetryAfter.Seconds() != 2 || string(se.Body) != `{"error":"busy"}` {
		t.Fatalf("err = %#v", err)
	}
	_, err = (&http.Client{Transport: &Transport{StatusErrors: true}}).Get("http://127.0.0.1:1/")
	var te *TransportError
	if !errors.As(err, &te) || Classify(err) == nil {
		t.Fatalf("connection refused: %#v", err)
	}
	if _, ok := any(te).(interface{ Temporary() bool }); ok {
		t.Fatal("TransportError must not look temporary to SDK retry layers")
	}
}
