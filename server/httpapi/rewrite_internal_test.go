package httpapi

import (
	"bytes"
	"strings"
	"testing"
)

// TestReplacingWriter replaces every occurrence, also when the writes cut an occurrence anywhere.
func TestReplacingWriter(t *testing.T) {
	const old, new = "http://127.0.0.1:8042/dicom-web/", "https://pacs.example/api/orthanc/dicom-web/"
	in := `{"00081190":{"Value":["` + old + `studies/1.2"]},"BulkDataURI":"` + old + `studies/1.2/series/3/instances/4/bulk/7fe00010","x":"http://127.0.0.1:8042/"}` + old
	want := strings.ReplaceAll(in, old, new)
	for _, size := range []int{1, 2, 3, 7, len(old) - 1, len(old), len(old) + 1, 64, len(in)} {
		var out bytes.Buffer
		w := newReplacingWriter(&out, old, new)
		for i := 0; i < len(in); i += size {
			chunk := in[i:min(i+size, len(in))]
			if n, err := w.Write([]byte(chunk)); err != nil || n != len(chunk) {
				t.Fatalf("write %d bytes: %d %v", len(chunk), n, err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if out.String() != want {
			t.Fatalf("writes of %d bytes:\n got %s\nwant %s", size, out.String(), want)
		}
	}
}
