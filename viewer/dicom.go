package viewer

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/suyashkumar/dicom"

	"github.com/neuronova/neuronova/internal/dicomkit"
)

var (
	// ErrNotDICOM is returned for a file that is not a DICOM Part 10 file (no "DICM" prefix at byte 128).
	ErrNotDICOM = dicomkit.ErrNotDICOM
	// ErrTruncated is returned when a file ends before the data its header declares, or when its pixel data
	// is shorter than Rows×Columns×Frames×Samples×BitsAllocated/8.
	ErrTruncated = dicomkit.ErrTruncated
	// ErrUnsupportedTransferSyntax is returned for pixel data in an encoding no decoder of this build
	// handles (see RegisterCodec) and for unknown transfer syntax UIDs; the message names the syntax and
	// its UID.
	ErrUnsupportedTransferSyntax = dicomkit.ErrUnsupportedTransferSyntax
)

// errDICOMDIR is what the viewer makes of dicomkit.ErrDICOMDIR.
var errDICOMDIR = fmt.Errorf("%w: a DICOMDIR (media storage directory) lists files and holds no image", ErrNoPixels)

// DefaultMemoryLimit is the largest volume, in bytes of float32 voxels, that a file or a series may decode to
// unless WithMemoryLimit says otherwise.
const DefaultMemoryLimit int64 = 4 << 30

// Option configures ParseFile and Scan.
type Option func(*config)

type config struct {
	keepPixels  bool
	libraryOnly bool // parse every file with the DICOM library (tests compare both paths)
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

// parseDICOM parses a file of size bytes: first the length guard (dicomkit.Walk, which also reads the
// attributes the viewer needs), then, when that could not read them all, the library, then the attributes.
// A file without preamble or file meta is read as Part10 completes it.
func parseDICOM(r io.ReaderAt, size int64, cfg *config) (*File, error) {
	r2, size2, warning, err := Part10(r, size)
	if err != nil {
		return nil, err
	}
	f, err := parsePart10(r2, size2, cfg)
	if err != nil {
		return nil, err
	}
	if warning != "" {
		f.warnings = append([]string{warning}, f.warnings...)
	}
	// Where the pixel bytes lie in the file itself, for LoadSeries to read them without parsing again.
	shift := size2 - size
	if f.pixelAt > 0 {
		f.pixelAt -= shift
	}
	for i := range f.fragAt {
		f.fragAt[i].Off -= shift
	}
	return f, nil
}

// wantedTags are the attributes buildFile reads but the pixel data, which readPixels reads.
var wantedTags = attrTags[:aPixelData]

// parsePart10 parses a Part 10 file: the structure check, which reads the attributes the viewer needs on the
// way; when it could not (sequences, other character sets, big endian), the library (stopped before pixel
// data it would skip); then buildFile.
func parsePart10(r io.ReaderAt, size int64, cfg *config) (*File, error) {
	want := wantedPool.Get().(*dicomkit.Wanted)
	defer wantedPool.Put(want)
	lay, err := walkAttributes(r, size, cfg.memoryLimit, want)
	if err != nil {
		return nil, err
	}
	if want.Complete && !cfg.libraryOnly && !(cfg.keepPixels && lay.Syntax.Deflated) {
		ds := dicom.Dataset{Elements: want.Elements}
		f, err := buildFile(&ds, lay, cfg, false)
		if err != nil {
			return nil, err
		}
		if cfg.keepPixels {
			if err := f.readPixels(r); err != nil {
				return nil, err
			}
		}
		return f, nil
	}
	var opts []dicomkit.Option
	end := size
	if cfg.keepPixels {
		opts = append(opts, dicomkit.WithPixelBytes())
	} else if lay.PixelAt > 0 {
		end = lay.PixelAt // the library would read the pixel data to skip it: stop it before
	}
	if lay.ForceImplicit {
		opts = append(opts, dicomkit.WithImplicitVR())
	}
	br := bufPool.Get().(*bufio.Reader)
	br.Reset(io.NewSectionReader(r, 0, end))
	// Walk has checked that the file does not end inside an element, so the end of the section is the end.
	ds, err := dicomkit.Parse(br, end, opts...)
	br.Reset(nil)
	bufPool.Put(br)
	if err != nil {
		return nil, err
	}
	return buildFile(&ds, lay, cfg, cfg.keepPixels)
}

var wantedPool = sync.Pool{New: func() any { return dicomkit.NewWanted(wantedTags...) }}

// walkAttributes is dicomkit.WalkAttributes with the viewer's error for a DICOMDIR.
func walkAttributes(r io.ReaderAt, size, limit int64, want *dicomkit.Wanted) (*dicomkit.Layout, error) {
	lay, err := dicomkit.WalkAttributes(r, size, limit, want)
	if errors.Is(err, dicomkit.ErrDICOMDIR) {
		return nil, errDICOMDIR
	}
	return lay, err
}

// walk is dicomkit.Walk with the viewer's error for a DICOMDIR.
func walk(r io.ReaderAt, size, limit int64) (*dicomkit.Layout, error) {
	lay, err := dicomkit.Walk(r, size, limit)
	if errors.Is(err, dicomkit.ErrDICOMDIR) {
		return nil, errDICOMDIR
	}
	return lay, err
}
