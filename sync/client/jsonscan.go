package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// jsonScan steps through JSON text by its structure alone, without recursion and without a depth limit, so
// that a value encoding/json refuses (nested too deep) can be stepped over and its neighbours still read.
// It checks only what it needs to find where values end; what is kept is then decoded by encoding/json.
type jsonScan struct {
	b []byte
	i int
}

var errEnd = errors.New("unexpected end of JSON")

func (s *jsonScan) space() {
	for s.i < len(s.b) && isSpace(s.b[s.i]) {
		s.i++
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isDelimiter(c byte) bool {
	switch c {
	case ',', ':', '[', ']', '{', '}', '"':
		return true
	}
	return isSpace(c)
}

// peek skips spaces and returns the next byte, or 0 at the end.
func (s *jsonScan) peek() byte {
	s.space()
	if s.i >= len(s.b) {
		return 0
	}
	return s.b[s.i]
}

// expect skips spaces and consumes c.
func (s *jsonScan) expect(c byte) error {
	switch s.peek() {
	case c:
		s.i++
		return nil
	case 0:
		return errEnd
	}
	return fmt.Errorf("offset %d: %q where %q was expected", s.i, s.b[s.i], c)
}

// value steps over the next value and returns its bytes and its depth: 0 for a string, number or literal,
// 1 for an object or array of those, and so on.
func (s *jsonScan) value() (raw []byte, depth int, err error) {
	c := s.peek()
	start := s.i
	switch c {
	case 0:
		return nil, 0, errEnd
	case '"':
		err := s.str()
		return s.b[start:s.i], 0, err
	case '{', '[':
	default:
		for s.i < len(s.b) && !isDelimiter(s.b[s.i]) {
			s.i++
		}
		switch {
		case s.i == start:
			return nil, 0, fmt.Errorf("offset %d: unexpected %q", s.i, c)
		case s.i == len(s.b): // a number cut off by the end may be longer
			return nil, 0, errEnd
		}
		return s.b[start:s.i], 0, nil
	}
	d := 0
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case '"':
			if err := s.str(); err != nil {
				return nil, 0, err
			}
			continue
		case '{', '[':
			d++
			depth = max(depth, d)
		case '}', ']':
			if d--; d == 0 {
				s.i++
				return s.b[start:s.i], depth, nil
			}
		}
		s.i++
	}
	return nil, 0, errEnd
}

// str steps over the string that starts at s.i.
func (s *jsonScan) str() error {
	for j := s.i + 1; j < len(s.b); j++ {
		switch s.b[j] {
		case '\\':
			j++
		case '"':
			s.i = j + 1
			return nil
		}
	}
	return errEnd
}

// members steps through an object: for each member it reads the name and calls fn, which must consume the
// value.
func (s *jsonScan) members(fn func(key string) error) error {
	if err := s.expect('{'); err != nil {
		return err
	}
	if s.peek() == '}' {
		s.i++
		return nil
	}
	for {
		at := s.i
		raw, _, err := s.value()
		if err != nil {
			return err
		}
		var key string
		if raw[0] != '"' || json.Unmarshal(raw, &key) != nil {
			return fmt.Errorf("offset %d: member name %.40q is not a string", at, raw)
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		if err := fn(key); err != nil {
			return err
		}
		if err := s.after('}'); err != nil || s.b[s.i-1] == '}' {
			return err
		}
	}
}

// elements steps through an array (or null, which has none), calling fn, which must consume each element.
func (s *jsonScan) elements(fn func() error) error {
	if s.peek() == 'n' {
		raw, _, err := s.value()
		if err == nil && string(raw) != "null" {
			err = fmt.Errorf("%.40q where an array was expected", raw)
		}
		return err
	}
	if err := s.expect('['); err != nil {
		return err
	}
	if s.peek() == ']' {
		s.i++
		return nil
	}
	for {
		if err := fn(); err != nil {
			return err
		}
		if err := s.after(']'); err != nil || s.b[s.i-1] == ']' {
			return err
		}
	}
}

// after consumes what follows a member or element: a comma, or the closing byte.
func (s *jsonScan) after(closing byte) error {
	switch c := s.peek(); c {
	case ',', closing:
		s.i++
		return nil
	case 0:
		return errEnd
	default:
		return fmt.Errorf("offset %d: %q where ',' or %q was expected", s.i, c, closing)
	}
}

// decode decodes the next value into v.
func (s *jsonScan) decode(v any) error {
	raw, _, err := s.value()
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}

// end checks that nothing but spaces follows.
func (s *jsonScan) end() error {
	if s.peek() != 0 {
		return fmt.Errorf("offset %d: data after the end", s.i)
	}
	return nil
}

// maxHeadText bounds the kind and object ID kept of a skipped change.
const maxHeadText = 128

// head reads, as far as it can, the seq, kind and object_id members of the object that follows into h.
func (s *jsonScan) head(h *SkippedChange) {
	s.members(func(key string) error {
		raw, _, err := s.value()
		if err != nil {
			return err
		}
		switch {
		case strings.EqualFold(key, "seq"):
			json.Unmarshal(raw, &h.Seq)
		case strings.EqualFold(key, "kind"):
			json.Unmarshal(raw, &h.Kind)
			h.Kind = clip(h.Kind)
		case strings.EqualFold(key, "object_id"):
			json.Unmarshal(raw, &h.ObjectID)
			h.ObjectID = clip(h.ObjectID)
		}
		return nil
	})
}

// clip cuts s to at most maxHeadText bytes, at a rune boundary.
func clip(s string) string {
	if len(s) <= maxHeadText {
		return s
	}
	i := maxHeadText
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}
