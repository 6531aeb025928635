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
		if err != nil || got != (dicomkit.Identity{PatientID: "P-1", StudyUID: want.StudyUID, SeriesUID: want.SeriesUID, SOPUID: want.SOPUID}) {
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

// FuzzReadIdentity: any input gives an identity or an error, never a panic or a hang.
func FuzzReadIdentity(f *testing.F) {
	f.Add(testsvc.DICOM(testsvc.Instance{PatientID: "P", StudyUID: "1.2.3", SeriesUID: "1.2.3.4", SOPUID: "1.2.3.4.5"}))
	f.Add(testsvc.DICOM(testsvc.Instance{PatientID: "P", StudyUID: "1.2", SeriesUID: "1.3", SOPUID: "1.4", Implicit: true}))
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := dicomkit.ReadIdentity(bytes.NewReader(b))
		if err == nil && (id.StudyUID == "" || id.SeriesUID == "" || id.SOPUID == "") {
			t.Fatalf("identity without its UIDs: %+v", id)
		}
	})
}
