package viewer

import (
	"context"
	"errors"
)

// Study is one imaging study of one patient: what a worklist row shows and what a hanging protocol lays out.
type Study struct {
	UID              string // StudyInstanceUID
	PatientName      string
	PatientID        string
	PatientBirthDate string // YYYYMMDD as in DICOM, "" when unknown
	PatientSex       string
	StudyDate        string // YYYYMMDD
	StudyTime        string
	Description      string
	AccessionNumber  string
	Institution      string // InstitutionName
	Series           []*Series
	// Labels is a segmentation that belongs to the study (ground truth from a NIfTI folder, a DICOM SEG, an
	// AI result); nil when there is none.
	Labels *LabelMap
	// SEGs are the DICOM Segmentation objects found with the study's images (Scan keeps them out of Series,
	// undecoded); inference/dicomseg reads one and places it on a series' grid.
	SEGs []SEGFile
	// Exam is the key of the exam the study stands for (ExamRule.Key; GroupExams sets it), "" when the study
	// was not grouped; Members are the studies an exam merges (Merge), nil for a study of its own.
	Exam    string
	Members []*Study
	// Sequences is the reader's choice of series for sequence types (T1, T1CE, T2, FLAIR) by
	// SeriesInstanceUID, over the classifier's: the hanging protocol and M1 use it (Sequence).
	Sequences map[SeriesType]string
}

// Sequence returns the series of sequence type t: the reader's choice (Sequences) when it names a series of
// the study, else SeriesByType.
func (s *Study) Sequence(t SeriesType) *Series {
	if se := s.SeriesByUID(s.Sequences[t]); se != nil {
		return se
	}
	return s.SeriesByType(t)
}

// SeriesByUID returns the series whose SeriesInstanceUID is uid, or nil.
func (s *Study) SeriesByUID(uid string) *Series {
	if uid == "" {
		return nil
	}
	for _, se := range s.Series {
		if se.UID == uid {
			return se
		}
	}
	return nil
}

// SeriesByType returns the first series of type t, or nil.
func (s *Study) SeriesByType(t SeriesType) *Series {
	for _, se := range s.Series {
		if se.Type == t {
			return se
		}
	}
	return nil
}

// SegmentationStorage is the SOP Class UID of a DICOM Segmentation (SEG).
const SegmentationStorage = "1.2.840.10008.5.1.4.1.1.66.4"

// SEGFile is a DICOM Segmentation found with a study: where it is and which series it forms.
type SEGFile struct {
	Path, SOPInstanceUID, SeriesUID, Description string
	SeriesNumber                                 int
}

// IsSEG reports whether in is a DICOM Segmentation: Scan and the cache list it in Study.SEGs, not as an image.
func (in *Instance) IsSEG() bool { return in.SOPClassUID == SegmentationStorage }

// SEGFileOf is the SEGFile of instance in, a SEG that forms series se.
func SEGFileOf(se *Series, in *Instance) SEGFile {
	return SEGFile{Path: in.Path, SOPInstanceUID: in.SOPInstanceUID, SeriesUID: se.UID, Description: se.Description,
		SeriesNumber: se.Number}
}

// Series is one series of a study. DICOM series list their Instances and load pixels on demand; series
// made from other formats (NIfTI) carry their volume from the start.
type Series struct {
	UID                 string // SeriesInstanceUID
	StudyUID            string
	Number              int
	Modality            string
	Description         string
	FrameOfReferenceUID string
	Hints               SeriesHints
	Type                SeriesType // from Classify(Hints) unless overridden
	Instances           []*Instance
	// Problems are what a reader should know about the series: gaps, duplicates, mixed geometry, ordering
	// by InstanceNumber for want of positions. They are reported, never hidden.
	Problems []string
	// Grid is the volume grid the slices form (zero Size when they cannot be stacked), known before any
	// pixel is decoded.
	Grid   Geometry
	volume *Volume
}

// NewVolumeSeries makes a series whose voxels are already in memory.
func NewVolumeSeries(uid, description string, t SeriesType, v *Volume) *Series {
	return &Series{UID: uid, Modality: "MR", Description: description, Type: t, volume: v, Grid: v.Geometry,
		Hints: SeriesHints{Modality: "MR", SeriesDescription: description}}
}

// InMemory returns the series' volume when it was built in memory rather than read from DICOM files.
func (s *Series) InMemory() (*Volume, bool) { return s.volume, s.volume != nil }

// Progress receives how many of total units of work are done. It may be nil.
type Progress func(done, total int)

// ErrNoPixels is returned when a series has neither instances with pixel data nor an in-memory volume.
var ErrNoPixels = errors.New("series has no pixel data")

// Loader turns a series into a volume. The DICOM loader implements it; tests and other sources may too.
type Loader interface {
	Load(ctx context.Context, s *Series, p Progress) (*Volume, error)
}

// Instance is one DICOM file of a series as its header describes it. The loader may add what it needs.
type Instance struct {
	Path           string
	SOPInstanceUID string
	SOPClassUID    string
	TransferSyntax string
	Number         int // InstanceNumber, 0 when absent
	Rows, Columns  int
	Frames         int        // NumberOfFrames, 1 for single-frame files
	Position       Vec3       // ImagePositionPatient of the first frame
	Orientation    [2]Vec3    // ImageOrientationPatient: row and column cosines
	PixelSpacing   [2]float64 // PixelSpacing: between rows, between columns (mm)
	HasPosition    bool       // Position and Orientation were present
	// file is the parsed header (and, after Scan WithPixelData, the pixel bytes) the loader reuses; nil
	// for instances built elsewhere (the cache), which the loader parses again.
	file *File
}
