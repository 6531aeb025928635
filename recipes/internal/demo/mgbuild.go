package demo

import (
	"context"
	"fmt"
	"math"

	"github.com/neuronova/neuronova/inference"
	"github.com/neuronova/neuronova/inference/model"
	"github.com/neuronova/neuronova/inference/ort"
	"github.com/neuronova/neuronova/recipes/internal/nn"
)

// The TMZ rule of the MG card: the seed's rule, with z from the card's MGMT statistics.
var tmzRule = model.Rule{
	Name:    "tmz_response",
	Feature: "MGMT",
	Formula: "p_methylated = 1 / (1 + exp(z_MGMT)), z_MGMT = (log2(MGMT + 1) - mean) / sd with the card's MGMT statistics",
	Bands:   model.Bands{Cuts: []float64{0.4, 0.6}, Labels: []string{"Unmethylated", "Intermediate", "Methylated"}},
	Interpretations: []string{"Likely resistant to temozolomide", "Uncertain",
		"Likely responsive to temozolomide"},
	Description: "Low MGMT expression is read as promoter methylation, which predicts temozolomide benefit. " +
		"Rule-based, not a network output; Unknown when MGMT is missing from the input. Confidence = |p - 0.5| × 2.",
}

// buildMG trains, exports, loads and evaluates MG, and adds its .onnx and card to art.
func buildMG(ctx context.Context, cfg Config, train, test []Patient, engine *ort.Engine, art *Artifacts) (*inference.Model, *model.Card, error) {
	stats := mgStats(train)
	net := TrainMG(train, stats, cfg.MG)
	onnxBytes, err := marshal(net.ExportMG(MGCardID, MGVersion))
	if err != nil {
		return nil, nil, err
	}
	file := MGCardID + ".onnx"
	// The risk bands are the training tertiles of the exported model's own output: load with provisional bands,
	// measure, then write the card (the bands are not part of the .onnx, so its sha256 does not change).
	card := mgCard(cfg, stats, artifactFor(file, onnxBytes), []float64{-1, 1})
	m, err := load(ctx, engine, card, onnxBytes)
	if err != nil {
		return nil, nil, err
	}
	trainOut, err := runRows(ctx, m, map[string][][]float64{MGInput: mgInputs(train, stats, 0, 0)})
	if err != nil {
		return nil, nil, err
	}
	trainRisk := column(trainOut[MGOutRisk], 1, 0)
	card.Outputs[1].Bands.Cuts = []float64{round6(nn.Quantile(trainRisk, 1.0/3)), round6(nn.Quantile(trainRisk, 2.0/3))}

	metrics, err := mgEvaluate(ctx, m, test, stats)
	if err != nil {
		return nil, nil, err
	}
	card.Evaluation = model.Evaluation{
		Dataset: fmt.Sprintf("held-out synthetic patients from the same generator and seed, run through ONNX Runtime %s on the CPU", engine.ORTVersion()),
		Samples: len(test),
		Metrics: metrics,
		Caveat: "These figures measure how well the network recovers the synthetic generator's own rules. They say " +
			"nothing about real tumours.",
	}
	cardBytes, err := card.Marshal()
	if err != nil {
		return nil, nil, err
	}
	art.Files[file] = onnxBytes
	art.Files[MGCardID+model.CardSuffix] = cardBytes
	art.report(MGCardID, metrics)
	return m, card, nil
}

// mgStats are the card's gene statistics, from the training cohort.
func mgStats(train []Patient) []model.Feature {
	names := make([]string, len(GeneList))
	for i, g := range GeneList {
		names[i] = g.Symbol
	}
	rows := make([][]float64, len(train))
	for i, p := range train {
		rows[i] = p.GeneLog2
	}
	return FeatureStats(names, rows)
}

func mgCard(cfg Config, stats []model.Feature, artifact model.Artifact, bands []float64) *model.Card {
	g := int64(len(stats))
	n := model.Dim{Param: "N"}
	return &model.Card{
		Schema:  model.CardSchema,
		ID:      MGCardID,
		Family:  model.FamilyMG,
		Name:    "NeuroNova MG demonstration model (gene expression)",
		Version: MGVersion,
		Status:  model.StatusDemonstration,
		Task: "From one tumour's gene-expression profile: survival risk, WHO grade (G2/G3/G4), survival time, " +
			"recurrence within 24 months, per-gene attributions and a 64-value feature vector for MM; temozolomide " +
			"response by a stated MGMT rule.",
		IntendedUse: model.IntendedUse{
			Summary: "Demonstrates NeuroNova's MG pipeline end to end (CSV parsing, alignment by gene name, " +
				"normalisation with stored statistics, ONNX Runtime inference, provenance). Its outputs describe " +
				"synthetic patients and carry no clinical meaning.",
			NotForClinicalUse: true,
			Banner:            Banner,
			OutOfScope: []string{"any diagnosis, prognosis or treatment decision",
				"conclusions about real tumours or real gene-expression data"},
		},
		Artifact: artifact,
		Inputs: []model.Input{{
			TensorSpec: model.TensorSpec{Name: MGInput, DType: "float32", Shape: model.Shape{n, {Value: g}},
				ExampleShape: []int64{1, g},
				Description:  "z-scored log2 expression, one column per gene of the card's gene list, in that order"},
			Preprocessing: &model.Preprocessing{
				Steps: []string{
					"read Hugo_Symbol and Expression (or the two columns gene,value); Entrez_Gene_Id is ignored",
					"align rows to the card's gene list by symbol (case-insensitive; 'SYMBOL|ENTREZ' is cut at '|'); report missing and unknown genes",
					"if the largest value exceeds 100, take log2(x + 1) of every value",
					"z-score each gene with the card's mean and sd (training statistics, not per sample)",
					"a missing gene becomes 0 (the training mean); more than half missing is refused",
				},
				Features:           "genes",
				Normalisation:      model.NormZScoreCard,
				Log2IfMaxOver:      100,
				LogOffset:          1,
				MissingFeature:     "0 after z-scoring (the training mean), listed in the result",
				MaxMissingFraction: 0.5,
			},
		}},
		Outputs: []model.Output{
			{TensorSpec: model.TensorSpec{Name: MGOutFeatures, DType: "float32", Shape: model.Shape{n, {Value: MGFeatures}},
				Description: "64-value gene feature vector (the last hidden layer), consumed by MM"}, Activation: "tanh"},
			{TensorSpec: model.TensorSpec{Name: MGOutRisk, DType: "float32", Shape: model.Shape{n, {Value: 1}},
				Description: "Cox log-risk relative to the training median (0 = median; higher = shorter survival)"},
				Activation: "none",
				Bands:      &model.Bands{Cuts: bands, Labels: []string{"Low", "Medium", "High"}}},
			{TensorSpec: model.TensorSpec{Name: MGOutGrade, DType: "float32", Shape: model.Shape{n, {Value: 3}},
				Description: "WHO grade probabilities"}, Activation: "softmax", Labels: []string{"G2", "G3", "G4"}},
			{TensorSpec: model.TensorSpec{Name: MGOutSurvival, DType: "float32", Shape: model.Shape{n, {Value: 1}},
				Description: "predicted survival time as log(1 + days)"}, Activation: "none", Unit: "log(1+days)",
				Transform: "days = expm1(value); months = days / 30.44"},
			{TensorSpec: model.TensorSpec{Name: MGOutRecurrence, DType: "float32", Shape: model.Shape{n, {Value: 1}},
				Description: "probability of recurrence within 24 months"}, Activation: "sigmoid",
				Bands: &model.Bands{Cuts: []float64{0.5}, Labels: []string{"No_Recurrence", "Recurrence"}}},
			{TensorSpec: model.TensorSpec{Name: MGOutAttribution, DType: "float32", Shape: model.Shape{n, {Value: g}},
				Description: "gradient × input of the risk output for each gene, in the card's gene order; the top genes are the largest in magnitude"},
				Activation: "none"},
		},
		Genes: stats,
		Rules: []model.Rule{tmzRule},
		TrainingData: model.TrainingData{
			Kind:            "synthetic",
			RealPatientData: false,
			Description: "Synthetic patients from the recipe's generator (recipes/internal/demo/synth.go): " +
				"grade, IDH and MGMT status drawn at random; proliferation, hypoxia, mesenchymal, immune, proneural and " +
				"neuronal programmes, EGFR amplification, CDKN2A/B deletion, PTEN loss and IGFBP2 gain shift the log2 " +
				"expression of the genes assigned to them (an assumption of this generator, not a biological claim); " +
				"exponential survival from a stated log-hazard with uniform censoring; recurrence from a stated logit. " +
				"No real patient data was used.",
			Samples: cfg.TrainSize,
			Seed:    cfg.Seed,
		},
		Evaluation: model.Evaluation{Dataset: "none yet (filled in after the ONNX Runtime evaluation)"},
		Limitations: []string{
			"Trained and evaluated on synthetic data only: it has learnt the generator's rules, not tumour biology.",
			"The seed system's CGGA figures (grade accuracy 62.3%, C-index 0.761) do not apply to this model.",
			"The gene list is a demonstration list of " + fmt.Sprint(len(stats)) + " genes, not the seed's 2,000-gene list.",
			"Expression scale is assumed to be RSEM-like counts (log2-transformed when the maximum exceeds 100) or already log2; other normalisations will be mis-scaled.",
			"The TMZ rule reads MGMT expression, a weak proxy for promoter methylation.",
			"IDH1 mutation status does not change expression in the generator and cannot be read from this model.",
		},
		Recipe: &model.Recipe{
			Command: cfg.Command, Seed: cfg.Seed, Iterations: cfg.MG.Steps,
			Notes: fmt.Sprintf("Go, hand-written backpropagation, Adam (lr %g, weight decay %g), batch %d, %d steps, "+
				"%.0f%% of genes set to the mean per training sample; evaluation figures come from ONNX Runtime runs of "+
				"the exported file. Byte-identical on re-run (linux/amd64).",
				cfg.MG.LR, cfg.MG.WeightDecay, cfg.MG.Batch, cfg.MG.Steps, 100*cfg.MG.GeneDropout),
		},
	}
}

// mgInputs z-scores a cohort; hide drops a share of genes (set to 0) with a fixed generator.
func mgInputs(ps []Patient, stats []model.Feature, hide float64, seed uint64) [][]float64 {
	rng := nn.NewRNG(seed)
	rows := make([][]float64, len(ps))
	for i, p := range ps {
		rows[i] = ZScoreGenes(p.GeneLog2, stats)
		for j := range rows[i] {
			if hide > 0 && rng.Bernoulli(hide) {
				rows[i][j] = 0
			}
		}
	}
	return rows
}

func mgEvaluate(ctx context.Context, m *inference.Model, test []Patient, stats []model.Feature) ([]model.Metric, error) {
	out, err := runRows(ctx, m, map[string][][]float64{MGInput: mgInputs(test, stats, 0, 0)})
	if err != nil {
		return nil, err
	}
	days, events := survivalOf(test)
	risk := column(out[MGOutRisk], 1, 0)
	truth := make([]float64, len(test))
	var gradePred, gradeTrue []int
	var rec []float64
	var recTrue []bool
	var absErrMonths []float64
	majority := make([]int, len(test))
	for i, p := range test {
		truth[i] = p.LogHazard
		probs := out[MGOutGrade][3*i : 3*i+3]
		best := 0
		for k := range probs {
			if probs[k] > probs[best] {
				best = k
			}
		}
		gradePred, gradeTrue = append(gradePred, best), append(gradeTrue, p.Grade-2)
		majority[i] = 2
		rec, recTrue = append(rec, float64(out[MGOutRecurrence][i])), append(recTrue, p.Recurrence)
		if p.Event {
			predDays := math.Expm1(float64(out[MGOutSurvival][i]))
			absErrMonths = append(absErrMonths, math.Abs(predDays-p.Days)/30.44)
		}
	}
	predDays := column(out[MGOutSurvival], 1, 0)
	for i := range predDays {
		predDays[i] = -predDays[i] // longer predicted survival = lower risk
	}

	// The TMZ rule against the generator's methylation status.
	mgmt := 0
	for i, g := range GeneList {
		if g.Symbol == tmzRule.Feature {
			mgmt = i
		}
	}
	agree, called := 0, 0
	for _, p := range test {
		z := (p.GeneLog2[mgmt] - stats[mgmt].Mean) / stats[mgmt].SD
		label := tmzRule.Bands.Label(1 / (1 + math.Exp(z)))
		if label == "Intermediate" {
			continue
		}
		called++
		if (label == "Methylated") == p.MGMTMethylated {
			agree++
		}
	}

	hidden, err := runRows(ctx, m, map[string][][]float64{MGInput: mgInputs(test, stats, 0.2, 99)})
	if err != nil {
		return nil, err
	}
	return []model.Metric{
		metric("risk C-index (Harrell)", nn.ConcordanceIndex(risk, days, events), "higher risk = earlier death"),
		metric("risk C-index of the generator's true log-hazard", nn.ConcordanceIndex(truth, days, events),
			"the ceiling set by the generator's noise and censoring"),
		metric("risk C-index with 20% of genes missing", nn.ConcordanceIndex(column(hidden[MGOutRisk], 1, 0), days, events),
			"missing genes set to the training mean, as the pipeline does"),
		metric("survival-time C-index", nn.ConcordanceIndex(predDays, days, events), "predicted days against observed"),
		metric("survival time median absolute error (months)", nn.Median(absErrMonths), "deaths only"),
		metric("grade accuracy", nn.Accuracy(gradePred, gradeTrue), "argmax of G2/G3/G4"),
		metric("grade accuracy of always answering G4", nn.Accuracy(majority, gradeTrue), "majority-class baseline"),
		metric("recurrence AUC", nn.AUC(rec, recTrue), "24-month recurrence"),
		metric("TMZ rule agreement with MGMT methylation", float64(agree)/float64(called),
			"calls other than Intermediate, against the generator's methylation status"),
		metric("TMZ rule share called Intermediate", 1-float64(called)/float64(len(test)), ""),
	}, nil
}
