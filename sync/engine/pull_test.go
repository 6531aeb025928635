package engine

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/suyashkumar/dicom/pkg/tag"

	"github.com/neuronova/neuronova/internal/dicomkit"
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
		m, merr := dicomkit.ReadMeta(bytes.NewReader(b), int64(len(b)))
		ts, sop, ok := m.TransferSyntax, m.MediaInstance, merr == nil && m.TransferSyntax != "" && m.MediaInstance != ""
		ds, err := dicomkit.ParseHeader(bytes.NewReader(b), int64(len(b)))
		if err != nil || !ok {
			t.Fatalf("%s: meta ok %v (%v), parser %v", f, ok, merr, err)
		}
		if wantTS, wantSOP := dicomkit.Text(&ds, tag.TransferSyntaxUID), dicomkit.Text(&ds, tag.SOPInstanceUID); wantTS == "" || wantSOP == "" ||
			ts != wantTS || sop != wantSOP {
			t.Fatalf("%s: meta %q %q, parser %q %q", f, ts, sop, wantTS, wantSOP)
		}
		if gotTS, gotSOP, err := fileSyntaxAndUID(f); err != nil || gotTS != ts || gotSOP != sop {
			t.Fatalf("%s: fileSyntaxAndUID %q %q %v, want %q %q", f, gotTS, gotSOP, err, ts, sop)
		}
	}
}
