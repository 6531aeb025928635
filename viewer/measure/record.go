package measure

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/render"
)

// Kind is what a measurement measures.
type Kind string

const (
	KindLength    Kind = "length"
	KindEllipse   Kind = "ellipse"   // ROI inscribed in the rectangle of its two points
	KindRectangle Kind = "rectangle" // ROI between two corners
	KindProbe     Kind = "probe"     // one voxel's value
	// KindBidirectional is RANO's: the longest diameter (points 0 and 1) and the longest diameter
	// perpendicular to it (points 2 and 3), in millimetres.
	KindBidirectional Kind = "bidirectional"
	// KindAngle is the angle at point 1 between the arms to points 0 and 2.
	KindAngle Kind = "angle"
)

// Kinds lists the kinds.
var Kinds = []Kind{KindLength, KindEllipse, KindRectangle, KindProbe, KindBidirectional, KindAngle}

// Points is how many points a measurement of kind k has.
func (k Kind) Points() int {
	switch k {
	case KindProbe:
		return 1
	case KindBidirectional:
		return 4
	case KindAngle:
		return 3
	}
	return 2
}

// ImageRef is the DICOM image a measurement lies on: set when the plane is the series' acquisition plane.
type ImageRef struct {
	SOPInstanceUID string `json:"sop_instance_uid"`
	SOPClassUID    string `json:"sop_class_uid"`
	Frame          int    `json:"frame,omitempty"` // from 0
	// Pixels are the measurement's points in the image's own pixel coordinates (column, row; the top left
	// corner of the first pixel at 0, 0), as an SR's SCOORD takes them; Compute fills them.
	Pixels []Point `json:"pixels,omitempty"`
}

// Measurement is one measurement on one slice of a plane of a series: its points in the plane's image
// coordinates, and what Compute derived from them. It is what the cache keeps, the list shows and the SR
// exports.
type Measurement struct {
	ID                  string             `json:"id"`
	Kind                Kind               `json:"kind"`
	StudyUID            string             `json:"study_uid"`
	SeriesUID           string             `json:"series_uid"`
	FrameOfReferenceUID string             `json:"frame_of_reference_uid,omitempty"`
	Plane               render.Orientation `json:"plane"`
	Slice               int                `json:"slice"`
	Image               *ImageRef          `json:"image,omitempty"`
	Points              []Point            `json:"points"`
	User                string             `json:"user,omitempty"`
	Created             time.Time          `json:"created"`
	Updated             time.Time          `json:"updated"`

	// Patient are the points in patient coordinates (LPS, mm).
	Patient []viewer.Vec3 `json:"patient"`
	Length  float64       `json:"length_mm,omitempty"` // length; a bidirectional's long axis
	Short   float64       `json:"short_mm,omitempty"`  // a bidirectional's short axis
	Angle   float64       `json:"angle_deg,omitempty"`
	Stats   *Stats        `json:"stats,omitempty"` // ellipse and rectangle
	Value   string        `json:"value,omitempty"` // probe: the voxel's value
	// Thickness is the slices' thickness (mm, 0 when unknown), which RANO's measurability depends on.
	Thickness float64 `json:"thickness_mm,omitempty"`
	// Outline is an ROI's outline as a report draws it.
	Outline *Outline `json:"outline,omitempty"`
}

// Outline is an ROI's outline: an ellipse by the ends of its two axes (ELLIPSE), a rectangle by its corners,
// closed (POLYLINE); in patient coordinates and, on the image it was made on, in that image's pixels.
type Outline struct {
	Graphic string        `json:"graphic"`
	Patient []viewer.Vec3 `json:"patient"`
	Pixels  []Point       `json:"pixels,omitempty"`
}

// ErrPoints reports a measurement whose points do not fit its kind.
var ErrPoints = errors.New("measure: wrong number of points")

// Compute derives a measurement's patient positions and values from its points on plane p of v (ROIs and
// probes read voxels; the others need only the plane).
func (m *Measurement) Compute(p render.Plane, v *viewer.Volume) error {
	if len(m.Points) != m.Kind.Points() {
		return fmt.Errorf("%w: %s has %d, needs %d", ErrPoints, m.Kind, len(m.Points), m.Kind.Points())
	}
	m.Patient = m.Patient[:0]
	for _, pt := range m.Points {
		m.Patient = append(m.Patient, p.Patient(float64(m.Slice), pt.X, pt.Y))
	}
	if m.Image != nil {
		if _, native := p.SourceSlice(m.Slice); native {
			m.Image.Pixels = m.Image.Pixels[:0]
			for _, pt := range m.Points {
				ijk := p.VoxelAt(float64(m.Slice), pt.X, pt.Y)
				m.Image.Pixels = append(m.Image.Pixels, Point{X: ijk[0] + 0.5, Y: ijk[1] + 0.5})
			}
		} else {
			m.Image = nil // not on one of the series' images
		}
	}
	m.Length, m.Short, m.Angle, m.Stats, m.Value, m.Outline = 0, 0, 0, nil, "", nil
	if v != nil {
		m.Thickness = v.Thickness
	}
	pp := m.Patient
	switch m.Kind {
	case KindLength:
		m.Length = pp[0].Sub(pp[1]).Norm()
	case KindBidirectional:
		m.Length, m.Short = pp[0].Sub(pp[1]).Norm(), pp[2].Sub(pp[3]).Norm()
	case KindAngle:
		a, b := pp[0].Sub(pp[1]), pp[2].Sub(pp[1])
		if na, nb := a.Norm(), b.Norm(); na > 0 && nb > 0 {
			m.Angle = math.Acos(max(-1, min(1, a.Dot(b)/(na*nb)))) * 180 / math.Pi
		}
	case KindEllipse, KindRectangle:
		shape := Rectangle
		if m.Kind == KindEllipse {
			shape = Ellipse
		}
		m.Outline = m.outline(p)
		if v == nil || v.Samples != 1 {
			return nil
		}
		st, err := Region(p, v, m.Slice, shape, m.Points[0], m.Points[1])
		if err != nil {
			return err
		}
		m.Stats = &st
	case KindProbe:
		if v == nil {
			return nil
		}
		pk, err := p.Pick(v, m.Slice, m.Points[0].X, m.Points[0].Y)
		if err != nil {
			return err
		}
		m.Value = fmt.Sprintf("%g", pk.Value[0])
		if v.Samples == 3 {
			m.Value = fmt.Sprintf("%g,%g,%g", pk.Value[0], pk.Value[1], pk.Value[2])
		}
	}
	return nil
}

// outline computes an ROI's outline on plane p.
func (m *Measurement) outline(p render.Plane) *Outline {
	a, b := m.Points[0], m.Points[1]
	o := &Outline{Graphic: "POLYLINE"}
	pts := []Point{a, {X: b.X, Y: a.Y}, b, {X: a.X, Y: b.Y}, a}
	if m.Kind == KindEllipse {
		cx, cy := (a.X+b.X)/2, (a.Y+b.Y)/2
		pts = []Point{{X: a.X, Y: cy}, {X: b.X, Y: cy}, {X: cx, Y: a.Y}, {X: cx, Y: b.Y}}
		o.Graphic = "ELLIPSE"
	}
	_, native := p.SourceSlice(m.Slice)
	for _, pt := range pts {
		o.Patient = append(o.Patient, p.Patient(float64(m.Slice), pt.X, pt.Y))
		if native {
			ijk := p.VoxelAt(float64(m.Slice), pt.X, pt.Y)
			o.Pixels = append(o.Pixels, Point{X: ijk[0] + 0.5, Y: ijk[1] + 0.5})
		}
	}
	return o
}

// Text is the measurement as a reader reads it beside the drawing and in the list.
func (m Measurement) Text() string {
	switch m.Kind {
	case KindLength:
		return fmt.Sprintf("%.1f mm", m.Length)
	case KindBidirectional:
		r := RANOOf(m.Length, m.Short, m.Thickness)
		s := fmt.Sprintf("%.1f × %.1f mm (%.0f mm²)", m.Length, m.Short, r.Product)
		if !r.Measurable {
			s += "\nnon-measurable: " + r.Why
		}
		return s
	case KindAngle:
		return fmt.Sprintf("%.1f°", m.Angle)
	case KindEllipse, KindRectangle:
		if m.Stats == nil {
			return ""
		}
		s := m.Stats
		return fmt.Sprintf("mean %.1f  SD %.1f\nmin %.0f  max %.0f\narea %.1f mm²  (%d px)", s.Mean, s.SD, s.Min, s.Max, s.Area, s.N)
	case KindProbe:
		if len(m.Patient) == 0 {
			return m.Value
		}
		p := m.Patient[0]
		return fmt.Sprintf("%s at (%.1f, %.1f, %.1f) mm", m.Value, p[0], p[1], p[2])
	}
	return ""
}

// RANO is a bidirectional measurement judged by the RANO criteria: a measurable lesion has two perpendicular
// diameters of at least 10 mm each (at least twice the slice thickness when slices are thicker than 5 mm).
type RANO struct {
	Product    float64 // long × short, mm²: what the sum of products adds up
	Measurable bool
	Why        string // why it is not measurable
}

// RANOOf judges diameters long and short (mm) on slices thickness mm thick (0 when unknown).
func RANOOf(long, short, thickness float64) RANO {
	least := 10.0
	if thickness > 5 {
		least = 2 * thickness
	}
	r := RANO{Product: long * short, Measurable: long >= least && short >= least}
	if !r.Measurable {
		r.Why = fmt.Sprintf("a diameter under %.0f mm", least)
	}
	return r
}

// Move moves point i of a measurement of kind k to image point to, keeping what the kind requires: a
// bidirectional's short axis stays perpendicular to its long axis, crossing it (in millimetres: su and sv
// are the pixel spacings along x and y). pts is changed in place.
func Move(k Kind, pts []Point, i int, to Point, su, sv float64) {
	if i < 0 || i >= len(pts) {
		return
	}
	if k != KindBidirectional || len(pts) != 4 {
		pts[i] = to
		return
	}
	mm := func(p Point) [2]float64 { return [2]float64{p.X * su, p.Y * sv} }
	img := func(x, y float64) Point { return Point{X: x / su, Y: y / sv} }
	a, b, c, d := mm(pts[0]), mm(pts[1]), mm(pts[2]), mm(pts[3])
	t, hc, hd := crossing(a, b, c, d)
	if i < 2 {
		pts[i] = to
		a, b = mm(pts[0]), mm(pts[1])
	} else {
		// The moved end sets where the short axis crosses and its own half; the other half is kept.
		q := mm(to)
		u, n, l := axes(a, b)
		if l == 0 {
			return
		}
		t = min(1, max(0, ((q[0]-a[0])*u[0]+(q[1]-a[1])*u[1])/l))
		side := (q[0]-a[0])*n[0] + (q[1]-a[1])*n[1]
		if i == 2 {
			hc = side
		} else {
			hd = -side
		}
	}
	u, n, l := axes(a, b)
	x := [2]float64{a[0] + u[0]*t*l, a[1] + u[1]*t*l}
	pts[2] = img(x[0]+n[0]*hc, x[1]+n[1]*hc)
	pts[3] = img(x[0]-n[0]*hd, x[1]-n[1]*hd)
}

// NewBidirectional is the bidirectional measurement a drag from a to b starts: the long axis from a to b, the
// short axis across its middle, half as long (su, sv: pixel spacings).
func NewBidirectional(a, b Point, su, sv float64) []Point {
	pts := []Point{a, b, a, b}
	l := math.Hypot((b.X-a.X)*su, (b.Y-a.Y)*sv)
	pa, pb := [2]float64{a.X * su, a.Y * sv}, [2]float64{b.X * su, b.Y * sv}
	_, n, _ := axes(pa, pb)
	mid := [2]float64{(pa[0] + pb[0]) / 2, (pa[1] + pb[1]) / 2}
	pts[2] = Point{X: (mid[0] + n[0]*l/4) / su, Y: (mid[1] + n[1]*l/4) / sv}
	pts[3] = Point{X: (mid[0] - n[0]*l/4) / su, Y: (mid[1] - n[1]*l/4) / sv}
	return pts
}

// NewAngle is the angle a drag from a to b starts: the vertex at a, one arm to b, the other arm as long,
// turned 60° (su, sv: pixel spacings).
func NewAngle(a, b Point, su, sv float64) []Point {
	dx, dy := (b.X-a.X)*su, (b.Y-a.Y)*sv
	s, c := math.Sincos(-math.Pi / 3)
	return []Point{b, a, {X: a.X + (dx*c-dy*s)/su, Y: a.Y + (dx*s+dy*c)/sv}}
}

// axes are the unit vector from a to b, its normal and the length (mm).
func axes(a, b [2]float64) (u, n [2]float64, l float64) {
	l = math.Hypot(b[0]-a[0], b[1]-a[1])
	if l == 0 {
		return [2]float64{1, 0}, [2]float64{0, 1}, 0
	}
	u = [2]float64{(b[0] - a[0]) / l, (b[1] - a[1]) / l}
	return u, [2]float64{-u[1], u[0]}, l
}

// crossing is where a short axis c–d crosses the long axis a–b, as a fraction of a–b, and how far c lies on
// the normal's side and d on the other (mm).
func crossing(a, b, c, d [2]float64) (t, hc, hd float64) {
	u, n, l := axes(a, b)
	if l == 0 {
		return 0.5, 0, 0
	}
	mid := [2]float64{(c[0] + d[0]) / 2, (c[1] + d[1]) / 2}
	t = ((mid[0]-a[0])*u[0] + (mid[1]-a[1])*u[1]) / l
	hc = (c[0]-a[0])*n[0] + (c[1]-a[1])*n[1]
	hd = -((d[0]-a[0])*n[0] + (d[1]-a[1])*n[1])
	return t, hc, hd
}
