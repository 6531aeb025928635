package dicomkit

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/suyashkumar/dicom/pkg/tag"
)

// UndefinedLength is the value length of sequences, items and encapsulated pixel data that end with a
// delimiter instead.
const UndefinedLength = 0xFFFFFFFF

// maxBOT is the largest Basic Offset Table read, in bytes: a million frames.
const maxBOT = 4 << 20

// Layout is what Walk learned about a file before the library reads it.
type Layout struct {
	Meta
	Syntax      Syntax
	HasPixels   bool   // a top-level Pixel Data element exists
	PixelLen    uint32 // its value length; UndefinedLength for encapsulated data
	PixelAt     int64  // file offset of its tag; 0 when unknown (deflated data)
	DatasetSize int64  // bytes after the file meta (inflated for deflated files)
	// ForceImplicit: the dataset is implicit VR although the transfer syntax says explicit.
	ForceImplicit bool
	BOT           []uint32 // the Basic Offset Table of encapsulated pixel data (the library skips it)
	// PixelValueAt is the file offset of native pixel data's value (PixelLen bytes), 0 when encapsulated,
	// deflated or unknown. Fragments are the encapsulated fragments after the Basic Offset Table, where they
	// lie in the file (nil for native or deflated data).
	PixelValueAt int64
	Fragments    []Extent
}

// Extent is a run of bytes of a file.
type Extent struct{ Off, Len int64 }

// Walk checks the element structure of the size bytes of a Part 10 file read from r before the DICOM library
// reads them: the "DICM" prefix, the file meta and its transfer syntax, and that every defined length fits
// in what is left of the file. The library allocates a value's declared length (up to 4 GiB) before reading
// it, and stops silently when a file ends early. Walk reads the element headers the way the library does and
// touches no value but the meta's and the Basic Offset Table. A deflated dataset is inflated to at most
// limit bytes. A DICOMDIR is ErrDICOMDIR, a length that does not fit ErrTruncated.
func Walk(r io.ReaderAt, size, limit int64) (*Layout, error) {
	return walk(r, size, limit, tag.Tag{}, nil)
}

// walk is Walk that, when until is not the zero tag, reads r as the start of a longer file and stops after
// the first top-level element at or past until: what Parse reads with Until(until).
func walk(r io.ReaderAt, size, limit int64, until tag.Tag, want *Wanted) (*Layout, error) {
	c := newCursor(r, size)
	if b, ok := c.at(128, 4); !ok || string(b) != "DICM" {
		return nil, fmt.Errorf("%w: no \"DICM\" prefix at byte 128", ErrNotDICOM)
	}
	meta, err := readMeta(c)
	if err != nil {
		return nil, err
	}
	lay := &Layout{Meta: meta}
	if lay.MediaClass == DICOMDIRClass {
		return nil, ErrDICOMDIR
	}
	if lay.Syntax, err = LookupSyntax(lay.TransferSyntax); err != nil {
		return nil, err
	}
	w := &walker{c: c, off: meta.End, end: size, implicit: lay.Syntax.Implicit, bo: binary.LittleEndian, until: until, want: want}
	if lay.Syntax.BigEndian {
		w.bo = binary.BigEndian
	}
	if lay.Syntax.Deflated {
		inflated, err := inflate(io.NewSectionReader(r, meta.End, size-meta.End), limit, until != tag.Tag{})
		if err != nil {
			return nil, err
		}
		w.c = newCursor(bytes.NewReader(inflated), int64(len(inflated)))
		w.off, w.end = 0, int64(len(inflated))
	}
	lay.DatasetSize = w.end - w.off
	if !w.implicit {
		// Some writers put an implicit VR dataset under an explicit VR transfer syntax; like pydicom, read
		// it as implicit when the first element has no VR.
		if h, ok := w.c.at(w.off+4, 2); ok && !(isUpper(h[0]) && isUpper(h[1])) {
			w.implicit, lay.ForceImplicit = true, true
		}
	}
	if err := w.dataset(lay); err != nil {
		return nil, err
	}
	return lay, nil
}

func isUpper(b byte) bool { return b >= 'A' && b <= 'Z' }

// inflate decompresses a deflated dataset, refusing to produce more than limit bytes. With prefix, r is the
// start of a longer stream: what inflates before it ends, up to limit bytes, is returned without error.
func inflate(r io.Reader, limit int64, prefix bool) ([]byte, error) {
	fr := flate.NewReader(r)
	defer fr.Close()
	out, err := io.ReadAll(io.LimitReader(fr, limit+1))
	if prefix && (err == nil || errors.Is(err, io.ErrUnexpectedEOF)) {
		return out[:min(int64(len(out)), limit)], nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: deflated dataset: %v", ErrTruncated, err)
	}
	if int64(len(out)) > limit {
		return nil, fmt.Errorf("deflated dataset inflates to more than the %d-byte memory limit", limit)
	}
	return out, nil
}

// walker steps through a dataset's element headers.
type walker struct {
	c        *cursor
	off, end int64
	bo       binary.ByteOrder
	implicit bool
	until    tag.Tag // stop after the first top-level element at or past it; zero: walk to the end

	open         []int64 // ends of the enclosing sequences and items; -1 for undefined length
	fragments    bool    // inside encapsulated data: items are raw fragments, not elements
	topFragments bool    // the fragments are the top-level pixel data's
	botRead      bool    // the first item of the top-level pixel data, its Basic Offset Table, was read
	stopping     bool    // a top-level element at or past until was entered
	want         *Wanted // top-level values to read on the way; nil: none
}

func (w *walker) truncated(what string, need int64) error {
	return fmt.Errorf("%w: %s at byte %d needs %d bytes, %d remain", ErrTruncated, what, w.off, need, w.end-w.off)
}

// header reads n bytes at the current offset.
func (w *walker) header(n int, what string) ([]byte, error) {
	b, ok := w.c.at(w.off, n)
	if !ok {
		return nil, w.truncated(what, int64(n))
	}
	return b, nil
}

// dataset walks elements to the end, mirroring how the library nests sequences and items, and records the
// top-level Pixel Data element.
func (w *walker) dataset(lay *Layout) error {
	for w.off < w.end {
		for len(w.open) > 0 && w.open[len(w.open)-1] >= 0 && w.off >= w.open[len(w.open)-1] {
			w.open = w.open[:len(w.open)-1]
		}
		if w.stopping && len(w.open) == 0 && !w.fragments {
			return nil
		}
		var err error
		if w.fragments {
			err = w.fragment(lay)
		} else {
			err = w.element(lay)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// fragment steps over one item of encapsulated data, reading the Basic Offset Table of the top-level pixel
// data from its first item.
func (w *walker) fragment(lay *Layout) error {
	h, err := w.header(8, "item header")
	if err != nil {
		return err
	}
	t := tag.Tag{Group: w.bo.Uint16(h), Element: w.bo.Uint16(h[2:])}
	vl := w.bo.Uint32(h[4:])
	w.off += 8
	switch {
	case t == tag.SequenceDelimitationItem:
		w.fragments = false
		return nil
	case t != tag.Item || vl == UndefinedLength:
		return nil // the library skips these headers too
	case int64(vl) > w.end-w.off:
		return fmt.Errorf("%w: an encapsulated fragment at byte %d declares %d bytes, %d remain", ErrTruncated, w.off, vl, w.end-w.off)
	}
	if w.topFragments {
		if w.botRead && !lay.Syntax.Deflated {
			lay.Fragments = append(lay.Fragments, Extent{w.off, int64(vl)})
		}
		lay.HasPixels = true
		if !w.botRead && vl%4 == 0 && vl <= maxBOT {
			if b, ok := w.c.at(w.off, int(vl)); ok {
				lay.BOT = make([]uint32, vl/4)
				for i := range lay.BOT {
					lay.BOT[i] = binary.LittleEndian.Uint32(b[4*i:])
				}
			}
		}
		w.botRead = true
	}
	w.off += int64(vl)
	return nil
}

// elementHeader reads the tag, VR and value length of the element at the current offset.
func (w *walker) elementHeader() (t tag.Tag, vr string, vl uint32, err error) {
	h, err := w.header(4, "element tag")
	if err != nil {
		return t, "", 0, err
	}
	t = tag.Tag{Group: w.bo.Uint16(h), Element: w.bo.Uint16(h[2:])}
	w.off += 4
	if w.implicit || t == tag.Item {
		h, err := w.header(4, "value length")
		if err != nil {
			return t, "", 0, err
		}
		w.off += 4
		return t, implicitVR(t), w.bo.Uint32(h), nil
	}
	h, err = w.header(4, "VR and value length")
	if err != nil {
		return t, "", 0, err
	}
	vr = string(h[:2])
	if LongVR(vr) {
		h, err = w.header(8, "value length")
		if err != nil {
			return t, "", 0, err
		}
		w.off += 8
		return t, vr, w.bo.Uint32(h[4:]), nil
	}
	vl = uint32(w.bo.Uint16(h[2:]))
	if vl == 0xFFFF {
		vl = UndefinedLength
	}
	w.off += 4
	return t, vr, vl, nil
}

// element steps over one element: into a sequence or item, into encapsulated data, or over its value.
func (w *walker) element(lay *Layout) error {
	start := w.off
	t, vr, vl, err := w.elementHeader()
	if err != nil {
		return err
	}
	top := len(w.open) == 0
	if top && t == tag.PixelData && !lay.Syntax.Deflated {
		lay.PixelAt = start
	}
	if top && w.until != (tag.Tag{}) && (t.Group > w.until.Group || t.Group == w.until.Group && t.Element >= w.until.Element) {
		w.stopping = true
	}
	kind := tag.GetVRKind(t, vr)
	if vl == UndefinedLength {
		if top && w.want != nil && w.want.has(t) {
			w.want.Complete = false
		}
		switch kind {
		case tag.VRItem, tag.VRSequence, tag.VRUnknown:
			w.open = append(w.open, -1)
		case tag.VRPixelData, tag.VRBytes:
			w.fragments = true
			w.topFragments = top && kind == tag.VRPixelData
			if w.topFragments {
				lay.PixelLen = UndefinedLength
			}
		default:
			return fmt.Errorf("element %v has an undefined length, which its VR %q does not allow", t, vr)
		}
		if top && t == tag.PixelData {
			lay.HasPixels = true
		}
		return nil
	}
	if int64(vl) > w.end-w.off {
		if top && t == tag.PixelData {
			return fmt.Errorf("%w: pixel data declares %d bytes, the file has %d after its header", ErrTruncated, vl, w.end-w.off)
		}
		return fmt.Errorf("%w: element %v at byte %d declares %d bytes, %d remain", ErrTruncated, t, w.off, vl, w.end-w.off)
	}
	if top && w.want != nil && w.want.has(t) {
		w.want.read(t, vr, kind, w.c, w.off, vl, w.bo)
	}
	switch {
	case t == tag.ItemDelimitationItem || t == tag.SequenceDelimitationItem:
		if len(w.open) > 0 && w.open[len(w.open)-1] < 0 {
			w.open = w.open[:len(w.open)-1]
		}
		w.off += int64(vl)
	case kind == tag.VRItem || kind == tag.VRSequence:
		w.open = append(w.open, w.off+int64(vl))
	default:
		if top && t == tag.PixelData {
			lay.HasPixels, lay.PixelLen = true, vl
			if !lay.Syntax.Deflated {
				lay.PixelValueAt = w.off
			}
		}
		w.off += int64(vl)
	}
	return nil
}

// implicitVR is the VR the library assumes for a tag in an implicit VR dataset.
func implicitVR(t tag.Tag) string {
	if t == tag.PixelData || t == tag.OverlayData {
		return "OW"
	}
	if info, err := tag.Find(t); err == nil {
		return info.VRs[0]
	}
	return tag.UnknownVR
}
