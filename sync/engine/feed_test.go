package engine

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/sync/internal/feedfake"
)

// TestFeedSkipsUndecodableChange: a change nested 10,000 levels deep between two good ones (the poisoned AI
// result of issue 11) is skipped, logged and reported; the round succeeds, both good changes are applied,
// what the cache held before is untouched, the cursor passes the bad change and the next round goes on
// after it instead of asking for it again.
func TestFeedSkipsUndecodableChange(t *testing.T) {
	ctx := context.Background()
	fake := feedfake.New()
	defer fake.Close()
	fake.Add(1, feedfake.Change(1, api.KindAIResult, "7", map[string]any{"id": 7, "result": map[string]any{"grade": "G4"}}))
	var logs bytes.Buffer
	e, c := newEngine(t, fake.URL, Options{NoPrefetch: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if _, err := e.Login(ctx, risUser, "any"); err != nil {
		t.Fatal(err)
	}
	if sum, err := e.Round(ctx, nil); err != nil || sum.Changes != 1 {
		t.Fatalf("first round: %+v, %v", sum, err)
	}
	before, err := c.RemoteObjects(ctx, api.KindAIResult)
	if err != nil || before["7"] == nil {
		t.Fatalf("result 7 not stored: %v %v", before, err)
	}

	deep := `{"seq":3,"kind":"ai_result","object_id":"7","op":"updated","at":"2027-01-15T08:00:00Z","data":{"id":7,"result":` +
		strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}}`
	fake.Add(2, feedfake.Change(2, api.KindPatient, "11", map[string]any{"id": 11, "patient_number": "P-11"}))
	fake.Add(3, []byte(deep))
	fake.Add(4, feedfake.Change(4, api.KindOrder, "ocs_0004", map[string]any{"order_id": "ocs_0004", "patient_id": 11}))
	sum, err := e.Round(ctx, nil)
	if err != nil {
		t.Fatalf("round with a poisoned change: %v", err)
	}
	if sum.Changes != 2 || sum.SkippedChanges != 1 || len(sum.Errors) != 1 ||
		!strings.Contains(sum.Errors[0], "change 3 (ai_result 7) skipped: nested") {
		t.Fatalf("summary: %d changes, %d skipped, errors %q", sum.Changes, sum.SkippedChanges, sum.Errors)
	}
	for kind, id := range map[string]string{api.KindPatient: "11", api.KindOrder: "ocs_0004"} {
		objs, err := c.RemoteObjects(ctx, kind)
		if err != nil || objs[id] == nil {
			t.Errorf("%s %s not applied: %v", kind, id, err)
		}
	}
	after, err := c.RemoteObjects(ctx, api.KindAIResult)
	if err != nil || len(after) != 1 || !bytes.Equal(after["7"], before["7"]) {
		t.Errorf("result 7 changed: %s, was %s (%v)", after["7"], before["7"], err)
	}
	skipped, err := c.SkippedChanges(ctx)
	if err != nil || len(skipped) != 1 || skipped[0].Seq != 3 || skipped[0].Kind != api.KindAIResult || skipped[0].ObjectID != "7" ||
		skipped[0].Feed != e.feedKey() || !strings.Contains(skipped[0].Reason, "nested") {
		t.Fatalf("skipped changes kept: %+v %v", skipped, err)
	}
	if cur, err := c.SyncValue(ctx, e.feedKey(), ""); err != nil || cur != "4" {
		t.Errorf("cursor %q (%v), want 4", cur, err)
	}
	if !strings.Contains(logs.String(), "undecodable change skipped") || !strings.Contains(logs.String(), "seq=3") {
		t.Errorf("not logged:\n%s", logs.String())
	}
	if st, err := e.Status(ctx); err != nil || st.Skipped != 1 {
		t.Errorf("status: %+v %v", st, err)
	}

	sum, err = e.Round(ctx, nil)
	if err != nil || sum.Changes != 0 || sum.SkippedChanges != 0 {
		t.Fatalf("next round: %+v, %v", sum, err)
	}
	if cursors := fake.Cursors(); cursors[len(cursors)-1] != 4 {
		t.Errorf("the feed was asked for cursors %v; the last round should go on after 4", cursors)
	}
	if skipped, err := c.SkippedChanges(ctx); err != nil || len(skipped) != 1 {
		t.Errorf("skipped changes after the next round: %+v %v", skipped, err)
	}
}
