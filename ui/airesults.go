package ui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/viewer"
)

// What the AI panel says when a kept result cannot be read.
const (
	keptFailure    = "Kept AI results could not be read: "
	versionFailure = "A listed version could not be read: "
)

// ResultLibrary is a Library that keeps AI results: when a study opens, the AI panel lists its kept
// results and shows the latest, with its overlay.
type ResultLibrary interface {
	// Results lists the versions of the AI results kept for exam st (any of its studies) and the results
	// the server holds for it, latest first, each result once.
	Results(ctx context.Context, st *viewer.Study) ([]ResultVersion, error)
	// Result reads version v of exam st's results as the AI panel shows it: its card and label map.
	Result(ctx context.Context, st *viewer.Study, v ResultVersion) (*AIResult, error)
}

// ResultVersion is one version of an AI result: a model's run (version 1) or an edit of it kept here, or a
// result from the server (Run 0).
type ResultVersion struct {
	StudyUID string // the study it is kept under
	Run      int64  // the library's key of the version (the results recorded together); 0 for the server's only
	Version  int
	Model    string // the model of its lineage ("m1-demo")
	Editor   string // "" for a model's output
	Time     time.Time
	// Server is the server's copy of the run, as the last sync brought it; nil when the server has not
	// listed it.
	Server *ServerReview
}

// ServerReview is an AI result as the server holds it: its id, who ran it and its review.
type ServerReview struct {
	ID       string // ai_req_0001
	RunBy    string // who uploaded it
	Status   string // pending, approved or rejected
	Reviewer string // "" while pending
	Comment  string
	At       time.Time // of the review; zero while pending
}

// String is the review as the AI panel lists it: "approved by Dr Ada — agrees" or "pending review".
func (r ServerReview) String() string {
	if r.Status == "" || r.Status == api.ReviewPending {
		return "pending review"
	}
	s := r.Status
	if r.Reviewer != "" {
		s += " by " + r.Reviewer
	}
	if r.Comment != "" {
		s += " — " + r.Comment
	}
	return s
}

// String is the version as the AI panel lists it: "v1 AI run m1-demo, 2026-12-03 05:20", "v2 edited by
// alice, 2026-12-03 05:31", with the server's review when the server lists it ("…; server ai_req_0001,
// approved by Dr Ada"), and a result run elsewhere as "server ai_req_0002: M1 m1-demo run by rita,
// 2026-12-03 05:40, pending review".
func (v ResultVersion) String() string {
	when := v.Time.Local().Format("2006-01-02 15:04")
	var s string
	switch {
	case v.Run == 0 && v.Server != nil:
		by := ""
		if v.Server.RunBy != "" {
			by = " run by " + v.Server.RunBy
		}
		return fmt.Sprintf("server %s: %s%s, %s, %s", v.Server.ID, v.Model, by, when, v.Server)
	case v.Editor != "":
		s = fmt.Sprintf("v%d edited by %s, %s", v.Version, v.Editor, when)
	default:
		s = fmt.Sprintf("v%d AI run %s, %s", v.Version, v.Model, when)
	}
	if v.Server != nil {
		s += fmt.Sprintf("; server %s, %s", v.Server.ID, v.Server)
	}
	return s
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
	p.reads++
	read := p.reads
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
			if res != nil && p.result == nil && read == p.reads {
				p.restored(res)
			}
		})
	}()
}

// Refresh lists the open study's versions again (a sync brought the server's results or reviews): the entry
// shown stays selected and is read again when the list says something new of it; with nothing shown, the
// latest is.
func (p *AIPanel) Refresh() {
	lib, st := p.lib, p.study
	if lib == nil || st == nil || p.Running() {
		return
	}
	go func() {
		vs, err := lib.Results(context.Background(), st)
		do(func() {
			if p.study != st || err != nil {
				return // another study opened meanwhile, or the list stays as it was
			}
			key, was := "", ""
			if i := p.versions.SelectedIndex(); i >= 0 && i < len(p.kept) {
				key, was = versionKey(p.kept[i]), p.versions.Options[i]
			}
			p.setVersions(vs)
			if len(vs) == 0 {
				return
			}
			if p.result == nil {
				p.chooseVersion()
				return
			}
			for i, v := range vs {
				if versionKey(v) == key {
					p.selectVersion(i)
					if p.versions.Options[i] != was {
						p.chooseVersion()
					}
					return
				}
			}
		})
	}()
}

// versionKey names a listed version across listings.
func versionKey(v ResultVersion) string {
	if v.Run == 0 && v.Server != nil {
		return "server " + v.Server.ID
	}
	return fmt.Sprintf("%s %d", v.StudyUID, v.Run)
}

// setVersions lists vs, the first (latest) selected.
func (p *AIPanel) setVersions(vs []ResultVersion) {
	p.kept = vs
	opts := make([]string, len(vs))
	for i, v := range vs {
		opts[i] = v.String()
	}
	p.versions.Options = opts
	p.selectVersion(0)
	if len(opts) == 0 {
		p.versionsBox.Hide()
	} else {
		p.versionsBox.Show()
	}
}

// selectVersion selects entry i of the list (none when out of range) without reading it: listing is not
// choosing.
func (p *AIPanel) selectVersion(i int) {
	changed := p.versions.OnChanged
	p.versions.OnChanged = nil
	p.versions.ClearSelected()
	if i >= 0 && i < len(p.versions.Options) {
		p.versions.SetSelectedIndex(i)
	}
	p.versions.OnChanged = changed
	p.versions.Refresh()
}

// chooseVersion reads and shows the kept version chosen in the list.
func (p *AIPanel) chooseVersion() {
	i := p.versions.SelectedIndex()
	lib, st := p.lib, p.study
	if lib == nil || st == nil || i < 0 || i >= len(p.kept) {
		return
	}
	v, label := p.kept[i], p.versions.Options[i]
	p.reads++
	read := p.reads
	go func() {
		res, err := lib.Result(context.Background(), st, v)
		do(func() {
			switch {
			case p.study != st, read != p.reads: // another study opened, or another version chosen, meanwhile
			case err != nil:
				p.stage.SetText(versionFailure + label + ": " + err.Error())
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
	if res.Labels == nil { // a server result with no SEG here: the study's own label map
		p.show.Hide()
		if p.show.Checked {
			p.show.SetChecked(false)
		}
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
