package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/cmd/neuronova/internal/jobq"
	"github.com/neuronova/neuronova/inference"
	"github.com/neuronova/neuronova/inference/m1"
	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/sync/m1keep"
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
	_, _, err := m1keep.Keep(ctx, a.cache, st, res, m1keep.Options{OrderID: orderID, RunKey: runKey(ctx)})
	switch {
	case errors.Is(err, m1keep.ErrNotCached):
		return "nowhere: the study is not in the local cache (import it to keep AI results); `neuronova infer` writes files", nil
	case err != nil:
		return "", err
	case orderID != "":
		return "the local cache for order " + orderID + " (result and SEG in the outbox, sent at the next sync)", nil
	}
	return "the local cache (result and SEG in the outbox, sent at the next sync)", nil
}
