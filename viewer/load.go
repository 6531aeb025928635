package viewer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/neuronova/neuronova/internal/dicomkit"
	"math"
	"runtime"
	"strings"
	"sync"

	"github.com/neuronova/neuronova/internal/progress"
)

// DICOMLoader is the Loader for series read from DICOM files: LoadSeries with the default memory limit.
type DICOMLoader struct{}

// Load implements Loader.
func (DICOMLoader) Load(ctx context.Context, s *Series, p Progress) (*Volume, error) {
	return LoadSeries(ctx, s, p)
}

// LoadSeries builds a series' volume. A series made in memory is returned as is. A DICOM series is decoded
// in parallel into one preallocated volume: files Scan kept WithPixelData are not read again, others are
// parsed now. Slices are ordered as Scan orders them; rescale is applied per slice; MONOCHROME1 is
// inverted so that higher values are brighter (the file's windows are mapped accordingly). Errors name the
// series and, when one file is at fault, the file. p receives files parsed plus slices decoded.
func LoadSeries(ctx context.Context, s *Series, p Progress) (*Volume, error) {
	if v, ok := s.InMemory(); ok {
		return v, nil
	}
	v, err := loadSeries(ctx, s, p, DefaultMemoryLimit)
	if err != nil {
		return nil, fmt.Errorf("load series %s: %w", s.UID, err)
	}
	return v, nil
}

func loadSeries(ctx context.Context, s *Series, p Progress, limit int64) (*Volume, error) {
	if len(s.Instances) == 0 {
		return nil, ErrNoPixels
	}
	// Files Scan read keep their headers: their pixel bytes are read as each slice is decoded (single-frame
	// files whose pixels the header located) or are in memory already; the others are parsed now.
	files := make([]*File, len(s.Instances))
	var toParse []int
	frames := 0
	for i, inst := range s.Instances {
		if f := inst.file; f != nil && (f.hasPixels() || f.pixelsLocated() && f.pix.frames == 1) {
			files[i] = f
		} else {
			toParse = append(toParse, i)
		}
		frames += max(inst.Frames, 1)
	}
	prog := progress.New(p, len(toParse)+frames)
	cfg := config{keepPixels: true, memoryLimit: limit}
	err := forEach(ctx, len(toParse), func(_, k int) error {
		i := toParse[k]
		f, err := parseFileConfig(s.Instances[i].Path, &cfg)
		if err != nil {
			return err
		}
		files[i] = f
		prog.Add(1)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return decodeFiles(ctx, files, prog, limit)
}

// decodeFiles arranges parsed files into one volume and decodes them into it: from the pixel bytes they hold,
// or, for files whose pixels stayed on disk, from the bytes read as each slice is decoded.
func decodeFiles(ctx context.Context, files []*File, prog *progress.Counter, limit int64) (*Volume, error) {
	st, err := arrange(files)
	if err != nil {
		return nil, err
	}

	data := make(map[*File][][]byte, len(files))
	for _, sl := range st.slices {
		if _, ok := data[sl.f]; ok {
			continue
		}
		if !CanDecode(sl.f.syntax.UID) {
			return nil, fmt.Errorf("%s: %w: %s (no decoder for it in this build)", sl.f.Instance.Path, ErrUnsupportedTransferSyntax, sl.f.syntax)
		}
		if !sl.f.hasPixels() {
			data[sl.f] = nil // read in the decoding loop
			continue
		}
		fd, err := sl.f.frameData()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", sl.f.Instance.Path, err)
		}
		data[sl.f] = fd
	}

	g := st.geom
	plane := g.Size[0] * g.Size[1] * st.samples
	if int64(plane)*int64(len(st.slices)) > limit/4 {
		return nil, fmt.Errorf("%d×%d×%d voxels×%d samples exceed the %d-byte memory limit", g.Size[0], g.Size[1], g.Size[2], st.samples, limit)
	}
	vol := &Volume{Geometry: g, Samples: st.samples, Data: make([]float32, plane*len(st.slices)), Slices: make([]SliceRef, len(st.slices))}

	// MONOCHROME1: value' = K − value, with one K for the series, so that the stored range maps onto itself.
	ref := st.slices[0]
	lo, hi := storedRange(&ref.f.pix)
	k := ref.fi.slope*(lo+hi) + 2*ref.fi.intercept
	flipped := ref.f.pix.photometric == "MONOCHROME1"

	workers := runtime.GOMAXPROCS(0)
	scratch, pixels := make([][]byte, workers), make([][]byte, workers)
	err = forEach(ctx, len(st.slices), func(w, i int) error {
		sl := st.slices[i]
		vol.Slices[i] = SliceRef{Path: sl.f.Instance.Path, SOPInstanceUID: sl.f.Instance.SOPInstanceUID,
			SOPClassUID: sl.f.Instance.SOPClassUID, Frame: sl.frame}
		f, fd := sl.f, data[sl.f]
		if fd == nil {
			var err error
			if fd, err = f.readFrame(&pixels[w]); errors.Is(err, errChanged) {
				f, fd, err = reread(f, limit)
			}
			if err != nil {
				return err
			}
		}
		m := affine{sl.fi.slope, sl.fi.intercept}
		if st.samples == 3 {
			m = identity
		}
		if sl.f.pix.photometric == "MONOCHROME1" {
			m = affine{-m.a, k - m.b}
		}
		if err := decodeFrame(vol.Data[i*plane:(i+1)*plane], f, sl.frame, fd, m, true, &scratch[w]); err != nil {
			if sl.f.pix.frames > 1 {
				return fmt.Errorf("%s frame %d: %w", sl.f.Instance.Path, sl.frame+1, err)
			}
			return fmt.Errorf("%s: %w", sl.f.Instance.Path, err)
		}
		prog.Add(1)
		return nil
	})
	if err != nil {
		return nil, err
	}
	prog.Add(prog.Total())
	vol.Thickness = ref.fi.sliceThickness
	for _, w := range ref.f.Windows {
		if flipped {
			w.Center = k - w.Center
		}
		vol.Windows = append(vol.Windows, w)
	}
	if err := vol.Check(); err != nil {
		return nil, err
	}
	return vol, nil
}

// reread parses a file that changed since Scan read its header, with its pixels: the slice is decoded from
// it when its image has the same format (its errors name the file).
func reread(f *File, limit int64) (*File, [][]byte, error) {
	g, err := parseFileConfig(f.Instance.Path, &config{keepPixels: true, memoryLimit: limit})
	if err != nil {
		return nil, nil, err
	}
	if g.pix != f.pix || g.syntax.UID != f.syntax.UID {
		return nil, nil, fmt.Errorf("%s changed since it was read: open it again", f.Instance.Path)
	}
	fd, err := g.frameData()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", f.Instance.Path, err)
	}
	return g, fd, nil
}

// storedRange is the range of values BitsStored and PixelRepresentation allow.
func storedRange(p *pixelFormat) (lo, hi float64) {
	if p.signed {
		return -math.Ldexp(1, p.bitsStored-1), math.Ldexp(1, p.bitsStored-1) - 1
	}
	return 0, math.Ldexp(1, p.bitsStored) - 1
}

// frameData splits a file's pixel bytes into frames: native frames by size (1-bit data stays whole, its
// frames are not byte aligned), encapsulated frames one per fragment, or, when fragments and frames do not
// pair up, by the Basic Offset Table or the start markers of JPEG and JPEG 2000 codestreams.
func (f *File) frameData() ([][]byte, error) {
	n := f.pix.frames
	if f.syntax.Kind == dicomkit.Native {
		if f.native == nil {
			return nil, fmt.Errorf("pixel data was not read")
		}
		if f.pix.bitsAllocated == 1 {
			return [][]byte{f.native}, nil
		}
		fb := f.pix.frameBytes()
		if len(f.native) < fb*n {
			return nil, fmt.Errorf("%w: pixel data has %d bytes, expected %d", ErrTruncated, len(f.native), fb*n)
		}
		out := make([][]byte, n)
		for i := range out {
			out[i] = f.native[i*fb : (i+1)*fb]
		}
		return out, nil
	}
	frags := f.frags
	switch {
	case len(frags) == n:
		return frags, nil
	case n == 1 && len(frags) > 0:
		return [][]byte{bytes.Join(frags, nil)}, nil
	}
	if out, ok := framesByOffsets(frags, f.offsets, n); ok {
		return out, nil
	}
	var out [][]byte
	for _, fr := range frags {
		if startsFrame(fr) || len(out) == 0 {
			out = append(out, append([]byte(nil), fr...))
		} else {
			out[len(out)-1] = append(out[len(out)-1], fr...)
		}
	}
	if len(out) == n {
		return out, nil
	}
	return nil, fmt.Errorf("%d encapsulated fragments do not make %d frames", len(frags), n)
}

// framesByOffsets joins fragments into n frames by the Basic Offset Table: the offsets of each frame's first
// fragment, counted from the first fragment's item tag (8 bytes of item header per fragment).
func framesByOffsets(frags [][]byte, offsets []uint32, n int) ([][]byte, bool) {
	if len(offsets) != n {
		return nil, false
	}
	out := make([][]byte, 0, n)
	pos := uint64(0)
	for _, fr := range frags {
		switch {
		case len(out) < n && pos == uint64(offsets[len(out)]):
			out = append(out, append([]byte(nil), fr...))
		case len(out) == 0 || len(out) < n && pos > uint64(offsets[len(out)]):
			return nil, false
		default:
			out[len(out)-1] = append(out[len(out)-1], fr...)
		}
		pos += 8 + uint64(len(fr))
	}
	return out, len(out) == n
}

// startsFrame reports a fragment that begins a compressed image: a JPEG start-of-image marker (JPEG,
// JPEG-LS), a JPEG 2000 codestream's SOC and SIZ markers, or a JP2 file's signature box.
func startsFrame(b []byte) bool {
	return bytes.HasPrefix(b, []byte{0xFF, 0xD8}) || bytes.HasPrefix(b, []byte{0xFF, 0x4F, 0xFF, 0x51}) ||
		bytes.HasPrefix(b, []byte("\x00\x00\x00\x0cjP  "))
}

// decodeFrame writes frame `frame` of f into dst (rows·cols·samples values) as m applied to the stored
// values; colour data becomes RGB when toRGB is set (codecs that convert colour themselves, like JPEG,
// always give RGB).
func decodeFrame(dst []float32, f *File, frame int, data [][]byte, m affine, toRGB bool, scratch *[]byte) error {
	photometric, err := decodeFramePhotometric(dst, f, frame, data, m, scratch)
	if err == nil && toRGB && f.pix.samples == 3 && strings.HasPrefix(photometric, "YBR_FULL") {
		ybrToRGB(dst, f.pix.bitsStored)
	}
	return err
}

// decodeFramePhotometric is decodeFrame without colour conversion; it returns the photometric
// interpretation of the values written.
func decodeFramePhotometric(dst []float32, f *File, frame int, data [][]byte, m affine, scratch *[]byte) (string, error) {
	p := &f.pix
	if frame < 0 || frame >= p.frames {
		return "", fmt.Errorf("internal: frame %d of %d", frame, p.frames)
	}
	switch f.syntax.Kind {
	case dicomkit.Native:
		if p.bitsAllocated == 1 {
			n := p.rows * p.cols
			return p.photometric, convertBits(dst, data[0], frame*n, n, m)
		}
		return p.photometric, convertNative(dst, data[frame], p, f.syntax.BigEndian, m)
	case dicomkit.RLE:
		bytesPer := p.bitsAllocated / 8
		need := p.rows * p.cols * p.samples * bytesPer
		if cap(*scratch) < need {
			*scratch = make([]byte, need)
		}
		buf := (*scratch)[:need]
		if err := decodeRLE(buf, data[frame], p.rows*p.cols, p.samples, bytesPer); err != nil {
			return "", err
		}
		q := *p
		q.planar = false // RLE segments are per sample; decodeRLE interleaves them
		if q.photometric == "YBR_FULL_422" {
			q.photometric = "YBR_FULL" // RLE carries full-resolution chroma
		}
		return q.photometric, convertNative(dst, buf, &q, false, m)
	case dicomkit.JPEGBaseline:
		if p.samples == 3 {
			return "RGB", decodeJPEG(dst, data[frame], p, m)
		}
		return p.photometric, decodeJPEG(dst, data[frame], p, m)
	}
	return decodeWithCodec(dst, f, data[frame], m, scratch)
}

// Decode decodes every frame of a file parsed WithPixelData: rows·columns·samples values per frame,
// interleaved, frame after frame. The values are the stored ones (no rescale, no MONOCHROME1 inversion);
// colour stays as the encoding holds it unless its codec converts it. It returns the photometric
// interpretation of the values.
func (f *File) Decode() (values []float32, photometric string, err error) {
	if !f.hasPixels() {
		return nil, "", fmt.Errorf("%s: pixel data was not read (parse WithPixelData)", f.Instance.Path)
	}
	if !CanDecode(f.syntax.UID) {
		return nil, "", fmt.Errorf("%s: %w: %s (no decoder for it in this build)", f.Instance.Path, ErrUnsupportedTransferSyntax, f.syntax)
	}
	fd, err := f.frameData()
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", f.Instance.Path, err)
	}
	n := f.pix.rows * f.pix.cols * f.pix.samples
	values = make([]float32, n*f.pix.frames)
	var scratch []byte
	for i := 0; i < f.pix.frames; i++ {
		if photometric, err = decodeFramePhotometric(values[i*n:(i+1)*n], f, i, fd, identity, &scratch); err != nil {
			return nil, "", fmt.Errorf("%s: frame %d: %w", f.Instance.Path, i+1, err)
		}
	}
	return values, photometric, nil
}

// LoadStudy loads the volumes of series (of one study, typically the four a hanging protocol shows) all at
// once, so that allocating one volume overlaps with decoding another; vols[i] belongs to series[i]. p
// receives the work done over all of them. The first error cancels the rest and is returned.
func LoadStudy(ctx context.Context, series []*Series, p Progress) ([]*Volume, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	vols := make([]*Volume, len(series))
	errs := make([]error, len(series))
	var (
		mu          sync.Mutex
		done, total = make([]int, len(series)), make([]int, len(series))
		wg          sync.WaitGroup
	)
	report := func(i, d, t int) {
		if p == nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		done[i], total[i] = d, t
		var sd, st int
		for k := range series {
			sd, st = sd+done[k], st+total[k]
		}
		p(sd, st)
	}
	for i, se := range series {
		wg.Add(1)
		go func() {
			defer wg.Done()
			vols[i], errs[i] = LoadSeries(ctx, se, func(d, t int) { report(i, d, t) })
			if errs[i] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	// Report the error that caused the cancellation, not the cancellations it caused.
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return nil, err
		}
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return vols, nil
}
