package viewer

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/suyashkumar/dicom/pkg/tag"
	"github.com/suyashkumar/dicom/pkg/uid"
)

// Part10 returns a file of size bytes as a DICOM Part 10 file: unchanged when it has the 128-byte preamble
// and the "DICM" prefix; otherwise with what it lacks put in front, the way dcmtk and pydicom (force=True)
// read such files, and a warning that says so. Content without preamble starts with "DICM" or with the
// file meta group; a dataset without file meta gets one whose transfer syntax is guessed from its first
// element (implicit or explicit VR, little or big endian). Anything else is ErrNotDICOM.
func Part10(r io.ReaderAt, size int64) (io.ReaderAt, int64, string, error) {
	var head [132]byte
	n, _ := r.ReadAt(head[:], 0)
	b := head[:n]
	switch {
	case n == 132 && string(b[128:132]) == "DICM":
		return r, size, "", nil
	case n >= 4 && string(b[:4]) == "DICM":
		return prefixed(make([]byte, 128), r, size), size + 128, "no 128-byte preamble: read from the \"DICM\" prefix at byte 0", nil
	case n >= 8 && binary.LittleEndian.Uint16(b) == 2 && isUpper(b[4]) && isUpper(b[5]):
		return prefixed(append(make([]byte, 128), "DICM"...), r, size), size + 132, "no preamble and no \"DICM\" prefix: file meta read from byte 0", nil
	}
	ts, name, ok := guessSyntax(b)
	if !ok {
		return nil, 0, "", fmt.Errorf("%w: no \"DICM\" prefix at byte 128, and the file does not start with a DICOM element", ErrNotDICOM)
	}
	meta := syntheticMeta(ts)
	warning := fmt.Sprintf("no file meta information: read as %s, guessed from the first element as dcmtk and pydicom do", name)
	return prefixed(meta, r, size), size + int64(len(meta)), warning, nil
}

// guessSyntax guesses the transfer syntax of a dataset from its first element: explicit VR when a VR
// follows the tag, big endian when the tag reads as a plausible first group (0008 to 0028) that way only.
func guessSyntax(b []byte) (ts, name string, ok bool) {
	if len(b) < 8 {
		return "", "", false
	}
	plausible := func(g, e uint16) bool {
		_, err := tag.Find(tag.Tag{Group: g, Element: e})
		return g >= 0x0008 && g <= 0x0028 && err == nil
	}
	explicit := isUpper(b[4]) && isUpper(b[5])
	le := plausible(binary.LittleEndian.Uint16(b), binary.LittleEndian.Uint16(b[2:]))
	be := plausible(binary.BigEndian.Uint16(b), binary.BigEndian.Uint16(b[2:]))
	switch {
	case le && explicit:
		return uid.ExplicitVRLittleEndian, "Explicit VR Little Endian", true
	case le:
		return uid.ImplicitVRLittleEndian, "Implicit VR Little Endian", true
	case be && explicit:
		return uid.ExplicitVRBigEndian, "Explicit VR Big Endian", true
	}
	return "", "", false
}

// syntheticMeta is a preamble, "DICM" and a file meta group that holds only the transfer syntax.
func syntheticMeta(ts string) []byte {
	if len(ts)%2 == 1 {
		ts += "\x00"
	}
	m := append(make([]byte, 128), "DICM"...)
	m = binary.LittleEndian.AppendUint16(m, 2)
	m = binary.LittleEndian.AppendUint16(m, 0)
	m = append(m, "UL"...)
	m = binary.LittleEndian.AppendUint16(m, 4)
	m = binary.LittleEndian.AppendUint32(m, uint32(8+len(ts)))
	m = binary.LittleEndian.AppendUint16(m, 2)
	m = binary.LittleEndian.AppendUint16(m, 0x10)
	m = append(m, "UI"...)
	m = binary.LittleEndian.AppendUint16(m, uint16(len(ts)))
	return append(m, ts...)
}

// prefixedReader reads head followed by the size bytes of r.
type prefixedReader struct {
	head []byte
	r    io.ReaderAt
	size int64
}

func prefixed(head []byte, r io.ReaderAt, size int64) io.ReaderAt {
	return &prefixedReader{head: head, r: r, size: size}
}

func (p *prefixedReader) ReadAt(b []byte, off int64) (int, error) {
	n := 0
	if off < int64(len(p.head)) {
		n = copy(b, p.head[off:])
	}
	if n == len(b) {
		return n, nil
	}
	m, err := p.r.ReadAt(b[n:], off+int64(n)-int64(len(p.head)))
	return n + m, err
}

func isUpper(b byte) bool { return b >= 'A' && b <= 'Z' }
