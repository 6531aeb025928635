package demo

import (
	"context"
	"fmt"

	"github.com/neuronova/neuronova/inference"
	"github.com/neuronova/neuronova/inference/model"
	"github.com/neuronova/neuronova/inference/ort"
	"github.com/neuronova/neuronova/recipes/internal/nn"
)

// buildMM trains MM on the MG model's features (computed by ONNX Runtime from the exported MG file), exports,
// loads and evaluates it, and adds its .onnx and card to art.
func buildMM(ctx context.Context, cfg Config, train, test []Patient, engine *ort.Engine, mg *inference.Model, mgCard, m1Card *model.Card, bankSize int, art *Artifacts) error {
	proteinStats := FeatureStats(proteinNames(), proteinRows(train))

	trainSamples, err := mmSamples(ctx, mg, mgCard, train, proteinStats)
	if err != nil {
		return err
	}
	testSamples, err := mmSamples(ctx, mg, mgCard, test, proteinStats)
	if err != nil {
		return err
	}
	days, events := survivalOf(train)
	recs := make([]bool, len(train))
	for i, p := range train {
		recs[i] = p.Recurrence
	}
	net := TrainMM(trainSamples, days, events, recs, cfg.MM)
	onnxBytes, err := marshal(net.ExportMM(MMCardID, MMVersion))
	if err != nil {
		return err
	}
	file := MMCardID + ".onnx"
	card := mmCard(cfg, proteinStats, artifactFor(file, onnxBytes), mgCard, m1Card, bankSize, net)
	m, err := load(ctx, engine, card, onnxBytes)
	if err != nil {
		return err
	}
	metrics, err := mmEvaluate(ctx, m, test, testSamples)
	if err != nil {
		return err
	}
	card.Evaluation = model.Evaluation{
		Dataset: fmt.Sprintf("held-out synthetic patients from the same generator and seed, run through ONNX Runtime %s on the CPU; gene features from %s %s", engine.ORTVersion(), mgCard.ID, mgCard.Version),
		Samples: len(test),
		Metrics: metrics,
		Caveat: fmt.Sprintf("These figures measure how well the network recovers the synthetic generator's own rules; the MRI "+
			"embeddings are %s %s's on synthetic MRI cases whose phantom rules match each patient's grade and MGMT "+
			"status (test patients draw from cases never used in training). They say nothing about real patients.", m1Card.ID, m1Card.Version),
	}
	cardBytes, err := card.Marshal()
	if err != nil {
		return err
	}
	art.Files[file] = onnxBytes
	art.Files[MMCardID+model.CardSuffix] = cardBytes
	art.report(MMCardID, metrics)
	return nil
}

func mmSamples(ctx context.Context, mg *inference.Model, mgCard *model.Card, ps []Patient, proteinStats []model.Feature) ([]MMSample, error) {
	out, err := runRows(ctx, mg, map[string][][]float64{MGInput: mgInputs(ps, mgCard.Genes, 0, 0)})
	if err != nil {
		return nil, err
	}
	samples := make([]MMSample, len(ps))
	for i, p := range ps {
		prot := make([]float64, len(p.Proteins))
		for j, v := range p.Proteins {
			prot[j] = (v - proteinStats[j].Mean) / proteinStats[j].SD
		}
		gene := make([]float64, MGFeatures)
		for j := range gene {
			gene[j] = float64(out[MGOutFeatures][i*MGFeatures+j])
		}
		samples[i] = MMSample{MRI: p.MRIEmbedding, Gene: gene, Protein: prot, Mask: [MMModalities]float64{1, 1, 1}}
	}
	return samples, nil
}

func mmRun(ctx context.Context, m *inference.Model, samples []MMSample, mask [MMModalities]float64) (map[string][]float32, error) {
	in := map[string][][]float64{}
	for _, s := range samples {
		zero := func(v []float64, keep float64) []float64 {
			if keep == 1 {
				return v
			}
			return make([]float64, len(v))
		}
		in[MMInMRI] = append(in[MMInMRI], zero(s.MRI, mask[0]))
		in[MMInGene] = append(in[MMInGene], zero(s.Gene, mask[1]))
		in[MMInProtein] = append(in[MMInProtein], zero(s.Protein, mask[2]))
		in[MMInMask] = append(in[MMInMask], mask[:])
	}
	return runRows(ctx, m, in)
}

func mmEvaluate(ctx context.Context, m *inference.Model, test []Patient, samples []MMSample) ([]model.Metric, error) {
	days, events := survivalOf(test)
	var metrics, extra []model.Metric
	patterns := []struct {
		name string
		mask [MMModalities]float64
	}{
		{"all three modalities", [3]float64{1, 1, 1}},
		{"MRI missing", [3]float64{0, 1, 1}},
		{"gene missing", [3]float64{1, 0, 1}},
		{"protein missing", [3]float64{1, 1, 0}},
		{"MRI only", [3]float64{1, 0, 0}},
		{"gene only", [3]float64{0, 1, 0}},
		{"protein only", [3]float64{0, 0, 1}},
	}
	for i, pat := range patterns {
		out, err := mmRun(ctx, m, samples, pat.mask)
		if err != nil {
			return nil, err
		}
		metrics = append(metrics, metric("survival C-index, "+pat.name, nn.ConcordanceIndex(column(out[MMOutLogHazard], 1, 0), days, events), ""))
		if i > 0 {
			continue
		}
		recs := make([]bool, len(test))
		truth := make([]float64, len(test))
		for k, p := range test {
			recs[k], truth[k] = p.Recurrence, p.LogHazard
		}
		s12 := column(out[MMOutSurvival12], 1, 0)
		mean12 := 0.0
		for _, v := range s12 {
			mean12 += v
		}
		mean12 /= float64(len(s12))
		groups := map[string]int{}
		bands := model.Bands{Cuts: []float64{0.33, 0.66}, Labels: []string{"Low", "Medium", "High"}}
		for _, r := range column(out[MMOutRisk], 1, 0) {
			groups[bands.Label(r)]++
		}
		extra = append(extra,
			metric("survival C-index of the generator's true log-hazard", nn.ConcordanceIndex(truth, days, events), "the ceiling set by noise and censoring"),
			metric("recurrence AUC, all three modalities", nn.AUC(column(out[MMOutRecurrence], 1, 0), recs), "24-month recurrence"),
			metric("mean predicted 12-month survival", mean12, "all three modalities"),
			metric("Kaplan–Meier 12-month survival", nn.KaplanMeier(days, events, 365.25), "observed, same patients"),
			metric("share in risk group Low", float64(groups["Low"])/float64(len(test)), "risk_score ≤ 0.33"),
			metric("share in risk group High", float64(groups["High"])/float64(len(test)), "risk_score > 0.66"),
		)
	}
	return append(metrics, extra...), nil
}

func mmCard(cfg Config, proteinStats []model.Feature, artifact model.Artifact, mgCard, m1Card *model.Card, bankSize int, net *MMNet) *model.Card {
	n := model.Dim{Param: "N"}
	p := int64(len(proteinStats))
	asIs := &model.Preprocessing{Steps: []string{"the upstream model's output, unchanged", "zeros with mask 0 when the modality is missing"}, Normalisation: model.NormNone}
	return &model.Card{
		Schema:  model.CardSchema,
		ID:      MMCardID,
		Family:  model.FamilyMM,
		Name:    "NeuroNova MM demonstration model (multimodal fusion)",
		Version: MMVersion,
		Status:  model.StatusDemonstration,
		Task: "From an MRI embedding (M1), gene features (MG) and protein levels (RPPA), any of which may be " +
			"missing: survival hazard, risk score and group, 6- and 12-month survival, recurrence, and each " +
			"modality's share of the fused representation.",
		IntendedUse: model.IntendedUse{
			Summary: "Demonstrates NeuroNova's MM pipeline end to end (upstream checks, RPPA alignment by name, " +
				"missing modalities, ONNX Runtime inference, provenance). Its outputs describe synthetic patients " +
				"and carry no clinical meaning.",
			NotForClinicalUse: true,
			Banner:            Banner,
			OutOfScope: []string{"any diagnosis, prognosis or treatment decision",
				"conclusions about real patients"},
		},
		Artifact: artifact,
		Inputs: []model.Input{
			{TensorSpec: model.TensorSpec{Name: MMInMRI, DType: "float32", Shape: model.Shape{n, {Value: MRIEmbeddingSize}},
				ExampleShape: []int64{1, MRIEmbeddingSize}, Description: "M1's 768-value embedding"}, Preprocessing: asIs},
			{TensorSpec: model.TensorSpec{Name: MMInGene, DType: "float32", Shape: model.Shape{n, {Value: MGFeatures}},
				ExampleShape: []int64{1, MGFeatures}, Description: "MG's 64-value feature vector"}, Preprocessing: asIs},
			{TensorSpec: model.TensorSpec{Name: MMInProtein, DType: "float32", Shape: model.Shape{n, {Value: p}},
				ExampleShape: []int64{1, p}, Description: "z-scored RPPA levels in the card's protein order"},
				Preprocessing: &model.Preprocessing{
					Steps: []string{
						"read Protein_Name and Expression",
						"align rows to the card's protein list by name (case-insensitive; a bare antibody name matches 'GENE|antibody' when unique); report missing and unknown proteins",
						"z-score each protein with the card's mean and sd",
						"a missing protein becomes 0 (the training mean); more than half missing is refused",
					},
					Features:           "proteins",
					Normalisation:      model.NormZScoreCard,
					MissingFeature:     "0 after z-scoring (the training mean), listed in the result",
					MaxMissingFraction: 0.5,
				}},
			{TensorSpec: model.TensorSpec{Name: MMInMask, DType: "float32", Shape: model.Shape{n, {Value: MMModalities}},
				ExampleShape: []int64{1, MMModalities}, Description: "1 where the modality is present, 0 where it is missing"},
				ChannelOrder: []string{"mri", "gene", "protein"}},
		},
		Outputs: []model.Output{
			{TensorSpec: model.TensorSpec{Name: MMOutLogHazard, DType: "float32", Shape: model.Shape{n, {Value: 1}},
				Description: "Cox log-hazard relative to the average training patient"}, Activation: "none",
				Transform: "hazard_ratio = exp(value)"},
			{TensorSpec: model.TensorSpec{Name: MMOutRisk, DType: "float32", Shape: model.Shape{n, {Value: 1}},
				Description: "sigmoid of the log-hazard"}, Activation: "sigmoid",
				Bands: &model.Bands{Cuts: []float64{0.33, 0.66}, Labels: []string{"Low", "Medium", "High"}}},
			{TensorSpec: model.TensorSpec{Name: MMOutSurvival6, DType: "float32", Shape: model.Shape{n, {Value: 1}},
				Description: fmt.Sprintf("S(182.6 days) = exp(-H0 · exp(log_hazard)), Breslow baseline H0 = %.6f from the training set", net.H0At6)},
				Activation: "none"},
			{TensorSpec: model.TensorSpec{Name: MMOutSurvival12, DType: "float32", Shape: model.Shape{n, {Value: 1}},
				Description: fmt.Sprintf("S(365.25 days) = exp(-H0 · exp(log_hazard)), Breslow baseline H0 = %.6f from the training set", net.H0At12)},
				Activation: "none"},
			{TensorSpec: model.TensorSpec{Name: MMOutRecurrence, DType: "float32", Shape: model.Shape{n, {Value: 1}},
				Description: "probability of recurrence within 24 months"}, Activation: "sigmoid",
				Bands: &model.Bands{Cuts: []float64{0.5}, Labels: []string{"No_Recurrence", "Recurrence"}}},
			{TensorSpec: model.TensorSpec{Name: MMOutModalityL2, DType: "float32", Shape: model.Shape{n, {Value: MMModalities}},
				Description: "L2 norm of each modality's token (0 when missing); their shares are reported as modality contributions"},
				Activation: "none", Labels: []string{"mri", "gene", "protein"}},
		},
		Proteins: proteinStats,
		Upstream: []model.Upstream{
			{Input: MMInGene, Family: model.FamilyMG, ModelID: mgCard.ID, Version: mgCard.Version, SHA256: mgCard.Artifact.SHA256,
				Note: "trained on this exact MG model's features; features from another MG model are refused"},
			{Input: MMInMRI, Family: model.FamilyM1, ModelID: m1Card.ID, Version: m1Card.Version, SHA256: m1Card.Artifact.SHA256,
				Note: "trained on this exact M1 model's embeddings; embeddings from another M1 model are refused"},
		},
		TrainingData: model.TrainingData{
			Kind:            "synthetic",
			RealPatientData: false,
			Description: "The MG demo's synthetic patients (same generator and seed): gene features computed by the " +
				"exported MG model through ONNX Runtime; RPPA levels shifted by the same latent programmes plus noise; " +
				fmt.Sprintf("MRI embeddings from %s %s run through ONNX Runtime on %d synthetic MRI cases ", m1Card.ID, m1Card.Version, bankSize) +
				"(recipes/m1/train_synth.py bank: each tumour pattern on either side): each patient gets the embedding of a " +
				"case whose phantom rules match its grade (non-enhancing G2, solid or patchy G3, ring G4) and MGMT status (the " +
				"tumour's side); IDH reaches the images only through the grade. Each modality was hidden in 30% of training " +
				"samples (never all three). No real patient data was used.",
			Samples: cfg.TrainSize,
			Seed:    cfg.Seed,
		},
		Evaluation: model.Evaluation{Dataset: "none yet (filled in after the ONNX Runtime evaluation)"},
		Limitations: []string{
			"Trained and evaluated on synthetic data only: it has learnt the generator's rules, not patient outcomes.",
			"The MRI branch was trained on simulated embeddings; real M1 embeddings follow another distribution, so results with an MRI input are not meaningful until MM is retrained on M1 outputs.",
			"The seed system's TCGA figures (C-index 0.610) do not apply to this model.",
			"Protein names follow the TCGA RPPA 'GENE|Antibody' convention; the list is a demonstration panel, not a specific RPPA release.",
			"Survival probabilities use a baseline hazard estimated on synthetic follow-up.",
		},
		Recipe: &model.Recipe{
			Command: cfg.Command, Seed: cfg.Seed, Iterations: cfg.MM.Steps,
			Notes: fmt.Sprintf("Go, hand-written backpropagation, Adam (lr %g, weight decay %g), batch %d, %d steps, "+
				"Cox partial likelihood + logistic loss; evaluation figures come from ONNX Runtime runs of the exported "+
				"file. Byte-identical on re-run (linux/amd64).",
				cfg.MM.LR, cfg.MM.WeightDecay, cfg.MM.Batch, cfg.MM.Steps),
		},
	}
}

func proteinNames() []string {
	names := make([]string, len(ProteinList))
	for i, p := range ProteinList {
		names[i] = p.Name
	}
	return names
}

func proteinRows(ps []Patient) [][]float64 {
	rows := make([][]float64, len(ps))
	for i, p := range ps {
		rows[i] = p.Proteins
	}
	return rows
}
