package deid

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"

	"github.com/neuronova/neuronova/internal/dicomkit"
	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/dcmwrite"
	"github.com/neuronova/neuronova/viewer/demo"
)

// TestReassign gives a file to another patient and accession: those three attributes change, the UIDs, the
// other attributes and the pixels do not.
func TestReassign(t *testing.T) {
	p := demo.DefaultParams()
	p.Grid = viewer.Geometry{Size: [3]int{32, 32, 2}, Spacing: viewer.Vec3{6, 6, 10}, Origin: viewer.Vec3{-93, -93, -5}, Direction: viewer.IdentityDirection}
	st, err := demo.NewStudy(p)
	if err != nil {
		t.Fatal(err)
	}
	st.Series = st.Series[:1]
	paths, err := dcmwrite.WriteStudy(t.TempDir(), st)
	if err != nil {
		t.Fatal(err)
	}
	src := paths[0]
	owner := Owner{PatientID: "P20260001", PatientName: "DOE^JANE", AccessionNumber: "ocs_0007"}
	b, err := Reassign(src, owner)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out.dcm")
	if err := os.WriteFile(out, b, 0o644); err != nil {
		t.Fatal(err)
	}
	before, err := dicom.ParseFile(src, nil)
	if err != nil {
		t.Fatal(err)
	}
	after, err := dicom.ParseFile(out, nil)
	if err != nil {
		t.Fatalf("the reassigned file does not parse: %v", err)
	}
	for tg, want := range map[tag.Tag]string{tag.PatientID: owner.PatientID, tag.PatientName: owner.PatientName, tag.AccessionNumber: owner.AccessionNumber} {
		if got := dicomkit.Text(&after, tg); got != want {
			t.Errorf("%s = %q, want %q", tag.DebugString(tg), got, want)
		}
	}
	for _, tg := range []tag.Tag{tag.SOPInstanceUID, tag.StudyInstanceUID, tag.SeriesInstanceUID, tag.SeriesDescription, tag.StudyDate} {
		if got, want := dicomkit.Text(&after, tg), dicomkit.Text(&before, tg); got != want {
			t.Errorf("%s changed: %q, was %q", tag.DebugString(tg), got, want)
		}
	}
	pa, err := viewer.ParseFile(src, viewer.WithPixelData())
	if err != nil {
		t.Fatal(err)
	}
	pb, err := viewer.ParseFile(out, viewer.WithPixelData())
	if err != nil {
		t.Fatal(err)
	}
	va, _, err := pa.Decode()
	if err != nil {
		t.Fatal(err)
	}
	vb, _, err := pb.Decode()
	if err != nil || len(va) != len(vb) {
		t.Fatalf("the reassigned pixels do not decode alike: %v", err)
	}
	for i := range va {
		if va[i] != vb[i] {
			t.Fatalf("pixel %d changed: %v, was %v", i, vb[i], va[i])
		}
	}
}
