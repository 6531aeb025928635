package viewer

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"

	"github.com/neuronova/neuronova/internal/progress"
)

// fuzzMemoryLimit caps the volume a fuzzed file may declare, so that decoding stays small.
const fuzzMemoryLimit = 16 << 20

// fuzzSeeds are small generated files covering every transfer syntax and pixel layout the loader reads,
// plus pydicom's corpus files under 64 KB when the corpus is installed (they are read, not copied).
func fuzzSeeds(f *testing.F) {
	add := func(ts string, elems []*dicom.Element) {
		b, err := encodeDICOM(ts, elems)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	grey := slice{study: "1", series: "1.1", number: 1, rows: 3, cols: 4, position: &Vec3{1, 2, 3}, orientation: &axial,
		pixelSpacing: []float64{0.5, 0.5}, signed: true, stored: 12, values: ramp(12, -6, 1), windows: [][2]float64{{0, 10}}}
	for _, ts := range []string{tsImplicit, tsExplicit, tsBig, tsDeflated} {
		add(ts, grey.elems(ts == tsBig))
	}
	// The same without preamble, without "DICM", and without file meta (Part10).
	if b, err := encodeDICOM(tsBig, grey.elems(true)); err == nil {
		f.Add(b[128:])
		f.Add(b[132:])
		f.Add(b[132+12+(int(b[140])|int(b[141])<<8):])
	}
	rgb := slice{study: "1", series: "1.2", number: 1, rows: 2, cols: 2, bits: 8, samples: 3, photometric: "YBR_FULL", planar: 1, values: ramp(12, 0, 20)}
	add(tsExplicit, rgb.elems(false))
	bits := slice{study: "1", series: "1.3", number: 1, rows: 4, cols: 4, bits: 1, frames: 2, values: ramp(32, 0, 1)}
	for i := range bits.values {
		bits.values[i] %= 2
	}
	add(tsExplicit, bits.elems(false))
	rle := slice{study: "1", series: "1.4", number: 1, rows: 3, cols: 3, extra: []*dicom.Element{
		encapsulatedPixels(encodeRLE(packValues(ramp(9, 100, 7), 16, false), 9, 1, 2))}}
	add(tsRLE, rle.elems(false))
	var jb bytes.Buffer
	g, _ := testImages(8, 8, 0)
	if err := jpegEncode(&jb, g); err != nil {
		f.Fatal(err)
	}
	jpg := slice{study: "1", series: "1.5", number: 1, rows: 8, cols: 8, bits: 8, extra: []*dicom.Element{encapsulatedPixels(jb.Bytes())}}
	add(tsJPEG, jpg.elems(false))
	add(tsExplicit, enhancedMR([]float64{2, 0, 4}, []float64{1, 2, 3}, true))
	add(tsExplicit, enhancedMR([]float64{2, 0, 4}, []float64{1, 2, 3}, false))
	add(tsExplicit, []*dicom.Element{el(tag.SOPClassUID, []string{"1.2.840.10008.5.1.4.1.1.88.11"}), el(tag.SOPInstanceUID, []string{"9"})})
	f.Add([]byte("not DICOM"))

	filepath.WalkDir(pydicomCorpus, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if info, err := d.Info(); err == nil && info.Size() < 64<<10 {
			if b, err := os.ReadFile(path); err == nil && len(b) > 132 && string(b[128:132]) == "DICM" {
				f.Add(b)
			}
		}
		return nil
	})
}

// FuzzParseFile parses arbitrary bytes as a file, with and without pixel data: it must return a File or
// an error, never panic, and never allocate far beyond the input's size.
func FuzzParseFile(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, keep := range []bool{false, true} {
			cfg := config{keepPixels: keep, memoryLimit: fuzzMemoryLimit}
			before := allocated()
			file, err := parseDICOM(bytes.NewReader(data), int64(len(data)), &cfg)
			if used := allocated() - before; used > 64*uint64(len(data))+8<<20 {
				t.Fatalf("parsing %d bytes allocated %d bytes", len(data), used)
			}
			if err == nil && (file.pix.rows <= 0 || len(file.frames) != file.pix.frames) {
				t.Fatalf("parsed an inconsistent file: %+v", file.pix)
			}
		}
	})
}

// FuzzDecodeFile parses and fully decodes arbitrary bytes as a one-file series under a 16 MB memory limit:
// a volume that passes Check, or an error, never a panic.
func FuzzDecodeFile(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := config{keepPixels: true, memoryLimit: fuzzMemoryLimit}
		before := allocated()
		file, err := parseDICOM(bytes.NewReader(data), int64(len(data)), &cfg)
		if err != nil {
			return
		}
		v, err := decodeFiles(context.Background(), []*File{file}, progress.New(nil, 0), fuzzMemoryLimit)
		if used := allocated() - before; used > 64*uint64(len(data))+3*fuzzMemoryLimit {
			t.Fatalf("decoding %d bytes allocated %d bytes", len(data), used)
		}
		if err != nil {
			return
		}
		if err := v.Check(); err != nil {
			t.Fatalf("decoded volume fails Check: %v", err)
		}
	})
}

func allocated() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}

// FuzzFastMatchesLibrary parses arbitrary bytes with the attributes read on the structure walk and with the
// DICOM library: when both read the file they agree on every field (the walk may read files the library
// refuses, for an element the viewer does not use).
func FuzzFastMatchesLibrary(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, keep := range []bool{false, true} {
			a, errA := parseDICOM(bytes.NewReader(data), int64(len(data)), &config{keepPixels: keep, memoryLimit: fuzzMemoryLimit})
			b, errB := parseDICOM(bytes.NewReader(data), int64(len(data)), &config{keepPixels: keep, memoryLimit: fuzzMemoryLimit, libraryOnly: true})
			if errA != nil || errB != nil {
				continue
			}
			if d := fileDiff(a, b); d != "" {
				t.Fatalf("pixels %v: %s", keep, d)
			}
		}
	})
}
