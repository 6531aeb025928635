package edit

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/demo"
	"github.com/neuronova/neuronova/viewer/render"
)

var demoOnce = sync.OnceValue(demo.Study)

// demoEditor returns an editor of a copy of the demo study's ground-truth labels over its T1CE image.
func demoEditor(t testing.TB) (*Editor, *viewer.Volume) {
	t.Helper()
	st := demoOnce()
	var img *viewer.Volume
	for _, se := range st.Series {
		if se.Type == viewer.T1CE {
			img, _ = se.InMemory()
		}
	}
	if img == nil || st.Labels == nil {
		t.Fatal("the demo study has no T1CE volume or no labels")
	}
	m := *st.Labels
	m.Data = append([]uint8(nil), st.Labels.Data...)
	e, err := New(&m, img)
	if err != nil {
		t.Fatal(err)
	}
	return e, img
}

// synthetic returns an empty tumour label map of size n with the given spacing, axial.
func synthetic(t testing.TB, n [3]int, spacing viewer.Vec3) *viewer.LabelMap {
	t.Helper()
	g := viewer.Geometry{Size: n, Spacing: spacing, Direction: viewer.IdentityDirection}
	m := viewer.NewLabelMap(g)
	if err := m.Check(); err != nil {
		t.Fatal(err)
	}
	return m
}

// tumourAt returns the slice of plane o with the most labelled voxels and the centroid of its labels.
func tumourAt(t *testing.T, e *Editor, o render.Orientation) (int, Point) {
	t.Helper()
	p, _ := e.Plane(o)
	m := e.Map()
	k, ok := p.LargestLabelSlice(m)
	if !ok {
		t.Fatal("the map labels nothing")
	}
	var sx, sy, n float64
	for y := 0; y < p.Bounds().Dy(); y++ {
		for x := 0; x < p.Bounds().Dx(); x++ {
			if v, _ := p.Voxel(k, x, y); m.Data[m.Index(v[0], v[1], v[2])] != 0 {
				sx, sy, n = sx+float64(x)+0.5, sy+float64(y)+0.5, n+1
			}
		}
	}
	return k, Point{sx / n, sy / n}
}

// checkCounts compares the editor's counts with a recount of the map.
func checkCounts(t *testing.T, e *Editor) {
	t.Helper()
	want := e.Map().Counts()
	for v := range want {
		if got := e.Voxels(uint8(v)); got != want[v] {
			t.Fatalf("label %d: editor counts %d voxels, the map holds %d", v, got, want[v])
		}
	}
}

func TestBrushChangesVolumeByPaintedVoxels(t *testing.T) {
	e, _ := demoEditor(t)
	k, c := tumourAt(t, e, render.Axial)
	before := append([]uint8(nil), e.Map().Data...)
	ml0 := e.VolumeML(viewer.LabelED)
	if err := e.Begin("brush"); err != nil {
		t.Fatal(err)
	}
	for x := c.X - 40; x < c.X+40; x += 7 { // a drag across the tumour, in mouse-event steps
		if _, err := e.Brush(render.Axial, k, Point{x, c.Y}, Point{x + 7, c.Y + 3}, 5, Paint{Label: viewer.LabelED}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.End(); err != nil {
		t.Fatal(err)
	}
	// N counted from the map: voxels that were not ED and are now.
	n, lost := 0, map[uint8]int{}
	for i, v := range e.Map().Data {
		if v != before[i] {
			if v != viewer.LabelED {
				t.Fatalf("voxel %d became %d, not ED", i, v)
			}
			n++
			lost[before[i]]++
		}
	}
	if n == 0 || lost[viewer.LabelNCR]+lost[viewer.LabelET] == 0 {
		t.Fatalf("the stroke painted %d voxels (%v overwritten): the test stroke misses the tumour", n, lost)
	}
	vox := e.Map().VoxelVolume() / 1000
	if got, want := e.VolumeML(viewer.LabelED)-ml0, float64(n)*vox; math.Abs(got-want) > 1e-9 {
		t.Fatalf("ED grew by %.6f mL, %d voxels × %.6f mL = %.6f mL", got, n, vox, want)
	}
	checkCounts(t, e)
	for _, lv := range e.Volumes() {
		if lv.ML != float64(lv.Voxels)*vox {
			t.Errorf("%s: %.6f mL for %d voxels", lv.Name, lv.ML, lv.Voxels)
		}
	}
	t.Logf("slice %d: %d voxels painted ED (%.3f mL; %v overwritten)", k, n, float64(n)*vox, lost)
}

// TestBrushIsADiscInMillimetres paints on a grid of 0.5 × 2 × 3 mm in each plane and compares the painted
// voxels with the voxels whose centres lie within the radius in patient space.
func TestBrushIsADiscInMillimetres(t *testing.T) {
	for o := render.Axial; o <= render.Sagittal; o++ {
		m := synthetic(t, [3]int{64, 40, 30}, viewer.Vec3{0.5, 2, 3})
		e, err := New(m, nil)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := e.Plane(o)
		k := p.Slices() / 2
		c := Point{float64(p.Bounds().Dx()) / 2, float64(p.Bounds().Dy()) / 2}
		const r = 7.0
		n, err := e.Dab(o, k, c, r, Paint{Label: viewer.LabelNCR})
		if err != nil {
			t.Fatal(err)
		}
		centre := p.Patient(float64(k), c.X, c.Y)
		want := 0 // voxels of slice k whose centres lie within r of the brush centre
		for kk := 0; kk < m.Size[2]; kk++ {
			for j := 0; j < m.Size[1]; j++ {
				for i := 0; i < m.Size[0]; i++ {
					at := m.ToPatient(viewer.Vec3{float64(i), float64(j), float64(kk)})
					d := at.Sub(centre).Norm()
					s, _, _ := p.Locate(at)
					painted := m.Data[m.Index(i, j, kk)] == viewer.LabelNCR
					if inside := math.Round(s) == float64(k) && d <= r+1e-9; painted != inside {
						t.Fatalf("%s: voxel (%d,%d,%d) at %.3f mm from the centre: painted %v", o, i, j, kk, d, painted)
					}
					if painted {
						want++
					}
				}
			}
		}
		if n != want || n == 0 {
			t.Fatalf("%s: Dab reports %d voxels, the map has %d", o, n, want)
		}
		t.Logf("%s: a %.0f mm brush paints %d voxels", o, r, n)
	}
}

func sum(m *viewer.LabelMap) [32]byte { return sha256.Sum256(m.Data) }

func TestUndoRedoAreBitIdentical(t *testing.T) {
	e, img := demoEditor(t)
	orig := append([]uint8(nil), e.Map().Data...)
	if e.Dirty() {
		t.Fatal("a new editor is dirty")
	}
	k, c := tumourAt(t, e, render.Axial)
	kc, cc := tumourAt(t, e, render.Coronal)
	ks, cs := tumourAt(t, e, render.Sagittal)
	lo, hi := img.Range()
	steps := []func() (int, error){
		func() (int, error) {
			return e.Brush(render.Axial, k, Point{c.X - 30, c.Y - 10}, Point{c.X + 30, c.Y + 10}, 6, Paint{Label: viewer.LabelET})
		},
		func() (int, error) { return e.Dab(render.Coronal, kc, cc, 9, Paint{Erase: true}) },
		func() (int, error) { return e.Fill(render.Axial, k, Point{5.5, 5.5}, Paint{Label: viewer.LabelNCR}) },
		func() (int, error) {
			return e.Dab(render.Sagittal, ks, cs, 12,
				Paint{Label: viewer.LabelED, Intensity: &Range{lo + (hi-lo)/3, hi}})
		},
		func() (int, error) {
			return e.Dab(render.Axial, k, c, 20, Paint{Label: viewer.LabelED, Erase: true, OnlyActive: true})
		},
	}
	var after [][]uint8
	for n, s := range steps {
		c, err := s()
		if err != nil || c == 0 {
			t.Fatalf("step %d: %d voxels, %v", n, c, err)
		}
		after = append(after, append([]uint8(nil), e.Map().Data...))
		checkCounts(t, e)
	}
	if !e.Dirty() {
		t.Fatal("not dirty after editing")
	}
	for n := len(steps) - 1; n >= 0; n-- {
		if _, err := e.Undo(); err != nil {
			t.Fatal(err)
		}
		want := orig
		if n > 0 {
			want = after[n-1]
		}
		if !bytes.Equal(e.Map().Data, want) {
			t.Fatalf("undo of step %d: the map differs from before it", n)
		}
		checkCounts(t, e)
	}
	if e.Dirty() {
		t.Fatal("dirty after undoing everything")
	}
	if _, err := e.Undo(); !errors.Is(err, ErrNothingToUndo) {
		t.Fatalf("undo past the start: %v", err)
	}
	for n := range steps {
		if _, err := e.Redo(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(e.Map().Data, after[n]) {
			t.Fatalf("redo of step %d: the map differs from after it", n)
		}
	}
	checkCounts(t, e)
	e.MarkSaved()
	if e.Dirty() {
		t.Fatal("dirty right after MarkSaved")
	}
}

func TestSixtyStrokesFiftyUndos(t *testing.T) {
	e, _ := demoEditor(t)
	if err := e.SetDepth(50); err != nil {
		t.Fatal(err)
	}
	states := [][32]byte{sum(e.Map())}
	labels := []uint8{viewer.LabelNCR, viewer.LabelED, viewer.LabelET}
	for n := 0; n < 60; n++ {
		if err := e.Begin("brush"); err != nil {
			t.Fatal(err)
		}
		y := 40 + 2*float64(n)
		for x := 30.0; x < 210; x += 15 {
			if _, err := e.Brush(render.Axial, 60+n, Point{x, y}, Point{x + 15, y + 3}, 4, Paint{Label: labels[n%3]}); err != nil {
				t.Fatal(err)
			}
		}
		if c, err := e.End(); err != nil || c == 0 {
			t.Fatalf("stroke %d: %d voxels, %v", n, c, err)
		}
		states = append(states, sum(e.Map()))
	}
	for n := 59; n >= 10; n-- {
		if _, err := e.Undo(); err != nil {
			t.Fatalf("undo %d: %v", 60-n, err)
		}
		if sum(e.Map()) != states[n] {
			t.Fatalf("undo %d: not the state after stroke %d", 60-n, n)
		}
	}
	if _, err := e.Undo(); !errors.Is(err, ErrNothingToUndo) {
		t.Fatalf("a 51st undo with depth 50: %v", err)
	}
	checkCounts(t, e)
	for n := 11; n <= 60; n++ {
		if _, err := e.Redo(); err != nil {
			t.Fatal(err)
		}
		if sum(e.Map()) != states[n] {
			t.Fatalf("redo to stroke %d: not the state after it", n)
		}
	}
	// A new stroke clears what could be redone.
	if _, err := e.Undo(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Dab(render.Axial, 20, Point{100, 100}, 3, Paint{Label: viewer.LabelNCR}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Redo(); !errors.Is(err, ErrNothingToRedo) {
		t.Fatalf("redo after a new stroke: %v", err)
	}
}

func TestFillStaysInSliceAndRegion(t *testing.T) {
	m := synthetic(t, [3]int{48, 40, 12}, viewer.Vec3{1, 1, 2.5})
	// A square ring of ED (x, y in 10…30) on slices 5, 6 and 7; inside and outside are background.
	for k := 5; k <= 7; k++ {
		for y := 10; y <= 30; y++ {
			for x := 10; x <= 30; x++ {
				if x == 10 || x == 30 || y == 10 || y == 30 {
					m.Data[m.Index(x, y, k)] = viewer.LabelED
				}
			}
		}
	}
	before := append([]uint8(nil), m.Data...)
	e, err := New(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	ax, _ := e.Plane(render.Axial)
	k := 6
	var sk int // the plane slice showing grid slice 6
	for s := 0; s < ax.Slices(); s++ {
		if g, _ := ax.SourceSlice(s); g == k {
			sk = s
		}
	}
	v, _ := ax.Voxel(sk, 0, 0)
	if v[2] != k {
		t.Fatalf("plane slice %d shows grid slice %d", sk, v[2])
	}
	// A seed inside the ring: pixel of voxel (20, 20).
	var seed Point
	for py := 0; py < ax.Bounds().Dy(); py++ {
		for px := 0; px < ax.Bounds().Dx(); px++ {
			if v, _ := ax.Voxel(sk, px, py); v[0] == 20 && v[1] == 20 {
				seed = Point{float64(px) + 0.5, float64(py) + 0.5}
			}
		}
	}
	n, err := e.Fill(render.Axial, sk, seed, Paint{Label: viewer.LabelNCR})
	if err != nil {
		t.Fatal(err)
	}
	changed := 0
	for i, x := range m.Data {
		if x == before[i] {
			continue
		}
		changed++
		ii, j, kk := i%m.Size[0], i/m.Size[0]%m.Size[1], i/(m.Size[0]*m.Size[1])
		if kk != k || ii <= 10 || ii >= 30 || j <= 10 || j >= 30 || before[i] != 0 {
			t.Fatalf("fill changed voxel (%d,%d,%d), was %d", ii, j, kk, before[i])
		}
	}
	if changed != 19*19 || n != changed {
		t.Fatalf("fill changed %d voxels (reported %d), the ring holds 19×19", changed, n)
	}
	// Filling the ring itself from the coronal plane: only the ring's voxels of that coronal slice.
	co, _ := e.Plane(render.Coronal)
	var cs int
	var cseed Point
	for s := 0; s < co.Slices(); s++ {
		for px := 0; px < co.Bounds().Dx(); px++ {
			for py := 0; py < co.Bounds().Dy(); py++ {
				if v, _ := co.Voxel(s, px, py); v == [3]int{10, 20, 6} {
					cs, cseed = s, Point{float64(px) + 0.5, float64(py) + 0.5}
				}
			}
		}
	}
	before = append(before[:0], m.Data...)
	n, err = e.Fill(render.Coronal, cs, cseed, Paint{Label: viewer.LabelET})
	if err != nil {
		t.Fatal(err)
	}
	// Row j = 20 crosses the ring at x = 10 and x = 30 on slices 5…7: two columns of three voxels each,
	// not connected to each other within the coronal slice.
	if n != 3 {
		t.Fatalf("coronal fill of the ring's side changed %d voxels, want 3", n)
	}
	for i, x := range m.Data {
		if x != before[i] && (i%m.Size[0] != 10 || i/m.Size[0]%m.Size[1] != 20) {
			t.Fatalf("coronal fill changed voxel %d outside column x=10, y=20", i)
		}
	}
	checkCounts(t, e)
}

// TestFillOnDemoIsTheConnectedRegion checks a fill of the demo's oedema on its largest slice: every filled
// voxel was oedema, on the slice, and no oedema voxel next to a filled one was left.
func TestFillOnDemoIsTheConnectedRegion(t *testing.T) {
	e, _ := demoEditor(t)
	ax, _ := e.Plane(render.Axial)
	k, _ := tumourAt(t, e, render.Axial)
	m := e.Map()
	var seed image2
	found := false
	for py := 0; py < 240 && !found; py++ {
		for px := 0; px < 240 && !found; px++ {
			if v, _ := ax.Voxel(k, px, py); m.Data[m.Index(v[0], v[1], v[2])] == viewer.LabelED {
				seed, found = image2{px, py}, true
			}
		}
	}
	if !found {
		t.Fatal("no oedema on the largest label slice")
	}
	before := append([]uint8(nil), m.Data...)
	n, err := e.Fill(render.Axial, k, Point{float64(seed.x) + 0.5, float64(seed.y) + 0.5}, Paint{Label: viewer.LabelNCR})
	if err != nil || n == 0 {
		t.Fatalf("fill: %d voxels, %v", n, err)
	}
	filled := map[image2]bool{}
	for py := 0; py < 240; py++ {
		for px := 0; px < 240; px++ {
			v, _ := ax.Voxel(k, px, py)
			i := m.Index(v[0], v[1], v[2])
			if m.Data[i] != before[i] {
				if before[i] != viewer.LabelED || m.Data[i] != viewer.LabelNCR {
					t.Fatalf("pixel (%d,%d): %d → %d", px, py, before[i], m.Data[i])
				}
				filled[image2{px, py}] = true
			}
		}
	}
	if len(filled) != n {
		t.Fatalf("%d pixels changed on the slice, fill reports %d (changes off the slice?)", len(filled), n)
	}
	for p := range filled {
		for _, d := range []image2{{1, 0}, {-1, 0}, {0, 1}, {0, -1}} {
			q := image2{p.x + d.x, p.y + d.y}
			if v, ok := ax.Voxel(k, q.x, q.y); ok && m.Data[m.Index(v[0], v[1], v[2])] == viewer.LabelED {
				t.Fatalf("oedema at (%d,%d) next to a filled pixel was left", q.x, q.y)
			}
		}
	}
	checkCounts(t, e)
	t.Logf("slice %d: the oedema region under (%d,%d) is %d voxels", k, seed.x, seed.y, n)
}

type image2 struct{ x, y int }

func TestIntensityLimitedBrush(t *testing.T) {
	e, img := demoEditor(t)
	k, c := tumourAt(t, e, render.Axial)
	p := e.Map()
	// The range: the middle third of the image values around the tumour centre.
	ax, _ := e.Plane(render.Axial)
	var vals []float32
	for y := int(c.Y) - 20; y < int(c.Y)+20; y++ {
		for x := int(c.X) - 20; x < int(c.X)+20; x++ {
			if v, ok := ax.Voxel(k, x, y); ok {
				vals = append(vals, img.At(v[0], v[1], v[2]))
			}
		}
	}
	slices.Sort(vals)
	r := Range{vals[len(vals)/3], vals[2*len(vals)/3]}
	before := append([]uint8(nil), p.Data...)
	n, err := e.Dab(render.Axial, k, c, 30, Paint{Label: viewer.LabelET, Intensity: &r})
	if err != nil || n == 0 {
		t.Fatalf("%d voxels, %v", n, err)
	}
	changed, skipped := 0, 0
	for i, x := range p.Data {
		v := img.Data[i]
		in := v >= r.Lo && v <= r.Hi
		if x != before[i] {
			changed++
			if !in {
				t.Fatalf("voxel %d of intensity %g painted outside [%g, %g]", i, v, r.Lo, r.Hi)
			}
		}
	}
	// The same disc without the limit reaches voxels the limit left alone.
	q := *p
	q.Data = append([]uint8(nil), before...)
	plain, _ := New(&q, nil)
	all, err := plain.Dab(render.Axial, k, c, 30, Paint{Label: viewer.LabelET})
	if err != nil {
		t.Fatal(err)
	}
	for i, x := range q.Data {
		if x != before[i] && p.Data[i] == before[i] {
			skipped++
			if v := img.Data[i]; v >= r.Lo && v <= r.Hi {
				t.Fatalf("voxel %d of intensity %g in range was not painted", i, v)
			}
		}
	}
	if changed != n || skipped == 0 || changed+skipped != all {
		t.Fatalf("limited %d (reported %d), skipped %d, unlimited %d", changed, n, skipped, all)
	}
	t.Logf("range [%.1f, %.1f]: %d of %d voxels of the disc painted", r.Lo, r.Hi, n, all)
}

func TestBadArgumentsAreErrors(t *testing.T) {
	e, _ := demoEditor(t)
	noImg, err := New(synthetic(t, [3]int{8, 8, 4}, viewer.Vec3{1, 1, 1}), nil)
	if err != nil {
		t.Fatal(err)
	}
	ed := Paint{Label: viewer.LabelED}
	nan := math.NaN()
	cases := []struct {
		name, want string
		run        func() error
	}{
		{"slice below", "out of range", func() error { _, err := e.Dab(render.Axial, -1, Point{5, 5}, 3, ed); return err }},
		{"slice above", "out of range", func() error { _, err := e.Dab(render.Axial, 155, Point{5, 5}, 3, ed); return err }},
		{"fill slice", "out of range", func() error { _, err := e.Fill(render.Sagittal, 240, Point{5, 5}, ed); return err }},
		{"orientation", "orientation", func() error { _, err := e.Dab(render.Orientation(7), 1, Point{5, 5}, 3, ed); return err }},
		{"label", "not one of the map's labels", func() error {
			_, err := e.Dab(render.Axial, 1, Point{5, 5}, 3, Paint{Label: 9})
			return err
		}},
		{"label 0", "background", func() error { _, err := e.Dab(render.Axial, 1, Point{5, 5}, 3, Paint{}); return err }},
		{"erase only label", "not one of the map's labels", func() error {
			_, err := e.Dab(render.Axial, 1, Point{5, 5}, 3, Paint{Label: 7, Erase: true, OnlyActive: true})
			return err
		}},
		{"radius 0", "radius", func() error { _, err := e.Dab(render.Axial, 1, Point{5, 5}, 0, ed); return err }},
		{"radius <0", "radius", func() error { _, err := e.Dab(render.Axial, 1, Point{5, 5}, -2, ed); return err }},
		{"radius NaN", "radius", func() error { _, err := e.Dab(render.Axial, 1, Point{5, 5}, nan, ed); return err }},
		{"radius Inf", "radius", func() error { _, err := e.Dab(render.Axial, 1, Point{5, 5}, math.Inf(1), ed); return err }},
		{"point NaN", "not a number", func() error { _, err := e.Brush(render.Axial, 1, Point{5, 5}, Point{nan, 1}, 3, ed); return err }},
		{"seed outside", "outside", func() error { _, err := e.Fill(render.Axial, 1, Point{240, 5}, ed); return err }},
		{"seed negative", "outside", func() error { _, err := e.Fill(render.Axial, 1, Point{-0.5, 5}, ed); return err }},
		{"range empty", "empty", func() error {
			_, err := e.Dab(render.Axial, 1, Point{5, 5}, 3, Paint{Label: 1, Intensity: &Range{5, 4}})
			return err
		}},
		{"range no image", "needs the image", func() error {
			_, err := noImg.Dab(render.Axial, 1, Point{5, 5}, 3, Paint{Label: 1, Intensity: &Range{0, 4}})
			return err
		}},
		{"end", "no stroke", func() error { _, err := e.End(); return err }},
		{"nil map", "no label map", func() error { _, err := New(nil, nil); return err }},
		{"short map", "label map", func() error {
			_, err := New(&viewer.LabelMap{Geometry: e.Map().Geometry, Data: make([]uint8, 10)}, nil)
			return err
		}},
		{"image grid", "grid", func() error {
			_, err := New(synthetic(t, [3]int{8, 8, 4}, viewer.Vec3{1, 1, 1}), viewer.NewVolume(viewer.Geometry{Size: [3]int{8, 8, 5},
				Spacing: viewer.Vec3{1, 1, 1}, Direction: viewer.IdentityDirection}))
			return err
		}},
		{"depth", "depth", func() error { return e.SetDepth(0) }},
		{"set image grid", "grid", func() error {
			return noImg.SetImage(viewer.NewVolume(viewer.Geometry{Size: [3]int{8, 8, 5}, Spacing: viewer.Vec3{1, 1, 1}, Direction: viewer.IdentityDirection}))
		}},
		{"set image RGB", "samples", func() error {
			v := viewer.NewVolume(noImg.Map().Geometry)
			v.Samples, v.Data = 3, make([]float32, 3*len(v.Data))
			return noImg.SetImage(v)
		}},
	}
	for _, c := range cases {
		err := c.run()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one saying %q", c.name, err, c.want)
		}
	}
	if err := e.Begin("brush"); err != nil {
		t.Fatal(err)
	}
	if err := e.Begin("brush"); !errors.Is(err, ErrStrokeOpen) {
		t.Errorf("Begin twice: %v", err)
	}
	if _, err := e.Undo(); !errors.Is(err, ErrStrokeOpen) {
		t.Errorf("Undo during a stroke: %v", err)
	}
	if n, err := e.End(); err != nil || n != 0 {
		t.Errorf("End of an empty stroke: %d, %v", n, err)
	}
	if _, ok := e.CanUndo(); ok {
		t.Error("an empty stroke was kept as a step")
	}
	checkCounts(t, e)
}

// BenchmarkBrushStroke drags a 5 mm brush across a 240×240 slice in 4-pixel mouse steps, as one stroke.
func BenchmarkBrushStroke(b *testing.B) {
	m := synthetic(b, [3]int{240, 240, 155}, viewer.Vec3{1, 1, 1})
	e, err := New(m, nil)
	if err != nil {
		b.Fatal(err)
	}
	labels := []uint8{viewer.LabelNCR, viewer.LabelED}
	voxels := 0
	b.ReportAllocs()
	for n := 0; b.Loop(); n++ {
		if err := e.Begin("brush"); err != nil {
			b.Fatal(err)
		}
		for x := 0.0; x < 240; x += 4 {
			if _, err := e.Brush(render.Axial, 77, Point{x, 120 + x/8}, Point{x + 4, 120 + (x+4)/8}, 5, Paint{Label: labels[n%2]}); err != nil {
				b.Fatal(err)
			}
		}
		c, err := e.End()
		if err != nil || c == 0 {
			b.Fatalf("%d voxels, %v", c, err)
		}
		voxels = c
	}
	b.ReportMetric(float64(voxels), "voxels/stroke")
}
