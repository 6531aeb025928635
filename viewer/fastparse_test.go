package viewer

import (
	"bytes"
	"os"
	"reflect"
	"slices"
	"testing"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"
)

// TestFastHeaderMatchesLibrary reads every file of pydicom's corpus twice, with the attributes taken on the
// structure walk (the fast path) and with the DICOM library, headers only and with pixels: both give the same
// File, or the same error.
func TestFastHeaderMatchesLibrary(t *testing.T) {
	files := corpusFiles(t)
	fast := 0
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, keep := range []bool{false, true} {
			a, errA := parseDICOM(bytes.NewReader(data), int64(len(data)), &config{keepPixels: keep, memoryLimit: DefaultMemoryLimit})
			b, errB := parseDICOM(bytes.NewReader(data), int64(len(data)), &config{keepPixels: keep, memoryLimit: DefaultMemoryLimit, libraryOnly: true})
			if (errA == nil) != (errB == nil) {
				t.Errorf("%s (pixels %v): fast %v, library %v", rel(path), keep, errA, errB)
				continue
			}
			if errA != nil {
				continue
			}
			if d := fileDiff(a, b); d != "" {
				t.Errorf("%s (pixels %v): %s", rel(path), keep, d)
			}
			if keep {
				fast++
			}
		}
	}
	t.Logf("%d files compared", fast)
}

// fileDiff names the first field in which two parsed files differ.
func fileDiff(a, b *File) string {
	switch {
	case !reflect.DeepEqual(a.Study, b.Study):
		return "study differs"
	case !reflect.DeepEqual(a.Series, b.Series):
		return "series differs"
	case a.Instance.SOPInstanceUID != b.Instance.SOPInstanceUID || a.Instance.Number != b.Instance.Number ||
		a.Instance.Position != b.Instance.Position || a.Instance.Orientation != b.Instance.Orientation || a.Instance.Frames != b.Instance.Frames:
		return "instance differs"
	case !reflect.DeepEqual(a.Windows, b.Windows):
		return "windows differ"
	case a.pix != b.pix:
		return "pixel format differs"
	case !reflect.DeepEqual(a.frames, b.frames):
		return "frames differ"
	case !slices.Equal(a.warnings, b.warnings):
		return "warnings differ"
	case !bytes.Equal(a.native, b.native):
		return "native pixel bytes differ"
	case len(a.frags) != len(b.frags):
		return "fragment counts differ"
	}
	for i := range a.frags {
		if !bytes.Equal(a.frags[i], b.frags[i]) {
			return "fragments differ"
		}
	}
	return ""
}

// TestStrayHeaderAmongFragments: a header other than an item's among encapsulated fragments (here a
// sequence delimiter with a damaged group, found by FuzzFastMatchesLibrary) is no fragment for either
// reading; the library made an empty frame of it.
func TestStrayHeaderAmongFragments(t *testing.T) {
	var jb bytes.Buffer
	g, _ := testImages(8, 8, 0)
	if err := jpegEncode(&jb, g); err != nil {
		t.Fatal(err)
	}
	jpg := slice{study: "1", series: "1.5", number: 1, rows: 8, cols: 8, bits: 8, extra: []*dicom.Element{encapsulatedPixels(jb.Bytes())}}
	data, err := encodeDICOM(tsJPEG, jpg.elems(false))
	if err != nil {
		t.Fatal(err)
	}
	delim := []byte{0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0}
	i := bytes.LastIndex(data, delim)
	if i < 0 {
		t.Fatal("no sequence delimiter in the encoded file")
	}
	data[i+1] = 0xE3
	a, errA := parseDICOM(bytes.NewReader(data), int64(len(data)), &config{keepPixels: true, memoryLimit: DefaultMemoryLimit})
	b, errB := parseDICOM(bytes.NewReader(data), int64(len(data)), &config{keepPixels: true, memoryLimit: DefaultMemoryLimit, libraryOnly: true})
	if errA != nil || errB != nil {
		t.Fatalf("fast %v, library %v", errA, errB)
	}
	if d := fileDiff(a, b); d != "" || len(a.frags) != 1 {
		t.Fatalf("%s; %d fragments", d, len(a.frags))
	}
}

// TestInvalidUTF8MatchesLibrary: text with bytes that are not UTF-8, in a dataset declaring UTF-8
// (ISO_IR 192) or not, reads as the library reads it, invalid bytes replaced (found by FuzzFastMatchesLibrary).
func TestInvalidUTF8MatchesLibrary(t *testing.T) {
	for _, bad := range []*dicom.Element{el(tag.SeriesDescription, []string{"T1\x8d post"}), el(tag.StudyDate, []string{"201701\xff1"})} {
		for _, charset := range []string{"ISO_IR 192", ""} {
			s := slice{study: "1", series: "1.1", number: 1, rows: 2, cols: 2, values: ramp(4, 0, 1), extra: []*dicom.Element{
				el(tag.SpecificCharacterSet, []string{charset}), bad}}
			data, err := encodeDICOM(tsExplicit, s.elems(false))
			if err != nil {
				t.Fatal(err)
			}
			a, errA := parseDICOM(bytes.NewReader(data), int64(len(data)), &config{memoryLimit: DefaultMemoryLimit})
			b, errB := parseDICOM(bytes.NewReader(data), int64(len(data)), &config{memoryLimit: DefaultMemoryLimit, libraryOnly: true})
			if errA != nil || errB != nil {
				t.Fatalf("%v %q: fast %v, library %v", bad.Tag, charset, errA, errB)
			}
			if d := fileDiff(a, b); d != "" {
				t.Errorf("%v %q: %s: %q %q, library %q %q", bad.Tag, charset, d, a.Series.Description, a.Study.StudyDate,
					b.Series.Description, b.Study.StudyDate)
			}
		}
	}
}

// TestForcedImplicitReadAsWalked: a file meta without preamble declaring explicit VR big endian over a
// dataset that Walk reads as implicit VR (Layout.ForceImplicit) is read by the library in the same byte
// order: it read little endian and allocated a declared 402 MB (found by FuzzParseFile).
func TestForcedImplicitReadAsWalked(t *testing.T) {
	data := []byte("\x02\x0000AA0\x00000000000000000000000000000000000000000000000000\x02\x000000\x06\x00000000\x02\x00\x10\x0000\x14\x001.2.840.10008.1.2.2 1000\x00\x00\x00\x18000000000000000000000000")
	before := allocated()
	_, err := parseDICOM(bytes.NewReader(data), int64(len(data)), &config{memoryLimit: DefaultMemoryLimit})
	if used := allocated() - before; used > 8<<20 {
		t.Fatalf("parsing %d bytes allocated %d bytes (%v)", len(data), used, err)
	}
}
