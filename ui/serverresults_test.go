package ui

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/viewer"
)

// serverLibrary is a memLibrary whose results a sync can change: kept runs and the server's results.
type serverLibrary struct {
	*memLibrary
	mu       sync.Mutex
	versions []ResultVersion
	reads    int // Result calls
}

func (l *serverLibrary) Results(context.Context, *viewer.Study) ([]ResultVersion, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.versions), nil
}

// Result is a card that says what it was read from: the review the library lists now.
func (l *serverLibrary) Result(_ context.Context, st *viewer.Study, v ResultVersion) (*AIResult, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reads++
	res := &AIResult{Model: "m1-demo 1.0.0", Banner: "DEMONSTRATION MODEL — NOT FOR CLINICAL USE", Saved: "the local cache"}
	if v.Run != 0 {
		res.Labels = st.Labels
	}
	if v.Server != nil {
		res.Lines = append(res.Lines, "server "+v.Server.ID+": "+v.Server.String())
	}
	return res, nil
}

func (l *serverLibrary) setReview(id, status, reviewer, comment string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, v := range l.versions {
		if v.Server != nil && v.Server.ID == id {
			v.Server.Status, v.Server.Reviewer, v.Server.Comment = status, reviewer, comment
		}
	}
}

// TestAIPanelListsServerResults: the AI tab lists a kept run the server confirmed once, with the server's
// review, and another workstation's result with who ran it and its review; choosing the server's result
// shows its card, without an AI overlay (its SEG is not kept here); after a sync brings a review, Refresh
// lists it and reads the shown card again.
func TestAIPanelListsServerResults(t *testing.T) {
	st := smallStudy(t)
	at := time.Date(2026, 12, 3, 5, 20, 0, 0, time.Local)
	lib := &serverLibrary{memLibrary: newMemLibrary(st), versions: []ResultVersion{
		{StudyUID: st.UID, Version: 1, Model: "m1-demo", Time: at.Add(20 * time.Minute),
			Server: &ServerReview{ID: "ai_req_0002", RunBy: "rita", Status: api.ReviewPending}},
		{StudyUID: st.UID, Run: 10, Version: 1, Model: "m1-demo", Time: at,
			Server: &ServerReview{ID: "ai_req_0001", RunBy: "alice", Status: api.ReviewApproved, Reviewer: "Dr Ada", Comment: "agrees"}},
	}}
	w, _ := newTestWorkstation(t, Services{Library: lib}, st)
	waitFor(t, "the latest result", func() bool { return w.AI.Result() != nil })
	want := []string{
		"server ai_req_0002: m1-demo run by rita, 2026-12-03 05:40, pending review",
		"v1 AI run m1-demo, 2026-12-03 05:20; server ai_req_0001, approved by Dr Ada — agrees",
	}
	if got := w.AI.Versions(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("versions\n%q, want\n%q", got, want)
	}
	if !strings.Contains(w.AI.card.Text, "server ai_req_0002: pending review") || w.AI.banner.Text == "" || w.AI.show.Visible() {
		t.Errorf("server result: card %q, banner %q, overlay offered %v", w.AI.card.Text, w.AI.banner.Text, w.AI.show.Visible())
	}
	w.AI.ChooseVersion(1)
	waitFor(t, "the kept run", func() bool { return w.AI.Result() != nil && w.AI.Result().Labels != nil })
	if !strings.Contains(w.AI.card.Text, "approved by Dr Ada — agrees") || !w.AI.show.Visible() || !w.AI.show.Checked {
		t.Errorf("kept run: card %q, overlay ticked %v", w.AI.card.Text, w.AI.show.Checked)
	}
	w.AI.ChooseVersion(0)
	waitFor(t, "the server result again", func() bool { return w.AI.Result() != nil && w.AI.Result().Labels == nil })
	if w.AI.show.Checked {
		t.Error("the AI overlay stays ticked on a result without a segmentation")
	}

	lib.setReview("ai_req_0002", api.ReviewRejected, "Dr Ada", "wrong side")
	w.AI.Refresh()
	waitFor(t, "the review", func() bool {
		return strings.Contains(w.AI.card.Text, "rejected by Dr Ada — wrong side")
	})
	got := w.AI.Versions()
	if len(got) != 2 || got[0] != "server ai_req_0002: m1-demo run by rita, 2026-12-03 05:40, rejected by Dr Ada — wrong side" ||
		w.AI.versions.SelectedIndex() != 0 {
		t.Errorf("after the sync: versions %q (selected %d)", got, w.AI.versions.SelectedIndex())
	}
	// A refresh that changes nothing reads nothing again.
	lib.mu.Lock()
	reads := lib.reads
	lib.mu.Unlock()
	w.AI.Refresh()
	time.Sleep(200 * time.Millisecond)
	lib.mu.Lock()
	defer lib.mu.Unlock()
	if lib.reads != reads {
		t.Errorf("an unchanged list read the card again (%d reads, %d before)", lib.reads, reads)
	}
}
