package viewer

import (
	"math"
	"testing"
)

func TestConvertNative(t *testing.T) {
	cases := []struct {
		name      string
		p         pixelFormat
		bigEndian bool
		raw       []byte
		m         affine
		want      []float32
	}{
		{"8-bit unsigned", pixelFormat{rows: 1, cols: 3, samples: 1, bitsAllocated: 8, bitsStored: 8, highBit: 7},
			false, []byte{0, 128, 255}, identity, []float32{0, 128, 255}},
		{"8-bit signed", pixelFormat{rows: 1, cols: 3, samples: 1, bitsAllocated: 8, bitsStored: 8, highBit: 7, signed: true},
			false, []byte{0, 128, 255}, identity, []float32{0, -128, -1}},
		{"16-bit signed LE with rescale", pixelFormat{rows: 1, cols: 2, samples: 1, bitsAllocated: 16, bitsStored: 16, highBit: 15, signed: true},
			false, []byte{0x00, 0x80, 0xFF, 0x7F}, affine{2, -1}, []float32{-65537, 65533}},
		{"16-bit BE", pixelFormat{rows: 1, cols: 2, samples: 1, bitsAllocated: 16, bitsStored: 16, highBit: 15},
			true, []byte{0x01, 0x02, 0xFF, 0xFE}, identity, []float32{0x0102, 0xFFFE}},
		{"12 of 16 bits, garbage above HighBit", pixelFormat{rows: 1, cols: 2, samples: 1, bitsAllocated: 16, bitsStored: 12, highBit: 11},
			false, []byte{0xFF, 0xFF, 0x34, 0x12}, identity, []float32{4095, 0x234}},
		{"12 of 16 bits signed", pixelFormat{rows: 1, cols: 3, samples: 1, bitsAllocated: 16, bitsStored: 12, highBit: 11, signed: true},
			false, []byte{0xFF, 0x0F, 0x00, 0x08, 0xFF, 0x07}, identity, []float32{-1, -2048, 2047}},
		{"12 bits at HighBit 15", pixelFormat{rows: 1, cols: 1, samples: 1, bitsAllocated: 16, bitsStored: 12, highBit: 15},
			false, []byte{0x0F, 0xAB}, identity, []float32{0xAB0}},
		{"32-bit signed BE", pixelFormat{rows: 1, cols: 2, samples: 1, bitsAllocated: 32, bitsStored: 32, highBit: 31, signed: true},
			true, []byte{0xFF, 0xFF, 0xFF, 0xFE, 0, 1, 0, 0}, identity, []float32{-2, 65536}},
		{"32-bit unsigned", pixelFormat{rows: 1, cols: 1, samples: 1, bitsAllocated: 32, bitsStored: 32, highBit: 31},
			false, []byte{0, 0, 0, 0x80}, identity, []float32{2147483648}},
		{"RGB planar", pixelFormat{rows: 1, cols: 2, samples: 3, bitsAllocated: 8, bitsStored: 8, highBit: 7, photometric: "RGB", planar: true},
			false, []byte{1, 2, 3, 4, 5, 6}, identity, []float32{1, 3, 5, 2, 4, 6}},
		{"RGB 16-bit interleaved", pixelFormat{rows: 1, cols: 1, samples: 3, bitsAllocated: 16, bitsStored: 16, highBit: 15, photometric: "RGB"},
			false, []byte{1, 0, 2, 0, 3, 0}, identity, []float32{1, 2, 3}},
		{"YBR_FULL_422 expands chroma", pixelFormat{rows: 1, cols: 2, samples: 3, bitsAllocated: 8, bitsStored: 8, highBit: 7, photometric: "YBR_FULL_422"},
			false, []byte{10, 20, 30, 40}, identity, []float32{10, 30, 40, 20, 30, 40}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := make([]float32, c.p.rows*c.p.cols*c.p.samples)
			if err := convertNative(got, c.raw, &c.p, c.bigEndian, c.m); err != nil {
				t.Fatal(err)
			}
			if !slicesEqual(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
	short := pixelFormat{rows: 2, cols: 2, samples: 1, bitsAllocated: 16, bitsStored: 16, highBit: 15}
	if err := convertNative(make([]float32, 4), make([]byte, 7), &short, false, identity); err == nil {
		t.Error("short frame: no error")
	}
}

func TestConvertBits(t *testing.T) {
	got := make([]float32, 10)
	// Bits are packed least significant first; frame 2 of 10-bit frames starts at bit 20.
	src := []byte{0, 0, 0b1010_0000, 0b0000_0011}
	if err := convertBits(got, src, 20, 10, affine{3, 1}); err != nil {
		t.Fatal(err)
	}
	if want := []float32{1, 4, 1, 4, 4, 4, 1, 1, 1, 1}; !slicesEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if err := convertBits(got, src, 30, 10, identity); err == nil {
		t.Error("bits past the end: no error")
	}
}

func TestYBRToRGB(t *testing.T) {
	// Inverse of PS3.3 C.7.6.3.1.2: Y = .299R + .587G + .114B, Cb = −.1687R − .3313G + .5B + 128,
	// Cr = .5R − .4187G − .0813B + 128.
	for _, rgb := range [][3]float64{{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {12, 200, 99}, {128, 128, 128}} {
		r, g, b := rgb[0], rgb[1], rgb[2]
		px := []float32{
			float32(0.299*r + 0.587*g + 0.114*b),
			float32(-0.168736*r - 0.331264*g + 0.5*b + 128),
			float32(0.5*r - 0.418688*g - 0.081312*b + 128),
		}
		ybrToRGB(px, 8)
		for i := range px {
			if math.Abs(float64(px[i])-rgb[i]) > 0.01 {
				t.Errorf("%v → %v", rgb, px)
				break
			}
		}
	}
	clamped := []float32{255, 0, 255} // Y 255 with extreme chroma leaves the RGB cube
	ybrToRGB(clamped, 8)
	for _, v := range clamped {
		if v < 0 || v > 255 {
			t.Errorf("not clamped: %v", clamped)
		}
	}
}

// BenchmarkConvert16LE measures the hot loop of a typical MR slice (240×240, signed, rescale identity).
func BenchmarkConvert16LE(b *testing.B) {
	p := pixelFormat{rows: 240, cols: 240, samples: 1, bitsAllocated: 16, bitsStored: 16, highBit: 15, signed: true}
	raw := make([]byte, 240*240*2)
	dst := make([]float32, 240*240)
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		convertNative(dst, raw, &p, false, identity)
	}
}
