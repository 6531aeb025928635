package render

import (
	"errors"
	"fmt"
	"image"
	"math"
	"sort"
	"strings"

	"github.com/neuronova/neuronova/viewer"
)

var (
	// ErrGridMismatch reports a volume or label map that is not on the plane's voxel grid.
	ErrGridMismatch = errors.New("render: not on the plane's grid")
	// ErrSliceRange reports a slice index outside 0 … Slices()−1.
	ErrSliceRange = errors.New("render: slice out of range")
	// ErrOutside reports an image point outside the plane image.
	ErrOutside = errors.New("render: point outside the image")
)

// Orientation is a patient plane.
type Orientation uint8

const (
	Axial    Orientation = iota // transverse: patient right on screen left, anterior up
	Coronal                     // patient right on screen left, superior up
	Sagittal                    // anterior on screen left, superior up
)

func (o Orientation) String() string {
	switch o {
	case Axial:
		return "axial"
	case Coronal:
		return "coronal"
	case Sagittal:
		return "sagittal"
	}
	return fmt.Sprintf("Orientation(%d)", uint8(o))
}

// patientDir is a signed patient (LPS) axis: 0 L, 1 P, 2 S.
type patientDir struct {
	axis int
	sign int
}

// planeDirs gives, per orientation, the patient direction of screen right (u), screen down (v) and
// increasing slice index (n). Slice index always grows along +L, +P or +S.
var planeDirs = [3][3]patientDir{
	Axial:    {{0, +1}, {1, +1}, {2, +1}}, // right → L, down → P, slices → S
	Coronal:  {{0, +1}, {2, -1}, {1, +1}}, // right → L, down → I, slices → P
	Sagittal: {{1, +1}, {2, -1}, {0, +1}}, // right → P, down → I, slices → L
}

// axisMap ties one plane axis (u, v or n) to a voxel axis.
type axisMap struct {
	voxel   int  // voxel axis: 0 column i, 1 row j, 2 slice k
	forward bool // the voxel index grows with the plane coordinate
	size    int
}

// index is the voxel index along the voxel axis for plane coordinate c (integer or fractional).
func (a axisMap) index(c float64) float64 {
	if a.forward {
		return c
	}
	return float64(a.size-1) - c
}

// Plane is one orthogonal patient plane (axial, coronal or sagittal) through a voxel grid: its images are
// the grid's voxel planes, taken along the voxel axis closest to the plane's normal, without
// interpolation, and ordered and flipped so that they follow the radiological display convention.
//
// For a grid whose axes follow the patient axes (within 1e-3 rad) the planes are exact. For an oblique
// grid (see Oblique) they are the voxel planes nearest to the patient planes: the image is tilted by the
// grid's obliquity and Edges names the tilt; picking and Locate stay exact because they go through the
// geometry.
//
// A Plane is a small value, cheap to copy and safe for concurrent use.
type Plane struct {
	geom   viewer.Geometry
	orient Orientation
	axes   [3]axisMap // u (screen right), v (screen down), n (slices)
	origin int        // data index of pixel (0, 0) on slice 0
	stride [3]int     // data index step per +1 along u, v and n
	edges  Edges
}

// NewPlane returns the plane of orientation o through grid g.
func NewPlane(g viewer.Geometry, o Orientation) (Plane, error) {
	if o > Sagittal {
		return Plane{}, fmt.Errorf("render: unknown orientation %d", uint8(o))
	}
	if err := g.Validate(); err != nil {
		return Plane{}, fmt.Errorf("render: %s plane: %w", o, err)
	}
	voxelFor := nearestPermutation(g.Direction)
	voxelStride := [3]int{1, g.Size[0], g.Size[0] * g.Size[1]}
	p := Plane{geom: g, orient: o}
	for a, d := range planeDirs[o] {
		va := voxelFor[d.axis]
		cos := g.Direction[va][d.axis] * float64(d.sign)
		m := axisMap{voxel: va, forward: cos > 0, size: g.Size[va]}
		p.axes[a] = m
		if m.forward {
			p.stride[a] = voxelStride[va]
		} else {
			p.stride[a] = -voxelStride[va]
			p.origin += (m.size - 1) * voxelStride[va]
		}
	}
	u, v := p.direction(0), p.direction(1)
	p.edges = Edges{
		Left:   directionLabel(u.Scale(-1)),
		Right:  directionLabel(u),
		Top:    directionLabel(v.Scale(-1)),
		Bottom: directionLabel(v),
	}
	return p, nil
}

// nearestPermutation returns, for each patient axis, the voxel axis whose direction is closest to it:
// the assignment that maximises the summed |cosines|, first one on ties.
func nearestPermutation(dir [3]viewer.Vec3) [3]int {
	perms := [6][3]int{{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}}
	best, bestScore := perms[0], -1.0
	for _, pm := range perms {
		score := 0.0
		for pa := 0; pa < 3; pa++ {
			score += math.Abs(dir[pm[pa]][pa])
		}
		if score > bestScore {
			best, bestScore = pm, score
		}
	}
	return best
}

// Geometry returns the grid the plane goes through.
func (p Plane) Geometry() viewer.Geometry { return p.geom }

// Orientation returns the patient plane.
func (p Plane) Orientation() Orientation { return p.orient }

// Bounds is the image rectangle, (0, 0) to (width, height): allocate images with it.
func (p Plane) Bounds() image.Rectangle { return image.Rect(0, 0, p.axes[0].size, p.axes[1].size) }

// Slices is the number of slices.
func (p Plane) Slices() int { return p.axes[2].size }

// PixelSpacing returns the millimetres per image pixel along screen x (u) and screen y (v); draw the
// image with width·u : height·v to keep its true aspect.
func (p Plane) PixelSpacing() (u, v float64) {
	return p.geom.Spacing[p.axes[0].voxel], p.geom.Spacing[p.axes[1].voxel]
}

// SliceSpacing returns the millimetres between adjacent slices.
func (p Plane) SliceSpacing() float64 { return p.geom.Spacing[p.axes[2].voxel] }

// Oblique reports whether the grid's axes deviate from the patient axes by more than 1e-3 rad (0.06°,
// 0.25 mm across 250 mm), so that the image is a voxel plane near, not on, the patient plane.
func (p Plane) Oblique() bool {
	for a, d := range planeDirs[p.orient] {
		if math.Abs(p.geom.Direction[p.axes[a].voxel][d.axis]) < obliqueCos {
			return true
		}
	}
	return false
}

// direction is the patient unit vector along which plane axis a (0 u, 1 v, 2 n) grows.
func (p Plane) direction(a int) viewer.Vec3 {
	d := p.geom.Direction[p.axes[a].voxel]
	if !p.axes[a].forward {
		d = d.Scale(-1)
	}
	return d
}

// obliqueCos is cos(1e-3 rad).
var obliqueCos = math.Cos(1e-3)

// Edges names the patient directions at the four image edges, for orientation labels.
type Edges struct {
	Left, Right, Top, Bottom string
}

// Edges returns the orientation labels of the image edges. Each label is the letter (R, L, A, P, S, I) of
// the patient axis closest to the direction pointing out of that edge; on oblique grids, letters follow for
// the other axes whose component is at least ObliqueLabelMin, largest first (for example "LA").
func (p Plane) Edges() Edges { return p.edges }

// ObliqueLabelMin is the smallest component (the cosine with a patient axis, about 11.5°) that earns a
// secondary letter in an edge label.
const ObliqueLabelMin = 0.2

// directionLabel names an LPS direction: its dominant axis letter, then secondary ones.
func directionLabel(d viewer.Vec3) string {
	letters := [3][2]string{{"L", "R"}, {"P", "A"}, {"S", "I"}}
	order := []int{0, 1, 2}
	sort.SliceStable(order, func(a, b int) bool { return math.Abs(d[order[a]]) > math.Abs(d[order[b]]) })
	var sb strings.Builder
	for n, a := range order {
		if n > 0 && math.Abs(d[a]) < ObliqueLabelMin {
			break
		}
		if d[a] >= 0 {
			sb.WriteString(letters[a][0])
		} else {
			sb.WriteString(letters[a][1])
		}
	}
	return sb.String()
}

// Voxel returns the voxel index (i, j, k) shown at pixel (px, py) of slice, and whether that pixel and
// slice are inside the plane.
func (p Plane) Voxel(slice, px, py int) ([3]int, bool) {
	var ijk [3]int
	for a, c := range [3]int{px, py, slice} {
		m := p.axes[a]
		if c < 0 || c >= m.size {
			return ijk, false
		}
		if m.forward {
			ijk[m.voxel] = c
		} else {
			ijk[m.voxel] = m.size - 1 - c
		}
	}
	return ijk, true
}

// Patient returns the patient position (LPS, mm) of image point (x, y) on slice; x, y are continuous image
// coordinates (pixel centres at +0.5) and slice may be fractional. Distances between two such points are
// true millimetres: use them for length measurements.
func (p Plane) Patient(slice, x, y float64) viewer.Vec3 {
	return p.geom.ToPatient(p.VoxelAt(slice, x, y))
}

// VoxelAt returns the continuous voxel index (i, j, k; voxel centres at whole numbers) of image point
// (x, y) on slice.
func (p Plane) VoxelAt(slice, x, y float64) viewer.Vec3 {
	var v viewer.Vec3
	for a, c := range [3]float64{x - 0.5, y - 0.5, slice} {
		v[p.axes[a].voxel] = p.axes[a].index(c)
	}
	return v
}

// SourceSlice returns the grid slice k that slice of the plane shows when the plane's slices are the grid's
// own (the series' acquisition plane, where each image of the plane is one image of the series).
func (p Plane) SourceSlice(slice int) (int, bool) {
	m := p.axes[2]
	if m.voxel != 2 || slice < 0 || slice >= m.size {
		return 0, false
	}
	if m.forward {
		return slice, true
	}
	return m.size - 1 - slice, true
}

// Locate is the inverse of Patient: the fractional slice and the image point at which patient position pt
// lies. The point is on a displayed slice when slice is a whole number; round it for the nearest one.
// Locate is exact for oblique grids too (the point is expressed in the grid's own axes).
func (p Plane) Locate(pt viewer.Vec3) (slice, x, y float64) {
	v := p.geom.ToVoxel(pt)
	var c [3]float64
	for a := range c {
		// index is its own inverse: size−1−c ↔ c.
		c[a] = p.axes[a].index(v[p.axes[a].voxel])
	}
	return c[2], c[0] + 0.5, c[1] + 0.5
}

// NearestSlice returns the slice closest to patient position pt, and whether pt lies within half a slice
// spacing of the grid's slab (so that scrolling another viewport to it makes sense).
func (p Plane) NearestSlice(pt viewer.Vec3) (int, bool) {
	s, _, _ := p.Locate(pt)
	n := math.Round(s)
	inside := n >= 0 && n < float64(p.Slices())
	return int(max(0, min(n, float64(p.Slices()-1)))), inside
}

// Pick is what lies under an image point.
type Pick struct {
	Pixel   image.Point // the image pixel
	Voxel   [3]int      // its voxel index (i, j, k)
	Patient viewer.Vec3 // patient position of the point itself (LPS, mm), not snapped to the voxel centre
	Value   [3]float32  // the voxel's value: Value[0] for grey-scale, R, G, B for RGB volumes
}

// Pick returns the voxel under image point (x, y) of slice and its value in v, which must be on the plane's
// grid. It fails with ErrOutside when the point is outside the image, ErrSliceRange or ErrGridMismatch.
func (p Plane) Pick(v *viewer.Volume, slice int, x, y float64) (Pick, error) {
	if err := p.checkVolume(v, slice); err != nil {
		return Pick{}, err
	}
	px, py := math.Floor(x), math.Floor(y)
	ijk, ok := p.Voxel(slice, int(px), int(py))
	if !ok || math.IsNaN(x) || math.IsNaN(y) || px < 0 || py < 0 ||
		px >= float64(p.axes[0].size) || py >= float64(p.axes[1].size) {
		return Pick{}, fmt.Errorf("%w: (%g, %g) in %v", ErrOutside, x, y, p.Bounds())
	}
	pk := Pick{Pixel: image.Pt(int(px), int(py)), Voxel: ijk, Patient: p.Patient(float64(slice), x, y)}
	at := v.Index(ijk[0], ijk[1], ijk[2]) * v.Samples
	copy(pk.Value[:v.Samples], v.Data[at:at+v.Samples])
	return pk, nil
}

// Line is a segment in image coordinates.
type Line struct {
	X0, Y0, X1, Y1 float64
}

// ReferenceLine returns where slice otherSlice of plane other (any grid, any orientation) cuts slice
// slice of p, clipped to p's image; ok is false when the two are parallel or the cut misses the image.
// Use it for reference lines between viewports; for a crosshair, Locate the cursor's patient position.
func (p Plane) ReferenceLine(slice int, other Plane, otherSlice int) (Line, bool) {
	normal := other.direction(2)
	onOther := other.Patient(float64(otherSlice), 0.5, 0.5)
	// Points of this slice: P(x, y) = P0 + x·U + y·V; the cut is normal·(P − onOther) = 0.
	p0 := p.Patient(float64(slice), 0, 0)
	su, sv := p.PixelSpacing()
	a := normal.Dot(p.direction(0).Scale(su))
	b := normal.Dot(p.direction(1).Scale(sv))
	c := normal.Dot(p0.Sub(onOther))
	if math.Hypot(a, b) < 1e-9*math.Max(su, sv) {
		return Line{}, false
	}
	w, h := float64(p.axes[0].size), float64(p.axes[1].size)
	var pts [4][2]float64 // where the line crosses the image border, without repeats
	n := 0
	add := func(x, y float64) {
		const eps = 1e-9
		if x < -eps || x > w+eps || y < -eps || y > h+eps {
			return
		}
		for _, q := range pts[:n] {
			if math.Abs(q[0]-x) < eps && math.Abs(q[1]-y) < eps {
				return
			}
		}
		pts[n] = [2]float64{x, y}
		n++
	}
	if b != 0 {
		add(0, -c/b)
		add(w, -(c+a*w)/b)
	}
	if a != 0 {
		add(-c/a, 0)
		add(-(c+b*h)/a, h)
	}
	if n < 2 {
		return Line{}, false
	}
	return Line{pts[0][0], pts[0][1], pts[1][0], pts[1][1]}, true
}

// sameGrid reports whether h has g's size and places its voxels within a hundredth of a voxel of g's.
func sameGrid(g, h viewer.Geometry) bool {
	if g == h {
		return true
	}
	if g.Size != h.Size {
		return false
	}
	tol := 0.01 * min(g.Spacing[0], g.Spacing[1], g.Spacing[2])
	corners := []viewer.Vec3{{}, {float64(g.Size[0] - 1), 0, 0}, {0, float64(g.Size[1] - 1), 0}, {0, 0, float64(g.Size[2] - 1)}}
	for _, c := range corners {
		if g.ToPatient(c).Sub(h.ToPatient(c)).Norm() > tol {
			return false
		}
	}
	return true
}

func (p Plane) checkGrid(what string, g viewer.Geometry, slice int) error {
	if !sameGrid(p.geom, g) {
		return fmt.Errorf("%w: %s grid %v spacing %v origin %v, plane grid %v spacing %v origin %v",
			ErrGridMismatch, what, g.Size, g.Spacing, g.Origin, p.geom.Size, p.geom.Spacing, p.geom.Origin)
	}
	if slice < 0 || slice >= p.Slices() {
		return fmt.Errorf("%w: %s slice %d of %d", ErrSliceRange, p.orient, slice, p.Slices())
	}
	return nil
}

func (p Plane) checkVolume(v *viewer.Volume, slice int) error {
	if v == nil {
		return errors.New("render: nil volume")
	}
	if err := v.Check(); err != nil {
		return fmt.Errorf("render: %w", err)
	}
	return p.checkGrid("volume", v.Geometry, slice)
}

// rowStart is the data index of pixel (0, y) on slice.
func (p Plane) rowStart(slice, y int) int {
	return p.origin + slice*p.stride[2] + y*p.stride[1]
}

// StartSlice is the slice a viewer opens the plane at: the one with the most labelled voxels of labels (see
// LargestLabelSlice), else the middle one.
func (p Plane) StartSlice(labels *viewer.LabelMap) int {
	if s, ok := p.LargestLabelSlice(labels); ok {
		return s
	}
	return p.Slices() / 2
}

// LargestLabelSlice returns the slice of the plane with the most labelled (non-zero) voxels of m, which
// must be on the plane's grid: where a reader wants to start. ok is false when m labels nothing.
func (p Plane) LargestLabelSlice(m *viewer.LabelMap) (slice int, ok bool) {
	if m == nil || !m.Geometry.SameGrid(p.geom, 1e-3) || len(m.Data) != p.geom.Len() {
		return 0, false
	}
	n := p.axes[2]
	per := make([]int, n.size)
	stride := [3]int{1, p.geom.Size[0], p.geom.Size[0] * p.geom.Size[1]}[n.voxel]
	for i, l := range m.Data {
		if l != 0 {
			per[(i/stride)%n.size]++
		}
	}
	best := -1
	for k, c := range per {
		if c > 0 && (best < 0 || c > per[best]) {
			best = k
		}
	}
	if best < 0 {
		return 0, false
	}
	if !n.forward {
		best = n.size - 1 - best
	}
	return best, true
}
