package yjs

import (
	"unicode/utf8"
)

// replacementChar is what yjs puts on both sides of a surrogate pair that a
// split cuts in half (ContentString.splice, and TextEncoder for the lone
// low surrogate that write(offset) leaves).
const replacementChar = "\uFFFD"

// utf16Len returns the length of s in UTF-16 code units, which is what
// JavaScript's String.prototype.length and yjs clocks count.
func utf16Len(s string) uint64 {
	n := uint64(0)
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			n++
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
		i += size
	}
	return n
}

// splitUTF16 splits valid UTF-8 s after offset UTF-16 code units. When the
// offset falls inside a surrogate pair, both halves become U+FFFD, exactly
// as yjs's ContentString.splice does, so the left part keeps offset units
// and the right part keeps the rest. Offsets past the end give (s, "").
func splitUTF16(s string, offset uint64) (left, right string) {
	n := uint64(0)
	for i := 0; i < len(s); {
		if n == offset {
			return s[:i], s[i:]
		}
		c := s[i]
		if c < utf8.RuneSelf {
			n++
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r >= 0x10000 {
			if n+1 == offset {
				return s[:i] + replacementChar, replacementChar + s[i+size:]
			}
			n += 2
		} else {
			n++
		}
		i += size
	}
	return s, ""
}
