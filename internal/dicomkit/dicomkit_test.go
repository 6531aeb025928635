package dicomkit_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/neuronova/neuronova/internal/dicomkit"
	"github.com/neuronova/neuronova/internal/testsvc"
)

// TestReadIdentity reads who and what an instance is from its first elements, in both little-endian
// encodings, and names what is wrong with input that is not a DICOM file or lacks a UID.
func TestReadIdentity(t *testing.T) {
	for _, implicit := range []bool{false, true} {
		want := testsvc.Instance{PatientID: "P-1", PatientName: "A^B", StudyUID: testsvc.NewUID(), SeriesUID: testsvc.NewUID(),
			SOPUID: testsvc.NewUID(), Implicit: implicit}
		got, err := dicomkit.ReadIdentity(bytes.NewReader(testsvc.DICOM(want)))
		if err != nil || got != (dicomkit.Identity{PatientID: "P-1", StudyUID: want.StudyUID, SeriesUID: want.SeriesUID, SOPUID: want.SOPUID,
			SOPClassUID: "1.2.840.10008.5.1.4.1.1.4"}) {
			t.Fatalf("implicit=%v: %+v %v", implicit, got, err)
		}
	}
	if _, err := dicomkit.ReadIdentity(bytes.NewReader([]byte("PK\x03\x04 a zip"))); !errors.Is(err, dicomkit.ErrNotPart10) {
		t.Fatalf("a ZIP: %v", err)
	}
	noSeries := testsvc.DICOM(testsvc.Instance{PatientID: "P", StudyUID: testsvc.NewUID(), SOPUID: testsvc.NewUID()})
	if _, err := dicomkit.ReadIdentity(bytes.NewReader(noSeries)); err == nil {
		t.Fatal("an instance without a SeriesInstanceUID was read")
	}
}

// TestReadIdentitySEGEdit tells a model's SEG from an edit of one (a Source Image Sequence naming the parent
// SEG, or only a Derivation Description for an edit of a map that was no SEG), in both encodings, and reads
// the accession the server links to an order.
func TestReadIdentitySEGEdit(t *testing.T) {
	parent := testsvc.NewUID()
	for _, implicit := range []bool{false, true} {
		base := testsvc.SEG{PatientID: "P-2", StudyUID: testsvc.NewUID(), SeriesUID: testsvc.NewUID(), SOPUID: testsvc.NewUID(),
			Accession: "ocs_0007", Implicit: implicit}
		for _, c := range []struct {
			name               string
			derivation, parent string
			edit               bool
		}{
			{"model's SEG", "", "", false},
			{"edit of a SEG", "brush, 12 voxels", parent, true},
			{"edit naming only its parent", "", parent, true},
			{"edit of a NIfTI map", "edit of labels.nii.gz", "", true},
		} {
			s := base
			s.Derivation, s.Parent = c.derivation, c.parent
			got, err := dicomkit.ReadIdentity(bytes.NewReader(testsvc.SEGFile(s)))
			if err != nil {
				t.Fatalf("implicit=%v %s: %v", implicit, c.name, err)
			}
			want := dicomkit.Identity{PatientID: "P-2", StudyUID: s.StudyUID, SeriesUID: s.SeriesUID, SOPUID: s.SOPUID,
				SOPClassUID: dicomkit.SegmentationStorage, Accession: "ocs_0007", SEGEdit: c.edit, ParentSEG: c.parent}
			if got != want {
				t.Errorf("implicit=%v %s:\n got %+v\nwant %+v", implicit, c.name, got, want)
			}
		}
	}
}

// FuzzReadIdentity: any input gives an identity or an error, never a panic or a hang.
func FuzzReadIdentity(f *testing.F) {
	f.Add(testsvc.DICOM(testsvc.Instance{PatientID: "P", StudyUID: "1.2.3", SeriesUID: "1.2.3.4", SOPUID: "1.2.3.4.5"}))
	f.Add(testsvc.DICOM(testsvc.Instance{PatientID: "P", StudyUID: "1.2", SeriesUID: "1.3", SOPUID: "1.4", Implicit: true}))
	f.Add(testsvc.SEGFile(testsvc.SEG{PatientID: "P", StudyUID: "1.2", SeriesUID: "1.3", SOPUID: "1.4", Accession: "ocs_0001",
		Derivation: "brush", Parent: "1.5"}))
	f.Add(testsvc.SEGFile(testsvc.SEG{PatientID: "P", StudyUID: "1.2", SeriesUID: "1.3", SOPUID: "1.4", Parent: "1.5", Implicit: true}))
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := dicomkit.ReadIdentity(bytes.NewReader(b))
		if err == nil && (id.StudyUID == "" || id.SeriesUID == "" || id.SOPUID == "") {
			t.Fatalf("identity without its UIDs: %+v", id)
		}
		if err == nil && (id.ParentSEG != "" && !id.SEGEdit || id.SEGEdit && id.SOPClassUID != dicomkit.SegmentationStorage) {
			t.Fatalf("SEG derivation read inconsistently: %+v", id)
		}
	})
}
