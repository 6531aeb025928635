package render

import (
	"errors"
	"image"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/neuronova/neuronova/viewer"
)

// smallGrid is a 6 × 5 × 4 patient box with anisotropic voxels (0.5 × 0.8 × 2 mm along L, P, S).
var smallGrid = patientGrid{
	size:    [3]int{6, 5, 4},
	spacing: viewer.Vec3{0.5, 0.8, 2},
	corner:  viewer.Vec3{-10, 20, 30},
}

func mustPlane(t testing.TB, g viewer.Geometry, o Orientation) Plane {
	t.Helper()
	p, err := NewPlane(g, o)
	if err != nil {
		t.Fatalf("NewPlane(%s): %v", o, err)
	}
	return p
}

// TestPlaneAxisSelection checks which voxel axis, in which direction, each plane axis uses.
func TestPlaneAxisSelection(t *testing.T) {
	type axes [3]struct {
		voxel   int
		forward bool
	}
	tests := []struct {
		name string
		acq  acquisition
		want [3]axes // axial, coronal, sagittal: u, v, n
	}{
		{"identity", acqIdentity, [3]axes{
			{{0, true}, {1, true}, {2, true}},
			{{0, true}, {2, false}, {1, true}},
			{{1, true}, {2, false}, {0, true}},
		}},
		{"flipped", acqFlipped, [3]axes{
			{{0, false}, {1, false}, {2, true}},
			{{0, false}, {2, false}, {1, false}},
			{{1, false}, {2, false}, {0, false}},
		}},
		{"sagittal-acquired", acqSagittal, [3]axes{
			{{2, false}, {0, true}, {1, false}},
			{{2, false}, {1, true}, {0, true}},
			{{0, true}, {1, true}, {2, false}},
		}},
		{"coronal-acquired", acqCoronal, [3]axes{
			{{0, true}, {2, true}, {1, false}},
			{{0, true}, {1, true}, {2, true}},
			{{2, true}, {1, true}, {0, true}},
		}},
	}
	for _, tc := range tests {
		g := smallGrid.geometry(tc.acq)
		for o := Axial; o <= Sagittal; o++ {
			p := mustPlane(t, g, o)
			for a := 0; a < 3; a++ {
				got := p.axes[a]
				if got.voxel != tc.want[o][a].voxel || got.forward != tc.want[o][a].forward {
					t.Errorf("%s %s: plane axis %d uses voxel axis %d forward %v, want %d forward %v",
						tc.name, o, a, got.voxel, got.forward, tc.want[o][a].voxel, tc.want[o][a].forward)
				}
			}
		}
	}
}

// TestPlaneDisplayConvention checks, for every acquisition, that one pixel right, one pixel down and one
// slice on move in patient space along the radiological convention, by the plane's spacing.
func TestPlaneDisplayConvention(t *testing.T) {
	L, P, S := viewer.Vec3{1, 0, 0}, viewer.Vec3{0, 1, 0}, viewer.Vec3{0, 0, 1}
	want := map[Orientation][3]viewer.Vec3{ // screen right, screen down, next slice
		Axial:    {L, P, S},
		Coronal:  {L, S.Scale(-1), P},
		Sagittal: {P, S.Scale(-1), L},
	}
	for _, ac := range acquisitions {
		g := smallGrid.geometry(ac.acq)
		for o := Axial; o <= Sagittal; o++ {
			p := mustPlane(t, g, o)
			su, sv := p.PixelSpacing()
			base := p.Patient(1, 1.5, 2.5)
			steps := [3]viewer.Vec3{
				p.Patient(1, 2.5, 2.5).Sub(base),
				p.Patient(1, 1.5, 3.5).Sub(base),
				p.Patient(2, 1.5, 2.5).Sub(base),
			}
			lengths := [3]float64{su, sv, p.SliceSpacing()}
			for a := range steps {
				if d := steps[a].Sub(want[o][a].Scale(lengths[a])).Norm(); d > 1e-12 {
					t.Errorf("%s %s: step along plane axis %d is %v, want %v", ac.name, o, a, steps[a], want[o][a].Scale(lengths[a]))
				}
			}
		}
	}
}

func TestPlaneSizeAndSpacing(t *testing.T) {
	// Along L, P, S: 6, 5, 4 voxels of 0.5, 0.8, 2 mm, whatever the acquisition.
	want := map[Orientation]struct {
		w, h, n        int
		su, sv, sslice float64
	}{
		Axial:    {6, 5, 4, 0.5, 0.8, 2},
		Coronal:  {6, 4, 5, 0.5, 2, 0.8},
		Sagittal: {5, 4, 6, 0.8, 2, 0.5},
	}
	for _, ac := range acquisitions {
		g := smallGrid.geometry(ac.acq)
		for o := Axial; o <= Sagittal; o++ {
			p := mustPlane(t, g, o)
			wt := want[o]
			su, sv := p.PixelSpacing()
			if p.Bounds() != image.Rect(0, 0, wt.w, wt.h) || p.Slices() != wt.n || su != wt.su || sv != wt.sv ||
				p.SliceSpacing() != wt.sslice || p.Orientation() != o || p.Geometry() != g {
				t.Errorf("%s %s: bounds %v slices %d spacing %g×%g slice %g; want %d×%d, %d slices, %g×%g, %g",
					ac.name, o, p.Bounds(), p.Slices(), su, sv, p.SliceSpacing(), wt.w, wt.h, wt.n, wt.su, wt.sv, wt.sslice)
			}
		}
	}
}

func TestPlaneEdges(t *testing.T) {
	want := map[Orientation]Edges{
		Axial:    {Left: "R", Right: "L", Top: "A", Bottom: "P"},
		Coronal:  {Left: "R", Right: "L", Top: "S", Bottom: "I"},
		Sagittal: {Left: "A", Right: "P", Top: "S", Bottom: "I"},
	}
	for _, ac := range acquisitions {
		g := smallGrid.geometry(ac.acq)
		for o := Axial; o <= Sagittal; o++ {
			p := mustPlane(t, g, o)
			if got := p.Edges(); got != want[o] {
				t.Errorf("%s %s: edges %+v, want %+v", ac.name, o, got, want[o])
			}
			if p.Oblique() {
				t.Errorf("%s %s: reported oblique", ac.name, o)
			}
		}
	}
}

// rotated returns g with its directions rotated by deg degrees about patient axis axis.
func rotated(g viewer.Geometry, axis int, deg float64) viewer.Geometry {
	s, c := math.Sincos(deg * math.Pi / 180)
	a, b := (axis+1)%3, (axis+2)%3
	for n := range g.Direction {
		d := g.Direction[n]
		d[a], d[b] = c*d[a]-s*d[b], s*d[a]+c*d[b]
		g.Direction[n] = d
	}
	return g
}

func TestPlaneObliqueEdges(t *testing.T) {
	tests := []struct {
		name string
		g    viewer.Geometry
		o    Orientation
		want Edges
	}{
		// Rotating the columns from L towards P by 20°: screen right points L and 34 % P.
		{"axial 20° about S", rotated(smallGrid.geometry(acqIdentity), 2, 20), Axial,
			Edges{Left: "RA", Right: "LP", Top: "AL", Bottom: "PR"}},
		// 10° gives components of 0.17, below ObliqueLabelMin.
		{"axial 10° about S", rotated(smallGrid.geometry(acqIdentity), 2, 10), Axial,
			Edges{Left: "R", Right: "L", Top: "A", Bottom: "P"}},
		{"sagittal-acquired, sagittal, 30° about L", rotated(smallGrid.geometry(acqSagittal), 0, 30), Sagittal,
			Edges{Left: "AI", Right: "PS", Top: "SA", Bottom: "IP"}},
	}
	for _, tc := range tests {
		p := mustPlane(t, tc.g, tc.o)
		if got := p.Edges(); got != tc.want {
			t.Errorf("%s: edges %+v, want %+v", tc.name, got, tc.want)
		}
		if !p.Oblique() {
			t.Errorf("%s: not reported oblique", tc.name)
		}
	}
}

func TestNewPlaneRejects(t *testing.T) {
	g := smallGrid.geometry(acqIdentity)
	if _, err := NewPlane(g, Orientation(3)); err == nil {
		t.Error("NewPlane accepted orientation 3")
	}
	bad := g
	bad.Spacing[1] = 0
	if _, err := NewPlane(bad, Axial); err == nil {
		t.Error("NewPlane accepted a zero spacing")
	}
	bad = g
	bad.Direction[1] = bad.Direction[0]
	if _, err := NewPlane(bad, Axial); err == nil {
		t.Error("NewPlane accepted parallel directions")
	}
}

// TestPickRoundTrip checks Patient ↔ Locate, Pick against Voxel and the volume, and NearestSlice, on
// every acquisition and on oblique grids.
func TestPickRoundTrip(t *testing.T) {
	geoms := map[string]viewer.Geometry{}
	for _, ac := range acquisitions {
		geoms[ac.name] = smallGrid.geometry(ac.acq)
	}
	geoms["oblique 20° about S"] = rotated(smallGrid.geometry(acqIdentity), 2, 20)
	geoms["sagittal-acquired, 30° about P"] = rotated(smallGrid.geometry(acqSagittal), 1, 30)
	r := rand.New(rand.NewPCG(1, 1))
	for name, g := range geoms {
		v := viewer.NewVolume(g)
		for i := range v.Data {
			v.Data[i] = float32(i)
		}
		for o := Axial; o <= Sagittal; o++ {
			p := mustPlane(t, g, o)
			b := p.Bounds()
			for range 200 {
				slice := r.IntN(p.Slices())
				x, y := r.Float64()*float64(b.Dx()), r.Float64()*float64(b.Dy())
				pt := p.Patient(float64(slice), x, y)
				s2, x2, y2 := p.Locate(pt)
				if math.Abs(s2-float64(slice)) > 1e-9 || math.Abs(x2-x) > 1e-9 || math.Abs(y2-y) > 1e-9 {
					t.Fatalf("%s %s: Locate(Patient(%d, %g, %g)) = (%g, %g, %g)", name, o, slice, x, y, s2, x2, y2)
				}
				if n, ok := p.NearestSlice(pt); n != slice || !ok {
					t.Fatalf("%s %s: NearestSlice = %d, %v; want %d, true", name, o, n, ok, slice)
				}
				pk, err := p.Pick(v, slice, x, y)
				if err != nil {
					t.Fatalf("%s %s: Pick(%d, %g, %g): %v", name, o, slice, x, y, err)
				}
				ijk, ok := p.Voxel(slice, int(x), int(y))
				if !ok || pk.Voxel != ijk || pk.Pixel != image.Pt(int(x), int(y)) || pk.Patient != pt ||
					pk.Value[0] != v.At(ijk[0], ijk[1], ijk[2]) {
					t.Fatalf("%s %s: Pick = %+v; want voxel %v, pixel (%d, %d), patient %v, value %g",
						name, o, pk, ijk, int(x), int(y), pt, v.At(ijk[0], ijk[1], ijk[2]))
				}
				// The pixel centre is the voxel centre.
				c := p.Patient(float64(slice), float64(pk.Pixel.X)+0.5, float64(pk.Pixel.Y)+0.5)
				if d := c.Sub(g.ToPatient(viewer.Vec3{float64(ijk[0]), float64(ijk[1]), float64(ijk[2])})).Norm(); d > 1e-9 {
					t.Fatalf("%s %s: pixel centre %v is %g mm from voxel %v", name, o, c, d, ijk)
				}
			}
		}
	}
}

// TestLocateAcrossSeries scrolls a differently acquired series of the same patient box to a point picked
// in another: both must land on the same slice and pixel.
func TestLocateAcrossSeries(t *testing.T) {
	ref := smallGrid.geometry(acqIdentity)
	for _, ac := range acquisitions {
		g := smallGrid.geometry(ac.acq)
		for o := Axial; o <= Sagittal; o++ {
			pr, pg := mustPlane(t, ref, o), mustPlane(t, g, o)
			for slice := 0; slice < pr.Slices(); slice++ {
				pt := pr.Patient(float64(slice), 1.25, 2.75)
				s, x, y := pg.Locate(pt)
				if math.Abs(s-float64(slice)) > 1e-9 || math.Abs(x-1.25) > 1e-9 || math.Abs(y-2.75) > 1e-9 {
					t.Errorf("%s %s: point of slice %d (1.25, 2.75) located at (%g, %g, %g)", ac.name, o, slice, s, x, y)
				}
			}
		}
	}
}

func TestNearestSliceOutside(t *testing.T) {
	p := mustPlane(t, smallGrid.geometry(acqIdentity), Axial)
	below := p.Patient(-0.6, 1, 1) // more than half a slice below the first
	if n, ok := p.NearestSlice(below); n != 0 || ok {
		t.Errorf("NearestSlice below the slab = %d, %v; want 0, false", n, ok)
	}
	above := p.Patient(float64(p.Slices()-1)+0.4, 1, 1) // within half a slice of the last
	if n, ok := p.NearestSlice(above); n != p.Slices()-1 || !ok {
		t.Errorf("NearestSlice near the last slice = %d, %v; want %d, true", n, ok, p.Slices()-1)
	}
}

func TestPickErrors(t *testing.T) {
	g := smallGrid.geometry(acqIdentity)
	v := viewer.NewVolume(g)
	p := mustPlane(t, g, Coronal)
	b := p.Bounds()
	for _, pt := range [][2]float64{{-0.01, 1}, {1, -0.01}, {float64(b.Dx()), 1}, {1, float64(b.Dy())}, {math.NaN(), 1}} {
		if _, err := p.Pick(v, 0, pt[0], pt[1]); !errors.Is(err, ErrOutside) {
			t.Errorf("Pick at %v: error %v, want ErrOutside", pt, err)
		}
	}
	if _, err := p.Pick(v, p.Slices(), 1, 1); !errors.Is(err, ErrSliceRange) {
		t.Errorf("Pick past the last slice: error %v, want ErrSliceRange", err)
	}
	other := viewer.NewVolume(smallGrid.geometry(acqFlipped)) // same size and box, other voxel order
	if _, err := p.Pick(other, 0, 1, 1); !errors.Is(err, ErrGridMismatch) {
		t.Errorf("Pick in a volume on another grid: error %v, want ErrGridMismatch", err)
	}
}

func TestReferenceLine(t *testing.T) {
	g := smallGrid.geometry(acqIdentity)
	axial, coronal, sagittal := mustPlane(t, g, Axial), mustPlane(t, g, Coronal), mustPlane(t, g, Sagittal)
	w, h := float64(axial.Bounds().Dx()), float64(axial.Bounds().Dy())

	// Coronal slice 3 is row j = 3: a horizontal line through the pixel centres of row 3.
	l, ok := axial.ReferenceLine(2, coronal, 3)
	if !ok || !sameSegment(l, Line{0, 3.5, w, 3.5}) {
		t.Errorf("coronal 3 on axial: %+v, %v; want y = 3.5 across", l, ok)
	}
	// Sagittal slice 4 is column i = 4.
	l, ok = axial.ReferenceLine(2, sagittal, 4)
	if !ok || !sameSegment(l, Line{4.5, 0, 4.5, h}) {
		t.Errorf("sagittal 4 on axial: %+v, %v; want x = 4.5 down", l, ok)
	}
	// Axial slice 1 on coronal: superior is up, so slice 1 of 4 is image row 4 − 1 − 1 = 2.
	l, ok = coronal.ReferenceLine(0, axial, 1)
	if !ok || !sameSegment(l, Line{0, 2.5, w, 2.5}) {
		t.Errorf("axial 1 on coronal: %+v, %v; want y = 2.5 across", l, ok)
	}
	if l, ok := axial.ReferenceLine(0, axial, 1); ok {
		t.Errorf("axial on axial: %+v, want no line", l)
	}
	// The same patient planes from a sagittally acquired series give the same lines.
	sag := smallGrid.geometry(acqSagittal)
	l, ok = axial.ReferenceLine(2, mustPlane(t, sag, Coronal), 3)
	if !ok || !sameSegment(l, Line{0, 3.5, w, 3.5}) {
		t.Errorf("coronal 3 of the sagittal series on axial: %+v, %v; want y = 3.5 across", l, ok)
	}
	// A plane outside the image gives no line.
	far := g
	far.Origin = far.Origin.Add(viewer.Vec3{0, 100, 0})
	if l, ok := axial.ReferenceLine(2, mustPlane(t, far, Coronal), 0); ok {
		t.Errorf("coronal plane 100 mm away: %+v, want no line", l)
	}
	// Oblique: both ends lie on the other plane and on the image border.
	obl := rotated(rotated(g, 2, 25), 0, 15)
	other := mustPlane(t, obl, Sagittal)
	l, ok = axial.ReferenceLine(1, other, 3)
	if !ok {
		t.Fatal("oblique sagittal on axial: no line")
	}
	n := obl.Direction[other.axes[2].voxel]
	q := other.Patient(3, 0.5, 0.5)
	for _, e := range [][2]float64{{l.X0, l.Y0}, {l.X1, l.Y1}} {
		if d := n.Dot(axial.Patient(1, e[0], e[1]).Sub(q)); math.Abs(d) > 1e-9 {
			t.Errorf("oblique line end %v is %g mm off the other plane", e, d)
		}
		onBorder := math.Abs(e[0]) < 1e-9 || math.Abs(e[0]-w) < 1e-9 || math.Abs(e[1]) < 1e-9 || math.Abs(e[1]-h) < 1e-9
		if !onBorder {
			t.Errorf("oblique line end %v is not on the image border", e)
		}
	}
}

func sameSegment(a, b Line) bool {
	near := func(x0, y0, x1, y1 float64) bool { return math.Abs(x0-x1) < 1e-9 && math.Abs(y0-y1) < 1e-9 }
	return (near(a.X0, a.Y0, b.X0, b.Y0) && near(a.X1, a.Y1, b.X1, b.Y1)) ||
		(near(a.X0, a.Y0, b.X1, b.Y1) && near(a.X1, a.Y1, b.X0, b.Y0))
}

func TestLargestLabelSlice(t *testing.T) {
	// A 6×5×4 grid with 3 labelled voxels at k = 2 and 1 at k = 1 (i = 4, j = 0): the axial plane shows
	// k = 2; the sagittal plane, whose slices run along i, shows the i with the most labels.
	g := viewer.Geometry{Size: [3]int{6, 5, 4}, Spacing: viewer.Vec3{1, 1, 1}, Direction: viewer.IdentityDirection}
	m := viewer.NewLabelMap(g)
	for _, ijk := range [][3]int{{1, 1, 2}, {1, 2, 2}, {1, 3, 2}, {4, 0, 1}} {
		m.Data[g.Index(ijk[0], ijk[1], ijk[2])] = 1
	}
	for _, tc := range []struct {
		o    Orientation
		want [3]int // a voxel that the chosen slice must contain
	}{{Axial, [3]int{1, 1, 2}}, {Sagittal, [3]int{1, 1, 2}}, {Coronal, [3]int{4, 0, 1}}} {
		p, err := NewPlane(g, tc.o)
		if err != nil {
			t.Fatal(err)
		}
		s, ok := p.LargestLabelSlice(m)
		if !ok {
			t.Fatalf("%s: no slice", tc.o)
		}
		found := false
		b := p.Bounds()
		for y := 0; y < b.Dy() && !found; y++ {
			for x := 0; x < b.Dx() && !found; x++ {
				ijk, _ := p.Voxel(s, x, y)
				found = ijk == tc.want
			}
		}
		if !found {
			t.Errorf("%s: slice %d does not hold voxel %v", tc.o, s, tc.want)
		}
	}
	if _, ok := mustPlane(t, g, Axial).LargestLabelSlice(viewer.NewLabelMap(g)); ok {
		t.Error("an empty label map has a largest slice")
	}
}

// TestStartSlice: a plane opens at its largest label slice, else (no labels, labels on another grid, an
// empty map) at the middle.
func TestStartSlice(t *testing.T) {
	g := viewer.Geometry{Size: [3]int{6, 5, 4}, Spacing: viewer.Vec3{1, 1, 1}, Direction: viewer.IdentityDirection}
	m := viewer.NewLabelMap(g)
	m.Data[g.Index(1, 1, 3)] = 2
	ax := mustPlane(t, g, Axial)
	if s := ax.StartSlice(m); s != 3 {
		t.Errorf("labelled: slice %d, want 3", s)
	}
	other := viewer.NewLabelMap(viewer.Geometry{Size: [3]int{6, 5, 5}, Spacing: viewer.Vec3{1, 1, 1}, Direction: viewer.IdentityDirection})
	for name, labels := range map[string]*viewer.LabelMap{"nil": nil, "empty": viewer.NewLabelMap(g), "other grid": other} {
		if s := ax.StartSlice(labels); s != 2 {
			t.Errorf("%s: slice %d, want the middle, 2", name, s)
		}
	}
	if s := mustPlane(t, g, Sagittal).StartSlice(nil); s != 3 {
		t.Errorf("sagittal: slice %d, want the middle of 6, 3", s)
	}
}

// TestSourceSliceAndVoxelAt: the acquisition plane's slices are the grid's own (in either order), the
// others are not; VoxelAt is Patient before the grid's mapping.
func TestSourceSliceAndVoxelAt(t *testing.T) {
	g := viewer.Geometry{Size: [3]int{6, 5, 4}, Spacing: viewer.Vec3{1, 2, 3}, Direction: viewer.IdentityDirection}
	ax := mustPlane(t, g, Axial)
	for s := range 4 {
		k, ok := ax.SourceSlice(s)
		if v := ax.VoxelAt(float64(s), 2.5, 1.5); !ok || v[2] != float64(k) || v[0] != 2 || v[1] != 1 {
			t.Errorf("axial slice %d: grid slice %d %v, voxel %v", s, k, ok, v)
		}
		if p := ax.Patient(float64(s), 2.5, 1.5); p != g.ToPatient(ax.VoxelAt(float64(s), 2.5, 1.5)) {
			t.Errorf("Patient and VoxelAt disagree on slice %d", s)
		}
	}
	if _, ok := ax.SourceSlice(4); ok {
		t.Error("slice 4 of 4 is a grid slice")
	}
	if _, ok := mustPlane(t, g, Coronal).SourceSlice(1); ok {
		t.Error("a coronal plane of an axial grid shows the grid's own slices")
	}
	flipped := g
	flipped.Direction[2] = viewer.Vec3{0, 0, -1}
	if k, ok := mustPlane(t, flipped, Axial).SourceSlice(0); !ok || k != 3 {
		t.Errorf("a grid stacked downwards: axial slice 0 is grid slice %d (%v), want 3", k, ok)
	}
}
