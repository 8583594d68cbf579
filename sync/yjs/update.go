package yjs

import (
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

// block is the working form of a struct inside merge and diff: position
// and length cached, and mutable the way yjs mutates structs while merging.
type block struct {
	kind   blockKind
	client uint64
	clock  uint64
	length uint64
	item   *Item // blockItem only
}

func (b *block) end() uint64 { return b.clock + b.length }

// decoded is an update read into blocks, with the delete set read after.
type decoded struct {
	blocks []*block
	ds     DeleteSet
}

// decodeBlocks reads all structs of a v1 update, then its delete set. Like
// yjs it ignores bytes after the delete set.
func decodeBlocks(update []byte) (*decoded, error) {
	r := &reader{buf: update}
	numClients, err := r.readVarUint("number of clients")
	if err != nil {
		return nil, err
	}
	if numClients > uint64(r.remaining()) {
		return nil, r.fail(0, "number of clients", ErrUnexpectedEnd)
	}
	var blocks []*block
	for range numClients {
		at := r.pos
		numStructs, err := r.readVarUint("number of structs")
		if err != nil {
			return nil, err
		}
		// Every struct takes at least one byte.
		if numStructs > uint64(r.remaining()) {
			return nil, r.fail(at, "number of structs", ErrUnexpectedEnd)
		}
		client, err := r.readVarUint("client")
		if err != nil {
			return nil, err
		}
		clock, err := r.readVarUint("clock")
		if err != nil {
			return nil, err
		}
		if blocks == nil {
			blocks = make([]*block, 0, min(numStructs, 1024))
		}
		for range numStructs {
			b, err := r.readStruct(client, clock)
			if err != nil {
				return nil, err
			}
			blocks = append(blocks, b)
			clock += b.length
			if clock > maxSafeInteger*2 {
				return nil, r.fail(at, "clock out of range", ErrMalformed)
			}
		}
	}
	ds, err := r.readDeleteSet()
	if err != nil {
		return nil, err
	}
	return &decoded{blocks: blocks, ds: ds}, nil
}

func (r *reader) readStruct(client, clock uint64) (*block, error) {
	at := r.pos
	info, err := r.readUint8("struct info")
	if err != nil {
		return nil, err
	}
	switch {
	case info == infoSkip:
		n, err := r.readVarUint("skip length")
		if err != nil {
			return nil, err
		}
		return &block{kind: blockSkip, client: client, clock: clock, length: n}, nil
	case info&infoContentMask == infoGC:
		n, err := r.readVarUint("gc length")
		if err != nil {
			return nil, err
		}
		return &block{kind: blockGC, client: client, clock: clock, length: n}, nil
	}
	it := &Item{ID: ID{Client: client, Clock: clock}}
	if info&infoOrigin != 0 {
		id, err := r.readID("origin")
		if err != nil {
			return nil, err
		}
		it.Origin = &id
	}
	if info&infoRightOrigin != 0 {
		id, err := r.readID("right origin")
		if err != nil {
			return nil, err
		}
		it.RightOrigin = &id
	}
	if info&(infoOrigin|infoRightOrigin) == 0 {
		isKey, err := r.readVarUint("parent info")
		if err != nil {
			return nil, err
		}
		if isKey == 1 {
			it.Parent = ParentRoot
			if it.ParentName, err = r.readVarString("parent name"); err != nil {
				return nil, err
			}
		} else {
			it.Parent = ParentItem
			if it.ParentID, err = r.readID("parent id"); err != nil {
				return nil, err
			}
		}
		if info&infoParentSub != 0 {
			sub, err := r.readVarString("parent sub")
			if err != nil {
				return nil, err
			}
			it.ParentSub = &sub
		}
	}
	ref := ContentRef(info & infoContentMask)
	if ref == infoSkip {
		return nil, r.fail(at, "skip content in an item", ErrMalformed)
	}
	if ref > RefDoc {
		return nil, r.fail(at, "unknown content ref "+strconv.Itoa(int(ref)), ErrMalformed)
	}
	if it.Content, err = r.readContent(ref); err != nil {
		return nil, err
	}
	return &block{kind: blockItem, client: client, clock: clock, length: it.Content.Len(), item: it}, nil
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
	ds := DeleteSet{}
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

// writeItem writes an item from offset on, as yjs's Item.write: a non-zero
// offset turns the tick before it into the origin.
func (w *writer) writeItem(it *Item, offset uint64) {
	origin := it.Origin
	if offset > 0 {
		origin = &ID{Client: it.ID.Client, Clock: it.ID.Clock + offset - 1}
	}
	info := byte(it.Content.Ref()) & infoContentMask
	if origin != nil {
		info |= infoOrigin
	}
	if it.RightOrigin != nil {
		info |= infoRightOrigin
	}
	if it.ParentSub != nil {
		info |= infoParentSub
	}
	w.writeUint8(info)
	if origin != nil {
		w.writeVarUint(origin.Client)
		w.writeVarUint(origin.Clock)
	}
	if it.RightOrigin != nil {
		w.writeVarUint(it.RightOrigin.Client)
		w.writeVarUint(it.RightOrigin.Clock)
	}
	if origin == nil && it.RightOrigin == nil {
		if it.Parent == ParentItem {
			w.writeVarUint(0)
			w.writeVarUint(it.ParentID.Client)
			w.writeVarUint(it.ParentID.Clock)
		} else {
			w.writeVarUint(1)
			w.writeVarString(it.ParentName)
		}
		if it.ParentSub != nil {
			w.writeVarString(*it.ParentSub)
		}
	}
	it.Content.write(w, offset)
}

// writeBlock writes b from offset on.
func (w *writer) writeBlock(b *block, offset uint64) {
	switch b.kind {
	case blockGC:
		w.writeUint8(infoGC)
		w.writeVarUint(b.length - offset)
	case blockSkip:
		w.writeUint8(infoSkip)
		w.writeVarUint(b.length - offset)
	default:
		w.writeItem(b.item, offset)
	}
}

// DecodeUpdate decodes a v1 update. Errors wrap ErrUnexpectedEnd or
// ErrMalformed (as a *DecodeError with the byte offset). Values are
// normalized as yjs normalizes them when it reads them, so Encode writes
// what yjs would write for the same structs.
func DecodeUpdate(update []byte) (*Update, error) {
	d, err := decodeBlocks(update)
	if err != nil {
		return nil, err
	}
	u := &Update{Structs: make([]Struct, 0, len(d.blocks)), DeleteSet: d.ds}
	for _, b := range d.blocks {
		u.Structs = append(u.Structs, b.public())
	}
	return u, nil
}

func (b *block) public() Struct {
	id := ID{Client: b.client, Clock: b.clock}
	switch b.kind {
	case blockGC:
		return &GC{ID: id, Length: b.length}
	case blockSkip:
		return &Skip{ID: id, Length: b.length}
	default:
		return b.item
	}
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
				w.writeItem(s, 0)
			}
		}
	}
	w.writeDeleteSet(u.DeleteSet)
	return w.buf
}
