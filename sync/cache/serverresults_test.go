package cache

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/neuronova/neuronova/api"
)

// TestStudyServerResults: the change feed's AI results of a study are listed once each, newest first, with
// their latest review: a run of this cache confirmed by the server names its run (by the id the
// confirmation recorded), a run whose confirmation is not recorded yet is matched by its result JSON, a
// result of another workstation names none; another study's and withdrawn results are left out; creator
// and reviewer are named from the order.
func TestStudyServerResults(t *testing.T) {
	ctx := context.Background()
	c := openCache(t, t.TempDir())
	dir, _ := smallStudy(t, 21)
	sum, err := c.Import(ctx, []string{dir}, nil)
	if err != nil || len(sum.Studies) != 1 {
		t.Fatalf("import: %+v %v", sum, err)
	}
	study := sum.Studies[0]
	confirmed, err := c.RecordResults(ctx, study, []ResultInput{{Kind: "m1", Payload: []byte(`{"model": {"id": "m1-demo"}, "run": 1}`)},
		{Kind: "seg", Payload: []byte("SEG1")}})
	if err != nil {
		t.Fatal(err)
	}
	up, _ := json.Marshal(api.AIResultUpload{Model: "M1", ModelVersion: "1.0.0", OrderID: "ocs_0001", Result: json.RawMessage(`{"model": {"id": "m1-demo"}, "run": 2}`)})
	unconfirmed, err := c.RecordResults(ctx, study, []ResultInput{{Kind: "m1", Payload: up}})
	if err != nil {
		t.Fatal(err)
	}
	items, err := c.DueOutbox(ctx, time.Now(), false, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		switch it.Ref {
		case itoa(confirmed[0]):
			err = c.OutboxDone(ctx, it.ID, "ai_result ai_req_0001 (replayed)")
		case itoa(confirmed[1]):
			err = c.OutboxDone(ctx, it.ID, "seg 1.2.3 md5 00")
		}
		if err != nil {
			t.Fatal(err)
		}
	}

	at := time.Date(2026, 12, 3, 6, 0, 0, 0, time.UTC)
	doctor, worker, other := int64(5), int64(9), int64(11)
	result := func(id, studyUID string, min int, by int64, body string, review string, reviewer *int64) api.AIResult {
		return api.AIResult{ID: id, Model: "M1", ModelVersion: "1.0.0", StudyUID: studyUID, OrderID: "ocs_0001", Result: json.RawMessage(body),
			CreatedBy: by, CreatedAt: at.Add(time.Duration(min) * time.Minute), ReviewStatus: review, ReviewedBy: reviewer}
	}
	approved := result("ai_req_0001", study, 0, worker, `{"model":{"id":"m1-demo"},"run":1}`, api.ReviewApproved, &doctor)
	approved.ReviewComment = "agrees with the FLAIR"
	withdrawn := result("ai_req_0005", study, 5, other, `{"run":5}`, api.ReviewPending, nil)
	withdrawn.WithdrawnAt = &at
	var changes []api.Change
	for i, obj := range []any{
		result("ai_req_0001", study, 0, worker, `{"model":{"id":"m1-demo"},"run":1}`, api.ReviewPending, nil),
		api.Order{ID: "ocs_0001", DoctorID: doctor, DoctorName: "Dr Ada", WorkerID: &worker, WorkerName: "Rita"},
		approved,
		result("ai_req_0002", study, 2, worker, `{"model":{"id":"m1-demo"},"run":2}`, api.ReviewPending, nil),
		result("ai_req_0003", study, 3, other, `{"model":{"id":"m1-demo"},"run":1,"elsewhere":true}`, api.ReviewRejected, &doctor),
		result("ai_req_0004", "9.9.9", 4, worker, `{"run":4}`, api.ReviewPending, nil),
		withdrawn,
	} {
		b, _ := json.Marshal(obj)
		kind, id := api.KindAIResult, ""
		switch o := obj.(type) {
		case api.AIResult:
			id = o.ID
		case api.Order:
			kind, id = api.KindOrder, o.ID
		}
		changes = append(changes, api.Change{Seq: int64(i + 1), Kind: kind, ObjectID: id, Op: "updated", Data: b})
	}
	if err := c.ApplyChanges(ctx, "feed", changes, nil, int64(len(changes))); err != nil {
		t.Fatal(err)
	}

	rs, err := c.StudyServerResults(ctx, study)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rs {
		got = append(got, strings.Join([]string{r.ID, r.ReviewStatus, itoa(r.Local), r.CreatorName, r.ReviewerName}, " "))
	}
	want := []string{
		"ai_req_0003 rejected 0  Dr Ada",
		"ai_req_0002 pending " + itoa(unconfirmed[0]) + " Rita ",
		"ai_req_0001 approved " + itoa(confirmed[0]) + " Rita Dr Ada",
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("server results\n%q, want\n%q", got, want)
	}
	if len(rs) == 3 && rs[2].ReviewComment != "agrees with the FLAIR" {
		t.Errorf("comment %q", rs[2].ReviewComment)
	}
	if rs, err := c.StudyServerResults(ctx, "1.2.404"); err != nil || len(rs) != 0 {
		t.Errorf("a study without results: %v, %v", rs, err)
	}
}

func TestConfirmedResultID(t *testing.T) {
	for in, want := range map[string]string{
		"ai_result ai_req_0001":            "ai_req_0001",
		"ai_result ai_req_0001 (replayed)": "ai_req_0001",
		"seg 1.2.3 md5 00":                 "",
		"ai_result":                        "",
		"":                                 "",
	} {
		if got := ConfirmedResultID(in); got != want {
			t.Errorf("ConfirmedResultID(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzConfirmedResultID(f *testing.F) {
	f.Add("ai_result ai_req_0001 (replayed)")
	f.Add("seg x")
	f.Fuzz(func(t *testing.T, s string) {
		id := ConfirmedResultID(s)
		if strings.Contains(id, " ") || (id != "" && !strings.HasPrefix(s, confirmedPrefix+id)) {
			t.Errorf("ConfirmedResultID(%q) = %q", s, id)
		}
		if id != "" && ConfirmedResultID(confirmedPrefix+id) != id {
			t.Errorf("%q does not read back", id)
		}
	})
}
