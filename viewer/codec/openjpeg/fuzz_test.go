//go:build cgo

package openjpeg

import (
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/neuronova/neuronova/viewer"
)

const pydicomCorpus = "/usr/lib/python3/dist-packages/pydicom/data/test_files"

// fuzzSamples is the largest frame, in samples, the fuzz target decodes; maxRSS bounds the process's
// memory (OpenJPEG allocates in C, where Go's statistics do not see it).
const (
	fuzzSamples = 1 << 20
	maxRSS      = 1 << 30
)

// FuzzDecode decodes arbitrary bytes as a JPEG 2000 or HTJ2K frame: samples or an error, never a crash, and
// the process stays under maxRSS.
func FuzzDecode(f *testing.F) {
	for _, name := range []string{"MR_small_jp2klossless.dcm", "GDCMJ2K_TextGBR.dcm", "SC_rgb_gdcm_KY.dcm", "J2K_pixelrep_mismatch.dcm"} {
		b, err := os.ReadFile(filepath.Join(pydicomCorpus, name))
		if i := bytes.Index(b, []byte{0xFF, 0x4F, 0xFF, 0x51}); err == nil && i >= 0 {
			f.Add(b[i:])
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ReadHeader(data)
		if err != nil || h.Components < 1 || h.Components > 4 || h.Width < 1 || h.Height < 1 ||
			h.Width > fuzzSamples || h.Height > fuzzSamples || h.Width*h.Height*h.Components > fuzzSamples {
			return
		}
		info := viewer.FrameInfo{Rows: h.Height, Columns: h.Width, Samples: h.Components, BitsAllocated: 16,
			BitsStored: 16, Photometric: "MONOCHROME2"}
		Decode(make([]byte, info.Len()), data, info)
		var ru syscall.Rusage
		if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil && ru.Maxrss*1024 > maxRSS {
			t.Fatalf("the process reached %d MiB", ru.Maxrss/1024)
		}
	})
}
