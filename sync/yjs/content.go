package yjs

import (
	"strconv"
)

// ContentRef identifies a content type in an Item's info byte (its low 5
// bits).
type ContentRef uint8

// Content type numbers, as yjs's contentRefs table assigns them.
const (
	RefDeleted ContentRef = 1
	RefJSON    ContentRef = 2
	RefBinary  ContentRef = 3
	RefString  ContentRef = 4
	RefEmbed   ContentRef = 5
	RefFormat  ContentRef = 6
	RefType    ContentRef = 7
	RefAny     ContentRef = 8
	RefDoc     ContentRef = 9
)

// Content is the payload of an Item. Its length counts clock ticks: UTF-16
// code units for strings, elements for arrays, 1 for single values.
type Content interface {
	// Ref is the content type number written in the info byte.
	Ref() ContentRef
	// Len is the number of clock ticks the content spans.
	Len() uint64
	// write writes the content from offset on, as yjs's content.write.
	write(w *writer, offset uint64)
}

// ContentDeleted is the content of a deleted item whose payload was
// dropped; it only keeps the length.
type ContentDeleted struct {
	Length uint64
}

// ContentJSON is legacy array content: each element is JSON text, or the
// string "undefined" for JavaScript undefined.
type ContentJSON struct {
	Values []string
}

// ContentBinary is a Uint8Array inserted into an array or map.
type ContentBinary struct {
	Data []byte
}

// ContentString is text. Str is valid UTF-8; its length in clock ticks is
// its length in UTF-16 code units.
type ContentString struct {
	Str string
}

// ContentEmbed is an embed in rich text, as JSON text.
type ContentEmbed struct {
	Embed string
}

// ContentFormat is a formatting attribute in rich text; Value is JSON text.
type ContentFormat struct {
	Key   string
	Value string
}

// TypeRef identifies the shared type of a ContentType.
type TypeRef uint8

// Shared type numbers, as yjs's typeRefs table assigns them.
const (
	TypeArray       TypeRef = 0
	TypeMap         TypeRef = 1
	TypeText        TypeRef = 2
	TypeXMLElement  TypeRef = 3
	TypeXMLFragment TypeRef = 4
	TypeXMLHook     TypeRef = 5
	TypeXMLText     TypeRef = 6
)

// ContentType is a nested shared type. Name is the node name of an
// XmlElement or the hook name of an XmlHook, empty otherwise.
type ContentType struct {
	Type TypeRef
	Name string
}

// ContentAny is array or map content of lib0 "any" values.
type ContentAny struct {
	Values []Any
}

// ContentDoc is a sub-document: its guid and the options yjs keeps (gc,
// autoLoad, meta), normalized as yjs's ContentDoc constructor does.
type ContentDoc struct {
	GUID string
	Opts Any // always an AnyObject
}

// Ref implements Content.
func (*ContentDeleted) Ref() ContentRef { return RefDeleted }

// Ref implements Content.
func (*ContentJSON) Ref() ContentRef { return RefJSON }

// Ref implements Content.
func (*ContentBinary) Ref() ContentRef { return RefBinary }

// Ref implements Content.
func (*ContentString) Ref() ContentRef { return RefString }

// Ref implements Content.
func (*ContentEmbed) Ref() ContentRef { return RefEmbed }

// Ref implements Content.
func (*ContentFormat) Ref() ContentRef { return RefFormat }

// Ref implements Content.
func (*ContentType) Ref() ContentRef { return RefType }

// Ref implements Content.
func (*ContentAny) Ref() ContentRef { return RefAny }

// Ref implements Content.
func (*ContentDoc) Ref() ContentRef { return RefDoc }

// Len implements Content.
func (c *ContentDeleted) Len() uint64 { return c.Length }

// Len implements Content.
func (c *ContentJSON) Len() uint64 { return uint64(len(c.Values)) }

// Len implements Content.
func (*ContentBinary) Len() uint64 { return 1 }

// Len implements Content: the UTF-16 length of Str.
func (c *ContentString) Len() uint64 { return utf16Len(c.Str) }

// Len implements Content.
func (*ContentEmbed) Len() uint64 { return 1 }

// Len implements Content.
func (*ContentFormat) Len() uint64 { return 1 }

// Len implements Content.
func (*ContentType) Len() uint64 { return 1 }

// Len implements Content.
func (c *ContentAny) Len() uint64 { return uint64(len(c.Values)) }

// Len implements Content.
func (*ContentDoc) Len() uint64 { return 1 }

func (c *ContentDeleted) write(w *writer, offset uint64) { w.writeVarUint(c.Length - offset) }

func (c *ContentJSON) write(w *writer, offset uint64) {
	offset = min(offset, uint64(len(c.Values)))
	w.writeVarUint(uint64(len(c.Values)) - offset)
	for _, v := range c.Values[offset:] {
		w.writeVarString(v)
	}
}

func (c *ContentBinary) write(w *writer, _ uint64) { w.writeVarBytes(c.Data) }

func (c *ContentString) write(w *writer, offset uint64) {
	if offset == 0 {
		w.writeVarString(c.Str)
		return
	}
	_, rightStart, cut := splitUTF16(c.Str, offset)
	if cut {
		w.writeVarString(replacementChar + c.Str[rightStart:])
		return
	}
	w.writeVarString(c.Str[rightStart:])
}

func (c *ContentEmbed) write(w *writer, _ uint64) { w.writeVarString(c.Embed) }

func (c *ContentFormat) write(w *writer, _ uint64) {
	w.writeVarString(c.Key)
	w.writeVarString(c.Value)
}

func (c *ContentType) write(w *writer, _ uint64) {
	w.writeVarUint(uint64(c.Type))
	if c.Type == TypeXMLElement || c.Type == TypeXMLHook {
		w.writeVarString(c.Name)
	}
}

func (c *ContentAny) write(w *writer, offset uint64) {
	offset = min(offset, uint64(len(c.Values)))
	w.writeVarUint(uint64(len(c.Values)) - offset)
	for _, v := range c.Values[offset:] {
		w.writeAny(v)
	}
}

func (c *ContentDoc) write(w *writer, _ uint64) {
	w.writeVarString(c.GUID)
	w.writeAny(c.Opts)
}

// readContent reads the content of type ref, as yjs's readItemContent.
func (r *reader) readContent(ref ContentRef) (Content, error) {
	switch ref {
	case RefDeleted:
		n, err := r.readVarUint("deleted length")
		if err != nil {
			return nil, err
		}
		return &ContentDeleted{Length: n}, nil
	case RefJSON:
		start := r.pos
		n, err := r.readVarUint("json length")
		if err != nil {
			return nil, err
		}
		if n > uint64(r.remaining()) {
			return nil, r.fail(start, "json length", ErrUnexpectedEnd)
		}
		vals := make([]string, 0, min(n, 1024))
		for i := uint64(0); i < n; i++ {
			at := r.pos
			s, err := r.readVarString("json element")
			if err != nil {
				return nil, err
			}
			if s != "undefined" {
				if s, err = normalizeJSON(s); err != nil {
					return nil, r.fail(at, "json element: "+err.Error(), ErrMalformed)
				}
			}
			vals = append(vals, s)
		}
		return &ContentJSON{Values: vals}, nil
	case RefBinary:
		b, err := r.readVarBytes("binary")
		if err != nil {
			return nil, err
		}
		return &ContentBinary{Data: append([]byte{}, b...)}, nil
	case RefString:
		s, err := r.readVarString("string")
		if err != nil {
			return nil, err
		}
		return &ContentString{Str: s}, nil
	case RefEmbed:
		at := r.pos
		s, err := r.readVarString("embed")
		if err != nil {
			return nil, err
		}
		if s, err = normalizeJSON(s); err != nil {
			return nil, r.fail(at, "embed: "+err.Error(), ErrMalformed)
		}
		return &ContentEmbed{Embed: s}, nil
	case RefFormat:
		key, err := r.readVarString("format key")
		if err != nil {
			return nil, err
		}
		at := r.pos
		v, err := r.readVarString("format value")
		if err != nil {
			return nil, err
		}
		if v, err = normalizeJSON(v); err != nil {
			return nil, r.fail(at, "format value: "+err.Error(), ErrMalformed)
		}
		return &ContentFormat{Key: key, Value: v}, nil
	case RefType:
		at := r.pos
		ref, err := r.readVarUint("type ref")
		if err != nil {
			return nil, err
		}
		if ref > uint64(TypeXMLText) {
			return nil, r.fail(at, "unknown type ref "+strconv.FormatUint(ref, 10), ErrMalformed)
		}
		c := &ContentType{Type: TypeRef(ref)}
		if c.Type == TypeXMLElement || c.Type == TypeXMLHook {
			if c.Name, err = r.readVarString("xml name"); err != nil {
				return nil, err
			}
		}
		return c, nil
	case RefAny:
		start := r.pos
		n, err := r.readVarUint("any length")
		if err != nil {
			return nil, err
		}
		if n > uint64(r.remaining()) {
			return nil, r.fail(start, "any length", ErrUnexpectedEnd)
		}
		vals := make([]Any, 0, min(n, 1024))
		for i := uint64(0); i < n; i++ {
			v, err := r.readAny(0)
			if err != nil {
				return nil, err
			}
			vals = append(vals, v)
		}
		return &ContentAny{Values: vals}, nil
	case RefDoc:
		return r.readContentDoc()
	default:
		return nil, r.fail(r.pos, "unknown content ref "+strconv.Itoa(int(ref)), ErrMalformed)
	}
}

// readContentDoc reads a sub-document and normalizes its options the way
// yjs does: it builds a Doc from {guid, ...opts} and keeps only gc: false,
// autoLoad: true and a non-null meta.
func (r *reader) readContentDoc() (Content, error) {
	guid, err := r.readVarString("doc guid")
	if err != nil {
		return nil, err
	}
	at := r.pos
	opts, err := r.readAny(0)
	if err != nil {
		return nil, err
	}
	if opts.Kind == AnyNull || opts.Kind == AnyUndefined {
		// opts.shouldLoad throws a TypeError in yjs.
		return nil, r.fail(at, "doc options are null or undefined", ErrMalformed)
	}
	gc := Any{Kind: AnyUndefined}
	autoLoad := Any{Kind: AnyUndefined}
	meta := Any{Kind: AnyUndefined}
	if opts.Kind == AnyObject {
		if g, ok := opts.Get("guid"); ok {
			if g.Kind != AnyString {
				// A non-string guid would be stringified or replaced by a
				// random one in yjs; neither is reproducible.
				return nil, r.fail(at, "doc options hold a non-string guid", ErrMalformed)
			}
			guid = g.Str
		}
		if v, ok := opts.Get("gc"); ok {
			gc = v
		}
		if v, ok := opts.Get("autoLoad"); ok {
			autoLoad = v
		}
		if v, ok := opts.Get("meta"); ok {
			meta = v
		}
	}
	out := Any{Kind: AnyObject}
	// new Doc({gc = true}) then `if (!doc.gc) opts.gc = false`.
	if gc.Kind != AnyUndefined && !gc.truthy() {
		out.Object = append(out.Object, Field{Key: "gc", Value: Any{Kind: AnyBool}})
	}
	if autoLoad.truthy() {
		out.Object = append(out.Object, Field{Key: "autoLoad", Value: Any{Kind: AnyBool, Bool: true}})
	}
	// meta defaults to null when undefined; only a non-null meta is kept.
	if meta.Kind != AnyUndefined && meta.Kind != AnyNull {
		out.Object = append(out.Object, Field{Key: "meta", Value: meta})
	}
	return &ContentDoc{GUID: guid, Opts: out}, nil
}
