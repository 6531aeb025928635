// Package dicomseg writes an AI label map as a DICOM Segmentation object (PS3.3 A.51): binary segments NCR, ED
// and ET on the reference series' own grid, one frame per segment and slice that holds any voxel of it, each
// frame deriving from the source MR image of its slice, and the whole object referencing the source series. The
// model's banner (for demonstration models "… not for clinical use") goes into the series description, the
// content description and the segment algorithm name, so that a PACS shows it. Parse reads a SEG (binary or
// fractional, ours or another's) and Seg.LabelMap places it on a series' grid.
package dicomseg

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"

	"github.com/neuronova/neuronova/internal/dicomkit"
	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/dcmwrite"
)

// SegmentationStorage is the SOP Class UID of Segmentation Storage.
const SegmentationStorage = viewer.SegmentationStorage

// ErrNoSourceImages reports a reference series that is not made of DICOM images (a NIfTI volume, the in-memory
// demo study): a SEG must reference the images it was derived from.
var ErrNoSourceImages = errors.New("dicomseg: the reference series has no DICOM images to reference")

// Segment is one binary segment: the label value it takes from the map and how it is coded.
type Segment struct {
	Value       uint8
	Label       string // SegmentLabel
	Description string
	Property    Code // SegmentedPropertyType
	Colour      [3]int
}

// Code is a coded concept (code value, scheme, meaning).
type Code struct{ Value, Scheme, Meaning string }

// TumourSegments are the BraTS sub-regions in label-map order.
var TumourSegments = []Segment{
	{viewer.LabelNCR, "NCR", "Necrotic and non-enhancing tumour core", Code{"6574001", "SCT", "Necrosis"}, [3]int{30000, 45000, 38000}},
	{viewer.LabelED, "ED", "Peritumoural oedema", Code{"79654002", "SCT", "Edema"}, [3]int{45000, 20000, 50000}},
	{viewer.LabelET, "ET", "Enhancing tumour", Code{"108369006", "SCT", "Neoplasm"}, [3]int{60000, 35000, 60000}},
}

var categoryMorphology = Code{"49755003", "SCT", "Morphologically Altered Structure"}

// Options describe the object beyond the label map.
type Options struct {
	Study            *viewer.Study
	Reference        *viewer.Series // the series the label map's grid is; its instances are referenced
	Algorithm        string         // model id and version, e.g. "m1-demo 1.0.0"
	Banner           string         // the model's banner
	SeriesNumber     int            // 0 = 901
	SeriesUID        string         // "" = derived from the label map's content and Algorithm
	InstanceUID      string         // "" = derived likewise
	Time             time.Time      // content date and time; zero = now
	Segments         []Segment      // nil = TumourSegments
	DeviceSerial     string         // "" = "0"
	SoftwareVersions string         // "" = dcmwrite.ImplementationVersionName
	Derived          *Derivation    // nil for a model's output; else the SEG this one is an edit of
}

// Derivation makes a SEG an edit of an earlier one: the editor is its content creator, the segments are
// SEMIAUTOMATIC, and the earlier SEG is its source image (Source Image Sequence, also listed in the Referenced
// Series Sequence) with the description as Derivation Description.
type Derivation struct {
	SeriesUID, InstanceUID string // the SEG edited; both "" for an edit of a map that was not a SEG (a NIfTI file)
	Editor                 string // ContentCreatorName, a user name or DICOM PN
	Description            string // what was done, e.g. "manual edit of <parent>"
}

// Build returns the SEG dataset of label map m (on the reference series' grid).
func Build(m *viewer.LabelMap, o Options) ([]*dicom.Element, error) {
	images, err := sourceImages(m, o)
	if err != nil {
		return nil, err
	}
	o, dimOrg := o.withDefaults(m)
	frames := framesOf(m, o.Segments)
	var b dcmwrite.Builder
	header(&b, o, len(frames))
	if err := segmentSequence(&b, o); err != nil {
		return nil, err
	}
	dimensions(&b, dimOrg)
	functionalGroups(&b, m.Geometry, frames, images)
	var refs [][]*dicom.Element // Common Instance Reference: every image of the source series
	for _, inst := range images {
		refs = append(refs, elems(func(r *dcmwrite.Builder) {
			r.String(tag.ReferencedSOPClassUID, orDefault(inst.SOPClassUID, dcmwrite.MRImageStorage))
			r.String(tag.ReferencedSOPInstanceUID, inst.SOPInstanceUID)
		}))
	}
	referenceSeries(&b, o.Reference.UID, refs, o.Derived)
	b.NativePixels(packFrames(m, o.Segments, frames))
	return b.Elements()
}

// sourceImages checks m and o and returns the reference series' image of each slice of m's grid.
func sourceImages(m *viewer.LabelMap, o Options) ([]*viewer.Instance, error) {
	if err := m.Check(); err != nil {
		return nil, err
	}
	if o.Study == nil || o.Reference == nil {
		return nil, errors.New("dicomseg: study and reference series are required")
	}
	ref := o.Reference
	if len(ref.Instances) == 0 {
		return nil, ErrNoSourceImages
	}
	if d := o.Derived; d != nil && ((d.SeriesUID == "") != (d.InstanceUID == "") || d.Editor == "") {
		return nil, errors.New("dicomseg: an edited SEG needs its editor and both or neither of the series and instance UIDs of the SEG edited")
	}
	if !ref.Grid.SameGrid(m.Geometry, 1e-3) {
		return nil, fmt.Errorf("dicomseg: the label map (%v) is not on the reference series' grid (%v)", m.Size, ref.Grid.Size)
	}
	g := m.Geometry
	images := make([]*viewer.Instance, g.Size[2])
	for _, inst := range ref.Instances {
		if inst.Frames > 1 {
			return nil, fmt.Errorf("dicomseg: reference series %s has multi-frame images, which this writer does not reference", ref.UID)
		}
		k := int(math.Round(g.ToVoxel(inst.Position)[2]))
		if !inst.HasPosition || k < 0 || k >= len(images) {
			return nil, fmt.Errorf("dicomseg: image %s of the reference series has no position on its grid", inst.SOPInstanceUID)
		}
		images[k] = inst
	}
	for k, inst := range images {
		if inst == nil {
			return nil, fmt.Errorf("dicomseg: no reference image for slice %d", k)
		}
	}
	return images, nil
}

// withDefaults fills what o leaves out, and returns the Dimension Organization UID; UIDs not given derive from
// the reference series, the algorithm and m's content.
func (o Options) withDefaults(m *viewer.LabelMap) (Options, string) {
	if o.Segments == nil {
		o.Segments = TumourSegments
	}
	if o.Time.IsZero() {
		o.Time = time.Now()
	}
	o.DeviceSerial = orDefault(o.DeviceSerial, "0")
	o.SoftwareVersions = orDefault(o.SoftwareVersions, dcmwrite.ImplementationVersionName)
	if o.SeriesNumber == 0 {
		o.SeriesNumber = 901
	}
	key := fmt.Sprintf("%s|%s|%x", o.Reference.UID, o.Algorithm, digest(m.Data))
	o.SeriesUID = orDefault(o.SeriesUID, dicomkit.DeterministicUID("neuronova", "seg series", key))
	o.InstanceUID = orDefault(o.InstanceUID, dicomkit.DeterministicUID("neuronova", "seg instance", key))
	return o, dicomkit.DeterministicUID("neuronova", "seg dimension organisation", key)
}

// frame is one frame of the SEG: segment seg (an index of the segments) on slice k.
type frame struct{ seg, k int }

// framesOf lists the frames of m: segment-major, slices in grid order; a segment with no voxel gets no frame,
// and an empty map one empty frame of the first segment (an empty result is still a result).
func framesOf(m *viewer.LabelMap, segs []Segment) []frame {
	nx, ny := m.Size[0], m.Size[1]
	var frames []frame
	for s, sg := range segs {
		for k := 0; k < m.Size[2]; k++ {
			if slices.Contains(m.Data[nx*ny*k:nx*ny*(k+1)], sg.Value) {
				frames = append(frames, frame{s, k})
			}
		}
	}
	if len(frames) == 0 {
		frames = append(frames, frame{0, m.Size[2] / 2})
	}
	return frames
}

// packFrames is the frames' bits, one a pixel, padded to an even length.
func packFrames(m *viewer.LabelMap, segs []Segment, frames []frame) []byte {
	nx, ny := m.Size[0], m.Size[1]
	bits := make([]byte, (len(frames)*nx*ny+7)/8)
	bits = append(bits, make([]byte, len(bits)%2)...)
	for f, fr := range frames {
		plane := m.Data[nx*ny*fr.k : nx*ny*(fr.k+1)]
		base := f * nx * ny
		for i, v := range plane {
			if v == segs[fr.seg].Value {
				b := base + i
				bits[b/8] |= 1 << (b % 8)
			}
		}
	}
	return bits
}

// header writes the SOP Common, Patient, General Study and Series, Segmentation Image and Image Pixel
// attributes of a SEG of n frames.
func header(b *dcmwrite.Builder, o Options, n int) {
	st := dcmwrite.StudyInfoOf(o.Study)
	date, clock := o.Time.Format("20060102"), o.Time.Format("150405")
	banner := strings.TrimSpace(o.Banner)
	b.String(tag.SOPClassUID, SegmentationStorage)
	b.String(tag.SOPInstanceUID, o.InstanceUID)
	b.String(tag.StudyDate, orDefault(st.StudyDate, date))
	b.String(tag.StudyTime, orDefault(st.StudyTime, clock))
	b.String(tag.SeriesDate, date)
	b.String(tag.SeriesTime, clock)
	b.String(tag.ContentDate, date)
	b.String(tag.ContentTime, clock)
	b.String(tag.AccessionNumber, optional(st.AccessionNumber)...)
	b.String(tag.Modality, "SEG")
	b.String(tag.Manufacturer, "NeuroNova")
	b.String(tag.ReferringPhysicianName)
	b.String(tag.StudyDescription, optional(lo(st.Description))...)
	kind, creator := "AI SEG ", "NeuroNova^AI"
	if d := o.Derived; d != nil {
		kind, creator = "EDITED SEG ", personName(d.Editor)
	}
	b.String(tag.SeriesDescription, lo(kind+o.Algorithm+" - "+shortBanner(banner)))
	b.String(tag.ManufacturerModelName, lo("NeuroNova M1 "+o.Algorithm))
	b.String(tag.PatientName, optional(st.PatientName)...)
	b.String(tag.PatientID, optional(st.PatientID)...)
	b.String(tag.PatientBirthDate, optional(st.PatientBirthDate)...)
	b.String(tag.PatientSex, optional(st.PatientSex)...)
	b.String(tag.DeviceSerialNumber, o.DeviceSerial)
	b.String(tag.SoftwareVersions, o.SoftwareVersions)
	b.String(tag.StudyInstanceUID, o.Study.UID)
	b.String(tag.SeriesInstanceUID, o.SeriesUID)
	b.String(tag.StudyID, orDefault(st.StudyID, "1"))
	b.Integer(tag.SeriesNumber, o.SeriesNumber)
	b.Integer(tag.InstanceNumber, 1)
	ref := o.Reference
	b.String(tag.FrameOfReferenceUID, orDefault(ref.FrameOfReferenceUID, dicomkit.DeterministicUID(ref.UID, "frame of reference")))
	b.String(tag.PositionReferenceIndicator)
	// Segmentation Image.
	b.String(tag.ImageType, "DERIVED", "PRIMARY")
	b.String(tag.ContentLabel, "TUMOUR")
	b.String(tag.ContentDescription, lo(shortBanner(banner)))
	b.String(tag.ContentCreatorName, lo(creator))
	b.String(tag.SegmentationType, "BINARY")
	b.String(tag.LossyImageCompression, "00")
	// Image Pixel.
	b.Ints(tag.SamplesPerPixel, 1)
	b.String(tag.PhotometricInterpretation, "MONOCHROME2")
	b.Ints(tag.Rows, o.Reference.Grid.Size[1])
	b.Ints(tag.Columns, o.Reference.Grid.Size[0])
	b.Ints(tag.BitsAllocated, 1)
	b.Ints(tag.BitsStored, 1)
	b.Ints(tag.HighBit, 0)
	b.Ints(tag.PixelRepresentation, 0)
	b.Integer(tag.NumberOfFrames, n)
}

// segmentSequence writes the Segment Sequence: each segment with its label, colour, codes and algorithm
// (AUTOMATIC, or SEMIAUTOMATIC for an edit).
func segmentSequence(b *dcmwrite.Builder, o Options) error {
	algoType := "AUTOMATIC"
	if o.Derived != nil {
		algoType = "SEMIAUTOMATIC"
	}
	var items [][]*dicom.Element
	for n, sg := range o.Segments {
		var s dcmwrite.Builder
		s.Ints(tag.SegmentNumber, n+1)
		s.String(tag.SegmentLabel, lo(sg.Label))
		s.String(tag.SegmentDescription, lo(sg.Description))
		s.String(tag.SegmentAlgorithmType, algoType)
		s.String(tag.SegmentAlgorithmName, lo(o.Algorithm))
		s.Ints(tag.RecommendedDisplayCIELabValue, sg.Colour[:]...)
		s.Sequence(tag.SegmentedPropertyCategoryCodeSequence, codeItem(categoryMorphology))
		s.Sequence(tag.SegmentedPropertyTypeCodeSequence, codeItem(sg.Property))
		e, err := s.Elements()
		if err != nil {
			return err
		}
		items = append(items, e)
	}
	b.Sequence(tag.SegmentSequence, items...)
	return nil
}

// dimensions writes the Multi-frame Dimension module: segment number, then image position.
func dimensions(b *dcmwrite.Builder, dimOrg string) {
	b.Sequence(tag.DimensionOrganizationSequence, elems(func(d *dcmwrite.Builder) { d.String(tag.DimensionOrganizationUID, dimOrg) }))
	b.String(tag.DimensionOrganizationType, "3D")
	b.Sequence(tag.DimensionIndexSequence,
		elems(func(d *dcmwrite.Builder) {
			d.String(tag.DimensionOrganizationUID, dimOrg)
			d.Ints(tag.DimensionIndexPointer, tagInt(tag.ReferencedSegmentNumber)...)
			d.Ints(tag.FunctionalGroupPointer, tagInt(tag.SegmentIdentificationSequence)...)
			d.String(tag.DimensionDescriptionLabel, "ReferencedSegmentNumber")
		}),
		elems(func(d *dcmwrite.Builder) {
			d.String(tag.DimensionOrganizationUID, dimOrg)
			d.Ints(tag.DimensionIndexPointer, tagInt(tag.ImagePositionPatient)...)
			d.Ints(tag.FunctionalGroupPointer, tagInt(tag.PlanePositionSequence)...)
			d.String(tag.DimensionDescriptionLabel, "ImagePositionPatient")
		}))
}

// functionalGroups writes the shared functional groups (pixel measures and orientation of grid g) and each
// frame's: its source image, dimension indices, position and segment.
func functionalGroups(b *dcmwrite.Builder, g viewer.Geometry, frames []frame, images []*viewer.Instance) {
	dx, dy := g.Direction[0], g.Direction[1]
	b.Sequence(tag.SharedFunctionalGroupsSequence, elems(func(s *dcmwrite.Builder) {
		s.Sequence(tag.PixelMeasuresSequence, elems(func(p *dcmwrite.Builder) {
			p.Decimal(tag.PixelSpacing, g.Spacing[1], g.Spacing[0])
			p.Decimal(tag.SliceThickness, g.Spacing[2])
			p.Decimal(tag.SpacingBetweenSlices, g.Spacing[2])
		}))
		s.Sequence(tag.PlaneOrientationSequence, elems(func(p *dcmwrite.Builder) {
			p.Decimal(tag.ImageOrientationPatient, dx[0], dx[1], dx[2], dy[0], dy[1], dy[2])
		}))
	}))
	per := make([][]*dicom.Element, len(frames))
	for f, fr := range frames {
		inst := images[fr.k]
		pos := g.ToPatient(viewer.Vec3{0, 0, float64(fr.k)})
		per[f] = elems(func(s *dcmwrite.Builder) {
			s.Sequence(tag.DerivationImageSequence, elems(func(d *dcmwrite.Builder) {
				d.Sequence(tag.SourceImageSequence, elems(func(si *dcmwrite.Builder) {
					si.String(tag.ReferencedSOPClassUID, orDefault(inst.SOPClassUID, dcmwrite.MRImageStorage))
					si.String(tag.ReferencedSOPInstanceUID, inst.SOPInstanceUID)
					si.Sequence(tag.PurposeOfReferenceCodeSequence, codeItem(Code{"121322", "DCM", "Source image for image processing operation"}))
				}))
				d.Sequence(tag.DerivationCodeSequence, codeItem(Code{"113076", "DCM", "Segmentation"}))
			}))
			s.Sequence(tag.FrameContentSequence, elems(func(c *dcmwrite.Builder) {
				c.Ints(tag.DimensionIndexValues, fr.seg+1, fr.k+1)
			}))
			s.Sequence(tag.PlanePositionSequence, elems(func(p *dcmwrite.Builder) {
				p.Decimal(tag.ImagePositionPatient, pos[0], pos[1], pos[2])
			}))
			s.Sequence(tag.SegmentIdentificationSequence, elems(func(si *dcmwrite.Builder) {
				si.Ints(tag.ReferencedSegmentNumber, fr.seg+1)
			}))
		})
	}
	b.Sequence(tag.PerFrameFunctionalGroupsSequence, per...)
}

// Write builds the SEG and writes it to path.
func Write(path string, m *viewer.LabelMap, o Options) error {
	elems, err := Build(m, o)
	if err != nil {
		return err
	}
	return dcmwrite.WriteFile(path, elems)
}

// elems builds one item with f; an error is kept in the builder of the enclosing element, which the caller's
// Elements reports, so here it panics only on programming errors (the values are all generated above).
func elems(f func(b *dcmwrite.Builder)) []*dicom.Element {
	var b dcmwrite.Builder
	f(&b)
	e, err := b.Elements()
	if err != nil {
		panic("dicomseg: " + err.Error())
	}
	return e
}

func codeItem(c Code) []*dicom.Element {
	return elems(func(b *dcmwrite.Builder) {
		b.String(tag.CodeValue, c.Value)
		b.String(tag.CodingSchemeDesignator, c.Scheme)
		b.String(tag.CodeMeaning, c.Meaning)
	})
}

func tagInt(t tag.Tag) []int { return []int{int(t.Group), int(t.Element)} } // AT: group, element

func optional(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// lo cuts a string to the 64 characters of a LO value, on a character boundary.
func lo(s string) string {
	r := []rune(strings.ReplaceAll(s, `\`, "/"))
	if len(r) > 64 {
		r = r[:64]
	}
	return strings.TrimSpace(string(r))
}

// referenceSeries writes the Referenced Series Sequence — the source series with refs, its images — and, for
// an edit, its description and the SEG edited (if it was one) as the source image and a second referenced series.
func referenceSeries(b *dcmwrite.Builder, source string, refs [][]*dicom.Element, d *Derivation) {
	series := [][]*dicom.Element{elems(func(r *dcmwrite.Builder) {
		r.String(tag.SeriesInstanceUID, source)
		r.Sequence(tag.ReferencedInstanceSequence, refs...)
	})}
	if d != nil {
		b.String(tag.DerivationDescription, optional(d.Description)...)
	}
	if d != nil && d.InstanceUID != "" {
		parent := elems(func(r *dcmwrite.Builder) {
			r.String(tag.ReferencedSOPClassUID, SegmentationStorage)
			r.String(tag.ReferencedSOPInstanceUID, d.InstanceUID)
		})
		b.Sequence(tag.SourceImageSequence, elems(func(r *dcmwrite.Builder) {
			r.String(tag.ReferencedSOPClassUID, SegmentationStorage)
			r.String(tag.ReferencedSOPInstanceUID, d.InstanceUID)
			r.Sequence(tag.PurposeOfReferenceCodeSequence, codeItem(Code{"121322", "DCM", "Source image for image processing operation"}))
		}))
		series = append(series, elems(func(r *dcmwrite.Builder) {
			r.String(tag.SeriesInstanceUID, d.SeriesUID)
			r.Sequence(tag.ReferencedInstanceSequence, parent)
		}))
	}
	b.Sequence(tag.ReferencedSeriesSequence, series...)
}

// personName makes a user name a DICOM PN: a name without component separators becomes the family name.
func personName(s string) string {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "^") {
		s += "^"
	}
	return s
}

// shortBanner keeps what a 64-character field must show: the "not for clinical use" phrase survives any cut.
func shortBanner(banner string) string {
	if banner == "" {
		return ""
	}
	lower := strings.ToLower(banner)
	if len([]rune(banner)) > 50 && strings.Contains(lower, "not for clinical use") {
		return "DEMO - NOT FOR CLINICAL USE"
	}
	return banner
}

// digest is a cheap content hash for deterministic UIDs (FNV-1a 64).
func digest(data []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, b := range data {
		h ^= uint64(b)
		h *= 1099511628211
	}
	return h
}
