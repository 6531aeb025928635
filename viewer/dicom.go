package viewer

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"
	"github.com/suyashkumar/dicom/pkg/uid"
)

var (
	// ErrNotDICOM is returned for a file that is not a DICOM Part 10 file (no "DICM" prefix at byte 128).
	ErrNotDICOM = errors.New("not a DICOM file")
	// ErrTruncated is returned when a file ends before the data its header declares, or when its pixel data
	// is shorter than Rows×Columns×Frames×Samples×BitsAllocated/8.
	ErrTruncated = errors.New("DICOM data truncated")
	// ErrUnsupportedTransferSyntax is returned for pixel data in an encoding no decoder of this build
	// handles (see RegisterCodec) and for unknown transfer syntax UIDs; the message names the syntax and
	// its UID.
	ErrUnsupportedTransferSyntax = errors.New("unsupported transfer syntax")
)

// DefaultMemoryLimit is the largest volume, in bytes of float32 voxels, that a file or a series may decode to
// unless WithMemoryLimit says otherwise.
const DefaultMemoryLimit int64 = 4 << 30

// Option configures ParseFile and Scan.
type Option func(*config)

type config struct {
	keepPixels  bool
	progress    Progress
	memoryLimit int64
}

func newConfig(opts []Option) config {
	c := config{memoryLimit: DefaultMemoryLimit}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// WithPixelData keeps each file's raw pixel bytes from the parse, so that LoadSeries decodes them without
// reading the files again.
func WithPixelData() Option { return func(c *config) { c.keepPixels = true } }

// WithProgress reports Scan's progress in files parsed. ParseFile ignores it.
func WithProgress(p Progress) Option { return func(c *config) { c.progress = p } }

// WithMemoryLimit rejects files whose declared image would decode to more than limit bytes of float32
// voxels, before anything is allocated for it.
func WithMemoryLimit(limit int64) Option { return func(c *config) { c.memoryLimit = limit } }

// File is one DICOM image file as its header describes it: the study and series it belongs to (without
// their lists of series and instances) and the instance itself.
type File struct {
	Study    Study    // Series is nil
	Series   Series   // Instances is nil; Hints set and Type = Classify(Hints)
	Instance Instance // Path, UIDs, transfer syntax, size, first-frame geometry
	// Windows are the VOI presets (WindowCenter/WindowWidth with their explanations), first one first.
	Windows []Window

	syntax   transferSyntax
	pix      pixelFormat
	frames   []frameInfo // one per frame: geometry and rescale
	warnings []string    // header oddities a reader should know about; they become Series.Problems
	pixelLen int64       // declared length of native pixel data; -1 when encapsulated
	native   []byte      // raw native pixel bytes, kept with WithPixelData
	frags    [][]byte    // encapsulated fragments, kept with WithPixelData
	offsets  []uint32    // the Basic Offset Table of encapsulated pixel data; empty when the file has none
}

// BasicOffsetTable is the Basic Offset Table of the file's encapsulated pixel data: where each frame's first
// fragment starts, in bytes from the first fragment's item tag; nil when the table is empty.
func (f *File) BasicOffsetTable() []uint32 { return f.offsets }

// hasPixels reports whether the file carries its pixel bytes (parsed WithPixelData).
func (f *File) hasPixels() bool { return f.native != nil || f.frags != nil }

// pixelFormat is the Image Pixel module of a file.
type pixelFormat struct {
	rows, cols, frames, samples int
	bitsAllocated, bitsStored   int
	highBit                     int
	signed                      bool
	photometric                 string
	planar                      bool // PlanarConfiguration 1: one plane per sample
}

// frameBytes is the size of one native frame in bytes; 1-bit frames are not byte aligned and return 0.
func (p *pixelFormat) frameBytes() int {
	switch {
	case p.bitsAllocated == 1:
		return 0
	case p.photometric == "YBR_FULL_422":
		return p.rows * p.cols * 2 * p.bitsAllocated / 8
	}
	return p.rows * p.cols * p.samples * p.bitsAllocated / 8
}

// nativeBytes is the length native pixel data must have, without its padding byte.
func (p *pixelFormat) nativeBytes() int64 {
	if p.bitsAllocated == 1 {
		return (int64(p.rows)*int64(p.cols)*int64(p.samples)*int64(p.frames) + 7) / 8
	}
	return int64(p.frameBytes()) * int64(p.frames)
}

// frameInfo is the geometry and rescale of one frame.
type frameInfo struct {
	position       Vec3
	orientation    [2]Vec3
	pixelSpacing   [2]float64 // between rows, between columns
	hasPosition    bool
	hasOrientation bool
	hasSpacing     bool
	synthetic      bool // position computed from a multi-frame file's spacing, not read per frame
	sliceThickness float64
	sliceSpacing   float64 // SpacingBetweenSlices
	slope          float64
	intercept      float64
}

// transferSyntax is what the loader knows about a transfer syntax UID.
type transferSyntax struct {
	uid, name string
	kind      syntaxKind
	bigEndian bool
	implicit  bool
	deflated  bool
}

type syntaxKind uint8

const (
	syntaxNative       syntaxKind = iota // implicit/explicit VR, little/big endian, deflated
	syntaxRLE                            // RLE Lossless, decoded by rle.go
	syntaxJPEGBaseline                   // JPEG Baseline (Process 1), decoded by jpeg.go
	syntaxEncapsulated                   // other encapsulated syntaxes: decoded by a registered Codec
)

func (ts transferSyntax) String() string { return fmt.Sprintf("%s (%s)", ts.name, ts.uid) }

// newerSyntaxes are encapsulated transfer syntaxes the DICOM library's dictionary lacks.
var newerSyntaxes = map[string]string{
	"1.2.840.10008.1.2.4.201": "High-Throughput JPEG 2000 Image Compression (Lossless Only)",
	"1.2.840.10008.1.2.4.202": "High-Throughput JPEG 2000 with RPCL Options Image Compression (Lossless Only)",
	"1.2.840.10008.1.2.4.203": "High-Throughput JPEG 2000 Image Compression",
}

// lookupTransferSyntax maps a UID to what the parser and the pixel decoder need.
func lookupTransferSyntax(u string) (transferSyntax, error) {
	switch u {
	case uid.ImplicitVRLittleEndian:
		return transferSyntax{uid: u, name: "Implicit VR Little Endian", implicit: true}, nil
	case uid.ExplicitVRLittleEndian:
		return transferSyntax{uid: u, name: "Explicit VR Little Endian"}, nil
	case uid.ExplicitVRBigEndian:
		return transferSyntax{uid: u, name: "Explicit VR Big Endian", bigEndian: true}, nil
	case uid.DeflatedExplicitVRLittleEndian:
		return transferSyntax{uid: u, name: "Deflated Explicit VR Little Endian", deflated: true}, nil
	case "":
		return transferSyntax{}, fmt.Errorf("%w: the file meta information has no TransferSyntaxUID", ErrUnsupportedTransferSyntax)
	}
	if name, ok := newerSyntaxes[u]; ok {
		return transferSyntax{uid: u, name: name, kind: syntaxEncapsulated}, nil
	}
	info, err := uid.Lookup(u)
	if err != nil || info.Type != uid.TypeTransferSyntax {
		return transferSyntax{}, fmt.Errorf("%w: %q is not a known transfer syntax UID", ErrUnsupportedTransferSyntax, u)
	}
	// The library reads every other known transfer syntax as explicit VR little endian with encapsulated
	// pixel data.
	ts := transferSyntax{uid: u, name: info.Name, kind: syntaxEncapsulated}
	switch u {
	case "1.2.840.10008.1.2.5":
		ts.kind = syntaxRLE
	case "1.2.840.10008.1.2.4.50":
		ts.kind = syntaxJPEGBaseline
	}
	return ts, nil
}

// ParseFile reads one file's header (and, WithPixelData, its raw pixel bytes). Files that are not DICOM,
// DICOMDIRs and objects without an image (SR, RT plans…) are rejected with an error that says why; errors
// name the file.
func ParseFile(path string, opts ...Option) (*File, error) {
	cfg := newConfig(opts)
	return parseFileConfig(path, &cfg)
}

// ParseReader is ParseFile for the size bytes of a file read from r, without a file system; errors, and
// the instance's Path, carry name.
func ParseReader(r io.ReaderAt, size int64, name string, opts ...Option) (*File, error) {
	cfg := newConfig(opts)
	return parseNamed(r, size, name, &cfg)
}

// CheckStructure checks the size bytes of a DICOM file read from r the way parsing does before the library
// reads them (walkFile): the "DICM" prefix, the file meta and its transfer syntax, and that every defined
// length fits in what is left of the file. Run it before giving bytes from elsewhere to a DICOM library,
// which allocates a value's declared length (up to 4 GiB) before reading it.
func CheckStructure(r io.ReaderAt, size int64) error {
	_, err := walkFile(r, size, DefaultMemoryLimit)
	return err
}

// parseNamed is parseDICOM with errors and the instance's Path naming the file.
func parseNamed(r io.ReaderAt, size int64, name string, cfg *config) (*File, error) {
	f, err := parseDICOM(r, size, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	f.Instance.Path = name
	return f, nil
}

var bufPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 16<<10) }}

// parseDICOM parses a file of size bytes: first the length guard (walkFile), then the library, then the
// attributes the viewer needs. A file without preamble or file meta is read as Part10 completes it.
func parseDICOM(r io.ReaderAt, size int64, cfg *config) (*File, error) {
	r, size, warning, err := Part10(r, size)
	if err != nil {
		return nil, err
	}
	f, err := parsePart10(r, size, cfg)
	if err == nil && warning != "" {
		f.warnings = append([]string{warning}, f.warnings...)
	}
	return f, err
}

func parsePart10(r io.ReaderAt, size int64, cfg *config) (*File, error) {
	lay, err := walkFile(r, size, cfg.memoryLimit)
	if err != nil {
		return nil, err
	}
	opts := []dicom.ParseOption{dicom.AllowMissingMetaElementGroupLength(), dicom.AllowUnknownSpecificCharacterSet()}
	end := size
	if cfg.keepPixels {
		opts = append(opts, dicom.SkipProcessingPixelDataValue())
	} else {
		opts = append(opts, dicom.SkipPixelData())
		if lay.pixelAt > 0 {
			end = lay.pixelAt // the library would read the pixel data to skip it: stop it before
		}
	}
	br := bufPool.Get().(*bufio.Reader)
	br.Reset(io.NewSectionReader(r, 0, end))
	ds, err := libraryParse(br, end, lay, opts)
	br.Reset(nil)
	bufPool.Put(br)
	if err != nil {
		return nil, err
	}
	return buildFile(&ds, lay, cfg)
}

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

// libraryParse runs the library's parser over a whole file and turns its panics into errors.
func libraryParse(r io.Reader, size int64, lay *fileLayout, opts []dicom.ParseOption) (ds dicom.Dataset, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("DICOM parser panicked: %v", p)
		}
	}()
	p, err := dicom.NewParser(r, size, nil, opts...)
	if err != nil {
		return ds, fmt.Errorf("parse: %w", err)
	}
	switch {
	case lay.forceImplicit:
		p.SetTransferSyntax(binary.LittleEndian, true)
	case lay.syntax.kind != syntaxNative:
		p.SetTransferSyntax(binary.LittleEndian, false) // the library fails on syntaxes it does not know
	}
	ds.Elements = append(ds.Elements, p.GetMetadata().Elements...)
	for {
		e, err := p.Next()
		if err != nil {
			// walkFile has checked that the file does not end inside an element, so EOF is the end.
			if errors.Is(err, dicom.ErrorEndOfDICOM) || errors.Is(err, io.EOF) {
				return ds, nil
			}
			return ds, fmt.Errorf("parse: %w", err)
		}
		ds.Elements = append(ds.Elements, e)
	}
}

// fileLayout is what walkFile learned about a file before the library reads it.
type fileLayout struct {
	syntax      transferSyntax
	mediaClass  string // MediaStorageSOPClassUID
	hasPixels   bool   // a top-level Pixel Data element exists
	pixelLen    uint32 // its value length; undefined length for encapsulated data
	pixelAt     int64  // file offset of its tag; 0 when unknown (deflated data)
	datasetSize int64  // bytes after the file meta (inflated for deflated files)
	// forceImplicit: the dataset is implicit VR although the transfer syntax says explicit.
	forceImplicit bool
	bot           []uint32 // the Basic Offset Table of encapsulated pixel data (the library skips it)
}

// maxBOT is the largest Basic Offset Table read, in bytes: a million frames.
const maxBOT = 4 << 20

const dicomdirClass = "1.2.840.10008.1.3.10"

var errDICOMDIR = fmt.Errorf("%w: a DICOMDIR (media storage directory) lists files and holds no image", ErrNoPixels)

func isUpper(b byte) bool { return b >= 'A' && b <= 'Z' }

// cursor reads small pieces of a file at arbitrary offsets through one buffer.
type cursor struct {
	r      io.ReaderAt
	size   int64
	buf    []byte
	bufOff int64
	bufLen int
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

// walkFile checks a file's element structure before the library reads it: the "DICM" prefix, the file meta
// and its transfer syntax, and that every defined length fits in what is left of the file (the library
// allocates a value's declared length before reading it, and stops silently when a file ends early). It
// walks the element headers the way the library reads them and touches no values except two meta UIDs.
func walkFile(r io.ReaderAt, size int64, limit int64) (*fileLayout, error) {
	c := &cursor{r: r, size: size, buf: make([]byte, 8192)}
	if b, ok := c.at(128, 4); !ok || string(b) != "DICM" {
		return nil, fmt.Errorf("%w: no \"DICM\" prefix at byte 128", ErrNotDICOM)
	}
	lay := &fileLayout{}
	metaEnd, tsUID, err := walkMeta(c, lay)
	if err != nil {
		return nil, err
	}
	if lay.mediaClass == dicomdirClass {
		return nil, errDICOMDIR
	}
	if lay.syntax, err = lookupTransferSyntax(tsUID); err != nil {
		return nil, err
	}
	w := &walker{c: c, off: metaEnd, end: size, implicit: lay.syntax.implicit, bo: binary.LittleEndian}
	if lay.syntax.bigEndian {
		w.bo = binary.BigEndian
	}
	if lay.syntax.deflated {
		inflated, err := inflate(io.NewSectionReader(r, metaEnd, size-metaEnd), limit)
		if err != nil {
			return nil, err
		}
		w.c = &cursor{r: bytes.NewReader(inflated), size: int64(len(inflated)), buf: make([]byte, 8192)}
		w.off, w.end = 0, int64(len(inflated))
	}
	lay.datasetSize = w.end - w.off
	if !w.implicit {
		// Some writers put an implicit VR dataset under an explicit VR transfer syntax; like pydicom, read
		// it as implicit when the first element has no VR.
		if h, ok := w.c.at(w.off+4, 2); ok && !(isUpper(h[0]) && isUpper(h[1])) {
			w.implicit, lay.forceImplicit = true, true
		}
	}
	if err := w.dataset(lay); err != nil {
		return nil, err
	}
	return lay, nil
}

// inflate decompresses a deflated dataset, refusing to produce more than limit bytes.
func inflate(r io.Reader, limit int64) ([]byte, error) {
	fr := flate.NewReader(r)
	defer fr.Close()
	out, err := io.ReadAll(io.LimitReader(fr, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%w: deflated dataset: %v", ErrTruncated, err)
	}
	if int64(len(out)) > limit {
		return nil, fmt.Errorf("deflated dataset inflates to more than the %d-byte memory limit", limit)
	}
	return out, nil
}

// walkMeta walks the file meta group (explicit VR little endian) and returns where the dataset starts and
// the transfer syntax UID.
func walkMeta(c *cursor, lay *fileLayout) (end int64, tsUID string, err error) {
	off := int64(132)
	metaEnd := int64(-1) // unknown: read while the group is 0002
	if h, ok := c.at(off, 12); ok && binary.LittleEndian.Uint16(h) == 2 && binary.LittleEndian.Uint16(h[2:]) == 0 {
		if string(h[4:6]) != "UL" || binary.LittleEndian.Uint16(h[6:]) != 4 {
			return 0, "", fmt.Errorf("%w: malformed FileMetaInformationGroupLength", ErrNotDICOM)
		}
		metaEnd = off + 12 + int64(binary.LittleEndian.Uint32(h[8:]))
		if metaEnd > c.size {
			return 0, "", fmt.Errorf("%w: file meta declares %d bytes, file has %d", ErrTruncated, metaEnd, c.size)
		}
		off += 12
	}
	for metaEnd < 0 || off < metaEnd {
		h, ok := c.at(off, 8)
		if !ok {
			return 0, "", fmt.Errorf("%w: file ends inside the file meta at byte %d", ErrTruncated, off)
		}
		group, elem := binary.LittleEndian.Uint16(h), binary.LittleEndian.Uint16(h[2:])
		if group != 2 {
			if metaEnd < 0 {
				break
			}
			return 0, "", fmt.Errorf("%w: element (%04x,%04x) inside the file meta group", ErrNotDICOM, group, elem)
		}
		vr := string(h[4:6])
		var vl int64
		if longVR(vr) {
			h, ok = c.at(off, 12)
			if !ok {
				return 0, "", fmt.Errorf("%w: file ends inside the file meta at byte %d", ErrTruncated, off)
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
			return 0, "", fmt.Errorf("%w: malformed file meta element (0002,%04x) (VR %q, length %d)", ErrNotDICOM, elem, vr, vl)
		}
		if elem == 0x0010 || elem == 0x0002 {
			v, _ := c.at(off, int(vl))
			s := strings.TrimRight(string(v), " \x00")
			if elem == 0x0010 {
				tsUID = s
			} else {
				lay.mediaClass = s
			}
		}
		off += vl
	}
	return off, tsUID, nil
}

// longVR reports the explicit VRs whose length field has 4 bytes (after 2 reserved bytes).
func longVR(vr string) bool {
	switch vr {
	case "NA", "OB", "OD", "OF", "OL", "OW", "SQ", "UN", "UC", "UR", "UT":
		return true
	}
	return false
}

const undefinedLength = 0xFFFFFFFF

// walker steps through a dataset's element headers.
type walker struct {
	c        *cursor
	off, end int64
	bo       binary.ByteOrder
	implicit bool
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
func (w *walker) dataset(lay *fileLayout) error {
	var open []int64   // ends of the enclosing sequences and items; -1 for undefined length
	fragments := false // inside encapsulated data: items are raw fragments, not elements
	topFragments := false
	botRead := false // the first item of the top-level pixel data, its Basic Offset Table, was read
	for w.off < w.end {
		for len(open) > 0 && open[len(open)-1] >= 0 && w.off >= open[len(open)-1] {
			open = open[:len(open)-1]
		}
		if fragments {
			h, err := w.header(8, "item header")
			if err != nil {
				return err
			}
			t := tag.Tag{Group: w.bo.Uint16(h), Element: w.bo.Uint16(h[2:])}
			vl := w.bo.Uint32(h[4:])
			w.off += 8
			switch {
			case t == tag.SequenceDelimitationItem:
				fragments = false
				continue
			case t != tag.Item || vl == undefinedLength:
				continue // the library skips these headers too
			case int64(vl) > w.end-w.off:
				return fmt.Errorf("%w: an encapsulated fragment at byte %d declares %d bytes, %d remain", ErrTruncated, w.off, vl, w.end-w.off)
			}
			if topFragments {
				lay.hasPixels = true
				if !botRead && vl%4 == 0 && vl <= maxBOT {
					if b, ok := w.c.at(w.off, int(vl)); ok {
						lay.bot = make([]uint32, vl/4)
						for i := range lay.bot {
							lay.bot[i] = binary.LittleEndian.Uint32(b[4*i:])
						}
					}
				}
				botRead = true
			}
			w.off += int64(vl)
			continue
		}
		start := w.off
		h, err := w.header(4, "element tag")
		if err != nil {
			return err
		}
		t := tag.Tag{Group: w.bo.Uint16(h), Element: w.bo.Uint16(h[2:])}
		w.off += 4
		implicit := w.implicit || t == tag.Item
		var vr string
		var vl uint32
		if implicit {
			vr = implicitVR(t)
			h, err := w.header(4, "value length")
			if err != nil {
				return err
			}
			vl = w.bo.Uint32(h)
			w.off += 4
		} else {
			h, err := w.header(4, "VR and value length")
			if err != nil {
				return err
			}
			vr = string(h[:2])
			if longVR(vr) {
				h, err = w.header(8, "value length")
				if err != nil {
					return err
				}
				vl = w.bo.Uint32(h[4:])
				w.off += 8
			} else {
				vl = uint32(w.bo.Uint16(h[2:]))
				if vl == 0xFFFF {
					vl = undefinedLength
				}
				w.off += 4
			}
		}
		top := len(open) == 0
		if top && t == tag.PixelData && !lay.syntax.deflated {
			lay.pixelAt = start
		}
		kind := tag.GetVRKind(t, vr)
		if vl == undefinedLength {
			switch kind {
			case tag.VRItem, tag.VRSequence, tag.VRUnknown:
				open = append(open, -1)
			case tag.VRPixelData, tag.VRBytes:
				fragments = true
				topFragments = top && kind == tag.VRPixelData
				if topFragments {
					lay.pixelLen = undefinedLength
				}
			default:
				return fmt.Errorf("element %v has an undefined length, which its VR %q does not allow", t, vr)
			}
			if top && t == tag.PixelData {
				lay.hasPixels = true
			}
			continue
		}
		if int64(vl) > w.end-w.off {
			if top && t == tag.PixelData {
				return fmt.Errorf("%w: pixel data declares %d bytes, the file has %d after its header", ErrTruncated, vl, w.end-w.off)
			}
			return fmt.Errorf("%w: element %v at byte %d declares %d bytes, %d remain", ErrTruncated, t, w.off, vl, w.end-w.off)
		}
		switch {
		case t == tag.ItemDelimitationItem || t == tag.SequenceDelimitationItem:
			if len(open) > 0 && open[len(open)-1] < 0 {
				open = open[:len(open)-1]
			}
			w.off += int64(vl)
		case kind == tag.VRItem || kind == tag.VRSequence:
			open = append(open, w.off+int64(vl))
		default:
			if top && t == tag.PixelData {
				lay.hasPixels, lay.pixelLen = true, vl
			}
			w.off += int64(vl)
		}
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

// Attributes the viewer reads from the top level of a dataset.
const (
	aSOPClass = iota
	aSOPInstance
	aStudyDate
	aStudyTime
	aAccession
	aModality
	aStudyDescription
	aSeriesDescription
	aPatientName
	aPatientID
	aBirthDate
	aSex
	aContrast
	aScanningSequence
	aSliceThickness
	aRepetitionTime
	aEchoTime
	aInversionTime
	aSequenceName
	aSpacingBetweenSlices
	aProtocolName
	aDiffusionB
	aStudyUID
	aSeriesUID
	aSeriesNumber
	aInstanceNumber
	aPosition
	aOrientation
	aFrameOfReference
	aSamples
	aPhotometric
	aPlanar
	aFrames
	aRows
	aColumns
	aPixelSpacing
	aImagerPixelSpacing
	aBitsAllocated
	aBitsStored
	aHighBit
	aPixelRepresentation
	aWindowCenter
	aWindowWidth
	aRescaleIntercept
	aRescaleSlope
	aWindowExplanation
	aGridFrameOffsets
	aDirectoryRecords
	aSharedGroups
	aPerFrameGroups
	aPixelData
	nAttrs
)

var attrTags = [nAttrs]tag.Tag{
	aSOPClass: tag.SOPClassUID, aSOPInstance: tag.SOPInstanceUID, aStudyDate: tag.StudyDate,
	aStudyTime: tag.StudyTime, aAccession: tag.AccessionNumber, aModality: tag.Modality,
	aStudyDescription: tag.StudyDescription, aSeriesDescription: tag.SeriesDescription,
	aPatientName: tag.PatientName, aPatientID: tag.PatientID, aBirthDate: tag.PatientBirthDate,
	aSex: tag.PatientSex, aContrast: tag.ContrastBolusAgent, aScanningSequence: tag.ScanningSequence,
	aSliceThickness: tag.SliceThickness, aRepetitionTime: tag.RepetitionTime, aEchoTime: tag.EchoTime,
	aInversionTime: tag.InversionTime, aSequenceName: tag.SequenceName,
	aSpacingBetweenSlices: tag.SpacingBetweenSlices, aProtocolName: tag.ProtocolName,
	aDiffusionB: tag.DiffusionBValue, aStudyUID: tag.StudyInstanceUID, aSeriesUID: tag.SeriesInstanceUID,
	aSeriesNumber: tag.SeriesNumber, aInstanceNumber: tag.InstanceNumber, aPosition: tag.ImagePositionPatient,
	aOrientation: tag.ImageOrientationPatient, aFrameOfReference: tag.FrameOfReferenceUID,
	aSamples: tag.SamplesPerPixel, aPhotometric: tag.PhotometricInterpretation, aPlanar: tag.PlanarConfiguration,
	aFrames: tag.NumberOfFrames, aRows: tag.Rows, aColumns: tag.Columns, aPixelSpacing: tag.PixelSpacing,
	aImagerPixelSpacing: tag.ImagerPixelSpacing, aBitsAllocated: tag.BitsAllocated, aBitsStored: tag.BitsStored,
	aHighBit: tag.HighBit, aPixelRepresentation: tag.PixelRepresentation, aWindowCenter: tag.WindowCenter,
	aWindowWidth: tag.WindowWidth, aRescaleIntercept: tag.RescaleIntercept, aRescaleSlope: tag.RescaleSlope,
	aWindowExplanation: tag.WindowCenterWidthExplanation, aGridFrameOffsets: tag.GridFrameOffsetVector,
	aDirectoryRecords: tag.DirectoryRecordSequence, aSharedGroups: tag.SharedFunctionalGroupsSequence,
	aPerFrameGroups: tag.PerFrameFunctionalGroupsSequence, aPixelData: tag.PixelData,
}

var attrIndex = func() map[uint32]int {
	m := make(map[uint32]int, nAttrs)
	for i, t := range attrTags {
		m[t.Uint32()] = i
	}
	return m
}()

// attrs holds one dataset's attributes, indexed by the a* constants.
type attrs [nAttrs]*dicom.Element

// withKnownVR re-reads an element a file stores with VR UN by its dictionary VR, as pydicom does.
func withKnownVR(e *dicom.Element, order binary.ByteOrder) *dicom.Element {
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
		data = ints
	case "FL", "FD":
		var fl []float64
		if vr == "FL" {
			for i := 0; i+4 <= len(raw); i += 4 {
				fl = append(fl, float64(math.Float32frombits(order.Uint32(raw[i:]))))
			}
		} else {
			for i := 0; i+8 <= len(raw); i += 8 {
				fl = append(fl, math.Float64frombits(order.Uint64(raw[i:])))
			}
		}
		data = fl
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

func elemStrings(e *dicom.Element) []string {
	if e == nil || e.Value == nil {
		return nil
	}
	s, _ := e.Value.GetValue().([]string)
	return s
}

func elemString(e *dicom.Element) string {
	s := elemStrings(e)
	if len(s) == 0 {
		return ""
	}
	return strings.TrimSpace(strings.Trim(s[0], "\x00"))
}

// elemFloats reads DS/IS strings or binary numbers; ok is false when a value does not parse.
func elemFloats(e *dicom.Element) (v []float64, ok bool) {
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
			s = strings.TrimSpace(strings.Trim(s, "\x00"))
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

// elemInt reads the first value of an integer attribute (US/UL/SS/SL or IS); present is false when the
// attribute is absent or empty, and err reports a value that is not an integer.
func elemInt(e *dicom.Element) (n int, present bool, err error) {
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
		if len(x) == 0 || strings.TrimSpace(strings.Trim(x[0], "\x00")) == "" {
			return 0, false, nil
		}
		s := strings.TrimSpace(strings.Trim(x[0], "\x00"))
		n, err := strconv.Atoi(strings.TrimPrefix(s, "+"))
		if err != nil {
			return 0, true, fmt.Errorf("%s %q is not an integer", tagName(e.Tag), s)
		}
		return n, true, nil
	}
	return 0, true, fmt.Errorf("%s has an unexpected value type", tagName(e.Tag))
}

func tagName(t tag.Tag) string {
	if info, err := tag.Find(t); err == nil {
		return info.Name
	}
	return t.String()
}

// seqItems returns the items of a sequence element.
func seqItems(e *dicom.Element) [][]*dicom.Element {
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

func findElem(els []*dicom.Element, t tag.Tag) *dicom.Element {
	for _, e := range els {
		if e.Tag == t {
			return e
		}
	}
	return nil
}

// firstItem returns the first item of the sequence t in els.
func firstItem(els []*dicom.Element, t tag.Tag) []*dicom.Element {
	items := seqItems(findElem(els, t))
	if len(items) == 0 {
		return nil
	}
	return items[0]
}

// buildFile turns a parsed dataset into a File and checks that it holds a decodable-looking image.
func buildFile(ds *dicom.Dataset, lay *fileLayout, cfg *config) (*File, error) {
	var a attrs
	var order binary.ByteOrder = binary.LittleEndian
	if lay.syntax.bigEndian && !lay.forceImplicit {
		order = binary.BigEndian
	}
	for _, e := range ds.Elements {
		if i, ok := attrIndex[e.Tag.Uint32()]; ok && a[i] == nil {
			a[i] = withKnownVR(e, order)
		}
	}
	f := &File{syntax: lay.syntax, pixelLen: -1, offsets: lay.bot}
	sopClass := elemString(a[aSOPClass])
	if sopClass == "" {
		sopClass = lay.mediaClass
	}
	if sopClass == dicomdirClass || a[aDirectoryRecords] != nil {
		return nil, errDICOMDIR
	}
	f.Study = Study{
		UID: elemString(a[aStudyUID]), PatientName: elemString(a[aPatientName]), PatientID: elemString(a[aPatientID]),
		PatientBirthDate: elemString(a[aBirthDate]), PatientSex: elemString(a[aSex]),
		StudyDate: elemString(a[aStudyDate]), StudyTime: elemString(a[aStudyTime]),
		Description: elemString(a[aStudyDescription]), AccessionNumber: elemString(a[aAccession]),
	}
	f.Series = Series{
		UID: elemString(a[aSeriesUID]), StudyUID: f.Study.UID, Modality: elemString(a[aModality]),
		Description: elemString(a[aSeriesDescription]), FrameOfReferenceUID: elemString(a[aFrameOfReference]),
	}
	if n, ok, err := elemInt(a[aSeriesNumber]); ok && err == nil {
		f.Series.Number = n
	}
	f.Instance = Instance{SOPInstanceUID: elemString(a[aSOPInstance]), SOPClassUID: sopClass, TransferSyntax: lay.syntax.uid}
	if n, ok, err := elemInt(a[aInstanceNumber]); ok {
		if err != nil {
			f.warnings = append(f.warnings, err.Error())
		}
		f.Instance.Number = n
	}

	if !lay.hasPixels {
		if a[aRows] != nil || a[aColumns] != nil {
			return nil, fmt.Errorf("%w: the header describes an image but the file ends before its pixel data: expected %s, found 0", ErrTruncated, declaredBytes(&a))
		}
		return nil, fmt.Errorf("%w: %s holds no image", ErrNoPixels, sopClassName(sopClass))
	}
	if err := f.readPixelFormat(&a, lay, cfg.memoryLimit); err != nil {
		return nil, err
	}
	f.readFrames(&a)
	f.readHints(&a)
	f.Windows = readWindows(a[aWindowCenter], a[aWindowWidth], a[aWindowExplanation])
	if len(f.Windows) == 0 {
		var voi []*dicom.Element
		if shared := seqItems(a[aSharedGroups]); len(shared) > 0 {
			voi = firstItem(shared[0], tag.FrameVOILUTSequence)
		}
		if voi == nil {
			if pf := seqItems(a[aPerFrameGroups]); len(pf) > 0 {
				voi = firstItem(pf[0], tag.FrameVOILUTSequence)
			}
		}
		f.Windows = readWindows(findElem(voi, tag.WindowCenter), findElem(voi, tag.WindowWidth), findElem(voi, tag.WindowCenterWidthExplanation))
	}
	fi := f.frames[0]
	f.Instance.Rows, f.Instance.Columns, f.Instance.Frames = f.pix.rows, f.pix.cols, f.pix.frames
	f.Instance.Position, f.Instance.Orientation = fi.position, fi.orientation
	f.Instance.PixelSpacing = fi.pixelSpacing
	f.Instance.HasPosition = fi.hasPosition && fi.hasOrientation && !fi.synthetic

	if cfg.keepPixels {
		if a[aPixelData] == nil {
			return nil, fmt.Errorf("%w: the parser returned no pixel data", ErrTruncated)
		}
		if err := f.takePixels(a[aPixelData]); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// declaredBytes describes the pixel data size the header declares, for error messages.
func declaredBytes(a *attrs) string {
	n := int64(1)
	for _, i := range []int{aRows, aColumns, aSamples, aFrames} {
		if v, ok, err := elemInt(a[i]); ok && err == nil && v > 0 {
			n *= int64(v)
		}
	}
	bits, ok, err := elemInt(a[aBitsAllocated])
	if !ok || err != nil || bits <= 0 {
		return "pixel bytes"
	}
	return fmt.Sprintf("%d bytes", (n*int64(bits)+7)/8)
}

func sopClassName(u string) string {
	if u == "" {
		return "an object without SOP Class UID"
	}
	if info, err := uid.Lookup(u); err == nil {
		return fmt.Sprintf("%s (%s)", info.Name, u)
	}
	return "SOP class " + u
}

// readPixelFormat reads and checks the Image Pixel module, and checks the pixel data's length against it.
func (f *File) readPixelFormat(a *attrs, lay *fileLayout, limit int64) error {
	p := &f.pix
	need := func(i int, name string) (int, error) {
		n, ok, err := elemInt(a[i])
		if err != nil {
			return 0, err
		}
		if !ok {
			return 0, fmt.Errorf("image without %s", name)
		}
		return n, nil
	}
	var err error
	if p.rows, err = need(aRows, "Rows"); err != nil {
		return err
	}
	if p.cols, err = need(aColumns, "Columns"); err != nil {
		return err
	}
	if p.bitsAllocated, err = need(aBitsAllocated, "BitsAllocated"); err != nil {
		return err
	}
	opt := func(i, def int) (int, error) {
		n, ok, err := elemInt(a[i])
		if err != nil || !ok {
			return def, err
		}
		return n, nil
	}
	if p.samples, err = opt(aSamples, 1); err != nil {
		return err
	}
	if p.frames, err = opt(aFrames, 1); err != nil {
		return err
	}
	if p.bitsStored, err = opt(aBitsStored, p.bitsAllocated); err != nil {
		return err
	}
	if p.highBit, err = opt(aHighBit, p.bitsStored-1); err != nil {
		return err
	}
	rep, err := opt(aPixelRepresentation, 0)
	if err != nil {
		return err
	}
	planar, err := opt(aPlanar, 0)
	if err != nil {
		return err
	}
	p.signed, p.planar = rep == 1, planar == 1
	p.photometric = strings.ToUpper(elemString(a[aPhotometric]))
	if p.photometric == "" {
		if p.samples != 1 {
			return fmt.Errorf("image with %d samples per pixel has no PhotometricInterpretation", p.samples)
		}
		p.photometric = "MONOCHROME2"
		f.warnings = append(f.warnings, "PhotometricInterpretation missing: read as MONOCHROME2")
	}

	switch {
	case p.rows <= 0 || p.cols <= 0 || p.rows > 65535 || p.cols > 65535:
		return fmt.Errorf("image size %d×%d is invalid", p.cols, p.rows)
	case p.frames <= 0:
		return fmt.Errorf("NumberOfFrames %d is invalid", p.frames)
	case p.samples != 1 && p.samples != 3:
		return fmt.Errorf("SamplesPerPixel %d is not supported (1 or 3)", p.samples)
	case p.bitsAllocated != 1 && p.bitsAllocated != 8 && p.bitsAllocated != 16 && p.bitsAllocated != 32:
		return fmt.Errorf("BitsAllocated %d is not supported (1, 8, 16 or 32)", p.bitsAllocated)
	case p.bitsStored <= 0 || p.bitsStored > p.bitsAllocated || p.highBit < p.bitsStored-1 || p.highBit >= p.bitsAllocated:
		return fmt.Errorf("BitsStored %d / HighBit %d do not fit BitsAllocated %d", p.bitsStored, p.highBit, p.bitsAllocated)
	case rep != 0 && rep != 1:
		return fmt.Errorf("PixelRepresentation %d is invalid", rep)
	}
	switch p.photometric {
	case "MONOCHROME1", "MONOCHROME2":
		if p.samples != 1 {
			return fmt.Errorf("%s with %d samples per pixel", p.photometric, p.samples)
		}
	case "RGB", "YBR_FULL", "YBR_FULL_422", "YBR_PARTIAL_422", "YBR_PARTIAL_420", "YBR_ICT", "YBR_RCT":
		if p.samples != 3 {
			return fmt.Errorf("%s with %d samples per pixel", p.photometric, p.samples)
		}
		if f.syntax.kind == syntaxNative && p.photometric != "RGB" && p.photometric != "YBR_FULL" &&
			!(p.photometric == "YBR_FULL_422" && p.bitsAllocated == 8 && p.cols%2 == 0) {
			return fmt.Errorf("PhotometricInterpretation %s is not supported in native pixel data", p.photometric)
		}
	default:
		return fmt.Errorf("PhotometricInterpretation %q is not supported", p.photometric)
	}
	if p.bitsAllocated == 1 && (f.syntax.kind != syntaxNative || p.samples != 1) {
		return fmt.Errorf("1-bit pixel data is supported only for native grey-scale images")
	}

	// Size guards, before anything is allocated for the image.
	voxels := int64(p.rows) * int64(p.cols) * int64(p.samples)
	if int64(p.frames) > limit/4/voxels {
		return fmt.Errorf("%d×%d×%d frames×%d samples exceed the %d-byte memory limit", p.cols, p.rows, p.frames, p.samples, limit)
	}
	if f.syntax.kind == syntaxNative {
		if lay.pixelLen == undefinedLength {
			return fmt.Errorf("pixel data is encapsulated but the transfer syntax is %s", f.syntax)
		}
		want, found := p.nativeBytes(), int64(lay.pixelLen)
		if want > lay.datasetSize {
			return fmt.Errorf("%w: %d×%d×%d frames need %d pixel bytes, the whole dataset has %d", ErrTruncated, p.cols, p.rows, p.frames, want, lay.datasetSize)
		}
		if found < want {
			return fmt.Errorf("%w: pixel data has %d bytes, expected %d (%d×%d, %d frames, %d samples, %d bits allocated)",
				ErrTruncated, found, want, p.cols, p.rows, p.frames, p.samples, p.bitsAllocated)
		}
		if found > want+1 {
			f.warnings = append(f.warnings, fmt.Sprintf("pixel data has %d bytes, %d expected: the excess is ignored", found, want))
		}
		f.pixelLen = found
	} else if lay.pixelLen != undefinedLength {
		return fmt.Errorf("transfer syntax %s needs encapsulated pixel data, the file's is native", f.syntax)
	}
	return nil
}

// takePixels keeps the raw pixel bytes the library read.
func (f *File) takePixels(e *dicom.Element) error {
	info, ok := e.Value.GetValue().(dicom.PixelDataInfo)
	if !ok {
		return fmt.Errorf("pixel data has an unexpected value type")
	}
	if f.syntax.kind == syntaxNative {
		if !info.IntentionallyUnprocessed || int64(len(info.UnprocessedValueData)) < f.pix.nativeBytes() {
			return fmt.Errorf("%w: pixel data read has %d bytes, expected %d", ErrTruncated, len(info.UnprocessedValueData), f.pix.nativeBytes())
		}
		f.native = info.UnprocessedValueData
		return nil
	}
	f.frags = make([][]byte, 0, len(info.Frames))
	for _, fr := range info.Frames {
		if fr != nil {
			f.frags = append(f.frags, fr.EncapsulatedData.Data)
		}
	}
	if len(f.frags) == 0 {
		return fmt.Errorf("%w: encapsulated pixel data has no fragments", ErrTruncated)
	}
	return nil
}

// vecAttr reads n floats of an attribute; ok is false when absent, bad when present but malformed.
func vecAttr(e *dicom.Element, n int) (v []float64, ok bool, bad bool) {
	if e == nil {
		return nil, false, false
	}
	v, good := elemFloats(e)
	if !good || len(v) < n {
		return nil, false, true
	}
	return v[:n], true, false
}

// applyGeometry reads position, orientation, spacing and rescale attributes from els into fi.
func (f *File) applyGeometry(fi *frameInfo, pos, ori, spacing, thick, between, slope, icpt *dicom.Element) {
	if v, ok, bad := vecAttr(pos, 3); ok {
		fi.position, fi.hasPosition = Vec3{v[0], v[1], v[2]}, true
	} else if bad {
		f.warnOnce("ImagePositionPatient is malformed: ignored")
	}
	if v, ok, bad := vecAttr(ori, 6); ok {
		r, c := Vec3{v[0], v[1], v[2]}, Vec3{v[3], v[4], v[5]}
		if r.Norm() > 0.5 && c.Norm() > 0.5 && math.Abs(r.Unit().Dot(c.Unit())) < 0.1 {
			fi.orientation, fi.hasOrientation = [2]Vec3{r.Unit(), c.Unit()}, true
		} else {
			f.warnOnce("ImageOrientationPatient is not two orthogonal directions: ignored")
		}
	} else if bad {
		f.warnOnce("ImageOrientationPatient is malformed: ignored")
	}
	if v, ok, bad := vecAttr(spacing, 2); ok && v[0] > 0 && v[1] > 0 {
		fi.pixelSpacing, fi.hasSpacing = [2]float64{v[0], v[1]}, true
	} else if ok || bad {
		f.warnOnce("PixelSpacing is malformed: ignored")
	}
	if v, ok, _ := vecAttr(thick, 1); ok && v[0] > 0 {
		fi.sliceThickness = v[0]
	}
	if v, ok, _ := vecAttr(between, 1); ok && v[0] > 0 {
		fi.sliceSpacing = v[0]
	}
	if v, ok, bad := vecAttr(slope, 1); ok && v[0] != 0 {
		fi.slope = v[0]
	} else if ok || bad {
		f.warnOnce("RescaleSlope is malformed or zero: 1 used")
	}
	if v, ok, bad := vecAttr(icpt, 1); ok {
		fi.intercept = v[0]
	} else if bad {
		f.warnOnce("RescaleIntercept is malformed: 0 used")
	}
}

func (f *File) warnOnce(s string) {
	for _, w := range f.warnings {
		if w == s {
			return
		}
	}
	f.warnings = append(f.warnings, s)
}

// applyGroup applies one functional group item (shared or per frame) to fi.
func (f *File) applyGroup(fi *frameInfo, group []*dicom.Element) {
	if len(group) == 0 {
		return
	}
	pm := firstItem(group, tag.PixelMeasuresSequence)
	pp := firstItem(group, tag.PlanePositionSequence)
	po := firstItem(group, tag.PlaneOrientationSequence)
	pv := firstItem(group, tag.PixelValueTransformationSequence)
	f.applyGeometry(fi, findElem(pp, tag.ImagePositionPatient), findElem(po, tag.ImageOrientationPatient),
		findElem(pm, tag.PixelSpacing), findElem(pm, tag.SliceThickness), findElem(pm, tag.SpacingBetweenSlices),
		findElem(pv, tag.RescaleSlope), findElem(pv, tag.RescaleIntercept))
}

// readFrames fills f.frames: the top-level attributes, then the shared functional groups, then each
// frame's own. Frames of a multi-frame file without per-frame positions are stacked along the slice normal.
func (f *File) readFrames(a *attrs) {
	base := frameInfo{slope: 1}
	f.applyGeometry(&base, a[aPosition], a[aOrientation], a[aPixelSpacing], a[aSliceThickness],
		a[aSpacingBetweenSlices], a[aRescaleSlope], a[aRescaleIntercept])
	if !base.hasSpacing {
		if v, ok, _ := vecAttr(a[aImagerPixelSpacing], 2); ok && v[0] > 0 && v[1] > 0 {
			base.pixelSpacing, base.hasSpacing = [2]float64{v[0], v[1]}, true
			f.warnings = append(f.warnings, "PixelSpacing missing: ImagerPixelSpacing used")
		}
	}
	shared := seqItems(a[aSharedGroups])
	if len(shared) > 0 {
		f.applyGroup(&base, shared[0])
	}
	perFrame := seqItems(a[aPerFrameGroups])
	if len(perFrame) > 0 && len(perFrame) != f.pix.frames {
		f.warnings = append(f.warnings, fmt.Sprintf("%d per-frame functional groups for %d frames", len(perFrame), f.pix.frames))
	}
	f.frames = make([]frameInfo, f.pix.frames)
	perFramePositions := f.pix.frames > 1
	for i := range f.frames {
		fi := base
		if i < len(perFrame) {
			if findElem(firstItem(perFrame[i], tag.PlanePositionSequence), tag.ImagePositionPatient) == nil {
				perFramePositions = false
			}
			f.applyGroup(&fi, perFrame[i])
		} else {
			perFramePositions = false
		}
		perFramePositions = perFramePositions && fi.hasPosition
		f.frames[i] = fi
	}
	if f.pix.frames == 1 || perFramePositions {
		return
	}
	// A multi-frame file without per-frame positions: stack the frames along the slice normal.
	step, from := 1.0, "no spacing attribute"
	offsets, _ := elemFloats(a[aGridFrameOffsets])
	useOffsets := len(offsets) == f.pix.frames
	switch {
	case useOffsets:
		from = "GridFrameOffsetVector"
	case base.sliceSpacing > 0:
		step, from = base.sliceSpacing, "SpacingBetweenSlices"
	case base.sliceThickness > 0:
		step, from = base.sliceThickness, "SliceThickness"
	}
	normal := base.orientation[0].Cross(base.orientation[1])
	for i := range f.frames {
		fi := &f.frames[i]
		d := float64(i) * step
		if useOffsets {
			d = offsets[i] - offsets[0]
		}
		fi.position = base.position.Add(normal.Scale(d))
		fi.hasPosition = base.hasPosition && base.hasOrientation
		fi.synthetic = true
	}
	if useOffsets {
		f.warnings = append(f.warnings, fmt.Sprintf("%d frames without per-frame positions: placed along the slice normal by GridFrameOffsetVector", f.pix.frames))
	} else {
		f.warnings = append(f.warnings, fmt.Sprintf("%d frames without per-frame positions: stacked along the slice normal %g mm apart (%s)", f.pix.frames, step, from))
	}
}

// readHints fills the classifier's hints, looking into the MR functional groups when the top level is silent.
func (f *File) readHints(a *attrs) {
	num := func(e *dicom.Element) float64 {
		if v, ok := elemFloats(e); ok && len(v) > 0 {
			return v[0]
		}
		return 0
	}
	h := SeriesHints{
		Modality: f.Series.Modality, SeriesDescription: f.Series.Description,
		ProtocolName: elemString(a[aProtocolName]), SequenceName: elemString(a[aSequenceName]),
		ScanningSequence: strings.Join(elemStrings(a[aScanningSequence]), `\`), ContrastAgent: elemString(a[aContrast]),
		EchoTime: num(a[aEchoTime]), RepetitionTime: num(a[aRepetitionTime]), InversionTime: num(a[aInversionTime]),
		DiffusionBValue: num(a[aDiffusionB]),
	}
	var groups [][]*dicom.Element
	if s := seqItems(a[aSharedGroups]); len(s) > 0 {
		groups = append(groups, s[0])
	}
	if pf := seqItems(a[aPerFrameGroups]); len(pf) > 0 {
		groups = append(groups, pf[0])
	}
	for _, g := range groups {
		if h.EchoTime == 0 {
			h.EchoTime = num(findElem(firstItem(g, tag.MREchoSequence), tag.EffectiveEchoTime))
		}
		if h.RepetitionTime == 0 {
			h.RepetitionTime = num(findElem(firstItem(g, tag.MRTimingAndRelatedParametersSequence), tag.RepetitionTime))
		}
		if h.InversionTime == 0 {
			h.InversionTime = num(findElem(firstItem(g, tag.MRModifierSequence), tag.InversionTimes))
		}
		if h.DiffusionBValue == 0 {
			h.DiffusionBValue = num(findElem(firstItem(g, tag.MRDiffusionSequence), tag.DiffusionBValue))
		}
	}
	f.Series.Hints = h
	f.Series.Type = Classify(h)
}

// readWindows pairs WindowCenter and WindowWidth values with their explanations.
func readWindows(center, width, explanation *dicom.Element) []Window {
	cs, ok1 := elemFloats(center)
	ws, ok2 := elemFloats(width)
	if !ok1 || !ok2 {
		return nil
	}
	names := elemStrings(explanation)
	var out []Window
	for i := 0; i < len(cs) && i < len(ws); i++ {
		if !(ws[i] > 0) {
			continue
		}
		w := Window{Center: cs[i], Width: ws[i]}
		if i < len(names) {
			w.Name = strings.TrimSpace(strings.Trim(names[i], "\x00"))
		}
		out = append(out, w)
	}
	return out
}
