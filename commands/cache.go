package commands

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/google/uuid"

	"github.com/webhost-systems/webhost/domain"
	"github.com/webhost-systems/webhost/eventstore"
)

// stateCache keeps the folded state of recently used streams, so that a
// command reads only the events appended since, instead of the whole stream.
// Streams are append-only and events immutable, so a cached state is never
// wrong, only possibly behind; loading always reads forward from it.
//
// To still recognise a resubmitted command, every entry indexes the IDs of
// all its stream's events.
type stateCache struct {
	mu      sync.Mutex
	max     int
	entries map[string]*cacheEntry
}

type cacheEntry struct {
	state    any // the aggregate state S
	version  int64
	position eventstore.Position
	ids      map[uuid.UUID]eventRef
}

type eventRef struct {
	version  uint64
	position eventstore.Position
}

func newStateCache(max int) *stateCache {
	if max <= 0 {
		return nil
	}
	return &stateCache{max: max, entries: make(map[string]*cacheEntry)}
}

// loadCached is load with the cache: it folds only the events after the
// cached version. It does not compute beforeDup.
func loadCached[S any](ctx context.Context, r *Runner, stream string, agg aggregate[S], seed uuid.UUID) (loaded[S], error) {
	c := r.cache
	if c == nil {
		return load(ctx, r.cfg.Store, stream, agg, seed)
	}
	l := loaded[S]{version: eventstore.NoStreamVersion}
	c.mu.Lock()
	entry := c.entries[stream]
	if entry != nil {
		state, ok := entry.state.(S)
		if !ok {
			entry = nil
		} else {
			l.state, l.version, l.position = state, entry.version, entry.position
		}
	}
	c.mu.Unlock()

	from := uint64(0)
	if l.version >= 0 {
		from = uint64(l.version) + 1
	}
	recs, err := r.cfg.Store.ReadStream(ctx, stream, eventstore.ReadStreamOptions{From: from})
	if err != nil && !errors.Is(err, eventstore.ErrStreamNotFound) {
		return l, fmt.Errorf("load %s: %w", stream, err)
	}
	newIDs := make(map[uuid.UUID]eventRef, len(recs))
	for _, rec := range recs {
		ev, _, err := domain.DecodeEvent(rec.Type, rec.Data, rec.Metadata)
		if err != nil {
			return l, fmt.Errorf("load %s version %d: %w", stream, rec.Version, err)
		}
		l.state = agg.evolve(l.state, ev)
		l.version = int64(rec.Version)
		l.position = rec.Position
		newIDs[rec.ID] = eventRef{version: rec.Version, position: rec.Position}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	ids := newIDs
	switch current := c.entries[stream]; {
	case current != nil && current == entry:
		// Extend the entry this load started from.
		for id, ref := range newIDs {
			current.ids[id] = ref
		}
		ids = current.ids
		if l.version > current.version {
			current.state, current.version, current.position = l.state, l.version, l.position
		}
	case entry == nil && l.version >= 0:
		// A full read: it may replace whatever another load installed.
		if current == nil && len(c.entries) >= c.max {
			for victim := range c.entries {
				delete(c.entries, victim)
				break
			}
		}
		if current == nil || current.version <= l.version {
			c.entries[stream] = &cacheEntry{state: l.state, version: l.version, position: l.position, ids: newIDs}
		}
	default:
		// The entry was evicted or replaced meanwhile; this load's index
		// covers only the events it read, so it is not installed, and a
		// resubmission is checked against a full read.
		if seed != uuid.Nil {
			return load(ctx, r.cfg.Store, stream, agg, seed)
		}
		return l, nil
	}
	if seed != uuid.Nil {
		if first, ok := ids[EventID(seed, stream, 0)]; ok {
			l.dup = &Result{Stream: stream, Version: first.version, Position: first.position, Duplicate: true}
			for k := 1; ; k++ {
				next, ok := ids[EventID(seed, stream, k)]
				if !ok || next.version != l.dup.Version+1 {
					break
				}
				l.dup.Version, l.dup.Position = next.version, next.position
			}
		}
	}
	return l, nil
}
