package dicomkit

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Meta is what the file meta information (group 0002) of a Part 10 file says.
type Meta struct {
	TransferSyntax string // TransferSyntaxUID (0002,0010)
	MediaClass     string // MediaStorageSOPClassUID (0002,0002)
	MediaInstance  string // MediaStorageSOPInstanceUID (0002,0003)
	End            int64  // where the dataset starts: the offset after the group
}

// ReadMeta reads the file meta information of the size bytes of a Part 10 file read from r, without
// parsing the dataset: the quick way to a file's transfer syntax and UIDs. It checks the "DICM" prefix at
// byte 128 and that every element of the group fits in the file (ErrNotDICOM, ErrTruncated); an element
// it does not need is skipped unread. The group is read to its declared length, or while elements are of
// group 0002 when FileMetaInformationGroupLength is missing.
func ReadMeta(r io.ReaderAt, size int64) (Meta, error) {
	c := newCursor(r, size)
	if b, ok := c.at(128, 4); !ok || string(b) != "DICM" {
		return Meta{}, fmt.Errorf("%w: no \"DICM\" prefix at byte 128", ErrNotDICOM)
	}
	return readMeta(c)
}

// readMeta walks the file meta group (explicit VR little endian) after the "DICM" prefix.
func readMeta(c *cursor) (Meta, error) {
	var m Meta
	off := int64(132)
	metaEnd := int64(-1) // unknown: read while the group is 0002
	if h, ok := c.at(off, 12); ok && binary.LittleEndian.Uint16(h) == 2 && binary.LittleEndian.Uint16(h[2:]) == 0 {
		if string(h[4:6]) != "UL" || binary.LittleEndian.Uint16(h[6:]) != 4 {
			return m, fmt.Errorf("%w: malformed FileMetaInformationGroupLength", ErrNotDICOM)
		}
		metaEnd = off + 12 + int64(binary.LittleEndian.Uint32(h[8:]))
		if metaEnd > c.size {
			return m, fmt.Errorf("%w: file meta declares %d bytes, file has %d", ErrTruncated, metaEnd, c.size)
		}
		off += 12
	}
	for metaEnd < 0 || off < metaEnd {
		h, ok := c.at(off, 8)
		if !ok {
			return m, fmt.Errorf("%w: file ends inside the file meta at byte %d", ErrTruncated, off)
		}
		group, elem := binary.LittleEndian.Uint16(h), binary.LittleEndian.Uint16(h[2:])
		if group != 2 {
			if metaEnd < 0 {
				break
			}
			return m, fmt.Errorf("%w: element (%04x,%04x) inside the file meta group", ErrNotDICOM, group, elem)
		}
		vr := string(h[4:6])
		var vl int64
		if LongVR(vr) {
			h, ok = c.at(off, 12)
			if !ok {
				return m, fmt.Errorf("%w: file ends inside the file meta at byte %d", ErrTruncated, off)
			}
			vl = int64(binary.LittleEndian.Uint32(h[8:]))
			off += 12
		} else {
			vl = int64(binary.LittleEndian.Uint16(h[6:]))
			off += 8
		}
		bound := c.size
		if metaEnd >= 0 {
			bound = metaEnd
		}
		if vr == "SQ" || vl > bound-off {
			return m, fmt.Errorf("%w: malformed file meta element (0002,%04x) (VR %q, length %d)", ErrNotDICOM, elem, vr, vl)
		}
		if dst := m.field(elem); dst != nil {
			v, _ := c.at(off, int(vl))
			*dst = Trim(string(v))
		}
		off += vl
	}
	m.End = off
	return m, nil
}

// field is where the value of file meta element (0002,elem) goes, or nil for one Meta does not keep.
func (m *Meta) field(elem uint16) *string {
	switch elem {
	case 0x0002:
		return &m.MediaClass
	case 0x0003:
		return &m.MediaInstance
	case 0x0010:
		return &m.TransferSyntax
	}
	return nil
}

// LongVR reports the explicit VRs whose value length has 4 bytes (after 2 reserved bytes), as the DICOM
// library reads them: PS3.5 7.1.2's list without OV, SV and UV, which the library (v1.1.0) predates and
// reads with a 2-byte length, and with "NA", its VR of items. A walker that guards the library's reading
// must agree with it.
func LongVR(vr string) bool {
	switch vr {
	case "NA", "OB", "OD", "OF", "OL", "OW", "SQ", "UN", "UC", "UR", "UT":
		return true
	}
	return false
}

// cursor reads small pieces of a file at arbitrary offsets through one buffer.
type cursor struct {
	r      io.ReaderAt
	size   int64
	buf    []byte
	bufOff int64
	bufLen int
}

func newCursor(r io.ReaderAt, size int64) *cursor {
	return &cursor{r: r, size: size, buf: make([]byte, 8192)}
}

func (c *cursor) at(off int64, n int) ([]byte, bool) {
	if off < 0 || n < 0 || off+int64(n) > c.size {
		return nil, false
	}
	if off >= c.bufOff && off+int64(n) <= c.bufOff+int64(c.bufLen) {
		s := off - c.bufOff
		return c.buf[s : s+int64(n)], true
	}
	if len(c.buf) < n {
		c.buf = make([]byte, max(n, 4096))
	}
	want := min(int64(len(c.buf)), c.size-off)
	m, err := c.r.ReadAt(c.buf[:want], off)
	if m < n && err != nil {
		return nil, false
	}
	c.bufOff, c.bufLen = off, m
	return c.buf[:n], true
}
