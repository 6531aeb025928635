package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/neuronova/neuronova/internal/dicomkit"
	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/sync/segversion"
	"github.com/neuronova/neuronova/ui"
	"github.com/neuronova/neuronova/viewer"
)

// editSaver is the Edit tab's Save: the edited map becomes the next version of the SEG it came from (a SEG
// result of the cache whose series is the map's Source), or a first edit of a map from outside the cache,
// in the cache and its outbox.
func editSaver(c *cache.Cache) func(ctx context.Context, s ui.EditSave) (string, error) {
	return func(ctx context.Context, s ui.EditSave) (string, error) {
		if s.Study == nil || s.Map == nil {
			return "", errors.New("no exam or label map to save")
		}
		own, ref, err := editReference(ctx, s.Study, s.Map)
		if err != nil {
			return "", err
		}
		if _, err := c.StudyInfo(ctx, own.UID); err != nil {
			return "", fmt.Errorf("the study is not in the local cache (import it to keep edits): %w", err)
		}
		parent, err := segParent(ctx, c, own.UID, s.Map.Source)
		if err != nil {
			return "", err
		}
		saved, err := segversion.Save(ctx, c, segversion.Request{Study: own, Reference: ref, Map: s.Map, Parent: parent,
			Editor: s.Editor, Note: s.Note, Banner: s.Banner})
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("Saved as v%d by %s (edit of %s); in the outbox, sent at the next sync", saved.Version, s.Editor, saved.EditOf), nil
	}
}

// editReference returns the series of exam whose grid the map is on, read again from its files so that its
// images' positions are known (the SEG references each slice), and the study it belongs to.
func editReference(ctx context.Context, exam *viewer.Study, m *viewer.LabelMap) (*viewer.Study, *viewer.Series, error) {
	var last error
	for _, se := range exam.Series {
		// The cache lists instances without positions: a series whose grid is not known yet is read again.
		if len(se.Instances) == 0 || se.Grid.Size != ([3]int{}) && !se.Grid.SameGrid(m.Geometry, 1e-3) {
			continue
		}
		own := exam.StudyOf(se)
		ref, err := viewer.ScanSeries(ctx, se)
		if err != nil {
			last = err
			continue
		}
		if ref.Grid.SameGrid(m.Geometry, 1e-3) {
			return own, ref, nil
		}
	}
	if last != nil {
		return nil, nil, last
	}
	return nil, nil, errors.New("no DICOM series of the exam has the label map's grid: a SEG must reference its images")
}

// segParent returns the cache's SEG result of the study whose series or instance UID is source, or 0.
func segParent(ctx context.Context, c *cache.Cache, studyUID, source string) (int64, error) {
	if source == "" {
		return 0, nil
	}
	vs, err := c.StudyResults(ctx, studyUID)
	if err != nil {
		return 0, err
	}
	for _, v := range vs {
		if v.Kind != "seg" {
			continue
		}
		b, err := c.ResultPayload(ctx, v.ID)
		if err != nil {
			return 0, err
		}
		id, err := dicomkit.ReadIdentity(bytes.NewReader(b))
		if err == nil && (id.SeriesUID == source || id.SOPUID == source) {
			return v.ID, nil
		}
	}
	return 0, nil
}
