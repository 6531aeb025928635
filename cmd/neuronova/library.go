package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/ui"
	"github.com/neuronova/neuronova/viewer"
)

// library adapts the local cache to the workstation's ui.Library.
type library struct{ c *cache.Cache }

var _ ui.Library = library{}

// Worklist reads text in the query language of `neuronova ls` (words, date:, mod:, desc:, type:, sync:,
// sort:), so the search box filters by every field the cache indexes.
func (l library) Worklist(ctx context.Context, text, sort string, limit int) ([]ui.WorklistRow, bool, error) {
	q, err := cache.ParseQuery(text)
	if err != nil {
		return nil, false, err
	}
	if q.Limit == 0 || q.Limit > limit {
		q.Limit = limit
	}
	if q.Sort == "" {
		switch sort {
		case "name":
			q.Sort = cache.SortName
		case "id":
			q.Sort = cache.SortPatientID
		}
	}
	page, err := l.c.Worklist(ctx, q)
	if err != nil {
		return nil, false, err
	}
	rows := make([]ui.WorklistRow, len(page.Rows))
	for i, r := range page.Rows {
		rows[i] = ui.WorklistRow{UID: r.UID, PatientName: r.PatientName, PatientID: r.PatientID, Date: r.Date,
			Description: r.Description, Series: r.NumSeries, Types: r.Types, Sync: string(r.Sync)}
	}
	return rows, page.HasMore, nil
}

func (l library) Open(ctx context.Context, uid string) (*viewer.Study, error) {
	return l.c.OpenStudy(ctx, uid)
}

func (l library) Import(ctx context.Context, paths []string, p viewer.Progress) (string, error) {
	sum, err := l.c.Import(ctx, paths, p)
	if sum == nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Imported %d instances (%s) from %d files into %d studies; %d already in the cache.",
		sum.Imported, cache.FormatSize(sum.Bytes), sum.Files, len(sum.Studies), sum.AlreadyPresent())
	for _, c := range sum.Converted {
		fmt.Fprintf(&b, "\nConverted the BraTS folder %s to DICOM.", c)
	}
	if n := len(sum.Rejected); n > 0 {
		fmt.Fprintf(&b, "\n%d rejected:", n)
		for _, r := range sum.Rejected[:min(n, 3)] {
			fmt.Fprintf(&b, "\n%s", rejection(r))
		}
		if n > 3 {
			fmt.Fprintf(&b, "\n… and %d more (`neuronova import` lists every one)", n-3)
		}
	}
	return b.String(), err
}
