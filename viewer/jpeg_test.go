package viewer

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"path/filepath"
	"strings"
	"testing"
)

func encodeJPEG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 100}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// testImages are a smooth grey ramp and a smooth colour gradient, on which quality-100 JPEG stays within a
// few levels of the original.
func testImages(w, h, frame int) (*image.Gray, *image.RGBA) {
	g, c := image.NewGray(image.Rect(0, 0, w, h)), image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			g.SetGray(x, y, color.Gray{uint8(4*x + 2*y + 10*frame)})
			c.SetRGBA(x, y, color.RGBA{uint8(8 * x), uint8(6 * y), uint8(100 + 20*frame), 255})
		}
	}
	return g, c
}

func TestJPEGBaseline(t *testing.T) {
	const w, h = 24, 16
	for _, colour := range []bool{false, true} {
		name := map[bool]string{false: "grey", true: "colour"}[colour]
		t.Run(name, func(t *testing.T) {
			var frags [][]byte
			var want []float32
			for f := 0; f < 2; f++ {
				g, c := testImages(w, h, f)
				var img image.Image = g
				if colour {
					img = c
				}
				data := encodeJPEG(t, img)
				// Frame 0 is split over two fragments, frame 1 is one: frames are found by their SOI marker.
				if f == 0 {
					half := len(data) / 2 &^ 1 // fragments have even lengths
					frags = append(frags, data[:half], data[half:])
				} else {
					frags = append(frags, data)
				}
				for y := 0; y < h; y++ {
					for x := 0; x < w; x++ {
						if colour {
							r, gg, b, _ := c.At(x, y).RGBA()
							want = append(want, float32(r>>8), float32(gg>>8), float32(b>>8))
						} else {
							want = append(want, float32(g.GrayAt(x, y).Y))
						}
					}
				}
			}
			s := slice{study: "5", series: "5.1", number: 1, rows: h, cols: w, bits: 8, frames: 2, photometric: "MONOCHROME2"}
			if colour {
				s.samples, s.photometric = 3, "YBR_FULL_422"
			}
			s.extra = append(s.extra, encapsulatedPixels(frags...))
			path := writeDICOM(t, filepath.Join(t.TempDir(), name+".dcm"), tsJPEG, s.elems(false))
			f, err := ParseFile(path, WithPixelData())
			if err != nil {
				t.Fatal(err)
			}
			got := decodeAll(t, f, identity, true)
			// Quality 100; image/jpeg's encoder subsamples chroma 4:2:0, which costs colour a little more.
			meanTol := map[bool]float64{false: 1, true: 3}[colour]
			mean, worst := diffStats(got, want)
			if mean > meanTol || worst > 8 {
				t.Errorf("decoded JPEG differs from the original by mean %.2f, max %.0f (tolerance %g, 8)", mean, worst, meanTol)
			}
		})
	}
}

func TestJPEGMismatch(t *testing.T) {
	g, c := testImages(8, 8, 0)
	grey, colour := encodeJPEG(t, g), encodeJPEG(t, c)
	cases := []struct {
		name string
		p    pixelFormat
		data []byte
		want string
	}{
		{"size", pixelFormat{rows: 8, cols: 9, samples: 1}, grey, "JPEG frame is 8×8, the header says 9×8"},
		{"grey for colour", pixelFormat{rows: 8, cols: 8, samples: 3}, grey, "grey-scale, the header says 3 samples"},
		{"colour for grey", pixelFormat{rows: 8, cols: 8, samples: 1}, colour, "colour, the header says 1 samples"},
		{"not JPEG", pixelFormat{rows: 8, cols: 8, samples: 1}, []byte("garbage"), "JPEG frame"},
	}
	for _, c := range cases {
		err := decodeJPEG(make([]float32, c.p.rows*c.p.cols*c.p.samples), c.data, &c.p, identity)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	// Grey JPEG values go through the affine map.
	p := pixelFormat{rows: 8, cols: 8, samples: 1}
	dst := make([]float32, 64)
	if err := decodeJPEG(dst, grey, &p, affine{2, -5}); err != nil {
		t.Fatal(err)
	}
	if want := 2*float64(4*3+2*2) - 5; math.Abs(float64(dst[2*8+3])-want) > 4 {
		t.Errorf("rescaled grey JPEG: %g, want about %g", dst[2*8+3], want)
	}
}

func jpegEncode(w *bytes.Buffer, img image.Image) error {
	return jpeg.Encode(w, img, &jpeg.Options{Quality: 90})
}
