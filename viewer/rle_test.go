package viewer

import (
	"encoding/binary"
	"errors"
	"github.com/neuronova/neuronova/internal/dicomkit"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/neuronova/neuronova/internal/testenv"
)

// packBits encodes src as a PackBits stream (runs of 2 or more repeated bytes are replicate runs).
func packBits(src []byte) []byte {
	var out []byte
	for i := 0; i < len(src); {
		run := 1
		for i+run < len(src) && src[i+run] == src[i] && run < 128 {
			run++
		}
		if run >= 2 {
			out = append(out, byte(int8(1-run)), src[i])
			i += run
			continue
		}
		j := i + 1
		for j < len(src) && j-i < 128 && !(j+1 < len(src) && src[j] == src[j+1]) {
			j++
		}
		out = append(out, byte(j-i-1))
		out = append(out, src[i:j]...)
		i = j
	}
	return out
}

// encodeRLE encodes one frame of little-endian interleaved samples as DICOM RLE (PS3.5 G.3).
func encodeRLE(native []byte, pixels, samples, bytesPer int) []byte {
	nseg := samples * bytesPer
	header := make([]byte, 64)
	binary.LittleEndian.PutUint32(header, uint32(nseg))
	var body []byte
	for s := 0; s < nseg; s++ {
		sample, msb := s/bytesPer, s%bytesPer
		seg := make([]byte, pixels)
		for p := range seg {
			seg[p] = native[(p*samples+sample)*bytesPer+bytesPer-1-msb]
		}
		binary.LittleEndian.PutUint32(header[4+4*s:], uint32(64+len(body)))
		enc := packBits(seg)
		if len(enc)%2 == 1 {
			enc = append(enc, 0) // segments are padded to even length
		}
		body = append(body, enc...)
	}
	return append(header, body...)
}

func TestRLERoundTrip(t *testing.T) {
	cases := []struct {
		name             string
		bits, samples    int
		signed           bool
		frames           int
		photometric      string
		valuesFor        func(n int) []int
		rows, cols, plan int
	}{
		{"8-bit grey", 8, 1, false, 1, "MONOCHROME2", func(n int) []int { return ramp(n, 0, 3) }, 7, 5, 0},
		{"16-bit signed", 16, 1, true, 1, "MONOCHROME2", func(n int) []int { return ramp(n, -600, 37) }, 6, 6, 0},
		{"32-bit", 32, 1, false, 1, "MONOCHROME2", func(n int) []int { return ramp(n, 1<<20, 40001) }, 4, 3, 0},
		{"RGB 8-bit, 3 frames", 8, 3, false, 3, "RGB", func(n int) []int { return ramp(n, 0, 1) }, 4, 5, 0},
		{"RGB 16-bit planar attribute ignored", 16, 3, false, 2, "RGB", func(n int) []int { return ramp(n, 0, 321) }, 3, 3, 1},
		{"long runs", 8, 1, false, 1, "MONOCHROME2", func(n int) []int { return make([]int, n) }, 50, 40, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			frames := max(c.frames, 1)
			perFrame := c.rows * c.cols * c.samples
			values := c.valuesFor(perFrame * frames)
			var frags [][]byte
			for f := 0; f < frames; f++ {
				native := packValues(values[f*perFrame:(f+1)*perFrame], c.bits, false)
				frags = append(frags, encodeRLE(native, c.rows*c.cols, c.samples, c.bits/8))
			}
			s := slice{study: "3", series: "3.1", number: 1, rows: c.rows, cols: c.cols, bits: c.bits, signed: c.signed,
				samples: c.samples, photometric: c.photometric, planar: c.plan, extra: nil}
			if c.frames > 1 {
				s.frames = c.frames
			}
			s.extra = append(s.extra, encapsulatedPixels(frags...))
			path := writeDICOM(t, filepath.Join(t.TempDir(), "rle.dcm"), tsRLE, s.elems(false))
			f, err := ParseFile(path, WithPixelData())
			if err != nil {
				t.Fatal(err)
			}
			got := decodeAll(t, f, identity, false)
			for i, v := range values {
				want := v
				if c.bits == 16 && c.signed {
					want = int(int16(v))
				}
				if got[i] != float32(want) {
					t.Fatalf("value %d: %g, want %d", i, got[i], want)
				}
			}
		})
	}
}

// TestRLEAgainstDcmtk decodes files RLE-encoded by dcmtk's dcmcrle and compares them with the originals.
func TestRLEAgainstDcmtk(t *testing.T) {
	if _, err := exec.LookPath("dcmcrle"); err != nil {
		testenv.Missing(t, "dcmcrle", "compare the RLE decoder with files an independent encoder wrote", "apt-get install dcmtk")
	}
	dir := t.TempDir()
	for _, c := range []struct {
		name    string
		s       slice
		samples int
	}{
		{"16-bit signed grey", slice{rows: 33, cols: 17, signed: true, values: ramp(33*17, -4000, 13)}, 1},
		{"8-bit RGB", slice{rows: 9, cols: 11, bits: 8, samples: 3, photometric: "RGB", values: ramp(9*11*3, 0, 7)}, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := c.s
			s.study, s.series, s.number = "4", "4.1", 1
			for i := range s.values {
				if s.bits == 8 {
					s.values[i] &= 0xFF
				}
			}
			native := writeDICOM(t, filepath.Join(dir, c.name+".dcm"), tsExplicit, s.elems(false))
			rle := filepath.Join(dir, c.name+".rle.dcm")
			if out, err := exec.Command("dcmcrle", native, rle).CombinedOutput(); err != nil {
				t.Fatalf("dcmcrle: %v: %s", err, out)
			}
			a, err := ParseFile(native, WithPixelData())
			if err != nil {
				t.Fatal(err)
			}
			b, err := ParseFile(rle, WithPixelData())
			if err != nil {
				t.Fatal(err)
			}
			if b.syntax.Kind != dicomkit.RLE {
				t.Fatalf("dcmcrle wrote %s", b.syntax)
			}
			if want, got := decodeAll(t, a, identity, false), decodeAll(t, b, identity, false); !slicesEqual(got, want) {
				t.Errorf("RLE decode differs from the native original")
			}
		})
	}
}

func TestRLEMalformed(t *testing.T) {
	good := encodeRLE(packValues(ramp(16, 0, 1), 8, false), 16, 1, 1)
	out := make([]byte, 16)
	if err := decodeRLE(out, good, 16, 1, 1); err != nil {
		t.Fatalf("good frame: %v", err)
	}
	withSegments := func(n uint32) []byte {
		b := append([]byte(nil), good...)
		binary.LittleEndian.PutUint32(b, n)
		return b
	}
	badOffset := append([]byte(nil), good...)
	binary.LittleEndian.PutUint32(badOffset[4:], 9999)
	cases := map[string]struct {
		frame     []byte
		truncated bool
	}{
		"short header":         {good[:40], true},
		"wrong segment count":  {withSegments(2), false},
		"offset past the end":  {badOffset, false},
		"segment cut short":    {good[:len(good)-6], true},
		"literal run past end": {append(append([]byte(nil), good[:64]...), 20, 1, 2), true},
	}
	for name, c := range cases {
		err := decodeRLE(out, c.frame, 16, 1, 1)
		if err == nil || errors.Is(err, ErrTruncated) != c.truncated {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func BenchmarkDecodeRLE(b *testing.B) {
	native := packValues(ramp(256*256, 0, 1), 16, false)
	frame := encodeRLE(native, 256*256, 1, 2)
	out := make([]byte, len(native))
	b.SetBytes(int64(len(native)))
	for b.Loop() {
		if err := decodeRLE(out, frame, 256*256, 1, 2); err != nil {
			b.Fatal(err)
		}
	}
}
