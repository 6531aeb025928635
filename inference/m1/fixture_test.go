package m1_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/neuronova/neuronova/inference"
	"github.com/neuronova/neuronova/inference/model"
	"github.com/neuronova/neuronova/inference/onnxpb"
	"github.com/neuronova/neuronova/inference/ort"
	"github.com/neuronova/neuronova/viewer"
)

// Fixture models: tiny ONNX graphs written from Go, with cards, loaded through the real registry and ONNX
// Runtime like any site model.

var (
	n1   = model.Dim{Value: 1}
	dimN = model.Dim{Param: "n"}
	dimD = model.Dim{Param: "d"}
	dimH = model.Dim{Param: "h"}
	dimW = model.Dim{Param: "w"}
)

func fixed(v int64) model.Dim { return model.Dim{Value: v} }

// volumeShape is [n, c, d, h, w] with a fixed channel count.
func volumeShape(c int64) model.Shape { return model.Shape{dimN, fixed(c), dimD, dimH, dimW} }

func onnxVolume(b *onnxpb.Builder, name string, c int64) string {
	return b.Input(name, onnxpb.Float32, onnxpb.Symbolic("n"), onnxpb.Fixed(c), onnxpb.Symbolic("d"), onnxpb.Symbolic("h"), onnxpb.Symbolic("w"))
}

// conv adds a 3-D convolution of x (4 channels) with weights w (out × 4 × k³) and bias, zero-padded to keep
// the size.
func conv(b *onnxpb.Builder, x, name string, out, k int, w, bias []float32) string {
	wn := b.Float32(name+"_w", []int64{int64(out), 4, int64(k), int64(k), int64(k)}, w)
	bn := b.Float32(name+"_b", []int64{int64(out)}, bias)
	p := int64(k / 2)
	return b.Op("Conv", []string{x, wn, bn}, onnxpb.IntsAttr("kernel_shape", int64(k), int64(k), int64(k)),
		onnxpb.IntsAttr("pads", p, p, p, p, p, p))
}

// pointwise is a 1×1×1 convolution: out channel o = Σ_c w[o][c]·x_c + bias[o].
func pointwise(b *onnxpb.Builder, x string, w [][]float32, bias []float32) string {
	var flat []float32
	for _, row := range w {
		flat = append(flat, row...)
	}
	return conv(b, x, "pw", len(w), 1, flat, bias)
}

// segCard is an M1 card for a fixture: one image input in channel order order, windows win, normalisation norm,
// and the outputs outs.
func segCard(id string, order []string, prep model.Preprocessing, outs ...model.Output) *model.Card {
	prep.Steps = []string{"fixture"}
	prep.Crop = "brain-bbox"
	if prep.SpacingMM == nil {
		prep.SpacingMM = []float64{1, 1, 1}
	}
	return &model.Card{
		Schema: model.CardSchema, ID: id, Family: model.FamilyM1, Name: "fixture " + id, Version: "0.0.1",
		Status: model.StatusDemonstration, Task: "test fixture",
		IntendedUse: model.IntendedUse{Summary: "tests the M1 pipeline", NotForClinicalUse: true, Banner: "TEST FIXTURE — not for clinical use"},
		Inputs: []model.Input{{TensorSpec: model.TensorSpec{Name: "image", DType: "float32", Shape: volumeShape(4),
			ExampleShape: []int64{1, 4, 16, 16, 16}}, ChannelOrder: order, Preprocessing: &prep}},
		Outputs:      outs,
		TrainingData: model.TrainingData{Kind: "none", Description: "fixed weights"},
		Evaluation:   model.Evaluation{Dataset: "none"},
		Limitations:  []string{"a test fixture"},
	}
}

// softmaxOutput is a segmentation output of c channels with the given classes.
func softmaxOutput(c int64, logits bool, classes ...model.Class) model.Output {
	return model.Output{TensorSpec: model.TensorSpec{Name: "seg", DType: "float32", Shape: volumeShape(c)},
		Activation: "softmax", Logits: logits, Classes: classes}
}

// loadFixture writes the graph and the card (its artifact filled in) to a user model directory and loads the
// model through the registry and ONNX Runtime.
func loadFixture(t testing.TB, g onnxpb.Graph, c *model.Card) *inference.Model {
	t.Helper()
	data, err := (&onnxpb.Model{IRVersion: 8, Opsets: []onnxpb.OpsetID{{Version: 17}}, ProducerName: "m1-fixture", Graph: g}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sum := sha256.Sum256(data)
	c.Artifact = model.Artifact{File: c.ID + ".onnx", SHA256: hex.EncodeToString(sum[:]), SizeBytes: int64(len(data))}
	cb, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, c.ID+".onnx"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, c.ID+model.CardSuffix), cb, 0o644); err != nil {
		t.Fatal(err)
	}
	reg, err := model.NewRegistry(model.WithDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := ort.New(ort.WithProvider(ort.ProviderCPU), ort.WithIntraOpThreads(1))
	if err != nil {
		t.Fatalf("ONNX Runtime (set %s or run make setup): %v", ort.LibraryEnv, err)
	}
	t.Cleanup(func() { eng.Close() })
	m, err := inference.NewRuntime(reg, eng).Load(context.Background(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// fixtureStudy is a study of four volumes on g made by f(channel, voxel centre in mm) → value; channel is the
// index in viewer.BrainTumourTypes.
func fixtureStudy(uid string, g viewer.Geometry, f func(c int, p viewer.Vec3) float32) *viewer.Study {
	var vols [4]*viewer.Volume
	for c := range vols {
		v := viewer.NewVolume(g)
		for k := 0; k < g.Size[2]; k++ {
			for j := 0; j < g.Size[1]; j++ {
				for i := 0; i < g.Size[0]; i++ {
					v.Data[g.Index(i, j, k)] = f(c, g.ToPatient(viewer.Vec3{float64(i), float64(j), float64(k)}))
				}
			}
		}
		vols[c] = v
	}
	return studyOf(uid, vols)
}

// bratsGrid is the BraTS grid (240 × 240 × 155 at 1 mm), centred on the origin.
func bratsGrid() viewer.Geometry {
	g := viewer.Geometry{Size: [3]int{240, 240, 155}, Spacing: viewer.Vec3{1, 1, 1}, Direction: viewer.IdentityDirection}
	g.Origin = viewer.Vec3{-119.5, -119.5, -77}
	return g
}

// inEllipsoid reports whether p lies inside the ellipsoid of centre c and semi-axes r.
func inEllipsoid(p, c, r viewer.Vec3) bool {
	s := 0.0
	for a := 0; a < 3; a++ {
		d := (p[a] - c[a]) / r[a]
		s += d * d
	}
	return s < 1
}

// hash01 is a deterministic pseudo-random value in [0, 1) for a voxel position and a channel.
func hash01(p viewer.Vec3, c int) float64 {
	x := math.Sin(p[0]*12.9898+p[1]*78.233+p[2]*37.719+float64(c)*4.581) * 43758.5453
	return x - math.Floor(x)
}
