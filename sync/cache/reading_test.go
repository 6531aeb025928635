package cache

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/dcmwrite"
	"github.com/neuronova/neuronova/viewer/demo"
	"github.com/neuronova/neuronova/viewer/measure"
	"github.com/neuronova/neuronova/viewer/render"
)

// TestImportThirdPartySession imports the demo study written as some converters write a session (one
// StudyInstanceUID per series, labels.nii.gz beside): four studies of one patient, each given the label map;
// PatientStudies lists them for the exam; GC and Check keep the label map's file while a study uses it.
func TestImportThirdPartySession(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	if err := demo.Write(src, dcmwrite.StudyPerSeries()); err != nil {
		t.Fatal(err)
	}
	c := openCache(t, t.TempDir())
	sum, err := c.Import(ctx, []string{src}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Studies) != 4 || len(sum.Labels) != 4 || len(sum.Rejected) != 0 {
		t.Fatalf("%d studies, label maps for %d, rejected %v", len(sum.Studies), len(sum.Labels), sum.Rejected)
	}
	rows, err := c.PatientStudies(ctx, demo.PatientID)
	if err != nil || len(rows) != 4 {
		t.Fatalf("patient studies: %d, %v", len(rows), err)
	}
	var studies []*viewer.Study
	for _, r := range rows {
		st, err := c.Study(ctx, r.UID)
		if err != nil {
			t.Fatal(err)
		}
		if st.Labels == nil || len(st.Series) != 1 {
			t.Fatalf("study %s: labels %v, %d series", r.UID, st.Labels != nil, len(st.Series))
		}
		studies = append(studies, st)
	}
	exams := viewer.GroupExams(studies, viewer.ExamByDay)
	if len(exams) != 1 || len(exams[0].Series) != 4 || exams[0].Labels == nil {
		t.Fatalf("%d exams", len(exams))
	}
	// Check keeps the label map's file; evicting every study lets it go.
	rep, err := c.Check(ctx)
	if err != nil || rep.UnusedFiles != 0 {
		t.Fatalf("check: %+v %v", rep, err)
	}
	assertConsistent(t, c.Dir())
	for _, r := range rows {
		if _, err := c.evict(ctx, r.UID); err != nil {
			t.Fatal(err)
		}
	}
	if s := mustStats(t, c); s.Files != 0 {
		t.Errorf("after evicting every study %d files remain", s.Files)
	}
}

// TestImportRejectsLabelsOfSeveralPatients: a label map in a folder of two patients' studies belongs to
// neither.
func TestImportRejectsLabelsOfSeveralPatients(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	a, _ := smallStudy(t, 1)
	b, _ := smallStudy(t, 2)
	os.Rename(a, filepath.Join(root, "a"))
	os.Rename(b, filepath.Join(root, "b"))
	lab, _ := demo.NewStudy(demo.DefaultParams())
	if err := viewer.SaveNIfTILabels(filepath.Join(root, viewer.LabelsFile), lab.Labels); err != nil {
		t.Fatal(err)
	}
	c := openCache(t, t.TempDir())
	sum, err := c.Import(ctx, []string{root}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Labels) != 0 || len(sum.Rejected) != 1 || filepath.Base(sum.Rejected[0].Path) != viewer.LabelsFile {
		t.Fatalf("labels %v, rejected %v", sum.Labels, sum.Rejected)
	}
}

func TestMeasurementsRoundTrip(t *testing.T) {
	ctx := context.Background()
	c := openCache(t, t.TempDir())
	now := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	m := measure.Measurement{ID: "m1", Kind: measure.KindBidirectional, StudyUID: "1.2", SeriesUID: "1.2.3", Plane: render.Axial, Slice: 7,
		Image: &measure.ImageRef{SOPInstanceUID: "1.2.3.7", SOPClassUID: dcmwrite.MRImageStorage}, User: "alice",
		Points: []measure.Point{{X: 1, Y: 2}, {X: 30, Y: 2}, {X: 15, Y: -5}, {X: 15, Y: 9}}, Created: now, Updated: now,
		Patient: []viewer.Vec3{{1, 2, 3}}, Length: 29, Short: 14}
	other := m
	other.ID, other.SeriesUID, other.Kind, other.Points = "m2", "9.9", measure.KindLength, m.Points[:2]
	for _, x := range []measure.Measurement{m, other} {
		if err := c.SaveMeasurement(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	got, err := c.Measurements(ctx, "1.2.3")
	if err != nil || len(got) != 1 || !reflect.DeepEqual(got[0], m) {
		t.Fatalf("measurements of 1.2.3: %+v %v", got, err)
	}
	m.Points[1] = measure.Point{X: 40, Y: 2}
	m.Length = 39
	if err := c.SaveMeasurement(ctx, m); err != nil {
		t.Fatal(err)
	}
	got, _ = c.Measurements(ctx, "1.2.3", "9.9")
	if len(got) != 2 || got[0].Length != 39 || got[0].Points[1].X != 40 {
		t.Fatalf("after the edit: %+v", got)
	}
	if err := c.DeleteMeasurement(ctx, "m1"); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.Measurements(ctx, "1.2.3"); len(got) != 0 {
		t.Fatalf("after delete: %+v", got)
	}
	if err := c.SaveMeasurement(ctx, measure.Measurement{}); err == nil {
		t.Error("a measurement without ID was saved")
	}
}
