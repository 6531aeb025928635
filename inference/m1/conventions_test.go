package m1_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/neuronova/neuronova/inference/m1"
	"github.com/neuronova/neuronova/inference/model"
	"github.com/neuronova/neuronova/inference/onnxpb"
	"github.com/neuronova/neuronova/viewer"
)

// The input and output conventions a card can state, each run through a fixture network on a phantom whose
// answer is known: nested spheres around (8, −6, 4) — necrosis within 10 mm, enhancing tumour to 15 mm, oedema
// to 24 mm — inside a 80 × 90 × 76 mm brain.

var (
	tumourCentre = viewer.Vec3{8, -6, 4}
	brainCentre  = viewer.Vec3{0, 0, 0}
	brainRadii   = viewer.Vec3{40, 45, 38}
)

// truth is the label of a voxel centre.
func truth(p viewer.Vec3) uint8 {
	if !inEllipsoid(p, brainCentre, brainRadii) {
		return viewer.LabelBackground
	}
	switch r := p.Sub(tumourCentre).Norm(); {
	case r < 10:
		return viewer.LabelNCR
	case r < 15:
		return viewer.LabelET
	case r < 24:
		return viewer.LabelED
	}
	return viewer.LabelBackground
}

// conventionGrid is a 1 mm grid around the brain, not centred on it.
func conventionGrid() viewer.Geometry {
	return viewer.Geometry{Size: [3]int{100, 112, 96}, Spacing: viewer.Vec3{1, 1, 1}, Origin: viewer.Vec3{-47, -58, -45},
		Direction: viewer.IdentityDirection}
}

// window is the sliding window of the convention fixtures: not cubic, so that a mix-up of axes shows.
var conventionWindow = &model.Window{ROI: []int64{32, 48, 40}, Overlap: 0.5, Blend: model.BlendGaussian, Batch: 4}

// checkLabels compares a result with truth on every voxel of the reference grid, and its volumes.
func checkLabels(t *testing.T, res *m1.Result) {
	t.Helper()
	g := res.Labels.Geometry
	wrong := 0
	var counts [4]int
	for k := 0; k < g.Size[2]; k++ {
		for j := 0; j < g.Size[1]; j++ {
			for i := 0; i < g.Size[0]; i++ {
				want := truth(g.ToPatient(viewer.Vec3{float64(i), float64(j), float64(k)}))
				counts[want]++
				if res.Labels.Data[g.Index(i, j, k)] != want {
					wrong++
				}
			}
		}
	}
	if wrong != 0 {
		t.Errorf("%d of %d voxels differ from the known labels %v", wrong, len(res.Labels.Data), counts)
	}
	v := res.Volumes
	if math.Abs(v.NCR-float64(counts[1])/1000) > 1e-3 || math.Abs(v.ED-float64(counts[2])/1000) > 1e-3 || math.Abs(v.ET-float64(counts[3])/1000) > 1e-3 {
		t.Errorf("volumes %+v, want NCR %d, ED %d, ET %d voxels of 1 mm³", v, counts[1], counts[2], counts[3])
	}
	if len(res.Regions) != 3 || res.Regions[0].Name != "WT" || res.Regions[0].Voxels != counts[1]+counts[2]+counts[3] ||
		res.Regions[1].Voxels != counts[1]+counts[3] || res.Regions[2].Voxels != counts[3] {
		t.Errorf("regions %+v, want WT, TC, ET of %v", res.Regions, counts)
	}
}

// indicatorStudy holds, per sequence, 1 where the voxel is in that sequence's set and base elsewhere in the brain.
func indicatorStudy(uid string, in func(c int, l uint8) bool, base float32) *viewer.Study {
	return fixtureStudy(uid, conventionGrid(), func(c int, p viewer.Vec3) float32 {
		if !inEllipsoid(p, brainCentre, brainRadii) {
			return 0
		}
		if in(c, truth(p)) {
			return 1
		}
		return base
	})
}

// MONAI's BraTS contract: channels T1CE, T1, T2, FLAIR; three sigmoid outputs TC, WT and ET, thresholded at
// 0.5 and merged as ET, else TC → NCR, else WT → ED. The fixture's output channel k is its input channel k
// (scaled): T1CE carries TC, T1 WT, T2 ET.
func TestSigmoidRegions(t *testing.T) {
	st := indicatorStudy("sigmoid", func(c int, l uint8) bool {
		switch viewer.BrainTumourTypes[c] {
		case viewer.T1CE:
			return l == viewer.LabelNCR || l == viewer.LabelET
		case viewer.T1:
			return l != viewer.LabelBackground
		case viewer.T2:
			return l == viewer.LabelET
		}
		return false
	}, 0.2)
	W := [][]float32{{10, 0, 0, 0}, {0, 10, 0, 0}, {0, 0, 10, 0}}
	bias := []float32{-5, -5, -5}
	ch := func(k int) *int { return &k }
	regions := []model.Region{{Name: "TC", Channel: ch(0), Threshold: 0.5}, {Name: "WT", Channel: ch(1), Threshold: 0.5},
		{Name: "ET", Channel: ch(2), Threshold: 0.5}}
	for _, logits := range []bool{false, true} {
		b := onnxpb.NewBuilder("sigmoid")
		y := pointwise(b, onnxVolume(b, "image", 4), W, bias)
		if logits {
			b.OpTo("seg", "Identity", []string{y})
		} else {
			b.OpTo("seg", "Sigmoid", []string{y})
		}
		b.Output("seg", onnxpb.Float32, onnxpb.Symbolic("n"), onnxpb.Fixed(3), onnxpb.Symbolic("d"), onnxpb.Symbolic("h"), onnxpb.Symbolic("w"))
		card := segCard("sigmoid", []string{"T1CE", "T1", "T2", "FLAIR"}, model.Preprocessing{Normalisation: model.NormNone,
			Window: conventionWindow}, model.Output{TensorSpec: model.TensorSpec{Name: "seg", DType: "float32", Shape: volumeShape(3)},
			Activation: "sigmoid", Logits: logits, Regions: regions})
		res, err := m1.Predict(context.Background(), loadFixture(t, b.Graph(), card), m1.Request{Study: st})
		if err != nil {
			t.Fatal(err)
		}
		checkLabels(t, res)
		if res.Grade != nil || res.Embedding != nil {
			t.Errorf("a segmentation-only model gave heads: %+v %v", res.Grade, res.Embedding)
		}
	}
}

// Softmax outputs with the classes numbered 0/1/2/3 in another order, and with BraTS numbering (channel = label
// value 0, 1, 2, 4; channel 3 names no class and is never chosen, though it is the largest in the enhancing
// tumour).
func TestSoftmaxLabelNumbering(t *testing.T) {
	// Inputs: T1 carries NCR, T1CE ED, T2 ET, FLAIR the brain.
	st := indicatorStudy("numbering", func(c int, l uint8) bool {
		return c == 3 || (c == 0 && l == viewer.LabelNCR) || (c == 1 && l == viewer.LabelED) || (c == 2 && l == viewer.LabelET)
	}, 0)
	tests := map[string]struct {
		W       [][]float32
		bias    []float32
		classes []model.Class
	}{
		"0/1/2/3, ED before NCR": {
			W:    [][]float32{{0, 0, 0, 0}, {0, 4, 0, 0}, {4, 0, 0, 0}, {0, 0, 4, 0}},
			bias: []float32{1, 0, 0, 0},
			classes: []model.Class{{Index: 0, Label: "BG"}, {Index: 1, Label: "ED", BraTSLabel: 2}, {Index: 2, Label: "NCR", BraTSLabel: 1},
				{Index: 3, Label: "ET", BraTSLabel: 4}},
		},
		"BraTS 0/1/2/4": {
			W:    [][]float32{{0, 0, 0, 0}, {4, 0, 0, 0}, {0, 4, 0, 0}, {0, 0, 6, 0}, {0, 0, 4, 0}},
			bias: []float32{1, 0, 0, 0, 0},
			classes: []model.Class{{Index: 0, Label: "BG"}, {Index: 1, Label: "NCR", BraTSLabel: 1}, {Index: 2, Label: "ED", BraTSLabel: 2},
				{Index: 4, Label: "ET", BraTSLabel: 4}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := int64(len(tc.W))
			b := onnxpb.NewBuilder("numbering")
			b.OpTo("seg", "Softmax", []string{pointwise(b, onnxVolume(b, "image", 4), tc.W, tc.bias)}, onnxpb.IntAttr("axis", 1))
			b.Output("seg", onnxpb.Float32, onnxpb.Symbolic("n"), onnxpb.Fixed(c), onnxpb.Symbolic("d"), onnxpb.Symbolic("h"), onnxpb.Symbolic("w"))
			card := segCard("numbering", []string{"T1", "T1CE", "T2", "FLAIR"}, model.Preprocessing{Normalisation: model.NormNone,
				Window: conventionWindow, TestTimeFlips: []string{"x", "yz"}}, softmaxOutput(c, false, tc.classes...))
			res, err := m1.Predict(context.Background(), loadFixture(t, b.Graph(), card), m1.Request{Study: st})
			if err != nil {
				t.Fatal(err)
			}
			checkLabels(t, res)
		})
	}
}

// Each normalisation, through a fixture whose output channel c is its normalised input channel c (channel 0 a
// constant 0.5 for background): the labels come out right only when the channels are scaled as the card says —
// without it the channel of largest raw values wins everywhere.
func TestNormalisations(t *testing.T) {
	W := [][]float32{{0, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}}
	bias := []float32{0.5, 0, 0, 0}
	classes := []model.Class{{Index: 0, Label: "BG"}, {Index: 1, Label: "NCR"}, {Index: 2, Label: "ED"}, {Index: 3, Label: "ET"}}
	// Channel c (T1, T1CE, T2, FLAIR) carries label c: offset + scale·(2 in its region, 0 elsewhere) + noise.
	offset := [4]float64{1000, 2000, 3000, 4000}
	scale := [4]float64{100, 200, 300, 400}
	raw := func(outliers bool) *viewer.Study {
		return fixtureStudy("norm", conventionGrid(), func(c int, p viewer.Vec3) float32 {
			if !inEllipsoid(p, brainCentre, brainRadii) {
				return 0
			}
			u := 0.1 * (hash01(p, c) - 0.5)
			if truth(p) == uint8(c) && c > 0 {
				u += 2
				if outliers && hash01(p, 7) < 0.02 { // 0.02 of the region: under 0.1 % of the brain
					return 1e6
				}
			}
			return float32(offset[c] + scale[c]*u)
		})
	}
	tests := map[string]struct {
		prep     model.Preprocessing
		outliers bool
		check    func(t *testing.T, s [4]m1.ChannelStats)
	}{
		model.NormZScoreBrain: {prep: model.Preprocessing{Normalisation: model.NormZScoreBrain}, check: func(t *testing.T, s [4]m1.ChannelStats) {
			for c := 1; c < 4; c++ {
				if s[c].Mean < offset[c] || s[c].Mean > offset[c]+scale[c] || s[c].SD < 0.1*scale[c] {
					t.Errorf("channel %d mean %v SD %v", c, s[c].Mean, s[c].SD)
				}
			}
		}},
		model.NormPercentile: {prep: model.Preprocessing{Normalisation: model.NormPercentile, Percentiles: []float64{0.5, 99.5}, ScaleRange: []float64{0, 1}},
			outliers: true, check: func(t *testing.T, s [4]m1.ChannelStats) {
				for c := 1; c < 4; c++ {
					if math.Abs(s[c].Low-(offset[c]-0.05*scale[c])) > 0.02*scale[c] || s[c].High < offset[c]+1.95*scale[c] || s[c].High > offset[c]+2.05*scale[c] {
						t.Errorf("channel %d clipped to [%v, %v]", c, s[c].Low, s[c].High)
					}
				}
			}},
		model.NormFixed: {prep: model.Preprocessing{Normalisation: model.NormFixed, ChannelMean: offset[:], ChannelSD: scale[:]}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			b := onnxpb.NewBuilder("norm")
			b.OpTo("seg", "Softmax", []string{pointwise(b, onnxVolume(b, "image", 4), W, bias)}, onnxpb.IntAttr("axis", 1))
			b.Output("seg", onnxpb.Float32, onnxpb.Symbolic("n"), onnxpb.Fixed(4), onnxpb.Symbolic("d"), onnxpb.Symbolic("h"), onnxpb.Symbolic("w"))
			prep := tc.prep
			prep.Window = conventionWindow
			st := raw(tc.outliers)
			res, err := m1.Predict(context.Background(), loadFixture(t, b.Graph(), segCard("norm", []string{"T1", "T1CE", "T2", "FLAIR"}, prep,
				softmaxOutput(4, false, classes...))), m1.Request{Study: st})
			if err != nil {
				t.Fatal(err)
			}
			checkLabels(t, res)
			if tc.check != nil {
				tc.check(t, res.Preprocessing.ChannelStats)
			}
			// The same network without the normalisation gets it wrong.
			prep.Normalisation = model.NormNone
			bad, err := m1.Predict(context.Background(), loadFixture(t, b.Graph(), segCard("none", []string{"T1", "T1CE", "T2", "FLAIR"}, prep,
				softmaxOutput(4, false, classes...))), m1.Request{Study: st})
			if err != nil {
				t.Fatal(err)
			}
			if v := bad.Volumes; v.ET < 10*res.Volumes.ET {
				t.Errorf("unnormalised input gave volumes %+v, normalised %+v: the fixture does not test the normalisation", v, res.Volumes)
			}
		})
	}
}

// Heads that run apart from the windows see the whole box: a fixture whose embedding is the sum of each
// stitched probability channel and of each input channel over the box must report the label counts and the
// brain's size, which no single window holds.
func TestHeadsRunOnTheWholeBox(t *testing.T) {
	st := indicatorStudy("heads", func(c int, l uint8) bool {
		return c == 3 || (c == 0 && l == viewer.LabelNCR) || (c == 1 && l == viewer.LabelED) || (c == 2 && l == viewer.LabelET)
	}, 0)
	b := onnxpb.NewBuilder("heads")
	x := onnxVolume(b, "image", 4)
	W := [][]float32{{0, 0, 0, 0}, {20, 0, 0, 0}, {0, 20, 0, 0}, {0, 0, 20, 0}}
	b.OpTo("seg", "Softmax", []string{pointwise(b, x, W, []float32{10, 0, 0, 0})}, onnxpb.IntAttr("axis", 1))
	b.Output("seg", onnxpb.Float32, onnxpb.Symbolic("n"), onnxpb.Fixed(4), onnxpb.Symbolic("d"), onnxpb.Symbolic("h"), onnxpb.Symbolic("w"))
	hi := onnxVolume(b, "volume", 4)
	hp := onnxVolume(b, "volume_probabilities", 4)
	axes := b.Int64("axes", []int64{3}, []int64{2, 3, 4})
	flat := b.Int64("flat", []int64{2}, []int64{1, -1})
	sum := func(v string) string {
		return b.Op("Reshape", []string{b.Op("ReduceSum", []string{v, axes}, onnxpb.IntAttr("keepdims", 1)), flat})
	}
	emb := b.OpTo("embedding", "Concat", []string{sum(hp), sum(hi)}, onnxpb.IntAttr("axis", 1))
	slice := func(from, to int64) string {
		return b.Op("Slice", []string{emb, b.Int64(fmt.Sprint("s", from), []int64{1}, []int64{from}), b.Int64(fmt.Sprint("e", to), []int64{1}, []int64{to}),
			b.Int64(fmt.Sprint("a", from, to), []int64{1}, []int64{1})})
	}
	small := b.Float32("small", []int64{1}, []float32{1e-3})
	b.OpTo("grade", "Softmax", []string{b.Op("Mul", []string{slice(1, 4), small})}, onnxpb.IntAttr("axis", 1))
	b.OpTo("idh", "Softmax", []string{b.Op("Mul", []string{slice(1, 3), small})}, onnxpb.IntAttr("axis", 1))
	b.OpTo("mgmt", "Softmax", []string{b.Op("Mul", []string{slice(2, 4), small})}, onnxpb.IntAttr("axis", 1))
	b.OpTo("risk", "Sigmoid", []string{b.Op("Mul", []string{slice(3, 4), small})})
	for name, n := range map[string]int64{"embedding": 8, "grade": 3, "idh": 2, "mgmt": 2, "risk": 1} {
		b.Output(name, onnxpb.Float32, onnxpb.Fixed(1), onnxpb.Fixed(n))
	}
	classes := []model.Class{{Index: 0, Label: "BG"}, {Index: 1, Label: "NCR"}, {Index: 2, Label: "ED"}, {Index: 3, Label: "ET"}}
	card := segCard("heads", []string{"T1", "T1CE", "T2", "FLAIR"}, model.Preprocessing{Normalisation: model.NormNone, Window: conventionWindow},
		softmaxOutput(4, false, classes...))
	card.Inputs[0].IdleShape = []int64{1, 4, 8, 8, 8}
	for _, in := range []struct{ name, role string }{{"volume", model.RoleHeadsImage}, {"volume_probabilities", model.RoleHeadsProbabilities}} {
		card.Inputs = append(card.Inputs, model.Input{TensorSpec: model.TensorSpec{Name: in.name, DType: "float32", Shape: volumeShape(4),
			ExampleShape: []int64{1, 4, 2, 2, 2}}, Role: in.role, IdleShape: []int64{1, 4, 1, 1, 1}})
	}
	vec := func(n int64) model.Shape { return model.Shape{n1, fixed(n)} }
	card.Outputs = append(card.Outputs,
		model.Output{TensorSpec: model.TensorSpec{Name: "grade", DType: "float32", Shape: vec(3)}, Activation: "softmax", Labels: []string{"G2", "G3", "G4"}},
		model.Output{TensorSpec: model.TensorSpec{Name: "idh", DType: "float32", Shape: vec(2)}, Activation: "softmax", Labels: []string{"Wildtype", "Mutant"}},
		model.Output{TensorSpec: model.TensorSpec{Name: "mgmt", DType: "float32", Shape: vec(2)}, Activation: "softmax", Labels: []string{"Unmethylated", "Methylated"}},
		model.Output{TensorSpec: model.TensorSpec{Name: "risk", DType: "float32", Shape: vec(1)}, Activation: "sigmoid",
			Bands: &model.Bands{Cuts: []float64{0.3, 0.7}, Labels: []string{"Low", "Medium", "High"}}},
		model.Output{TensorSpec: model.TensorSpec{Name: "embedding", DType: "float32", Shape: vec(8)}})
	res, err := m1.Predict(context.Background(), loadFixture(t, b.Graph(), card), m1.Request{Study: st})
	if err != nil {
		t.Fatal(err)
	}
	checkLabels(t, res)
	if res.Preprocessing.Windows < 8 {
		t.Fatalf("%d windows: the fixture must need several", res.Preprocessing.Windows)
	}
	counts := res.Labels.Counts()
	// Brain voxels inside the model grid (the box of the reference series, T1CE, which here shows the oedema).
	pp := res.Preprocessing
	brain := 0
	mg := viewer.Geometry{Size: pp.ModelGridSize, Spacing: pp.ModelSpacingMM, Origin: pp.ModelOriginMM, Direction: viewer.IdentityDirection}
	for k := 0; k < mg.Size[2]; k++ {
		for j := 0; j < mg.Size[1]; j++ {
			for i := 0; i < mg.Size[0]; i++ {
				if inEllipsoid(mg.ToPatient(viewer.Vec3{float64(i), float64(j), float64(k)}), brainCentre, brainRadii) {
					brain++
				}
			}
		}
	}
	e := res.Embedding
	t.Logf("embedding %v; labels %v; brain %d voxels in the model grid %v; grade %+v", e, counts[:4], brain, mg.Size, res.Grade)
	for c := 1; c < 4; c++ {
		if math.Abs(float64(e[c])-float64(counts[c])) > 0.002*float64(counts[c]) || e[3+c] != float32(counts[c]) {
			t.Errorf("class %d: summed probability %v and summed indicator %v; the label map has %d voxels", c, e[c], e[3+c], counts[c])
		}
	}
	if e[7] != float32(brain) {
		t.Errorf("summed FLAIR %v, the model grid holds %d brain voxels", e[7], brain)
	}
	if res.Grade == nil || res.Grade.PredictedClass != "G3" || res.Risk == nil || res.MGMT.PredictedClass != "Unmethylated" {
		t.Errorf("heads %+v %+v %+v: grade should follow the largest class (ED → G3)", res.Grade, res.MGMT, res.Risk)
	}
}

// Cards the pipeline cannot honour are refused with the reason, before any run.
func TestCheckCardRefuses(t *testing.T) {
	classes := []model.Class{{Index: 0, Label: "BG"}, {Index: 1, Label: "NCR"}, {Index: 2, Label: "ED"}, {Index: 3, Label: "ET"}}
	ch := func(k int) *int { return &k }
	good := func() *model.Card {
		return segCard("check", []string{"T1", "T1CE", "T2", "FLAIR"}, model.Preprocessing{Normalisation: model.NormZScoreBrain, Window: conventionWindow},
			softmaxOutput(4, false, slices.Clone(classes)...))
	}
	if err := m1.CheckCard(good()); err != nil {
		t.Fatalf("good card: %v", err)
	}
	tests := map[string]struct {
		spoil func(c *model.Card)
		msg   string
	}{
		"channel twice": {func(c *model.Card) { c.Inputs[0].ChannelOrder = []string{"T1", "T1C", "T1CE", "FLAIR"} }, "channel_order"},
		"channel count": {func(c *model.Card) { c.Inputs[0].ChannelOrder = []string{"T1", "T1CE", "T2"} }, "channel_order"},
		"crop":          {func(c *model.Card) { c.Inputs[0].Preprocessing.Crop = "none" }, "crop"},
		"normalisation": {func(c *model.Card) { c.Inputs[0].Preprocessing.Normalisation = "histogram" }, `normalisation "histogram"`},
		"no window":     {func(c *model.Card) { c.Inputs[0].Preprocessing.Window = nil }, "needs window"},
		"fitted spacing": {func(c *model.Card) {
			p := c.Inputs[0].Preprocessing
			p.Window, p.Size, p.SpacingMM = nil, []int64{64, 64, 64}, []float64{2, 2, 2}
		}, "works on the 1 mm grid"},
		"class label":   {func(c *model.Card) { c.Outputs[0].Classes[2].Label = "CSF" }, `label "CSF"`},
		"class index":   {func(c *model.Card) { c.Outputs[0].Classes[3].Index = 4 }, "outside the 4 channels"},
		"no background": {func(c *model.Card) { c.Outputs[0].Classes = c.Outputs[0].Classes[1:] }, "must include BG"},
		"activation":    {func(c *model.Card) { c.Outputs[0].Activation = "relu" }, `activation "relu"`},
		"sigmoid regions": {func(c *model.Card) {
			c.Outputs[0].Activation, c.Outputs[0].Classes = "sigmoid", nil
			c.Outputs[0].Regions = []model.Region{{Name: "TC", Channel: ch(0), Threshold: 0.5}, {Name: "WT", Channel: ch(1), Threshold: 0.5}}
		}, "exactly the regions TC, WT and ET"},
		"heads without inputs": {func(c *model.Card) {
			vec := func(n int64) model.Shape { return model.Shape{n1, fixed(n)} }
			c.Outputs = append(c.Outputs,
				model.Output{TensorSpec: model.TensorSpec{Name: "grade", DType: "float32", Shape: vec(3)}, Activation: "softmax", Labels: []string{"G2", "G3", "G4"}},
				model.Output{TensorSpec: model.TensorSpec{Name: "idh", DType: "float32", Shape: vec(2)}, Activation: "softmax", Labels: []string{"W", "M"}},
				model.Output{TensorSpec: model.TensorSpec{Name: "mgmt", DType: "float32", Shape: vec(2)}, Activation: "softmax", Labels: []string{"U", "M"}},
				model.Output{TensorSpec: model.TensorSpec{Name: "risk", DType: "float32", Shape: vec(1)}, Activation: "sigmoid",
					Bands: &model.Bands{Cuts: []float64{0.5}, Labels: []string{"Low", "High"}}},
				model.Output{TensorSpec: model.TensorSpec{Name: "embedding", DType: "float32", Shape: vec(8)}})
		}, "cannot see the whole brain"},
		"family": {func(c *model.Card) { c.Family = model.FamilyMG }, "is an MG model"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := good()
			tc.spoil(c)
			err := m1.CheckCard(c)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %v, want one containing %q", err, tc.msg)
			}
		})
	}
}
