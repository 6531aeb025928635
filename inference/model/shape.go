package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Dim is one dimension of a card shape: a fixed size, or a symbolic name (JSON string) set at run time.
type Dim struct {
	Value int64
	Param string
}

// IsFixed reports whether the dimension has a fixed size.
func (d Dim) IsFixed() bool { return d.Param == "" }

// String prints the size or the name.
func (d Dim) String() string {
	if d.Param != "" {
		return d.Param
	}
	return strconv.FormatInt(d.Value, 10)
}

// MarshalJSON writes a number for a fixed size and a string for a symbolic dimension.
func (d Dim) MarshalJSON() ([]byte, error) {
	if d.Param != "" {
		return json.Marshal(d.Param)
	}
	return []byte(strconv.FormatInt(d.Value, 10)), nil
}

// UnmarshalJSON reads a positive integer or a non-empty name.
func (d *Dim) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*d = Dim{Param: s}
		return nil
	}
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("dimension %s is neither an integer nor a name", b)
	}
	*d = Dim{Value: v}
	return nil
}

// Shape is a tensor shape as a card states it.
type Shape []Dim

// String prints the shape as [N 240].
func (s Shape) String() string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = d.String()
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func (s Shape) validate() error {
	if len(s) == 0 {
		return errors.New("no dimensions")
	}
	for i, d := range s {
		if d.IsFixed() && d.Value <= 0 {
			return fmt.Errorf("dimension %d is %d; sizes must be positive", i, d.Value)
		}
		if !d.IsFixed() && strings.TrimSpace(d.Param) == "" {
			return fmt.Errorf("dimension %d has an empty name", i)
		}
	}
	return nil
}

// Accepts checks that a concrete shape fits: same rank, fixed sizes equal, symbolic sizes positive.
func (s Shape) Accepts(concrete []int64) error {
	if len(concrete) != len(s) {
		return fmt.Errorf("shape %v has %d dimensions, want %d as in %v", concrete, len(concrete), len(s), s)
	}
	for i, d := range s {
		switch {
		case concrete[i] <= 0:
			return fmt.Errorf("dimension %d of %v is %d; sizes must be positive", i, concrete, concrete[i])
		case d.IsFixed() && concrete[i] != d.Value:
			return fmt.Errorf("dimension %d of %v is %d, want %d as in %v", i, concrete, concrete[i], d.Value, s)
		}
	}
	return nil
}

// Int64s returns the shape with -1 for symbolic dimensions, the convention ONNX Runtime uses.
func (s Shape) Int64s() []int64 {
	out := make([]int64, len(s))
	for i, d := range s {
		if d.IsFixed() {
			out[i] = d.Value
		} else {
			out[i] = -1
		}
	}
	return out
}
