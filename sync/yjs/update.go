package yjs

import (
	"fmt"
	"slices"
	"strconv"
)

// ID identifies one clock tick of one client. A struct's ID is the ID of its
// first tick.
type ID struct {
	Client uint64
	Clock  uint64
}

// Struct is one entry of an update: *Item, *GC or *Skip.
type Struct interface {
	// StructID is the ID of the first clock tick the struct covers.
	StructID() ID
	// Len is the number of clock ticks the struct covers.
	Len() uint64
	isStruct()
}

// GC stands for Length ticks of deleted content that was garbage-collected.
type GC struct {
	ID     ID
	Length uint64
}

// Skip stands for Length ticks that an update does not contain (a gap left
// by merging updates that are not contiguous).
type Skip struct {
	ID     ID
	Length uint64
}

// ParentKind says how an Item names its parent.
type ParentKind uint8

// Parent kinds. An Item with an origin or right origin has no parent
// information on the wire (ParentNone): its parent is its neighbour's.
const (
	ParentNone ParentKind = iota // parent implied by Origin or RightOrigin
	ParentRoot                   // a root type, named by ParentName
	ParentItem                   // the type created by the item ParentID
)

// Item is inserted content together with its position: the IDs of its left
// and right neighbours at insertion time (Origin, RightOrigin) and, when it
// has neither, its parent type and map key (ParentSub).
type Item struct {
	ID          ID
	Origin      *ID
	RightOrigin *ID
	Parent      ParentKind
	ParentName  string // ParentRoot: the root type's name
	ParentID    ID     // ParentItem: the ID of the item holding the type
	// ParentSub is the map key for map entries, nil for sequence content.
	// It is written only with the parent (when there are no origins), but
	// it sets a bit of the info byte whenever it is non-nil.
	ParentSub *string
	Content   Content
}

func (*GC) isStruct()   {}
func (*Skip) isStruct() {}
func (*Item) isStruct() {}

// StructID implements Struct.
func (g *GC) StructID() ID { return g.ID }

// Len implements Struct.
func (g *GC) Len() uint64 { return g.Length }

// StructID implements Struct.
func (s *Skip) StructID() ID { return s.ID }

// Len implements Struct.
func (s *Skip) Len() uint64 { return s.Length }

// StructID implements Struct.
func (it *Item) StructID() ID { return it.ID }

// Len implements Struct: the length of its content.
func (it *Item) Len() uint64 { return it.Content.Len() }

// DeleteRange is Len deleted ticks from Clock on.
type DeleteRange struct {
	Clock uint64
	Len   uint64
}

// DeleteSet maps a client to its deleted ranges, in the order they were
// read or added.
type DeleteSet map[uint64][]DeleteRange

// Update is a decoded v1 update: its structs in wire order and its delete
// set.
type Update struct {
	Structs   []Struct
	DeleteSet DeleteSet
}

// info byte bits.
const (
	infoContentMask = 0x1f
	infoParentSub   = 0x20
	infoRightOrigin = 0x40
	infoOrigin      = 0x80
	infoSkip        = 10
	infoGC          = 0
)

type blockKind uint8

const (
	blockItem blockKind = iota
	blockGC
	blockSkip
)

// Flags of an item block.
const (
	hasOrigin uint8 = 1 << iota
	hasRightOrigin
	hasParentSub
	parentIsItem // parent named by parentID, else by parentName
)

// block is the working form of a struct inside merge, diff and state
// vectors: position and length decoded, content kept as its canonical
// encoding (see scanContent), strings as sub-slices of the input. It is
// mutable the way yjs mutates structs while merging.
type block struct {
	kind        blockKind
	ref         ContentRef
	flags       uint8
	client      uint64
	clock       uint64
	length      uint64
	origin      ID
	rightOrigin ID
	parentID    ID
	parentName  []byte
	parentSub   []byte
	content     []byte
}

func (b *block) end() uint64 { return b.clock + b.length }

// structReader reads the structs of a v1 update one at a time, like yjs's
// LazyStructReader; after the last struct its reader is at the delete set.
// Every count is checked against the remaining input before use.
type structReader struct {
	r          reader
	numClients uint64 // client groups not started yet
	numStructs uint64 // structs left in the current group
	groupAt    int
	client     uint64
	clock      uint64
	curr       block // valid after next returned true
	err        error
}

func newStructReader(update []byte) *structReader {
	sr := &structReader{}
	sr.init(update)
	return sr
}

func (sr *structReader) init(update []byte) {
	sr.r = reader{buf: update}
	n, err := sr.r.readVarUint("number of clients")
	if err == nil && n > uint64(sr.r.remaining()) {
		err = sr.r.fail(0, "number of clients", ErrUnexpectedEnd)
	}
	sr.numClients, sr.err = n, err
}

// next reads the next struct into sr.curr. It returns false at the end of
// the structs or on an error (then sr.err is set).
func (sr *structReader) next() bool {
	if sr.err != nil {
		return false
	}
	r := &sr.r
	for sr.numStructs == 0 {
		if sr.numClients == 0 {
			return false
		}
		sr.numClients--
		sr.groupAt = r.pos
		n, err := r.readVarUint("number of structs")
		if err == nil && n > uint64(r.remaining()) {
			// Every struct takes at least one byte.
			err = r.fail(sr.groupAt, "number of structs", ErrUnexpectedEnd)
		}
		if err == nil {
			sr.client, err = r.readVarUint("client")
		}
		if err == nil {
			sr.clock, err = r.readVarUint("clock")
		}
		if err != nil {
			sr.err = err
			return false
		}
		sr.numStructs = n
	}
	sr.numStructs--
	sr.curr = block{client: sr.client, clock: sr.clock}
	if err := r.readStruct(&sr.curr); err != nil {
		sr.err = err
		return false
	}
	sr.clock += sr.curr.length
	if sr.clock > maxSafeInteger*2 {
		sr.err = r.fail(sr.groupAt, "clock out of range", ErrMalformed)
		return false
	}
	return true
}

// finish reads the delete set once all structs were read.
func (sr *structReader) finish() (DeleteSet, error) {
	if sr.err != nil {
		return nil, sr.err
	}
	return sr.r.readDeleteSet()
}

// readStruct reads one struct into b, whose client and clock are set.
func (r *reader) readStruct(b *block) error {
	at := r.pos
	info, err := r.readUint8("struct info")
	if err != nil {
		return err
	}
	switch {
	case info == infoSkip:
		b.kind = blockSkip
		b.length, err = r.readVarUint("skip length")
		return err
	case info&infoContentMask == infoGC:
		b.kind = blockGC
		b.length, err = r.readVarUint("gc length")
		return err
	}
	b.kind = blockItem
	if info&infoOrigin != 0 {
		b.flags |= hasOrigin
		if b.origin, err = r.readID("origin"); err != nil {
			return err
		}
	}
	if info&infoRightOrigin != 0 {
		b.flags |= hasRightOrigin
		if b.rightOrigin, err = r.readID("right origin"); err != nil {
			return err
		}
	}
	if info&(infoOrigin|infoRightOrigin) == 0 {
		isKey, err := r.readVarUint("parent info")
		if err != nil {
			return err
		}
		if isKey == 1 {
			if b.parentName, _, err = r.readVarStringMin("parent name"); err != nil {
				return err
			}
		} else {
			b.flags |= parentIsItem
			if b.parentID, err = r.readID("parent id"); err != nil {
				return err
			}
		}
		if info&infoParentSub != 0 {
			b.flags |= hasParentSub
			if b.parentSub, _, err = r.readVarStringMin("parent sub"); err != nil {
				return err
			}
		}
	}
	ref := ContentRef(info & infoContentMask)
	if ref == infoSkip {
		return r.fail(at, "skip content in an item", ErrMalformed)
	}
	if ref > RefDoc {
		return r.fail(at, "unknown content ref "+strconv.Itoa(int(ref)), ErrMalformed)
	}
	b.ref = ref
	b.length, b.content, err = r.scanContent(ref)
	return err
}

func (r *reader) readID(what string) (ID, error) {
	client, err := r.readVarUint(what)
	if err != nil {
		return ID{}, err
	}
	clock, err := r.readVarUint(what)
	if err != nil {
		return ID{}, err
	}
	return ID{Client: client, Clock: clock}, nil
}

// readDeleteSet reads a v1 delete set. Clients listed with no ranges are
// left out; a client listed twice gets its ranges appended, as in yjs.
func (r *reader) readDeleteSet() (DeleteSet, error) {
	at := r.pos
	n, err := r.readVarUint("delete set size")
	if err != nil {
		return nil, err
	}
	if n > uint64(r.remaining()) {
		return nil, r.fail(at, "delete set size", ErrUnexpectedEnd)
	}
	var ds DeleteSet // nil while empty: most updates have no deletions
	for range n {
		client, err := r.readVarUint("delete set client")
		if err != nil {
			return nil, err
		}
		at := r.pos
		count, err := r.readVarUint("delete set count")
		if err != nil {
			return nil, err
		}
		// Each range takes at least two bytes.
		if count > uint64(r.remaining())/2 {
			return nil, r.fail(at, "delete set count", ErrUnexpectedEnd)
		}
		if count == 0 {
			continue
		}
		if ds == nil {
			ds = DeleteSet{}
		}
		ranges, seen := ds[client]
		if !seen {
			ranges = make([]DeleteRange, 0, count)
		}
		for range count {
			clock, err := r.readVarUint("delete clock")
			if err != nil {
				return nil, err
			}
			length, err := r.readVarUint("delete length")
			if err != nil {
				return nil, err
			}
			ranges = append(ranges, DeleteRange{Clock: clock, Len: length})
		}
		ds[client] = ranges
	}
	return ds, nil
}

// writeDeleteSet writes ds with clients in descending order, as yjs does.
func (w *writer) writeDeleteSet(ds DeleteSet) {
	clients := make([]uint64, 0, len(ds))
	for c := range ds {
		clients = append(clients, c)
	}
	slices.Sort(clients)
	slices.Reverse(clients)
	w.writeVarUint(uint64(len(clients)))
	for _, c := range clients {
		ranges := ds[c]
		w.writeVarUint(c)
		w.writeVarUint(uint64(len(ranges)))
		for _, d := range ranges {
			w.writeVarUint(d.Clock)
			w.writeVarUint(d.Len)
		}
	}
}

// writeItem writes a public Item whole, through the same path as blocks.
func (w *writer) writeItem(it *Item) {
	b := block{kind: blockItem, ref: it.Content.Ref(), client: it.ID.Client, clock: it.ID.Clock}
	if it.Origin != nil {
		b.flags |= hasOrigin
		b.origin = *it.Origin
	}
	if it.RightOrigin != nil {
		b.flags |= hasRightOrigin
		b.rightOrigin = *it.RightOrigin
	}
	if it.Parent == ParentItem {
		b.flags |= parentIsItem
		b.parentID = it.ParentID
	} else {
		b.parentName = []byte(it.ParentName)
	}
	if it.ParentSub != nil {
		b.flags |= hasParentSub
		b.parentSub = []byte(*it.ParentSub)
	}
	var content writer
	it.Content.write(&content, 0)
	b.content = content.buf
	w.writeBlock(&b, 0)
}

// writeBlock writes b from offset on, as yjs's struct.write(encoder,
// offset): the info byte, origins, the parent when there are no origins,
// then the content. A non-zero offset turns the tick before it into the
// origin.
func (w *writer) writeBlock(b *block, offset uint64) {
	switch b.kind {
	case blockGC:
		w.writeUint8(infoGC)
		w.writeVarUint(b.length - offset)
		return
	case blockSkip:
		w.writeUint8(infoSkip)
		w.writeVarUint(b.length - offset)
		return
	}
	info := byte(b.ref) & infoContentMask
	hasOrig := b.flags&hasOrigin != 0 || offset > 0
	origin := b.origin
	if offset > 0 {
		origin = ID{Client: b.client, Clock: b.clock + offset - 1}
	}
	if hasOrig {
		info |= infoOrigin
	}
	if b.flags&hasRightOrigin != 0 {
		info |= infoRightOrigin
	}
	if b.flags&hasParentSub != 0 {
		info |= infoParentSub
	}
	w.writeUint8(info)
	if hasOrig {
		w.writeVarUint(origin.Client)
		w.writeVarUint(origin.Clock)
	}
	if b.flags&hasRightOrigin != 0 {
		w.writeVarUint(b.rightOrigin.Client)
		w.writeVarUint(b.rightOrigin.Clock)
	}
	if !hasOrig && b.flags&hasRightOrigin == 0 {
		if b.flags&parentIsItem != 0 {
			w.writeVarUint(0)
			w.writeVarUint(b.parentID.Client)
			w.writeVarUint(b.parentID.Clock)
		} else {
			w.writeVarUint(1)
			w.writeVarBytes(b.parentName)
		}
		if b.flags&hasParentSub != 0 {
			w.writeVarBytes(b.parentSub)
		}
	}
	if offset > 0 {
		if sliced, ok := sliceContent(b.ref, b.content, offset); ok {
			w.buf = append(w.buf, sliced...)
			return
		}
	}
	w.buf = append(w.buf, b.content...)
}

// DecodeUpdate decodes a v1 update. Errors wrap ErrUnexpectedEnd or
// ErrMalformed (as a *DecodeError with the byte offset). Values are
// normalized as yjs normalizes them when it reads them, so Encode writes
// what yjs would write for the same structs.
func DecodeUpdate(update []byte) (*Update, error) {
	sr := newStructReader(update)
	u := &Update{}
	for sr.next() {
		s, err := sr.curr.public()
		if err != nil {
			return nil, err
		}
		u.Structs = append(u.Structs, s)
	}
	ds, err := sr.finish()
	if err != nil {
		return nil, err
	}
	if ds == nil {
		ds = DeleteSet{}
	}
	u.DeleteSet = ds
	return u, nil
}

// public builds the exported form of b, reading its content into Content.
func (b *block) public() (Struct, error) {
	id := ID{Client: b.client, Clock: b.clock}
	switch b.kind {
	case blockGC:
		return &GC{ID: id, Length: b.length}, nil
	case blockSkip:
		return &Skip{ID: id, Length: b.length}, nil
	}
	it := &Item{ID: id}
	if b.flags&hasOrigin != 0 {
		origin := b.origin
		it.Origin = &origin
	}
	if b.flags&hasRightOrigin != 0 {
		right := b.rightOrigin
		it.RightOrigin = &right
	}
	if b.flags&(hasOrigin|hasRightOrigin) == 0 {
		if b.flags&parentIsItem != 0 {
			it.Parent, it.ParentID = ParentItem, b.parentID
		} else {
			it.Parent, it.ParentName = ParentRoot, string(b.parentName)
		}
	}
	if b.flags&hasParentSub != 0 {
		sub := string(b.parentSub)
		it.ParentSub = &sub
	}
	r := &reader{buf: b.content}
	c, err := r.readContent(b.ref)
	if err != nil {
		// The canonical encoding was checked when it was scanned.
		return nil, fmt.Errorf("yjs: re-reading content of %d:%d: %w", b.client, b.clock, err)
	}
	it.Content = c
	return it, nil
}

// Encode writes u as a v1 update. Consecutive structs of one client whose
// clocks are contiguous share one group; a struct that does not continue
// the previous one starts a new group. The delete set is written with
// clients in descending order, as yjs writes it. An Item without origins
// must name its parent (ParentRoot or ParentItem); ParentNone is written as
// the root type named ParentName.
func (u *Update) Encode() []byte {
	type group struct{ start, end int }
	var groups []group
	var nextClock uint64
	for i, s := range u.Structs {
		id := s.StructID()
		if len(groups) == 0 || id.Client != u.Structs[i-1].StructID().Client || id.Clock != nextClock {
			groups = append(groups, group{start: i, end: i})
		}
		groups[len(groups)-1].end = i + 1
		nextClock = id.Clock + s.Len()
	}
	w := &writer{buf: make([]byte, 0, 64)}
	w.writeVarUint(uint64(len(groups)))
	for _, g := range groups {
		first := u.Structs[g.start].StructID()
		w.writeVarUint(uint64(g.end - g.start))
		w.writeVarUint(first.Client)
		w.writeVarUint(first.Clock)
		for _, s := range u.Structs[g.start:g.end] {
			switch s := s.(type) {
			case *GC:
				w.writeUint8(infoGC)
				w.writeVarUint(s.Length)
			case *Skip:
				w.writeUint8(infoSkip)
				w.writeVarUint(s.Length)
			case *Item:
				w.writeItem(s)
			}
		}
	}
	w.writeDeleteSet(u.DeleteSet)
	return w.buf
}

// ValidateUpdate reports whether update is a v1 update that yjs can read,
// structs and delete set, without building its values (cheaper than
// DecodeUpdate). It returns nil or an error wrapping ErrUnexpectedEnd or
// ErrMalformed. MergeUpdates of a single update does not read it, so a
// server should validate what it stores.
func ValidateUpdate(update []byte) error {
	sr := newStructReader(update)
	for sr.next() {
	}
	_, err := sr.finish()
	return err
}
