package viewer

import (
	"fmt"
	"math"
)

// Vec3 is a point or direction in patient coordinates (DICOM LPS, millimetres).
type Vec3 [3]float64

func (a Vec3) Add(b Vec3) Vec3      { return Vec3{a[0] + b[0], a[1] + b[1], a[2] + b[2]} }
func (a Vec3) Sub(b Vec3) Vec3      { return Vec3{a[0] - b[0], a[1] - b[1], a[2] - b[2]} }
func (a Vec3) Scale(s float64) Vec3 { return Vec3{a[0] * s, a[1] * s, a[2] * s} }
func (a Vec3) Dot(b Vec3) float64   { return a[0]*b[0] + a[1]*b[1] + a[2]*b[2] }
func (a Vec3) Norm() float64        { return math.Sqrt(a.Dot(a)) }
func (a Vec3) Cross(b Vec3) Vec3 {
	return Vec3{a[1]*b[2] - a[2]*b[1], a[2]*b[0] - a[0]*b[2], a[0]*b[1] - a[1]*b[0]}
}

// Unit returns a scaled to length 1 (a itself when it has length 0).
func (a Vec3) Unit() Vec3 {
	n := a.Norm()
	if n == 0 {
		return a
	}
	return a.Scale(1 / n)
}

// Geometry places a voxel grid in patient coordinates. Voxel (i, j, k) is column i, row j, slice k; its
// centre lies at Origin + i·Spacing[0]·Direction[0] + j·Spacing[1]·Direction[1] + k·Spacing[2]·Direction[2].
//
// For DICOM, Direction[0] and Direction[1] are the row and column cosines of ImageOrientationPatient,
// Direction[2] points from one slice to the next, Spacing[0] and Spacing[1] come from PixelSpacing (column
// and row spacing) and Spacing[2] from the distance between ImagePositionPatient values.
type Geometry struct {
	Size      [3]int
	Spacing   Vec3
	Origin    Vec3
	Direction [3]Vec3
}

// IdentityDirection is the axial orientation of a grid whose axes follow patient L, P, S.
var IdentityDirection = [3]Vec3{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}

// Len is the number of voxels.
func (g Geometry) Len() int { return g.Size[0] * g.Size[1] * g.Size[2] }

// Index is the offset of voxel (i, j, k) in a volume's data.
func (g Geometry) Index(i, j, k int) int { return i + g.Size[0]*(j+g.Size[1]*k) }

// Contains reports whether (i, j, k) is inside the grid.
func (g Geometry) Contains(i, j, k int) bool {
	return i >= 0 && j >= 0 && k >= 0 && i < g.Size[0] && j < g.Size[1] && k < g.Size[2]
}

// VoxelVolume is the volume of one voxel in mm³.
func (g Geometry) VoxelVolume() float64 { return g.Spacing[0] * g.Spacing[1] * g.Spacing[2] }

// ToPatient maps a (possibly fractional) voxel index to patient coordinates.
func (g Geometry) ToPatient(v Vec3) Vec3 {
	p := g.Origin
	for a := 0; a < 3; a++ {
		p = p.Add(g.Direction[a].Scale(v[a] * g.Spacing[a]))
	}
	return p
}

// ToVoxel maps patient coordinates to a fractional voxel index. It assumes orthonormal directions, which
// Validate checks.
func (g Geometry) ToVoxel(p Vec3) Vec3 {
	d := p.Sub(g.Origin)
	var v Vec3
	for a := 0; a < 3; a++ {
		v[a] = d.Dot(g.Direction[a]) / g.Spacing[a]
	}
	return v
}

// Validate reports a grid that cannot be used: non-positive sizes or spacings, or directions that are not
// orthonormal within 1e-3.
func (g Geometry) Validate() error {
	for a := 0; a < 3; a++ {
		if g.Size[a] <= 0 {
			return fmt.Errorf("geometry: size %v has a non-positive axis", g.Size)
		}
		if !(g.Spacing[a] > 0) || math.IsInf(g.Spacing[a], 0) {
			return fmt.Errorf("geometry: spacing %v has a non-positive or invalid axis", g.Spacing)
		}
		if math.Abs(g.Direction[a].Norm()-1) > 1e-3 {
			return fmt.Errorf("geometry: direction %d %v is not a unit vector", a, g.Direction[a])
		}
	}
	for a := 0; a < 3; a++ {
		for b := a + 1; b < 3; b++ {
			if math.Abs(g.Direction[a].Dot(g.Direction[b])) > 1e-3 {
				return fmt.Errorf("geometry: directions %d and %d are not orthogonal", a, b)
			}
		}
	}
	return nil
}

// SameGrid reports whether two geometries describe the same voxel centres within tol millimetres.
func (g Geometry) SameGrid(h Geometry, tol float64) bool {
	if g.Size != h.Size {
		return false
	}
	corner := Vec3{float64(g.Size[0] - 1), float64(g.Size[1] - 1), float64(g.Size[2] - 1)}
	return g.ToPatient(Vec3{}).Sub(h.ToPatient(Vec3{})).Norm() <= tol &&
		g.ToPatient(corner).Sub(h.ToPatient(corner)).Norm() <= tol
}
