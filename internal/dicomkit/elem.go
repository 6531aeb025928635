package dicomkit

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"
)

// Trim removes DICOM padding from a text value: the NULs and spaces that pad values to an even length, and
// the leading and trailing white space PS3.5 6.2 makes insignificant in the VRs read here.
func Trim(s string) string { return strings.TrimSpace(strings.Trim(s, "\x00")) }

// Strings returns the values of a text element as stored (untrimmed); nil when e is nil or holds no text.
func Strings(e *dicom.Element) []string {
	if e == nil || e.Value == nil {
		return nil
	}
	s, _ := e.Value.GetValue().([]string)
	return s
}

// String returns the first value of a text element, trimmed (Trim); "" when absent or empty.
func String(e *dicom.Element) string {
	s := Strings(e)
	if len(s) == 0 {
		return ""
	}
	return Trim(s[0])
}

// Text returns the first value of the text element t of ds, trimmed (Trim); "" when absent or empty.
func Text(ds *dicom.Dataset, t tag.Tag) string {
	e, err := ds.FindElementByTag(t)
	if err != nil {
		return ""
	}
	return String(e)
}

// Floats reads the values of a DS or IS element (trimmed strings) or of a binary number element; ok is
// false when a value does not parse or is not finite. A nil element gives nil and true.
func Floats(e *dicom.Element) (v []float64, ok bool) {
	if e == nil || e.Value == nil {
		return nil, true
	}
	switch x := e.Value.GetValue().(type) {
	case []float64:
		return x, true
	case []int:
		v = make([]float64, len(x))
		for i, n := range x {
			v[i] = float64(n)
		}
		return v, true
	case []string:
		v = make([]float64, 0, len(x))
		for _, s := range x {
			s = Trim(s)
			if s == "" {
				continue
			}
			f, err := strconv.ParseFloat(s, 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, false
			}
			v = append(v, f)
		}
		return v, true
	}
	return nil, false
}

// Int reads the first value of an integer element (US, UL, SS, SL or IS); present is false when the element
// is absent or empty, and err names a value that is not an integer.
func Int(e *dicom.Element) (n int, present bool, err error) {
	if e == nil || e.Value == nil {
		return 0, false, nil
	}
	switch x := e.Value.GetValue().(type) {
	case []int:
		if len(x) == 0 {
			return 0, false, nil
		}
		return x[0], true, nil
	case []string:
		if len(x) == 0 || Trim(x[0]) == "" {
			return 0, false, nil
		}
		s := Trim(x[0])
		n, err := strconv.Atoi(strings.TrimPrefix(s, "+"))
		if err != nil {
			return 0, true, fmt.Errorf("%s %q is not an integer", TagName(e.Tag), s)
		}
		return n, true, nil
	}
	return 0, true, fmt.Errorf("%s has an unexpected value type", TagName(e.Tag))
}

// TagName is the dictionary name of t ("Patient ID"), or "(gggg,eeee)" for a tag the dictionary lacks.
func TagName(t tag.Tag) string {
	if info, err := tag.Find(t); err == nil {
		return info.Name
	}
	return t.String()
}

// Find returns the first element of els with tag t, or nil.
func Find(els []*dicom.Element, t tag.Tag) *dicom.Element {
	for _, e := range els {
		if e.Tag == t {
			return e
		}
	}
	return nil
}

// Items returns the items of a sequence element, each as its elements; nil when e is not a sequence.
func Items(e *dicom.Element) [][]*dicom.Element {
	if e == nil || e.Value == nil {
		return nil
	}
	items, ok := e.Value.GetValue().([]*dicom.SequenceItemValue)
	if !ok {
		return nil
	}
	out := make([][]*dicom.Element, 0, len(items))
	for _, it := range items {
		els, _ := it.GetValue().([]*dicom.Element)
		out = append(out, els)
	}
	return out
}

// FirstItem returns the elements of the first item of the sequence t in els, or nil.
func FirstItem(els []*dicom.Element, t tag.Tag) []*dicom.Element {
	items := Items(Find(els, t))
	if len(items) == 0 {
		return nil
	}
	return items[0]
}

// WithKnownVR re-reads an element a file stores with VR UN by its dictionary VR, as pydicom does; order is
// the dataset's byte order. Other elements, and UN elements whose tag the dictionary lacks or whose VR is
// binary, are returned as they are.
func WithKnownVR(e *dicom.Element, order binary.ByteOrder) *dicom.Element {
	if e.RawValueRepresentation != "UN" || e.Value == nil {
		return e
	}
	raw, ok := e.Value.GetValue().([]byte)
	info, err := tag.Find(e.Tag)
	if !ok || err != nil {
		return e
	}
	vr := info.VRs[0]
	var data any
	switch vr {
	case "US", "SS", "UL", "SL":
		data = decodeInts(raw, vr, order)
	case "FL", "FD":
		data = decodeFloats(raw, vr, order)
	case "SQ", "OB", "OW", "OF", "OD", "OL", "UN", "AT":
		return e
	default:
		data = strings.Split(strings.TrimRight(string(raw), " \x00"), `\`)
	}
	v, err := dicom.NewValue(data)
	if err != nil {
		return e
	}
	return &dicom.Element{Tag: e.Tag, ValueRepresentation: tag.GetVRKind(e.Tag, vr), RawValueRepresentation: vr, ValueLength: e.ValueLength, Value: v}
}

// decodeInts reads raw as US, SS, UL or SL values.
func decodeInts(raw []byte, vr string, order binary.ByteOrder) []int {
	size := 2
	if vr == "UL" || vr == "SL" {
		size = 4
	}
	ints := make([]int, 0, len(raw)/size)
	for i := 0; i+size <= len(raw); i += size {
		switch vr {
		case "US":
			ints = append(ints, int(order.Uint16(raw[i:])))
		case "SS":
			ints = append(ints, int(int16(order.Uint16(raw[i:]))))
		case "UL":
			ints = append(ints, int(order.Uint32(raw[i:])))
		default:
			ints = append(ints, int(int32(order.Uint32(raw[i:]))))
		}
	}
	return ints
}

// decodeFloats reads raw as FL or FD values.
func decodeFloats(raw []byte, vr string, order binary.ByteOrder) []float64 {
	var fl []float64
	if vr == "FL" {
		for i := 0; i+4 <= len(raw); i += 4 {
			fl = append(fl, float64(math.Float32frombits(order.Uint32(raw[i:]))))
		}
		return fl
	}
	for i := 0; i+8 <= len(raw); i += 8 {
		fl = append(fl, math.Float64frombits(order.Uint64(raw[i:])))
	}
	return fl
}
