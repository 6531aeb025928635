package viewer

import (
	"bytes"
	"os"
	"reflect"
	"slices"
	"testing"
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
