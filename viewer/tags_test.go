package viewer_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/demo"
)

func TestTags(t *testing.T) {
	dir := t.TempDir()
	if err := demo.Write(dir); err != nil {
		t.Fatal(err)
	}
	lines, err := viewer.Tags(filepath.Join(dir, "SE002", "IM0078.dcm"))
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]string{}
	for _, l := range lines {
		found[l.Name] = l.Value
	}
	if found["Patient's Name"] != demo.PatientName || found["Transfer Syntax UID"] == "" || found["Instance Number"] != "78" ||
		!strings.Contains(found["Series Description"], "POST GD") {
		t.Errorf("tags: %v", found)
	}
	if _, err := viewer.Tags(filepath.Join(dir, "labels.nii.gz")); err == nil {
		t.Error("a NIfTI file listed as DICOM")
	}
}
