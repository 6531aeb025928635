package m1keep

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/inference"
	"github.com/neuronova/neuronova/inference/dicomseg"
	"github.com/neuronova/neuronova/inference/m1"
	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/dcmwrite"
	"github.com/neuronova/neuronova/viewer/demo"
)

// study writes a small demo study as DICOM, imports it into c and opens it as the cache lists it (its series
// without grids); res is an M1-like result on its T1CE grid carrying the phantom's labels.
func study(t *testing.T, c *cache.Cache) (*viewer.Study, *m1.Result) {
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
	opened, err := viewer.Open(ctx, []string{dir})
	if err != nil || len(opened.Studies) != 1 {
		t.Fatalf("open: %v", err)
	}
	st := opened.Studies[0]
	if _, err := c.Import(ctx, []string{dir}, nil); err != nil {
		t.Fatal(err)
	}
	ref := st.SeriesByType(viewer.T1CE)
	labels := &viewer.LabelMap{Geometry: ref.Grid, Data: append([]uint8(nil), mem.Labels.Data...), Labels: viewer.TumourLabels}
	res := &m1.Result{Provenance: inference.Provenance{Banner: "DEMO MODEL — not for clinical use", Model: inference.ModelRef{ID: "m1-demo", Version: "1.0.0"}},
		Labels: labels, Reference: m1.SeriesRef{Type: viewer.T1CE, SeriesUID: ref.UID}}
	// The cache's listing: the series' files, without their grids.
	for _, se := range st.Series {
		se.Grid = viewer.Geometry{}
	}
	return st, res
}

// Keep writes the SEG on the reference series' DICOM grid (re-read from its files) and records it with the
// result under the study, with two outbox messages; the SEG read back is the label map voxel for voxel. A run
// kept again under its key keeps nothing; an order's run goes up as an upload naming it; a study the cache
// does not hold keeps nothing; a map off the reference grid is refused.
func TestKeep(t *testing.T) {
	ctx := context.Background()
	c, err := cache.Open(t.TempDir(), cache.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st, res := study(t, c)

	own, already, err := Keep(ctx, c, st, res, Options{RunKey: "job a/0"})
	if err != nil || already || own != st.UID {
		t.Fatalf("keep: %q %v %v", own, already, err)
	}
	vs, err := c.StudyResults(ctx, st.UID)
	if err != nil || len(vs) != 2 {
		t.Fatalf("kept %d results, %v; want the JSON and the SEG", len(vs), err)
	}
	var segID int64
	for _, v := range vs {
		if v.Kind == "seg" {
			segID = v.ID
		}
	}
	b, err := c.ResultPayload(ctx, segID)
	if err != nil {
		t.Fatal(err)
	}
	seg, err := dicomseg.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	ref, _, err := Reference(ctx, st, res)
	if err != nil {
		t.Fatal(err)
	}
	got, err := seg.LabelMap(ref)
	if err != nil || !bytes.Equal(got.Data, res.Labels.Data) || seg.StudyUID != st.UID || seg.ReferencedSeriesUID != ref.UID {
		t.Fatalf("the SEG read back: %v, same voxels %v, study %s, series %s", err, err == nil && bytes.Equal(got.Data, res.Labels.Data), seg.StudyUID, seg.ReferencedSeriesUID)
	}

	if _, already, err := Keep(ctx, c, st, res, Options{RunKey: "job a/0"}); err != nil || !already {
		t.Fatalf("kept again under its key: already %v, %v", already, err)
	}
	if _, _, err := Keep(ctx, c, st, res, Options{OrderID: "ocs_0001"}); err != nil {
		t.Fatal(err)
	}
	vs, _ = c.StudyResults(ctx, st.UID)
	counts, err := c.OutboxCounts(ctx)
	if err != nil || len(vs) != 4 || counts.Pending != 4 {
		t.Fatalf("after the order's run: %d results, %+v %v; want 4 and 4 messages", len(vs), counts, err)
	}
	b, err = c.ResultPayload(ctx, vs[0].ID)
	if vs[0].Kind == "seg" {
		b, err = c.ResultPayload(ctx, vs[1].ID)
	}
	var up api.AIResultUpload
	if err != nil || json.Unmarshal(b, &up) != nil || up.OrderID != "ocs_0001" || up.Model != api.ModelM1 || up.StudyUID != st.UID {
		t.Fatalf("the order's run is kept as %s (%v)", b, err)
	}

	other := *st
	other.UID = "2.25.1" // a study the cache does not hold
	if _, _, err := Keep(ctx, c, &other, res, Options{}); !errors.Is(err, ErrNotCached) {
		t.Fatalf("a study not in the cache: %v", err)
	}
	off := *res
	shifted := *res.Labels
	shifted.Geometry.Origin[0] += 10
	off.Labels = &shifted
	if _, _, err := Keep(ctx, c, st, &off, Options{}); !errors.Is(err, ErrGrid) {
		t.Fatalf("a map off the reference grid: %v", err)
	}
}
