package viewer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
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
	files := make([]*File, len(s.Instances))
	toParse, frames := 0, 0
	for _, inst := range s.Instances {
		if inst.file == nil || !inst.file.hasPixels() {
			toParse++
		}
		frames += max(inst.Frames, 1)
	}
	prog := newProgress(p, toParse+frames)
	cfg := config{keepPixels: true, memoryLimit: limit}
	err := forEach(ctx, len(s.Instances), func(_, i int) error {
		inst := s.Instances[i]
		if inst.file != nil && inst.file.hasPixels() {
			files[i] = inst.file
			return nil
		}
		f, err := parseFileConfig(inst.Path, &cfg)
		if err != nil {
			return err
		}
		files[i] = f
		prog.add(1)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return decodeFiles(ctx, files, prog, limit)
}

// decodeFiles arranges parsed files (with their pixel bytes) into one volume and decodes them into it.
func decodeFiles(ctx context.Context, files []*File, prog *progress, limit int64) (*Volume, error) {
	st, err := arrange(files)
	if err != nil {
		return nil, err
	}

	data := make(map[*File][][]byte, len(files))
	for _, sl := range st.slices {
		if _, ok := data[sl.f]; ok {
			continue
		}
		if sl.f.syntax.kind == syntaxUndecodable {
			return nil, fmt.Errorf("%s: %w: %s", sl.f.Instance.Path, ErrUnsupportedTransferSyntax, sl.f.syntax)
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
	vol := &Volume{Geometry: g, Samples: st.samples, Data: make([]float32, plane*len(st.slices))}

	// MONOCHROME1: value' = K − value, with one K for the series, so that the stored range maps onto itself.
	ref := st.slices[0]
	lo, hi := storedRange(&ref.f.pix)
	k := ref.fi.slope*(lo+hi) + 2*ref.fi.intercept
	flipped := ref.f.pix.photometric == "MONOCHROME1"

	scratch := make([][]byte, runtime.GOMAXPROCS(0))
	err = forEach(ctx, len(st.slices), func(w, i int) error {
		sl := st.slices[i]
		m := affine{sl.fi.slope, sl.fi.intercept}
		if st.samples == 3 {
			m = identity
		}
		if sl.f.pix.photometric == "MONOCHROME1" {
			m = affine{-m.a, k - m.b}
		}
		if err := decodeFrame(vol.Data[i*plane:(i+1)*plane], sl.f, sl.frame, data[sl.f], m, true, &scratch[w]); err != nil {
			if sl.f.pix.frames > 1 {
				return fmt.Errorf("%s frame %d: %w", sl.f.Instance.Path, sl.frame+1, err)
			}
			return fmt.Errorf("%s: %w", sl.f.Instance.Path, err)
		}
		prog.add(1)
		return nil
	})
	if err != nil {
		return nil, err
	}
	prog.add(prog.total)
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

// storedRange is the range of values BitsStored and PixelRepresentation allow.
func storedRange(p *pixelFormat) (lo, hi float64) {
	if p.signed {
		return -math.Ldexp(1, p.bitsStored-1), math.Ldexp(1, p.bitsStored-1) - 1
	}
	return 0, math.Ldexp(1, p.bitsStored) - 1
}

// frameData splits a file's pixel bytes into frames: native frames by size (1-bit data stays whole, its
// frames are not byte aligned), encapsulated frames one per fragment, or by JPEG start-of-image markers when
// fragments and frames do not pair up.
func (f *File) frameData() ([][]byte, error) {
	n := f.pix.frames
	if f.syntax.kind == syntaxNative {
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
	case f.syntax.kind == syntaxJPEGBaseline:
		var out [][]byte
		for _, fr := range frags {
			if len(fr) >= 2 && fr[0] == 0xFF && fr[1] == 0xD8 || len(out) == 0 {
				out = append(out, append([]byte(nil), fr...))
			} else {
				out[len(out)-1] = append(out[len(out)-1], fr...)
			}
		}
		if len(out) == n {
			return out, nil
		}
	}
	return nil, fmt.Errorf("%d encapsulated fragments do not make %d frames", len(frags), n)
}

// decodeFrame writes frame `frame` of f into dst (rows·cols·samples values) as m applied to the stored
// values; colour data becomes RGB when toRGB is set (JPEG frames are always RGB).
func decodeFrame(dst []float32, f *File, frame int, data [][]byte, m affine, toRGB bool, scratch *[]byte) error {
	p := &f.pix
	if frame < 0 || frame >= p.frames {
		return fmt.Errorf("internal: frame %d of %d", frame, p.frames)
	}
	switch f.syntax.kind {
	case syntaxNative:
		if p.bitsAllocated == 1 {
			n := p.rows * p.cols
			return convertBits(dst, data[0], frame*n, n, m)
		}
		if err := convertNative(dst, data[frame], p, f.syntax.bigEndian, m); err != nil {
			return err
		}
	case syntaxRLE:
		bytesPer := p.bitsAllocated / 8
		need := p.rows * p.cols * p.samples * bytesPer
		if cap(*scratch) < need {
			*scratch = make([]byte, need)
		}
		buf := (*scratch)[:need]
		if err := decodeRLE(buf, data[frame], p.rows*p.cols, p.samples, bytesPer); err != nil {
			return err
		}
		q := *p
		q.planar = false // RLE segments are per sample; decodeRLE interleaves them
		if q.photometric == "YBR_FULL_422" {
			q.photometric = "YBR_FULL" // RLE carries full-resolution chroma
		}
		if err := convertNative(dst, buf, &q, false, m); err != nil {
			return err
		}
	case syntaxJPEGBaseline:
		return decodeJPEG(dst, data[frame], p, m)
	default:
		return fmt.Errorf("%w: %s", ErrUnsupportedTransferSyntax, f.syntax)
	}
	if toRGB && p.samples == 3 && strings.HasPrefix(p.photometric, "YBR_FULL") {
		ybrToRGB(dst, p.bitsStored)
	}
	return nil
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
