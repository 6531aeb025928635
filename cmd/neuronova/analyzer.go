package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/cmd/neuronova/internal/jobq"
	"github.com/neuronova/neuronova/inference"
	"github.com/neuronova/neuronova/inference/m1"
	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/ui"
	"github.com/neuronova/neuronova/viewer"
)

// analyzer adapts the M1 pipeline to the workstation's ui.Analyzer. Results of cached studies are kept in
// the cache: the JSON and the SEG with their outbox rows in one transaction, sent at the next sync.
type analyzer struct {
	rt    *inference.Runtime
	cache *cache.Cache // nil: results are shown, not kept
	jobs  *jobq.Queue  // nil: runs go without the job queue (analyzerjobs.go)
}

var _ ui.Analyzer = analyzer{}

func (a analyzer) RunM1(ctx context.Context, st *viewer.Study, orderID string, p func(stage string, done, total int)) (*ui.AIResult, error) {
	if a.jobs != nil {
		return a.queuedM1(ctx, st, orderID, p)
	}
	return a.runM1(ctx, st, st.Sequences, orderID, p)
}

// runM1 runs M1 on st with series, the reader's choice of sequences (nil none), and keeps the result.
func (a analyzer) runM1(ctx context.Context, st *viewer.Study, series map[viewer.SeriesType]string, orderID string, p func(stage string, done, total int)) (*ui.AIResult, error) {
	res, err := m1.Run(ctx, a.rt, m1.Request{Study: st, Series: series, Progress: p})
	if err != nil {
		return nil, err
	}
	out := &ui.AIResult{Model: res.Model.ID + " " + res.Model.Version, Banner: res.Banner, Labels: res.Labels, Lines: m1Findings(res)}
	if js, err := json.Marshal(res); err == nil {
		out.Summary, _ = api.ParseM1Summary(js) // what the report form fills from before the server has it
	}
	if a.cache != nil {
		detail := fmt.Sprintf("%s %s on %s", res.Model.ID, res.Model.Version, res.Runtime.Provider.Used)
		if orderID != "" {
			detail += ", for order " + orderID
		}
		if err := a.cache.RecordAudit(ctx, a.cache.Actor(), "model.run", st.UID, detail); err != nil {
			return nil, err
		}
	}
	if out.Saved, err = a.keep(ctx, st, orderID, res); err != nil {
		return nil, fmt.Errorf("M1 ran but its result could not be kept: %w", err)
	}
	return out, nil
}

// keep records res (run for orderID, "" none) in the cache when st is a cached study, and says where it went.
func (a analyzer) keep(ctx context.Context, st *viewer.Study, orderID string, res *m1.Result) (string, error) {
	if a.cache == nil {
		return "nowhere: no local cache is open", nil
	}
	// In an exam of several studies the result belongs to the reference series' own study.
	own := st
	if se := seriesByUID(st, res.Reference.SeriesUID); se != nil {
		own = st.StudyOf(se)
	}
	if _, err := a.cache.StudyInfo(ctx, own.UID); err != nil {
		return "nowhere: the study is not in the local cache (import it to keep AI results); `neuronova infer` writes files", nil
	}
	ref, err := scannedSeries(ctx, st, res.Reference.SeriesUID)
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "neuronova-m1-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	segPath := filepath.Join(dir, m1SEGFile)
	if err := writeM1SEG(segPath, own, ref, res); err != nil {
		return "", err
	}
	if err := recordM1For(ctx, a.cache, own.UID, orderID, res, segPath); err != nil {
		return "", err
	}
	if orderID != "" {
		return "the local cache for order " + orderID + " (result and SEG in the outbox, sent at the next sync)", nil
	}
	return "the local cache (result and SEG in the outbox, sent at the next sync)", nil
}

// scannedSeries reads the headers of series uid of st again: the cache lists a study's instances without
// their positions, which the SEG needs to reference each slice.
func scannedSeries(ctx context.Context, st *viewer.Study, uid string) (*viewer.Series, error) {
	se := seriesByUID(st, uid)
	if se == nil || len(se.Instances) == 0 {
		return nil, fmt.Errorf("the reference series %s has no DICOM instances for the SEG to reference", uid)
	}
	paths := make([]string, len(se.Instances))
	for i, in := range se.Instances {
		paths[i] = in.Path
	}
	res, err := viewer.Scan(ctx, paths)
	if err != nil {
		return nil, err
	}
	for _, s := range res.Studies {
		if found := seriesByUID(s, uid); found != nil {
			return found, nil
		}
	}
	return nil, fmt.Errorf("the files of the reference series %s could not be read again", uid)
}

// recordM1 keeps an M1 result and its SEG (the file at segPath) in the cache: both with their outbox rows in
// one transaction, for the next sync.
func recordM1(ctx context.Context, c *cache.Cache, studyUID string, res *m1.Result, segPath string) error {
	return recordM1For(ctx, c, studyUID, "", res, segPath)
}

// recordM1For is recordM1 for a run for an order (orderID not empty): the result goes up as an upload naming
// the order, with the model and runtime as its provenance.
func recordM1For(ctx context.Context, c *cache.Cache, studyUID, orderID string, res *m1.Result, segPath string) error {
	seg, err := os.ReadFile(segPath)
	if err != nil {
		return err
	}
	js, err := json.Marshal(res)
	if err != nil {
		return err
	}
	if orderID != "" {
		prov, err := json.Marshal(map[string]any{"model": res.Model, "runtime": res.Runtime})
		if err != nil {
			return err
		}
		if js, err = json.Marshal(api.AIResultUpload{Model: api.ModelM1, ModelVersion: res.Model.Version, OrderID: orderID,
			StudyUID: studyUID, Result: js, Provenance: prov}); err != nil {
			return err
		}
	}
	_, _, err = c.RecordRunOnce(ctx, studyUID, runKey(ctx), []cache.ResultInput{{Kind: "m1", Payload: js}, {Kind: "seg", Payload: seg}})
	return err
}
