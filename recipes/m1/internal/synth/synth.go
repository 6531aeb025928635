// Package synth makes the M1 demonstration model's synthetic cases: random viewer/demo phantoms on random
// acquisition grids, with head targets from stated phantom rules (see the gendata command's documentation).
package synth

import (
	"math"
	"math/rand/v2"

	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/demo"
)

// Targets are a case's head targets, from the phantom rules.
type Targets struct {
	Grade int     `json:"grade"` // 0 G2, 1 G3, 2 G4
	IDH   int     `json:"idh"`   // 1 mutant
	MGMT  int     `json:"mgmt"`  // 1 methylated
	Risk  float64 `json:"risk"`  // 0..1
	WTmL  float64 `json:"wt_ml"`
}

// Case is one synthetic case: the phantom, the grid it is acquired on, and its targets.
type Case struct {
	Params  demo.Params
	Phantom *demo.Phantom
	Grid    viewer.Geometry
	Plane   string
	Targets Targets
}

// NewCase draws a case from rng.
func NewCase(rng *rand.Rand) Case {
	p, ph := randomParams(rng)
	g, plane := acquisition(rng, p)
	return Case{Params: p, Phantom: ph, Grid: g, Plane: plane, Targets: targets(rng, p, ph)}
}

func uniform(rng *rand.Rand, lo, hi float64) float64 { return lo + (hi-lo)*rng.Float64() }

func randomParams(rng *rand.Rand) (demo.Params, *demo.Phantom) {
	for {
		brain := viewer.Vec3{uniform(rng, -6, 6), uniform(rng, -6, 12), uniform(rng, -6, 8)}
		radii := viewer.Vec3{uniform(rng, 58, 74), uniform(rng, 72, 90), uniform(rng, 50, 66)}
		enh := rng.Float64() < 0.7
		core := uniform(rng, 0.15, 0.75)
		if !enh {
			core = uniform(rng, 0, 0.6)
		}
		tr := viewer.Vec3{uniform(rng, 7, 24), uniform(rng, 7, 24), uniform(rng, 7, 22)}
		var off viewer.Vec3
		for a := 0; a < 3; a++ {
			off[a] = uniform(rng, -0.6, 0.6) * radii[a]
		}
		p := demo.Params{
			Seed:  rng.Uint64(),
			Grid:  demo.BraTSGrid(),
			Brain: demo.Ellipsoid{Centre: brain, Radii: radii},
			Tumour: demo.Tumour{Centre: brain.Add(off), Radii: tr, Deform: uniform(rng, 0, 0.35), Core: core,
				Oedema: uniform(rng, 1.05, 1.9), Enhancing: enh},
			NoiseSigma:    uniform(rng, 0.01, 0.05),
			BiasAmplitude: uniform(rng, 0, 0.12),
		}
		if ph, err := demo.New(p); err == nil {
			return p, ph
		}
	}
}

// acquisition returns a random grid covering the brain: axial, coronal or sagittal, anisotropic at will.
func acquisition(rng *rand.Rand, p demo.Params) (viewer.Geometry, string) {
	planes := []struct {
		name string
		dir  [3]viewer.Vec3
	}{
		{"axial", [3]viewer.Vec3{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}},
		{"coronal", [3]viewer.Vec3{{1, 0, 0}, {0, 0, -1}, {0, 1, 0}}},
		{"sagittal", [3]viewer.Vec3{{0, 1, 0}, {0, 0, -1}, {1, 0, 0}}},
	}
	pl := planes[0]
	if r := rng.Float64(); r > 0.6 {
		pl = planes[1+int(rng.Float64()*2)%2]
	}
	inPlane := uniform(rng, 0.8, 1.25)
	through := uniform(rng, 1, 1.4)
	if rng.Float64() < 0.5 {
		through = uniform(rng, 1.5, 4)
	}
	g := viewer.Geometry{Spacing: viewer.Vec3{inPlane, inPlane, through}, Direction: pl.dir}
	for a := 0; a < 3; a++ {
		// the extent of the brain (plus 8 to 30 mm) along this axis
		var half float64
		for b := 0; b < 3; b++ {
			half += math.Abs(pl.dir[a][b]) * p.Brain.Radii[b]
		}
		half += uniform(rng, 8, 30)
		g.Size[a] = int(2 * half / g.Spacing[a])
	}
	centre := p.Brain.Centre.Add(viewer.Vec3{uniform(rng, -5, 5), uniform(rng, -5, 5), uniform(rng, -5, 5)})
	g.Origin = centre
	for a := 0; a < 3; a++ {
		g.Origin = g.Origin.Sub(g.Direction[a].Scale(g.Spacing[a] * float64(g.Size[a]-1) / 2))
	}
	return g, pl.name
}

// targets applies the phantom rules.
func targets(rng *rand.Rand, p demo.Params, ph *demo.Phantom) Targets {
	t := p.Tumour
	grade := 0
	if t.Enhancing {
		grade = 1
		if t.Core >= 0.45 {
			grade = 2
		}
	}
	idh := 0
	if !t.Enhancing {
		idh = 1
	}
	if rng.Float64() < 0.1 {
		idh = 1 - idh
	}
	mgmt := 0
	if t.Centre[0] > p.Brain.Centre[0] {
		mgmt = 1
	}
	v := ph.GroundTruth()
	wt := (v.NCR + v.ED + v.ET) / 1000
	z := 1.3*float64(grade-1) + 0.025*(wt-60) - 0.8*float64(idh) - 0.6*float64(mgmt)
	return Targets{Grade: grade, IDH: idh, MGMT: mgmt, Risk: 1 / (1 + math.Exp(-z)), WTmL: wt}
}
