package render

import (
	"math"

	"github.com/neuronova/neuronova/viewer"
)

// patientGrid is a box of voxel centres in patient space, described along the patient axes L, P, S.
type patientGrid struct {
	size    [3]int      // voxels along L, P, S
	spacing viewer.Vec3 // mm along L, P, S
	corner  viewer.Vec3 // patient position of the most right, anterior, inferior voxel centre
}

// acquisition says, per voxel axis (i, j, k), which patient axis it runs along and in which direction.
type acquisition [3]patientDir

var (
	acqIdentity = acquisition{{0, +1}, {1, +1}, {2, +1}}
	// NIfTI files stored RAS: columns run to the patient's right, rows to anterior.
	acqFlipped = acquisition{{0, -1}, {1, -1}, {2, +1}}
	// DICOM sagittal: row cosine (0,1,0), column cosine (0,0,−1), slices from left to right.
	acqSagittal = acquisition{{1, +1}, {2, -1}, {0, -1}}
	// DICOM coronal: row cosine (1,0,0), column cosine (0,0,−1), slices from anterior to posterior.
	acqCoronal = acquisition{{0, +1}, {2, -1}, {1, +1}}
	// Axial with slices ordered head to feet.
	acqAxialDown = acquisition{{0, +1}, {1, +1}, {2, -1}}
)

var acquisitions = []struct {
	name string
	acq  acquisition
}{
	{"identity", acqIdentity},
	{"flipped", acqFlipped},
	{"sagittal-acquired", acqSagittal},
	{"coronal-acquired", acqCoronal},
	{"axial-head-to-feet", acqAxialDown},
}

// geometry returns the voxel grid that samples pg with the axis order and directions of acq.
func (pg patientGrid) geometry(acq acquisition) viewer.Geometry {
	g := viewer.Geometry{Origin: pg.corner}
	for a, d := range acq {
		g.Size[a] = pg.size[d.axis]
		g.Spacing[a] = pg.spacing[d.axis]
		g.Direction[a][d.axis] = float64(d.sign)
		if d.sign < 0 {
			g.Origin[d.axis] += float64(pg.size[d.axis]-1) * pg.spacing[d.axis]
		}
	}
	return g
}

// patientIndex is the (L, P, S) index in pg of voxel (i, j, k) of a grid built by pg.geometry.
func (pg patientGrid) patientIndex(g viewer.Geometry, i, j, k int) [3]int {
	p := g.ToPatient(viewer.Vec3{float64(i), float64(j), float64(k)}).Sub(pg.corner)
	var idx [3]int
	for a := range idx {
		idx[a] = int(math.Round(p[a] / pg.spacing[a]))
	}
	return idx
}

// fill builds a volume on g whose voxel values are f of the patient index, so that grids acquired
// differently hold the same patient content.
func (pg patientGrid) fill(g viewer.Geometry, f func(idx [3]int) float32) *viewer.Volume {
	v := viewer.NewVolume(g)
	for k := 0; k < g.Size[2]; k++ {
		for j := 0; j < g.Size[1]; j++ {
			for i := 0; i < g.Size[0]; i++ {
				v.Data[g.Index(i, j, k)] = f(pg.patientIndex(g, i, j, k))
			}
		}
	}
	return v
}

// labels builds a label map on g from the patient index.
func (pg patientGrid) labels(g viewer.Geometry, f func(idx [3]int) uint8) *viewer.LabelMap {
	m := viewer.NewLabelMap(g)
	for k := 0; k < g.Size[2]; k++ {
		for j := 0; j < g.Size[1]; j++ {
			for i := 0; i < g.Size[0]; i++ {
				m.Data[g.Index(i, j, k)] = f(pg.patientIndex(g, i, j, k))
			}
		}
	}
	return m
}

// hashNoise is a deterministic, roughly normal noise value of a patient index (mean 0, sd about 1), so
// that the same patient voxel gets the same noise whatever the grid's voxel order.
func hashNoise(idx [3]int, seed uint64) float32 {
	h := seed ^ uint64(idx[0])<<42 ^ uint64(idx[1])<<21 ^ uint64(idx[2])
	sum := 0.0
	for range 3 { // splitmix64 steps, three uniforms summed
		h += 0x9e3779b97f4a7c15
		z := h
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		z ^= z >> 31
		sum += float64(z>>11) / (1 << 53)
	}
	return float32(sum-1.5) * 2
}

// uniqueValue gives every patient voxel its own value, so that any mix-up of voxels shows.
func uniqueValue(n [3]int) func(idx [3]int) float32 {
	return func(idx [3]int) float32 { return float32(idx[0] + n[0]*(idx[1]+n[1]*idx[2])) }
}

// markerCentre is the centre of headPhantom's marker, in −1 … 1 box units along L, P, S.
var markerCentre = [3]float64{0.45, -0.45, 0.4}

// headPhantom is an MR-like head on pg: air with faint noise, an ellipsoidal head whose tissue brightens
// towards the patient's left and superior, a bright marker in the left-anterior-superior quadrant (so
// that every flip shows) and a dark ventricle.
func headPhantom(pg patientGrid, seed uint64) func(idx [3]int) float32 {
	return func(idx [3]int) float32 {
		var u [3]float64 // −1 … 1 across the box, along L, P, S
		for a := range u {
			u[a] = 2*float64(idx[a])/float64(max(pg.size[a]-1, 1)) - 1
		}
		noise := hashNoise(idx, seed)
		if u[0]*u[0]/0.81+u[1]*u[1]/0.9+u[2]*u[2]/0.85 > 1 {
			return max(0, 12+6*noise)
		}
		d := func(c [3]float64, rad float64) bool {
			s := 0.0
			for a := range c {
				s += (u[a] - c[a]) * (u[a] - c[a])
			}
			return s < rad*rad
		}
		switch {
		case d(markerCentre, 0.18):
			return 1500 + 20*noise
		case d([3]float64{0, 0.05, 0}, 0.2):
			return 250 + 20*noise
		}
		return float32(700+150*u[0]+200*u[2]) + 40*noise
	}
}

// tumourFraction is where the tumour centre lies in a patient box, as fractions of its L, P, S extent:
// right, posterior and superior of the middle.
var tumourFraction = [3]float64{0.3, 0.65, 0.65}

// tumourLabels is an oedema sphere with a necrotic core and an enhancing rim around tumourFraction, plus
// one voxel of an undescribed label (9) in the left-anterior corner of the tumour's axial slice.
func tumourLabels(pg patientGrid) func(idx [3]int) uint8 {
	var c [3]float64
	for a := range c {
		c[a] = tumourFraction[a] * float64(pg.size[a]-1)
	}
	odd := [3]int{pg.size[0] - 3, 2, int(math.Round(c[2]))}
	return func(idx [3]int) uint8 {
		var r2 float64
		for a := range c {
			d := (float64(idx[a]) - c[a]) * pg.spacing[a]
			r2 += d * d
		}
		switch r := math.Sqrt(r2); {
		case r < 3:
			return viewer.LabelNCR
		case r < 5:
			return viewer.LabelET
		case r < 9:
			return viewer.LabelED
		}
		if idx == odd {
			return 9
		}
		return viewer.LabelBackground
	}
}
