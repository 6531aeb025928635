//go:build cgo

package charls

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
// memory (CharLS allocates in C, where Go's statistics do not see it).
const (
	fuzzSamples = 1 << 20
	maxRSS      = 1 << 30
)

// FuzzDecode decodes arbitrary bytes as a JPEG-LS frame: samples or an error, never a crash, and the process
// stays under maxRSS.
func FuzzDecode(f *testing.F) {
	b, err := os.ReadFile(filepath.Join(pydicomCorpus, "MR_small_jpeg_ls_lossless.dcm"))
	if i := bytes.Index(b, []byte{0xFF, 0xD8, 0xFF}); err == nil && i >= 0 {
		f.Add(b[i:])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ReadHeader(data)
		if err != nil || h.Components < 1 || h.Components > 4 || h.Bits > 16 || h.Width*h.Height*h.Components > fuzzSamples {
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
