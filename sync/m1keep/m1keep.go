// Package m1keep keeps M1 results: the label map as a DICOM SEG on the reference series' own DICOM grid, and
// the result's JSON (an upload naming the order when the run was for one), recorded in the local cache with
// their outbox messages in one transaction, under the study the reference series belongs to, for the next
// sync. The window, `neuronova infer` and `neuronova worker` share it.
package m1keep

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/inference/dicomseg"
	"github.com/neuronova/neuronova/inference/m1"
	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/dcmwrite"
)

// Errors callers branch on.
var (
	// ErrNotCached: the study the result belongs to is not in the cache; nothing is kept.
	ErrNotCached = errors.New("the study is not in the local cache (import it to keep AI results)")
	// ErrGrid: the label map is not on the reference series' DICOM grid.
	ErrGrid = errors.New("the reference series' DICOM grid differs from the grid M1 ran on")
)

// Reference returns the reference series of res in exam st with its DICOM headers read again (positions
// known: viewer.ScanSeries), and the study of the exam it belongs to.
func Reference(ctx context.Context, st *viewer.Study, res *m1.Result) (*viewer.Series, *viewer.Study, error) {
	se := st.SeriesByUID(res.Reference.SeriesUID)
	if se == nil || len(se.Instances) == 0 {
		return nil, nil, fmt.Errorf("the reference series %s has no DICOM instances for the SEG to reference", res.Reference.SeriesUID)
	}
	ref, err := viewer.ScanSeries(ctx, se)
	if err != nil {
		return nil, nil, fmt.Errorf("the reference series: %w", err)
	}
	return ref, st.StudyOf(se), nil
}

// SEGOptions name the SEG's series and instance; "" derives them from its content.
type SEGOptions struct{ SeriesUID, InstanceUID string }

// SEG encodes res's label map as a DICOM SEG of ref, a DICOM series of study own, with the model as its
// algorithm and its banner.
func SEG(own *viewer.Study, ref *viewer.Series, res *m1.Result, o SEGOptions) ([]byte, error) {
	if res.Labels == nil {
		return nil, errors.New("the M1 result has no label map")
	}
	if !ref.Grid.SameGrid(res.Labels.Geometry, 1e-3) {
		return nil, ErrGrid
	}
	labels := *res.Labels
	labels.Geometry = ref.Grid // the same grid, as DICOM positions describe it
	els, err := dicomseg.Build(&labels, dicomseg.Options{Study: own, Reference: ref, Algorithm: res.Model.ID + " " + res.Model.Version,
		Banner: res.Banner, SoftwareVersions: dcmwrite.ImplementationVersionName, SeriesUID: o.SeriesUID, InstanceUID: o.InstanceUID})
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := dcmwrite.Encode(&buf, els); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Options of Record and Keep.
type Options struct {
	OrderID string // the order the run was for: the result goes up as an upload naming it
	RunKey  string // names the run (cache.RecordRunOnce): a run kept under it is not kept again
}

// Record keeps res and its SEG (seg, from SEG) in c under study studyUID: both with their outbox messages in
// one transaction. already says a run of o.RunKey was kept before, and nothing was.
func Record(ctx context.Context, c *cache.Cache, studyUID string, res *m1.Result, seg []byte, o Options) (already bool, err error) {
	js, err := json.Marshal(res)
	if err != nil {
		return false, err
	}
	if o.OrderID != "" {
		prov, err := json.Marshal(map[string]any{"model": res.Model, "runtime": res.Runtime})
		if err != nil {
			return false, err
		}
		if js, err = json.Marshal(api.AIResultUpload{Model: api.ModelM1, ModelVersion: res.Model.Version, OrderID: o.OrderID,
			StudyUID: studyUID, Result: js, Provenance: prov}); err != nil {
			return false, err
		}
	}
	_, already, err = c.RecordRunOnce(ctx, studyUID, o.RunKey, []cache.ResultInput{{Kind: "m1", Payload: js}, {Kind: "seg", Payload: seg}})
	return already, err
}

// Keep keeps res, M1's result on exam st, in c: its SEG on the reference series, both recorded under the
// study the reference series belongs to (ErrNotCached when c does not hold it), which it returns.
func Keep(ctx context.Context, c *cache.Cache, st *viewer.Study, res *m1.Result, o Options) (study string, already bool, err error) {
	se := st.SeriesByUID(res.Reference.SeriesUID)
	own := st
	if se != nil {
		own = st.StudyOf(se)
	}
	if _, err := c.StudyInfo(ctx, own.UID); err != nil {
		if errors.Is(err, cache.ErrNotFound) {
			return "", false, ErrNotCached
		}
		return "", false, err
	}
	ref, own, err := Reference(ctx, st, res)
	if err != nil {
		return "", false, err
	}
	seg, err := SEG(own, ref, res, SEGOptions{})
	if err != nil {
		return "", false, err
	}
	already, err = Record(ctx, c, own.UID, res, seg, o)
	return own.UID, already, err
}
