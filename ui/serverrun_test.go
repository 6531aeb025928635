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

// omicsQueueRunner is a queueRunner that also sends MG and MM.
type omicsQueueRunner struct{ queueRunner }

func (r omicsQueueRunner) RunMGOnServer(ctx context.Context, st *viewer.Study, genes string, p func(string, int, int)) (string, error) {
	r.calls <- "MG " + st.UID + " " + genes
	return "job j3 done: result ai_req_0003, in the local cache", nil
}

func (r omicsQueueRunner) RunMMOnServer(ctx context.Context, st *viewer.Study, in MMInput, p func(string, int, int)) (string, error) {
	r.calls <- "MM " + st.UID + " genes=" + in.Genes + " proteins=" + in.Proteins
	return "job j4 done: result ai_req_0004, in the local cache", nil
}

// TestAIPanelRunsMGAndMMOnTheServer: MG and MM on the server are offered only by a runner that sends them;
// each asks for its CSVs as the local runs do (MG needs its gene CSV; MM takes either, cancel is "not
// given"), sends them for the open study and says what the job did.
func TestAIPanelRunsMGAndMMOnTheServer(t *testing.T) {
	st := smallStudy(t)
	w, _ := newTestWorkstation(t, Services{}, st)
	p := w.AI
	calls := make(chan string, 4)
	p.SetServer(queueRunner{calls: calls})
	if !p.remote.omics.Hidden {
		t.Fatal("MG and MM on the server offered by a runner that sends only M1")
	}
	p.SetServer(omicsQueueRunner{queueRunner{calls: calls}})
	if p.remote.omics.Hidden || p.remote.mg.Disabled() || p.remote.mm.Disabled() {
		t.Fatal("MG and MM on the server are not offered")
	}
	var answers []string
	p.ChooseCSV = func(title string, done func(string)) {
		a := answers[0]
		answers = answers[1:]
		done(a)
	}
	answers = []string{""} // MG without its gene CSV: nothing is sent
	test.Tap(p.remote.mg)
	answers = []string{"/data/genes.csv"}
	test.Tap(p.remote.mg)
	waitFor(t, "the MG job", func() bool { return !p.Running() && strings.Contains(p.stage.Text, "j3") })
	if got := <-calls; got != "MG 1.2.3 /data/genes.csv" {
		t.Errorf("MG sent %q", got)
	}
	answers = []string{"", "/data/rppa.csv"}
	test.Tap(p.remote.mm)
	waitFor(t, "the MM job", func() bool { return !p.Running() && strings.Contains(p.stage.Text, "j4") })
	if got := <-calls; got != "MM 1.2.3 genes= proteins=/data/rppa.csv" {
		t.Errorf("MM sent %q", got)
	}
	if len(calls) != 0 {
		t.Errorf("%d more runs were sent", len(calls))
	}
}
