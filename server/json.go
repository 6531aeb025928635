package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/neuronova/neuronova/api"
)

// validateObject checks that a free-form JSON field is an object within the bounds of CheckJSONShape.
func validateObject(field string, raw json.RawMessage) error {
	if raw == nil {
		return nil
	}
	if err := CheckJSONShape(raw, MaxFieldDepth, MaxFieldValues); err != nil {
		return Errorf(api.CodeInvalid, "%s: %v", field, err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return Errorf(api.CodeInvalid, "%s must be a JSON object", field)
	}
	return nil
}

// Bounds of the free-form JSON the server stores and serves again (AI results, report fields): deep enough for
// any result a pipeline writes, shallow and small enough that every client decodes it (a result nested 10,000
// levels deep once stopped every workstation's sync).
const (
	MaxFieldDepth  = 16
	MaxFieldValues = 200_000
)

// CheckJSONShape checks, without recursion, that raw is one JSON value nested at most maxDepth levels and made
// of at most maxValues values (each string, number, literal, object and array counts one).
func CheckJSONShape(raw []byte, maxDepth, maxValues int) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	depth, values := 0, 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("not valid JSON: %v", err)
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			if depth > maxDepth {
				return fmt.Errorf("nested deeper than %d levels", maxDepth)
			}
		case json.Delim('}'), json.Delim(']'):
			depth--
			continue
		}
		if values++; values > maxValues {
			return fmt.Errorf("holds more than %d values", maxValues)
		}
	}
	return nil
}

func compactJSON(raw json.RawMessage) json.RawMessage {
	if raw == nil {
		return nil
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return raw
	}
	return b.Bytes()
}
