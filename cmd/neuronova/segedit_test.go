package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/neuronova/neuronova/inference/dicomseg"
	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/ui"
	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/dcmwrite"
	"github.com/neuronova/neuronova/viewer/demo"
)

// TestEditSaverVersionsTheSEGShown saves, through the Edit tab's saver, an edit of a cached SEG as the
// exam opened from the cache shows it: the cache then holds v1 and v2, v2 the child of v1 by the editor.
func TestEditSaverVersionsTheSEGShown(t *testing.T) {
	ctx := context.Background()
	p := demo.DefaultParams()
	p.Grid = viewer.Geometry{Size: [3]int{40, 40, 12}, Spacing: viewer.Vec3{5, 5, 10}, Origin: viewer.Vec3{-97.5, -97.5, -55},
		Direction: viewer.IdentityDirection}
	mem, err := demo.NewStudy(p)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := dcmwrite.WriteStudy(dir, mem, dcmwrite.KeepUIDs()); err != nil {
		t.Fatal(err)
	}
	c, err := cache.Open(t.TempDir(), cache.Options{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sum, err := c.Import(ctx, []string{dir}, nil)
	if err != nil || len(sum.Studies) != 1 {
		t.Fatalf("import: %+v %v", sum, err)
	}
	exam, err := library{c}.OpenExam(ctx, sum.Studies[0], viewer.ExamByDay)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := viewer.ScanSeries(ctx, exam.SeriesByType(viewer.T1CE))
	if err != nil {
		t.Fatal(err)
	}
	// Version 1: a SEG of the phantom's labels, as an M1 run keeps it.
	labels := &viewer.LabelMap{Geometry: ref.Grid, Data: mem.Labels.Data, Labels: viewer.TumourLabels}
	els, err := dicomseg.Build(labels, dicomseg.Options{Study: exam, Reference: ref, Algorithm: "m1-demo 1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	var seg bytes.Buffer
	if err := dcmwrite.Encode(&seg, els); err != nil {
		t.Fatal(err)
	}
	v1, err := c.RecordResults(ctx, exam.UID, []cache.ResultInput{{Kind: "m1", Payload: []byte(`{}`)}, {Kind: "seg", Payload: seg.Bytes()}})
	if err != nil {
		t.Fatal(err)
	}
	// The map shown is the SEG read back (its Source is the SEG's series); the reader paints a voxel.
	parsed, err := dicomseg.Parse(seg.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	shown, err := parsed.LabelMap(ref)
	if err != nil {
		t.Fatal(err)
	}
	shown.Data[shown.Index(20, 20, 6)] = viewer.LabelET
	msg, err := editSaver(c)(ctx, ui.EditSave{Study: exam, Map: shown, Editor: "drhouse", Note: "ET corrected"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msg, "v2") || !strings.Contains(msg, "drhouse") {
		t.Errorf("saver said %q", msg)
	}
	vs, err := c.StudyResults(ctx, exam.UID)
	if err != nil {
		t.Fatal(err)
	}
	var segs []cache.ResultVersion
	for _, v := range vs {
		if v.Kind == "seg" {
			segs = append(segs, v)
		}
	}
	if len(segs) != 2 || segs[0].Version != 2 || segs[0].Parent != v1[1] || segs[0].Editor != "drhouse" || segs[0].Note != "ET corrected" {
		t.Fatalf("SEG versions %+v", segs)
	}
	// An exam with no DICOM series on the map's grid cannot be saved as a SEG.
	if _, err := editSaver(c)(ctx, ui.EditSave{Study: mem, Map: shown, Editor: "drhouse"}); err == nil || !strings.Contains(err.Error(), "grid") {
		t.Errorf("in-memory exam: %v", err)
	}
}
