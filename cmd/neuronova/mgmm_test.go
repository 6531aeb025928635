package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/inference/mg"
	"github.com/neuronova/neuronova/inference/mm"
	"github.com/neuronova/neuronova/internal/testsvc"
	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/sync/client"
	"github.com/neuronova/neuronova/sync/engine"
	"github.com/neuronova/neuronova/ui"
	"github.com/neuronova/neuronova/viewer/demo"
)

// The demo models' example inputs: a gene-expression CSV and an RPPA CSV.
var (
	exampleGenes = filepath.Join("..", "..", "assets", "models", "examples", "mg-demo-example-1-grade4.csv")
	exampleRPPA  = filepath.Join("..", "..", "assets", "models", "examples", "mm-demo-example-1-grade4-rppa.csv")
)

// answerCSV makes the AI tab's file dialog answer paths in turn ("" cancelled).
func answerCSV(ws *ui.Workstation, paths ...string) {
	ws.AI.ChooseCSV = func(_ string, done func(string)) {
		path := ""
		if len(paths) > 0 {
			path, paths = paths[0], paths[1:]
		}
		done(path)
	}
}

// runOmics runs MG or MM through the AI tab's button (run) and returns its card.
func runOmics(t *testing.T, ws *ui.Workstation, run func(), model string) *ui.AIResult {
	t.Helper()
	before := ws.AI.Result()
	run()
	waitUntil(t, model, func() bool {
		return (ws.AI.Result() != before && !ws.AI.Running()) || ws.AI.Failure() != ""
	})
	res := ws.AI.Result()
	if f := ws.AI.Failure(); f != "" || res == nil || !strings.HasPrefix(res.Model, model+" ") {
		t.Fatalf("%s: %q, card %+v", model, f, res)
	}
	if !strings.Contains(strings.ToLower(res.Banner), "not for clinical use") {
		t.Errorf("%s card without the model's banner: %q", model, res.Banner)
	}
	return res
}

// keptUploads are the MG and MM results kept for study uid, by kind.
func keptUploads(t *testing.T, c *cache.Cache, uid string) map[string][]api.AIResultUpload {
	t.Helper()
	ctx := context.Background()
	rows, err := c.StudyResults(ctx, uid)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]api.AIResultUpload{}
	for _, r := range rows {
		if !omicsKind(r.Kind) {
			continue
		}
		b, err := c.ResultPayload(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		var up api.AIResultUpload
		if err := json.Unmarshal(b, &up); err != nil {
			t.Fatal(err)
		}
		out[r.Kind] = append(out[r.Kind], up)
	}
	return out
}

func lines(res *ui.AIResult) string { return strings.Join(res.Lines, "\n") }

// TestMGAndMMThroughTheWindow (issue 14, item 5), on ONNX Runtime through the workstation: M1 runs on a
// cached study, then MG on the demo gene CSV chosen in the AI tab, then MM on the kept M1 embedding and the
// gene CSV with the RPPA file not given. Each card carries the model's banner and states MM's modalities;
// the cache keeps one MG and one MM result with their outbox messages; after a restart the AI tab lists
// them as versions and shows the same cards.
func TestMGAndMMThroughTheWindow(t *testing.T) {
	dir := t.TempDir()
	studyDir, cacheDir := filepath.Join(dir, "study"), filepath.Join(dir, "cache")
	if err := demo.Write(studyDir); err != nil {
		t.Fatal(err)
	}
	rt := cpuRuntime(t)
	test.NewTempApp(t)
	ui.SerializeCallbacks(&uiLock)
	uiLock.Lock()
	defer uiLock.Unlock()
	ctx := context.Background()

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
	ws.AI.Run()
	waitUntil(t, "the M1 result", func() bool { return ws.AI.Result() != nil || ws.AI.Failure() != "" })
	if ws.AI.Result() == nil {
		t.Fatal(ws.AI.Failure())
	}

	answerCSV(ws, exampleGenes)
	mgCard := runOmics(t, ws, ws.AI.RunMG, "mg-demo")
	if !strings.Contains(lines(mgCard), "Genes: mg-demo-example-1-grade4.csv (") || !strings.HasPrefix(mgCard.Lines[0], "survival risk ") ||
		mgCard.Saved != "the local cache (result in the outbox, sent at the next sync)" {
		t.Errorf("MG card %q, kept %q", mgCard.Lines, mgCard.Saved)
	}
	answerCSV(ws, exampleGenes, "")
	mmCard := runOmics(t, ws, ws.AI.RunMM, "mm-demo")
	for _, want := range []string{"MRI: embedding of the M1 run m1-demo ", "Genes: mg-demo-example-1-grade4.csv through mg-demo ", "RPPA: not given"} {
		if !strings.Contains(lines(mmCard), "\n"+want) {
			t.Errorf("MM card lacks %q:\n%s", want, lines(mmCard))
		}
	}

	t.Logf("MG card: %s %q\n%s\nMM card: %s\n%s", mgCard.Model, mgCard.Banner, lines(mgCard), mmCard.Model, lines(mmCard))

	// The cache keeps one MG and one MM result, each an upload of its model for the study, in the outbox.
	uid := ws.Reading.Study().UID
	kept := keptUploads(t, c, uid)
	if len(kept["mg"]) != 1 || len(kept["mm"]) != 1 || kept["mg"][0].Model != api.ModelMG || kept["mm"][0].Model != api.ModelMM ||
		kept["mm"][0].StudyUID != uid {
		t.Fatalf("kept %+v", kept)
	}
	var mmRes mm.Result
	if err := json.Unmarshal(kept["mm"][0].Result, &mmRes); err != nil {
		t.Fatal(err)
	}
	if strings.Join(mmRes.ModalitiesUsed, ",") != "mri,gene" || strings.Join(mmRes.ModalitiesMissing, ",") != "protein" ||
		mmRes.Inputs[0].Upstream == nil || mmRes.Inputs[0].Upstream.ModelID != "m1-demo" {
		t.Errorf("MM used %v, missing %v, inputs %+v", mmRes.ModalitiesUsed, mmRes.ModalitiesMissing, mmRes.Inputs)
	}
	var mgRes mg.Result
	if err := json.Unmarshal(kept["mg"][0].Result, &mgRes); err != nil || mgRes.Inputs[0].Name != "mg-demo-example-1-grade4.csv" {
		t.Errorf("MG result %+v %v", mgRes.Inputs, err)
	}
	items, err := c.DueOutbox(ctx, time.Now(), false, 50)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, it := range items {
		kinds[it.Kind]++
	}
	if kinds["result.mg"] != 1 || kinds["result.mm"] != 1 {
		t.Errorf("outbox kinds %v", kinds)
	}
	win.Close()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	// The restart: the versions list MM, MG and M1, latest first; MM's card shows, MG's is a choice away.
	c, ws, win = restoreSession(t, cacheDir, rt)
	defer c.Close()
	defer win.Close()
	openFirstRow(t, ws)
	waitUntil(t, "the kept results", func() bool { return len(ws.AI.Versions()) == 3 && ws.AI.Result() != nil })
	vs := ws.AI.Versions()
	for i, model := range []string{"mm-demo", "mg-demo", "m1-demo"} {
		if !strings.HasPrefix(vs[i], "v1 AI run "+model+", ") {
			t.Errorf("versions %q: entry %d is not %s's run", vs, i, model)
		}
	}
	same := func(got, fresh *ui.AIResult) bool {
		return got.Model == fresh.Model && got.Banner == fresh.Banner && got.Saved == fresh.Saved && lines(got) == lines(fresh)
	}
	if got := ws.AI.Result(); !same(got, mmCard) {
		t.Errorf("restored MM card %q %q %q\nafter the run %q %q %q", got.Model, got.Lines, got.Saved, mmCard.Model, mmCard.Lines, mmCard.Saved)
	}
	ws.AI.ChooseVersion(1)
	waitUntil(t, "MG's card", func() bool { return strings.HasPrefix(ws.AI.Result().Model, "mg-demo ") })
	if got := ws.AI.Result(); !same(got, mgCard) {
		t.Errorf("restored MG card %q %q\nafter the run %q %q", got.Model, got.Lines, mgCard.Model, mgCard.Lines)
	}
}

// syncRound runs one sync round of s's engine, letting the UI work meanwhile.
func syncRound(t *testing.T, s *station) *engine.Summary {
	t.Helper()
	type round struct {
		sum *engine.Summary
		err error
	}
	done := make(chan round, 1)
	go func() {
		sum, err := s.e.Round(context.Background(), nil)
		done <- round{sum, err}
	}()
	var r round
	waitUntil(t, "a sync round", func() bool {
		select {
		case r = <-done:
			return true
		default:
			return false
		}
	})
	if r.err != nil {
		t.Fatalf("sync: %v", r.err)
	}
	return r.sum
}

// TestMGAndMMOnTheServerOnce (issue 14, must show): MG and MM run through the window's code path on a
// cached study of the demo patient — MM on a gene CSV (MG runs inside it) and an RPPA CSV, with no M1
// result kept (MRI not given) — and one sync puts exactly one MG and one MM result of the study on a real
// server (listed by GET /api/ai/results/); a second sync adds none, and the AI tab lists each once with the
// server's review.
func TestMGAndMMOnTheServerOnce(t *testing.T) {
	testsvc.RequireStack(t)
	rt := cpuRuntime(t)
	stack, err := testsvc.StartStack(testsvc.StackOptions{Demo: true})
	if err != nil {
		t.Fatal(err)
	}
	defer stack.Close()
	test.NewTempApp(t)
	ui.SerializeCallbacks(&uiLock)
	uiLock.Lock()
	defer uiLock.Unlock()
	ctx := context.Background()

	ris := newStation(t, stack.URL, rt)
	ris.signIn(t, "ris1", stack.Accounts["ris1"], "")
	studyDir := filepath.Join(t.TempDir(), "study")
	if err := demo.Write(studyDir); err != nil {
		t.Fatal(err)
	}
	ws, uid := ris.ws, demo.Study().UID
	importAndOpen(t, ws, studyDir, uid)

	answerCSV(ws, exampleGenes)
	mgCard := runOmics(t, ws, ws.AI.RunMG, "mg-demo")
	answerCSV(ws, exampleGenes, exampleRPPA)
	mmCard := runOmics(t, ws, ws.AI.RunMM, "mm-demo")
	if !strings.Contains(lines(mmCard), "\nMRI: not given (no M1 result is kept for this study: run M1 first)\n") ||
		!strings.Contains(lines(mmCard), "\nRPPA: mm-demo-example-1-grade4-rppa.csv (share ") {
		t.Errorf("MM card:\n%s", lines(mmCard))
	}

	sum := syncRound(t, ris)
	t.Logf("first sync: %+v", *sum)
	patient, err := ris.c.RemotePatientByNumber(ctx, demo.PatientID)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := client.New(stack.URL, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Login(ctx, "ris1", stack.Accounts["ris1"]); err != nil {
		t.Fatal(err)
	}
	onServer := func() map[string][]string {
		rs, err := cl.AIResults(ctx, patient, 100)
		if err != nil {
			t.Fatal(err)
		}
		ids := map[string][]string{}
		for _, r := range rs {
			if r.StudyUID == uid {
				ids[r.Model] = append(ids[r.Model], r.ID)
			}
		}
		return ids
	}
	first := onServer()
	if len(first[api.ModelMG]) != 1 || len(first[api.ModelMM]) != 1 || len(first) != 2 {
		t.Fatalf("after one sync the server lists %v for the study", first)
	}
	sum = syncRound(t, ris)
	if second := onServer(); strings.Join(second[api.ModelMG], ",") != first[api.ModelMG][0] || strings.Join(second[api.ModelMM], ",") != first[api.ModelMM][0] ||
		len(second) != 2 || sum.Results != 0 {
		t.Errorf("after a second sync the server lists %v (first %v); results pushed %d", second, first, sum.Results)
	}

	// The AI tab lists each run once, with the server's id and review.
	ws.AI.Refresh()
	waitUntil(t, "the server's ids in the AI tab", func() bool {
		vs := ws.AI.Versions()
		return len(vs) == 2 && strings.Contains(vs[0], "; server ai_req_") && strings.Contains(vs[1], "; server ai_req_")
	})
	vs := ws.AI.Versions()
	if !strings.HasPrefix(vs[0], "v1 AI run mm-demo, ") || !strings.HasSuffix(vs[0], "; server "+first[api.ModelMM][0]+", pending review") ||
		!strings.HasPrefix(vs[1], "v1 AI run mg-demo, ") || !strings.HasSuffix(vs[1], "; server "+first[api.ModelMG][0]+", pending review") {
		t.Errorf("the AI tab lists %q", vs)
	}

	// Another workstation of the user: its sync brings the server's MG and MM results of the study, listed
	// and shown with the same cards.
	other := newStation(t, stack.URL, rt)
	other.signIn(t, "ris1", stack.Accounts["ris1"], "")
	importAndOpen(t, other.ws, studyDir, uid)
	syncRound(t, other)
	other.ws.AI.Refresh()
	waitUntil(t, "the server's results on the other workstation", func() bool {
		return len(other.ws.AI.Versions()) == 2 && other.ws.AI.Result() != nil
	})
	vs = other.ws.AI.Versions()
	if !strings.HasPrefix(vs[0], "server "+first[api.ModelMM][0]+": mm-demo run by ") || !strings.HasPrefix(vs[1], "server "+first[api.ModelMG][0]+": mg-demo run by ") {
		t.Fatalf("the other workstation lists %q", vs)
	}
	// The cards, read as the AI tab reads a chosen entry (the library, not the panel's selection, which a
	// notification's refresh may move meanwhile).
	kept, err := library{other.c}.Results(ctx, other.ws.Reading.Study())
	if err != nil || len(kept) != 2 {
		t.Fatalf("the other workstation's library lists %+v %v", kept, err)
	}
	for i, fresh := range []*ui.AIResult{mmCard, mgCard} {
		id := first[api.ModelMG][0]
		if fresh == mmCard {
			id = first[api.ModelMM][0]
		}
		got, err := library{other.c}.Result(ctx, other.ws.Reading.Study(), kept[i])
		if err != nil || got.Model != fresh.Model || got.Banner != fresh.Banner || lines(got) != lines(fresh)+"\nserver "+id+": pending review" ||
			!strings.HasPrefix(got.Saved, "the server as "+id) {
			t.Errorf("the other workstation's card of %s: %+v %v", id, got, err)
		}
	}
	if got := other.ws.AI.Result(); got.Model != mmCard.Model || lines(got) != lines(mmCard)+"\nserver "+first[api.ModelMM][0]+": pending review" {
		t.Errorf("the other workstation's AI tab shows %q %q", got.Model, got.Lines)
	}
}

// importAndOpen imports the study in dir into ws's cache and opens study uid.
func importAndOpen(t *testing.T, ws *ui.Workstation, dir, uid string) {
	t.Helper()
	done := false
	ws.ImportThen([]string{dir}, "Importing the study", func(report string, err error) {
		if err != nil {
			t.Errorf("import: %q %v", report, err)
		}
		done = true
	})
	waitUntil(t, "the import", func() bool { return done })
	ws.Worklist.Search(demo.PatientID)
	waitUntil(t, "the study listed", func() bool { return len(ws.Worklist.Rows()) == 1 })
	ws.Worklist.OpenRow(0)
	waitUntil(t, "the study open", func() bool { st := ws.Reading.Study(); return st != nil && st.UID == uid })
}

// TestParseKeptOmics reads kept MG and MM uploads as their cards, and refuses what is not one with an error
// naming it.
func TestParseKeptOmics(t *testing.T) {
	banner := "DEMO — NOT FOR CLINICAL USE"
	mgRes := mg.Result{Risk: mg.Risk{Score: 1.5, Group: "high"}}
	mgRes.Banner, mgRes.Model.ID, mgRes.Model.Version = banner, "mg-demo", "1.0.0"
	mmRes := mm.Result{Modalities: []mm.Modality{{Name: mm.ModalityMRI}, {Name: mm.ModalityGene, Present: true, Contribution: 1}, {Name: mm.ModalityProtein}}}
	mmRes.Banner, mmRes.Model.ID, mmRes.Model.Version = banner, "mm-demo", "1.0.0"
	wrap := func(model string, res any, src map[string]string) []byte {
		js, _ := json.Marshal(res)
		prov, _ := json.Marshal(omicsProvenance{Sources: src})
		b, err := json.Marshal(api.AIResultUpload{Model: model, ModelVersion: "1.0.0", Result: js, Provenance: prov})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	got, err := parseKeptOmics(wrap(api.ModelMG, mgRes, map[string]string{mm.ModalityGene: "t.csv"}))
	if err != nil || got.Model != "mg-demo 1.0.0" || got.Banner != banner || got.Lines[0] != "survival risk 1.50: high" ||
		!strings.Contains(lines(got), "\nGenes: t.csv (0 of the model's 0 genes matched)") {
		t.Errorf("MG: %+v %v", got, err)
	}
	got, err = parseKeptOmics(wrap(api.ModelMM, mmRes, map[string]string{mm.ModalityGene: "g.csv"}))
	if err != nil || got.Model != "mm-demo 1.0.0" || !strings.HasSuffix(lines(got), "\nMRI: not given\nGenes: g.csv (share 100%)\nRPPA: not given") {
		t.Errorf("MM: %+v %v", got, err)
	}
	for _, bad := range []string{"", "[]", `{"model":"MG"}`, `{"model":"M1","result":{}}`, `{"model":"MM","result":{"model":{}}}`,
		`{"model":"MG","result":[1]}`, `{"model":"MG","result":{},"provenance":[2]}`} {
		if _, err := parseKeptOmics([]byte(bad)); err == nil || !strings.Contains(err.Error(), "kept ") {
			t.Errorf("%q: %v, want an error naming the kept result", bad, err)
		}
	}
}

func FuzzParseKeptOmics(f *testing.F) {
	f.Add([]byte(`{"model":"MG","model_version":"1","result":{"model":{"id":"mg-demo"},"top_genes":[{"gene":"TP53"}]},"provenance":{"sources":{"gene":"g.csv"}}}`))
	f.Add([]byte(`{"model":"MM","result":{"model":{"id":"mm-demo"},"modalities":[{"name":"mri","present":true}]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := parseKeptOmics(b)
		if err == nil && (strings.TrimSpace(res.Model) == "" || len(res.Lines) == 0) {
			t.Fatal("a result with no model accepted")
		}
	})
}
