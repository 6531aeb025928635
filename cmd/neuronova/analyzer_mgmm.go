package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/inference/mg"
	"github.com/neuronova/neuronova/inference/mm"
	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/ui"
	"github.com/neuronova/neuronova/viewer"
)

// MG and MM in the window: their results are kept in the cache as kinds "mg" and "mm", each an
// api.AIResultUpload (model, version, study; the provenance names the model, the runtime and what each
// modality was), with its outbox row, sent at the next sync.

var _ ui.OmicsAnalyzer = analyzer{}

// omicsProvenance is the provenance kept with an MG or MM result: Sources are the card's statements of its
// inputs ("gene", "mri", "protein" → "tumour.csv", "not given").
type omicsProvenance struct {
	Model   any               `json:"model"`
	Runtime any               `json:"runtime"`
	Sources map[string]string `json:"sources"`
}

// The modalities of an MM card, in the order it states them.
var mmModalities = []struct{ key, label string }{{mm.ModalityMRI, "MRI"}, {mm.ModalityGene, "Genes"}, {mm.ModalityProtein, "RPPA"}}

// notGiven is the card's statement of a missing modality.
const notGiven = "not given"

func (a analyzer) RunMG(ctx context.Context, st *viewer.Study, genes string, p func(stage string, done, total int)) (*ui.AIResult, error) {
	p("MG on "+filepath.Base(genes), 0, 2)
	res, err := a.runMG(ctx, genes)
	if err != nil {
		return nil, err
	}
	p("keep the result", 1, 2)
	src := map[string]string{mm.ModalityGene: filepath.Base(genes)}
	out := &ui.AIResult{Model: res.Model.ID + " " + res.Model.Version, Banner: res.Banner, Lines: mgFindings(res, src)}
	if out.Saved, err = a.keepOmics(ctx, st, "", api.ModelMG, res.Model.Version, res, omicsProvenance{res.Model, res.Runtime, src}); err != nil {
		return nil, fmt.Errorf("MG ran but its result could not be kept: %w", err)
	}
	p("keep the result", 2, 2)
	return out, nil
}

// runMG runs the default MG model on the gene CSV at path.
func (a analyzer) runMG(ctx context.Context, path string) (*mg.Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("gene CSV: %w", err)
	}
	defer f.Close()
	res, err := mg.Run(ctx, a.rt, mg.Request{CSV: f, SourceName: filepath.Base(path)})
	if err != nil {
		return nil, fmt.Errorf("MG on %s: %w", filepath.Base(path), err)
	}
	return res, nil
}

func (a analyzer) RunMM(ctx context.Context, st *viewer.Study, in ui.MMInput, p func(stage string, done, total int)) (*ui.AIResult, error) {
	src := map[string]string{mm.ModalityMRI: notGiven, mm.ModalityGene: notGiven, mm.ModalityProtein: notGiven}
	p("the study's M1 embedding", 0, 4)
	req, own, err := a.keptEmbedding(ctx, st, src)
	if err != nil {
		return nil, err
	}
	if in.Genes != "" {
		p("MG on "+filepath.Base(in.Genes), 1, 4)
		g, err := a.runMG(ctx, in.Genes)
		if err != nil {
			return nil, err
		}
		req.Gene = mm.FromMG(g)
		src[mm.ModalityGene] = mgSource(filepath.Base(in.Genes), g)
	}
	if in.Proteins != "" {
		f, err := os.Open(in.Proteins)
		if err != nil {
			return nil, fmt.Errorf("RPPA CSV: %w", err)
		}
		defer f.Close()
		req.ProteinCSV, req.ProteinSourceName = f, filepath.Base(in.Proteins)
		src[mm.ModalityProtein] = filepath.Base(in.Proteins)
	}
	p("MM", 2, 4)
	res, err := mm.Run(ctx, a.rt, req)
	if err != nil {
		return nil, fmt.Errorf("MM: %w", err)
	}
	p("keep the result", 3, 4)
	out := &ui.AIResult{Model: res.Model.ID + " " + res.Model.Version, Banner: res.Banner, Lines: mmFindings(res, src)}
	if out.Saved, err = a.keepOmics(ctx, st, own, api.ModelMM, res.Model.Version, res, omicsProvenance{res.Model, res.Runtime, src}); err != nil {
		return nil, fmt.Errorf("MM ran but its result could not be kept: %w", err)
	}
	p("keep the result", 4, 4)
	return out, nil
}

// mgSource states the gene features MM read: the CSV named name through the MG run g.
func mgSource(name string, g *mg.Result) string {
	return fmt.Sprintf("%s through %s %s", name, g.Model.ID, g.Model.Version)
}

// keptEmbedding is an MM request with the MRI embedding of the latest M1 result kept for exam st, if any,
// stated in src, and the study that result is kept under ("" none).
func (a analyzer) keptEmbedding(ctx context.Context, st *viewer.Study, src map[string]string) (mm.Request, string, error) {
	if a.cache == nil {
		src[mm.ModalityMRI] = notGiven + " (no local cache keeps an M1 result)"
		return mm.Request{}, "", nil
	}
	e, own, why, err := keptM1Embedding(ctx, a.cache, st.StudyUIDs())
	if err != nil || e == nil {
		src[mm.ModalityMRI] = notGiven + " (" + why + ")"
		return mm.Request{}, own, err
	}
	src[mm.ModalityMRI] = e.From
	return mm.Request{MRI: &mm.Embedding{Values: e.Values, Source: e.Source}}, own, nil
}

// keptM1Embedding is the MRI embedding of the latest M1 result kept in c for any of the studies uids, and
// the study it is kept under ("" none); without one, why says so.
func keptM1Embedding(ctx context.Context, c *cache.Cache, uids []string) (e *mmEmbedding, own, why string, err error) {
	var best cache.ResultVersion
	for _, uid := range uids {
		rows, err := c.StudyResults(ctx, uid)
		if err != nil {
			return nil, "", "", err
		}
		for _, r := range rows { // latest first
			if r.Kind == "m1" && (own == "" || r.CreatedAt.After(best.CreatedAt)) {
				best, own = r, uid
				break
			}
		}
	}
	if own == "" {
		return nil, "", "no M1 result is kept for this study: run M1 first", nil
	}
	b, err := c.ResultPayload(ctx, best.ID)
	if err != nil {
		return nil, "", "", err
	}
	res, _, err := parseKeptM1(b)
	if err != nil {
		return nil, "", "", err
	}
	if len(res.Embedding) == 0 {
		return nil, own, "the kept M1 result of " + res.Model.ID + " has no embedding", nil
	}
	return &mmEmbedding{Values: res.Embedding, Source: &mm.Source{ModelID: res.Model.ID, Family: res.Model.Family, Version: res.Model.Version,
		SHA256: res.Model.SHA256}, From: fmt.Sprintf("embedding of the M1 run %s %s of %s", res.Model.ID, res.Model.Version,
		best.CreatedAt.Local().Format("2006-01-02 15:04"))}, own, "", nil
}

// keepOmics records an MG or MM result (res, the pipeline's result) of exam st in the cache, under study own
// ("" the exam's first cached study), and says where it went.
func (a analyzer) keepOmics(ctx context.Context, st *viewer.Study, own, model, version string, res any, prov omicsProvenance) (string, error) {
	if a.cache == nil {
		return "nowhere: no local cache is open", nil
	}
	if own == "" {
		for _, uid := range st.StudyUIDs() {
			if _, err := a.cache.StudyInfo(ctx, uid); err == nil {
				own = uid
				break
			}
		}
	}
	if own == "" {
		return "nowhere: the study is not in the local cache (import it to keep AI results)", nil
	}
	js, err := json.Marshal(res)
	if err != nil {
		return "", err
	}
	pj, err := json.Marshal(prov)
	if err != nil {
		return "", err
	}
	up, err := json.Marshal(api.AIResultUpload{Model: model, ModelVersion: version, StudyUID: own, Result: js, Provenance: pj})
	if err != nil {
		return "", err
	}
	if err := a.cache.RecordAudit(ctx, a.cache.Actor(), "model.run", own, fmt.Sprintf("%s %s on %s", model, version, st.UID)); err != nil {
		return "", err
	}
	if _, _, err := a.cache.RecordRunOnce(ctx, own, runKey(ctx), []cache.ResultInput{{Kind: strings.ToLower(model), Payload: up}}); err != nil {
		return "", err
	}
	return "the local cache (result in the outbox, sent at the next sync)", nil
}

// mgFindings are an MG result's predictions, a line each, as the AI panel shows them; src names the gene file.
func mgFindings(res *mg.Result, src map[string]string) []string {
	lines := []string{
		fmt.Sprintf("survival risk %.2f: %s", res.Risk.Score, res.Risk.Group),
		fmt.Sprintf("grade %s (%.2f)  survival %.0f days (%.1f months)", res.Grade.Predicted, res.Grade.Probability, res.SurvivalTime.Days, res.SurvivalTime.Months),
		fmt.Sprintf("recurrence %s (%.2f)  TMZ response %s", res.Recurrence.Predicted, res.Recurrence.Probability, res.TMZResponse.Status),
	}
	var top []string
	for _, g := range res.TopGenes[:min(5, len(res.TopGenes))] {
		top = append(top, g.Gene)
	}
	if len(top) > 0 {
		lines = append(lines, "top genes: "+strings.Join(top, ", "))
	}
	a, name := res.Alignment, src[mm.ModalityGene]
	if name == "" && len(res.Inputs) > 0 {
		name = res.Inputs[0].Name
	}
	lines = append(lines, fmt.Sprintf("Genes: %s (%d of the model's %d genes matched)", name, a.Matched, a.ModelFeatures))
	return append(lines, res.Warnings...)
}

// mmFindings are an MM result's predictions and each modality's source (src) and share, a line each.
func mmFindings(res *mm.Result, src map[string]string) []string {
	s := res.Survival
	lines := []string{
		fmt.Sprintf("risk group %s (score %.2f, hazard ratio %.2f)", res.RiskGroup.Predicted, s.RiskScore, s.HazardRatio),
		fmt.Sprintf("survival 6 months %.0f%%, 12 months %.0f%%  recurrence %s (%.2f)", 100*s.Probability6m, 100*s.Probability12m,
			res.Recurrence.Predicted, res.Recurrence.Probability),
	}
	for _, m := range mmModalities {
		line := m.label + ": " + src[m.key]
		if line == m.label+": " {
			line += notGiven
		}
		for _, mod := range res.Modalities {
			if mod.Name == m.key && mod.Present {
				line += fmt.Sprintf(" (share %.0f%%)", 100*mod.Contribution)
			}
		}
		lines = append(lines, line)
	}
	return lines
}

// parseKeptOmics reads a kept MG or MM result (an upload wrapping the pipeline's JSON) as the card shows it.
func parseKeptOmics(b []byte) (*ui.AIResult, error) {
	var up api.AIResultUpload
	if err := json.Unmarshal(b, &up); err != nil || len(up.Result) == 0 {
		return nil, errors.New("kept MG or MM result: not an AI result upload")
	}
	var prov omicsProvenance
	if len(up.Provenance) > 0 {
		if err := json.Unmarshal(up.Provenance, &prov); err != nil {
			return nil, fmt.Errorf("kept %s result: provenance: %w", up.Model, err)
		}
	}
	switch up.Model {
	case api.ModelMG:
		var res mg.Result
		if err := json.Unmarshal(up.Result, &res); err != nil {
			return nil, fmt.Errorf("kept MG result: %w", err)
		}
		return omicsCard(res.Model.ID, res.Model.Version, res.Banner, mgFindings(&res, prov.Sources))
	case api.ModelMM:
		var res mm.Result
		if err := json.Unmarshal(up.Result, &res); err != nil {
			return nil, fmt.Errorf("kept MM result: %w", err)
		}
		return omicsCard(res.Model.ID, res.Model.Version, res.Banner, mmFindings(&res, prov.Sources))
	}
	return nil, fmt.Errorf("kept result of model %q: want MG or MM", up.Model)
}

func omicsCard(id, version, banner string, lines []string) (*ui.AIResult, error) {
	if strings.TrimSpace(id) == "" {
		return nil, errors.New("kept MG or MM result: no model named")
	}
	return &ui.AIResult{Model: id + " " + version, Banner: banner, Lines: lines}, nil
}

// omicsKind reports whether a kept result's kind is an MG or MM result.
func omicsKind(kind string) bool { return kind == "mg" || kind == "mm" }

// omicsVersion reads the card of kept MG or MM run (its only result) and where it is kept.
func (l library) omicsVersion(ctx context.Context, run []cache.ResultVersion) (*ui.AIResult, error) {
	b, err := l.c.ResultPayload(ctx, run[0].ID)
	if err != nil {
		return nil, err
	}
	out, err := parseKeptOmics(b)
	if err != nil {
		return nil, err
	}
	out.Saved = strings.Replace(keptWhere(run, ""), "result and SEG", "result", 1)
	return out, nil
}

// omicsModel is the model id of kept MG or MM result r ("" when it cannot be read).
func (l library) omicsModel(ctx context.Context, r cache.ResultVersion) string {
	b, err := l.c.ResultPayload(ctx, r.ID)
	if err != nil {
		return ""
	}
	res, err := parseKeptOmics(b)
	if err != nil {
		return ""
	}
	id, _, _ := strings.Cut(res.Model, " ")
	return id
}

// chooseCSV asks for a CSV file to open (MG's and MM's inputs) and hands its path to done ("" cancelled).
func chooseCSV(w fyne.Window, title string, done func(string)) {
	d := dialog.NewFileOpen(func(f fyne.URIReadCloser, err error) {
		if err != nil || f == nil {
			done("")
			return
		}
		f.Close()
		done(f.URI().Path())
	}, w)
	d.SetFilter(storage.NewExtensionFileFilter([]string{".csv", ".tsv", ".txt"}))
	d.SetTitleText(title)
	d.Show()
}

// serverOmicsCard reads an MG or MM result as the server holds it (another workstation's, say) as its card.
func serverOmicsCard(r api.AIResult) (*ui.AIResult, error) {
	if r.Model != api.ModelMG && r.Model != api.ModelMM {
		return nil, fmt.Errorf("server result %s is of model %s", r.ID, r.Model)
	}
	b, err := json.Marshal(api.AIResultUpload{Model: r.Model, ModelVersion: r.ModelVersion, Result: r.Result, Provenance: r.Provenance})
	if err != nil {
		return nil, err
	}
	return parseKeptOmics(b)
}
