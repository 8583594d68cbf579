package esdb_test

import (
	"os"
	"testing"

	"github.com/webhost-systems/webhost/eventstore"
	"github.com/webhost-systems/webhost/eventstore/esdb"
	"github.com/webhost-systems/webhost/eventstore/eventstoretest"
)

func TestConformance(t *testing.T) {
	url := os.Getenv("EVENTSTORE_URL")
	if url == "" {
		t.Skip("EventStoreDB conformance suite skipped: set EVENTSTORE_URL (e.g. esdb://127.0.0.1:2113?tls=false) to run it against a server")
	}
	eventstoretest.Run(t, eventstoretest.Harness{
		New: func(tb testing.TB) eventstore.Store {
			s, err := esdb.New(esdb.Config{URL: url})
			if err != nil {
				tb.Fatalf("connect EventStoreDB at EVENTSTORE_URL: %v", err)
			}
			tb.Cleanup(func() { s.Close() })
			return s
		},
		StreamScopedEventIDs: true,
	})
}

func TestConfigRequiresURL(t *testing.T) {
	if _, err := esdb.New(esdb.Config{}); err == nil {
		t.Fatal("New without URL succeeded")
	}
	if _, err := esdb.New(esdb.Config{URL: "not a url ::"}); err == nil {
		t.Fatal("New with a malformed URL succeeded")
	}
}
