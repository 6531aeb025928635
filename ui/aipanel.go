package ui

import (
	"context"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/viewer"
)

// Analyzer runs the AI models on a study; inference/ implements it through an adapter in cmd/neuronova, so
// that this package builds without cgo.
type Analyzer interface {
	// RunM1 segments the tumour and runs the M1 heads on st, reporting each stage's progress from any
	// goroutine, and keeps the result (the local cache's outbox, or files); run for an order (orderID not
	// empty), the result carries the order to the server.
	RunM1(ctx context.Context, st *viewer.Study, orderID string, p func(stage string, done, total int)) (*AIResult, error)
}

// AIResult is what the AI panel shows of a model run.
type AIResult struct {
	Model  string           // model id and version
	Banner string           // the model card's banner, shown wherever the output appears
	Labels *viewer.LabelMap // the segmentation, on the grid of one of the study's series
	Lines  []string         // volumes, probabilities, risk group: one finding a line
	Saved  string           // where the result was kept
	// Summary is the result as a report reads it (model, volumes, heads); nil when not an M1 result.
	Summary *api.M1Summary
}

// AIPanel runs M1 on the open study with per-stage progress and cancel, shows the result card with the
// model's banner, and shows the segmentation in the viewports instead of the study's own label map.
type AIPanel struct {
	// OnResult is called with each result; OnOverlay when the reader switches between the AI segmentation
	// (ai true) and the study's own label map.
	OnResult  func(*AIResult)
	OnOverlay func(ai bool)
	// ChooseCSV asks for a CSV file (MG's and MM's inputs) and hands its path to done ("" cancelled).
	ChooseCSV func(title string, done func(path string))

	a       Analyzer
	study   *viewer.Study
	order   string // the order the next run is for ("" none)
	run     *hotButton
	omics   *omicsRow  // MG and MM (aimodels.go)
	remote  *serverRow // M1 on the server's job queue (serverrun.go)
	job     *task
	stage   *widget.Label // why the panel cannot run, or why the last run failed
	banner  *widget.Label
	card    *widget.Label
	show    *hotCheck
	result  *AIResult
	box     *fyne.Container
	results map[*viewer.Study]*AIResult

	lib         ResultLibrary   // where kept results are read back; nil none
	versions    *hotSelect      // the versions of the study's results, kept here or from the server
	versionsBox *fyne.Container // the list with its title, hidden when there is none
	kept        []ResultVersion // what versions lists
	reads       int             // reads of a version begun; a read's answer is shown only if it is the latest
}

// NewAIPanel makes the panel for a (nil: no models available).
func NewAIPanel(a Analyzer) *AIPanel {
	p := &AIPanel{a: a, stage: widget.NewLabel(""), job: newTask(), card: widget.NewLabel(""),
		results: map[*viewer.Study]*AIResult{}}
	p.stage.Wrapping, p.card.Wrapping = fyne.TextWrapWord, fyne.TextWrapWord
	p.banner = widget.NewLabel("")
	p.banner.Wrapping = fyne.TextWrapWord
	p.banner.Importance = widget.WarningImportance
	p.banner.TextStyle.Bold = true
	p.run = newButton("Run M1", "Segment the tumour on the exam's T1, T1CE, T2 and FLAIR (the Series tab chooses them)", p.Run)
	help := widget.NewLabel("Tumour segmentation (NCR, ED, ET) with volumes, grade, IDH, MGMT and survival risk.")
	help.Wrapping = fyne.TextWrapWord
	p.show = newCheck("Show the AI segmentation", func(on bool) {
		if p.OnOverlay != nil {
			p.OnOverlay(on)
		}
	})
	p.show.Hide()
	p.versions = newSelect(nil, func(string) { p.chooseVersion() })
	p.versions.PlaceHolder = "no kept result"
	p.versionsBox = container.NewVBox(widget.NewLabel("Versions, latest first (kept here and from the server):"), p.versions)
	p.versionsBox.Hide()
	p.omics = newOmicsRow(p)
	p.remote = newServerRow(p)
	p.box = container.NewVBox(help, p.run, p.remote.box, p.omics.box, p.job.content(), p.stage, p.versionsBox, p.banner, p.card, p.show)
	if a == nil {
		p.run.Disable()
		p.stage.SetText("No AI models are available (the ONNX Runtime library was not found).")
	}
	p.SetStudy(nil)
	return p
}

// Content is the panel's canvas object.
func (p *AIPanel) Content() fyne.CanvasObject { return p.box }

// Failure says why the last run failed, or "".
func (p *AIPanel) Failure() string {
	for _, m := range []string{"M1", "MG", "MM"} {
		if strings.HasPrefix(p.stage.Text, m+" failed: ") {
			return p.stage.Text
		}
	}
	return ""
}

// Result returns the result shown, or nil.
func (p *AIPanel) Result() *AIResult { return p.result }

// SetLibrary makes the panel read the results kept in lib when a study opens (nil: none).
func (p *AIPanel) SetLibrary(lib ResultLibrary) { p.lib = lib }

// SetStudy is called when a study opens; its earlier result, if any, is shown again, else the latest result
// kept in the library, read in a worker, with the list of its versions.
func (p *AIPanel) SetStudy(st *viewer.Study) {
	if p.job.stop != nil {
		p.job.stop()
	}
	p.study, p.order = st, ""
	if p.a != nil {
		if st == nil {
			p.run.Disable()
		} else {
			p.run.Enable()
		}
	}
	p.omics.enable(st != nil)
	p.remote.enable(st != nil)
	p.clearKeptFailure()
	p.setVersions(nil)
	p.showResult(p.results[st])
	p.restore(st, true)
}

// Run runs M1 on the open study in a worker.
func (p *AIPanel) Run() {
	if p.a == nil || p.study == nil {
		return
	}
	a, st, order := p.a, p.study, p.order
	var res *AIResult
	what := "M1"
	if order != "" {
		what += " for order " + order
	}
	started := p.job.start(what, func(ctx context.Context, prog progressFunc) (err error) {
		res, err = a.RunM1(ctx, st, order, prog)
		return err
	}, func(err error) {
		p.run.Enable()
		switch {
		case p.study != st: // another study opened meanwhile
		case err != nil:
			p.stage.SetText("M1 failed: " + err.Error())
		default:
			p.results[st] = res
			p.showResult(res)
			if p.OnResult != nil {
				p.OnResult(res)
			}
			p.show.SetChecked(true)
			p.restore(st, false) // the run is the latest version now
		}
	})
	if started {
		p.run.Disable()
		p.stage.SetText("")
	}
}

// RunFor runs M1 on the open study for an order: its result carries the order ID to the server.
func (p *AIPanel) RunFor(orderID string) {
	p.order = orderID
	p.Run()
}

// Running reports whether a run is under way.
func (p *AIPanel) Running() bool { return p.job.running() }

func (p *AIPanel) showResult(res *AIResult) {
	p.result = res
	if res == nil {
		p.banner.SetText("")
		p.card.SetText("")
		p.show.Hide()
		return
	}
	p.banner.SetText(res.Banner)
	text := res.Model + "\n" + strings.Join(res.Lines, "\n")
	if res.Saved != "" {
		text += "\nKept: " + res.Saved
	}
	p.card.SetText(text)
	p.show.Show()
}
