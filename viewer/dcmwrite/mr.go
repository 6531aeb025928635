package dcmwrite

import (
	"context"
	"errors"
	"fmt"
	"github.com/neuronova/neuronova/internal/dicomkit"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"

	"github.com/neuronova/neuronova/viewer"
)

// MRImageStorage is the SOP Class UID of MR Image Storage.
const MRImageStorage = "1.2.840.10008.5.1.4.1.1.4"

// ErrNotInMemory is returned by WriteStudy for a series that has no in-memory volume.
var ErrNotInMemory = errors.New("dcmwrite: series has no in-memory volume")

// StudyInfo is the patient and study metadata written into every file. Empty values are written as empty
// type 2 elements, except UID (a new UID), StudyDate and StudyTime (the time of writing, see WithTime) and
// StudyID ("1", which DICOMDIR builders need).
type StudyInfo struct {
	UID                string
	PatientName        string // DICOM PN, e.g. "DOE^JANE"
	PatientID          string
	PatientBirthDate   string // YYYYMMDD
	PatientSex         string // M, F or O
	StudyDate          string // YYYYMMDD
	StudyTime          string // HHMMSS
	Description        string
	AccessionNumber    string
	StudyID            string
	ReferringPhysician string
	Institution        string // InstitutionName
}

// StudyInfoOf takes the metadata of an in-memory study.
func StudyInfoOf(s *viewer.Study) StudyInfo {
	return StudyInfo{UID: s.UID, PatientName: s.PatientName, PatientID: s.PatientID, PatientBirthDate: s.PatientBirthDate,
		PatientSex: s.PatientSex, StudyDate: s.StudyDate, StudyTime: s.StudyTime, Description: s.Description,
		AccessionNumber: s.AccessionNumber, Institution: s.Institution}
}

// MRAcquisition are the MR Image module's acquisition attributes. Zero fields take the defaults of the
// series type (DefaultAcquisition).
type MRAcquisition struct {
	ImageType             []string // (0008,0008), e.g. DERIVED\SECONDARY\OTHER
	ScanningSequence      []string // (0018,0020): SE, IR, GR, EP, RM
	SequenceVariant       []string // (0018,0021): SK, MTC, SS, TRSS, SP, MP, OSP, NONE
	ScanOptions           []string // (0018,0022), may stay empty
	MRAcquisitionType     string   // (0018,0023): 2D or 3D
	SequenceName          string   // (0018,0024)
	ProtocolName          string   // (0018,1030)
	RepetitionTime        float64  // ms
	EchoTime              float64  // ms
	InversionTime         float64  // ms, written when ScanningSequence has IR
	EchoTrainLength       int
	FlipAngle             float64 // degrees
	MagneticFieldStrength float64 // tesla
	ContrastAgent         string  // (0018,0010): set for post-contrast series, empty otherwise
}

// DefaultAcquisition returns textbook brain-protocol parameters for a series type, consistent with what
// viewer.Classify infers from parameters alone.
func DefaultAcquisition(t viewer.SeriesType) MRAcquisition {
	a := MRAcquisition{ImageType: []string{"DERIVED", "SECONDARY", "OTHER"}, ScanningSequence: []string{"SE"},
		SequenceVariant: []string{"NONE"}, MRAcquisitionType: "2D", EchoTrainLength: 1, FlipAngle: 90,
		MagneticFieldStrength: 3}
	switch t {
	case viewer.T1, viewer.T1CE:
		a.RepetitionTime, a.EchoTime = 500, 10
		if t == viewer.T1CE {
			a.ContrastAgent = "GADOLINIUM"
		}
	case viewer.T2:
		a.RepetitionTime, a.EchoTime, a.EchoTrainLength = 4000, 100, 16
		a.SequenceVariant = []string{"SK"}
	case viewer.FLAIR:
		a.ScanningSequence = []string{"SE", "IR"}
		a.SequenceVariant = []string{"SK"}
		a.RepetitionTime, a.EchoTime, a.InversionTime, a.EchoTrainLength = 9000, 120, 2500, 16
	default:
		a.RepetitionTime, a.EchoTime = 2000, 20
	}
	return a
}

func (a MRAcquisition) withDefaults(t viewer.SeriesType) MRAcquisition {
	d := DefaultAcquisition(t)
	if a.ImageType == nil {
		a.ImageType = d.ImageType
	}
	if a.ScanningSequence == nil {
		a.ScanningSequence = d.ScanningSequence
		if a.InversionTime == 0 {
			a.InversionTime = d.InversionTime
		}
	}
	if a.SequenceVariant == nil {
		a.SequenceVariant = d.SequenceVariant
	}
	if a.MRAcquisitionType == "" {
		a.MRAcquisitionType = d.MRAcquisitionType
	}
	if a.RepetitionTime == 0 {
		a.RepetitionTime = d.RepetitionTime
	}
	if a.EchoTime == 0 {
		a.EchoTime = d.EchoTime
	}
	if a.EchoTrainLength == 0 {
		a.EchoTrainLength = d.EchoTrainLength
	}
	if a.FlipAngle == 0 {
		a.FlipAngle = d.FlipAngle
	}
	if a.MagneticFieldStrength == 0 {
		a.MagneticFieldStrength = d.MagneticFieldStrength
	}
	if a.ContrastAgent == "" {
		a.ContrastAgent = d.ContrastAgent
	}
	return a
}

// SeriesInfo describes one series to write.
type SeriesInfo struct {
	UID                 string // "" for a new UID
	FrameOfReferenceUID string // "" for one derived from UID
	Number              int
	Description         string
	Type                viewer.SeriesType // selects the default acquisition parameters
	Acquisition         MRAcquisition
	// Window is written as WindowCenter/Width; nil takes the volume's first stored window, else its
	// AutoWindow.
	Window *viewer.Window
}

type options struct {
	ctx      context.Context
	progress viewer.Progress
	now      time.Time
	keepUIDs bool
	workers  int
	// studyPerSeries gives each series a study (and frame of reference) of its own, as some converters write
	// one session: same patient and date, one StudyInstanceUID per series.
	studyPerSeries bool
}

// Option configures writing.
type Option func(*options)

// WithContext makes writing stop, with the context's error, when ctx is done.
func WithContext(ctx context.Context) Option { return func(o *options) { o.ctx = ctx } }

// WithProgress reports files written.
func WithProgress(p viewer.Progress) Option { return func(o *options) { o.progress = p } }

// WithTime sets the date and time written where the study has none (default: now). Fixing it makes the
// output reproducible.
func WithTime(t time.Time) Option { return func(o *options) { o.now = t } }

// KeepUIDs makes WriteStudy reuse the study's, series' and frames of reference's UIDs instead of making new
// ones; with them the output bytes are fully determined by the study.
func KeepUIDs() Option { return func(o *options) { o.keepUIDs = true } }

// StudyPerSeries makes WriteStudy give every series its own StudyInstanceUID and frame of reference (same
// patient, date and accession), as some third-party converters write a session; with KeepUIDs they derive
// from the study's and series' UIDs.
func StudyPerSeries() Option { return func(o *options) { o.studyPerSeries = true } }

// WithWorkers sets how many files are encoded at once (default GOMAXPROCS).
func WithWorkers(n int) Option { return func(o *options) { o.workers = max(n, 1) } }

func newOptions(opts []Option) options {
	o := options{ctx: context.Background(), now: time.Now(), workers: runtime.GOMAXPROCS(0)}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WriteSeries writes v as an MR Image Storage series into dir (created if needed), one file per slice
// named IM0001.dcm, IM0002.dcm …, explicit VR little endian, 16-bit stored values with RescaleSlope and
// RescaleIntercept chosen so every value comes back within half a stored step (whole-numbered volumes
// exactly). It returns the paths written, in slice order. SOP Instance UIDs derive from the series UID.
func WriteSeries(dir string, study StudyInfo, series SeriesInfo, v *viewer.Volume, opts ...Option) ([]string, error) {
	return writeSeries(dir, study, series, v, newOptions(opts), new(atomic.Int64), v.Size[2])
}

// writeSeries writes one series; done counts files written across the series of a study, of total.
func writeSeries(dir string, study StudyInfo, series SeriesInfo, v *viewer.Volume, o options, done *atomic.Int64, total int) ([]string, error) {
	if err := v.Check(); err != nil {
		return nil, fmt.Errorf("write series %q: %w", series.Description, err)
	}
	if v.Samples != 1 {
		return nil, fmt.Errorf("write series %q: %d samples per voxel; MR images are grey-scale", series.Description, v.Samples)
	}
	if v.Size[0] > 65535 || v.Size[1] > 65535 {
		return nil, fmt.Errorf("write series %q: %d×%d slices exceed DICOM's 65535 rows or columns", series.Description, v.Size[0], v.Size[1])
	}
	if study.UID == "" {
		study.UID = dicomkit.NewUID()
	}
	if series.UID == "" {
		series.UID = dicomkit.NewUID()
	}
	if series.FrameOfReferenceUID == "" {
		series.FrameOfReferenceUID = dicomkit.DeterministicUID(series.UID, "frame of reference")
	}
	date, clock := o.now.Format("20060102"), o.now.Format("150405")
	if study.StudyDate == "" {
		study.StudyDate = date
	}
	if study.StudyTime == "" {
		study.StudyTime = clock
	}
	if study.StudyID == "" {
		study.StudyID = "1"
	}
	rs, err := chooseRescale(v.Data)
	if err != nil {
		return nil, fmt.Errorf("write series %q: %w", series.Description, err)
	}
	common, err := seriesElements(study, series, v, rs)
	if err != nil {
		return nil, fmt.Errorf("write series %q: %w", series.Description, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}

	nz := v.Size[2]
	paths := make([]string, nz)
	for k := range paths {
		paths[k] = filepath.Join(dir, fmt.Sprintf("IM%04d.dcm", k+1))
	}
	next := atomic.Int64{}
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range min(o.workers, nz) {
		wg.Go(func() {
			pixels := make([]byte, 2*v.Size[0]*v.Size[1])
			for {
				k := int(next.Add(1) - 1)
				if k >= nz {
					return
				}
				mu.Lock()
				stop := firstErr != nil
				mu.Unlock()
				if stop {
					return
				}
				err := o.ctx.Err()
				if err == nil {
					err = writeSlice(paths[k], common, series.UID, v, rs, k, pixels)
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				n := done.Add(1)
				if o.progress != nil {
					o.progress(int(n), total)
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, fmt.Errorf("write series %q: %w", series.Description, firstErr)
	}
	return paths, nil
}

// seriesElements builds the elements every slice of a series shares.
func seriesElements(st StudyInfo, se SeriesInfo, v *viewer.Volume, rs rescale) ([]*dicom.Element, error) {
	acq := se.Acquisition.withDefaults(se.Type)
	win := se.Window
	if win == nil {
		w := v.AutoWindow()
		if len(v.Windows) > 0 {
			w = v.Windows[0]
		}
		win = &w
	}
	var b Builder
	// SOP Common, Patient, General Study.
	b.String(tag.SOPClassUID, MRImageStorage)
	b.String(tag.StudyDate, st.StudyDate)
	b.String(tag.SeriesDate, st.StudyDate)
	b.String(tag.ContentDate, st.StudyDate)
	b.String(tag.StudyTime, st.StudyTime)
	b.String(tag.SeriesTime, st.StudyTime)
	b.String(tag.ContentTime, st.StudyTime)
	b.String(tag.AccessionNumber, optional(st.AccessionNumber)...)
	b.String(tag.Modality, "MR")
	b.String(tag.Manufacturer, "NeuroNova")
	b.String(tag.InstitutionName, optional(st.Institution)...)
	b.String(tag.ReferringPhysicianName, optional(st.ReferringPhysician)...)
	b.String(tag.StudyDescription, optional(st.Description)...)
	b.String(tag.SeriesDescription, optional(se.Description)...)
	b.String(tag.PatientName, optional(st.PatientName)...)
	b.String(tag.PatientID, optional(st.PatientID)...)
	b.String(tag.PatientBirthDate, optional(st.PatientBirthDate)...)
	b.String(tag.PatientSex, optional(st.PatientSex)...)
	b.String(tag.StudyInstanceUID, st.UID)
	b.String(tag.StudyID, optional(st.StudyID)...)
	// General Series, Frame of Reference, General Equipment.
	b.String(tag.SeriesInstanceUID, se.UID)
	b.Integer(tag.SeriesNumber, se.Number)
	b.String(tag.PatientPosition, "HFS")
	b.String(tag.BodyPartExamined, "HEAD")
	b.String(tag.FrameOfReferenceUID, se.FrameOfReferenceUID)
	b.String(tag.PositionReferenceIndicator)
	b.String(tag.SoftwareVersions, ImplementationVersionName)
	// MR Image, Contrast/Bolus.
	b.String(tag.ImageType, acq.ImageType...)
	b.String(tag.ScanningSequence, acq.ScanningSequence...)
	b.String(tag.SequenceVariant, acq.SequenceVariant...)
	b.String(tag.ScanOptions, acq.ScanOptions...)
	b.String(tag.MRAcquisitionType, acq.MRAcquisitionType)
	if acq.SequenceName != "" {
		b.String(tag.SequenceName, acq.SequenceName)
	}
	if acq.ProtocolName != "" {
		b.String(tag.ProtocolName, acq.ProtocolName)
	}
	b.Decimal(tag.RepetitionTime, acq.RepetitionTime)
	b.Decimal(tag.EchoTime, acq.EchoTime)
	if hasIR(acq.ScanningSequence) && acq.InversionTime > 0 {
		b.Decimal(tag.InversionTime, acq.InversionTime)
	} else if hasIR(acq.ScanningSequence) {
		b.String(tag.InversionTime) // type 2C: required with IR, empty when unknown
	}
	b.Integer(tag.EchoTrainLength, acq.EchoTrainLength)
	b.Decimal(tag.FlipAngle, acq.FlipAngle)
	b.Decimal(tag.MagneticFieldStrength, acq.MagneticFieldStrength)
	b.String(tag.ImagedNucleus, "1H")
	if acq.ContrastAgent != "" {
		b.String(tag.ContrastBolusAgent, acq.ContrastAgent)
	}
	// Image Plane.
	row, col := v.Direction[0], v.Direction[1]
	b.Decimal(tag.ImageOrientationPatient, row[0], row[1], row[2], col[0], col[1], col[2])
	b.Decimal(tag.PixelSpacing, v.Spacing[1], v.Spacing[0])
	b.Decimal(tag.SliceThickness, v.Spacing[2])
	b.Decimal(tag.SpacingBetweenSlices, v.Spacing[2])
	// Image Pixel.
	b.Ints(tag.SamplesPerPixel, 1)
	b.String(tag.PhotometricInterpretation, "MONOCHROME2")
	b.Ints(tag.Rows, v.Size[1])
	b.Ints(tag.Columns, v.Size[0])
	b.Ints(tag.BitsAllocated, 16)
	b.Ints(tag.BitsStored, 16)
	b.Ints(tag.HighBit, 15)
	b.Ints(tag.PixelRepresentation, map[bool]int{false: 0, true: 1}[rs.Signed])
	if rs.Slope != 1 || rs.Intercept != 0 {
		// Not in the MR IOD (dciodvfy warns), but the only way to carry non-integer values in MR images.
		b.String(tag.RescaleIntercept, rs.InterDS)
		b.String(tag.RescaleSlope, rs.SlopeDS)
		b.String(tag.RescaleType, "US")
	}
	// VOI LUT.
	b.Decimal(tag.WindowCenter, win.Center)
	b.Decimal(tag.WindowWidth, max(win.Width, 1))
	if win.Name != "" {
		b.String(tag.WindowCenterWidthExplanation, win.Name)
	}
	return b.Elements()
}

func optional(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

func hasIR(seq []string) bool {
	for _, s := range seq {
		if s == "IR" {
			return true
		}
	}
	return false
}

// writeSlice writes slice k: the shared elements plus the slice's own.
func writeSlice(path string, common []*dicom.Element, seriesUID string, v *viewer.Volume, rs rescale, k int, pixels []byte) error {
	n := v.Size[0] * v.Size[1]
	rs.encode(pixels, v.Data[k*n:(k+1)*n])
	pos := v.ToPatient(viewer.Vec3{0, 0, float64(k)})
	normal := v.Direction[0].Cross(v.Direction[1])
	var b Builder
	b.String(tag.SOPInstanceUID, dicomkit.DeterministicUID(seriesUID, "instance", strconv.Itoa(k)))
	b.Integer(tag.InstanceNumber, k+1)
	b.Decimal(tag.ImagePositionPatient, pos[0], pos[1], pos[2])
	b.Decimal(tag.SliceLocation, pos.Dot(normal))
	b.NativePixels(pixels)
	own, err := b.Elements()
	if err != nil {
		return err
	}
	elems := make([]*dicom.Element, 0, len(common)+len(own))
	return WriteFile(path, append(append(elems, common...), own...))
}

// WriteStudy writes every series of an in-memory study (a BraTS NIfTI study, the demo phantom) as MR
// series under dir, one folder per series (SE001, SE002 … by series order), and returns all paths. By
// default it makes new study, series and frame-of-reference UIDs (series that shared a frame of reference
// still share one); KeepUIDs reuses the study's. Acquisition parameters come from each series' Hints where
// set and from DefaultAcquisition of its type otherwise. A series without an in-memory volume is an
// ErrNotInMemory error: it is already DICOM.
func WriteStudy(dir string, s *viewer.Study, opts ...Option) ([]string, error) {
	o := newOptions(opts)
	if len(s.Series) == 0 {
		return nil, fmt.Errorf("write study %s: no series", s.UID)
	}
	info := StudyInfoOf(s)
	if !o.keepUIDs || info.UID == "" {
		info.UID = dicomkit.NewUID()
	}
	frames := map[string]string{}
	total := 0
	for _, se := range s.Series {
		v, ok := se.InMemory()
		if !ok {
			return nil, fmt.Errorf("write study %s: series %s %q: %w", s.UID, se.UID, se.Description, ErrNotInMemory)
		}
		total += v.Size[2]
	}
	var done atomic.Int64
	var paths []string
	for n, se := range s.Series {
		v, _ := se.InMemory()
		number := se.Number
		if number == 0 {
			number = n + 1
		}
		si := SeriesInfo{Number: number, Description: se.Description, Type: se.Type, Acquisition: acquisitionOf(se.Hints)}
		if o.keepUIDs {
			si.UID, si.FrameOfReferenceUID = se.UID, se.FrameOfReferenceUID
		}
		if si.UID == "" {
			si.UID = dicomkit.NewUID()
		}
		if !o.keepUIDs || si.FrameOfReferenceUID == "" {
			key := se.FrameOfReferenceUID
			if key == "" {
				key = "series " + si.UID
			}
			if frames[key] == "" {
				frames[key] = dicomkit.NewUID()
				if o.keepUIDs {
					frames[key] = dicomkit.DeterministicUID(info.UID, "frame of reference", key)
				}
			}
			si.FrameOfReferenceUID = frames[key]
		}
		sinfo := info
		if o.studyPerSeries {
			sinfo.UID = dicomkit.DeterministicUID(info.UID, "study of series", si.UID)
			si.FrameOfReferenceUID = dicomkit.DeterministicUID(info.UID, "frame of reference of series", si.UID)
		}
		p, err := writeSeries(filepath.Join(dir, fmt.Sprintf("SE%03d", n+1)), sinfo, si, v, o, &done, total)
		if err != nil {
			return nil, fmt.Errorf("write study %s: %w", s.UID, err)
		}
		paths = append(paths, p...)
	}
	return paths, nil
}

// acquisitionOf takes what a series' hints know of its acquisition.
func acquisitionOf(h viewer.SeriesHints) MRAcquisition {
	a := MRAcquisition{RepetitionTime: h.RepetitionTime, EchoTime: h.EchoTime, InversionTime: h.InversionTime,
		SequenceName: h.SequenceName, ProtocolName: h.ProtocolName, ContrastAgent: h.ContrastAgent}
	if s := strings.TrimSpace(h.ScanningSequence); s != "" {
		a.ScanningSequence = strings.Split(s, `\`)
	}
	return a
}
