package main

import (
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
	ws := ui.NewWorkstation(win.Canvas(), ui.Services{Library: library{c}}, nil)
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
	if st := ws.Reading.Study(); st.Labels != nil {
		t.Error("a cached study has a label map although none was imported")
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
