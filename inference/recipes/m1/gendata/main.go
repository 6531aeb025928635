// Command gendata renders the training phantoms of the M1 demonstration model: random viewer/demo phantoms on
// random acquisition grids (axial, coronal or sagittal; 0.8–1.25 mm in plane, 1–4 mm between slices), turned
// into network inputs by the very code the workstation runs (inference/m1.Prepare), with the ground-truth labels
// rasterised on the model grid and the head targets given by the phantom rules below. It writes NumPy files for
// train.py:
//
//	x_NNN.npy  float32 (4, D, H, W)   normalised T1, T1CE, T2, FLAIR
//	y_NNN.npy  uint8   (D, H, W)      0 background, 1 NCR, 2 ED, 3 ET
//	meta.json  per sample: head targets, phantom parameters, acquisition grid
//
// Usage (about 1.5 s per sample on one core):
//
//	go run ./inference/recipes/m1/gendata -n 96 -seed 20260201 -out /tmp/m1data
//
// Phantom rules for the heads (they describe the phantom, never real tumours):
//   - grade: no enhancing rim → G2; enhancing rim with a necrotic core under 45 % of the radius → G3; else G4;
//   - IDH: mutant for non-enhancing tumours, wild type otherwise, with 10 % of samples flipped;
//   - MGMT: methylated when the tumour centre lies in the patient's left hemisphere (x > brain centre);
//   - risk: sigmoid(1.3·(grade−3) + 0.025·(WT mL − 60) − 0.8·IDH mutant − 0.6·MGMT methylated).
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/neuronova/neuronova/inference/m1"
	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/demo"
)

// Sample is one training example's metadata.
type Sample struct {
	Index    int         `json:"index"`
	Grade    int         `json:"grade"` // 0 G2, 1 G3, 2 G4
	IDH      int         `json:"idh"`   // 1 mutant
	MGMT     int         `json:"mgmt"`  // 1 methylated
	Risk     float64     `json:"risk"`  // 0..1
	WTmL     float64     `json:"wt_ml"`
	Params   demo.Params `json:"params"`
	Spacing  viewer.Vec3 `json:"acquisition_spacing"`
	Plane    string      `json:"plane"`
	ModelMM  float64     `json:"model_spacing_mm"`
	Channels [4]float64  `json:"channel_sd"`
}

func main() {
	n := flag.Int("n", 96, "number of samples")
	seed := flag.Uint64("seed", 20260201, "random seed")
	size := flag.Int("size", 128, "model grid size (voxels per axis)")
	out := flag.String("out", "/tmp/m1data", "output directory")
	flag.Parse()
	if err := run(*n, *seed, *size, *out); err != nil {
		fmt.Fprintln(os.Stderr, "gendata:", err)
		os.Exit(1)
	}
}

func run(n int, seed uint64, size int, out string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(seed, 0x6d31))
	var meta []Sample
	start := time.Now()
	for i := 0; i < n; i++ {
		s, x, y, err := sample(rng, i, size)
		if err != nil {
			return err
		}
		if err := writeNPY(filepath.Join(out, fmt.Sprintf("x_%03d.npy", i)), "<f4", []int{4, size, size, size}, x); err != nil {
			return err
		}
		if err := writeNPY(filepath.Join(out, fmt.Sprintf("y_%03d.npy", i)), "|u1", []int{size, size, size}, y); err != nil {
			return err
		}
		meta = append(meta, s)
		fmt.Printf("sample %d/%d grade G%d idh %d mgmt %d risk %.2f WT %.1f mL plane %s spacing %.2f %.2f %.2f (%s)\n",
			i+1, n, s.Grade+2, s.IDH, s.MGMT, s.Risk, s.WTmL, s.Plane, s.Spacing[0], s.Spacing[1], s.Spacing[2], time.Since(start).Round(time.Second))
	}
	b, err := json.MarshalIndent(meta, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "meta.json"), b, 0o644)
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

func sample(rng *rand.Rand, i, size int) (Sample, []float32, []uint8, error) {
	p, ph := randomParams(rng)
	g, plane := acquisition(rng, p)
	r, err := ph.RenderOn(g)
	if err != nil {
		return Sample{}, nil, nil, err
	}
	prep, err := m1.Prepare(context.Background(), r.Volumes, 1, [3]int{size, size, size})
	if err != nil {
		return Sample{}, nil, nil, err
	}
	labels, err := ph.LabelsOn(prep.Grid)
	if err != nil {
		return Sample{}, nil, nil, err
	}
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
	s := Sample{Index: i, Grade: grade, IDH: idh, MGMT: mgmt, Risk: 1 / (1 + math.Exp(-z)), WTmL: wt, Params: p,
		Spacing: g.Spacing, Plane: plane, ModelMM: prep.Grid.Spacing[0], Channels: prep.SD}
	return s, prep.Input, labels.Data, nil
}

// writeNPY writes a NumPy .npy file (format 1.0, C order).
func writeNPY(path, descr string, shape []int, data any) error {
	sh := ""
	for _, d := range shape {
		sh += fmt.Sprintf("%d, ", d)
	}
	header := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, sh[:len(sh)-2])
	pad := 64 - (10+len(header)+1)%64
	for range pad {
		header += " "
	}
	header += "\n"
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	hdr := append([]byte("\x93NUMPY\x01\x00"), byte(len(header)), byte(len(header)>>8))
	if _, err := f.Write(append(hdr, header...)); err != nil {
		f.Close()
		return err
	}
	if err := binary.Write(f, binary.LittleEndian, data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
