package demo

import (
	"errors"
	"math"
	"runtime"
	"strings"
	"testing"

	"github.com/neuronova/neuronova/viewer"
)

func mustPhantom(t testing.TB, p Params) *Phantom {
	t.Helper()
	ph, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	return ph
}

// obliqueGrid is a 0.9×0.9×3 mm grid, rotated, covering the default brain.
func obliqueGrid() viewer.Geometry {
	c, s := math.Cos(0.3), math.Sin(0.3)
	row := viewer.Vec3{c, s, 0}
	col := viewer.Vec3{-s * math.Cos(0.2), c * math.Cos(0.2), math.Sin(0.2)}
	g := viewer.Geometry{Size: [3]int{200, 220, 52}, Spacing: viewer.Vec3{0.9, 0.9, 3},
		Direction: [3]viewer.Vec3{row, col, row.Cross(col)}}
	// Centre the grid on the brain.
	half := g.ToPatient(viewer.Vec3{99.5, 109.5, 25.5})
	g.Origin = DefaultParams().Brain.Centre.Sub(half)
	return g
}

func TestGroundTruthMatchesRasterisedLabels(t *testing.T) {
	variants := map[string]func(p *Params){
		"default":       func(*Params) {},
		"non-enhancing": func(p *Params) { p.Tumour.Enhancing = false; p.Tumour.Core = 0.3 },
		"lobulated":     func(p *Params) { p.Tumour.Deform = 0.3; p.Tumour.Radii = viewer.Vec3{14, 17, 13}; p.Seed = 11 },
		"thin oedema":   func(p *Params) { p.Tumour.Oedema = 1.25; p.Tumour.Core = 0.4 },
	}
	grids := map[string]struct {
		g   viewer.Geometry
		tol float64
	}{
		"1 mm BraTS":        {BraTSGrid(), 0.01},
		"0.9×0.9×3 oblique": {obliqueGrid(), 0.03},
	}
	for vn, mod := range variants {
		p := DefaultParams()
		mod(&p)
		ph := mustPhantom(t, p)
		gt := ph.GroundTruth()
		for gn, grid := range grids {
			m, err := ph.LabelsOn(grid.g)
			if err != nil {
				t.Fatal(err)
			}
			c := m.Counts()
			vox := grid.g.VoxelVolume()
			got := Volumes{NCR: float64(c[viewer.LabelNCR]) * vox, ED: float64(c[viewer.LabelED]) * vox, ET: float64(c[viewer.LabelET]) * vox}
			for _, r := range []struct {
				name      string
				got, want float64
			}{{"NCR", got.NCR, gt.NCR}, {"ED", got.ED, gt.ED}, {"ET", got.ET, gt.ET}} {
				if r.want == 0 {
					if r.got != 0 {
						t.Errorf("%s on %s: %s has %v mm³, want none", vn, gn, r.name, r.got)
					}
					continue
				}
				if d := math.Abs(r.got-r.want) / r.want; d > grid.tol {
					t.Errorf("%s on %s: %s %.0f mm³, analytic %.0f mm³ (%.2f%% off, allowed %.0f%%)", vn, gn, r.name, r.got, r.want, 100*d, 100*grid.tol)
				}
			}
		}
	}
}

// A lobulation of zero makes the tumour an ellipsoid: the quadrature must give the closed form.
func TestGroundTruthEllipsoid(t *testing.T) {
	p := DefaultParams()
	p.Tumour.Deform = 0
	gt := mustPhantom(t, p).GroundTruth()
	r := p.Tumour.Radii
	unit := 4 * math.Pi / 3 * r[0] * r[1] * r[2]
	want := Volumes{NCR: unit * math.Pow(p.Tumour.Core, 3), ET: unit * (1 - math.Pow(p.Tumour.Core, 3)), ED: unit * (math.Pow(p.Tumour.Oedema, 3) - 1)}
	for _, d := range []float64{gt.NCR - want.NCR, gt.ET - want.ET, gt.ED - want.ED} {
		if math.Abs(d) > 1e-9*unit {
			t.Fatalf("ground truth %+v, closed form %+v", gt, want)
		}
	}
}

// The sequences must show the textbook contrasts, read from the noiseless signal at points of known tissue.
func TestContrasts(t *testing.T) {
	ph := mustPhantom(t, DefaultParams())
	p := ph.Params()
	tc, tr := p.Tumour.Centre, p.Tumour.Radii
	along := func(s float64) viewer.Vec3 { // a point at tumour coordinate s on a ray toward the brain surface
		n := viewer.Vec3{-1, 0, 0}
		f := ph.lobulation(n)
		return tc.Add(viewer.Vec3{tr[0] * n[0] * s * f, 0, 0})
	}
	ventricle := ph.structures[2].shape.Centre
	deepWM := p.Brain.Centre.Add(viewer.Vec3{30, -30, 25})
	at := func(name string, q viewer.Vec3) [4]float64 {
		v, brain := ph.Intensity(q)
		if brain != 1 {
			t.Fatalf("%s point %v is not fully inside the brain (%v)", name, q, brain)
		}
		return v
	}
	wm, csf := at("white matter", deepWM), at("ventricle", ventricle)
	gm := at("grey matter", findCortex(t, ph))
	ed, et, ncr := at("oedema", along(0.5*(1+p.Tumour.Oedema))), at("enhancing rim", along(0.5*(1+p.Tumour.Core))), at("necrosis", tc)
	const t1, t1ce, t2, flair = 0, 1, 2, 3
	checks := []struct {
		what string
		ok   bool
	}{
		{"T1: WM > GM > CSF", wm[t1] > gm[t1] && gm[t1] > csf[t1]},
		{"T1CE: enhancing rim brightest", et[t1ce] > 1.5*wm[t1ce] && et[t1ce] > 2*et[t1]},
		{"T1CE: WM > GM > CSF as in T1", wm[t1ce] > gm[t1ce] && gm[t1ce] > csf[t1ce]},
		{"T2: CSF and oedema bright", csf[t2] > 2*wm[t2] && ed[t2] > 2*wm[t2] && gm[t2] > wm[t2]},
		{"FLAIR: CSF dark, oedema bright", csf[flair] < 0.5*wm[flair] && ed[flair] > 1.5*gm[flair]},
		{"necrosis dark on T1CE", ncr[t1ce] < 0.5*et[t1ce]},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: WM %v GM %v CSF %v ED %v ET %v NCR %v", c.what, wm, gm, csf, ed, et, ncr)
		}
	}
	// A vessel enhances.
	if v := at("anterior cerebral artery", ph.structures[5].a); v[t1ce] < 1.5*wm[t1ce] {
		t.Errorf("vessel T1CE %v, white matter %v", v[t1ce], wm[t1ce])
	}
}

// findCortex returns a point 1.5 mm under the brain surface, away from sulci, the midline and the tumour.
func findCortex(t *testing.T, ph *Phantom) viewer.Vec3 {
	br := ph.p.Brain
	for i := 0; i < 2000; i++ {
		theta, phi := 0.3+1.2*float64(i%37)/37, 2*math.Pi*float64(i)/2000
		n := viewer.Vec3{math.Sin(theta) * math.Cos(phi), math.Sin(theta) * math.Sin(phi), math.Cos(theta)}
		q := br.Centre.Add(viewer.Vec3{br.Radii[0] * n[0], br.Radii[1] * n[1], br.Radii[2] * n[2]})
		q = q.Add(q.Sub(br.Centre).Unit().Scale(-1.5 - br.signedDistance(q)))
		pr := ph.probeAt(q)
		w := pr.waves
		if math.Abs(w[4]+w[5]+w[6])/3/ph.foldGrad > 5 && math.Abs(q[0]-br.Centre[0]) > 8 && ph.Label(q) == 0 {
			return q
		}
	}
	t.Fatal("no cortex point found")
	return viewer.Vec3{}
}

// The signal is a continuous function of position: no jumps along lines through every structure.
func TestIntensityIsContinuous(t *testing.T) {
	ph := mustPhantom(t, DefaultParams())
	p := ph.Params()
	lines := [][2]viewer.Vec3{
		{p.Tumour.Centre.Add(viewer.Vec3{-40, 0, 0}), p.Tumour.Centre.Add(viewer.Vec3{40, 0, 0})},
		{p.Brain.Centre.Add(viewer.Vec3{-80, 2, 8}), p.Brain.Centre.Add(viewer.Vec3{80, 2, 8})},
		{p.Brain.Centre.Add(viewer.Vec3{0, -90, 40}), p.Brain.Centre.Add(viewer.Vec3{0, 90, 40})},
	}
	const step = 0.01 // mm
	for _, l := range lines {
		d := l[1].Sub(l[0])
		n := int(d.Norm() / step)
		prev, _ := ph.Intensity(l[0])
		for i := 1; i <= n; i++ {
			cur, _ := ph.Intensity(l[0].Add(d.Scale(float64(i) / float64(n))))
			for s := range cur {
				// Boundaries blend over 1 mm, so 0.01 mm changes a value by at most ~1 % of the range.
				if math.Abs(cur[s]-prev[s]) > 25 {
					t.Fatalf("sequence %d jumps from %v to %v within %v mm at step %d of line %v", s, prev[s], cur[s], step, i, l)
				}
			}
			prev = cur
		}
	}
}

func TestRenderIsDeterministicAndMatchesLabelsOn(t *testing.T) {
	p := DefaultParams()
	p.Grid = viewer.Geometry{Size: [3]int{70, 80, 30}, Spacing: viewer.Vec3{2.5, 2.5, 4},
		Origin: viewer.Vec3{-86, -92, -56}, Direction: viewer.IdentityDirection}
	ph := mustPhantom(t, p)
	prev := runtime.GOMAXPROCS(1)
	one := ph.Render()
	runtime.GOMAXPROCS(max(prev, 3))
	many := ph.Render()
	runtime.GOMAXPROCS(prev)
	for s := range one.Volumes {
		for i, x := range one.Volumes[s].Data {
			if many.Volumes[s].Data[i] != x {
				t.Fatalf("sequence %d voxel %d: %v with one worker, %v with several", s, i, x, many.Volumes[s].Data[i])
			}
		}
	}
	labels, err := ph.LabelsOn(p.Grid)
	if err != nil {
		t.Fatal(err)
	}
	if string(labels.Data) != string(one.Labels.Data) {
		t.Fatal("Render's labels differ from LabelsOn's")
	}
	other := p
	other.Seed++
	changed := mustPhantom(t, other).Render()
	same := 0
	for i, x := range one.Volumes[0].Data {
		if x > 0 && changed.Volumes[0].Data[i] == x {
			same++
		}
	}
	if nonzero := countAbove(one.Volumes[0].Data, 0); same > nonzero/2 {
		t.Fatalf("another seed left %d of %d brain voxels unchanged", same, nonzero)
	}
}

func countAbove(d []float32, x float32) int {
	n := 0
	for _, v := range d {
		if v > x {
			n++
		}
	}
	return n
}

// Rendered voxels are the noiseless signal times the bias field plus Rician noise of the requested σ.
func TestNoiseAndBackground(t *testing.T) {
	p := DefaultParams()
	p.Grid = viewer.Geometry{Size: [3]int{40, 40, 20}, Spacing: viewer.Vec3{1, 1, 1},
		Origin: p.Brain.Centre.Add(viewer.Vec3{10, -40, 10}), Direction: viewer.IdentityDirection}
	ph := mustPhantom(t, p)
	r := ph.Render()
	g := p.Grid
	var sum, sum2 [4]float64
	n := 0
	for k := 0; k < g.Size[2]; k++ {
		for j := 0; j < g.Size[1]; j++ {
			for i := 0; i < g.Size[0]; i++ {
				q := g.ToPatient(viewer.Vec3{float64(i), float64(j), float64(k)})
				v, brain := ph.Intensity(q)
				if brain != 1 {
					continue
				}
				b := ph.biases(q)
				n++
				for s := range v {
					d := float64(r.Volumes[s].At(i, j, k)) - v[s]*b[s]
					sum[s] += d
					sum2[s] += d * d
				}
			}
		}
	}
	if n < 10000 {
		t.Fatalf("only %d brain voxels in the test block", n)
	}
	for s := range sum {
		mean, sd := sum[s]/float64(n), math.Sqrt(sum2[s]/float64(n)-(sum[s]/float64(n))*(sum[s]/float64(n)))
		sigma := p.NoiseSigma * intensity[wm][s]
		if math.Abs(mean) > 0.2*sigma || sd < 0.8*sigma || sd > 1.2*sigma+0.3 {
			t.Errorf("sequence %d: residual mean %.2f sd %.2f, want about 0 and %.2f", s, mean, sd, sigma)
		}
	}
	// Outside the brain the images are exactly zero (skull-stripped).
	corner := r.Volumes[0].At(0, 0, 0)
	if _, brain := ph.Intensity(g.ToPatient(viewer.Vec3{})); brain == 0 && corner != 0 {
		t.Fatalf("background voxel = %v", corner)
	}
}

func TestParamsRejected(t *testing.T) {
	cases := map[string]func(p *Params){
		"oedema outside the brain": func(p *Params) { p.Tumour.Oedema = 2.5 },
		"core beyond boundary":     func(p *Params) { p.Tumour.Core = 1 },
		"negative radius":          func(p *Params) { p.Tumour.Radii[1] = -3 },
		"wild deformation":         func(p *Params) { p.Tumour.Deform = 0.9 },
		"bad grid":                 func(p *Params) { p.Grid.Spacing[2] = 0 },
		"NaN noise":                func(p *Params) { p.NoiseSigma = math.NaN() },
	}
	for name, mod := range cases {
		p := DefaultParams()
		mod(&p)
		if _, err := New(p); !errors.Is(err, ErrParams) {
			t.Errorf("%s: error %v, want ErrParams", name, err)
		}
	}
	p := DefaultParams()
	p.Tumour.Oedema = 2.5
	if _, err := New(p); err == nil || !strings.Contains(err.Error(), "outside the brain") {
		t.Errorf("error %v does not say where the tumour is", err)
	}
}

func BenchmarkRender(b *testing.B) {
	ph := mustPhantom(b, DefaultParams())
	for b.Loop() {
		ph.Render()
	}
}

func BenchmarkLabelsOnOblique(b *testing.B) {
	ph := mustPhantom(b, DefaultParams())
	g := obliqueGrid()
	for b.Loop() {
		if _, err := ph.LabelsOn(g); err != nil {
			b.Fatal(err)
		}
	}
}
