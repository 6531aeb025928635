package ui

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/measure"
)

// memLibrary is an in-memory Library for fast widget tests: studies, settings, measurements and the SR
// exports asked for. The cache itself (sync/cache) is tested against SQLite, and through this interface's
// adapter in cmd/neuronova.
type memLibrary struct {
	mu       sync.Mutex
	studies  []*viewer.Study
	settings map[string]string
	measures map[string]measure.Measurement
	exported [][]measure.Measurement
}

func newMemLibrary(studies ...*viewer.Study) *memLibrary {
	return &memLibrary{studies: studies, settings: map[string]string{}, measures: map[string]measure.Measurement{}}
}

func rowOf(st *viewer.Study) WorklistRow {
	r := sessionRow(st)
	r.Sync, r.study, r.exam, r.Studies = "local", nil, "", nil
	return r
}

func (l *memLibrary) Worklist(_ context.Context, query, _ string, _ int) ([]WorklistRow, bool, error) {
	if strings.Contains(query, "bad:") {
		return nil, false, fmt.Errorf("unknown field %q", "bad")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var rows []WorklistRow
	for _, st := range l.studies {
		rows = append(rows, rowOf(st))
	}
	return rows, false, nil
}

func (l *memLibrary) find(uid string) (*viewer.Study, error) {
	for _, st := range l.studies {
		if st.UID == uid {
			return st, nil
		}
	}
	return nil, fmt.Errorf("study %s: not in the library", uid)
}

func (l *memLibrary) Open(_ context.Context, uid string) (*viewer.Study, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.find(uid)
}

func (l *memLibrary) OpenExam(_ context.Context, uid string, rule viewer.ExamRule) (*viewer.Study, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st, err := l.find(uid)
	if err != nil {
		return nil, err
	}
	for _, ex := range viewer.GroupExams(l.studies, rule) {
		if slices.Contains(ex.StudyUIDs(), st.UID) {
			return ex, nil
		}
	}
	return st, nil
}

func (l *memLibrary) PatientStudies(_ context.Context, id string) ([]WorklistRow, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var rows []WorklistRow
	for _, st := range l.studies {
		if st.PatientID == id {
			rows = append(rows, rowOf(st))
		}
	}
	return rows, nil
}

func (l *memLibrary) Import(context.Context, []string, viewer.Progress) (string, error) {
	return "", fmt.Errorf("this library imports nothing")
}

func (l *memLibrary) Measurements(_ context.Context, uids []string) ([]measure.Measurement, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []measure.Measurement
	for _, m := range l.measures {
		if slices.Contains(uids, m.SeriesUID) {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b measure.Measurement) int { return a.Created.Compare(b.Created) })
	return out, nil
}

func (l *memLibrary) SaveMeasurement(_ context.Context, m measure.Measurement) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.measures[m.ID] = m
	return nil
}

func (l *memLibrary) DeleteMeasurement(_ context.Context, id string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.measures, id)
	return nil
}

func (l *memLibrary) ExportSR(_ context.Context, _ *viewer.Study, ms []measure.Measurement, _ string) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.exported = append(l.exported, ms)
	return fmt.Sprintf("%d measurements exported", len(ms)), nil
}

func (l *memLibrary) Setting(_ context.Context, key string) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.settings[key], nil
}

func (l *memLibrary) SetSetting(_ context.Context, key, value string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.settings[key] = value
	return nil
}

func (l *memLibrary) setting(key string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.settings[key]
}

func (l *memLibrary) kept() map[string]measure.Measurement {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps(l.measures)
}

func maps(m map[string]measure.Measurement) map[string]measure.Measurement {
	out := make(map[string]measure.Measurement, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
