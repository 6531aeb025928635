package main

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/inference"
	"github.com/neuronova/neuronova/inference/m1"
	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/ui"
	"github.com/neuronova/neuronova/viewer/demo"
)

// TestWithServer: a server result uploaded from a listed run goes on its entry; one from elsewhere, or from
// a run not listed, is an entry of its own; every result is listed once.
func TestWithServer(t *testing.T) {
	at := time.Date(2026, 12, 3, 6, 0, 0, 0, time.UTC)
	doctor := int64(5)
	local := []ui.ResultVersion{{StudyUID: "1.2", Run: 7, Version: 2, Editor: "rita", Time: at.Add(time.Minute)},
		{StudyUID: "1.2", Run: 3, Version: 1, Model: "m1-demo", Time: at}}
	rs := []cache.ServerResult{
		{AIResult: api.AIResult{ID: "ai_req_0003", Model: api.ModelMG, ModelVersion: "0.1", CreatedBy: 12, CreatedAt: at.Add(2 * time.Minute),
			ReviewStatus: api.ReviewPending}},
		{AIResult: api.AIResult{ID: "ai_req_0001", Model: api.ModelM1, CreatedBy: 9, CreatedAt: at, ReviewStatus: api.ReviewApproved,
			ReviewedBy: &doctor, ReviewComment: "agrees"}, Local: 3, CreatorName: "Rita Ris", ReviewerName: "Dana Doctor"},
		{AIResult: api.AIResult{ID: "ai_req_0002", Model: api.ModelM1, ModelVersion: "1.0.0", Result: json.RawMessage(`{"model":{"id":"m1-x"}}`),
			CreatedBy: 9, CreatedAt: at, ReviewStatus: api.ReviewRejected, ReviewedBy: &doctor}, Local: 99},
	}
	got := withServer(local, "1.2", rs)
	var list []string
	for _, v := range got {
		list = append(list, v.String())
	}
	when := func(d time.Duration) string { return at.Add(d).Local().Format("2006-01-02 15:04") }
	want := []string{
		"v2 edited by rita, " + when(time.Minute),
		"v1 AI run m1-demo, " + when(0) + "; server ai_req_0001, approved by Dana Doctor — agrees",
		"server ai_req_0003: MG 0.1 run by user 12, " + when(2*time.Minute) + ", pending review",
		"server ai_req_0002: m1-x run by user 9, " + when(0) + ", rejected by user 5",
	}
	if strings.Join(list, "|") != strings.Join(want, "|") {
		t.Errorf("merged\n%q, want\n%q", list, want)
	}
}

// TestServerResultsInTheAITab, through the UI driver on a real cache: a run of this workstation the server
// confirmed, and the same result in the change feed approved by the doctor, is listed once in the AI tab with
// the review; another workstation's result is listed with who ran it and its review, and its card (banner,
// volumes, review) shows when chosen.
func TestServerResultsInTheAITab(t *testing.T) {
	c := demoCache(t)
	ctx := context.Background()
	uid := demo.Study().UID
	banner := "DEMO — NOT FOR CLINICAL USE"
	result := func(et float64) []byte {
		b, err := json.Marshal(m1.Result{Provenance: inference.Provenance{Banner: banner, Model: inference.ModelRef{ID: "m1-demo", Version: "1.0.0"}},
			Volumes: m1.Volumes{ET: et, WT: et}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	mine := result(1.25)
	ids, err := c.RecordResults(ctx, uid, []cache.ResultInput{{Kind: "m1", Payload: mine}})
	if err != nil {
		t.Fatal(err)
	}
	items, err := c.DueOutbox(ctx, time.Now(), false, 10)
	if err != nil || len(items) != 1 || items[0].Ref != strconv.FormatInt(ids[0], 10) {
		t.Fatalf("outbox %+v %v", items, err)
	}
	if err := c.OutboxDone(ctx, items[0].ID, "ai_result ai_req_0001"); err != nil {
		t.Fatal(err)
	}

	doctor, ris := int64(5), int64(9)
	reviewed := time.Now().Add(2 * time.Minute).Truncate(time.Second)
	later := time.Now().Add(time.Minute).Truncate(time.Second)
	objs := []any{
		api.Order{ID: "ocs_0001", DoctorID: doctor, DoctorName: "Dana Doctor", WorkerID: &ris, WorkerName: "Rita Ris"},
		api.AIResult{ID: "ai_req_0001", Model: api.ModelM1, ModelVersion: "1.0.0", OrderID: "ocs_0001", StudyUID: uid, Result: mine,
			CreatedBy: ris, CreatedAt: time.Now(), ReviewStatus: api.ReviewApproved, ReviewComment: "Segmentation agrees with the images.",
			ReviewedBy: &doctor, ReviewedAt: &reviewed},
		api.AIResult{ID: "ai_req_0002", Model: api.ModelM1, ModelVersion: "1.0.0", StudyUID: uid, Result: result(3.5),
			CreatedBy: 12, CreatedAt: later, ReviewStatus: api.ReviewPending},
	}
	var changes []api.Change
	for i, o := range objs {
		b, _ := json.Marshal(o)
		ch := api.Change{Seq: int64(i + 1), Kind: api.KindAIResult, Op: "updated", Data: b}
		switch o := o.(type) {
		case api.Order:
			ch.Kind, ch.ObjectID = api.KindOrder, o.ID
		case api.AIResult:
			ch.ObjectID = o.ID
		}
		changes = append(changes, ch)
	}
	if err := c.ApplyChanges(ctx, "feed", changes, nil, int64(len(changes))); err != nil {
		t.Fatal(err)
	}

	test.NewTempApp(t)
	ui.SerializeCallbacks(&uiLock)
	uiLock.Lock()
	defer uiLock.Unlock()
	win := test.NewWindow(nil)
	defer win.Close()
	ws := ui.NewWorkstation(win.Canvas(), ui.Services{Library: library{c}, User: "alice"}, nil)
	win.SetContent(ws.Content())
	win.Resize(fyne.NewSize(1280, 800))
	openFirstRow(t, ws)
	waitUntil(t, "the versions", func() bool { return len(ws.AI.Versions()) > 0 && ws.AI.Result() != nil })
	vs := ws.AI.Versions()
	if len(vs) != 2 || !strings.HasPrefix(vs[0], "server ai_req_0002: m1-demo run by user 12, ") || !strings.HasSuffix(vs[0], ", pending review") ||
		!strings.HasPrefix(vs[1], "v1 AI run m1-demo, ") ||
		!strings.HasSuffix(vs[1], "; server ai_req_0001, approved by Dana Doctor — Segmentation agrees with the images.") {
		t.Fatalf("the AI tab lists %q", vs)
	}
	res := ws.AI.Result()
	if res.Banner != banner || res.Labels != nil || !strings.Contains(strings.Join(res.Lines, "\n"), "ET 3.50") ||
		res.Lines[len(res.Lines)-1] != "server ai_req_0002: pending review" || !strings.HasPrefix(res.Saved, "the server as ai_req_0002, run by user 12") {
		t.Errorf("another workstation's result: banner %q, lines %q, kept %q", res.Banner, res.Lines, res.Saved)
	}
	ws.AI.ChooseVersion(1)
	waitUntil(t, "the kept run", func() bool { return ws.AI.Result() != res })
	res = ws.AI.Result()
	review := "server ai_req_0001: approved by Dana Doctor, " + reviewed.Local().Format("2006-01-02 15:04") + " — Segmentation agrees with the images."
	if res.Banner != banner || !strings.Contains(strings.Join(res.Lines, "\n"), "ET 1.25") || res.Lines[len(res.Lines)-1] != review ||
		!strings.Contains(res.Saved, "sent to the server") {
		t.Errorf("the kept run: banner %q, lines %q, kept %q", res.Banner, res.Lines, res.Saved)
	}
}
