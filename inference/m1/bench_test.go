package m1_test

import (
	"context"
	"testing"

	"github.com/neuronova/neuronova/inference"
	"github.com/neuronova/neuronova/inference/internal/testrt"
	"github.com/neuronova/neuronova/inference/m1"
	"github.com/neuronova/neuronova/inference/model"
	"github.com/neuronova/neuronova/inference/ort"
	"github.com/neuronova/neuronova/viewer/demo"
)

// BenchmarkM1DemoStudy runs M1 end to end on the demo study (four 240×240×155 series) with one intra-op thread
// and reports each stage in ms per run, and pre- plus postprocessing as a fraction of the network's time
// (target: at most 0.25).
func BenchmarkM1DemoStudy(b *testing.B) {
	rt := testrt.New(b, ort.WithIntraOpThreads(1))
	ctx := context.Background()
	st := demo.Study()
	mdl, err := rt.LoadFamily(ctx, model.FamilyM1, "")
	if err != nil {
		b.Fatal(err)
	}
	sums := map[string]float64{}
	n := 0
	for b.Loop() {
		res, err := m1.Predict(ctx, mdl, m1.Request{Study: st})
		if err != nil {
			b.Fatal(err)
		}
		for _, t := range res.Timings {
			sums[t.Stage] += t.Milliseconds
		}
		n++
	}
	for _, s := range []string{m1.StageLoad, m1.StagePreprocess, m1.StageInference, m1.StagePostprocess} {
		b.ReportMetric(sums[s]/float64(n), s+"-ms")
	}
	b.ReportMetric((sums[m1.StagePreprocess]+sums[m1.StagePostprocess])/sums[m1.StageInference], "prepost/network")
}

// BenchmarkM1Network is the network alone: one ONNX Runtime run on the card's example input (for a windowed
// model, one window; the heads' inputs at their example shapes), what scripts/bench-m1-torch.sh compares with
// PyTorch.
func BenchmarkM1Network(b *testing.B) {
	rt := testrt.New(b, ort.WithIntraOpThreads(1))
	ctx := context.Background()
	mdl, err := rt.LoadFamily(ctx, model.FamilyM1, "")
	if err != nil {
		b.Fatal(err)
	}
	in := map[string]ort.Tensor{}
	for _, x := range mdl.Card.Inputs {
		shape := inference.ExampleShape(x.TensorSpec)
		n := 1
		for _, d := range shape {
			n *= int(d)
		}
		data := make([]float32, n)
		for i := range data {
			data[i] = float32(i%7) - 3
		}
		in[x.Name] = ort.Tensor{Shape: shape, Data: data}
	}
	for b.Loop() {
		if _, err := mdl.Run(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}
