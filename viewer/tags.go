package viewer

import (
	"fmt"
	"os"
	"strings"

	"github.com/suyashkumar/dicom"

	"github.com/neuronova/neuronova/internal/dicomkit"
)

// TagLine is one data element of a file as a tag browser lists it: nested elements are deeper, their
// sequence's items numbered.
type TagLine struct {
	Depth int
	Tag   string // (gggg,eeee)
	Name  string // the dictionary's name, "" for private or unknown tags
	VR    string
	Value string // shortened to valueWidth characters
}

// valueWidth is the most characters of a value a tag line shows.
const valueWidth = 160

// Tags lists the data elements of the DICOM file at path, file meta first, without the pixel data's bytes.
func Tags(path string) ([]TagLine, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	r, size, _, err := Part10(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	ds, err := dicomkit.ParseHeader(r, size)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []TagLine
	tagLines(&out, ds.Elements, 0)
	return out, nil
}

func tagLines(out *[]TagLine, els []*dicom.Element, depth int) {
	for _, e := range els {
		l := TagLine{Depth: depth, Tag: fmt.Sprintf("(%04X,%04X)", e.Tag.Group, e.Tag.Element), VR: e.RawValueRepresentation}
		if name := dicomkit.TagName(e.Tag); !strings.HasPrefix(name, "(") {
			l.Name = name
		}
		items := dicomkit.Items(e)
		switch {
		case items != nil:
			l.Value = fmt.Sprintf("%d items", len(items))
		case e.Value != nil:
			l.Value = valueText(e)
		}
		*out = append(*out, l)
		for i, it := range items {
			*out = append(*out, TagLine{Depth: depth + 1, Tag: fmt.Sprintf("item %d", i+1)})
			tagLines(out, it, depth+2)
		}
	}
}

// valueText writes a value: text and numbers joined by backslashes, bytes by their count.
func valueText(e *dicom.Element) string {
	var s string
	switch v := e.Value.GetValue().(type) {
	case []string:
		s = strings.Join(v, `\`)
	case []byte:
		s = fmt.Sprintf("%d bytes", len(v))
	case []int:
		parts := make([]string, len(v))
		for i, n := range v {
			parts[i] = fmt.Sprint(n)
		}
		s = strings.Join(parts, `\`)
	case []float64:
		parts := make([]string, len(v))
		for i, n := range v {
			parts[i] = fmt.Sprint(n)
		}
		s = strings.Join(parts, `\`)
	case dicom.PixelDataInfo:
		s = "pixel data"
	default:
		s = fmt.Sprint(v)
	}
	s = strings.TrimRight(s, " \x00")
	if r := []rune(s); len(r) > valueWidth {
		s = string(r[:valueWidth-1]) + "…"
	}
	return s
}
