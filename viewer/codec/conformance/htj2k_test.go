//go:build cgo

package conformance

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/neuronova/neuronova/internal/testenv"
	"github.com/neuronova/neuronova/viewer/dcmwrite"
)

// htj2k compresses each frame of a source with OpenJPH's ojph_compress (reversible for the lossless
// syntaxes, in RPCL order, OpenJPH's default, as .202 requires; else irreversible with a quantisation step;
// RGB through the colour transform) and wraps the codestreams in a DICOM file of transfer syntax ts, one
// fragment per frame.
func htj2k(ts string) func(t testing.TB, s *source, out string) error {
	lossless := ts != "1.2.840.10008.1.2.4.203"
	return func(t testing.TB, s *source, out string) error {
		if _, err := exec.LookPath("ojph_compress"); err != nil {
			testenv.Missing(t, "ojph_compress", "encode HTJ2K conformance files", "apt-get install openjph-tools")
		}
		var frames [][]byte
		for f := 0; f < s.frames; f++ {
			base := strings.TrimSuffix(out, ".dcm") + fmt.Sprintf("-%d", f)
			raw, j2c := base+".yuv", base+".j2c"
			data := s.nativeBytes(f, true)
			if s.samples == 3 {
				// ojph_compress applies the colour transform to PPM input only.
				raw = base + ".ppm"
				data = append([]byte(fmt.Sprintf("P6\n%d %d\n255\n", s.cols, s.rows)), s.nativeBytes(f, false)...)
			}
			if err := os.WriteFile(raw, data, 0o644); err != nil {
				return err
			}
			signed, depth, down := "false", fmt.Sprint(s.bitsStored), "{1,1}"
			if s.signed {
				signed = "true"
			}
			for c := 1; c < s.samples; c++ {
				signed, depth, down = signed+","+signed, depth+","+fmt.Sprint(s.bitsStored), down+",{1,1}"
			}
			args := []string{"-i", raw, "-o", j2c}
			if s.samples == 1 {
				args = append(args, "-dims", fmt.Sprintf("{%d,%d}", s.cols, s.rows), "-num_comps", "1",
					"-signed", signed, "-bit_depth", depth, "-downsamp", down)
			}
			if lossless {
				args = append(args, "-reversible", "true", "-prog_order", "RPCL")
			} else {
				args = append(args, "-qstep", "0.005")
			}
			if s.samples == 3 {
				args = append(args, "-colour_trans", "true")
			}
			if b, err := exec.Command("ojph_compress", args...).CombinedOutput(); err != nil {
				return fmt.Errorf("ojph_compress: %v: %s", err, firstLine(string(b)))
			}
			cs, err := os.ReadFile(j2c)
			if err != nil {
				return err
			}
			if len(cs)%2 == 1 {
				cs = append(cs, 0) // fragments have even lengths; decoders ignore bytes after EOC
			}
			frames = append(frames, cs)
		}
		photometric := s.photometric
		if s.samples == 3 {
			photometric = map[bool]string{true: "YBR_RCT", false: "YBR_ICT"}[lossless]
		}
		var b dcmwrite.Builder
		b.EncapsulatedPixels(frames...)
		px, _ := b.Elements()
		fh, err := os.Create(out)
		if err != nil {
			return err
		}
		defer fh.Close()
		return dcmwrite.EncodeSyntax(fh, s.elements(t, px[0], photometric), ts)
	}
}

// ojphReference decodes each frame's codestream (kept beside the DICOM file) with OpenJPH's ojph_expand.
func ojphReference(t *testing.T, o outcome) reference {
	s := o.src
	var vals []float32
	for f := 0; f < s.frames; f++ {
		j2c := strings.TrimSuffix(o.file, ".dcm") + fmt.Sprintf("-%d.j2c", f)
		raw := filepath.Join(t.TempDir(), "frame.yuv")
		if s.samples == 3 {
			raw = filepath.Join(t.TempDir(), "frame.ppm")
		}
		if b, err := exec.Command("ojph_expand", "-i", j2c, "-o", raw).CombinedOutput(); err != nil {
			return reference{err: fmt.Sprintf("ojph_expand: %v: %s", err, firstLine(string(b)))}
		}
		data, err := os.ReadFile(raw)
		if err != nil {
			return reference{err: err.Error()}
		}
		planar := true
		if s.samples == 3 { // PPM: a three-line header, then interleaved RGB
			for i := 0; i < 3; i++ {
				data = data[min(len(data), indexNewline(data)+1):]
			}
			planar = false
		}
		bytesPer := 1
		if s.bitsStored > 8 {
			bytesPer = 2
		}
		pixels := s.rows * s.cols
		if len(data) != pixels*s.samples*bytesPer {
			return reference{err: fmt.Sprintf("ojph_expand wrote %d bytes", len(data))}
		}
		for i := 0; i < pixels; i++ {
			for c := 0; c < s.samples; c++ {
				k := i*s.samples + c
				if planar {
					k = c*pixels + i
				}
				var v int32
				if bytesPer == 1 {
					v = int32(data[k])
				} else {
					v = int32(binary.LittleEndian.Uint16(data[2*k:]))
				}
				v &= 1<<s.bitsStored - 1
				if s.signed && v >= 1<<(s.bitsStored-1) {
					v -= 1 << s.bitsStored
				}
				vals = append(vals, float32(v))
			}
		}
	}
	return reference{values: vals, photometric: s.photometric}
}

func indexNewline(b []byte) int {
	for i, c := range b {
		if c == '\n' {
			return i
		}
	}
	return len(b)
}
