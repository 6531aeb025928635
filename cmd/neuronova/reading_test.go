package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/neuronova/neuronova/internal/dicomkit"
	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/ui"
	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/dcmwrite"
	"github.com/neuronova/neuronova/viewer/dcmwrite/dcmcheck"
	"github.com/neuronova/neuronova/viewer/demo"
	"github.com/neuronova/neuronova/viewer/measure"
)

// TestThirdPartySessionOnCache imports the demo study written as the third-party converter writes a session
// (one StudyInstanceUID per series, labels.nii.gz beside) into a real cache through the workstation: the
// worklist lists one exam of four studies, which opens in 2×2 with the label map; M1 runs on the exam and its
// result is kept under the reference series' own study; a measurement is kept in the cache, and exported as
// a DICOM SR (TID 1500) that dciodvfy reads without error, queued in the outbox for the server.
func TestThirdPartySessionOnCache(t *testing.T) {
	dir := t.TempDir()
	studyDir := filepath.Join(dir, "session")
	if err := demo.Write(studyDir, dcmwrite.StudyPerSeries()); err != nil {
		t.Fatal(err)
	}
	c, err := cache.Open(filepath.Join(dir, "cache"), cache.Options{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	test.NewTempApp(t)
	ui.SerializeCallbacks(&uiLock)
	uiLock.Lock()
	defer uiLock.Unlock()
	win := test.NewWindow(nil)
	defer win.Close()
	rt := cpuRuntime(t)
	ws := ui.NewWorkstation(win.Canvas(), ui.Services{Library: library{c}, AI: analyzer{rt: rt, cache: c}, User: "alice"}, nil)
	win.SetContent(ws.Content())
	win.Resize(fyne.NewSize(1280, 800))
	done := false
	ws.ImportThen([]string{studyDir}, "Importing the session", func(report string, err error) {
		if err != nil || !strings.Contains(report, "given to 4 studies") {
			t.Errorf("import: %q %v", report, err)
		}
		done = true
	})
	waitUntil(t, "the import", func() bool { return done })
	waitUntil(t, "one exam row", func() bool { r := ws.Worklist.Rows(); return len(r) == 1 && len(r[0].Studies) == 4 })
	ws.Worklist.OpenRow(0)
	waitUntil(t, "the exam in 2×2", func() bool {
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
	ex := ws.Reading.Study()
	if len(ex.Members) != 4 || ex.Labels == nil {
		t.Fatalf("exam of %d studies, labels %v", len(ex.Members), ex.Labels != nil)
	}
	t1ce := ex.Sequence(viewer.T1CE)

	ws.AI.Run()
	waitUntil(t, "the M1 result", func() bool { return ws.AI.Result() != nil || ws.AI.Failure() != "" })
	if ws.AI.Result() == nil {
		t.Fatal(ws.AI.Failure())
	}
	items, err := c.DueOutbox(context.Background(), time.Now(), false, 10)
	if err != nil || len(items) != 2 {
		t.Fatalf("outbox after M1: %d items %v", len(items), err)
	}
	for _, it := range items {
		if it.StudyUID != t1ce.StudyUID {
			t.Errorf("%s kept under study %s, want the reference (T1CE) series' own study %s", it.Kind, it.StudyUID, t1ce.StudyUID)
		}
	}

	vp := ws.Reading.Viewport(1)
	vp.Measure(ui.ToolBidirectional, measure.Point{X: 80, Y: 90}, measure.Point{X: 120, Y: 96})
	waitUntil(t, "the measurement in the cache", func() bool {
		ms, _ := c.Measurements(context.Background(), t1ce.UID)
		return len(ms) == 1
	})
	ms, _ := c.Measurements(context.Background(), t1ce.UID)
	if m := ms[0]; m.User != "alice" || m.Image == nil || m.Image.SOPInstanceUID == "" || len(m.Image.Pixels) != 4 {
		t.Fatalf("kept measurement %+v", m)
	}
	ws.Measures.ExportSR()
	waitUntil(t, "the SR in the outbox", func() bool {
		items, _ = c.DueOutbox(context.Background(), time.Now(), false, 10)
		return len(items) == 3
	})
	var sr []byte
	for _, it := range items {
		if it.Kind == "result.sr" {
			sr = it.Payload
			if it.StudyUID != t1ce.StudyUID {
				t.Errorf("SR kept under study %s, want %s", it.StudyUID, t1ce.StudyUID)
			}
		}
	}
	path := filepath.Join(dir, "sr.dcm")
	if err := os.WriteFile(path, sr, 0o600); err != nil {
		t.Fatal(err)
	}
	dcmcheck.Dcmdump(t, path)
	dcmcheck.Dciodvfy(t, path)
	if dump := dcmcheck.DumpText(t, path); !strings.Contains(dump, "Long Axis") || !strings.Contains(dump, ms[0].Image.SOPInstanceUID) {
		t.Error("the SR does not hold the measurement on its image")
	}
}

// TestInferAndRenderAcrossStudies: `neuronova infer --series` and `neuronova render` take a folder of one
// patient's session written one study per series (they refused "holds 4 studies").
func TestInferAndRenderAcrossStudies(t *testing.T) {
	dir := t.TempDir()
	studyDir := filepath.Join(dir, "session")
	if err := demo.Write(studyDir, dcmwrite.StudyPerSeries()); err != nil {
		t.Fatal(err)
	}
	res, err := viewer.Open(context.Background(), []string{studyDir})
	if err != nil || len(res.Studies) != 4 {
		t.Fatalf("open: %v", err)
	}
	ex := viewer.Merge(res.Studies)
	flair := ex.Sequence(viewer.FLAIR)
	code, stdout, stderr := runCmd("infer", "--model", "m1", "--input", studyDir, "--series", "FLAIR="+flair.UID, "--out", filepath.Join(dir, "out"), "--provider", "cpu")
	if code != 0 || !strings.Contains(strings.ToLower(stdout), "not for clinical use") {
		t.Fatalf("infer: exit %d\n%s\n%s", code, stdout, stderr)
	}
	f, err := os.Open(filepath.Join(dir, "out", m1SEGFile))
	if err != nil {
		t.Fatal(err)
	}
	id, err := dicomkit.ReadIdentity(f)
	f.Close()
	if err != nil || id.StudyUID != ex.Sequence(viewer.T1CE).StudyUID {
		t.Errorf("the SEG is of study %s (%v), want the reference series' own study %s", id.StudyUID, err, ex.Sequence(viewer.T1CE).StudyUID)
	}
	code, stdout, stderr = runCmd("render", "--input", studyDir, "--series", "T2", "--out", filepath.Join(dir, "t2.png"))
	if code != 0 || !strings.Contains(stdout, "T2 axial") {
		t.Fatalf("render: exit %d\n%s\n%s", code, stdout, stderr)
	}
	other := filepath.Join(dir, "other")
	st := demo.Study()
	st.PatientID, st.UID = "SOMEONE-ELSE", "2.25.1"
	if _, err := dcmwrite.WriteStudy(other, st); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr = runCmd("render", "--input", dir, "--series", "T2", "--out", filepath.Join(dir, "x.png")); code != 1 || !strings.Contains(stderr, "more than one patient") {
		t.Errorf("two patients: exit %d, %q", code, stderr)
	}
}

// TestDemoImportedOnFirstRun: the first run on a cache imports the demo study into it, with its label map, and
// says so in the cache's settings; a later run imports nothing again.
func TestDemoImportedOnFirstRun(t *testing.T) {
	c, err := cache.Open(filepath.Join(t.TempDir(), "cache"), cache.Options{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	test.NewTempApp(t)
	ui.SerializeCallbacks(&uiLock)
	uiLock.Lock()
	defer uiLock.Unlock()
	win := test.NewWindow(nil)
	defer win.Close()
	ws := ui.NewWorkstation(win.Canvas(), ui.Services{Library: library{c}}, nil)
	win.SetContent(ws.Content())
	ctx := context.Background()
	uid := demo.Study().UID
	importDemoOnce(ws, c)
	waitUntil(t, "the demo study in the cache", func() bool {
		v, _ := c.Setting(ctx, demoImportedKey, "")
		return v == uid
	})
	waitUntil(t, "the worklist's row", func() bool { return len(ws.Worklist.Rows()) == 1 })
	ex, err := library{c}.OpenExam(ctx, uid, viewer.ExamByDay)
	if err != nil || len(ex.Series) != 4 || ex.Labels == nil {
		t.Fatalf("the cached demo: %v, labels %v", err, ex != nil && ex.Labels != nil)
	}
	if entries, _ := os.ReadDir(c.TmpDir()); len(entries) != 0 {
		t.Errorf("%d leftovers in the cache's tmp folder", len(entries))
	}
	// A later run: nothing is written or imported.
	importDemoOnce(ws, c)
	if entries, _ := os.ReadDir(c.TmpDir()); len(entries) != 0 {
		t.Errorf("the second run wrote the demo again (%d entries in tmp)", len(entries))
	}
}
