package viewer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// LabelsFile is the name of a label map kept beside a DICOM study (as `neuronova demo` writes it): a NIfTI
// file in the study's folder, on the grid of its series.
const LabelsFile = "labels.nii.gz"

// Open reads what a user points NeuroNova at: BraTS NIfTI folders (LoadBraTS) and DICOM files or folders
// (Scan, with opts). A LabelsFile in a DICOM folder whose studies are of one patient (one study, or a
// session written one study per series) becomes those studies' Labels. Studies come in the order of paths,
// DICOM studies after BraTS ones.
func Open(ctx context.Context, paths []string, opts ...Option) (*ScanResult, error) {
	res := &ScanResult{}
	var dicomPaths []string
	for _, p := range paths {
		if IsBraTSDir(p) {
			st, err := LoadBraTS(p)
			if err != nil {
				res.Rejected = append(res.Rejected, Rejected{Path: p, Err: err})
				continue
			}
			res.Studies = append(res.Studies, st)
			continue
		}
		if _, err := os.Stat(p); err != nil {
			res.Rejected = append(res.Rejected, Rejected{Path: p, Err: err})
			continue
		}
		dicomPaths = append(dicomPaths, p)
	}
	if len(dicomPaths) == 0 {
		return res, ctx.Err()
	}
	scanned, err := Scan(ctx, dicomPaths, opts...)
	if err != nil {
		return nil, err
	}
	labelFiles := make(map[string]bool)
	for _, p := range dicomPaths {
		path := filepath.Join(p, LabelsFile)
		if _, err := os.Stat(path); err != nil {
			continue
		}
		studies := patientStudiesUnder(scanned.Studies, p)
		if len(studies) == 0 {
			continue
		}
		labels, err := LoadNIfTILabels(path)
		if err != nil {
			scanned.Rejected = append(scanned.Rejected, Rejected{Path: path, Err: err})
			continue
		}
		for _, st := range studies {
			st.Labels = labels
		}
		labelFiles[path] = true
	}
	for _, r := range scanned.Rejected {
		if !labelFiles[r.Path] {
			res.Rejected = append(res.Rejected, r)
		}
	}
	res.Studies = append(res.Studies, scanned.Studies...)
	return res, nil
}

// patientStudiesUnder returns the studies whose files lie under dir when they are all of one patient, else nil.
func patientStudiesUnder(studies []*Study, dir string) []*Study {
	prefix := filepath.Clean(dir) + string(filepath.Separator)
	var found []*Study
	for _, st := range studies {
		for _, se := range st.Series {
			if len(se.Instances) > 0 && strings.HasPrefix(se.Instances[0].Path, prefix) {
				if len(found) > 0 && (found[0].PatientID != st.PatientID || found[0].PatientName != st.PatientName) {
					return nil
				}
				found = append(found, st)
				break
			}
		}
	}
	return found
}

// ErrNoSeries is returned by FindSeries when a study has no series that matches.
var ErrNoSeries = errors.New("no such series")

// ErrSeveralSeries is returned by FindSeries when the choice is left to it and the study has several series.
var ErrSeveralSeries = errors.New("several series")

// FindSeries picks a series of st by type (T1, T1CE, …), by series number, or by SeriesInstanceUID; an empty
// which picks the study's only series. When none matches, or which is empty and the study has several, the
// error lists the series the study has.
func FindSeries(st *Study, which string) (*Series, error) {
	if which == "" {
		switch len(st.Series) {
		case 0:
			return nil, fmt.Errorf("%w: study %s has none", ErrNoSeries, st.UID)
		case 1:
			return st.Series[0], nil
		}
		return nil, fmt.Errorf("%w: study %s has %d, choose one: %s", ErrSeveralSeries, st.UID, len(st.Series), seriesList(st))
	}
	if t, ok := ParseSeriesType(which); ok {
		if se := st.SeriesByType(t); se != nil {
			return se, nil
		}
	}
	for _, se := range st.Series {
		if se.UID == which || fmt.Sprint(se.Number) == which {
			return se, nil
		}
	}
	return nil, fmt.Errorf("%w %q in study %s; it has: %s", ErrNoSeries, which, st.UID, seriesList(st))
}

// seriesList names the series of st by number, type and description.
func seriesList(st *Study) string {
	var have []string
	for _, se := range st.Series {
		have = append(have, fmt.Sprintf("%d %s (%s)", se.Number, se.Type, se.Description))
	}
	return strings.Join(have, ", ")
}
