package dicomkit

import (
	"errors"
	"testing"
)

func TestLookupSyntax(t *testing.T) {
	cases := []struct {
		uid  string
		kind Kind
		name string
		err  bool
	}{
		{"1.2.840.10008.1.2", Native, "Implicit VR Little Endian", false},
		{"1.2.840.10008.1.2.2", Native, "Explicit VR Big Endian", false},
		{"1.2.840.10008.1.2.5", RLE, "RLE Lossless", false},
		{"1.2.840.10008.1.2.4.50", JPEGBaseline, "JPEG Baseline (Process 1)", false},
		{"1.2.840.10008.1.2.4.80", Encapsulated, "JPEG-LS Lossless Image Compression", false},
		{"1.2.840.10008.1.2.4.90", Encapsulated, "JPEG 2000 Image Compression (Lossless Only)", false},
		{"1.2.840.10008.1.2.4.70", Encapsulated, "JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14 [Selection Value 1])", false},
		{"1.2.840.10008.5.1.4.1.1.4", 0, "", true}, // a SOP class, not a transfer syntax
		{"", 0, "", true},
	}
	for _, c := range cases {
		ts, err := LookupSyntax(c.uid)
		if (err != nil) != c.err || (err != nil && !errors.Is(err, ErrUnsupportedTransferSyntax)) {
			t.Errorf("%q: error %v", c.uid, err)
			continue
		}
		if err == nil && (ts.Kind != c.kind || ts.Name != c.name) {
			t.Errorf("%q: got %+v", c.uid, ts)
		}
	}
}

// TestSyntaxKinds: what is compressed, what the viewer decodes without a codec, and names of syntaxes the
// library's dictionary lacks.
func TestSyntaxKinds(t *testing.T) {
	for _, c := range []struct {
		uid                 string
		compressed, builtIn bool
	}{
		{"1.2.840.10008.1.2.1", false, true},
		{"1.2.840.10008.1.2.1.99", false, true}, // deflated
		{"1.2.840.10008.1.2.5", true, true},
		{"1.2.840.10008.1.2.4.50", true, true},
		{"1.2.840.10008.1.2.4.91", true, false},
		{"1.2.840.10008.1.2.4.201", true, false}, // HTJ2K
	} {
		s, err := LookupSyntax(c.uid)
		if err != nil || s.Compressed() != c.compressed || s.BuiltIn() != c.builtIn {
			t.Errorf("%s: %+v %v", c.uid, s, err)
		}
	}
	if got := SyntaxName("1.2.840.10008.1.2.4.203"); got != "High-Throughput JPEG 2000 Image Compression (1.2.840.10008.1.2.4.203)" {
		t.Errorf("HTJ2K: %q", got)
	}
	if got := SyntaxName("1.2.3"); got != "1.2.3" {
		t.Errorf("unknown UID: %q", got)
	}
}
