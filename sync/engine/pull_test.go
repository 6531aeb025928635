package engine

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/suyashkumar/dicom/pkg/tag"

	"github.com/neuronova/neuronova/internal/testsvc"
	viewerdemo "github.com/neuronova/neuronova/viewer/demo"
)

// TestMetaSyntaxAndUIDMatchesTheParser: on real files the quick read of the file meta information gives
// what the DICOM parser reads from the whole header.
func TestMetaSyntaxAndUIDMatchesTheParser(t *testing.T) {
	dir := t.TempDir()
	if err := viewerdemo.Write(dir); err != nil {
		t.Fatal(err)
	}
	var files []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".dcm") && len(files) < 40 {
			files = append(files, p)
		}
		return err
	})
	other := filepath.Join(t.TempDir(), "x.dcm")
	if err := os.WriteFile(other, testsvc.DICOM(testsvc.Instance{PatientID: "P", StudyUID: "1.2.3", SeriesUID: "1.2.3.4", SOPUID: "1.2.3.4.5"}), 0o600); err != nil {
		t.Fatal(err)
	}
	files = append(files, other)
	if len(files) < 41 {
		t.Fatalf("%d demo files", len(files))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ts, sop, ok := metaSyntaxAndUID(b)
		ds, err := parseHeader(b)
		if err != nil || !ok {
			t.Fatalf("%s: meta ok %v, parser %v", f, ok, err)
		}
		if wantTS, wantSOP := tagString(ds, tag.TransferSyntaxUID), tagString(ds, tag.SOPInstanceUID); wantTS == "" || wantSOP == "" ||
			ts != wantTS || sop != wantSOP {
			t.Fatalf("%s: meta %q %q, parser %q %q", f, ts, sop, wantTS, wantSOP)
		}
	}
}
