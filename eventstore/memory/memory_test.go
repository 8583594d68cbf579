package memory_test

import (
	"testing"

	"github.com/webhost-systems/webhost/eventstore"
	"github.com/webhost-systems/webhost/eventstore/eventstoretest"
	"github.com/webhost-systems/webhost/eventstore/memory"
)

func TestConformance(t *testing.T) {
	eventstoretest.Run(t, eventstoretest.Harness{
		New: func(testing.TB) eventstore.Store { return memory.New() },
	})
}
