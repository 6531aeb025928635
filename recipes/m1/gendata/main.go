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
//	go run ./recipes/m1/gendata -n 96 -seed 20260201 -out /tmp/m1data
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
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/neuronova/neuronova/inference/m1"
	"github.com/neuronova/neuronova/inference/model"
	"github.com/neuronova/neuronova/recipes/m1/internal/synth"
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

func sample(rng *rand.Rand, i, size int) (Sample, []float32, []uint8, error) {
	c := synth.NewCase(rng)
	r, err := c.Phantom.RenderOn(c.Grid)
	if err != nil {
		return Sample{}, nil, nil, err
	}
	prep, err := m1.Prepare(context.Background(), r.Volumes, 1, m1.Layout{Size: [3]int{size, size, size}}, m1.Normalisation{Method: model.NormZScoreBrain})
	if err != nil {
		return Sample{}, nil, nil, err
	}
	labels, err := c.Phantom.LabelsOn(prep.Grid)
	if err != nil {
		return Sample{}, nil, nil, err
	}
	t := c.Targets
	s := Sample{Index: i, Grade: t.Grade, IDH: t.IDH, MGMT: t.MGMT, Risk: t.Risk, WTmL: t.WTmL, Params: c.Params,
		Spacing: c.Grid.Spacing, Plane: c.Plane, ModelMM: prep.Grid.Spacing[0], Channels: [4]float64{prep.Stats[0].SD, prep.Stats[1].SD, prep.Stats[2].SD, prep.Stats[3].SD}}
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
