package ui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/neuronova/neuronova/viewer"
)

// What the AI panel says when a kept result cannot be read.
const (
	keptFailure    = "Kept AI results could not be read: "
	versionFailure = "A kept version could not be read: "
)

// ResultLibrary is a Library that keeps AI results: when a study opens, the AI panel lists its kept
// results and shows the latest, with its overlay.
type ResultLibrary interface {
	// Results lists the versions of the AI results kept for exam st (any of its studies), latest first.
	Results(ctx context.Context, st *viewer.Study) ([]ResultVersion, error)
	// Result reads version v of exam st's results as the AI panel shows it: its card and label map.
	Result(ctx context.Context, st *viewer.Study, v ResultVersion) (*AIResult, error)
}

// ResultVersion is one version of a kept AI result: a model's run (version 1) or an edit of it.
type ResultVersion struct {
	StudyUID string // the study it is kept under
	Run      int64  // the library's key of the version (the results recorded together)
	Version  int
	Model    string // the model of its lineage ("m1-demo")
	Editor   string // "" for a model's output
	Time     time.Time
}

// String is the version as the AI panel lists it: "v1 AI run m1-demo, 2026-12-03 05:20" or
// "v2 edited by alice, 2026-12-03 05:31".
func (v ResultVersion) String() string {
	when := v.Time.Local().Format("2006-01-02 15:04")
	if v.Editor != "" {
		return fmt.Sprintf("v%d edited by %s, %s", v.Version, v.Editor, when)
	}
	return fmt.Sprintf("v%d AI run %s, %s", v.Version, v.Model, when)
}

// Versions lists the kept versions of the open study's results as the panel shows them, latest first.
func (p *AIPanel) Versions() []string { return p.versions.Options }

// ChooseVersion shows the kept version at index i of Versions.
func (p *AIPanel) ChooseVersion(i int) { p.versions.SetSelectedIndex(i) }

// restore reads the kept versions of st's results in a worker and, unless show is false or a result of
// this session is shown, the latest.
func (p *AIPanel) restore(st *viewer.Study, show bool) {
	lib := p.lib
	if lib == nil || st == nil {
		return
	}
	go func() {
		ctx := context.Background()
		vs, err := lib.Results(ctx, st)
		var res *AIResult
		if err == nil && len(vs) > 0 && show {
			res, err = lib.Result(ctx, st, vs[0])
		}
		do(func() {
			if p.study != st {
				return // another study opened meanwhile
			}
			p.setVersions(vs)
			if err != nil {
				p.stage.SetText(keptFailure + err.Error())
				return
			}
			if res != nil && p.result == nil {
				p.restored(res)
			}
		})
	}()
}

// setVersions lists vs, the first (latest) selected.
func (p *AIPanel) setVersions(vs []ResultVersion) {
	p.kept = vs
	opts := make([]string, len(vs))
	for i, v := range vs {
		opts[i] = v.String()
	}
	changed := p.versions.OnChanged
	p.versions.OnChanged = nil // listing is not choosing
	p.versions.Options = opts
	p.versions.ClearSelected()
	if len(opts) > 0 {
		p.versions.SetSelectedIndex(0)
	}
	p.versions.OnChanged = changed
	p.versions.Refresh()
	if len(opts) == 0 {
		p.versionsBox.Hide()
	} else {
		p.versionsBox.Show()
	}
}

// chooseVersion reads and shows the kept version chosen in the list.
func (p *AIPanel) chooseVersion() {
	i := p.versions.SelectedIndex()
	lib, st := p.lib, p.study
	if lib == nil || st == nil || i < 0 || i >= len(p.kept) {
		return
	}
	v := p.kept[i]
	go func() {
		res, err := lib.Result(context.Background(), st, v)
		do(func() {
			switch {
			case p.study != st:
			case err != nil:
				p.stage.SetText(fmt.Sprintf("%sv%d: %v", versionFailure, v.Version, err))
			default:
				p.clearKeptFailure()
				p.restored(res)
			}
		})
	}()
}

// restored shows a kept result and draws its segmentation.
func (p *AIPanel) restored(res *AIResult) {
	p.results[p.study] = res
	p.showResult(res)
	if res.Labels == nil {
		return
	}
	if p.show.Checked {
		if p.OnOverlay != nil {
			p.OnOverlay(true)
		}
		return
	}
	p.show.SetChecked(true) // draws it through OnOverlay
}

// clearKeptFailure takes away what the panel said when a kept result could not be read.
func (p *AIPanel) clearKeptFailure() {
	if t := p.stage.Text; strings.HasPrefix(t, keptFailure) || strings.HasPrefix(t, versionFailure) {
		p.stage.SetText("")
	}
}
