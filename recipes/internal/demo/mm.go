package demo

import (
	"math"

	"github.com/neuronova/neuronova/inference/onnxpb"
	"github.com/neuronova/neuronova/recipes/internal/nn"
)

// MM network sizes.
const (
	MMTokenMRI     = 32
	MMTokenGene    = 16
	MMTokenProtein = 16
	MMHidden       = 32
	MMModalities   = 3 // mri, gene, protein: the order of the mask columns
)

// MMNet is the demo MM network: one tanh projection per modality, multiplied by its mask bit (a missing
// modality is a zero token), concatenated with the mask, one hidden layer, then a log-hazard and a recurrence head.
type MMNet struct {
	MRI, Gene, Protein *nn.Dense
	Hidden             *nn.Dense
	Hazard, Rec        *nn.Dense
	HazardOffset       float64 // training mean of the log-hazard, subtracted so that 0 is the average patient
	H0At6, H0At12      float64 // Breslow baseline cumulative hazard at 182.6 and 365.25 days
}

// MMSample is one training or evaluation row.
type MMSample struct {
	MRI, Gene, Protein []float64
	Mask               [MMModalities]float64
}

// MMTraining fixes a training run.
type MMTraining struct {
	Seed            uint64
	Steps           int
	Batch           int
	LR              float64
	WeightDecay     float64
	ModalityDropout float64 // chance of hiding each modality in a training sample (at least one is kept)
}

type mmForward struct {
	n                    int
	mri, gene, prot      []float64 // inputs
	pm, pg, pp           []float64 // tanh projections before masking
	mask                 []float64 // n×3
	concat, h            []float64
	logHazard, recLogits []float64
}

func (m *MMNet) forward(s []MMSample) *mmForward {
	n := len(s)
	f := &mmForward{n: n}
	for _, x := range s {
		f.mri = append(f.mri, x.MRI...)
		f.gene = append(f.gene, x.Gene...)
		f.prot = append(f.prot, x.Protein...)
		f.mask = append(f.mask, x.Mask[:]...)
	}
	f.pm = nn.Tanh(m.MRI.Forward(f.mri, n))
	f.pg = nn.Tanh(m.Gene.Forward(f.gene, n))
	f.pp = nn.Tanh(m.Protein.Forward(f.prot, n))
	width := MMTokenMRI + MMTokenGene + MMTokenProtein + MMModalities
	f.concat = make([]float64, 0, n*width)
	for r := 0; r < n; r++ {
		mk := f.mask[r*MMModalities : (r+1)*MMModalities]
		for _, v := range f.pm[r*MMTokenMRI : (r+1)*MMTokenMRI] {
			f.concat = append(f.concat, v*mk[0])
		}
		for _, v := range f.pg[r*MMTokenGene : (r+1)*MMTokenGene] {
			f.concat = append(f.concat, v*mk[1])
		}
		for _, v := range f.pp[r*MMTokenProtein : (r+1)*MMTokenProtein] {
			f.concat = append(f.concat, v*mk[2])
		}
		f.concat = append(f.concat, mk...)
	}
	f.h = nn.Tanh(m.Hidden.Forward(f.concat, n))
	f.logHazard = m.Hazard.Forward(f.h, n)
	f.recLogits = m.Rec.Forward(f.h, n)
	return f
}

// TrainMM trains the MM network.
func TrainMM(samples []MMSample, days []float64, events, recurrence []bool, cfg MMTraining) *MMNet {
	rng := nn.NewRNG(cfg.Seed)
	concatWidth := MMTokenMRI + MMTokenGene + MMTokenProtein + MMModalities
	m := &MMNet{
		MRI:     nn.NewDense(len(samples[0].MRI), MMTokenMRI, rng),
		Gene:    nn.NewDense(len(samples[0].Gene), MMTokenGene, rng),
		Protein: nn.NewDense(len(samples[0].Protein), MMTokenProtein, rng),
		Hidden:  nn.NewDense(concatWidth, MMHidden, rng),
		Hazard:  nn.NewDense(MMHidden, 1, rng),
		Rec:     nn.NewDense(MMHidden, 1, rng),
	}
	opt := nn.NewAdam(cfg.LR, cfg.WeightDecay)
	batches := nn.NewBatches(len(samples), cfg.Batch, rng)
	for step := 0; step < cfg.Steps; step++ {
		idx := batches.Next()
		batch := make([]MMSample, len(idx))
		times, ev, rec := make([]float64, len(idx)), make([]bool, len(idx)), make([]bool, len(idx))
		for r, i := range idx {
			batch[r] = samples[i]
			for {
				kept := 0
				for k := range batch[r].Mask {
					batch[r].Mask[k] = 1
					if rng.Bernoulli(cfg.ModalityDropout) {
						batch[r].Mask[k] = 0
					} else {
						kept++
					}
				}
				if kept > 0 {
					break
				}
			}
			times[r], ev[r], rec[r] = days[i], events[i], recurrence[i]
		}
		f := m.forward(batch)
		n := f.n
		_, gHaz := nn.CoxPartialLikelihood(f.logHazard, times, ev)
		_, gRec := nn.BinaryCrossEntropy(f.recLogits, rec)
		gH := m.Hazard.Backward(f.h, gHaz, n)
		add(gH, m.Rec.Backward(f.h, gRec, n))
		gConcat := m.Hidden.Backward(f.concat, nn.TanhBackward(f.h, gH), n)
		gPm := make([]float64, n*MMTokenMRI)
		gPg := make([]float64, n*MMTokenGene)
		gPp := make([]float64, n*MMTokenProtein)
		for r := 0; r < n; r++ {
			row := gConcat[r*concatWidth:]
			mk := f.mask[r*MMModalities:]
			for j := 0; j < MMTokenMRI; j++ {
				gPm[r*MMTokenMRI+j] = row[j] * mk[0]
			}
			for j := 0; j < MMTokenGene; j++ {
				gPg[r*MMTokenGene+j] = row[MMTokenMRI+j] * mk[1]
			}
			for j := 0; j < MMTokenProtein; j++ {
				gPp[r*MMTokenProtein+j] = row[MMTokenMRI+MMTokenGene+j] * mk[2]
			}
		}
		m.MRI.Backward(f.mri, nn.TanhBackward(f.pm, gPm), n)
		m.Gene.Backward(f.gene, nn.TanhBackward(f.pg, gPg), n)
		m.Protein.Backward(f.prot, nn.TanhBackward(f.pp, gPp), n)
		opt.Step(m.MRI, m.Gene, m.Protein, m.Hidden, m.Hazard, m.Rec)
	}

	// Centre the log-hazard on the training mean (all modalities present), then estimate the baseline.
	full := make([]MMSample, len(samples))
	for i, s := range samples {
		full[i] = s
		full[i].Mask = [MMModalities]float64{1, 1, 1}
	}
	lh := m.forward(full).logHazard
	mean := 0.0
	for _, v := range lh {
		mean += v
	}
	m.HazardOffset = mean / float64(len(lh))
	for i := range lh {
		lh[i] -= m.HazardOffset
	}
	m.H0At6 = BreslowCumulativeHazard(lh, days, events, 182.625)
	m.H0At12 = BreslowCumulativeHazard(lh, days, events, 365.25)
	return m
}

// BreslowCumulativeHazard is the baseline cumulative hazard at time t: Σ over event times ≤ t of
// 1 / Σ_{j at risk} exp(r_j).
func BreslowCumulativeHazard(r, days []float64, events []bool, t float64) float64 {
	h := 0.0
	for i := range r {
		if !events[i] || days[i] > t {
			continue
		}
		s := 0.0
		for j := range r {
			if days[j] >= days[i] {
				s += math.Exp(r[j])
			}
		}
		h += 1 / s
	}
	return h
}

// MM graph names.
const (
	MMInMRI         = "mri_embedding"
	MMInGene        = "gene_features"
	MMInProtein     = "protein_z"
	MMInMask        = "modality_mask"
	MMOutLogHazard  = "log_hazard"
	MMOutRisk       = "risk_score"
	MMOutSurvival6  = "survival_6m"
	MMOutSurvival12 = "survival_12m"
	MMOutRecurrence = "recurrence"
	MMOutModalityL2 = "modality_norms"
)

// ExportMM writes the network as an ONNX graph; the baseline hazard is folded in, so the survival outputs are
// S(t) = exp(−H0(t)·exp(log_hazard)).
func (m *MMNet) ExportMM(cardID, version string) onnxpb.Model {
	b := onnxpb.NewBuilder("mm_demo")
	n := onnxpb.Symbolic("N")
	mri := b.Input(MMInMRI, onnxpb.Float32, n, onnxpb.Fixed(int64(m.MRI.In)))
	gene := b.Input(MMInGene, onnxpb.Float32, n, onnxpb.Fixed(int64(m.Gene.In)))
	prot := b.Input(MMInProtein, onnxpb.Float32, n, onnxpb.Fixed(int64(m.Protein.In)))
	mask := b.Input(MMInMask, onnxpb.Float32, n, onnxpb.Fixed(MMModalities))
	axes := b.Int64("axis1", []int64{1}, []int64{1})
	token := func(name string, x string, d *nn.Dense, column int64) string {
		p := b.Op("Tanh", []string{b.Op("Gemm", []string{x,
			b.Float32(name+".weight", []int64{int64(d.In), int64(d.Out)}, f32(d.W)),
			b.Float32(name+".bias", []int64{int64(d.Out)}, f32(d.B))})})
		bit := b.Op("Slice", []string{mask,
			b.Int64(name+".mask_start", []int64{1}, []int64{column}),
			b.Int64(name+".mask_end", []int64{1}, []int64{column + 1}), axes})
		return b.Op("Mul", []string{p, bit})
	}
	tm := token("mri", mri, m.MRI, 0)
	tg := token("gene", gene, m.Gene, 1)
	tp := token("protein", prot, m.Protein, 2)
	concat := b.Op("Concat", []string{tm, tg, tp, mask}, onnxpb.IntAttr("axis", 1))
	h := b.Op("Tanh", []string{b.Op("Gemm", []string{concat,
		b.Float32("hidden.weight", []int64{int64(m.Hidden.In), MMHidden}, f32(m.Hidden.W)),
		b.Float32("hidden.bias", []int64{MMHidden}, f32(m.Hidden.B))})})
	hazBias := []float64{m.Hazard.B[0] - m.HazardOffset}
	lh := b.OpTo(MMOutLogHazard, "Gemm", []string{h,
		b.Float32("hazard.weight", []int64{MMHidden, 1}, f32(m.Hazard.W)),
		b.Float32("hazard.bias", []int64{1}, f32(hazBias))})
	b.OpTo(MMOutRisk, "Sigmoid", []string{lh})
	hr := b.Op("Exp", []string{lh})
	b.OpTo(MMOutSurvival6, "Exp", []string{b.Op("Neg", []string{b.Op("Mul", []string{hr, b.Float32("h0_6m", nil, []float32{float32(m.H0At6)})})})})
	b.OpTo(MMOutSurvival12, "Exp", []string{b.Op("Neg", []string{b.Op("Mul", []string{hr, b.Float32("h0_12m", nil, []float32{float32(m.H0At12)})})})})
	b.OpTo(MMOutRecurrence, "Sigmoid", []string{b.Op("Gemm", []string{h,
		b.Float32("recurrence.weight", []int64{MMHidden, 1}, f32(m.Rec.W)),
		b.Float32("recurrence.bias", []int64{1}, f32(m.Rec.B))})})
	norm := func(t string) string {
		return b.Op("ReduceL2", []string{t}, onnxpb.IntsAttr("axes", 1), onnxpb.IntAttr("keepdims", 1))
	}
	b.OpTo(MMOutModalityL2, "Concat", []string{norm(tm), norm(tg), norm(tp)}, onnxpb.IntAttr("axis", 1))

	for _, out := range []string{MMOutLogHazard, MMOutRisk, MMOutSurvival6, MMOutSurvival12, MMOutRecurrence} {
		b.Output(out, onnxpb.Float32, n, onnxpb.Fixed(1))
	}
	b.Output(MMOutModalityL2, onnxpb.Float32, n, onnxpb.Fixed(MMModalities))
	return demoModel("MM", cardID, version, b)
}
