package viewer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"
	"github.com/suyashkumar/dicom/pkg/uid"

	"github.com/neuronova/neuronova/internal/dicomkit"
)

// File is one DICOM image file as its header describes it: the study and series it belongs to (without
// their lists of series and instances) and the instance itself.
type File struct {
	Study    Study    // Series is nil
	Series   Series   // Instances is nil; Hints set and Type = Classify(Hints)
	Instance Instance // Path, UIDs, transfer syntax, size, first-frame geometry
	// Windows are the VOI presets (WindowCenter/WindowWidth with their explanations), first one first.
	Windows []Window

	syntax   dicomkit.Syntax
	pix      pixelFormat
	frames   []frameInfo // one per frame: geometry and rescale
	warnings []string    // header oddities a reader should know about; they become Series.Problems
	pixelLen int64       // declared length of native pixel data; -1 when encapsulated
	native   []byte      // raw native pixel bytes, kept with WithPixelData
	frags    [][]byte    // encapsulated fragments, kept with WithPixelData
	offsets  []uint32    // the Basic Offset Table of encapsulated pixel data; empty when the file has none
	// Where the pixel bytes lie in the file: native data's value (pixelAt, 0 when unknown), or the
	// encapsulated fragments; and the file's size and modification time when its header was read.
	pixelAt int64
	fragAt  []dicomkit.Extent
	stamp   fileStamp
}

// fileStamp tells whether a file changed since it was read.
type fileStamp struct {
	size  int64
	mtime time.Time
}

// BasicOffsetTable is the Basic Offset Table of the file's encapsulated pixel data: where each frame's first
// fragment starts, in bytes from the first fragment's item tag; nil when the table is empty.
func (f *File) BasicOffsetTable() []uint32 { return f.offsets }

// hasPixels reports whether the file carries its pixel bytes (parsed WithPixelData).
func (f *File) hasPixels() bool { return f.native != nil || f.frags != nil }

// pixelFormat is the Image Pixel module of a file.
type pixelFormat struct {
	rows, cols, frames, samples int
	bitsAllocated, bitsStored   int
	highBit                     int
	signed                      bool
	photometric                 string
	planar                      bool // PlanarConfiguration 1: one plane per sample
}

// frameBytes is the size of one native frame in bytes; 1-bit frames are not byte aligned and return 0.
func (p *pixelFormat) frameBytes() int {
	switch {
	case p.bitsAllocated == 1:
		return 0
	case p.photometric == "YBR_FULL_422":
		return p.rows * p.cols * 2 * p.bitsAllocated / 8
	}
	return p.rows * p.cols * p.samples * p.bitsAllocated / 8
}

// nativeBytes is the length native pixel data must have, without its padding byte.
func (p *pixelFormat) nativeBytes() int64 {
	if p.bitsAllocated == 1 {
		return (int64(p.rows)*int64(p.cols)*int64(p.samples)*int64(p.frames) + 7) / 8
	}
	return int64(p.frameBytes()) * int64(p.frames)
}

// frameInfo is the geometry and rescale of one frame.
type frameInfo struct {
	position       Vec3
	orientation    [2]Vec3
	pixelSpacing   [2]float64 // between rows, between columns
	hasPosition    bool
	hasOrientation bool
	hasSpacing     bool
	synthetic      bool // position computed from a multi-frame file's spacing, not read per frame
	sliceThickness float64
	sliceSpacing   float64 // SpacingBetweenSlices
	slope          float64
	intercept      float64
}

// Attributes the viewer reads from the top level of a dataset.
const (
	aSOPClass = iota
	aSOPInstance
	aStudyDate
	aStudyTime
	aAccession
	aInstitution
	aModality
	aStudyDescription
	aSeriesDescription
	aPatientName
	aPatientID
	aBirthDate
	aSex
	aContrast
	aScanningSequence
	aSliceThickness
	aRepetitionTime
	aEchoTime
	aInversionTime
	aSequenceName
	aSpacingBetweenSlices
	aProtocolName
	aDiffusionB
	aStudyUID
	aSeriesUID
	aSeriesNumber
	aInstanceNumber
	aPosition
	aOrientation
	aFrameOfReference
	aSamples
	aPhotometric
	aPlanar
	aFrames
	aRows
	aColumns
	aPixelSpacing
	aImagerPixelSpacing
	aBitsAllocated
	aBitsStored
	aHighBit
	aPixelRepresentation
	aWindowCenter
	aWindowWidth
	aRescaleIntercept
	aRescaleSlope
	aWindowExplanation
	aGridFrameOffsets
	aDirectoryRecords
	aSharedGroups
	aPerFrameGroups
	aPixelData
	nAttrs
)

var attrTags = [nAttrs]tag.Tag{
	aSOPClass: tag.SOPClassUID, aSOPInstance: tag.SOPInstanceUID, aStudyDate: tag.StudyDate,
	aStudyTime: tag.StudyTime, aAccession: tag.AccessionNumber, aInstitution: tag.InstitutionName, aModality: tag.Modality,
	aStudyDescription: tag.StudyDescription, aSeriesDescription: tag.SeriesDescription,
	aPatientName: tag.PatientName, aPatientID: tag.PatientID, aBirthDate: tag.PatientBirthDate,
	aSex: tag.PatientSex, aContrast: tag.ContrastBolusAgent, aScanningSequence: tag.ScanningSequence,
	aSliceThickness: tag.SliceThickness, aRepetitionTime: tag.RepetitionTime, aEchoTime: tag.EchoTime,
	aInversionTime: tag.InversionTime, aSequenceName: tag.SequenceName,
	aSpacingBetweenSlices: tag.SpacingBetweenSlices, aProtocolName: tag.ProtocolName,
	aDiffusionB: tag.DiffusionBValue, aStudyUID: tag.StudyInstanceUID, aSeriesUID: tag.SeriesInstanceUID,
	aSeriesNumber: tag.SeriesNumber, aInstanceNumber: tag.InstanceNumber, aPosition: tag.ImagePositionPatient,
	aOrientation: tag.ImageOrientationPatient, aFrameOfReference: tag.FrameOfReferenceUID,
	aSamples: tag.SamplesPerPixel, aPhotometric: tag.PhotometricInterpretation, aPlanar: tag.PlanarConfiguration,
	aFrames: tag.NumberOfFrames, aRows: tag.Rows, aColumns: tag.Columns, aPixelSpacing: tag.PixelSpacing,
	aImagerPixelSpacing: tag.ImagerPixelSpacing, aBitsAllocated: tag.BitsAllocated, aBitsStored: tag.BitsStored,
	aHighBit: tag.HighBit, aPixelRepresentation: tag.PixelRepresentation, aWindowCenter: tag.WindowCenter,
	aWindowWidth: tag.WindowWidth, aRescaleIntercept: tag.RescaleIntercept, aRescaleSlope: tag.RescaleSlope,
	aWindowExplanation: tag.WindowCenterWidthExplanation, aGridFrameOffsets: tag.GridFrameOffsetVector,
	aDirectoryRecords: tag.DirectoryRecordSequence, aSharedGroups: tag.SharedFunctionalGroupsSequence,
	aPerFrameGroups: tag.PerFrameFunctionalGroupsSequence, aPixelData: tag.PixelData,
}

var attrIndex = func() map[uint32]int {
	m := make(map[uint32]int, nAttrs)
	for i, t := range attrTags {
		m[t.Uint32()] = i
	}
	return m
}()

// attrs holds one dataset's attributes, indexed by the a* constants.
type attrs [nAttrs]*dicom.Element

// buildFile turns a parsed dataset into a File and checks that it holds a decodable-looking image.
func buildFile(ds *dicom.Dataset, lay *dicomkit.Layout, cfg *config, libPixels bool) (*File, error) {
	var a attrs
	var order binary.ByteOrder = binary.LittleEndian
	if lay.Syntax.BigEndian && !lay.ForceImplicit {
		order = binary.BigEndian
	}
	for _, e := range ds.Elements {
		if i, ok := attrIndex[e.Tag.Uint32()]; ok && a[i] == nil {
			a[i] = dicomkit.WithKnownVR(e, order)
		}
	}
	f := &File{syntax: lay.Syntax, pixelLen: -1, offsets: lay.BOT, pixelAt: lay.PixelValueAt, fragAt: lay.Fragments}
	sopClass := dicomkit.String(a[aSOPClass])
	if sopClass == "" {
		sopClass = lay.MediaClass
	}
	if sopClass == dicomkit.DICOMDIRClass || a[aDirectoryRecords] != nil {
		return nil, errDICOMDIR
	}
	f.Study = Study{
		UID: dicomkit.String(a[aStudyUID]), PatientName: dicomkit.String(a[aPatientName]), PatientID: dicomkit.String(a[aPatientID]),
		PatientBirthDate: dicomkit.String(a[aBirthDate]), PatientSex: dicomkit.String(a[aSex]),
		StudyDate: dicomkit.String(a[aStudyDate]), StudyTime: dicomkit.String(a[aStudyTime]),
		Description: dicomkit.String(a[aStudyDescription]), AccessionNumber: dicomkit.String(a[aAccession]),
		Institution: dicomkit.String(a[aInstitution]),
	}
	f.Series = Series{
		UID: dicomkit.String(a[aSeriesUID]), StudyUID: f.Study.UID, Modality: dicomkit.String(a[aModality]),
		Description: dicomkit.String(a[aSeriesDescription]), FrameOfReferenceUID: dicomkit.String(a[aFrameOfReference]),
	}
	if n, ok, err := dicomkit.Int(a[aSeriesNumber]); ok && err == nil {
		f.Series.Number = n
	}
	f.Instance = Instance{SOPInstanceUID: dicomkit.String(a[aSOPInstance]), SOPClassUID: sopClass, TransferSyntax: lay.Syntax.UID}
	if n, ok, err := dicomkit.Int(a[aInstanceNumber]); ok {
		if err != nil {
			f.warnings = append(f.warnings, err.Error())
		}
		f.Instance.Number = n
	}

	if !lay.HasPixels {
		if a[aRows] != nil || a[aColumns] != nil {
			return nil, fmt.Errorf("%w: the header describes an image but the file ends before its pixel data: expected %s, found 0", ErrTruncated, declaredBytes(&a))
		}
		return nil, fmt.Errorf("%w: %s holds no image", ErrNoPixels, sopClassName(sopClass))
	}
	if err := f.readPixelFormat(&a, lay, cfg.memoryLimit); err != nil {
		return nil, err
	}
	f.readFrames(&a)
	f.readHints(&a)
	f.Windows = readWindows(a[aWindowCenter], a[aWindowWidth], a[aWindowExplanation])
	if len(f.Windows) == 0 {
		var voi []*dicom.Element
		if shared := dicomkit.Items(a[aSharedGroups]); len(shared) > 0 {
			voi = dicomkit.FirstItem(shared[0], tag.FrameVOILUTSequence)
		}
		if voi == nil {
			if pf := dicomkit.Items(a[aPerFrameGroups]); len(pf) > 0 {
				voi = dicomkit.FirstItem(pf[0], tag.FrameVOILUTSequence)
			}
		}
		f.Windows = readWindows(dicomkit.Find(voi, tag.WindowCenter), dicomkit.Find(voi, tag.WindowWidth), dicomkit.Find(voi, tag.WindowCenterWidthExplanation))
	}
	fi := f.frames[0]
	f.Instance.Rows, f.Instance.Columns, f.Instance.Frames = f.pix.rows, f.pix.cols, f.pix.frames
	f.Instance.Position, f.Instance.Orientation = fi.position, fi.orientation
	f.Instance.PixelSpacing = fi.pixelSpacing
	f.Instance.HasPosition = fi.hasPosition && fi.hasOrientation && !fi.synthetic

	if libPixels {
		if a[aPixelData] == nil {
			return nil, fmt.Errorf("%w: the parser returned no pixel data", ErrTruncated)
		}
		if err := f.takePixels(a[aPixelData]); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// declaredBytes describes the pixel data size the header declares, for error messages.
func declaredBytes(a *attrs) string {
	n := int64(1)
	for _, i := range []int{aRows, aColumns, aSamples, aFrames} {
		if v, ok, err := dicomkit.Int(a[i]); ok && err == nil && v > 0 {
			n *= int64(v)
		}
	}
	bits, ok, err := dicomkit.Int(a[aBitsAllocated])
	if !ok || err != nil || bits <= 0 {
		return "pixel bytes"
	}
	return fmt.Sprintf("%d bytes", (n*int64(bits)+7)/8)
}

func sopClassName(u string) string {
	if u == "" {
		return "an object without SOP Class UID"
	}
	if info, err := uid.Lookup(u); err == nil {
		return fmt.Sprintf("%s (%s)", info.Name, u)
	}
	return "SOP class " + u
}

// takePixels keeps the raw pixel bytes the library read.
func (f *File) takePixels(e *dicom.Element) error {
	info, ok := e.Value.GetValue().(dicom.PixelDataInfo)
	if !ok {
		return fmt.Errorf("pixel data has an unexpected value type")
	}
	if f.syntax.Kind == dicomkit.Native {
		if !info.IntentionallyUnprocessed || int64(len(info.UnprocessedValueData)) < f.pix.nativeBytes() {
			return fmt.Errorf("%w: pixel data read has %d bytes, expected %d", ErrTruncated, len(info.UnprocessedValueData), f.pix.nativeBytes())
		}
		f.native = info.UnprocessedValueData
		return nil
	}
	f.frags = make([][]byte, 0, len(info.Frames))
	for _, fr := range info.Frames {
		// The library makes a frame without data of a header other than an item's among the fragments,
		// which is no fragment: the structure walk steps over it (dicomkit.Walk).
		if fr != nil && fr.EncapsulatedData.Data != nil {
			f.frags = append(f.frags, fr.EncapsulatedData.Data)
		}
	}
	if len(f.frags) == 0 {
		return fmt.Errorf("%w: encapsulated pixel data has no fragments", ErrTruncated)
	}
	return nil
}

// readPixels reads the pixel bytes from r, the file's bytes, where the header says they lie: native data as
// one slice (shared with r when r holds the file in memory), encapsulated data as its fragments.
func (f *File) readPixels(r io.ReaderAt) error {
	if f.syntax.Kind == dicomkit.Native {
		if f.pixelAt <= 0 || f.pixelLen < f.pix.nativeBytes() {
			return fmt.Errorf("%w: pixel data has %d bytes, expected %d", ErrTruncated, max(f.pixelLen, 0), f.pix.nativeBytes())
		}
		b, err := readRange(r, f.pixelAt, f.pixelLen)
		if err != nil {
			return fmt.Errorf("%w: pixel data: %v", ErrTruncated, err)
		}
		f.native = b
		return nil
	}
	if len(f.fragAt) == 0 {
		return fmt.Errorf("%w: encapsulated pixel data has no fragments", ErrTruncated)
	}
	frags := make([][]byte, len(f.fragAt))
	for i, e := range f.fragAt {
		b, err := readRange(r, e.Off, e.Len)
		if err != nil {
			return fmt.Errorf("%w: pixel data fragment %d: %v", ErrTruncated, i+1, err)
		}
		frags[i] = b
	}
	f.frags = frags
	return nil
}

// pixelsLocated reports whether the header says where the pixel bytes lie in the file, byte aligned.
func (f *File) pixelsLocated() bool {
	if f.syntax.Kind == dicomkit.Native {
		return f.pixelAt > 0 && f.pix.bitsAllocated != 1
	}
	return len(f.fragAt) > 0
}

// errChanged says that a file changed since its header was read.
var errChanged = errors.New("the file changed since it was read")

// readFrame reads the pixel bytes of a single-frame file whose header located them, into *buf (grown as
// needed and reused), as frameData would split them: one frame.
func (f *File) readFrame(buf *[]byte) ([][]byte, error) {
	path := f.Instance.Path
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	if (fileStamp{st.Size(), st.ModTime()}) != f.stamp {
		return nil, errChanged
	}
	extents := f.fragAt
	if f.syntax.Kind == dicomkit.Native {
		extents = []dicomkit.Extent{{Off: f.pixelAt, Len: int64(f.pix.frameBytes())}}
	}
	n := int64(0)
	for _, e := range extents {
		n += e.Len
	}
	if int64(cap(*buf)) < n {
		*buf = make([]byte, n)
	}
	b := (*buf)[:n]
	at := int64(0)
	for _, e := range extents {
		if _, err := fh.ReadAt(b[at:at+e.Len], e.Off); err != nil {
			return nil, fmt.Errorf("%s: %w: pixel data: %v", path, ErrTruncated, err)
		}
		at += e.Len
	}
	return [][]byte{b}, nil
}

// readRange returns n bytes of r at off: a slice of the file's bytes when r holds them in memory.
func readRange(r io.ReaderAt, off, n int64) ([]byte, error) {
	if m, ok := r.(memFile); ok {
		if off < 0 || n < 0 || off+n > int64(len(m)) {
			return nil, io.ErrUnexpectedEOF
		}
		return m[off : off+n : off+n], nil
	}
	b := make([]byte, n)
	if _, err := r.ReadAt(b, off); err != nil && !(err == io.EOF && int64(len(b)) == n) {
		return nil, err
	}
	return b, nil
}

// memFile is a file's bytes in memory.
type memFile []byte

func (m memFile) ReadAt(b []byte, off int64) (int, error) {
	if off < 0 || off > int64(len(m)) {
		return 0, io.EOF
	}
	n := copy(b, m[off:])
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}
