//go:build cgo

// The cache is SQLite through cgo: this test runs where cgo does (make test), not in the CGO_ENABLED=0 build.

package ui

import (
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/neuronova/neuronova/inference/dicomseg"
	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/dcmwrite"
)

// TestSEGOverlayFromCachedStudy: a study opened from a real cache, with a SEG imported beside it, lists the SEG
// in the overlay panel, and Show draws it on the cached series (listed without grid or positions, read again)
// voxel for voxel.
func TestSEGOverlayFromCachedStudy(t *testing.T) {
	ctx := context.Background()
	c, err := cache.Open(filepath.Join(t.TempDir(), "cache"), cache.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	g := viewer.Geometry{Size: [3]int{20, 16, 6}, Spacing: viewer.Vec3{1.5, 1.5, 4}, Origin: viewer.Vec3{-15, -12, 0},
		Direction: viewer.IdentityDirection}
	v := viewer.NewVolume(g)
	for i := range v.Data {
		v.Data[i] = float32(i % 61)
	}
	dir := t.TempDir()
	info := dcmwrite.StudyInfo{UID: "1.2.826.0.1.3680043.10.1.91.1", PatientID: "SEG-UI", PatientName: "SEG^UI", StudyDate: "20260101"}
	if _, err := dcmwrite.WriteSeries(dir, info, dcmwrite.SeriesInfo{Number: 2, Description: "T1CE", Type: viewer.T1CE,
		FrameOfReferenceUID: "1.2.826.0.1.3680043.10.1.91.2"}, v); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Import(ctx, []string{dir}, nil); err != nil {
		t.Fatal(err)
	}
	st, err := c.Study(ctx, info.UID)
	if err != nil || len(st.Series) != 1 {
		t.Fatalf("cached study: %v", err)
	}
	ref, err := viewer.ScanSeries(ctx, st.Series[0])
	if err != nil {
		t.Fatal(err)
	}
	want := viewer.NewLabelMap(ref.Grid)
	for k := 1; k < 5; k++ {
		for j := 3; j < 9; j++ {
			for i := 4; i < 12; i++ {
				want.Data[g.Index(i, j, k)] = uint8(1 + (i+k)%3)
			}
		}
	}
	segPath := filepath.Join(t.TempDir(), "seg.dcm")
	if err := dicomseg.Write(segPath, want, dicomseg.Options{Study: st, Reference: ref, Algorithm: "ui test 1"}); err != nil {
		t.Fatal(err)
	}
	if sum, err := c.Import(ctx, []string{segPath}, nil); err != nil || sum.Imported != 1 {
		t.Fatalf("import the SEG: %+v %v", sum, err)
	}
	st, err = c.OpenStudy(ctx, info.UID)
	if err != nil || len(st.SEGs) != 1 || len(st.Series) != 1 || st.Series[0].Grid.Size != ([3]int{}) {
		t.Fatalf("cached study: %v, %d SEGs, %d series", err, len(st.SEGs), len(st.Series))
	}

	w, _ := newTestWorkstation(t, Services{}, st)
	p := w.Overlay
	waitFor(t, "the SEG to be listed", func() bool { return len(p.SEGButtons) == 1 })
	if p.SEGs[0].Err != nil || len(p.SEGs[0].Segments) != 3 {
		t.Fatalf("SEG listed as %v, error %v", p.SEGs[0].Segments, p.SEGs[0].Err)
	}
	test.Tap(p.SEGButtons[0])
	waitFor(t, "the SEG to be drawn", func() bool {
		m, _ := w.Reading.Labels()
		return m != nil
	})
	m, _ := w.Reading.Labels()
	if !slices.Equal(m.Data, want.Data) || !m.SameGrid(want.Geometry, 1e-6) {
		t.Errorf("the SEG drawn from the cache is not the label map it was written from (message %q)", w.message.Text)
	}
}
