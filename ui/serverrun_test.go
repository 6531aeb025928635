package ui

import (
	"context"
	"errors"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/neuronova/neuronova/viewer"
)

// queueRunner stands in for the server's job queue in this widget test (the real path, through a worker, is
// cmd/neuronova's TestServerJobsRunByWorker): it records each run and answers as the job ends.
type queueRunner struct {
	calls chan string
	fail  error
}

func (r queueRunner) RunM1OnServer(ctx context.Context, st *viewer.Study, orderID string, p func(string, int, int)) (string, error) {
	r.calls <- st.UID + " order=" + orderID
	p("job j1 queued", 0, 0)
	if r.fail != nil {
		return "", r.fail
	}
	return "job j1 done: result ai_req_0001, in the local cache", nil
}

// TestAIPanelRunsM1OnTheServer: a workstation without AI models offers "Run M1 on the server" once a server
// runner is set (not before); the run goes for the open study (and the order it is for), says what the job
// did, and gives the button back; a failed job says why.
func TestAIPanelRunsM1OnTheServer(t *testing.T) {
	st := smallStudy(t)
	w, _ := newTestWorkstation(t, Services{}, st)
	p := w.AI
	if !p.remote.box.Hidden || !p.remote.run.Disabled() {
		t.Fatal("the server run is offered without a server")
	}
	r := queueRunner{calls: make(chan string, 4)}
	p.SetServer(r)
	if p.remote.box.Hidden || p.remote.run.Disabled() || !p.run.Disabled() {
		t.Fatal("without local models the server run is not the one offered")
	}
	test.Tap(p.remote.run)
	waitFor(t, "the job's end", func() bool { return !p.Running() && p.stage.Text != "" })
	if got := <-r.calls; got != "1.2.3 order=" {
		t.Errorf("the runner got %q", got)
	}
	if p.stage.Text != "job j1 done: result ai_req_0001, in the local cache" || p.remote.run.Disabled() {
		t.Errorf("after the run: %q, button disabled %v", p.stage.Text, p.remote.run.Disabled())
	}

	p.order = "ocs_0007"
	p.SetServer(queueRunner{calls: r.calls, fail: errors.New("job j2 failed after 3 deliveries: no T1CE")})
	p.RunOnServer()
	waitFor(t, "the failed job", func() bool { return !p.Running() && strings.Contains(p.stage.Text, "failed") })
	if got := <-r.calls; got != "1.2.3 order=ocs_0007" {
		t.Errorf("the runner got %q", got)
	}
	if p.stage.Text != "M1 on the server failed: job j2 failed after 3 deliveries: no T1CE" {
		t.Errorf("a failed job says %q", p.stage.Text)
	}
	p.SetServer(nil)
	if !p.remote.box.Hidden || !p.remote.run.Disabled() {
		t.Error("the server run stays offered without a server")
	}
}
