package demo

import (
	"fmt"
	"github.com/neuronova/neuronova/internal/dicomkit"
	"path/filepath"
	"strings"
	"time"

	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/dcmwrite"
)

// Demo study metadata: clearly synthetic.
const (
	PatientName = "DEMO^PHANTOM"
	PatientID   = "SYNTHETIC-PHANTOM-0001"
	StudyDate   = "20240101"
	StudyTime   = "090000"
)

// descriptions are what the series are called, as a scanner console would name them.
var descriptions = map[viewer.SeriesType]string{
	viewer.T1: "AX T1", viewer.T1CE: "AX T1 POST GD", viewer.T2: "AX T2", viewer.FLAIR: "AX T2 FLAIR",
}

// Study returns the demo study: the DefaultParams phantom on the BraTS grid (240×240×155, 1 mm, axial),
// four series (AX T1, AX T1 POST GD, AX T2, AX T2 FLAIR) and its ground-truth labels, with UIDs derived
// from the parameters.
func Study() *viewer.Study {
	st, err := NewStudy(DefaultParams())
	if err != nil {
		panic("demo: the default phantom is invalid: " + err.Error())
	}
	return st
}

// NewStudy renders phantom p as an in-memory study. Different parameters give different UIDs.
func NewStudy(p Params) (*viewer.Study, error) {
	ph, err := New(p)
	if err != nil {
		return nil, err
	}
	r := ph.Render()
	key := fmt.Sprintf("%+v", p)
	st := &viewer.Study{
		UID:             dicomkit.DeterministicUID("neuronova", "demo phantom", key, "study"),
		PatientName:     PatientName,
		PatientID:       PatientID,
		PatientSex:      "O",
		StudyDate:       StudyDate,
		StudyTime:       StudyTime,
		Description:     "MR BRAIN TUMOUR PROTOCOL (SYNTHETIC PHANTOM)",
		AccessionNumber: "DEMO0001",
		Labels:          r.Labels,
	}
	frame := dicomkit.DeterministicUID("neuronova", "demo phantom", key, "frame of reference")
	for n, t := range Sequences {
		se := viewer.NewVolumeSeries(dicomkit.DeterministicUID("neuronova", "demo phantom", key, "series", string(t)),
			descriptions[t], t, r.Volumes[n])
		acq := dcmwrite.DefaultAcquisition(t)
		se.Hints.RepetitionTime, se.Hints.EchoTime, se.Hints.InversionTime = acq.RepetitionTime, acq.EchoTime, acq.InversionTime
		se.Hints.ScanningSequence = strings.Join(acq.ScanningSequence, `\`)
		se.Hints.ContrastAgent = acq.ContrastAgent
		se.StudyUID, se.Number, se.FrameOfReferenceUID = st.UID, n+1, frame
		st.Series = append(st.Series, se)
	}
	return st, nil
}

// Write writes the demo study under dir as standard DICOM (SE001 … SE004, one MR file per slice, the same
// bytes on every run) and its ground-truth label map as dir/labels.nii.gz (values 1 NCR, 2 ED, 3 ET).
// opts are passed to dcmwrite.WriteStudy (progress, cancellation).
func Write(dir string, opts ...dcmwrite.Option) error { return writeStudy(dir, Study(), opts) }

func writeStudy(dir string, st *viewer.Study, opts []dcmwrite.Option) error {
	opts = append([]dcmwrite.Option{dcmwrite.KeepUIDs(), dcmwrite.WithTime(time.Date(2024, 1, 1, 9, 0, 0, 0, time.UTC))}, opts...)
	if _, err := dcmwrite.WriteStudy(dir, st, opts...); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if err := viewer.SaveNIfTILabels(filepath.Join(dir, "labels.nii.gz"), st.Labels); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	return nil
}
