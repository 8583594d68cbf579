package yjs

import (
	"fmt"
	"slices"
)

// EncodeStateVector writes sv (client -> number of its clock ticks known,
// i.e. the next expected clock) in the v1 format, clients in descending order
// as yjs's writeStateVector does.
func EncodeStateVector(sv map[uint64]uint64) []byte {
	clients := make([]uint64, 0, len(sv))
	for c := range sv {
		clients = append(clients, c)
	}
	slices.Sort(clients)
	slices.Reverse(clients)
	w := &writer{buf: make([]byte, 0, 1+len(clients)*8)}
	w.writeVarUint(uint64(len(clients)))
	for _, c := range clients {
		w.writeVarUint(c)
		w.writeVarUint(sv[c])
	}
	return w.buf
}

// DecodeStateVector reads a v1 state vector. A client listed twice keeps
// its last clock, as in yjs. Errors wrap ErrUnexpectedEnd or ErrMalformed.
func DecodeStateVector(stateVector []byte) (map[uint64]uint64, error) {
	r := &reader{buf: stateVector}
	n, err := r.readVarUint("state vector size")
	if err != nil {
		return nil, err
	}
	// Each entry takes at least two bytes.
	if n > uint64(r.remaining())/2 {
		return nil, r.fail(0, "state vector size", ErrUnexpectedEnd)
	}
	sv := make(map[uint64]uint64, min(n, 1024))
	for range n {
		client, err := r.readVarUint("state vector client")
		if err != nil {
			return nil, err
		}
		clock, err := r.readVarUint("state vector clock")
		if err != nil {
			return nil, err
		}
		sv[client] = clock
	}
	return sv, nil
}

// EncodeStateVectorFromUpdate returns the state vector of update, like
// Y.encodeStateVectorFromUpdate: for each run of structs of one client
// that starts at clock 0, the end of its contiguous prefix (counting stops
// at the first Skip). Clients appear in update order. Errors wrap
// ErrUnexpectedEnd or ErrMalformed.
func EncodeStateVectorFromUpdate(update []byte) ([]byte, error) {
	var body writer
	size := uint64(0)
	sr := newStructReader(update)
	if sr.next() {
		first := &sr.curr
		currClient := first.client
		stopCounting := first.clock != 0
		currClock := uint64(0)
		if !stopCounting {
			currClock = first.end()
		}
		for ok := true; ok; ok = sr.next() {
			b := &sr.curr
			if b.client != currClient {
				if currClock != 0 {
					size++
					body.writeVarUint(currClient)
					body.writeVarUint(currClock)
				}
				currClient = b.client
				currClock = 0
				stopCounting = b.clock != 0
			}
			if b.kind == blockSkip {
				stopCounting = true
			}
			if !stopCounting {
				currClock = b.end()
			}
		}
		if currClock != 0 {
			size++
			body.writeVarUint(currClient)
			body.writeVarUint(currClock)
		}
	}
	// yjs reads the structs only; the delete set is not checked.
	if sr.err != nil {
		return nil, fmt.Errorf("state vector from update: %w", sr.err)
	}
	out := appendVarUint(make([]byte, 0, len(body.buf)+2), size)
	return append(out, body.buf...), nil
}

// lazyWriter writes structs grouped by client, the way yjs's
// LazyStructWriter does: a group ends when the client changes, and the
// group header (count, client, start clock) is written once all groups are
// known.
type lazyWriter struct {
	frag       writer // the group being written
	currClient uint64
	written    uint64
	groups     []lazyGroup
	data       []byte // finished groups' bytes, back to back
}

type lazyGroup struct {
	written  uint64
	from, to int // range in data
}

func (lw *lazyWriter) flush() {
	if lw.written > 0 {
		from := len(lw.data)
		lw.data = append(lw.data, lw.frag.buf...)
		lw.groups = append(lw.groups, lazyGroup{written: lw.written, from: from, to: len(lw.data)})
		lw.frag.buf = lw.frag.buf[:0]
		lw.written = 0
	}
}

func (lw *lazyWriter) write(b *block, offset uint64) {
	if lw.written > 0 && lw.currClient != b.client {
		lw.flush()
	}
	if lw.written == 0 {
		lw.currClient = b.client
		lw.frag.writeVarUint(b.client)
		lw.frag.writeVarUint(b.clock + offset)
	}
	lw.frag.writeBlock(b, offset)
	lw.written++
}

// finish writes the struct section to out.
func (lw *lazyWriter) finish(out *writer) {
	lw.flush()
	out.writeVarUint(uint64(len(lw.groups)))
	for _, g := range lw.groups {
		out.writeVarUint(g.written)
		out.buf = append(out.buf, lw.data[g.from:g.to]...)
	}
}

// DiffUpdate returns the part of update that stateVector does not cover,
// like Y.diffUpdate: per client, structs that end at or before the state
// vector's clock are dropped, the first struct that reaches past it is cut
// at that clock, and the rest of that client's run is kept. Leading Skips
// are dropped. The delete set is kept whole. Errors wrap ErrUnexpectedEnd
// or ErrMalformed.
func DiffUpdate(update, stateVector []byte) ([]byte, error) {
	sv, err := DecodeStateVector(stateVector)
	if err != nil {
		return nil, fmt.Errorf("diff update: state vector: %w", err)
	}
	var lw lazyWriter
	sr := newStructReader(update)
	ok := sr.next()
	for ok {
		curr := &sr.curr
		client := curr.client
		svClock := sv[client]
		if curr.kind == blockSkip {
			// The first written struct of a client is never a Skip.
			ok = sr.next()
			continue
		}
		if curr.end() > svClock {
			offset := uint64(0)
			if svClock > curr.clock {
				offset = svClock - curr.clock
			}
			lw.write(curr, offset)
			for ok = sr.next(); ok && sr.curr.client == client; ok = sr.next() {
				lw.write(&sr.curr, 0)
			}
		} else {
			for ok = sr.next(); ok && sr.curr.client == client && sr.curr.end() <= svClock; ok = sr.next() {
			}
		}
	}
	ds, err := sr.finish()
	if err != nil {
		return nil, fmt.Errorf("diff update: %w", err)
	}
	out := &writer{buf: make([]byte, 0, len(update))}
	lw.finish(out)
	out.writeDeleteSet(ds)
	return out.buf, nil
}

// cursor walks the structs of one update, Skips left out (yjs's
// LazyStructReader with filterSkips).
type cursor struct {
	sr   *structReader
	done bool
}

// curr is the current struct, nil once the update is exhausted (or failed:
// the error is kept in c.sr.err).
func (c *cursor) curr() *block {
	if c.done {
		return nil
	}
	return &c.sr.curr
}

// next advances; the block curr returned before is overwritten.
func (c *cursor) next() *block {
	for {
		if !c.sr.next() {
			c.done = true
			return nil
		}
		if c.sr.curr.kind != blockSkip {
			return &c.sr.curr
		}
	}
}

// compareCursors is the order yjs's mergeUpdates sorts its decoders by:
// higher clients first, then lower clocks. Like yjs's comparator it is not
// consistent when an Item and a GC start at the same ID (both orders
// compare as "less"); jsSort reproduces what V8 does with it.
func compareCursors(a, b *cursor) int {
	x, y := a.curr(), b.curr()
	if x.client == y.client {
		switch {
		case x.clock < y.clock:
			return -1
		case x.clock > y.clock:
			return 1
		case x.kind == y.kind:
			return 0
		case x.kind == blockSkip:
			return 1
		default:
			return -1
		}
	}
	if y.client < x.client {
		return -1
	}
	return 1
}

// cursorOrder keeps the merge's cursors in the order yjs's filter + sort
// leaves its decoders in after each step.
//
// Between two steps only the first cursor moves. When no two cursors sit
// on the same ID with different struct kinds, the comparator is a strict
// weak order on them; V8's sort, being stable, then leaves the already
// sorted rest in place and puts the moved cursor before any equal one, so
// a binary search and one move give V8's result. Otherwise (an Item and a
// GC at one ID, where yjs's comparator contradicts itself) the full V8
// sort runs.
type cursorOrder struct {
	active     []*cursor
	started    bool
	consistent bool // active is sorted by key with no Item/GC pair on one ID
	fullSort   bool // always run the V8 sort (tests compare both paths)
}

func cursorKeyCompare(x, y *block) int {
	switch {
	case x.client != y.client:
		if y.client < x.client {
			return -1
		}
		return 1
	case x.clock < y.clock:
		return -1
	case x.clock > y.clock:
		return 1
	}
	return 0
}

func (o *cursorOrder) next() []*cursor {
	if o.started && o.consistent && len(o.active) > 0 && !o.fullSort {
		first := o.active[0]
		rest := o.active[1:]
		if first.curr() == nil {
			o.active = rest
			return o.active
		}
		x := first.curr()
		pos, _ := slices.BinarySearchFunc(rest, x, func(c *cursor, x *block) int {
			return cursorKeyCompare(c.curr(), x)
		})
		tie := false
		for i := pos; i < len(rest) && cursorKeyCompare(rest[i].curr(), x) == 0; i++ {
			if rest[i].curr().kind != x.kind {
				tie = true
				break
			}
		}
		if !tie {
			copy(o.active, rest[:pos])
			o.active[pos] = first
			return o.active
		}
	}
	o.started = true
	kept := o.active[:0]
	for _, c := range o.active {
		if c.curr() != nil {
			kept = append(kept, c)
		}
	}
	o.active = kept
	jsSort(o.active, compareCursors)
	o.consistent = true
	for i := 1; i < len(o.active); i++ {
		prev, cur := o.active[i-1].curr(), o.active[i].curr()
		if c := cursorKeyCompare(prev, cur); c > 0 || (c == 0 && prev.kind != cur.kind) {
			o.consistent = false
			break
		}
	}
	return o.active
}

// sliceBlock returns the part of b from diff on, as yjs's sliceStruct: a
// sliced Item gets the tick before the cut as its origin.
func sliceBlock(b *block, diff uint64) (block, error) {
	out := *b
	out.clock = b.clock + diff
	out.length = b.length - diff
	if b.kind != blockItem {
		return out, nil
	}
	content, ok := sliceContent(b.ref, b.content, diff)
	if !ok {
		return block{}, &DecodeError{What: fmt.Sprintf("cannot split content %d of item %d:%d", b.ref, b.client, b.clock), Err: ErrMalformed}
	}
	out.content = content
	out.flags |= hasOrigin
	out.origin = ID{Client: b.client, Clock: b.clock + diff - 1}
	return out, nil
}

// mergeBlocks appends right to left when yjs's mergeWith would: GC with GC
// and Skip with Skip. Items read from updates never merge (their right
// neighbour is unknown).
func mergeBlocks(left, right *block) bool {
	if left.kind == blockItem || left.kind != right.kind {
		return false
	}
	left.length += right.length
	return true
}

// MergeUpdates merges v1 updates into one, like Y.mergeUpdates: structs
// of all updates are written per client in clock order (higher clients
// first), overlapping structs are cut, gaps become Skips, and the delete
// sets are merged. Like yjs, a single update is returned unchanged (as a
// copy) without being read: use DecodeUpdate to validate one. Errors wrap
// ErrUnexpectedEnd or ErrMalformed and name the update.
func MergeUpdates(updates [][]byte) ([]byte, error) {
	return mergeUpdates(updates, false)
}

func mergeUpdates(updates [][]byte, fullSort bool) ([]byte, error) {
	if len(updates) == 1 {
		// yjs returns a single update as it is, without reading it.
		return slices.Clone(updates[0]), nil
	}
	// One allocation for all readers and cursors.
	readers := make([]structReader, len(updates))
	store := make([]cursor, len(updates))
	cursors := make([]*cursor, len(updates))
	size := 0
	for i, u := range updates {
		readers[i].init(u)
		store[i] = cursor{sr: &readers[i]}
		store[i].next()
		cursors[i] = &store[i]
		size += len(u)
	}
	lw := lazyWriter{data: make([]byte, 0, size)}
	var cur block // yjs's currWrite, a copy: cursors reuse their blocks
	hasCur := false
	order := cursorOrder{active: slices.Clone(cursors), fullSort: fullSort}
	for {
		// Drop exhausted cursors, then order by client (descending) and
		// clock, exactly as yjs's filter + sort.
		active := order.next()
		if len(active) == 0 {
			break
		}
		cd := active[0]
		firstClient := cd.curr().client
		if hasCur {
			curr := cd.curr()
			iterated := false
			// Skip what was written already; higher clients come first.
			for curr != nil && curr.end() <= cur.end() && curr.client >= cur.client {
				curr = cd.next()
				iterated = true
			}
			if curr == nil || curr.client != firstClient || (iterated && curr.clock > cur.end()) {
				continue
			}
			switch {
			case firstClient != cur.client:
				lw.write(&cur, 0)
				cur = *curr
				cd.next()
			case cur.end() < curr.clock:
				// A gap: fill it with a Skip.
				if cur.kind == blockSkip {
					cur.length = curr.end() - cur.clock
				} else {
					lw.write(&cur, 0)
					cur = block{kind: blockSkip, client: firstClient, clock: cur.end(), length: curr.clock - cur.end()}
				}
			default:
				diff := cur.end() - curr.clock
				if diff > 0 {
					if cur.kind == blockSkip {
						// Prefer cutting the Skip: the other struct has content.
						cur.length -= diff
					} else {
						sliced, err := sliceBlock(curr, diff)
						if err != nil {
							return nil, fmt.Errorf("merge updates: %w", err)
						}
						curr = &sliced
					}
				}
				if !mergeBlocks(&cur, curr) {
					lw.write(&cur, 0)
					cur = *curr
					cd.next()
				}
			}
		} else {
			cur = *cd.curr()
			hasCur = true
			cd.next()
		}
		for next := cd.curr(); next != nil && next.client == firstClient && next.clock == cur.end() && next.kind != blockSkip; next = cd.next() {
			lw.write(&cur, 0)
			cur = *next
		}
	}
	if hasCur {
		lw.write(&cur, 0)
	}
	dss := make([]DeleteSet, 0, len(updates))
	for i, c := range cursors {
		ds, err := c.sr.finish()
		if err != nil {
			return nil, fmt.Errorf("merge updates: update %d: %w", i, err)
		}
		dss = append(dss, ds)
	}
	out := &writer{buf: make([]byte, 0, size)}
	lw.finish(out)
	out.writeDeleteSet(mergeDeleteSets(dss))
	return out.buf, nil
}

// mergeDeleteSets merges delete sets as yjs's mergeDeleteSets: per client
// the ranges of all sets are concatenated in order, stably sorted by clock,
// and overlapping or touching ranges are joined.
func mergeDeleteSets(dss []DeleteSet) DeleteSet {
	merged := DeleteSet{}
	for i, ds := range dss {
		for client, ranges := range ds {
			if _, done := merged[client]; done {
				continue
			}
			all := slices.Clone(ranges)
			for _, later := range dss[i+1:] {
				all = append(all, later[client]...)
			}
			merged[client] = sortAndMergeRanges(all)
		}
	}
	return merged
}

func sortAndMergeRanges(dels []DeleteRange) []DeleteRange {
	slices.SortStableFunc(dels, func(a, b DeleteRange) int {
		switch {
		case a.Clock < b.Clock:
			return -1
		case a.Clock > b.Clock:
			return 1
		}
		return 0
	})
	if len(dels) == 0 {
		return dels
	}
	j := 1
	for i := 1; i < len(dels); i++ {
		left := &dels[j-1]
		right := dels[i]
		if left.Clock+left.Len >= right.Clock {
			left.Len = max(left.Len, right.Clock+right.Len-left.Clock)
		} else {
			dels[j] = right
			j++
		}
	}
	return dels[:j]
}
