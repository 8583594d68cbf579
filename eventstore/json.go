package eventstore

import (
	"encoding/json"
	"unicode/utf8"
)

// jsonValid accepts a JSON document that PostgreSQL's json type also
// accepts: valid UTF-8 without NUL bytes.
func jsonValid(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, c := range b {
		if c == 0 {
			return false
		}
	}
	return json.Valid(b)
}
