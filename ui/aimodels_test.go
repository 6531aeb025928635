package ui

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/neuronova/neuronova/viewer"
)

// omicsAnalyzer stands in for MG and MM in this widget test (the pipelines run on ONNX Runtime in
// inference/ and through the window in cmd/neuronova): it says on the card which files it was handed, and
// with block it waits for its context to end.
type omicsAnalyzer struct {
	scriptedAnalyzer
	block bool
	calls chan string
}

const omicsBanner = "DEMONSTRATION MODEL — NOT FOR CLINICAL USE"

func (a omicsAnalyzer) RunMG(ctx context.Context, st *viewer.Study, genes string, p func(string, int, int)) (*AIResult, error) {
	a.calls <- "MG " + st.UID + " " + filepath.Base(genes)
	p("gene CSV", 1, 2)
	return &AIResult{Model: "mg-demo 1.0.0", Banner: omicsBanner, Lines: []string{"genes: " + filepath.Base(genes)}, Saved: "the local cache"}, nil
}

func (a omicsAnalyzer) RunMM(ctx context.Context, st *viewer.Study, in MMInput, p func(string, int, int)) (*AIResult, error) {
	a.calls <- "MM " + st.UID + " genes=" + filepath.Base(in.Genes) + " rppa=" + in.Proteins
	p("modalities", 1, 2)
	if a.block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	lines := []string{"genes: " + filepath.Base(in.Genes)}
	if in.Proteins == "" {
		lines = append(lines, "RPPA: not given")
	}
	return &AIResult{Model: "mm-demo 1.0.0", Banner: omicsBanner, Lines: lines, Saved: "the local cache"}, nil
}

// TestAIPanelRunsMGAndMM drives the "Run MG…" and "Run MM…" buttons with the file chooser answered by the
// test: MG gets the chosen gene CSV and its card shows with the model's banner, and the study's own label map
// is drawn (MG has no segmentation); MM gets the gene CSV with the RPPA file cancelled (not given); a
// cancelled chooser runs nothing; a cancelled MM run says so.
func TestAIPanelRunsMGAndMM(t *testing.T) {
	st := smallStudy(t)
	a := omicsAnalyzer{calls: make(chan string, 10)}
	w, _ := newTestWorkstation(t, Services{AI: a}, st)
	p := w.AI
	if p.omics.box.Hidden || p.omics.mg.Disabled() || p.omics.mm.Disabled() {
		t.Fatal("the MG and MM buttons are not offered for an analyzer that runs them")
	}
	genes := filepath.Join(t.TempDir(), "tumour-genes.csv")
	var asked []string
	answers := []string{genes}
	p.ChooseCSV = func(title string, done func(string)) {
		asked = append(asked, title)
		path := ""
		if len(answers) > 0 {
			path, answers = answers[0], answers[1:]
		}
		done(path)
	}

	test.Tap(p.omics.mg)
	waitFor(t, "the MG card", func() bool { return p.Result() != nil || p.Failure() != "" })
	if got := <-a.calls; got != "MG 1.2.3 tumour-genes.csv" {
		t.Errorf("the analyzer got %q", got)
	}
	if p.banner.Text != omicsBanner || !strings.Contains(p.card.Text, "mg-demo 1.0.0\ngenes: tumour-genes.csv\nKept: the local cache") {
		t.Errorf("MG card %q, banner %q", p.card.Text, p.banner.Text)
	}
	if m, banner := w.Reading.Labels(); m != st.Labels || banner != "" || !p.show.Hidden {
		t.Error("after MG the study's own label map is not the one drawn")
	}
	if p.omics.mg.Disabled() || p.omics.mm.Disabled() {
		t.Error("the buttons stay disabled after the run")
	}

	// MM: the gene CSV given, the RPPA file cancelled.
	answers = []string{genes, ""}
	test.Tap(p.omics.mm)
	waitFor(t, "the MM card", func() bool { return p.Result() != nil && p.Result().Model == "mm-demo 1.0.0" })
	if got := <-a.calls; got != "MM 1.2.3 genes=tumour-genes.csv rppa=" {
		t.Errorf("the analyzer got %q", got)
	}
	if !strings.Contains(p.card.Text, "RPPA: not given") || p.banner.Text != omicsBanner {
		t.Errorf("MM card %q, banner %q", p.card.Text, p.banner.Text)
	}
	if len(asked) != 3 || !strings.Contains(asked[1], "MM") || !strings.Contains(asked[2], "RPPA") {
		t.Errorf("the chooser was asked %q", asked)
	}

	// A cancelled gene file runs no MG.
	answers = nil
	p.RunMG()
	if len(a.calls) != 0 || p.Running() {
		t.Error("MG ran without a gene file")
	}
}

// TestAIPanelCancelsMM: an MM run shows its progress and the task's Cancel ends it; the panel says it failed
// and the buttons come back.
func TestAIPanelCancelsMM(t *testing.T) {
	st := smallStudy(t)
	a := omicsAnalyzer{calls: make(chan string, 10), block: true}
	w, _ := newTestWorkstation(t, Services{AI: a}, st)
	p := w.AI
	p.ChooseCSV = func(_ string, done func(string)) { done("") }
	p.RunMM()
	<-a.calls
	waitFor(t, "the progress", func() bool { return strings.Contains(p.job.line.Text, "MM: modalities 1/2") })
	if !p.Running() || !p.omics.mm.Disabled() || p.job.cancel.Hidden {
		t.Fatal("a running MM shows no cancel or leaves its button enabled")
	}
	test.Tap(p.job.cancel)
	waitFor(t, "the cancelled run", func() bool { return !p.Running() })
	if f := p.Failure(); f != "MM failed: context canceled" || p.Result() != nil || p.omics.mm.Disabled() {
		t.Errorf("after cancel: %q, result %v, MM disabled %v", f, p.Result(), p.omics.mm.Disabled())
	}
}

// TestAIPanelWithoutOmics: an analyzer that runs M1 only offers no MG or MM.
func TestAIPanelWithoutOmics(t *testing.T) {
	w, _ := newTestWorkstation(t, Services{AI: scriptedAnalyzer{}}, smallStudy(t))
	if !w.AI.omics.box.Hidden || !w.AI.omics.mg.Disabled() {
		t.Error("MG and MM are offered by an analyzer without them")
	}
}
