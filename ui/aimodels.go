package ui

import (
	"context"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/neuronova/neuronova/viewer"
)

// OmicsAnalyzer is an Analyzer that also runs MG and MM; the AI panel offers them when its Analyzer is one.
type OmicsAnalyzer interface {
	// RunMG runs MG on the gene-expression CSV at path genes for study st, and keeps the result as RunM1 does.
	RunMG(ctx context.Context, st *viewer.Study, genes string, p func(stage string, done, total int)) (*AIResult, error)
	// RunMM runs MM on the MRI embedding of st's kept M1 result (when there is one) and the CSVs of in, and
	// keeps the result as RunM1 does; the card states each missing modality.
	RunMM(ctx context.Context, st *viewer.Study, in MMInput, p func(stage string, done, total int)) (*AIResult, error)
}

// MMInput are the files an MM run reads besides the study's M1 embedding; "" is a modality not given.
type MMInput struct {
	Genes    string // gene-expression CSV (MG runs on it first)
	Proteins string // RPPA CSV
}

// omicsRow is the AI panel's MG and MM buttons.
type omicsRow struct {
	p      *AIPanel
	a      OmicsAnalyzer // nil: the analyzer runs M1 only
	mg, mm *hotButton
	box    *fyne.Container
}

func newOmicsRow(p *AIPanel) *omicsRow {
	r := &omicsRow{p: p}
	r.a, _ = p.a.(OmicsAnalyzer)
	r.mg = newButton("Run MG…", "Gene-expression model: choose the tumour's gene CSV (Hugo_Symbol,Entrez_Gene_Id,Expression)", r.runMG)
	r.mm = newButton("Run MM…", "Multimodal model: the study's kept M1 embedding, then a gene CSV and an RPPA CSV (cancel: not given)", r.runMM)
	help := widget.NewLabel("MG: grade, survival and TMZ response from gene expression. MM: survival risk from MRI, genes and proteins; a missing one is allowed.")
	help.Wrapping = fyne.TextWrapWord
	r.box = container.NewVBox(help, container.NewGridWithColumns(2, r.mg, r.mm))
	if r.a == nil {
		r.box.Hide()
	}
	r.enable(false)
	return r
}

// enable makes the buttons usable (on: a study is open and nothing runs) or not.
func (r *omicsRow) enable(on bool) {
	for _, b := range []*hotButton{r.mg, r.mm} {
		if on && r.a != nil {
			b.Enable()
		} else {
			b.Disable()
		}
	}
}

// choose asks for a CSV file through the panel's ChooseCSV and hands its path to done ("" cancelled or no
// chooser).
func (r *omicsRow) choose(title string, done func(string)) {
	if r.p.ChooseCSV == nil {
		done("")
		return
	}
	r.p.ChooseCSV(title, done)
}

func (r *omicsRow) runMG() {
	r.choose("Gene-expression CSV for MG", func(genes string) {
		if genes == "" {
			return
		}
		r.run("MG", func(ctx context.Context, st *viewer.Study, prog progressFunc) (*AIResult, error) {
			return r.a.RunMG(ctx, st, genes, prog)
		})
	})
}

func (r *omicsRow) runMM() {
	r.choose("Gene-expression CSV for MM (cancel: not given)", func(genes string) {
		r.choose("RPPA CSV for MM (cancel: not given)", func(proteins string) {
			in := MMInput{Genes: genes, Proteins: proteins}
			r.run("MM", func(ctx context.Context, st *viewer.Study, prog progressFunc) (*AIResult, error) {
				return r.a.RunMM(ctx, st, in, prog)
			})
		})
	})
}

// run runs model on the open study in the panel's task, and shows its card; its result has no label map, so
// the study's own is drawn.
func (r *omicsRow) run(model string, work func(context.Context, *viewer.Study, progressFunc) (*AIResult, error)) {
	p := r.p
	if r.a == nil || p.study == nil {
		return
	}
	st := p.study
	var res *AIResult
	started := p.job.start(model, func(ctx context.Context, prog progressFunc) (err error) {
		res, err = work(ctx, st, prog)
		return err
	}, func(err error) {
		r.enable(p.study != nil)
		switch {
		case p.study != st:
		case err != nil:
			p.stage.SetText(model + " failed: " + err.Error())
		default:
			p.restored(res)
			p.restore(st, false) // the run is the latest version now
		}
	})
	if started {
		r.enable(false)
		p.stage.SetText("")
	}
}

// RunMG asks for a gene CSV and runs MG on the open study (the "Run MG…" button).
func (p *AIPanel) RunMG() { p.omics.runMG() }

// RunMM asks for a gene CSV and an RPPA CSV, either of which may be cancelled, and runs MM on the open
// study (the "Run MM…" button).
func (p *AIPanel) RunMM() { p.omics.runMM() }
