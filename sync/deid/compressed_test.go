package deid

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"

	"github.com/neuronova/neuronova/internal/testenv"
	"github.com/neuronova/neuronova/viewer"
	_ "github.com/neuronova/neuronova/viewer/codec/charls"
	_ "github.com/neuronova/neuronova/viewer/codec/openjpeg"
)

// TestAnonymizeCompressed: compressed files (JPEG Lossless, JPEG-LS, JPEG 2000, RLE) are exported with their
// transfer syntax and their pixel fragments byte for byte, big-endian and deflated files are re-encoded as
// explicit VR little endian; every output decodes to the source's values and has lost its identifying
// attributes.
func TestAnonymizeCompressed(t *testing.T) {
	src := sampleFile(t)
	dir := t.TempDir()
	cases := []struct {
		tool   []string
		syntax string // of the tool's output
		want   string // of the anonymised file
	}{
		{[]string{"dcmcjpeg", "+e1"}, "1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.4.70"},
		{[]string{"dcmcjpls"}, "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.80"},
		{[]string{"gdcmconv", "--j2k"}, "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.90"},
		{[]string{"dcmcrle"}, "1.2.840.10008.1.2.5", "1.2.840.10008.1.2.5"},
		{[]string{"dcmconv", "+tb"}, "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1"},
		{[]string{"dcmconv", "+td"}, "1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.1"},
	}
	want := decoded(t, src)
	for i, c := range cases {
		if _, err := exec.LookPath(c.tool[0]); err != nil {
			testenv.Missing(t, c.tool[0], "make compressed files to anonymise", "apt-get install dcmtk libgdcm-tools")
		}
		in := filepath.Join(dir, filepath.Base(c.tool[0])+string(rune('a'+i))+".dcm")
		if out, err := exec.Command(c.tool[0], append(c.tool[1:], src, in)...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", c.tool[0], err, out)
		}
		data, err := New("salt").Bytes(in)
		if err != nil {
			t.Errorf("%s: %v", c.syntax, err)
			continue
		}
		for _, secret := range []string{"ELSEWHERE", "OLGA", "SECRET"} {
			if bytes.Contains(data, []byte(secret)) {
				t.Errorf("%s: output still contains %q", c.syntax, secret)
			}
		}
		out := filepath.Join(dir, "anon.dcm")
		if err := os.WriteFile(out, data, 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := viewer.ParseFile(out)
		if err != nil {
			t.Errorf("%s: %v", c.syntax, err)
			continue
		}
		if f.Instance.TransferSyntax != c.want {
			t.Errorf("%s: exported as %s, want %s", c.syntax, f.Instance.TransferSyntax, c.want)
		}
		if got := decoded(t, out); len(got) != len(want) || firstDiff(got, want) >= 0 {
			t.Errorf("%s: exported pixels differ from the source's", c.syntax)
		}
		if c.want == c.syntax {
			if !bytes.Equal(fragments(t, in), fragments(t, out)) {
				t.Errorf("%s: the pixel fragments were not passed through unchanged", c.syntax)
			}
			if a, b := offsetTable(t, in), offsetTable(t, out); !bytes.Equal(a, b) {
				t.Errorf("%s: Basic Offset Table % x, the source's % x", c.syntax, b, a)
			}
		}
	}
}

func decoded(t *testing.T, path string) []float32 {
	t.Helper()
	f, err := viewer.ParseFile(path, viewer.WithPixelData())
	if err != nil {
		t.Fatal(err)
	}
	v, _, err := f.Decode()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func firstDiff(a, b []float32) int {
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

// fragments are the encapsulated pixel data fragments of a file, one after the other.
func fragments(t *testing.T, path string) []byte {
	t.Helper()
	ds, err := dicom.ParseFile(path, nil, dicom.SkipProcessingPixelDataValue())
	if err != nil {
		t.Fatal(err)
	}
	e, err := ds.FindElementByTag(tag.PixelData)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for _, fr := range e.Value.GetValue().(dicom.PixelDataInfo).Frames {
		out = append(out, fr.EncapsulatedData.Data...)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no encapsulated fragments", path)
	}
	return out
}

// offsetTable is the value of the first item of a file's encapsulated pixel data, its Basic Offset Table.
func offsetTable(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.LastIndex(b, []byte{0xE0, 0x7F, 0x10, 0x00, 'O', 'B', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE, 0xFF, 0x00, 0xE0})
	if i < 0 {
		t.Fatalf("%s: no encapsulated pixel data", path)
	}
	n := int(binary.LittleEndian.Uint32(b[i+16:]))
	return b[i+20 : i+20+n]
}
