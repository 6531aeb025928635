package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/ui"
	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/dcmwrite"
	"github.com/neuronova/neuronova/viewer/measure"
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
		rows[i] = worklistRow(r)
	}
	return rows, page.HasMore, nil
}

// worklistRow is a cached study as the worklist lists it.
func worklistRow(r cache.StudyRow) ui.WorklistRow {
	return ui.WorklistRow{UID: r.UID, PatientName: r.PatientName, PatientID: r.PatientID, Date: r.Date, Time: r.Time,
		Description: r.Description, BirthDate: r.BirthDate, Sex: r.Sex, Accession: r.Accession, Modalities: r.Modalities,
		Series: r.NumSeries, Types: r.Types, Sync: string(r.Sync)}
}

func (l library) OpenExam(ctx context.Context, uid string, rule viewer.ExamRule) (*viewer.Study, error) {
	return cacheExam(ctx, l.c, uid, rule, true)
}

func (l library) PatientStudies(ctx context.Context, patientID string) ([]ui.WorklistRow, error) {
	found, err := l.c.PatientStudies(ctx, patientID)
	if err != nil {
		return nil, err
	}
	rows := make([]ui.WorklistRow, len(found))
	for i, r := range found {
		rows[i] = worklistRow(r)
	}
	return rows, nil
}

func (l library) Measurements(ctx context.Context, seriesUIDs []string) ([]measure.Measurement, error) {
	return l.c.Measurements(ctx, seriesUIDs...)
}

func (l library) SaveMeasurement(ctx context.Context, m measure.Measurement) error {
	return l.c.SaveMeasurement(ctx, m)
}

func (l library) DeleteMeasurement(ctx context.Context, id string) error {
	return l.c.DeleteMeasurement(ctx, id)
}

func (l library) Setting(ctx context.Context, key string) (string, error) {
	return l.c.Setting(ctx, key, "")
}

func (l library) SetSetting(ctx context.Context, key, value string) error {
	return l.c.SetSetting(ctx, key, value)
}

// ExportSR records one measurement report per study of the exam that has measurements, each with its
// outbox message (result.sr), for the next sync.
func (l library) ExportSR(ctx context.Context, exam *viewer.Study, ms []measure.Measurement, observer string) (string, error) {
	byStudy := map[string][]measure.Measurement{}
	var order []string
	for _, m := range ms {
		if _, ok := byStudy[m.StudyUID]; !ok {
			order = append(order, m.StudyUID)
		}
		byStudy[m.StudyUID] = append(byStudy[m.StudyUID], m)
	}
	var done []string
	for _, uid := range order {
		st := studyByUID(exam, uid)
		if st == nil {
			return strings.Join(done, "\n"), fmt.Errorf("study %s is not the exam's", uid)
		}
		if _, err := l.c.StudyInfo(ctx, uid); err != nil {
			return strings.Join(done, "\n"), fmt.Errorf("study %s is not in the local cache (import it to send its measurements): %w", uid, err)
		}
		elems, err := dcmwrite.MeasurementReport(st, byStudy[uid], dcmwrite.SROptions{Observer: observer})
		if errors.Is(err, dcmwrite.ErrNothingToReport) {
			continue
		}
		if err != nil {
			return strings.Join(done, "\n"), err
		}
		var b bytes.Buffer
		if err := dcmwrite.Encode(&b, elems); err != nil {
			return strings.Join(done, "\n"), err
		}
		if _, err := l.c.RecordResults(ctx, uid, []cache.ResultInput{{Kind: "sr", Payload: b.Bytes()}}); err != nil {
			return strings.Join(done, "\n"), err
		}
		done = append(done, fmt.Sprintf("SR of %d measurements of study %s in the outbox, sent at the next sync.", len(byStudy[uid]), uid))
	}
	if len(done) == 0 {
		return "", dcmwrite.ErrNothingToReport
	}
	return strings.Join(done, "\n"), nil
}

// studyByUID is the study of exam (itself or a member) with StudyInstanceUID uid, or nil.
func studyByUID(exam *viewer.Study, uid string) *viewer.Study {
	if exam.UID == uid && len(exam.Members) == 0 {
		return exam
	}
	for _, m := range exam.Members {
		if m.UID == uid {
			return m
		}
	}
	return nil
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
	if n := len(sum.Labels); n > 0 {
		fmt.Fprintf(&b, "\nThe label map beside the images (%s) was given to %d studies.", viewer.LabelsFile, n)
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
