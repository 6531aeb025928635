package dicomseg

import (
	"bytes"
	"errors"
	"fmt"
	"image/color"
	"math"
	"slices"
	"strings"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"

	"github.com/neuronova/neuronova/internal/dicomkit"
	"github.com/neuronova/neuronova/viewer"
)

var (
	// ErrNotSEG reports a DICOM object that is not a Segmentation (its SOP Class is another).
	ErrNotSEG = errors.New("dicomseg: not a DICOM Segmentation")
	// ErrFrameOfReference reports a SEG whose frame of reference is not the series' it is placed on.
	ErrFrameOfReference = errors.New("dicomseg: the SEG and the series have different frames of reference")
	// ErrOffGrid reports a frame that neither references an image of the series nor falls on a slice of its
	// grid.
	ErrOffGrid = errors.New("dicomseg: a frame of the SEG does not lie on the series' grid")
)

// MaxSEGBytes bounds the inflated dataset of a deflated SEG that Parse reads.
const MaxSEGBytes int64 = 2 << 30

// Seg is a parsed DICOM Segmentation: what it segments and its frames, before placement on a grid.
type Seg struct {
	SeriesUID, SOPInstanceUID, ReferencedSeriesUID, FrameOfReferenceUID string
	StudyUID                                                            string
	SeriesDescription                                                   string
	// Segments are as the file states them, in its order: Value is the segment number (the label value the
	// label map gives it, as Build numbers TumourSegments), Label, Description, Property and Colour
	// (Recommended Display CIELab Value, zero when absent).
	Segments []Segment
	// Fractional: 8-bit frames, a voxel belongs to a segment from half of MaxFractional up.
	Fractional    bool
	MaxFractional int
	Rows, Columns int
	Frames        []Frame
	pixels        []byte // the frames' pixels: packed bits (binary) or bytes (fractional), frame after frame
}

// Frame is one frame of a SEG: the segment it belongs to and where it lies.
type Frame struct {
	Segment        int      // ReferencedSegmentNumber
	Sources        []string // ReferencedSOPInstanceUIDs of its source images
	Position       viewer.Vec3
	HasPosition    bool           // ImagePositionPatient was present
	Orientation    [2]viewer.Vec3 // row and column cosines; zero when absent
	HasOrientation bool
	PixelSpacing   [2]float64 // between rows, between columns; zero when absent
}

// Parse reads the Part 10 bytes of a DICOM Segmentation (binary, or fractional with 8-bit frames, native
// pixel data).
func Parse(data []byte) (*Seg, error) {
	r := bytes.NewReader(data)
	lay, err := dicomkit.Walk(r, int64(len(data)), MaxSEGBytes)
	if err != nil {
		return nil, fmt.Errorf("dicomseg: %w", err)
	}
	opts := []dicomkit.Option{dicomkit.WithPixelBytes()}
	if lay.ForceImplicit {
		opts = append(opts, dicomkit.WithImplicitVR())
	}
	ds, err := dicomkit.Parse(bytes.NewReader(data), int64(len(data)), opts...)
	if err != nil {
		return nil, fmt.Errorf("dicomseg: %w", err)
	}
	class := dicomkit.Text(&ds, tag.SOPClassUID)
	if class == "" {
		class = lay.MediaClass
	}
	if class != SegmentationStorage {
		return nil, fmt.Errorf("%w: SOP Class UID %q", ErrNotSEG, class)
	}
	s := &Seg{SeriesUID: dicomkit.Text(&ds, tag.SeriesInstanceUID), SOPInstanceUID: dicomkit.Text(&ds, tag.SOPInstanceUID),
		FrameOfReferenceUID: dicomkit.Text(&ds, tag.FrameOfReferenceUID), StudyUID: dicomkit.Text(&ds, tag.StudyInstanceUID),
		SeriesDescription: dicomkit.Text(&ds, tag.SeriesDescription)}
	top := ds.Elements
	if rs := dicomkit.FirstItem(top, tag.ReferencedSeriesSequence); rs != nil {
		s.ReferencedSeriesUID = dicomkit.String(dicomkit.Find(rs, tag.SeriesInstanceUID))
	}
	if err := s.readPixelModule(top); err != nil {
		return nil, err
	}
	if err := s.readSegments(top); err != nil {
		return nil, err
	}
	if err := s.readFrames(top); err != nil {
		return nil, err
	}
	if err := s.readPixels(dicomkit.Find(top, tag.PixelData)); err != nil {
		return nil, err
	}
	return s, nil
}

// integer reads a required integer attribute of els.
func integer(els []*dicom.Element, t tag.Tag) (int, error) {
	n, ok, err := dicomkit.Int(dicomkit.Find(els, t))
	if err != nil {
		return 0, fmt.Errorf("dicomseg: %w", err)
	}
	if !ok {
		return 0, fmt.Errorf("dicomseg: %s is missing", dicomkit.TagName(t))
	}
	return n, nil
}

// readPixelModule reads the segmentation type and the frame size.
func (s *Seg) readPixelModule(top []*dicom.Element) error {
	typ := strings.ToUpper(dicomkit.String(dicomkit.Find(top, tag.SegmentationType)))
	bits, err := integer(top, tag.BitsAllocated)
	if err != nil {
		return err
	}
	switch typ {
	case "BINARY":
		if bits != 1 {
			return fmt.Errorf("dicomseg: a binary SEG with Bits Allocated %d (want 1)", bits)
		}
	case "FRACTIONAL":
		if bits != 8 {
			return fmt.Errorf("dicomseg: a fractional SEG with Bits Allocated %d (want 8)", bits)
		}
		s.Fractional = true
		if s.MaxFractional, err = integer(top, tag.MaximumFractionalValue); err != nil {
			return err
		}
		if s.MaxFractional <= 0 || s.MaxFractional > 255 {
			return fmt.Errorf("dicomseg: Maximum Fractional Value %d is not in 1…255", s.MaxFractional)
		}
	default:
		return fmt.Errorf("dicomseg: Segmentation Type %q is neither BINARY nor FRACTIONAL", typ)
	}
	if s.Rows, err = integer(top, tag.Rows); err != nil {
		return err
	}
	if s.Columns, err = integer(top, tag.Columns); err != nil {
		return err
	}
	if s.Rows <= 0 || s.Columns <= 0 || s.Rows > 65535 || s.Columns > 65535 {
		return fmt.Errorf("dicomseg: frame size %d×%d is invalid", s.Columns, s.Rows)
	}
	return nil
}

// readSegments reads the Segment Sequence.
func (s *Seg) readSegments(top []*dicom.Element) error {
	items := dicomkit.Items(dicomkit.Find(top, tag.SegmentSequence))
	if len(items) == 0 {
		return errors.New("dicomseg: the Segment Sequence is missing or empty")
	}
	for _, it := range items {
		n, err := integer(it, tag.SegmentNumber)
		if err != nil {
			return err
		}
		if n < 1 || n > 255 {
			return fmt.Errorf("dicomseg: segment number %d is not in 1…255 (label values are 8-bit)", n)
		}
		if slices.ContainsFunc(s.Segments, func(g Segment) bool { return int(g.Value) == n }) {
			return fmt.Errorf("dicomseg: segment number %d appears twice", n)
		}
		sg := Segment{Value: uint8(n), Label: dicomkit.String(dicomkit.Find(it, tag.SegmentLabel)),
			Description: dicomkit.String(dicomkit.Find(it, tag.SegmentDescription))}
		if p := dicomkit.FirstItem(it, tag.SegmentedPropertyTypeCodeSequence); p != nil {
			sg.Property = Code{dicomkit.String(dicomkit.Find(p, tag.CodeValue)), dicomkit.String(dicomkit.Find(p, tag.CodingSchemeDesignator)),
				dicomkit.String(dicomkit.Find(p, tag.CodeMeaning))}
		}
		if lab, ok := dicomkit.Floats(dicomkit.Find(it, tag.RecommendedDisplayCIELabValue)); ok && len(lab) == 3 {
			for i, v := range lab {
				sg.Colour[i] = int(math.Max(0, math.Min(65535, v)))
			}
		}
		s.Segments = append(s.Segments, sg)
	}
	return nil
}

// readFrames reads the per-frame functional groups, with the shared ones as defaults.
func (s *Seg) readFrames(top []*dicom.Element) error {
	n, ok, err := dicomkit.Int(dicomkit.Find(top, tag.NumberOfFrames))
	if err != nil {
		return fmt.Errorf("dicomseg: %w", err)
	}
	if !ok {
		n = 1 // an object without Number of Frames has one
	}
	per := dicomkit.Items(dicomkit.Find(top, tag.PerFrameFunctionalGroupsSequence))
	if n <= 0 || len(per) < n {
		return fmt.Errorf("dicomseg: Number of Frames is %d but the Per-frame Functional Groups Sequence has %d items", n, len(per))
	}
	per = per[:n] // items past the frames (a file cut to its first frames) describe nothing
	shared := dicomkit.FirstItem(top, tag.SharedFunctionalGroupsSequence)
	// group returns the functional group t of a frame, or the shared one.
	group := func(fg []*dicom.Element, t tag.Tag) []*dicom.Element {
		if g := dicomkit.FirstItem(fg, t); g != nil {
			return g
		}
		return dicomkit.FirstItem(shared, t)
	}
	s.Frames = make([]Frame, n)
	for i, fg := range per {
		f := &s.Frames[i]
		num, err := integer(group(fg, tag.SegmentIdentificationSequence), tag.ReferencedSegmentNumber)
		if err != nil {
			return fmt.Errorf("frame %d: %w", i+1, err)
		}
		if !slices.ContainsFunc(s.Segments, func(g Segment) bool { return int(g.Value) == num }) {
			return fmt.Errorf("dicomseg: frame %d belongs to segment %d, which the Segment Sequence lacks", i+1, num)
		}
		f.Segment = num
		for _, d := range dicomkit.Items(dicomkit.Find(fg, tag.DerivationImageSequence)) {
			for _, si := range dicomkit.Items(dicomkit.Find(d, tag.SourceImageSequence)) {
				if u := dicomkit.String(dicomkit.Find(si, tag.ReferencedSOPInstanceUID)); u != "" {
					f.Sources = append(f.Sources, u)
				}
			}
		}
		if p, ok := dicomkit.Floats(dicomkit.Find(group(fg, tag.PlanePositionSequence), tag.ImagePositionPatient)); ok && len(p) == 3 {
			f.Position, f.HasPosition = viewer.Vec3{p[0], p[1], p[2]}, true
		}
		if o, ok := dicomkit.Floats(dicomkit.Find(group(fg, tag.PlaneOrientationSequence), tag.ImageOrientationPatient)); ok && len(o) == 6 {
			f.Orientation, f.HasOrientation = [2]viewer.Vec3{{o[0], o[1], o[2]}, {o[3], o[4], o[5]}}, true
		}
		if ps, ok := dicomkit.Floats(dicomkit.Find(group(fg, tag.PixelMeasuresSequence), tag.PixelSpacing)); ok && len(ps) == 2 {
			f.PixelSpacing = [2]float64{ps[0], ps[1]}
		}
	}
	return nil
}

// readPixels keeps the native pixel data, checking that it holds every frame.
func (s *Seg) readPixels(e *dicom.Element) error {
	if e == nil || e.Value == nil {
		return errors.New("dicomseg: the SEG has no Pixel Data")
	}
	info, ok := e.Value.GetValue().(dicom.PixelDataInfo)
	if !ok || info.IsEncapsulated {
		return fmt.Errorf("dicomseg: %w: the SEG's pixel data is encapsulated (compressed); only native SEGs are read", dicomkit.ErrUnsupportedTransferSyntax)
	}
	n := int64(len(s.Frames)) * int64(s.Rows) * int64(s.Columns)
	if !s.Fractional {
		n = (n + 7) / 8
	}
	if int64(len(info.UnprocessedValueData)) < n {
		return fmt.Errorf("dicomseg: %w: pixel data holds %d bytes, %d frames of %d×%d need %d",
			dicomkit.ErrTruncated, len(info.UnprocessedValueData), len(s.Frames), s.Columns, s.Rows, n)
	}
	s.pixels = info.UnprocessedValueData[:n]
	return nil
}

// set reports whether pixel p (row-major) of frame f belongs to its segment.
func (s *Seg) set(f, p int) bool {
	i := f*s.Rows*s.Columns + p
	if s.Fractional {
		v := int(s.pixels[i])
		return v > 0 && 2*v >= s.MaxFractional
	}
	return s.pixels[i/8]>>(i%8)&1 != 0 // PS3.5 8.1.1: the first pixel in the least significant bit
}

// placeTol is how far, in voxels, a frame's pixel centres may lie from the grid's voxel centres.
const placeTol = 0.1

// LabelMap places the SEG on ref's grid: each segment's voxels take its segment number as label value
// (so a SEG Build wrote reads back to the label map it was built from); where segments overlap the higher
// segment number wins. A frame goes to the slice of the image of ref it names (Derivation Image Sequence)
// when ref has that image, else where its Plane Position and Orientation put it, which must be on the grid
// within a tenth of a voxel (ErrOffGrid). A SEG of another frame of reference is refused
// (ErrFrameOfReference). Labels names and colours come from the file (the CIELab colour converted to sRGB, a
// default palette where it has none); Source is the SEG's series UID.
func (s *Seg) LabelMap(ref *viewer.Series) (*viewer.LabelMap, error) {
	if ref == nil {
		return nil, errors.New("dicomseg: no series to place the SEG on")
	}
	g := ref.Grid
	if err := g.Validate(); err != nil {
		return nil, fmt.Errorf("dicomseg: series %s: %w", ref.UID, err)
	}
	if s.FrameOfReferenceUID != "" && ref.FrameOfReferenceUID != "" && s.FrameOfReferenceUID != ref.FrameOfReferenceUID {
		return nil, fmt.Errorf("%w: SEG %s is in %s, series %s in %s", ErrFrameOfReference, s.SeriesUID, s.FrameOfReferenceUID, ref.UID, ref.FrameOfReferenceUID)
	}
	slice := s.slicesByUID(ref)
	m := &viewer.LabelMap{Geometry: g, Data: make([]uint8, g.Len()), Source: s.SeriesUID}
	order := make([]int, len(s.Frames))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return s.Frames[a].Segment - s.Frames[b].Segment })
	for _, f := range order {
		pl, err := s.place(f, g, slice)
		if err != nil {
			return nil, err
		}
		if err := s.paint(m, f, pl); err != nil {
			return nil, err
		}
	}
	m.Labels = s.labels()
	return m, nil
}

// slicesByUID maps the SOP Instance UIDs of ref's single-frame images that lie on its grid to their slice.
func (s *Seg) slicesByUID(ref *viewer.Series) map[string]int {
	g := ref.Grid
	out := make(map[string]int, len(ref.Instances))
	if s.Rows != g.Size[1] || s.Columns != g.Size[0] {
		return out // the frames are not the images' size: placement by position
	}
	for _, inst := range ref.Instances {
		if inst == nil || !inst.HasPosition || inst.Frames > 1 {
			continue
		}
		v := g.ToVoxel(inst.Position)
		k := math.Round(v[2])
		if math.Abs(v[0]) > placeTol || math.Abs(v[1]) > placeTol || math.Abs(v[2]-k) > placeTol || k < 0 || int(k) >= g.Size[2] {
			continue
		}
		out[inst.SOPInstanceUID] = int(k)
	}
	return out
}

// placement maps pixel (c, r) of a frame to voxel origin + c·col + r·row.
type placement struct{ origin, col, row [3]int }

// place finds where frame f lies on g: by a source image of the series, else by position.
func (s *Seg) place(f int, g viewer.Geometry, slice map[string]int) (placement, error) {
	fr := &s.Frames[f]
	for _, u := range fr.Sources {
		if k, ok := slice[u]; ok {
			return placement{origin: [3]int{0, 0, k}, col: [3]int{1, 0, 0}, row: [3]int{0, 1, 0}}, nil
		}
	}
	if !fr.HasPosition || !fr.HasOrientation {
		return placement{}, fmt.Errorf("%w: frame %d names no image of the series and has no plane position and orientation", ErrOffGrid, f+1)
	}
	if !(fr.PixelSpacing[0] > 0 && fr.PixelSpacing[1] > 0) {
		return placement{}, fmt.Errorf("%w: frame %d names no image of the series and has no pixel spacing", ErrOffGrid, f+1)
	}
	rowCos, colCos := fr.Orientation[0].Unit(), fr.Orientation[1].Unit()
	o := g.ToVoxel(fr.Position)
	// Voxel steps of one column (along the row cosines) and one row.
	dc := g.ToVoxel(fr.Position.Add(rowCos.Scale(fr.PixelSpacing[1]))).Sub(o)
	dr := g.ToVoxel(fr.Position.Add(colCos.Scale(fr.PixelSpacing[0]))).Sub(o)
	var pl placement
	var ok1, ok2, ok3 bool
	pl.origin, ok1 = nearInt(o)
	pl.col, ok2 = unitStep(dc, s.Columns)
	pl.row, ok3 = unitStep(dr, s.Rows)
	if !ok1 || !ok2 || !ok3 || pl.col == pl.row {
		return placement{}, fmt.Errorf("%w: frame %d at %v (orientation %v) does not fall on voxels of the %v grid", ErrOffGrid, f+1, fr.Position, fr.Orientation, g.Size)
	}
	return pl, nil
}

// nearInt rounds v, reporting whether each coordinate was within placeTol of an integer.
func nearInt(v viewer.Vec3) ([3]int, bool) {
	var out [3]int
	for a, x := range v {
		r := math.Round(x)
		if math.Abs(x-r) > placeTol || math.Abs(r) > 1<<30 {
			return out, false
		}
		out[a] = int(r)
	}
	return out, true
}

// unitStep reports whether d is one voxel along one axis (±), so close that n steps stay within placeTol.
func unitStep(d viewer.Vec3, n int) ([3]int, bool) {
	s, ok := nearInt(d)
	if !ok || abs(s[0])+abs(s[1])+abs(s[2]) != 1 {
		return s, false
	}
	for a := range d {
		if math.Abs(d[a]-float64(s[a]))*float64(n) > placeTol {
			return s, false
		}
	}
	return s, true
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// paint writes frame f's segment number into m where the frame is set.
func (s *Seg) paint(m *viewer.LabelMap, f int, pl placement) error {
	v := uint8(s.Frames[f].Segment)
	p := 0
	for r := 0; r < s.Rows; r++ {
		for c := 0; c < s.Columns; c, p = c+1, p+1 {
			if !s.set(f, p) {
				continue
			}
			i := pl.origin[0] + c*pl.col[0] + r*pl.row[0]
			j := pl.origin[1] + c*pl.col[1] + r*pl.row[1]
			k := pl.origin[2] + c*pl.col[2] + r*pl.row[2]
			if !m.Contains(i, j, k) {
				return fmt.Errorf("%w: pixel (%d, %d) of frame %d falls outside the %v grid", ErrOffGrid, c, r, f+1, m.Size)
			}
			m.Data[m.Index(i, j, k)] = v
		}
	}
	return nil
}

// defaultPalette colours segments the file gives no colour: the tumour colours, then distinct hues.
var defaultPalette = []color.NRGBA{
	viewer.TumourLabels[0].Color, viewer.TumourLabels[1].Color, viewer.TumourLabels[2].Color,
	{R: 40, G: 120, B: 240, A: 255}, {R: 230, G: 60, B: 220, A: 255}, {R: 40, G: 220, B: 220, A: 255},
	{R: 250, G: 140, B: 20, A: 255}, {R: 150, G: 90, B: 240, A: 255},
}

// labels names the segments for the label map.
func (s *Seg) labels() []viewer.Label {
	out := make([]viewer.Label, 0, len(s.Segments))
	for i, sg := range s.Segments {
		name := sg.Label
		if name == "" {
			name = fmt.Sprintf("Segment %d", sg.Value)
		}
		c := defaultPalette[i%len(defaultPalette)]
		if sg.Colour != [3]int{} {
			c = LabToRGB(sg.Colour)
		}
		out = append(out, viewer.Label{Value: sg.Value, Name: name, Color: c})
	}
	slices.SortFunc(out, func(a, b viewer.Label) int { return int(a.Value) - int(b.Value) })
	return out
}

// LabToRGB converts a DICOM CIELab value (PS3.3 C.10.7.1.1: L*, a*, b* scaled to 0…65535, D65 white) to sRGB.
func LabToRGB(v [3]int) color.NRGBA {
	l := float64(v[0]) * 100 / 65535
	a := float64(v[1])*255/65535 - 128
	b := float64(v[2])*255/65535 - 128
	fy := (l + 16) / 116
	fx, fz := fy+a/500, fy-b/200
	inv := func(t float64) float64 {
		if t > 6.0/29 {
			return t * t * t
		}
		return 3 * (6.0 / 29) * (6.0 / 29) * (t - 4.0/29)
	}
	x, y, z := 0.95047*inv(fx), inv(fy), 1.08883*inv(fz)
	lin := [3]float64{
		3.2404542*x - 1.5371385*y - 0.4985314*z,
		-0.9692660*x + 1.8760108*y + 0.0415560*z,
		0.0556434*x - 0.2040259*y + 1.0572252*z,
	}
	var out [3]uint8
	for i, c := range lin {
		c = math.Max(0, math.Min(1, c))
		if c <= 0.0031308 {
			c *= 12.92
		} else {
			c = 1.055*math.Pow(c, 1/2.4) - 0.055
		}
		out[i] = uint8(math.Round(c * 255))
	}
	return color.NRGBA{R: out[0], G: out[1], B: out[2], A: 255}
}
