package httpapi

import (
	"archive/zip"
	"bytes"
	"fmt"
	"testing"
)

func zipBytes(t *testing.T, files int, comment string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for i := range files {
		f, err := w.Create(fmt.Sprintf("f%06d.dcm", i))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(f, "instance %d", i)
	}
	w.SetComment(comment)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestZipTail: a whole archive — plain, with a comment, or ZIP64 (more than 65,535 entries) — passes, written
// in pieces of any size; the same archive cut anywhere does not.
func TestZipTail(t *testing.T) {
	for _, c := range []struct {
		name    string
		archive []byte
	}{
		{"plain", zipBytes(t, 3, "")},
		{"comment", zipBytes(t, 2, "PK\x05\x06 looks like a record")},
		{"zip64", zipBytes(t, 70000, "")},
	} {
		for _, piece := range []int{1 << 20, 4096, 7} {
			z := &zipTail{}
			for b := c.archive; len(b) > 0; b = b[min(piece, len(b)):] {
				z.Write(b[:min(piece, len(b))])
			}
			if err := z.complete(); err != nil {
				t.Errorf("%s in pieces of %d: %v", c.name, piece, err)
			}
		}
		cuts := []int{0, 1, len(c.archive) / 2, len(c.archive) - 23, len(c.archive) - 22, len(c.archive) - 1}
		for _, n := range cuts {
			z := &zipTail{}
			z.Write(c.archive[:n])
			if z.complete() == nil {
				t.Errorf("%s cut to %d of %d bytes passed as whole", c.name, n, len(c.archive))
			}
		}
	}
}
