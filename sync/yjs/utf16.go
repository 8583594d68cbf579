package yjs

// replacementChar is what yjs puts on both sides of a surrogate pair that a
// split cuts in half (ContentString.splice, and TextEncoder for the lone
// low surrogate that write(offset) leaves).
const replacementChar = "\uFFFD"

// utf16Len returns the length of s in UTF-16 code units, which is what
// JavaScript's String.prototype.length and yjs clocks count.
func utf16Len[S ~string | ~[]byte](s S) uint64 {
	n := uint64(0)
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c < 0x80:
			i++
		case c < 0xe0:
			i += 2
		case c < 0xf0:
			i += 3
		default:
			// A 4-byte sequence is a code point above U+FFFF: a surrogate
			// pair in UTF-16.
			n++
			i += 4
		}
		n++
	}
	return n
}

// splitUTF16 finds where valid UTF-8 s splits after offset UTF-16 code
// units: s[:leftEnd] and s[rightStart:]. When the offset falls inside a
// surrogate pair, cut is true and the character is dropped from both
// sides; yjs then puts U+FFFD on both sides (ContentString.splice, and
// TextEncoder for the lone low surrogate that write(offset) leaves), so the
// left part keeps offset units and the right part keeps the rest. Offsets
// past the end give (len(s), len(s), false).
func splitUTF16[S ~string | ~[]byte](s S, offset uint64) (leftEnd, rightStart int, cut bool) {
	n := uint64(0)
	for i := 0; i < len(s); {
		if n == offset {
			return i, i, false
		}
		c := s[i]
		switch {
		case c < 0x80:
			i++
		case c < 0xe0:
			i += 2
		case c < 0xf0:
			i += 3
		default:
			if n+1 == offset {
				return i, i + 4, true
			}
			n++
			i += 4
		}
		n++
	}
	return len(s), len(s), false
}
