package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/neuronova/neuronova/inference"
	"github.com/neuronova/neuronova/inference/dicomseg"
	"github.com/neuronova/neuronova/inference/m1"
	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/ui"
	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/demo"
	"github.com/neuronova/neuronova/viewer/measure"
)

// TestRestoreAfterRestart (issue 14, must show): M1 runs on a cached study with no label map of its own and a
// measurement is drawn, through the workstation; the window and the cache are closed. A new workstation on
// the same cache opens the study: the AI tab shows the same card with the model's banner and the version
// list, the viewer draws the SEG kept for the run, voxel for voxel the map M1 made, and the measurement is
// back.
func TestRestoreAfterRestart(t *testing.T) {
	dir := t.TempDir()
	studyDir, cacheDir := filepath.Join(dir, "study"), filepath.Join(dir, "cache")
	if err := demo.Write(studyDir); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(studyDir, viewer.LabelsFile)); err != nil { // the AI's map is the only one
		t.Fatal(err)
	}
	rt := cpuRuntime(t)
	test.NewTempApp(t)
	ui.SerializeCallbacks(&uiLock)
	uiLock.Lock()
	defer uiLock.Unlock()

	c, ws, win := restoreSession(t, cacheDir, rt)
	done := false
	ws.ImportThen([]string{studyDir}, "Importing the study", func(report string, err error) {
		if err != nil {
			t.Errorf("import: %q %v", report, err)
		}
		done = true
	})
	waitUntil(t, "the import", func() bool { return done })
	openFirstRow(t, ws)
	if len(ws.Overlay.Labels) != 0 || !ws.Overlay.Visible.Disabled() {
		t.Fatal("the imported study has a label map of its own")
	}
	ws.AI.Run()
	waitUntil(t, "the M1 result", func() bool { return ws.AI.Result() != nil || ws.AI.Failure() != "" })
	fresh := ws.AI.Result()
	if fresh == nil {
		t.Fatal(ws.AI.Failure())
	}
	waitUntil(t, "the run in the version list", func() bool { return len(ws.AI.Versions()) == 1 })
	t1ce := ws.Reading.Study().Sequence(viewer.T1CE)
	ws.Reading.Viewport(1).Measure(ui.ToolBidirectional, measure.Point{X: 80, Y: 90}, measure.Point{X: 120, Y: 96})
	var kept []measure.Measurement
	waitUntil(t, "the measurement in the cache", func() bool {
		kept, _ = c.Measurements(context.Background(), t1ce.UID)
		return len(kept) == 1
	})
	win.Close()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	// The restart: a new cache handle and a new workstation, nothing carried over but the folder.
	c, ws, win = restoreSession(t, cacheDir, rt)
	defer c.Close()
	defer win.Close()
	openFirstRow(t, ws)
	waitUntil(t, "the kept result", func() bool { return ws.AI.Result() != nil })
	got := ws.AI.Result()
	if got.Model != fresh.Model || got.Banner != fresh.Banner || got.Saved != fresh.Saved ||
		strings.Join(got.Lines, "\n") != strings.Join(fresh.Lines, "\n") {
		t.Errorf("restored card %q %q %q %q\nafter the run %q %q %q %q", got.Model, got.Banner, got.Lines, got.Saved,
			fresh.Model, fresh.Banner, fresh.Lines, fresh.Saved)
	}
	if !strings.Contains(strings.ToLower(got.Banner), "not for clinical use") || got.Summary == nil {
		t.Errorf("banner %q, summary %v", got.Banner, got.Summary)
	}
	if vs := ws.AI.Versions(); len(vs) != 1 || !strings.HasPrefix(vs[0], "v1 AI run m1-demo, ") {
		t.Errorf("versions %q", vs)
	}
	waitUntil(t, "the overlay", func() bool { m, _ := ws.Reading.Labels(); return m != nil })
	m, banner := ws.Reading.Labels()
	if banner != fresh.Banner || m.Size != fresh.Labels.Size || !slices.Equal(m.Data, fresh.Labels.Data) {
		t.Errorf("overlay: banner %q, size %v, want %v, same voxels %v", banner, m.Size, fresh.Labels.Size, slices.Equal(m.Data, fresh.Labels.Data))
	}
	if n := m.Counts(); n[0] == len(m.Data) {
		t.Error("the restored label map is empty")
	}
	if len(ws.Overlay.Labels) == 0 || ws.Overlay.Visible.Disabled() {
		t.Error("the overlay panel still says the study has no label map")
	}
	waitUntil(t, "the measurement", func() bool { return len(ws.Measures.Of(t1ce.UID)) == 1 })
	if m := ws.Measures.Of(t1ce.UID)[0]; m.ID != kept[0].ID || !slices.Equal(m.Points, kept[0].Points) || m.User != "alice" {
		t.Errorf("restored measurement %+v, kept %+v", m, kept[0])
	}

	// An edit kept as version 2: the study opens on it, and version 1 is one choice away.
	edited, painted := recordEdit(t, c, ws.Reading.Study(), fresh.Labels, "bob")
	openFirstRow(t, ws)
	waitUntil(t, "both versions", func() bool { return len(ws.AI.Versions()) == 2 && ws.AI.Result() != nil })
	if vs := ws.AI.Versions(); !strings.HasPrefix(vs[0], "v2 edited by bob, ") || !strings.HasPrefix(vs[1], "v1 AI run m1-demo, ") {
		t.Errorf("versions %q", vs)
	}
	waitUntil(t, "the edited overlay", func() bool { m, _ := ws.Reading.Labels(); return m != nil && slices.Equal(m.Data, edited.Data) })
	wantET := float64(fresh.Labels.Counts()[viewer.LabelET]+painted) * edited.VoxelVolume() / 1000
	if line := ws.AI.Result().Lines[0]; !strings.Contains(line, fmt.Sprintf("ET %.2f ", wantET)) {
		t.Errorf("edited volumes %q, want ET %.2f mL", line, wantET)
	}
	ws.AI.ChooseVersion(1)
	waitUntil(t, "version 1's overlay", func() bool { m, _ := ws.Reading.Labels(); return m != nil && slices.Equal(m.Data, fresh.Labels.Data) })
	if got := ws.AI.Result(); strings.Join(got.Lines, "\n") != strings.Join(fresh.Lines, "\n") {
		t.Errorf("version 1's card %q, want %q", got.Lines, fresh.Lines)
	}
}

// recordEdit keeps as the next version of the kept M1 run a copy of m with painted background voxels made ET,
// written as a DICOM SEG on the run's reference series, by editor.
func recordEdit(t *testing.T, c *cache.Cache, st *viewer.Study, m *viewer.LabelMap, editor string) (*viewer.LabelMap, int) {
	t.Helper()
	ctx := context.Background()
	var segID int64
	var res *m1.Result
	var studyUID string
	for _, uid := range st.StudyUIDs() {
		rows, err := c.StudyResults(ctx, uid)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			b, err := c.ResultPayload(ctx, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			switch r.Kind {
			case "seg":
				segID, studyUID = r.ID, uid
			case "m1":
				if res, _, err = parseKeptM1(b); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if segID == 0 || res == nil {
		t.Fatal("no kept M1 run to edit")
	}
	edited := *m
	edited.Data = slices.Clone(m.Data)
	painted := 0
	for i := len(edited.Data) / 2; i < len(edited.Data) && painted < 50; i++ {
		if edited.Data[i] == 0 {
			edited.Data[i] = viewer.LabelET
			painted++
		}
	}
	ref, err := viewer.ScanSeries(ctx, st.SeriesByUID(res.Reference.SeriesUID))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "edit.dcm")
	if err := dicomseg.Write(path, &edited, dicomseg.Options{Study: st.StudyOf(ref), Reference: ref, Algorithm: res.Model.ID, Banner: res.Banner}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.RecordVersion(ctx, studyUID, cache.Edit{Editor: editor, Note: "test paint"}, []cache.ResultInput{{Kind: "seg", Payload: b, Parent: segID}}); err != nil {
		t.Fatal(err)
	}
	return &edited, painted
}

// restoreSession opens the cache in dir and a workstation on it, as the window does.
func restoreSession(t *testing.T, dir string, rt *inference.Runtime) (*cache.Cache, *ui.Workstation, fyne.Window) {
	t.Helper()
	c, err := cache.Open(dir, cache.Options{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	win := test.NewWindow(nil)
	ws := ui.NewWorkstation(win.Canvas(), ui.Services{Library: library{c}, AI: analyzer{rt: rt, cache: c}, User: "alice"}, nil)
	win.SetContent(ws.Content())
	win.Resize(fyne.NewSize(1280, 800))
	return c, ws, win
}

// openFirstRow opens the worklist's only row and waits for its four sequences.
func openFirstRow(t *testing.T, ws *ui.Workstation) {
	t.Helper()
	waitUntil(t, "one worklist row", func() bool { return len(ws.Worklist.Rows()) == 1 })
	ws.Worklist.OpenRow(0)
	waitUntil(t, "the study's volumes", func() bool {
		vps := ws.Reading.Visible()
		for _, vp := range vps {
			if vp.Volume() == nil {
				return false
			}
		}
		return len(vps) == 4
	})
}
