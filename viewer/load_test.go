package viewer

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/neuronova/neuronova/internal/dicomkit"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"

	"github.com/neuronova/neuronova/internal/testenv"
)

const (
	pydicomCorpus = "/usr/lib/python3/dist-packages/pydicom/data/test_files"
	systemPython  = "/usr/bin/python3"
)

// JPEG tolerances against libjpeg (dcmtk's dcmdjpeg), in 8-bit levels. The decoders differ in IDCT rounding
// and, for chroma subsampled vertically (4:2:0), in upsampling: libjpeg interpolates chroma between rows,
// image/jpeg replicates it, which moves colour edges by up to a few tens of levels on one row at each edge
// while luminance stays the same. So: without vertical subsampling, every RGB sample within jpegMax and
// their mean within jpegMean; with it, luminance (0.299 R + 0.587 G + 0.114 B) within those bounds and the
// RGB mean within jpegEdgeMean.
const (
	jpegMean     = 0.5
	jpegMax      = 10
	jpegEdgeMean = 3.0
)

// pydicomDump runs pydicom over files and returns each one's pixel_array as float32 (frames, rows, columns,
// samples flattened), or pydicom's error. pydicom decodes with its own NumPy and RLE handlers only (not
// GDCM, which set-up installs for the codec conformance test in viewer/codec/conformance). pydicom 2.3 returns the container values without applying
// BitsStored/HighBit; the dump applies them (mask and sign extension, PS3.5 8.1.1) as the viewer does, so
// that the comparison is of stored values.
func pydicomDump(t *testing.T, files []string) (values map[string][]float32, errs map[string]string) {
	t.Helper()
	if out, err := exec.Command(systemPython, "-c", "import pydicom, numpy").CombinedOutput(); err != nil {
		testenv.Missing(t, fmt.Sprintf("pydicom or numpy for %s (%v: %s)", systemPython, err, bytes.TrimSpace(out)),
			"compare the pixel values read with pydicom's", "apt-get install python3-pydicom python3-numpy")
	}
	dir := t.TempDir()
	script := `
import json, sys, warnings
import numpy as np, pydicom
from pydicom.pixel_data_handlers import numpy_handler, rle_handler
pydicom.config.pixel_data_handlers = [numpy_handler, rle_handler]
warnings.simplefilter("ignore")
files = json.load(sys.stdin)
for i, path in enumerate(files):
    try:
        ds = pydicom.dcmread(path)
        arr = ds.pixel_array
        if arr.dtype.kind in "iu" and ds.BitsAllocated > 1:
            bs, hb = int(ds.BitsStored), int(ds.HighBit)
            a = (arr.astype(np.int64) >> (hb + 1 - bs)) & ((1 << bs) - 1)
            if ds.PixelRepresentation == 1:
                a = np.where(a >= (1 << (bs - 1)), a - (1 << bs), a)
            arr = a
        arr.astype("<f4").tofile(sys.argv[1] + "/%d.raw" % i)
        print(json.dumps({"i": i, "n": int(arr.size)}))
    except Exception as e:
        print(json.dumps({"i": i, "error": "%s: %s" % (type(e).__name__, e)}))
`
	in, _ := json.Marshal(files)
	cmd := exec.Command(systemPython, "-c", script, dir)
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pydicom dump: %v", err)
	}
	values, errs = map[string][]float32{}, map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var r struct {
			I     int
			N     int
			Error string
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("pydicom dump line %q: %v", line, err)
		}
		if r.Error != "" {
			errs[files[r.I]] = r.Error
			continue
		}
		raw, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%d.raw", r.I)))
		if err != nil || len(raw) != 4*r.N {
			t.Fatalf("pydicom dump of %s: %d bytes, %v", files[r.I], len(raw), err)
		}
		v := make([]float32, r.N)
		for k := range v {
			v[k] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*k:]))
		}
		values[files[r.I]] = v
	}
	return values, errs
}

// corpusFiles lists pydicom's test files: every *.dcm, and files without extension that start like DICOM.
func corpusFiles(t *testing.T) []string {
	t.Helper()
	if _, err := os.Stat(pydicomCorpus); err != nil {
		testenv.Missing(t, "pydicom's test corpus "+pydicomCorpus, "read its 94 real DICOM files of many kinds", "apt-get install python3-pydicom")
	}
	var files []string
	filepath.WalkDir(pydicomCorpus, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		switch filepath.Ext(path) {
		case ".dcm":
			files = append(files, path)
		case "":
			if b, err := os.ReadFile(path); err == nil && len(b) > 132 && string(b[128:132]) == "DICM" {
				files = append(files, path)
			}
		}
		return nil
	})
	return files
}

// TestPydicomCorpus decodes every file of pydicom's corpus: each one either decodes or is rejected with an
// error that names it (never a panic). Decoded stored values must equal pydicom's pixel_array exactly
// (compared as float32, the Volume's type) for native and RLE data; baseline JPEG is compared with dcmtk's
// dcmdjpeg output read by pydicom (pydicom here has no JPEG handler), within jpeg*Tolerance.
func TestPydicomCorpus(t *testing.T) {
	files := corpusFiles(t)
	type outcome struct {
		values []float32
		err    error
		jpeg   bool
		vol    *Volume
		// subsampledRows: a JPEG whose chroma is subsampled vertically.
		subsampledRows bool
	}
	ours := map[string]outcome{}
	var refFiles []string
	jpegRef := map[string]string{} // corpus file → its dcmdjpeg-decompressed copy
	noRef := map[string]string{}   // corpus file → why it has no reference values
	tmp := t.TempDir()
	for i, path := range files {
		f, err := ParseFile(path, WithPixelData())
		var o outcome
		if err == nil {
			o.jpeg = f.syntax.Kind == dicomkit.JPEGBaseline
			o.subsampledRows = o.jpeg && verticalChromaSubsampling(f.frags[0])
			o.values, err = decodeStored(f)
		}
		if err == nil {
			studies := GroupFiles([]*File{f})
			if len(studies[0].Series) == 0 { // a SEG, which Scan keeps out of the series: decode its frames all the same
				se := f.Series
				f.Instance.file = f
				se.Instances = []*Instance{&f.Instance}
				orderSeries(&se)
				studies[0].Series = []*Series{&se}
			}
			o.vol, err = LoadSeries(context.Background(), studies[0].Series[0], nil)
		}
		o.err = err
		ours[path] = o
		ref := path
		if o.jpeg && err == nil {
			ref = filepath.Join(tmp, fmt.Sprintf("%d.dcm", i))
			if err := libjpegReference(f, path, ref); err != nil {
				noRef[path] = err.Error()
				continue
			}
			jpegRef[path] = ref
		}
		refFiles = append(refFiles, ref)
	}
	refValues, refErrs := pydicomDump(t, refFiles)

	decoded, compared, rejected := 0, 0, 0
	for _, path := range files {
		o := ours[path]
		ref := path
		if r, ok := jpegRef[path]; ok {
			ref = r
		}
		want, pyOK := refValues[ref]
		if o.err != nil {
			rejected++
			t.Logf("rejected  %-45s %v", rel(path), strings.ReplaceAll(o.err.Error(), path, "FILE"))
			if !strings.Contains(o.err.Error(), path) {
				t.Errorf("%s: error %q does not name the file", rel(path), o.err)
			}
			if pyOK {
				t.Errorf("%s: pydicom decodes it, the viewer does not: %v", rel(path), o.err)
			}
			continue
		}
		decoded++
		if err := o.vol.Check(); err != nil {
			t.Errorf("%s: volume: %v", rel(path), err)
		}
		if !pyOK {
			why := noRef[path]
			if why == "" {
				why = "pydicom: " + refErrs[ref]
			}
			t.Logf("decoded   %-45s not compared (%s)", rel(path), why)
			continue
		}
		compared++
		if len(want) != len(o.values) {
			t.Errorf("%s: %d values, pydicom %d", rel(path), len(o.values), len(want))
			continue
		}
		if o.jpeg {
			if msg := compareJPEG(o.values, want, o.subsampledRows); msg != "" {
				t.Errorf("%s: JPEG differs from dcmdjpeg: %s", rel(path), msg)
			}
			mean, worst := diffStats(o.values, want)
			t.Logf("decoded   %-45s JPEG vs dcmdjpeg: mean |Δ| %.3f, max %.0f (4:2:0: %v)", rel(path), mean, worst, o.subsampledRows)
			continue
		}
		if k := firstDifference(o.values, want); k >= 0 {
			t.Errorf("%s: value %d is %g, pydicom %g", rel(path), k, o.values[k], want[k])
			continue
		}
		t.Logf("decoded   %-45s equal to pydicom (%d values)", rel(path), len(want))
	}
	t.Logf("%d files: %d decoded (%d compared with pydicom), %d rejected with a reason", len(files), decoded, compared, rejected)
	if decoded < 40 || compared < 35 {
		t.Errorf("only %d files decoded and %d compared: the corpus or the decoder changed", decoded, compared)
	}
}

// libjpegReference writes to out the file decompressed by dcmtk's dcmdjpeg (libjpeg), converting to RGB
// when libjpeg takes the stream for YCbCr (+cg), as image/jpeg does. When dcmdjpeg cannot read the file
// itself (SC_rgb_jpeg.dcm has an implicit VR dataset under an explicit VR syntax), the JPEG stream is
// wrapped in a new file by dcmtk's img2dcm first.
func libjpegReference(f *File, path, out string) error {
	first, err := exec.Command("dcmdjpeg", "+cg", path, out).CombinedOutput()
	if err == nil {
		return nil
	}
	if f.pix.frames != 1 {
		return fmt.Errorf("dcmdjpeg cannot read it: %v: %s", err, firstLine(string(first)))
	}
	fd, ferr := f.frameData()
	if ferr != nil {
		return ferr
	}
	jpg, wrapped := out+".jpg", out+".wrapped.dcm"
	if err := os.WriteFile(jpg, fd[0], 0o644); err != nil {
		return err
	}
	if o, err := exec.Command("img2dcm", jpg, wrapped).CombinedOutput(); err != nil {
		return fmt.Errorf("dcmdjpeg cannot read it (%s) and img2dcm cannot wrap its JPEG stream: %v: %s", firstLine(string(first)), err, firstLine(string(o)))
	}
	if o, err := exec.Command("dcmdjpeg", "+cg", wrapped, out).CombinedOutput(); err != nil {
		return fmt.Errorf("dcmdjpeg cannot read its wrapped JPEG stream: %v: %s", err, firstLine(string(o)))
	}
	return nil
}

func firstLine(s string) string { return strings.SplitN(strings.TrimSpace(s), "\n", 2)[0] }

func rel(path string) string { return strings.TrimPrefix(path, pydicomCorpus+"/") }

// decodeStored decodes all frames of a file to stored values (no rescale, no colour conversion; JPEG is RGB).
func decodeStored(f *File) ([]float32, error) {
	fd, err := f.frameData()
	if err != nil {
		return nil, err
	}
	n := f.pix.rows * f.pix.cols * f.pix.samples
	out := make([]float32, n*f.pix.frames)
	var scratch []byte
	for i := 0; i < f.pix.frames; i++ {
		if err := decodeFrame(out[i*n:(i+1)*n], f, i, fd, identity, false, &scratch); err != nil {
			return nil, fmt.Errorf("%s: frame %d: %w", f.Instance.Path, i, err)
		}
	}
	return out, nil
}

func firstDifference(a, b []float32) int {
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

// compareJPEG applies the JPEG tolerances to interleaved RGB (or grey) values; it returns what is out of
// bounds, or "".
func compareJPEG(got, want []float32, subsampledRows bool) string {
	mean, worst := diffStats(got, want)
	if !subsampledRows || len(got)%3 != 0 {
		if mean > jpegMean || worst > jpegMax {
			return fmt.Sprintf("mean |Δ| %.3f, max %.0f (tolerance %g, %d)", mean, worst, jpegMean, jpegMax)
		}
		return ""
	}
	luma := func(v []float32, i int) float64 {
		return 0.299*float64(v[i]) + 0.587*float64(v[i+1]) + 0.114*float64(v[i+2])
	}
	lumaMean, lumaWorst := 0.0, 0.0
	for i := 0; i < len(got); i += 3 {
		d := math.Abs(luma(got, i) - luma(want, i))
		lumaMean += d
		lumaWorst = max(lumaWorst, d)
	}
	lumaMean /= float64(len(got) / 3)
	if lumaMean > jpegMean || lumaWorst > jpegMax || mean > jpegEdgeMean {
		return fmt.Sprintf("luminance mean |Δ| %.3f, max %.1f (tolerance %g, %d); RGB mean |Δ| %.3f (tolerance %g)",
			lumaMean, lumaWorst, jpegMean, jpegMax, mean, jpegEdgeMean)
	}
	return ""
}

// verticalChromaSubsampling reports a JPEG frame whose luma is sampled more often vertically than chroma.
func verticalChromaSubsampling(jpeg []byte) bool {
	for i := 0; i+11 < len(jpeg); i++ {
		if jpeg[i] != 0xFF || (jpeg[i+1] != 0xC0 && jpeg[i+1] != 0xC1 && jpeg[i+1] != 0xC2) {
			continue
		}
		n := int(jpeg[i+9])
		if n < 3 || i+10+3*n > len(jpeg) {
			return false
		}
		return jpeg[i+11]&15 > jpeg[i+14]&15
	}
	return false
}

func diffStats(a, b []float32) (mean, worst float64) {
	for i := range a {
		d := math.Abs(float64(a[i] - b[i]))
		mean += d
		worst = max(worst, d)
	}
	return mean / float64(len(a)), worst
}

func loadDir(t *testing.T, dir string) (*Series, *Volume) {
	t.Helper()
	se := scanOne(t, dir)
	v, err := LoadSeries(context.Background(), se, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Check(); err != nil {
		t.Fatal(err)
	}
	return se, v
}

func TestLoadRescalePerSlice(t *testing.T) {
	dir := t.TempDir()
	slices := stackOf(3, axial, Vec3{}, 2, func(k int) int { return k + 1 })
	slopes, intercepts := []float64{1, 2.5, 0.25}, []float64{-1024, 10, 0}
	for k := range slices {
		slices[k].signed = true
		slices[k].values = []int{-5, 0, 7, 1000}
		slices[k].slope, slices[k].intercept = &slopes[k], &intercepts[k]
	}
	writeSeries(t, dir, slices)
	_, v := loadDir(t, dir)
	for k := range slices {
		for i, s := range []float64{-5, 0, 7, 1000} {
			want := float32(s*slopes[k] + intercepts[k])
			if got := v.Data[k*4+i]; got != want {
				t.Errorf("slice %d value %d: %g, want %g", k, i, got, want)
			}
		}
	}
}

func TestLoadMonochrome1IsInverted(t *testing.T) {
	dir := t.TempDir()
	s := stackOf(1, axial, Vec3{}, 2, func(int) int { return 1 })[0]
	s.photometric, s.stored = "MONOCHROME1", 12
	s.values = []int{0, 4095, 1000, 0xF000 | 7} // the last has garbage above HighBit
	s.windows = [][2]float64{{1000, 400}}
	writeSeries(t, dir, []slice{s})
	_, v := loadDir(t, dir)
	if want := []float32{4095, 0, 3095, 4088}; !slicesEqual(v.Data, want) {
		t.Errorf("MONOCHROME1 volume %v, want %v (higher is brighter)", v.Data, want)
	}
	if len(v.Windows) != 1 || v.Windows[0].Center != 3095 || v.Windows[0].Width != 400 {
		t.Errorf("windows %v: the centre should be inverted with the values", v.Windows)
	}
}

func slicesEqual(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestLoadColour(t *testing.T) {
	rgb := []int{255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30} // 2×2 pixels, interleaved
	planar := []int{255, 0, 0, 10, 0, 255, 0, 20, 0, 0, 255, 30}
	// YBR_FULL of pure red, green, blue and grey 128 (PS3.3 C.7.6.3.1.2 forward transform, rounded).
	ybr := []int{76, 85, 255, 150, 44, 21, 29, 255, 107, 128, 128, 128}
	cases := []struct {
		name, photometric string
		planar            int
		values            []int
		want              []float32
		tol               float32
	}{
		{"RGB interleaved", "RGB", 0, rgb, []float32{255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30}, 0},
		{"RGB planar", "RGB", 1, planar, []float32{255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30}, 0},
		{"YBR_FULL", "YBR_FULL", 0, ybr, []float32{255, 0, 0, 0, 255, 0, 0, 0, 255, 128, 128, 128}, 1.5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			s := stackOf(1, axial, Vec3{}, 2, func(int) int { return 1 })[0]
			s.photometric, s.samples, s.planar, s.bits, s.values = c.photometric, 3, c.planar, 8, c.values
			writeSeries(t, dir, []slice{s})
			_, v := loadDir(t, dir)
			if v.Samples != 3 || len(v.Data) != 12 {
				t.Fatalf("samples %d, %d values", v.Samples, len(v.Data))
			}
			for i := range c.want {
				if d := v.Data[i] - c.want[i]; d > c.tol || d < -c.tol {
					t.Errorf("value %d: %g, want %g", i, v.Data[i], c.want[i])
				}
			}
		})
	}
}

// enhancedMR is an Enhanced MR file: shared pixel measures and orientation, per-frame positions and
// rescale. Frame f holds stored value 10+f everywhere and sits at z = zs[f].
func enhancedMR(zs, slopes []float64, perFramePositions bool) []*dicom.Element {
	n := len(zs)
	s := slice{study: "2.1", series: "2.1.1", number: 1, rows: 2, cols: 2, frames: n}
	var values []int
	for f := 0; f < n; f++ {
		values = append(values, 10+f, 10+f, 10+f, 10+f)
	}
	s.values = values
	shared := []*dicom.Element{
		el(tag.PixelMeasuresSequence, [][]*dicom.Element{{el(tag.PixelSpacing, ds(0.9, 0.7)), el(tag.SliceThickness, ds(4)),
			el(tag.SpacingBetweenSlices, ds(2))}}),
		el(tag.PlaneOrientationSequence, [][]*dicom.Element{{el(tag.ImageOrientationPatient, ds(axial[:]...))}}),
		el(tag.MREchoSequence, [][]*dicom.Element{{el(tag.EffectiveEchoTime, []float64{90})}}),
	}
	var perFrame [][]*dicom.Element
	for f := 0; f < n; f++ {
		item := []*dicom.Element{
			el(tag.PixelValueTransformationSequence, [][]*dicom.Element{{el(tag.RescaleIntercept, ds(1)), el(tag.RescaleSlope, ds(slopes[f])),
				el(tag.RescaleType, []string{"US"})}}),
		}
		if perFramePositions {
			item = append(item, el(tag.PlanePositionSequence, [][]*dicom.Element{{el(tag.ImagePositionPatient, ds(5, 6, zs[f]))}}))
		}
		perFrame = append(perFrame, item)
	}
	s.extra = []*dicom.Element{
		el(tag.SharedFunctionalGroupsSequence, [][]*dicom.Element{shared}),
		el(tag.PerFrameFunctionalGroupsSequence, perFrame),
	}
	if !perFramePositions {
		s.extra = append(s.extra, el(tag.ImagePositionPatient, ds(5, 6, zs[0])))
	}
	return s.elems(false)
}

func TestLoadEnhancedMultiFrame(t *testing.T) {
	dir := t.TempDir()
	zs := []float64{4, 0, 8, 2, 6} // frames out of order
	slopes := []float64{1, 2, 3, 4, 5}
	writeDICOM(t, filepath.Join(dir, "enhanced.dcm"), tsExplicit, enhancedMR(zs, slopes, true))
	se, v := loadDir(t, dir)
	if len(se.Problems) != 0 {
		t.Errorf("problems %q", se.Problems)
	}
	if se.Hints.EchoTime != 90 {
		t.Errorf("echo time from MREchoSequence: %v", se.Hints.EchoTime)
	}
	if v.Size != [3]int{2, 2, 5} || v.Spacing != (Vec3{0.7, 0.9, 2}) || v.Origin != (Vec3{5, 6, 0}) {
		t.Fatalf("geometry %+v", v.Geometry)
	}
	// Volume slice z holds the frame at z·2 mm, rescaled by that frame's slope.
	for z, frame := range []int{1, 3, 0, 4, 2} {
		want := float32(float64(10+frame)*slopes[frame] + 1)
		if got := v.At(1, 1, z); got != want {
			t.Errorf("slice %d: %g, want frame %d → %g", z, got, frame, want)
		}
	}
}

func TestLoadPlainMultiFrame(t *testing.T) {
	dir := t.TempDir()
	writeDICOM(t, filepath.Join(dir, "plain.dcm"), tsExplicit, enhancedMR([]float64{3, 0, 0}, []float64{1, 1, 1}, false))
	se, v := loadDir(t, dir)
	want := "plain.dcm: 3 frames without per-frame positions: stacked along the slice normal 2 mm apart (SpacingBetweenSlices)"
	if len(se.Problems) != 1 || se.Problems[0] != want {
		t.Errorf("problems %q, want %q", se.Problems, want)
	}
	if v.Size[2] != 3 || v.Spacing[2] != 2 || v.Origin != (Vec3{5, 6, 3}) || v.At(0, 0, 2) != 13 {
		t.Errorf("geometry %+v, last slice %g", v.Geometry, v.At(0, 0, 2))
	}
}

func TestLoadErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	paths := writeSeries(t, dir, stackOf(3, axial, Vec3{}, 2, func(k int) int { return k + 1 }))
	res, err := Scan(context.Background(), []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	se := res.Studies[0].Series[0]
	b, _ := os.ReadFile(paths[1])
	os.WriteFile(paths[1], b[:len(b)-3], 0o644) // cut after Scan read the header
	_, err = LoadSeries(context.Background(), se, nil)
	if !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), paths[1]) || !strings.Contains(err.Error(), se.UID) {
		t.Errorf("truncated file: %v", err)
	}

	j2k := stackOf(1, axial, Vec3{}, 2, func(int) int { return 1 })[0]
	j2k.values = nil
	j2k.extra = []*dicom.Element{encapsulatedPixels([]byte{0xFF, 0x4F, 0xFF, 0x51, 0, 0})}
	d2 := t.TempDir()
	path := writeDICOM(t, filepath.Join(d2, "j2k.dcm"), tsJ2K, j2k.elems(false))
	_, err = LoadSeries(context.Background(), scanOne(t, d2), nil)
	if !errors.Is(err, ErrUnsupportedTransferSyntax) || !strings.Contains(err.Error(), "JPEG 2000 Image Compression (Lossless Only) (1.2.840.10008.1.2.4.90)") ||
		!strings.Contains(err.Error(), path) {
		t.Errorf("JPEG 2000: %v", err)
	}
}

func TestLoadSeriesInMemoryAndEmpty(t *testing.T) {
	v := NewVolume(Geometry{Size: [3]int{1, 1, 1}, Spacing: Vec3{1, 1, 1}, Direction: IdentityDirection})
	got, err := LoadSeries(context.Background(), NewVolumeSeries("nifti", "T1", T1, v), nil)
	if err != nil || got != v {
		t.Errorf("in-memory series: %v, %v", got, err)
	}
	if _, err := LoadSeries(context.Background(), &Series{UID: "9"}, nil); !errors.Is(err, ErrNoPixels) {
		t.Errorf("empty series: %v", err)
	}
	var l Loader = DICOMLoader{}
	if got, err := l.Load(context.Background(), NewVolumeSeries("n", "T1", T1, v), nil); got != v || err != nil {
		t.Errorf("DICOMLoader: %v %v", got, err)
	}
}

func TestLoadProgressAndCancel(t *testing.T) {
	dir := t.TempDir()
	writeSeries(t, dir, stackOf(5, axial, Vec3{}, 2, func(k int) int { return k + 1 }))
	res, err := Scan(context.Background(), []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	se := res.Studies[0].Series[0]
	var seen []int
	if _, err := LoadSeries(context.Background(), se, func(done, total int) { seen = append(seen, done*100+total) }); err != nil {
		t.Fatal(err)
	}
	if len(seen) == 0 || seen[len(seen)-1] != 5*100+5 {
		t.Errorf("progress %v: want to end at 5 of 5 (5 slices decoded; Scan parsed the files, they are not parsed again)", seen)
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] < seen[i-1] {
			t.Errorf("progress went back: %v", seen)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := LoadSeries(ctx, se, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled load: %v", err)
	}
}
