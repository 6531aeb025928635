// Package measure computes the reading tools' numbers on a plane of a volume: lengths in millimetres and
// region-of-interest statistics. Points are continuous image coordinates of a render.Plane (pixel centres
// at +0.5), the coordinates a viewport works in.
package measure

import (
	"fmt"
	"math"

	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/render"
)

// Point is a continuous image coordinate.
type Point struct{ X, Y float64 }

// Length is the distance in millimetres between two points of one slice.
func Length(p render.Plane, slice int, a, b Point) float64 {
	return p.Patient(float64(slice), a.X, a.Y).Sub(p.Patient(float64(slice), b.X, b.Y)).Norm()
}

// Shape is the outline of a region of interest.
type Shape int

const (
	Rectangle Shape = iota
	Ellipse         // inscribed in the rectangle of the two corner points
)

func (s Shape) String() string {
	if s == Ellipse {
		return "ellipse"
	}
	return "rectangle"
}

// Stats describes the voxels of a region.
type Stats struct {
	N        int     // voxels whose centre lies inside the region
	Mean, SD float64 // SD is the population standard deviation
	Min, Max float64
	Area     float64 // mm², of the shape itself (π·a·b for an ellipse), not of the voxel count
}

// Region returns the statistics of the grey-scale volume v over the shape spanned by corners a and b on
// slice slice of plane p. A voxel counts when its centre is inside the shape; an empty region (N = 0)
// has zero statistics and is not an error.
func Region(p render.Plane, v *viewer.Volume, slice int, shape Shape, a, b Point) (Stats, error) {
	if v.Samples != 1 {
		return Stats{}, fmt.Errorf("measure: ROI statistics need a grey-scale volume, not %d samples", v.Samples)
	}
	if slice < 0 || slice >= p.Slices() {
		return Stats{}, fmt.Errorf("measure: slice %d outside 0…%d", slice, p.Slices()-1)
	}
	x0, x1 := math.Min(a.X, b.X), math.Max(a.X, b.X)
	y0, y1 := math.Min(a.Y, b.Y), math.Max(a.Y, b.Y)
	su, sv := p.PixelSpacing()
	st := Stats{Area: (x1 - x0) * su * (y1 - y0) * sv, Min: math.Inf(1), Max: math.Inf(-1)}
	if shape == Ellipse {
		st.Area *= math.Pi / 4
	}
	cx, cy, rx, ry := (x0+x1)/2, (y0+y1)/2, (x1-x0)/2, (y1-y0)/2
	bounds := p.Bounds()
	var m2 float64 // Welford's running sum of squared deviations
	// Pixel px's centre is px+0.5: the pixels whose centres can lie in [x0, x1] start at ceil(x0−0.5).
	for py := max(0, int(math.Ceil(y0-0.5))); py < bounds.Dy() && float64(py)+0.5 <= y1; py++ {
		for px := max(0, int(math.Ceil(x0-0.5))); px < bounds.Dx() && float64(px)+0.5 <= x1; px++ {
			if shape == Ellipse {
				dx, dy := (float64(px)+0.5-cx)/rx, (float64(py)+0.5-cy)/ry
				if rx == 0 || ry == 0 || dx*dx+dy*dy > 1 {
					continue
				}
			}
			ijk, ok := p.Voxel(slice, px, py)
			if !ok {
				continue
			}
			x := float64(v.At(ijk[0], ijk[1], ijk[2]))
			st.N++
			d := x - st.Mean
			st.Mean += d / float64(st.N)
			m2 += d * (x - st.Mean)
			st.Min = math.Min(st.Min, x)
			st.Max = math.Max(st.Max, x)
		}
	}
	if st.N == 0 {
		return Stats{Area: st.Area}, nil
	}
	st.SD = math.Sqrt(m2 / float64(st.N))
	return st, nil
}
