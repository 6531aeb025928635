package jpeg

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/neuronova/neuronova/internal/testenv"
)

// TestAgainstLibjpeg encodes 8-bit images with libjpeg-turbo's cjpeg, grey and colour, with chroma halved
// horizontally (YBR_FULL_422's sampling) or not, with restart intervals in rows and in blocks and with
// several scans, and checks that Decode gives exactly what its djpeg gives (the IJG's integer IDCT, fancy
// upsampling and YCbCr conversion).
func TestAgainstLibjpeg(t *testing.T) {
	for _, tool := range []string{"cjpeg", "djpeg"} {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Missing(t, tool, "check the DCT decoder against libjpeg", "apt-get install libjpeg-turbo-progs")
		}
	}
	dir := t.TempDir()
	w, h := 61, 45 // not whole blocks, not whole MCUs
	rng := rand.New(rand.NewPCG(1, 2))
	grey := fmt.Appendf(nil, "P5\n%d %d\n255\n", w, h)
	colour := fmt.Appendf(nil, "P6\n%d %d\n255\n", w, h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			v := byte((x*5 + y*3 + rng.IntN(40)) % 256)
			grey = append(grey, v)
			colour = append(colour, v, byte(x*4), byte(255-y*5))
		}
	}
	os.WriteFile(filepath.Join(dir, "grey.pgm"), grey, 0o644)
	os.WriteFile(filepath.Join(dir, "colour.ppm"), colour, 0o644)
	cases := []struct {
		in   string
		args []string
	}{
		{"grey.pgm", nil},
		{"grey.pgm", []string{"-restart", "1"}},
		{"grey.pgm", []string{"-restart", "5B", "-quality", "97"}},
		{"colour.ppm", []string{"-sample", "1x1"}},
		{"colour.ppm", []string{"-sample", "2x2"}},
		{"colour.ppm", []string{"-sample", "2x2", "-restart", "1"}},
		{"colour.ppm", []string{"-sample", "2x1", "-restart", "2"}},
		{"colour.ppm", []string{"-sample", "2x1", "-restart", "3B"}},
	}
	for _, c := range cases {
		name := c.in + " " + strings.Join(c.args, " ")
		jpg, want := filepath.Join(dir, "x.jpg"), filepath.Join(dir, "x.pnm")
		if out, err := exec.Command("cjpeg", append(append([]string{"-outfile", jpg}, c.args...), filepath.Join(dir, c.in))...).CombinedOutput(); err != nil {
			t.Fatalf("cjpeg %s: %v: %s", name, err, out)
		}
		if out, err := exec.Command("djpeg", "-dct", "int", "-pnm", "-outfile", want, jpg).CombinedOutput(); err != nil {
			t.Fatalf("djpeg %s: %v: %s", name, err, out)
		}
		data, _ := os.ReadFile(jpg)
		ref, _ := os.ReadFile(want)
		hdr, err := ReadHeader(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := make([]byte, hdr.Width*hdr.Height*hdr.Components)
		if _, err := Decode(got, data, 1); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		ref = ref[len(ref)-len(got):] // after the PNM header
		if !bytes.Equal(got, ref) {
			n := 0
			for i := range got {
				if got[i] != ref[i] {
					n++
				}
			}
			t.Errorf("%s: %d of %d samples differ from djpeg's", name, n, len(got))
		}
	}
}
