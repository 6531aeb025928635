package demo

import (
	"math"

	"github.com/neuronova/neuronova/inference/model"
	"github.com/neuronova/neuronova/inference/onnxpb"
	"github.com/neuronova/neuronova/recipes/internal/nn"
)

// MG network sizes.
const (
	MGHidden   = 64
	MGFeatures = 64
	mgGrades   = 3
)

// MGNet is the demo MG network: z-scored genes → 64 → 64 features (tanh) → risk, grade, survival, recurrence.
type MGNet struct {
	L1, L2                 *nn.Dense
	Risk, Grade, Surv, Rec *nn.Dense
	SurvMean, SurvSD       float64 // the survival head predicts (log1p(days) − SurvMean) / SurvSD
	RiskOffset             float64 // subtracted from the risk output (training median), so 0 is the median
}

// MGTraining fixes a training run.
type MGTraining struct {
	Seed        uint64
	Steps       int
	Batch       int
	LR          float64
	WeightDecay float64
	GeneDropout float64 // share of genes set to the mean (z = 0) per sample, so that missing genes are tolerated
}

// mgForward holds one forward pass.
type mgForward struct {
	n                              int
	z, h1, feat                    []float64
	risk, gradeLogits, surv, recLg []float64
}

func (m *MGNet) forward(z []float64, n int) *mgForward {
	f := &mgForward{n: n, z: z}
	f.h1 = nn.Tanh(m.L1.Forward(z, n))
	f.feat = nn.Tanh(m.L2.Forward(f.h1, n))
	f.risk = m.Risk.Forward(f.feat, n)
	f.gradeLogits = m.Grade.Forward(f.feat, n)
	f.surv = m.Surv.Forward(f.feat, n)
	f.recLg = m.Rec.Forward(f.feat, n)
	return f
}

// ZScoreGenes turns log2 expression into the model input with the given statistics.
func ZScoreGenes(log2 []float64, stats []model.Feature) []float64 {
	z := make([]float64, len(log2))
	for i, v := range log2 {
		z[i] = (v - stats[i].Mean) / stats[i].SD
	}
	return z
}

// FeatureStats computes per-column means and SDs of rows (the training statistics stored in the card).
func FeatureStats(names []string, rows [][]float64) []model.Feature {
	out := make([]model.Feature, len(names))
	for j, name := range names {
		mean := 0.0
		for _, r := range rows {
			mean += r[j]
		}
		mean /= float64(len(rows))
		v := 0.0
		for _, r := range rows {
			v += (r[j] - mean) * (r[j] - mean)
		}
		sd := math.Sqrt(v / float64(len(rows)-1))
		out[j] = model.Feature{Symbol: name, Mean: round6(mean), SD: round6(math.Max(sd, 1e-3))}
	}
	return out
}

// round6 keeps card statistics short and exactly reproducible in JSON.
func round6(v float64) float64 { return math.Round(v*1e6) / 1e6 }

// TrainMG trains the MG network on patients whose genes are z-scored with stats.
func TrainMG(train []Patient, stats []model.Feature, cfg MGTraining) *MGNet {
	rng := nn.NewRNG(cfg.Seed)
	g := len(stats)
	m := &MGNet{
		L1: nn.NewDense(g, MGHidden, rng), L2: nn.NewDense(MGHidden, MGFeatures, rng),
		Risk: nn.NewDense(MGFeatures, 1, rng), Grade: nn.NewDense(MGFeatures, mgGrades, rng),
		Surv: nn.NewDense(MGFeatures, 1, rng), Rec: nn.NewDense(MGFeatures, 1, rng),
	}
	var logDays []float64
	for _, p := range train {
		if p.Event {
			logDays = append(logDays, math.Log1p(p.Days))
		}
	}
	m.SurvMean = nn.Median(logDays)
	m.SurvSD = math.Max(nn.Quantile(logDays, 0.84)-nn.Quantile(logDays, 0.16), 1e-3) / 2

	z := make([][]float64, len(train))
	for i, p := range train {
		z[i] = ZScoreGenes(p.GeneLog2, stats)
	}
	opt := nn.NewAdam(cfg.LR, cfg.WeightDecay)
	batches := nn.NewBatches(len(train), cfg.Batch, rng)
	for step := 0; step < cfg.Steps; step++ {
		batch := batches.Next()
		n := len(batch)
		x := make([]float64, 0, n*g)
		times, survT := make([]float64, n), make([]float64, n)
		events, recs := make([]bool, n), make([]bool, n)
		grades := make([]int, n)
		for r, i := range batch {
			for _, v := range z[i] {
				if rng.Bernoulli(cfg.GeneDropout) {
					v = 0
				}
				x = append(x, v)
			}
			p := train[i]
			times[r], events[r], recs[r], grades[r] = p.Days, p.Event, p.Recurrence, p.Grade-2
			survT[r] = (math.Log1p(p.Days) - m.SurvMean) / m.SurvSD
		}
		f := m.forward(x, n)
		_, gRisk := nn.CoxPartialLikelihood(f.risk, times, events)
		_, gGrade := nn.SoftmaxCrossEntropy(f.gradeLogits, grades, n, mgGrades)
		_, gSurv := nn.MaskedSquaredError(f.surv, survT, events)
		_, gRec := nn.BinaryCrossEntropy(f.recLg, recs)
		scale(gSurv, 0.5)
		gFeat := m.Risk.Backward(f.feat, gRisk, n)
		add(gFeat, m.Grade.Backward(f.feat, gGrade, n))
		add(gFeat, m.Surv.Backward(f.feat, gSurv, n))
		add(gFeat, m.Rec.Backward(f.feat, gRec, n))
		gH1 := m.L2.Backward(f.h1, nn.TanhBackward(f.feat, gFeat), n)
		m.L1.Backward(x, nn.TanhBackward(f.h1, gH1), n)
		opt.Step(m.L1, m.L2, m.Risk, m.Grade, m.Surv, m.Rec)
	}
	// Centre the risk output on the training median.
	all := make([]float64, 0, len(z)*g)
	for _, row := range z {
		all = append(all, row...)
	}
	m.RiskOffset = nn.Median(m.forward(all, len(z)).risk)
	return m
}

func scale(v []float64, k float64) {
	for i := range v {
		v[i] *= k
	}
}

func add(dst, src []float64) {
	for i := range dst {
		dst[i] += src[i]
	}
}

func f32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

// MG graph names.
const (
	MGInput          = "expression_z"
	MGOutFeatures    = "features"
	MGOutRisk        = "risk"
	MGOutGrade       = "grade"
	MGOutSurvival    = "survival_log_days"
	MGOutRecurrence  = "recurrence"
	MGOutAttribution = "risk_attribution"
)

// Opset and IR version of the graphs the recipes write.
const (
	graphOpset     = 17
	graphIRVersion = 8
)

// ExportMG writes the network as an ONNX graph. The survival head's normalisation and the risk offset are folded
// into the last layers; risk_attribution is gradient × input of the risk output, computed in the graph.
func (m *MGNet) ExportMG(cardID, version string) onnxpb.Model {
	g := int64(m.L1.In)
	b := onnxpb.NewBuilder("mg_demo")
	n := onnxpb.Symbolic("N")
	z := b.Input(MGInput, onnxpb.Float32, n, onnxpb.Fixed(g))
	w1 := b.Float32("l1.weight", []int64{g, MGHidden}, f32(m.L1.W))
	h1 := b.Op("Tanh", []string{b.Op("Gemm", []string{z, w1, b.Float32("l1.bias", []int64{MGHidden}, f32(m.L1.B))})})
	w2 := b.Float32("l2.weight", []int64{MGHidden, MGFeatures}, f32(m.L2.W))
	feat := b.OpTo(MGOutFeatures, "Tanh", []string{b.Op("Gemm", []string{h1, w2, b.Float32("l2.bias", []int64{MGFeatures}, f32(m.L2.B))})})

	head := func(name string, d *nn.Dense, wScale, bShift float64) string {
		w := make([]float64, len(d.W))
		for i, v := range d.W {
			w[i] = v * wScale
		}
		bias := make([]float64, len(d.B))
		for i, v := range d.B {
			bias[i] = v*wScale + bShift
		}
		return b.Op("Gemm", []string{feat,
			b.Float32(name+".weight", []int64{MGFeatures, int64(d.Out)}, f32(w)),
			b.Float32(name+".bias", []int64{int64(d.Out)}, f32(bias))})
	}
	b.OpTo(MGOutRisk, "Identity", []string{head("risk", m.Risk, 1, -m.RiskOffset)})
	b.OpTo(MGOutGrade, "Softmax", []string{head("grade", m.Grade, 1, 0)}, onnxpb.IntAttr("axis", 1))
	b.OpTo(MGOutSurvival, "Identity", []string{head("survival", m.Surv, m.SurvSD, m.SurvMean)})
	b.OpTo(MGOutRecurrence, "Sigmoid", []string{head("recurrence", m.Rec, 1, 0)})

	// d risk / d z = W1 · ((1 − h1²) ⊙ (W2 · ((1 − f²) ⊙ w_risk))), then ⊙ z.
	one := b.Float32("one", nil, []float32{1})
	wRisk := b.Float32("risk.weight_row", []int64{MGFeatures}, f32(m.Risk.W))
	gFeatPre := b.Op("Mul", []string{b.Op("Sub", []string{one, b.Op("Mul", []string{feat, feat})}), wRisk})
	gH1 := b.Op("Gemm", []string{gFeatPre, w2}, onnxpb.IntAttr("transB", 1))
	gH1Pre := b.Op("Mul", []string{gH1, b.Op("Sub", []string{one, b.Op("Mul", []string{h1, h1})})})
	gZ := b.Op("Gemm", []string{gH1Pre, w1}, onnxpb.IntAttr("transB", 1))
	b.OpTo(MGOutAttribution, "Mul", []string{gZ, z})

	b.Output(MGOutFeatures, onnxpb.Float32, n, onnxpb.Fixed(MGFeatures))
	b.Output(MGOutRisk, onnxpb.Float32, n, onnxpb.Fixed(1))
	b.Output(MGOutGrade, onnxpb.Float32, n, onnxpb.Fixed(mgGrades))
	b.Output(MGOutSurvival, onnxpb.Float32, n, onnxpb.Fixed(1))
	b.Output(MGOutRecurrence, onnxpb.Float32, n, onnxpb.Fixed(1))
	b.Output(MGOutAttribution, onnxpb.Float32, n, onnxpb.Fixed(g))
	return demoModel("MG", cardID, version, b)
}

// demoModel is the graph b as the ONNX model of demonstration model family (MG, MM) cardID, version version.
func demoModel(family, cardID, version string, b *onnxpb.Builder) onnxpb.Model {
	return onnxpb.Model{
		IRVersion:       graphIRVersion,
		Opsets:          []onnxpb.OpsetID{{Version: graphOpset}},
		ProducerName:    Producer,
		ProducerVersion: ProducerVersion,
		ModelVersion:    1,
		DocString:       "NeuroNova " + family + " demonstration model " + version + ": trained on synthetic data; not for clinical use.",
		Metadata:        []onnxpb.KeyValue{{Key: "card_id", Value: cardID}, {Key: "intended_use", Value: "demonstration only; not for clinical use"}},
		Graph:           b.Graph(),
	}
}

// Producer identifies the recipes in the ONNX files they write.
const (
	Producer        = "neuronova-recipes"
	ProducerVersion = "1"
)
