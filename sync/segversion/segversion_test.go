package segversion

import (
	"bytes"
	"context"
	"errors"
	"image/color"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/neuronova/neuronova/inference/dicomseg"
	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/dcmwrite"
	"github.com/neuronova/neuronova/viewer/demo"
	"github.com/neuronova/neuronova/viewer/edit"
	"github.com/neuronova/neuronova/viewer/render"
)

// fixture is a small demo study written as DICOM, imported into a real cache, with its M1-like run (a JSON
// and the SEG of the phantom's labels) recorded as version 1.
type fixture struct {
	c      *cache.Cache
	st     *viewer.Study
	ref    *viewer.Series
	labels *viewer.LabelMap
	v1     []int64 // the run's JSON and SEG
	v1SEG  []byte
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	p := demo.DefaultParams()
	p.Grid = demo.CoarseGrid()
	mem, err := demo.NewStudy(p)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := dcmwrite.WriteStudy(dir, mem, dcmwrite.KeepUIDs()); err != nil {
		t.Fatal(err)
	}
	res, err := viewer.Open(ctx, []string{dir})
	if err != nil || len(res.Studies) != 1 {
		t.Fatalf("open: %v (%d studies)", err, len(res.Studies))
	}
	f := &fixture{st: res.Studies[0]}
	f.ref = f.st.SeriesByType(viewer.T1CE)
	f.labels = &viewer.LabelMap{Geometry: f.ref.Grid, Data: append([]uint8(nil), mem.Labels.Data...), Labels: viewer.TumourLabels}
	if c := f.labels.Counts(); c[viewer.LabelED] == 0 {
		t.Fatal("the small phantom has no oedema")
	}
	f.c, err = cache.Open(t.TempDir(), cache.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.c.Close() })
	if sum, err := f.c.Import(ctx, []string{dir}, nil); err != nil || len(sum.Studies) != 1 || sum.Studies[0] != f.st.UID {
		t.Fatalf("import: %+v %v", sum, err)
	}
	els, err := dicomseg.Build(f.labels, dicomseg.Options{Study: f.st, Reference: f.ref, Algorithm: "m1-demo 1.0.0",
		Banner: "not for clinical use"})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := dcmwrite.Encode(&buf, els); err != nil {
		t.Fatal(err)
	}
	f.v1SEG = buf.Bytes()
	f.v1, err = f.c.RecordResults(ctx, f.st.UID, []cache.ResultInput{{Kind: "m1", Payload: []byte(`{"model":"m1-demo"}`)},
		{Kind: "seg", Payload: f.v1SEG}})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// paint grows the oedema around at on the axial slice with the most labels of m with the editor and returns the snapshot and the
// number of voxels painted, counted from the maps.
func paint(t *testing.T, m *viewer.LabelMap, at edit.Point) (*viewer.LabelMap, int) {
	t.Helper()
	work := *m
	work.Data = append([]uint8(nil), m.Data...)
	e, err := edit.New(&work, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := e.Plane(render.Axial)
	k, ok := p.LargestLabelSlice(&work)
	if !ok {
		t.Fatal("no labelled slice")
	}
	if _, err := e.Dab(render.Axial, k, at, 20, edit.Paint{Label: viewer.LabelED}); err != nil {
		t.Fatal(err)
	}
	snap := e.Snapshot()
	n := 0
	for i := range snap.Data {
		if snap.Data[i] != m.Data[i] {
			n++
		}
	}
	if n == 0 {
		t.Fatal("the edit painted nothing")
	}
	return snap, n
}

func segsOf(t *testing.T, c *cache.Cache, study string) []cache.ResultVersion {
	t.Helper()
	vs, err := c.StudyResults(context.Background(), study)
	if err != nil {
		t.Fatal(err)
	}
	var out []cache.ResultVersion
	for _, v := range vs {
		if v.Kind == "seg" {
			out = append(out, v)
		}
	}
	return out
}

func TestSaveRecordsANewVersion(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	edited, n := paint(t, f.labels, edit.Point{X: 20, Y: 20})
	when := time.Date(2026, 12, 3, 6, 0, 0, 0, time.UTC)
	saved, err := Save(ctx, f.c, Request{Study: f.st, Reference: f.ref, Map: edited, Parent: f.v1[1], Editor: "drhouse",
		Note: "oedema extended", Time: when})
	if err != nil {
		t.Fatal(err)
	}
	v1, err := dicomseg.Parse(f.v1SEG)
	if err != nil {
		t.Fatal(err)
	}
	segs := segsOf(t, f.c, f.st.UID)
	if len(segs) != 2 {
		t.Fatalf("%d SEG versions in the cache, want 2", len(segs))
	}
	v2 := segs[0]
	if v2.ID != saved.ID || v2.Version != 2 || saved.Version != 2 || v2.Editor != "drhouse" || v2.Parent != f.v1[1] ||
		v2.EditOf != v1.SOPInstanceUID || v2.Note != "oedema extended" || !v2.Edited() || v2.Lineage != segs[1].Lineage {
		t.Errorf("v2 %+v (saved %+v), v1 SEG %s", v2, saved, v1.SOPInstanceUID)
	}
	if segs[1].Version != 1 || segs[1].Edited() {
		t.Errorf("v1 %+v", segs[1])
	}
	// v1 untouched; v2 reads back to the edited map, voxel for voxel, and names its parent and editor.
	if b, err := f.c.ResultPayload(ctx, f.v1[1]); err != nil || !bytes.Equal(b, f.v1SEG) {
		t.Fatalf("v1's payload changed (%v)", err)
	}
	b2, err := f.c.ResultPayload(ctx, saved.ID)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := dicomseg.Parse(b2)
	if err != nil {
		t.Fatal(err)
	}
	if s2.SOPInstanceUID != saved.InstanceUID || s2.SeriesUID != saved.SeriesUID || saved.SeriesUID == v1.SeriesUID {
		t.Errorf("v2 is %s/%s, saved %+v, v1 series %s", s2.SeriesUID, s2.SOPInstanceUID, saved, v1.SeriesUID)
	}
	back, err := s2.LabelMap(f.ref)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back.Data, edited.Data) {
		t.Fatal("v2's SEG does not read back to the edited map")
	}
	c1, c2 := f.labels.Counts(), back.Counts()
	vox := f.ref.Grid.VoxelVolume() / 1000
	if d := c2[viewer.LabelED] - c1[viewer.LabelED]; d != n {
		t.Errorf("ED grew by %d voxels in the saved SEG, %d were painted", d, n)
	}
	t.Logf("%d voxels painted: ED %.3f → %.3f mL", n, float64(c1[viewer.LabelED])*vox, float64(c2[viewer.LabelED])*vox)
	for _, want := range []string{"drhouse", "oedema extended", v1.SOPInstanceUID} {
		if !bytes.Contains(b2, []byte(want)) {
			t.Errorf("v2's SEG does not name %q", want)
		}
	}
	// It is in the outbox, as a result.seg of its own.
	due, err := f.c.DueOutbox(ctx, time.Now(), false, 100)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, it := range due {
		if it.Kind == "result.seg" && it.Ref == strconv.FormatInt(saved.ID, 10) {
			found = bytes.Equal(it.Payload, b2) && it.StudyUID == f.st.UID
		}
	}
	if !found {
		t.Error("v2 is not in the outbox")
	}

	// An edit of v2 is v3 of the same lineage.
	again, _ := paint(t, edited, edit.Point{X: 30, Y: 30})
	v3, err := Save(ctx, f.c, Request{Study: f.st, Reference: f.ref, Map: again, Parent: saved.ID, Editor: "admin"})
	if err != nil || v3.Version != 3 || v3.EditOf != saved.InstanceUID {
		t.Fatalf("v3: %+v %v", v3, err)
	}
}

func TestSaveOfAMapFromOutsideTheCache(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	edited, _ := paint(t, f.labels, edit.Point{X: 20, Y: 20})
	// A SEG pulled from the PACS at version 4 there.
	pacs, err := Save(ctx, f.c, Request{Study: f.st, Reference: f.ref, Map: edited, ParentSEG: f.v1SEG, Base: 4, Editor: "ris2"})
	if err != nil {
		t.Fatal(err)
	}
	v1, _ := dicomseg.Parse(f.v1SEG)
	if pacs.Version != 5 || pacs.EditOf != v1.SOPInstanceUID {
		t.Errorf("PACS edit: %+v", pacs)
	}
	// A NIfTI ground truth: named by its source, no SEG to derive from.
	edited.Source = "labels.nii.gz"
	nifti, err := Save(ctx, f.c, Request{Study: f.st, Reference: f.ref, Map: edited, Editor: "ris2"})
	if err != nil || nifti.Version != 2 || nifti.EditOf != "labels.nii.gz" {
		t.Errorf("NIfTI edit: %+v %v", nifti, err)
	}
	if n := len(segsOf(t, f.c, f.st.UID)); n != 3 {
		t.Errorf("%d SEGs in the cache, want 3", n)
	}
}

func TestSaveRefusesBadRequests(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	ok := Request{Study: f.st, Reference: f.ref, Map: f.labels, Parent: f.v1[1], Editor: "drhouse"}
	other := *f.st
	other.UID = "1.2.3.4"
	cases := []struct {
		name, want string
		mod        func(r *Request)
	}{
		{"no editor", "no editor", func(r *Request) { r.Editor = "" }},
		{"no map", "no label map", func(r *Request) { r.Map = nil }},
		{"no study", "no study", func(r *Request) { r.Study = nil }},
		{"no reference", "no reference", func(r *Request) { r.Reference = nil }},
		{"parent not a SEG", "not a SEG", func(r *Request) { r.Parent = f.v1[0] }},
		{"unknown parent", "not in the cache", func(r *Request) { r.Parent = 999 }},
		{"two parents", "both", func(r *Request) { r.ParentSEG = f.v1SEG }},
		{"not DICOM", "SEG edited", func(r *Request) { r.Parent, r.ParentSEG = 0, []byte("no DICOM here") }},
		{"another study", "belongs to study", func(r *Request) { r.Study = &other; r.Parent, r.ParentSEG = 0, f.v1SEG }},
		{"short map", "label map", func(r *Request) { m := *f.labels; m.Data = m.Data[:10]; r.Map = &m }},
	}
	for _, c := range cases {
		r := ok
		c.mod(&r)
		if _, err := Save(ctx, f.c, r); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", c.name, err, c.want)
		}
	}
	if _, err := Save(ctx, nil, ok); err == nil {
		t.Error("no cache: no error")
	}
	if n := len(segsOf(t, f.c, f.st.UID)); n != 1 {
		t.Errorf("refused saves left %d SEGs, want 1", n)
	}
	if _, err := Save(ctx, f.c, Request{Study: f.st, Reference: f.ref, Map: f.labels, Parent: 999, Editor: "x"}); !errors.Is(err, cache.ErrNotFound) {
		t.Errorf("unknown parent: %v", err)
	}
}

func TestRGBToLabInvertsLabToRGB(t *testing.T) {
	cols := []color.NRGBA{{0, 0, 0, 255}, {255, 255, 255, 255}, {128, 64, 200, 255}}
	for _, l := range viewer.TumourLabels {
		cols = append(cols, l.Color)
	}
	for _, c := range cols {
		back := dicomseg.LabToRGB(RGBToLab(c.R, c.G, c.B))
		for i, d := range []int{int(back.R) - int(c.R), int(back.G) - int(c.G), int(back.B) - int(c.B)} {
			if d < -1 || d > 1 {
				t.Errorf("%v → %v → %v (channel %d)", c, RGBToLab(c.R, c.G, c.B), back, i)
			}
		}
	}
	m := &viewer.LabelMap{Labels: append([]viewer.Label{{Value: 7, Name: "Resection cavity", Color: color.NRGBA{10, 20, 200, 255}}}, viewer.TumourLabels...)}
	segs := Segments(m)
	if len(segs) != 4 || segs[0].Label != "Resection cavity" || segs[1] != dicomseg.TumourSegments[0] {
		t.Errorf("segments %+v", segs)
	}
}
