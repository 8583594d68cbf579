// Package eventstoretest is the conformance suite of the eventstore
// contract. Every adapter runs it from its own tests:
//
//	eventstoretest.Run(t, eventstoretest.Harness{New: ...})
package eventstoretest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/webhost-systems/webhost/eventstore"
)

// Harness adapts one store implementation to the suite.
type Harness struct {
	// New returns an empty store, cleaned up when tb ends.
	New func(tb testing.TB) eventstore.Store
	// BeginAppend, if set, appends events in a transaction that stays open
	// (uncommitted) until commit is called. It lets the suite prove that a
	// $all reader never skips an event that commits late with a lower
	// position. Adapters that commit atomically (memory) leave it nil.
	BeginAppend func(tb testing.TB, store eventstore.Store, stream string, events ...eventstore.Event) (commit func() error)
	// StreamScopedEventIDs is set for stores whose event IDs are unique per
	// stream only (EventStoreDB): the suite then does not require
	// ErrDuplicateEventID for an ID reused in another stream or for a batch
	// that mixes stored and new IDs.
	StreamScopedEventIDs bool
}

// deliveryTimeout bounds every wait for a subscription; it is a deadlock
// guard, not a performance assertion.
const deliveryTimeout = 20 * time.Second

// Run runs every conformance test against h.
func Run(t *testing.T, h Harness) {
	t.Run("AppendAndReadRoundTrip", func(t *testing.T) { testRoundTrip(t, h) })
	t.Run("ReadStreamDirectionsAndLimits", func(t *testing.T) { testReadStreamSlices(t, h) })
	t.Run("ReadMissingStream", func(t *testing.T) { testMissingStream(t, h) })
	t.Run("ExpectedVersion", func(t *testing.T) { testExpectedVersion(t, h) })
	t.Run("IdempotentReappend", func(t *testing.T) { testIdempotent(t, h) })
	t.Run("InvalidEvents", func(t *testing.T) { testInvalid(t, h) })
	t.Run("ConcurrentAppendersOneStream", func(t *testing.T) { testConcurrentOneStream(t, h) })
	t.Run("ReaderNeverSkipsLateCommit", func(t *testing.T) { testLateCommit(t, h) })
	t.Run("SubscriptionCatchUpLiveResume", func(t *testing.T) { testSubscription(t, h) })
	t.Run("Filters", func(t *testing.T) { testFilters(t, h) })
	t.Run("LargePayload", func(t *testing.T) { testLargePayload(t, h) })
	t.Run("UnicodeStreamNames", func(t *testing.T) { testUnicode(t, h) })
	t.Run("ContextCancellation", func(t *testing.T) { testCancellation(t, h) })
	t.Run("Head", func(t *testing.T) { testHead(t, h) })
}

// NewEvent returns an event with a random ID and a JSON body.
func NewEvent(eventType string, body any) eventstore.Event {
	data, err := json.Marshal(body)
	if err != nil {
		panic(err)
	}
	return eventstore.Event{ID: uuid.New(), Type: eventType, Data: data, Metadata: []byte(`{"actor":"test"}`)}
}

func events(n int, eventType string) []eventstore.Event {
	out := make([]eventstore.Event, n)
	for i := range out {
		out[i] = NewEvent(eventType, map[string]any{"n": i})
	}
	return out
}

func mustAppend(t testing.TB, s eventstore.Store, stream string, exp eventstore.ExpectedVersion, evs ...eventstore.Event) eventstore.AppendResult {
	t.Helper()
	res, err := s.Append(context.Background(), stream, exp, evs...)
	if err != nil {
		t.Fatalf("append %s: %v", stream, err)
	}
	return res
}

func mustReadStream(t testing.TB, s eventstore.Store, stream string, opts eventstore.ReadStreamOptions) []eventstore.RecordedEvent {
	t.Helper()
	got, err := s.ReadStream(context.Background(), stream, opts)
	if err != nil {
		t.Fatalf("read %s: %v", stream, err)
	}
	return got
}

func readAllFrom(t testing.TB, s eventstore.Store, after eventstore.Position, f eventstore.Filter) []eventstore.RecordedEvent {
	t.Helper()
	var out []eventstore.RecordedEvent
	for {
		page, err := s.ReadAll(context.Background(), eventstore.ReadAllOptions{After: after, Limit: 100, Filter: f})
		if err != nil {
			t.Fatalf("read all: %v", err)
		}
		out = append(out, page...)
		if len(page) < 100 {
			return out
		}
		after = page[len(page)-1].Position
	}
}

// readAllEventually reads until at least want events match. A store whose
// reads stop at a visibility horizon (PostgreSQL) may briefly hide committed
// events while an unrelated transaction anywhere on the server is still
// open; readers wait for them rather than skip them.
func readAllEventually(t testing.TB, s eventstore.Store, f eventstore.Filter, want int) []eventstore.RecordedEvent {
	t.Helper()
	deadline := time.Now().Add(deliveryTimeout)
	for {
		got := readAllFrom(t, s, eventstore.Start, f)
		if len(got) >= want || time.Now().After(deadline) {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// headEventually waits until Head reaches want (see readAllEventually).
func headEventually(t testing.TB, s eventstore.Store, want eventstore.Position) eventstore.Position {
	t.Helper()
	deadline := time.Now().Add(deliveryTimeout)
	for {
		head, err := s.Head(context.Background())
		if err != nil {
			t.Fatalf("head: %v", err)
		}
		if !head.Before(want) || time.Now().After(deadline) {
			return head
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// uniqueStream keeps tests independent when an adapter shares one database.
func uniqueStream(prefix string) string { return prefix + "-" + uuid.NewString() }

func testRoundTrip(t *testing.T, h Harness) {
	s := h.New(t)
	stream := uniqueStream("order")
	in := events(3, "OrderPlaced")
	before := time.Now().Add(-time.Minute)
	res := mustAppend(t, s, stream, eventstore.NoStream, in...)
	if res.NextExpectedVersion != 2 {
		t.Fatalf("NextExpectedVersion = %d, want 2", res.NextExpectedVersion)
	}
	got := mustReadStream(t, s, stream, eventstore.ReadStreamOptions{})
	if len(got) != 3 {
		t.Fatalf("read %d events, want 3", len(got))
	}
	for i, e := range got {
		if e.ID != in[i].ID || e.Type != in[i].Type || e.Stream != stream || e.Version != uint64(i) {
			t.Errorf("event %d = %+v, want id %s type %s version %d", i, e, in[i].ID, in[i].Type, i)
		}
		assertJSONEqual(t, "data", e.Data, in[i].Data)
		assertJSONEqual(t, "metadata", e.Metadata, in[i].Metadata)
		if e.Time.Before(before) || e.Time.After(time.Now().Add(time.Minute)) {
			t.Errorf("event %d time %v is not now", i, e.Time)
		}
		if i > 0 && !got[i-1].Position.Before(e.Position) {
			t.Errorf("positions not increasing: %v then %v", got[i-1].Position, e.Position)
		}
	}
	if res.Position != got[2].Position {
		t.Errorf("append position %v, last event position %v", res.Position, got[2].Position)
	}
	all := readAllEventually(t, s, eventstore.Filter{StreamPrefixes: []string{stream}}, 3)
	if len(all) != 3 || all[2].Position != res.Position {
		t.Fatalf("ReadAll gave %d events ending at %v, want 3 ending at %v", len(all), lastPos(all), res.Position)
	}
	p, err := eventstore.ParsePosition(res.Position.String())
	if err != nil || p != res.Position {
		t.Fatalf("position round trip: %v, %v", p, err)
	}
}

func lastPos(evs []eventstore.RecordedEvent) eventstore.Position {
	if len(evs) == 0 {
		return eventstore.Start
	}
	return evs[len(evs)-1].Position
}

func assertJSONEqual(t testing.TB, what string, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Errorf("%s is not JSON: %v", what, err)
		return
	}
	_ = json.Unmarshal(want, &w)
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if string(gb) != string(wb) {
		t.Errorf("%s = %s, want %s", what, gb, wb)
	}
}

func testReadStreamSlices(t *testing.T, h Harness) {
	s := h.New(t)
	stream := uniqueStream("slices")
	mustAppend(t, s, stream, eventstore.NoStream, events(10, "Tick")...)
	versions := func(evs []eventstore.RecordedEvent) string {
		var b strings.Builder
		for _, e := range evs {
			fmt.Fprintf(&b, "%d,", e.Version)
		}
		return b.String()
	}
	cases := []struct {
		name string
		opts eventstore.ReadStreamOptions
		want string
	}{
		{"forwards all", eventstore.ReadStreamOptions{}, "0,1,2,3,4,5,6,7,8,9,"},
		{"forwards from 7", eventstore.ReadStreamOptions{From: 7}, "7,8,9,"},
		{"forwards from 2 limit 3", eventstore.ReadStreamOptions{From: 2, Limit: 3}, "2,3,4,"},
		{"forwards past end", eventstore.ReadStreamOptions{From: 10}, ""},
		{"backwards from end", eventstore.ReadStreamOptions{Direction: eventstore.Backwards, From: eventstore.EndOfStream, Limit: 3}, "9,8,7,"},
		{"backwards from 4", eventstore.ReadStreamOptions{Direction: eventstore.Backwards, From: 4}, "4,3,2,1,0,"},
		{"backwards last one", eventstore.ReadStreamOptions{Direction: eventstore.Backwards, From: eventstore.EndOfStream, Limit: 1}, "9,"},
	}
	for _, c := range cases {
		if got := versions(mustReadStream(t, s, stream, c.opts)); got != c.want {
			t.Errorf("%s: versions %q, want %q", c.name, got, c.want)
		}
	}
}

func testMissingStream(t *testing.T, h Harness) {
	s := h.New(t)
	_, err := s.ReadStream(context.Background(), uniqueStream("missing"), eventstore.ReadStreamOptions{})
	if !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Fatalf("err = %v, want ErrStreamNotFound", err)
	}
	_, err = s.ReadStream(context.Background(), uniqueStream("missing"), eventstore.ReadStreamOptions{Direction: eventstore.Backwards, From: eventstore.EndOfStream})
	if !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Fatalf("backwards err = %v, want ErrStreamNotFound", err)
	}
}

func testExpectedVersion(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := context.Background()
	type step struct {
		name     string
		expected eventstore.ExpectedVersion
		existing int // events already in the stream
		wantOK   bool
		actual   int64
	}
	steps := []step{
		{"Any on new stream", eventstore.Any, 0, true, 0},
		{"Any on existing stream", eventstore.Any, 2, true, 0},
		{"NoStream on new stream", eventstore.NoStream, 0, true, 0},
		{"NoStream on existing stream", eventstore.NoStream, 2, false, 1},
		{"StreamExists on existing stream", eventstore.StreamExists, 1, true, 0},
		{"StreamExists on new stream", eventstore.StreamExists, 0, false, eventstore.NoStreamVersion},
		{"Exact matching", eventstore.Exact(2), 3, true, 0},
		{"Exact behind", eventstore.Exact(0), 3, false, 2},
		{"Exact ahead", eventstore.Exact(5), 3, false, 2},
		{"Exact(0) on new stream", eventstore.Exact(0), 0, false, eventstore.NoStreamVersion},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			stream := uniqueStream("ev")
			if st.existing > 0 {
				mustAppend(t, s, stream, eventstore.NoStream, events(st.existing, "Seed")...)
			}
			res, err := s.Append(ctx, stream, st.expected, NewEvent("Next", map[string]int{"x": 1}))
			if st.wantOK {
				if err != nil {
					t.Fatalf("append with %s: %v", st.expected, err)
				}
				if res.NextExpectedVersion != uint64(st.existing) {
					t.Fatalf("NextExpectedVersion = %d, want %d", res.NextExpectedVersion, st.existing)
				}
				return
			}
			if !errors.Is(err, eventstore.ErrWrongExpectedVersion) {
				t.Fatalf("append with %s: err = %v, want ErrWrongExpectedVersion", st.expected, err)
			}
			var wev *eventstore.WrongExpectedVersionError
			if !errors.As(err, &wev) {
				t.Fatalf("error %T does not carry *WrongExpectedVersionError", err)
			}
			if wev.Stream != stream || wev.Expected != st.expected || wev.Actual != st.actual {
				t.Fatalf("error = %+v, want stream %s expected %s actual %d", wev, stream, st.expected, st.actual)
			}
			got, _ := s.ReadStream(ctx, stream, eventstore.ReadStreamOptions{})
			if len(got) != st.existing {
				t.Fatalf("a rejected append changed the stream: %d events, want %d", len(got), st.existing)
			}
		})
	}
}

func testIdempotent(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := context.Background()
	stream := uniqueStream("idem")
	batch := events(3, "Created")
	first := mustAppend(t, s, stream, eventstore.NoStream, batch...)
	for _, exp := range []eventstore.ExpectedVersion{eventstore.NoStream, eventstore.Any, eventstore.Exact(7)} {
		again, err := s.Append(ctx, stream, exp, batch...)
		if err != nil {
			t.Fatalf("re-append with %s: %v", exp, err)
		}
		if again != first {
			t.Fatalf("re-append result %+v, want original %+v", again, first)
		}
	}
	// The tail of the batch alone is also already stored.
	if _, err := s.Append(ctx, stream, eventstore.Any, batch[1:]...); err != nil {
		t.Fatalf("re-append of a stored suffix: %v", err)
	}
	got := mustReadStream(t, s, stream, eventstore.ReadStreamOptions{})
	if len(got) != 3 {
		t.Fatalf("stream has %d events after re-appends, want 3", len(got))
	}
	if h.StreamScopedEventIDs {
		return
	}
	// Mixing stored and new IDs is not idempotent.
	_, err := s.Append(ctx, stream, eventstore.Any, batch[2], NewEvent("New", map[string]int{}))
	if !errors.Is(err, eventstore.ErrDuplicateEventID) {
		t.Fatalf("partial re-append: err = %v, want ErrDuplicateEventID", err)
	}
	// An ID stored in another stream cannot be reused.
	_, err = s.Append(ctx, uniqueStream("other"), eventstore.Any, batch[0])
	if !errors.Is(err, eventstore.ErrDuplicateEventID) {
		t.Fatalf("cross-stream re-append: err = %v, want ErrDuplicateEventID", err)
	}
	if got := mustReadStream(t, s, stream, eventstore.ReadStreamOptions{}); len(got) != 3 {
		t.Fatalf("stream has %d events, want 3", len(got))
	}
}

func testInvalid(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := context.Background()
	before, err := s.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		name   string
		stream string
		evs    []eventstore.Event
	}{
		{"no events", "s-1", nil},
		{"empty stream name", "", []eventstore.Event{NewEvent("A", 1)}},
		{"no type", "s-2", []eventstore.Event{{ID: uuid.New(), Data: []byte(`{}`)}}},
		{"nil id", "s-3", []eventstore.Event{{Type: "A", Data: []byte(`{}`)}}},
		{"data not JSON", "s-4", []eventstore.Event{{ID: uuid.New(), Type: "A", Data: []byte(`{"x":`)}}},
		{"metadata not JSON", "s-5", []eventstore.Event{{ID: uuid.New(), Type: "A", Data: []byte(`{}`), Metadata: []byte(`nope`)}}},
	}
	for _, b := range bad {
		_, err := s.Append(ctx, b.stream, eventstore.Any, b.evs...)
		if !errors.Is(err, eventstore.ErrInvalidEvent) {
			t.Errorf("%s: err = %v, want ErrInvalidEvent", b.name, err)
		}
	}
	if head, err := s.Head(ctx); err != nil || head != before {
		t.Fatalf("invalid appends changed the log: head %v -> %v, %v", before, head, err)
	}
}

func testConcurrentOneStream(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := context.Background()
	stream := uniqueStream("contended")
	const writers = 32
	var conflicts atomic.Int64
	var wg sync.WaitGroup
	ids := make([]uuid.UUID, writers)
	errs := make(chan error, writers)
	start := make(chan struct{})
	for w := 0; w < writers; w++ {
		ev := NewEvent("Contended", map[string]int{"writer": w})
		ids[w] = ev.ID
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for attempt := 0; attempt < 10*writers; attempt++ {
				expected := eventstore.NoStream
				last, err := s.ReadStream(ctx, stream, eventstore.ReadStreamOptions{Direction: eventstore.Backwards, From: eventstore.EndOfStream, Limit: 1})
				switch {
				case errors.Is(err, eventstore.ErrStreamNotFound):
				case err != nil:
					errs <- err
					return
				default:
					expected = eventstore.Exact(last[0].Version)
				}
				_, err = s.Append(ctx, stream, expected, ev)
				if err == nil {
					return
				}
				if !errors.Is(err, eventstore.ErrWrongExpectedVersion) {
					errs <- err
					return
				}
				conflicts.Add(1)
			}
			errs <- fmt.Errorf("writer gave up after too many conflicts")
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got := mustReadStream(t, s, stream, eventstore.ReadStreamOptions{})
	if len(got) != writers {
		t.Fatalf("stream has %d events, want %d (lost or duplicated)", len(got), writers)
	}
	seen := map[uuid.UUID]bool{}
	for i, e := range got {
		if e.Version != uint64(i) {
			t.Fatalf("event %d has version %d", i, e.Version)
		}
		if seen[e.ID] {
			t.Fatalf("event %s stored twice", e.ID)
		}
		seen[e.ID] = true
	}
	for _, id := range ids {
		if !seen[id] {
			t.Fatalf("event %s lost", id)
		}
	}
	t.Logf("%d writers, %d version conflicts retried", writers, conflicts.Load())
}

// collect reads n events from sub or fails.
func collect(t testing.TB, sub eventstore.Subscription, n int) []eventstore.RecordedEvent {
	t.Helper()
	out := make([]eventstore.RecordedEvent, 0, n)
	deadline := time.After(deliveryTimeout)
	for len(out) < n {
		select {
		case e, ok := <-sub.Events():
			if !ok {
				t.Fatalf("subscription ended after %d of %d events: %v", len(out), n, sub.Err())
			}
			out = append(out, e)
		case <-deadline:
			t.Fatalf("subscription delivered %d of %d events before the deadlock guard", len(out), n)
		}
	}
	return out
}

func testLateCommit(t *testing.T, h Harness) {
	s := h.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	prefix := uniqueStream("late")
	sub, err := s.Subscribe(ctx, eventstore.Start, eventstore.Filter{StreamPrefixes: []string{prefix}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	const writers, perWriter = 6, 40
	var wg sync.WaitGroup
	var held uuid.UUID
	heldReady := make(chan func() error, 1)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				if _, err := s.Append(ctx, fmt.Sprintf("%s-w%d-%d", prefix, w, i%5), eventstore.Any, NewEvent("Written", map[string]int{"w": w, "i": i})); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	total := writers * perWriter
	if h.BeginAppend != nil {
		ev := NewEvent("Late", map[string]string{"held": "open"})
		held = ev.ID
		heldReady <- h.BeginAppend(t, s, prefix+"-held", ev)
		total++
	}
	wg.Wait()
	if h.BeginAppend != nil {
		// Every writer has committed after the held transaction began. A
		// reader must not have passed the held event's position.
		time.Sleep(50 * time.Millisecond)
		commit := <-heldReady
		if err := commit(); err != nil {
			t.Fatalf("commit held append: %v", err)
		}
	}
	got := collect(t, sub, total)
	seen := map[uuid.UUID]bool{}
	for i, e := range got {
		if seen[e.ID] {
			t.Fatalf("event %s delivered twice", e.ID)
		}
		seen[e.ID] = true
		if i > 0 && !got[i-1].Position.Before(e.Position) {
			for j, g := range got {
				t.Logf("%d %v %s %s", j, g.Position, g.Stream, g.Type)
			}
			t.Fatalf("delivery order differs from position order at %d: %v then %v", i, got[i-1].Position, e.Position)
		}
	}
	if held != uuid.Nil && !seen[held] {
		t.Fatalf("the late-committed event was skipped")
	}
	// A fresh reader sees exactly the same order.
	again := readAllEventually(t, s, eventstore.Filter{StreamPrefixes: []string{prefix}}, len(got))
	if len(again) != len(got) {
		t.Fatalf("ReadAll has %d events, subscription delivered %d", len(again), len(got))
	}
	for i := range again {
		if again[i].ID != got[i].ID {
			t.Fatalf("ReadAll order differs from delivery order at %d", i)
		}
	}
}

func testSubscription(t *testing.T, h Harness) {
	s := h.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream := uniqueStream("sub")
	f := eventstore.Filter{StreamPrefixes: []string{stream}}
	mustAppend(t, s, stream, eventstore.NoStream, events(10, "Hist")...)
	sub, err := s.Subscribe(ctx, eventstore.Start, f)
	if err != nil {
		t.Fatal(err)
	}
	history := collect(t, sub, 10)
	for i, e := range history {
		if e.Version != uint64(i) || e.Type != "Hist" {
			t.Fatalf("history event %d = version %d type %s", i, e.Version, e.Type)
		}
	}
	for i := 0; i < 5; i++ {
		mustAppend(t, s, stream, eventstore.Any, NewEvent("Live", map[string]int{"i": i}))
	}
	live := collect(t, sub, 5)
	for i, e := range live {
		if e.Version != uint64(10+i) || e.Type != "Live" {
			t.Fatalf("live event %d = version %d type %s", i, e.Version, e.Type)
		}
	}
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	if err := sub.Err(); err != nil {
		t.Fatalf("Err after Close = %v, want nil", err)
	}
	// Resume from a checkpoint in the middle: no gap, no duplicate.
	checkpoint := history[6].Position
	resumed, err := s.Subscribe(ctx, checkpoint, f)
	if err != nil {
		t.Fatal(err)
	}
	defer resumed.Close()
	rest := collect(t, resumed, 8)
	for i, e := range rest {
		if e.Version != uint64(7+i) {
			t.Fatalf("resumed event %d has version %d, want %d", i, e.Version, 7+i)
		}
	}
	select {
	case e, ok := <-resumed.Events():
		if ok {
			t.Fatalf("unexpected extra event %d", e.Version)
		}
	case <-time.After(100 * time.Millisecond):
	}
}

func testFilters(t *testing.T, h Harness) {
	s := h.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tag := strings.ReplaceAll(uuid.NewString(), "-", "")
	cust, dep := "customer"+tag+"-", "deployment"+tag+"-"
	mustAppend(t, s, cust+"1", eventstore.NoStream, NewEvent("CustomerSignedUp", 1), NewEvent("ProfileUpdated", 2))
	mustAppend(t, s, dep+"1", eventstore.NoStream, NewEvent("DeploymentRequested", 3), NewEvent("ServerCreated", 4))
	mustAppend(t, s, cust+"2", eventstore.NoStream, NewEvent("CustomerSignedUp", 5))
	types := func(evs []eventstore.RecordedEvent) string {
		var out []string
		for _, e := range evs {
			out = append(out, e.Type)
		}
		return strings.Join(out, ",")
	}
	both := []string{cust, dep}
	cases := []struct {
		name string
		f    eventstore.Filter
		want string
	}{
		{"prefix customer", eventstore.Filter{StreamPrefixes: []string{cust}}, "CustomerSignedUp,ProfileUpdated,CustomerSignedUp"},
		{"prefix deployment", eventstore.Filter{StreamPrefixes: []string{dep}}, "DeploymentRequested,ServerCreated"},
		{"type", eventstore.Filter{EventTypes: []string{"CustomerSignedUp", "ServerCreated"}, StreamPrefixes: both}, "CustomerSignedUp,ServerCreated,CustomerSignedUp"},
		{"type and prefix", eventstore.Filter{EventTypes: []string{"CustomerSignedUp"}, StreamPrefixes: []string{cust + "2"}}, "CustomerSignedUp"},
		{"nothing", eventstore.Filter{EventTypes: []string{"Nope"}, StreamPrefixes: both}, ""},
	}
	for _, c := range cases {
		want := 0
		if c.want != "" {
			want = strings.Count(c.want, ",") + 1
		}
		if got := types(readAllEventually(t, s, c.f, want)); got != c.want {
			t.Errorf("ReadAll %s: %q, want %q", c.name, got, c.want)
		}
		if c.want == "" {
			continue
		}
		sub, err := s.Subscribe(ctx, eventstore.Start, c.f)
		if err != nil {
			t.Fatal(err)
		}
		if got := types(collect(t, sub, strings.Count(c.want, ",")+1)); got != c.want {
			t.Errorf("Subscribe %s: %q, want %q", c.name, got, c.want)
		}
		sub.Close()
	}
}

func testLargePayload(t *testing.T, h Harness) {
	s := h.New(t)
	stream := uniqueStream("large")
	big := strings.Repeat("é0123456789", 1<<20/12)
	ev := NewEvent("Big", map[string]string{"blob": big})
	if len(ev.Data) < 1<<20 {
		t.Fatalf("payload is %d bytes, want at least 1 MiB", len(ev.Data))
	}
	mustAppend(t, s, stream, eventstore.NoStream, ev)
	got := mustReadStream(t, s, stream, eventstore.ReadStreamOptions{})
	var body map[string]string
	if err := json.Unmarshal(got[0].Data, &body); err != nil {
		t.Fatal(err)
	}
	if body["blob"] != big {
		t.Fatalf("1 MiB payload did not round-trip (%d bytes back)", len(body["blob"]))
	}
}

func testUnicode(t *testing.T, h Harness) {
	s := h.New(t)
	prefix := "kunde-日本語-" + uuid.NewString()
	stream := prefix + "-🚀-ñ"
	ev := NewEvent("Grüße", map[string]string{"name": "Zoë 👩‍💻", "surrogates": "𝄞"})
	mustAppend(t, s, stream, eventstore.NoStream, ev)
	got := mustReadStream(t, s, stream, eventstore.ReadStreamOptions{})
	if got[0].Stream != stream || got[0].Type != "Grüße" {
		t.Fatalf("got stream %q type %q", got[0].Stream, got[0].Type)
	}
	assertJSONEqual(t, "data", got[0].Data, ev.Data)
	all := readAllEventually(t, s, eventstore.Filter{StreamPrefixes: []string{prefix}}, 1)
	if len(all) != 1 || all[0].Stream != stream {
		t.Fatalf("prefix filter on unicode stream gave %d events", len(all))
	}
}

func testCancellation(t *testing.T, h Harness) {
	s := h.New(t)
	stream := uniqueStream("cancel")
	mustAppend(t, s, stream, eventstore.NoStream, NewEvent("A", 1))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Append(ctx, stream, eventstore.Any, NewEvent("B", 2)); !errors.Is(err, context.Canceled) {
		t.Errorf("Append with cancelled context: %v", err)
	}
	if _, err := s.ReadStream(ctx, stream, eventstore.ReadStreamOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("ReadStream with cancelled context: %v", err)
	}
	if _, err := s.ReadAll(ctx, eventstore.ReadAllOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("ReadAll with cancelled context: %v", err)
	}
	if got := mustReadStream(t, s, stream, eventstore.ReadStreamOptions{}); len(got) != 1 {
		t.Errorf("cancelled append was stored: %d events", len(got))
	}
	// A live subscription ends with the context's error when it is cancelled.
	subCtx, subCancel := context.WithCancel(context.Background())
	sub, err := s.Subscribe(subCtx, eventstore.Start, eventstore.Filter{StreamPrefixes: []string{stream}})
	if err != nil {
		t.Fatal(err)
	}
	collect(t, sub, 1)
	subCancel()
	select {
	case _, ok := <-sub.Events():
		for ok {
			_, ok = <-sub.Events()
		}
	case <-time.After(deliveryTimeout):
		t.Fatal("subscription did not end after cancellation")
	}
	if !errors.Is(sub.Err(), context.Canceled) {
		t.Errorf("subscription Err after cancel = %v, want context.Canceled", sub.Err())
	}
}

func testHead(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := context.Background()
	head, err := s.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	res := mustAppend(t, s, uniqueStream("head"), eventstore.NoStream, events(2, "H")...)
	after := headEventually(t, s, res.Position)
	if after != res.Position || !head.Before(after) {
		t.Fatalf("head %v -> %v, last append at %v", head, after, res.Position)
	}
}
