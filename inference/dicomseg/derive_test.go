package dicomseg

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"

	"github.com/neuronova/neuronova/internal/dicomkit"
	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/dcmwrite/dcmcheck"
)

// TestEditedSEGNamesItsParentAndEditor writes a model's SEG, then an edit of it, and reads the edit back: its
// creator is the editor, its segments SEMIAUTOMATIC, and it points at the first SEG as its source (Source Image
// Sequence, Referenced Series Sequence); dciodvfy finds nothing.
func TestEditedSEGNamesItsParentAndEditor(t *testing.T) {
	st, labels := demoDICOM(t)
	ref := st.SeriesByType(viewer.T1CE)
	labels.Geometry = ref.Grid
	dir := t.TempDir()
	first := filepath.Join(dir, "v1.dcm")
	opts := Options{Study: st, Reference: ref, Algorithm: "m1-demo 1.0.0", Banner: "not for clinical use",
		Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	if err := Write(first, labels, opts); err != nil {
		t.Fatal(err)
	}
	v1, err := dicom.ParseFile(first, nil, dicom.SkipPixelData())
	if err != nil {
		t.Fatal(err)
	}
	parent, err := dicomkit.IdentityOf(&v1)
	if err != nil {
		t.Fatal(err)
	}
	labels.Data[labels.Index(100, 100, 70)] = viewer.LabelED // the edit
	edited := filepath.Join(dir, "v2.dcm")
	opts.Algorithm = "manual edit of " + parent.SOPUID
	opts.SeriesUID, opts.InstanceUID = dicomkit.NewUID(), dicomkit.NewUID()
	opts.Derived = &Derivation{SeriesUID: parent.SeriesUID, InstanceUID: parent.SOPUID, Editor: "drhouse",
		Description: "brush, 1 voxel of oedema"}
	if err := Write(edited, labels, opts); err != nil {
		t.Fatal(err)
	}
	ds, err := dicom.ParseFile(edited, nil, dicom.SkipPixelData())
	if err != nil {
		t.Fatal(err)
	}
	if got := dicomkit.Text(&ds, tag.ContentCreatorName); got != "drhouse^" {
		t.Errorf("content creator %q", got)
	}
	if got := dicomkit.Text(&ds, tag.DerivationDescription); got != "brush, 1 voxel of oedema" {
		t.Errorf("derivation description %q", got)
	}
	if got := dicomkit.Text(&ds, tag.SeriesDescription); !strings.HasPrefix(got, "EDITED SEG manual edit of") {
		t.Errorf("series description %q", got)
	}
	els := ds.Elements
	src := dicomkit.FirstItem(els, tag.SourceImageSequence)
	if got := dicomkit.String(dicomkit.Find(src, tag.ReferencedSOPInstanceUID)); got != parent.SOPUID {
		t.Errorf("source image %q, want the parent SEG %s", got, parent.SOPUID)
	}
	seen := map[string]string{}
	for _, it := range dicomkit.Items(dicomkit.Find(els, tag.ReferencedSeriesSequence)) {
		inst := dicomkit.FirstItem(it, tag.ReferencedInstanceSequence)
		seen[dicomkit.String(dicomkit.Find(it, tag.SeriesInstanceUID))] = dicomkit.String(dicomkit.Find(inst, tag.ReferencedSOPInstanceUID))
	}
	if seen[parent.SeriesUID] != parent.SOPUID || seen[ref.UID] == "" {
		t.Errorf("referenced series %v: want the source series %s and the parent SEG %s/%s", seen, ref.UID, parent.SeriesUID, parent.SOPUID)
	}
	for _, it := range dicomkit.Items(dicomkit.Find(els, tag.SegmentSequence)) {
		if got := dicomkit.String(dicomkit.Find(it, tag.SegmentAlgorithmType)); got != "SEMIAUTOMATIC" {
			t.Errorf("segment algorithm type %q", got)
		}
	}
	if warnings := dcmcheck.Dciodvfy(t, edited); len(warnings) > 0 {
		t.Errorf("dciodvfy warnings: %v", warnings)
	}
	for _, d := range []Derivation{{SeriesUID: parent.SeriesUID, InstanceUID: parent.SOPUID}, {InstanceUID: parent.SOPUID, Editor: "x"}} {
		opts.Derived = &d
		if _, err := Build(labels, opts); err == nil || !strings.Contains(err.Error(), "editor and both or neither") {
			t.Errorf("derivation %+v: %v", d, err)
		}
	}
	// An edit of a map that was not a SEG: its editor, no source image.
	opts.Derived = &Derivation{Editor: "drhouse", Description: "edit of labels.nii.gz"}
	els, err = Build(labels, opts)
	if err != nil {
		t.Fatal(err)
	}
	if dicomkit.Find(els, tag.SourceImageSequence) != nil || len(dicomkit.Items(dicomkit.Find(els, tag.ReferencedSeriesSequence))) != 1 ||
		dicomkit.String(dicomkit.Find(els, tag.ContentCreatorName)) != "drhouse^" {
		t.Error("an edit of a map that was not a SEG: wrong references or creator")
	}
}
