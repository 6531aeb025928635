package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/ui"
	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/demo"
)

// TestWorkstationOnCache imports the demo study into a real cache through the workstation (as a drop on
// the window does), finds it in the worklist, opens it from the cache and checks the hanging protocol;
// importing it again adds nothing.
func TestWorkstationOnCache(t *testing.T) {
	dir := t.TempDir()
	studyDir := dir + "/demo"
	if err := demo.Write(studyDir); err != nil {
		t.Fatal(err)
	}
	c, err := cache.Open(dir+"/cache", cache.Options{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	// The test is the UI goroutine: it holds uiLock while it acts and releases it while it waits.
	test.NewTempApp(t)
	ui.SerializeCallbacks(&uiLock)
	uiLock.Lock()
	defer uiLock.Unlock()
	win := test.NewWindow(nil)
	defer win.Close()
	rt := cpuRuntime(t)
	ws := ui.NewWorkstation(win.Canvas(), ui.Services{Library: library{c}, AI: analyzer{rt: rt, cache: c}}, nil)
	win.SetContent(ws.Content())
	win.Resize(fyne.NewSize(1280, 800))

	var reports []string
	ws.OnImported = func(report string, err error) {
		if err != nil {
			t.Errorf("import: %v", err)
		}
		reports = append(reports, report)
	}
	ws.Import([]string{studyDir})
	waitUntil(t, "the first import", func() bool { return len(reports) == 1 })
	if !strings.Contains(reports[0], "Imported 620 instances") {
		t.Fatalf("first import: %q", reports[0])
	}
	ws.Import([]string{studyDir})
	waitUntil(t, "the second import", func() bool { return len(reports) == 2 })
	if r := reports[1]; !strings.Contains(r, "Imported 0 instances") || !strings.Contains(r, "620 already in the cache") {
		t.Fatalf("second import: %q", r)
	}

	var rows []ui.WorklistRow
	waitUntil(t, "the worklist to list the cached study", func() bool {
		rows = ws.Worklist.Rows()
		return len(rows) == 1
	})
	if r := rows[0]; r.PatientName != "DEMO^PHANTOM" || r.Series != 4 || r.Sync != "local" {
		t.Errorf("worklist row %+v", r)
	}
	ws.Worklist.OpenRow(0)
	waitUntil(t, "the study to open in 2×2", func() bool {
		vps := ws.Reading.Visible()
		if len(vps) != 4 {
			return false
		}
		for i, want := range viewer.BrainTumourTypes {
			if vps[i].Volume() == nil || vps[i].Series().Type != want {
				return false
			}
		}
		return true
	})
	if st := ws.Reading.Study(); st.Labels == nil || !strings.Contains(st.Labels.Source, "labels.nii.gz") {
		t.Error("the label map imported beside the study's DICOM is not the cached study's")
	}

	// M1 from the AI panel: the segmentation replaces the overlay with the model's banner, and the result
	// and its SEG wait in the cache's outbox for the next sync.
	ws.AI.Run()
	waitUntil(t, "the M1 result", func() bool { return ws.AI.Result() != nil || ws.AI.Failure() != "" })
	res := ws.AI.Result()
	if res == nil {
		t.Fatal(ws.AI.Failure())
	}
	if m, banner := ws.Reading.Labels(); m == nil || m != res.Labels || !strings.Contains(strings.ToLower(banner), "not for clinical use") {
		t.Errorf("overlay after M1: labels %v, banner %q", m != nil, banner)
	}
	if !strings.Contains(res.Saved, "outbox") || len(res.Lines) == 0 || !strings.Contains(res.Lines[0], "WT") {
		t.Errorf("result card: kept in %q, findings %q", res.Saved, res.Lines)
	}
	n, err := c.OutboxCounts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n.Pending != 2 {
		t.Errorf("outbox holds %d items after M1, want 2 (the result and its SEG)", n.Pending)
	}
	// The search box takes the query language of `neuronova ls`.
	for _, tc := range []struct {
		query string
		rows  int
	}{{"demo type:t1ce,flair", 1}, {"type:dwi", 0}, {"date:2024-01-01..2024-01-31 mod:MR", 1}, {"nobody", 0}} {
		ws.Worklist.Search(tc.query)
		waitUntil(t, fmt.Sprintf("%q to list %d studies", tc.query, tc.rows), func() bool { return len(ws.Worklist.Rows()) == tc.rows })
	}
}

var uiLock sync.Mutex

// waitUntil waits until cond holds, releasing uiLock in between so that the workstation's callbacks run.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		uiLock.Unlock()
		time.Sleep(10 * time.Millisecond)
		uiLock.Lock()
	}
}

// TestInferOnCachedStudy runs `neuronova infer` on a study of the local cache named by its patient ID: the
// result and its SEG are written out and also kept in the cache's outbox for the next sync.
func TestInferOnCachedStudy(t *testing.T) {
	dir := t.TempDir()
	if err := demo.Write(dir + "/demo"); err != nil {
		t.Fatal(err)
	}
	data := dir + "/cache"
	if code, _, stderr := runCmd("import", "--data", data, dir+"/demo"); code != 0 {
		t.Fatalf("import: exit %d: %s", code, stderr)
	}
	code, stdout, stderr := runCmd("infer", "--model", "m1", "--data", data, "--input", "SYNTHETIC-PHANTOM-0001", "--out", dir+"/out", "--provider", "cpu")
	if code != 0 {
		t.Fatalf("infer: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "kept in the local cache") || !strings.Contains(strings.ToLower(stdout), "not for clinical use") {
		t.Errorf("infer said %q", stdout)
	}
	c, err := cache.Open(data, cache.Options{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	n, err := c.OutboxCounts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n.Pending != 2 {
		t.Errorf("outbox holds %d items, want 2 (the result and its SEG)", n.Pending)
	}
	if code, _, stderr := runCmd("infer", "--model", "m1", "--data", data, "--input", "NOBODY-HERE", "--out", dir+"/out2", "--provider", "cpu"); code != 1 || !strings.Contains(stderr, "NOBODY-HERE") {
		t.Errorf("unknown study: exit %d, %q", code, stderr)
	}
}
