package dicomkit

import (
	"encoding/binary"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"
)

// Wanted is a set of top-level attributes that WalkAttributes reads on its way through a file, without the
// DICOM library, and what it found.
type Wanted struct {
	tags map[tag.Tag]bool
	// Elements are the wanted elements found, in file order, valued as the library values them: text split at
	// backslashes and trimmed of spaces and NULs (dates trimmed only), binary numbers by the dataset's byte
	// order, anything else as bytes.
	Elements []*dicom.Element
	// Complete is false when a wanted element could not be read that way (a sequence, an undefined length, a
	// value past the end) or when the dataset is not plain little-endian ASCII or UTF-8 text: then parse the
	// file with the library instead.
	Complete bool
}

// NewWanted makes the set of tags.
func NewWanted(tags ...tag.Tag) *Wanted {
	w := &Wanted{tags: make(map[tag.Tag]bool, len(tags)+1), Complete: true}
	for _, t := range tags {
		w.tags[t] = true
	}
	w.tags[tag.SpecificCharacterSet] = true
	return w
}

func (w *Wanted) has(t tag.Tag) bool { return w.tags[t] }

// WalkAttributes is Walk that also reads the top-level elements want names, for readers that need a few
// attributes of many files and not the library's whole dataset. want is reset first.
func WalkAttributes(r io.ReaderAt, size, limit int64, want *Wanted) (*Layout, error) {
	want.Elements, want.Complete = want.Elements[:0], true
	lay, err := walk(r, size, limit, tag.Tag{}, want)
	if err != nil {
		return nil, err
	}
	if lay.Syntax.BigEndian {
		want.Complete = false
	}
	return lay, nil
}

// read values one wanted element of value length vl at offset off of c.
func (w *Wanted) read(t tag.Tag, vr string, kind tag.VRKind, c *cursor, off int64, vl uint32, bo binary.ByteOrder) {
	if kind == tag.VRSequence || kind == tag.VRItem || kind == tag.VRPixelData || vl == UndefinedLength || vl > 1<<24 {
		w.Complete = false
		return
	}
	raw, ok := c.at(off, int(vl))
	if !ok {
		w.Complete = false
		return
	}
	var data any
	switch kind {
	case tag.VRUInt16List, tag.VRInt16List, tag.VRUInt32List, tag.VRInt32List:
		data = decodeInts(raw, vr, bo)
	case tag.VRTagList:
		data = decodeInts(raw, "US", bo)
	case tag.VRFloat32List, tag.VRFloat64List:
		data = decodeFloats(raw, vr, bo)
		if data.([]float64) == nil {
			data = []float64{}
		}
	case tag.VRBytes, tag.VRUnknown:
		data = append([]byte(nil), raw...)
	default: // text, dates included
		if !utf8.Valid(raw) {
			w.Complete = false // the library decodes text as UTF-8, replacing invalid bytes: leave them to it
		}
		s := string(raw)
		if kind == tag.VRDate {
			data = []string{strings.Trim(s, " \x00")}
			break
		}
		if strings.TrimSpace(s) != "" {
			s = strings.Trim(s, " \x00")
		}
		data = strings.Split(s, `\`)
	}
	if t == tag.SpecificCharacterSet {
		css, ok := data.([]string)
		if !ok {
			w.Complete = false // a character set given as numbers (a VR other than CS): the library says what it makes of it
		}
		for _, cs := range css {
			switch Trim(cs) {
			case "", "ISO_IR 6", "ISO_IR 192", "ISO 2022 IR 6":
			default:
				w.Complete = false // the library decodes other character sets
			}
		}
	}
	v, err := dicom.NewValue(data)
	if err != nil {
		w.Complete = false
		return
	}
	w.Elements = append(w.Elements, &dicom.Element{Tag: t, ValueRepresentation: kind, RawValueRepresentation: vr, ValueLength: vl, Value: v})
}
