package jpeg

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

const pydicomCorpus = "/usr/lib/python3/dist-packages/pydicom/data/test_files"

// fuzzLimit is the largest frame, in bytes of decoded samples, the fuzz target decodes.
const fuzzLimit = 4 << 20

// FuzzDecode decodes arbitrary bytes as a JPEG frame (lossless or DCT, 8 to 16 bits): a header and samples,
// or an error, never a panic, and never more memory than a few times the decoded frame.
func FuzzDecode(f *testing.F) {
	// Seeds: the JPEG streams of pydicom's corpus files in the syntaxes decoded here (read, not copied).
	for _, name := range []string{"JPGExtended.dcm", "JPEG-lossy.dcm", "SC_rgb_jpeg_gdcm.dcm", "SC_rgb_dcmtk_+eb+cy+np.dcm"} {
		b, err := os.ReadFile(filepath.Join(pydicomCorpus, name))
		if i := bytes.Index(b, []byte{0xFF, 0xD8, 0xFF}); err == nil && i >= 0 {
			f.Add(b[i:])
		}
	}
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xC3, 0x00, 0x0B, 0x10, 0x00, 0x02, 0x00, 0x02, 0x01, 0x01, 0x11, 0x00, 0xFF, 0xD9})
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ReadHeader(data)
		if err != nil {
			return
		}
		n := h.Width * h.Height * h.Components * 2
		if n > fuzzLimit {
			return
		}
		before := allocated()
		_, err = Decode(make([]byte, n), data, 2)
		if used := allocated() - before; used > 8*uint64(n)+uint64(len(data))+1<<20 {
			t.Fatalf("decoding a %d-byte frame allocated %d bytes (err %v)", n, used, err)
		}
	})
}

func allocated() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}
