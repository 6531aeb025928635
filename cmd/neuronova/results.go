package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/inference/dicomseg"
	"github.com/neuronova/neuronova/inference/m1"
	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/ui"
	"github.com/neuronova/neuronova/viewer"
)

// The library gives the AI panel the M1 results kept in the cache: a run's JSON ("m1") and SEG ("seg"), and
// the SEGs of its edits.
var _ ui.ResultLibrary = library{}

// Results lists the versions of the M1 results kept for the studies of exam st, latest first: one a run
// (the results recorded together), with the server's review once the server lists it; and the server's
// other results of them (withServer).
func (l library) Results(ctx context.Context, st *viewer.Study) ([]ui.ResultVersion, error) {
	var out []ui.ResultVersion
	for _, uid := range st.StudyUIDs() {
		rows, err := l.c.StudyResults(ctx, uid)
		if err != nil {
			return nil, err
		}
		models := map[int64]string{} // lineage → model id
		seen := map[int64]bool{}
		for _, r := range rows {
			if (r.Kind != "m1" && r.Kind != "seg" && !omicsKind(r.Kind)) || seen[r.Run] {
				continue
			}
			seen[r.Run] = true
			model, ok := models[r.Lineage]
			if !ok {
				if res, _, err := l.lineageM1(ctx, rows, r.Lineage); err == nil {
					model = res.Model.ID
				} else if omicsKind(r.Kind) {
					model = l.omicsModel(ctx, r)
				}
				models[r.Lineage] = model
			}
			out = append(out, ui.ResultVersion{StudyUID: uid, Run: r.Run, Version: r.Version, Model: model,
				Editor: editorOf(r), Time: r.CreatedAt})
		}
		rs, err := l.c.StudyServerResults(ctx, uid)
		if err != nil {
			return nil, err
		}
		out = withServer(out, uid, rs)
	}
	slices.SortStableFunc(out, func(a, b ui.ResultVersion) int { return b.Time.Compare(a.Time) })
	return out, nil
}

// editorOf is who made version r: "" for a model's output.
func editorOf(r cache.ResultVersion) string {
	if !r.Edited() {
		return ""
	}
	if r.Editor == "" {
		return "an unknown user"
	}
	return r.Editor
}

// Result reads version v of exam st's M1 results: the card of its lineage's M1 result, and the label map of
// its SEG on the series the SEG references (an edit's volumes are its own map's); a SEG that cannot be read
// is said on the card.
func (l library) Result(ctx context.Context, st *viewer.Study, v ui.ResultVersion) (*ui.AIResult, error) {
	if v.Run == 0 && v.Server != nil {
		return l.serverResult(ctx, v)
	}
	rows, err := l.c.StudyResults(ctx, v.StudyUID)
	if err != nil {
		return nil, err
	}
	var run []cache.ResultVersion
	for _, r := range rows {
		if r.Run == v.Run {
			run = append(run, r)
		}
	}
	if len(run) == 0 {
		return nil, fmt.Errorf("version %d of the results of study %s: %w", v.Version, v.StudyUID, cache.ErrNotFound)
	}
	if omicsKind(run[0].Kind) {
		out, err := l.omicsVersion(ctx, run)
		if err == nil && v.Server != nil {
			out.Lines = append(out.Lines, reviewLine(v.Server))
		}
		return out, err
	}
	res, order, err := l.lineageM1(ctx, rows, run[0].Lineage)
	if err != nil {
		return nil, fmt.Errorf("version %d of the results of study %s: %w", v.Version, v.StudyUID, err)
	}
	out := &ui.AIResult{Model: res.Model.ID + " " + res.Model.Version, Banner: res.Banner, Lines: m1Findings(res),
		Saved: keptWhere(run, order)}
	if js, err := json.Marshal(res); err == nil {
		out.Summary, _ = api.ParseM1Summary(js)
	}
	for _, r := range run {
		if r.Kind != "seg" {
			continue
		}
		b, err := l.c.ResultPayload(ctx, r.ID)
		if err != nil {
			return nil, err
		}
		if out.Labels, err = segLabels(ctx, st, b); err != nil { // the card still shows
			out.Lines = append(out.Lines, "segmentation not shown: its SEG could not be read: "+err.Error())
		}
	}
	if ed := editorOf(run[0]); ed != "" {
		if out.Labels != nil {
			out.Lines[0] = editedVolumes(out.Labels)
		}
		out.Lines = append(out.Lines, fmt.Sprintf("v%d edited by %s, %s", v.Version, ed, run[0].CreatedAt.Local().Format("2006-01-02 15:04")))
	}
	if v.Server != nil {
		out.Lines = append(out.Lines, reviewLine(v.Server))
	}
	return out, nil
}

// segLabels reads a kept DICOM SEG of exam st as a label map on the series it references, whose headers are
// read again for the positions of its images.
func segLabels(ctx context.Context, st *viewer.Study, data []byte) (*viewer.LabelMap, error) {
	seg, err := dicomseg.Parse(data)
	if err != nil {
		return nil, err
	}
	se := st.SeriesByUID(seg.ReferencedSeriesUID)
	if se == nil {
		return nil, fmt.Errorf("the SEG references series %s, which the study lacks", seg.ReferencedSeriesUID)
	}
	ref, err := viewer.ScanSeries(ctx, se)
	if err != nil {
		return nil, err
	}
	return seg.LabelMap(ref)
}

// editedVolumes is the volumes line of an edited map, counted on it as M1 counts its own.
func editedVolumes(m *viewer.LabelMap) string {
	n := m.Counts()
	ml := func(k int) float64 { return float64(k) * m.VoxelVolume() / 1000 }
	ncr, ed, et := ml(n[viewer.LabelNCR]), ml(n[viewer.LabelED]), ml(n[viewer.LabelET])
	return fmt.Sprintf("volumes (mL): NCR %.2f  ED %.2f  ET %.2f  WT %.2f  TC %.2f", ncr, ed, et, ncr+ed+et, ncr+et)
}

// lineageM1 reads the M1 result of lineage (its first run's "m1" result among rows) and the order it was run
// for ("" none).
func (l library) lineageM1(ctx context.Context, rows []cache.ResultVersion, lineage int64) (*m1.Result, string, error) {
	for _, r := range rows {
		if r.Kind != "m1" || r.Run != lineage {
			continue
		}
		b, err := l.c.ResultPayload(ctx, r.ID)
		if err != nil {
			return nil, "", err
		}
		return parseKeptM1(b)
	}
	return nil, "", errors.New("no M1 result in its lineage")
}

// parseKeptM1 reads a kept M1 result: the pipeline's JSON, or an upload for an order that wraps it.
func parseKeptM1(b []byte) (*m1.Result, string, error) {
	var up api.AIResultUpload
	if err := json.Unmarshal(b, &up); err == nil && len(up.Result) > 0 {
		b = up.Result
	}
	var res m1.Result
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, "", fmt.Errorf("kept M1 result: %w", err)
	}
	if res.Model.ID == "" {
		return nil, "", errors.New("kept M1 result: no model named")
	}
	return &res, up.OrderID, nil
}

// keptWhere says where a kept version is, as the card of a fresh run says it: the outbox until sent.
func keptWhere(run []cache.ResultVersion, order string) string {
	where := "the local cache"
	if order != "" {
		where += " for order " + order
	}
	for _, r := range run {
		if r.Refused != "" {
			return where + " (refused by the server: " + r.Refused + ")"
		}
	}
	for _, r := range run {
		if r.SyncedAt.IsZero() {
			return where + " (result and SEG in the outbox, sent at the next sync)"
		}
	}
	return where + " (sent to the server " + run[0].SyncedAt.Local().Format("2006-01-02 15:04") + ")"
}
