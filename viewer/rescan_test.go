package viewer

import (
	"context"
	"errors"
	"testing"
)

// TestScanSeriesRestoresGridAndPositions: a series listed without its grid or positions (as the cache lists
// it) read again is the scanned series: same grid, positions known; a series without files says so.
func TestScanSeriesRestoresGridAndPositions(t *testing.T) {
	dir := t.TempDir()
	writeSeries(t, dir, stackOf(4, axial, Vec3{-3, 2, 10}, 2.5, func(k int) int { return k + 1 }))
	res, err := Open(context.Background(), []string{dir})
	if err != nil || len(res.Studies) != 1 || len(res.Studies[0].Series) != 1 {
		t.Fatalf("open: %v", err)
	}
	scanned := res.Studies[0].Series[0]
	listed := &Series{UID: scanned.UID}
	for _, in := range scanned.Instances {
		listed.Instances = append(listed.Instances, &Instance{Path: in.Path, SOPInstanceUID: in.SOPInstanceUID})
	}
	got, err := ScanSeries(context.Background(), listed)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Grid.SameGrid(scanned.Grid, 1e-9) || got.Grid.Size != scanned.Grid.Size || len(got.Instances) != 4 {
		t.Fatalf("grid %+v, want %+v", got.Grid, scanned.Grid)
	}
	for i, in := range got.Instances {
		if !in.HasPosition || in.Position != scanned.Instances[i].Position {
			t.Errorf("instance %d at %v (%v), want %v", i, in.Position, in.HasPosition, scanned.Instances[i].Position)
		}
	}
	if _, err := ScanSeries(context.Background(), &Series{UID: "1.2"}); !errors.Is(err, ErrNoPixels) {
		t.Errorf("a series without files: %v", err)
	}
}
