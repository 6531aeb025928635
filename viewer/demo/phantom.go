// Package demo makes the synthetic brain-tumour MRI study NeuroNova opens without patient data: a
// deterministic phantom defined as a function of patient position (mm, LPS), rendered onto any grid as
// T1, T1CE, T2 and FLAIR volumes with a ground-truth label map.
package demo

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"

	"github.com/neuronova/neuronova/viewer"
)

// ErrParams is returned for parameters that do not describe a usable phantom.
var ErrParams = errors.New("demo: invalid phantom parameters")

// Ellipsoid is an axis-aligned ellipsoid in patient coordinates (mm).
type Ellipsoid struct {
	Centre viewer.Vec3
	Radii  viewer.Vec3 // semi-axes along patient x (L), y (P), z (S)
}

// Tumour is a lobulated tumour with an enhancing rim around a necrotic core, inside an oedema shell. Its
// boundary along direction n from Centre is at Radii ⊙ n · (1 + Deform·lobes(n)); the core and the oedema
// boundaries are the same surface scaled by Core and Oedema.
type Tumour struct {
	Centre viewer.Vec3
	Radii  viewer.Vec3 // semi-axes of the tumour boundary (outer edge of the enhancing rim) before lobulation
	Deform float64     // lobulation amplitude, 0 (ellipsoid) to 0.4
	Core   float64     // necrotic core boundary as a fraction of the tumour boundary, 0 to <1
	Oedema float64     // oedema boundary as a multiple of the tumour boundary, ≥ 1
	// Enhancing makes the shell between core and boundary an enhancing rim (label ET, a high-grade look);
	// without it the shell is non-enhancing tumour and, like the core, labelled NCR (a low-grade look).
	Enhancing bool
}

// Params define a phantom. Everything random (folding, lobulation, texture, bias field, noise) comes from
// Seed, so equal parameters give equal images.
type Params struct {
	Seed   uint64
	Grid   viewer.Geometry // where Render samples the phantom
	Brain  Ellipsoid
	Tumour Tumour
	// NoiseSigma is the Rician noise σ as a fraction of white matter's intensity in each sequence.
	NoiseSigma float64
	// BiasAmplitude is the largest fractional deviation of the smooth intensity bias field.
	BiasAmplitude float64
}

// Sequences are the phantom's four contrasts, in the order of viewer.BrainTumourTypes.
var Sequences = viewer.BrainTumourTypes

// BraTSGrid is the BraTS grid: 240×240×155 voxels of 1 mm, axial, LPS axes, centred on the origin.
func BraTSGrid() viewer.Geometry {
	return viewer.Geometry{Size: [3]int{240, 240, 155}, Spacing: viewer.Vec3{1, 1, 1},
		Origin: viewer.Vec3{-119.5, -119.5, -77}, Direction: viewer.IdentityDirection}
}

// CoarseGrid covers the BraTS grid's field of view with 48×48×16 voxels of 4.5×4.5×9 mm: a phantom quick to
// make, write and segment, for tests.
func CoarseGrid() viewer.Geometry {
	return viewer.Geometry{Size: [3]int{48, 48, 16}, Spacing: viewer.Vec3{4.5, 4.5, 9}, Origin: viewer.Vec3{-105, -105, -70},
		Direction: viewer.IdentityDirection}
}

// DefaultParams is the demo study's phantom: a right frontal high-grade tumour on the BraTS grid.
func DefaultParams() Params {
	brain := viewer.Vec3{0, 8, 4}
	return Params{
		Seed:  4,
		Grid:  BraTSGrid(),
		Brain: Ellipsoid{Centre: brain, Radii: viewer.Vec3{68, 84, 60}},
		Tumour: Tumour{Centre: brain.Add(viewer.Vec3{-35, -18, 20}), Radii: viewer.Vec3{16, 19, 15},
			Deform: 0.15, Core: 0.65, Oedema: 1.3, Enhancing: true},
		NoiseSigma:    0.025,
		BiasAmplitude: 0.06,
	}
}

// Volumes are tumour sub-region volumes in mm³.
type Volumes struct{ NCR, ED, ET float64 }

// Tissue classes the intensity model mixes.
const (
	wm = iota
	gm
	csf
	oedema
	enhancing
	nonEnhancing
	necrosis
	vessel
	nClasses
)

// intensity is each class's signal in T1, T1CE, T2, FLAIR (arbitrary units on a scanner-like scale).
var intensity = [nClasses][4]float64{
	wm:           {820, 830, 420, 480},
	gm:           {560, 580, 620, 620},
	csf:          {220, 230, 1650, 90},
	oedema:       {600, 620, 1250, 1150},
	enhancing:    {580, 1450, 950, 880},
	nonEnhancing: {480, 500, 1300, 1150},
	necrosis:     {300, 330, 1500, 500},
	vessel:       {350, 1500, 250, 250},
}

// textureAmplitude is how strongly each class's intensity follows the texture field.
var textureAmplitude = [nClasses]float64{0.03, 0.04, 0.01, 0.06, 0.12, 0.08, 0.06, 0}

// edge is the width (mm) over which tissues blend at their boundaries.
const edge = 1.0

// wave is sin(k·p + phase).
type wave struct {
	k     viewer.Vec3
	phase float64
}

// Waves 0–3 make the texture field, 4–6 the folding pattern.
const (
	nWaves    = 7
	firstFold = 4
)

// Kinds of deep structure.
const (
	deepGreyMatter = iota
	ventricle
	bentVentricle // a lateral ventricle, whose horns bend down
	vesselSegment
)

// structure is a deep structure or a vessel segment, with a bounding box that includes the blending edge.
type structure struct {
	kind   int
	shape  Ellipsoid   // deepGreyMatter, ventricle, bentVentricle
	a, b   viewer.Vec3 // vesselSegment: a capsule from a to b
	radius float64
	lo, hi viewer.Vec3
}

func (st *structure) contains(p viewer.Vec3) bool {
	return p[0] >= st.lo[0] && p[0] <= st.hi[0] && p[1] >= st.lo[1] && p[1] <= st.hi[1] && p[2] >= st.lo[2] && p[2] <= st.hi[2]
}

// probe is what evaluate needs besides the position: the waves' values there, and which structures
// (bit i for structures[i]) may be close enough to matter.
type probe struct {
	waves  [nWaves]float64
	active uint64
}

// Phantom is a phantom ready to evaluate; it is safe for concurrent use.
type Phantom struct {
	p         Params
	waves     [nWaves]wave
	foldGrad  float64 // typical gradient of the folding pattern, to turn it into mm
	lobes     [4]wave // k is a unit direction; value sin(m·π·(n·k) + phase)
	lobeOrder [4]float64
	bias      [4]struct {
		linear viewer.Vec3
		quad   [3][3]float64
	}
	structures  []structure // mixed in this order
	brainReach2 float64     // squared normalised brain radius beyond which nothing is drawn
	tumourReach float64     // largest u-space radius of the oedema boundary
}

// New checks p and prepares its phantom.
func New(p Params) (*Phantom, error) {
	if err := p.Grid.Validate(); err != nil {
		return nil, fmt.Errorf("%w: grid: %v", ErrParams, err)
	}
	t := p.Tumour
	for a := 0; a < 3; a++ {
		if !(p.Brain.Radii[a] > 10) || !(t.Radii[a] > 0) {
			return nil, fmt.Errorf("%w: brain radii %v (want > 10 mm), tumour radii %v (want > 0)", ErrParams, p.Brain.Radii, t.Radii)
		}
	}
	switch {
	case !(t.Deform >= 0 && t.Deform <= 0.4):
		return nil, fmt.Errorf("%w: tumour Deform %v (want 0 to 0.4)", ErrParams, t.Deform)
	case !(t.Core >= 0 && t.Core < 1):
		return nil, fmt.Errorf("%w: tumour Core %v (want 0 to <1)", ErrParams, t.Core)
	case !(t.Oedema >= 1 && t.Oedema < 4):
		return nil, fmt.Errorf("%w: tumour Oedema %v (want 1 to <4)", ErrParams, t.Oedema)
	case !(p.NoiseSigma >= 0 && p.NoiseSigma < 1):
		return nil, fmt.Errorf("%w: NoiseSigma %v (want 0 to <1)", ErrParams, p.NoiseSigma)
	case !(p.BiasAmplitude >= 0 && p.BiasAmplitude < 0.5):
		return nil, fmt.Errorf("%w: BiasAmplitude %v (want 0 to <0.5)", ErrParams, p.BiasAmplitude)
	}
	ph := &Phantom{p: p, tumourReach: t.Oedema * (1 + t.Deform)}
	reach := 1 + 2*edge/min(p.Brain.Radii[0], p.Brain.Radii[1], p.Brain.Radii[2])
	ph.brainReach2 = reach * reach
	rng := rand.New(rand.NewPCG(p.Seed, 0x6e6575726f6e6f76))
	randomDir := func() viewer.Vec3 {
		for {
			v := viewer.Vec3{rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()}
			if n := v.Norm(); n > 1e-6 {
				return v.Scale(1 / n)
			}
		}
	}
	const gyrus = 2 * math.Pi / 24 // wave number of the folding pattern: gyri about 12 mm wide
	for i := range ph.waves {
		k := 2 * math.Pi / (5 + 15*rng.Float64()) // texture: wavelengths of 5 to 20 mm
		if i >= firstFold {
			k = gyrus
		}
		ph.waves[i] = wave{randomDir().Scale(k), 2 * math.Pi * rng.Float64()}
	}
	ph.foldGrad = gyrus / math.Sqrt(6)
	for i := range ph.lobes {
		ph.lobes[i] = wave{randomDir(), 2 * math.Pi * rng.Float64()}
		ph.lobeOrder[i] = float64(1 + i%2)
	}
	for s := range ph.bias {
		ph.bias[s].linear = randomDir().Scale(0.6)
		for a := 0; a < 3; a++ {
			for b := a; b < 3; b++ {
				v := (rng.Float64()*2 - 1) * 0.4 / 3
				ph.bias[s].quad[a][b], ph.bias[s].quad[b][a] = v, v
			}
		}
	}
	ph.anatomy()
	if err := ph.checkTumourInsideBrain(); err != nil {
		return nil, err
	}
	return ph, nil
}

// anatomy places the deep structures and vessels relative to the brain.
func (ph *Phantom) anatomy() {
	c := ph.p.Brain.Centre
	// Structures are placed for a 68×84×60 mm brain and scale with its radii.
	s := viewer.Vec3{ph.p.Brain.Radii[0] / 68, ph.p.Brain.Radii[1] / 84, ph.p.Brain.Radii[2] / 60}
	at := func(x, y, z float64) viewer.Vec3 { return c.Add(viewer.Vec3{x * s[0], y * s[1], z * s[2]}) }
	size := func(x, y, z float64) viewer.Vec3 { return viewer.Vec3{x * s[0], y * s[1], z * s[2]} }
	blob := func(kind int, centre, radii viewer.Vec3) {
		st := structure{kind: kind, shape: Ellipsoid{centre, radii}}
		st.lo, st.hi = centre.Sub(radii).Sub(viewer.Vec3{edge, edge, edge}), centre.Add(radii).Add(viewer.Vec3{edge, edge, edge})
		if kind == bentVentricle {
			st.lo[2] -= 0.5 * radii[2]
		}
		ph.structures = append(ph.structures, st)
	}
	blob(deepGreyMatter, at(-10, 14, -2), size(8, 12, 8)) // thalami
	blob(deepGreyMatter, at(10, 14, -2), size(8, 12, 8))
	blob(bentVentricle, at(-9, 2, 8), size(5.5, 24, 9)) // lateral ventricles
	blob(bentVentricle, at(9, 2, 8), size(5.5, 24, 9))
	blob(ventricle, at(0, 10, -2), size(1.8, 10, 8)) // third ventricle
	path := func(r float64, pts ...viewer.Vec3) {
		for i := 0; i+1 < len(pts); i++ {
			a, b := pts[i], pts[i+1]
			st := structure{kind: vesselSegment, a: a, b: b, radius: r}
			for d := 0; d < 3; d++ {
				st.lo[d] = min(a[d], b[d]) - r - edge
				st.hi[d] = max(a[d], b[d]) + r + edge
			}
			ph.structures = append(ph.structures, st)
		}
	}
	path(1.2, at(0, -30, 5), at(0, -42, 24), at(0, -26, 44), at(0, 6, 52))  // anterior cerebral arteries
	path(1.3, at(-12, -5, -5), at(-35, -8, 0), at(-52, 2, 14))              // right middle cerebral artery
	path(1.3, at(12, -5, -5), at(35, -8, 0), at(52, 2, 14))                 // left middle cerebral artery
	path(2.0, at(0, -62, 36), at(0, -22, 57), at(0, 30, 55), at(0, 72, 28)) // superior sagittal sinus
}

// checkTumourInsideBrain requires the oedema boundary to stay inside the brain, so that the analytic
// volumes are the rasterised ones.
func (ph *Phantom) checkTumourInsideBrain() error {
	t := ph.p.Tumour
	worst := 0.0
	var where viewer.Vec3
	sphereQuadrature(24, 48, func(n viewer.Vec3, _ float64) {
		r := t.Oedema * ph.lobulation(n)
		p := t.Centre.Add(viewer.Vec3{t.Radii[0] * n[0] * r, t.Radii[1] * n[1] * r, t.Radii[2] * n[2] * r})
		if rho := ph.p.Brain.rho(p); rho > worst {
			worst, where = rho, p
		}
	})
	if worst > 0.98 {
		return fmt.Errorf("%w: the tumour's oedema reaches %v, outside the brain (%.3g of its radius)", ErrParams, where, worst)
	}
	return nil
}

// rho is the ellipsoid's normalised radius of p: < 1 inside, 1 on the surface.
func (e Ellipsoid) rho(p viewer.Vec3) float64 {
	d := p.Sub(e.Centre)
	x, y, z := d[0]/e.Radii[0], d[1]/e.Radii[1], d[2]/e.Radii[2]
	return math.Sqrt(x*x + y*y + z*z)
}

// signedDistance approximates the distance from p to the ellipsoid's surface in mm, negative inside
// (first order in (rho − 1); exact for spheres).
func (e Ellipsoid) signedDistance(p viewer.Vec3) float64 {
	d := p.Sub(e.Centre)
	x, y, z := d[0]/e.Radii[0], d[1]/e.Radii[1], d[2]/e.Radii[2]
	rho := math.Sqrt(x*x + y*y + z*z)
	g := math.Sqrt(x*x/(e.Radii[0]*e.Radii[0]) + y*y/(e.Radii[1]*e.Radii[1]) + z*z/(e.Radii[2]*e.Radii[2]))
	if g == 0 {
		return -min(e.Radii[0], e.Radii[1], e.Radii[2])
	}
	return (rho - 1) * rho / g
}

// lobulation is the tumour boundary's radial factor along unit direction n (in the tumour's normalised
// space): 1 + Deform·mean of sin(m·π·(n·k) + phase), so between 1−Deform and 1+Deform.
func (ph *Phantom) lobulation(n viewer.Vec3) float64 {
	var s float64
	for i, l := range ph.lobes {
		s += math.Sin(ph.lobeOrder[i]*math.Pi*n.Dot(l.k) + l.phase)
	}
	return 1 + ph.p.Tumour.Deform*s/float64(len(ph.lobes))
}

// tumourCoordinate returns s, the point's position relative to the tumour boundary (s < 1 inside the
// tumour, s < Core in the core, s < Oedema in the oedema), and mm, the length in mm of one unit of s
// along the ray from the centre (to turn differences of s into distances).
func (ph *Phantom) tumourCoordinate(p viewer.Vec3) (s, mm float64, near bool) {
	t := &ph.p.Tumour
	d := p.Sub(t.Centre)
	u := viewer.Vec3{d[0] / t.Radii[0], d[1] / t.Radii[1], d[2] / t.Radii[2]}
	rho2 := u.Dot(u)
	reach := ph.tumourReach + 2*edge/min(t.Radii[0], t.Radii[1], t.Radii[2])
	if rho2 > reach*reach {
		return math.Inf(1), 0, false
	}
	rho := math.Sqrt(rho2)
	if rho == 0 {
		return 0, ph.lobulation(viewer.Vec3{1, 0, 0}) * t.Radii[0], true
	}
	f := ph.lobulation(u.Scale(1 / rho))
	return rho / f, d.Norm() / rho * f, true
}

// Label returns the ground-truth label at patient position p (mm).
func (ph *Phantom) Label(p viewer.Vec3) uint8 {
	s, _, near := ph.tumourCoordinate(p)
	if !near {
		return viewer.LabelBackground
	}
	return ph.labelAt(s)
}

func (ph *Phantom) labelAt(s float64) uint8 {
	t := &ph.p.Tumour
	switch {
	case s < t.Core:
		return viewer.LabelNCR
	case s < 1 && t.Enhancing:
		return viewer.LabelET
	case s < 1:
		return viewer.LabelNCR
	case s < t.Oedema:
		return viewer.LabelED
	}
	return viewer.LabelBackground
}

// blend is the fraction of a region at signed distance x (mm, negative inside) from its boundary.
func blend(x float64) float64 { return min(max(0.5-x/edge, 0), 1) }

// mix moves v toward class c's intensity (with texture) by fraction h.
func mix(v *[4]float64, c int, h, tex float64) {
	if h <= 0 {
		return
	}
	g := 1 + textureAmplitude[c]*tex
	for s := range v {
		v[s] += h * (intensity[c][s]*g - v[s])
	}
}

// Intensity returns the noiseless, bias-free signal at p in T1, T1CE, T2 and FLAIR, and the fraction of
// the point inside the brain (0 outside: skull-stripped background).
func (ph *Phantom) Intensity(p viewer.Vec3) (values [4]float64, brain float64) {
	pr := ph.probeAt(p)
	values, brain, _, _ = ph.evaluate(p, &pr)
	return values, brain
}

// probeAt is the probe at p computed directly, with every structure active.
func (ph *Phantom) probeAt(p viewer.Vec3) probe {
	var pr probe
	for i, w := range ph.waves {
		pr.waves[i] = math.Sin(w.k.Dot(p) + w.phase)
	}
	pr.active = 1<<len(ph.structures) - 1
	return pr
}

// evaluate returns intensities, brain fraction and label at p; inside is false for points well outside
// the brain, for which it does no other work.
func (ph *Phantom) evaluate(p viewer.Vec3, pr *probe) (v [4]float64, brain float64, label uint8, inside bool) {
	br := &ph.p.Brain
	d := p.Sub(br.Centre)
	x, y, z := d[0]/br.Radii[0], d[1]/br.Radii[1], d[2]/br.Radii[2]
	rho2 := x*x + y*y + z*z
	if rho2 > ph.brainReach2 {
		return v, 0, 0, false
	}
	rho := math.Sqrt(rho2)
	sd := -br.Radii[0]
	if g := math.Sqrt(x*x/(br.Radii[0]*br.Radii[0]) + y*y/(br.Radii[1]*br.Radii[1]) + z*z/(br.Radii[2]*br.Radii[2])); g > 0 {
		sd = (rho - 1) * rho / g
	}
	s, mm, near := ph.tumourCoordinate(p)
	if near {
		label = ph.labelAt(s)
	}
	brain = blend(sd)
	if brain <= 0 {
		return v, 0, label, true
	}
	w := &pr.waves
	tex := 0.25 * (w[0] + w[1] + w[2] + w[3])

	// Cortex: a grey-matter ribbon under the surface and along sulci, which follow the zero set of the
	// folding pattern down to sulcusDepth; CSF in the sulci and a thin layer over the surface.
	const sulcusDepth = 11.0
	depth := -sd
	toSulcus := math.Abs(w[firstFold]+w[firstFold+1]+w[firstFold+2]) / 3 / ph.foldGrad
	mix(&v, wm, 1, tex)
	mix(&v, gm, blend(min(depth-2.8, max(toSulcus-3.3, depth-sulcusDepth-2.5))), tex)
	mix(&v, csf, blend(min(depth-0.8, max(toSulcus-0.7, depth-sulcusDepth))), tex)

	// Midline: medial cortex and the interhemispheric fissure above the corpus callosum.
	dx := math.Abs(d[0])
	above := br.Radii[2]*0.2 - d[2]
	mix(&v, gm, blend(max(dx-4, above)), tex)
	mix(&v, csf, blend(max(dx-1.2, above+4)), tex)

	// Deep grey matter, ventricles and vessels, then the tumour over everything.
	for m := pr.active; m != 0; m &= m - 1 {
		st := &ph.structures[bits.TrailingZeros64(m)]
		if !st.contains(p) {
			continue
		}
		switch st.kind {
		case deepGreyMatter:
			mix(&v, gm, blend(st.shape.signedDistance(p)), tex)
		case ventricle:
			mix(&v, csf, blend(st.shape.signedDistance(p)), tex)
		case bentVentricle:
			dy := (p[1] - st.shape.Centre[1]) / st.shape.Radii[1]
			mix(&v, csf, blend(st.shape.signedDistance(viewer.Vec3{p[0], p[1], p[2] + 0.4*st.shape.Radii[2]*dy*dy})), tex)
		case vesselSegment:
			mix(&v, vessel, blend(distanceToSegment(p, st.a, st.b)-st.radius), 0)
		}
	}
	if near {
		t := &ph.p.Tumour
		mix(&v, oedema, 0.85*blend((s-t.Oedema)*mm), tex)
		shell := nonEnhancing
		if t.Enhancing {
			shell = enhancing
		}
		mix(&v, shell, blend((s-1)*mm), tex)
		mix(&v, necrosis, blend((s-t.Core)*mm), tex)
	}
	for c := range v {
		v[c] *= brain
	}
	return v, brain, label, true
}

func distanceToSegment(p, a, b viewer.Vec3) float64 {
	ab := b.Sub(a)
	t := min(max(p.Sub(a).Dot(ab)/ab.Dot(ab), 0), 1)
	return p.Sub(a.Add(ab.Scale(t))).Norm()
}

// biases returns the four sequences' multiplicative bias fields at p: smooth quadratics in the position
// relative to the brain centre, each within 1 ± BiasAmplitude.
func (ph *Phantom) biases(p viewer.Vec3) (b [4]float64) {
	q := p.Sub(ph.p.Brain.Centre).Scale(1.0 / 90)
	qq := [6]float64{q[0] * q[0], q[1] * q[1], q[2] * q[2], 2 * q[0] * q[1], 2 * q[0] * q[2], 2 * q[1] * q[2]}
	for s := range b {
		f := &ph.bias[s]
		v := f.linear.Dot(q) + f.quad[0][0]*qq[0] + f.quad[1][1]*qq[1] + f.quad[2][2]*qq[2] +
			f.quad[0][1]*qq[3] + f.quad[0][2]*qq[4] + f.quad[1][2]*qq[5]
		b[s] = 1 + ph.p.BiasAmplitude*max(-1, min(1, v))
	}
	return b
}

// GroundTruth returns the analytic volumes of the tumour sub-regions in mm³. The region inside s·boundary
// has volume s³·Rx·Ry·Rz·∮ lobulation(n)³ dΩ / 3, integrated by Gauss–Legendre quadrature (error
// far below 1e-6 relative).
func (ph *Phantom) GroundTruth() Volumes {
	t := ph.p.Tumour
	var integral float64
	sphereQuadrature(64, 128, func(n viewer.Vec3, w float64) {
		f := ph.lobulation(n)
		integral += w * f * f * f
	})
	unit := t.Radii[0] * t.Radii[1] * t.Radii[2] * integral / 3
	inside := func(s float64) float64 { return s * s * s * unit }
	v := Volumes{ED: inside(t.Oedema) - inside(1)}
	if t.Enhancing {
		v.NCR, v.ET = inside(t.Core), inside(1)-inside(t.Core)
	} else {
		v.NCR = inside(1)
	}
	return v
}

// Params returns the phantom's parameters.
func (ph *Phantom) Params() Params { return ph.p }

// sphereQuadrature calls f with the unit directions and weights of a product rule on the sphere:
// nTheta Gauss–Legendre nodes in cos θ times nPhi equally spaced angles. The weights sum to 4π.
func sphereQuadrature(nTheta, nPhi int, f func(n viewer.Vec3, w float64)) {
	x, w := gaussLegendre(nTheta)
	for i := range x {
		st := math.Sqrt(1 - x[i]*x[i])
		for j := 0; j < nPhi; j++ {
			phi := 2 * math.Pi * (float64(j) + 0.5) / float64(nPhi)
			f(viewer.Vec3{st * math.Cos(phi), st * math.Sin(phi), x[i]}, w[i]*2*math.Pi/float64(nPhi))
		}
	}
}

// gaussLegendre returns the n nodes and weights of Gauss–Legendre quadrature on [−1, 1].
func gaussLegendre(n int) (x, w []float64) {
	x, w = make([]float64, n), make([]float64, n)
	for i := 0; i < n; i++ {
		z := math.Cos(math.Pi * (float64(i) + 0.75) / (float64(n) + 0.5))
		var dp float64
		for iter := 0; iter < 100; iter++ {
			p0, p1 := 1.0, z
			for k := 2; k <= n; k++ {
				p0, p1 = p1, ((2*float64(k)-1)*z*p1-(float64(k)-1)*p0)/float64(k)
			}
			dp = float64(n) * (z*p1 - p0) / (z*z - 1)
			dz := p1 / dp
			z -= dz
			if math.Abs(dz) < 1e-15 {
				break
			}
		}
		x[i], w[i] = z, 2/((1-z*z)*dp*dp)
	}
	return x, w
}
