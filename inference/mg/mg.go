// Package mg runs MG models: one tumour's gene-expression CSV → survival risk, grade, survival time, recurrence,
// temozolomide response (by the card's MGMT rule), top genes and a 64-value feature vector for MM.
//
// Genes are aligned by name to the card's gene list (the seed used file order, so its predictions changed when
// rows were reordered); missing and unknown genes are reported; values are log2-transformed when the file's
// maximum exceeds the card's threshold and z-scored with the card's training statistics.
package mg

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/neuronova/neuronova/inference"
	"github.com/neuronova/neuronova/inference/internal/tabular"
	"github.com/neuronova/neuronova/inference/model"
	"github.com/neuronova/neuronova/inference/ort"
)

// Sentinel errors callers branch on. Bad CSV files wrap ErrBadCSV or ErrTooLarge.
var (
	ErrBadCSV          = tabular.ErrBadCSV
	ErrTooLarge        = tabular.ErrTooLarge
	ErrTooManyMissing  = errors.New("too many of the model's genes are missing")
	ErrNegativeRaw     = errors.New("negative expression on the raw scale")
	ErrUnsupportedCard = errors.New("MG card asks for something this pipeline does not do")
)

// Names the pipeline reads from an MG card.
const (
	OutFeatures    = "features"
	OutRisk        = "risk"
	OutGrade       = "grade"
	OutSurvival    = "survival_log_days"
	OutRecurrence  = "recurrence"
	OutAttribution = "risk_attribution"
	RuleTMZ        = "tmz_response"
)

// TopGeneCount is how many genes the result lists by attribution.
const TopGeneCount = 20

// Format is the gene-expression CSV format: Hugo_Symbol,Entrez_Gene_Id,Expression, or two columns.
var Format = tabular.Format{
	Kind:        "gene expression",
	NameHeaders: []string{"Hugo_Symbol", "gene", "gene_symbol", "symbol", "gene_name"},
	ValueHeader: []string{"Expression", "value", "expression_value"},
	NotValues:   []string{"Entrez_Gene_Id", "Entrez", "Entrez_ID", "gene_id"},
}

// ParseCSV reads a gene-expression file (see Format), capped at tabular.DefaultMaxBytes and DefaultMaxRows.
func ParseCSV(r io.Reader, opts ...tabular.Option) (*tabular.Table, error) {
	return tabular.Parse(r, Format, opts...)
}

// Request is one MG inference.
type Request struct {
	ModelID    string    // "" = the registry's default MG model
	CSV        io.Reader // the gene-expression file
	SourceName string    // file name, for provenance
}

// Result is the MG output with its provenance (banner included).
type Result struct {
	inference.Provenance
	Risk         Risk         `json:"survival_risk"`
	Grade        Grade        `json:"grade"`
	SurvivalTime SurvivalTime `json:"survival_time"`
	Recurrence   Recurrence   `json:"recurrence"`
	TMZResponse  TMZResponse  `json:"tmz_response"`
	TopGenes     []TopGene    `json:"top_genes"`
	Features     []float32    `json:"features"`
	Alignment    Alignment    `json:"alignment"`
}

// Risk is the Cox-style risk score and its band.
type Risk struct {
	Score   float64   `json:"risk_score"`
	Group   string    `json:"risk_group"`
	Cuts    []float64 `json:"group_cuts"`
	Meaning string    `json:"meaning"`
}

// LabelProbability is one class with its probability.
type LabelProbability struct {
	Label       string  `json:"label"`
	Probability float64 `json:"probability"`
}

// Grade is the WHO grade prediction.
type Grade struct {
	Predicted      string             `json:"predicted_class"`
	Probability    float64            `json:"probability"`
	Probabilities  []LabelProbability `json:"probabilities"`
	LGGProbability float64            `json:"lgg_probability"` // G2 + G3
	HGGProbability float64            `json:"hgg_probability"` // G4
}

// SurvivalTime is the predicted survival time.
type SurvivalTime struct {
	Days   float64 `json:"predicted_days"`
	Months float64 `json:"predicted_months"`
}

// Recurrence is the recurrence prediction.
type Recurrence struct {
	Predicted   string  `json:"predicted_class"`
	Probability float64 `json:"recurrence_probability"`
}

// TMZResponse is the card's rule-based temozolomide response. MethylationProbability and MGMTZScore are absent
// when MGMT is not in the input (Status "Unknown").
type TMZResponse struct {
	Status                 string   `json:"status"`
	Interpretation         string   `json:"interpretation"`
	MethylationProbability *float64 `json:"methylation_probability,omitempty"`
	Confidence             float64  `json:"confidence"`
	MGMTZScore             *float64 `json:"mgmt_zscore,omitempty"`
	Rule                   string   `json:"rule"`
}

// TopGene is one of the genes with the largest risk attribution.
type TopGene struct {
	Rank        int     `json:"rank"`
	Gene        string  `json:"gene"`
	Attribution float64 `json:"attribution"`
	ZScore      float64 `json:"expression_zscore"`
}

// Alignment reports how the file matched the card's genes.
type Alignment = tabular.Alignment

// Run parses the request's CSV, loads the model (default MG model unless named) and predicts.
func Run(ctx context.Context, rt *inference.Runtime, req Request) (*Result, error) {
	watch := inference.StartStopwatch()
	hash := sha256.New()
	table, err := ParseCSV(io.TeeReader(req.CSV, hash))
	if err != nil {
		return nil, err
	}
	watch.Lap("parse")
	m, err := rt.LoadFamily(ctx, model.FamilyMG, req.ModelID)
	if err != nil {
		return nil, err
	}
	watch.Lap("model")
	input := inference.InputRef{Kind: inference.InputGeneCSV, Role: "genes", Name: req.SourceName, SHA256: hex.EncodeToString(hash.Sum(nil))}
	return Predict(ctx, m, table, input, watch)
}

// RunBytes is Run for a file already in memory.
func RunBytes(ctx context.Context, rt *inference.Runtime, modelID string, csv []byte, sourceName string) (*Result, error) {
	return Run(ctx, rt, Request{ModelID: modelID, CSV: bytes.NewReader(csv), SourceName: sourceName})
}

// Prepared is a file aligned and normalised for one card.
type Prepared struct {
	Z         []float32 // model input, card gene order
	Present   []bool
	Alignment Alignment
}

// Prepare aligns a parsed file to the card's genes and normalises it as the card says.
func Prepare(card *model.Card, table *tabular.Table) (*Prepared, error) {
	in, err := geneInput(card)
	if err != nil {
		return nil, err
	}
	p := in.Preprocessing
	values, present, a, err := tabular.Align(table, card.Genes, tabular.GeneNames, nil)
	if err != nil {
		return nil, err
	}
	if frac := a.MissingFraction(); frac > p.MaxMissingFraction {
		return nil, fmt.Errorf("%w: %d of the %d genes of %s have no value (%.0f%%, at most %.0f%% allowed); %d rows matched no gene of the model — is this a one-patient gene-expression file with HGNC symbols?",
			ErrTooManyMissing, len(a.Missing)+len(a.NoValue), a.ModelFeatures, card.ID, 100*frac, 100*p.MaxMissingFraction, a.UnknownCount)
	}
	if p.Log2IfMaxOver > 0 && a.MaxValue > p.Log2IfMaxOver {
		a.Log2Applied = true
		for i, v := range values {
			if present[i] && v < 0 {
				return nil, fmt.Errorf("%w: %s is %g in a file whose maximum %g marks it as raw counts (log2 is taken above %g)",
					ErrNegativeRaw, card.Genes[i].Symbol, v, a.MaxValue, p.Log2IfMaxOver)
			}
		}
	}
	z := make([]float32, len(values))
	for i, v := range values {
		if !present[i] {
			continue // the training mean
		}
		if a.Log2Applied {
			v = math.Log2(v + p.LogOffset)
		}
		z[i] = float32((v - card.Genes[i].Mean) / card.Genes[i].SD)
	}
	return &Prepared{Z: z, Present: present, Alignment: a}, nil
}

// CheckCard reports whether this pipeline can run the card's model (what `neuronova models add` checks).
func CheckCard(card *model.Card) error {
	_, err := geneInput(card)
	return err
}

// geneInput returns the card's single input and checks that it asks only for what this pipeline does.
func geneInput(card *model.Card) (*model.Input, error) {
	if card.Family != model.FamilyMG {
		return nil, fmt.Errorf("%w: %s is an %s model", inference.ErrWrongFamily, card.ID, card.Family)
	}
	if len(card.Inputs) != 1 {
		return nil, fmt.Errorf("%w: %s has %d inputs; an MG model takes one", ErrUnsupportedCard, card.ID, len(card.Inputs))
	}
	in := &card.Inputs[0]
	p := in.Preprocessing
	switch {
	case p == nil || p.Features != "genes":
		return nil, fmt.Errorf("%w: input %s must follow the card's gene list (preprocessing.features \"genes\")", ErrUnsupportedCard, in.Name)
	case p.Normalisation != model.NormZScoreCard:
		return nil, fmt.Errorf("%w: normalisation %q; this pipeline implements %q", ErrUnsupportedCard, p.Normalisation, model.NormZScoreCard)
	case p.Log2IfMaxOver > 0 && p.LogOffset <= 0:
		return nil, fmt.Errorf("%w: log2_if_max_over needs a positive log_offset", ErrUnsupportedCard)
	}
	gradeLabels := 0
	if g := card.Output(OutGrade); g != nil {
		gradeLabels = len(g.Labels)
	}
	if gradeLabels < 2 {
		return nil, fmt.Errorf("%w: output %s needs its class labels", ErrUnsupportedCard, OutGrade)
	}
	width := map[string]int64{OutFeatures: -1, OutRisk: 1, OutGrade: int64(gradeLabels),
		OutSurvival: 1, OutRecurrence: 1, OutAttribution: int64(len(card.Genes))}
	for _, name := range []string{OutFeatures, OutRisk, OutGrade, OutSurvival, OutRecurrence, OutAttribution} {
		out := card.Output(name)
		if out == nil {
			return nil, fmt.Errorf("%w: no output %q", ErrUnsupportedCard, name)
		}
		last := out.Shape[len(out.Shape)-1]
		if len(out.Shape) != 2 || (width[name] >= 0 && (!last.IsFixed() || last.Value != width[name])) {
			return nil, fmt.Errorf("%w: output %s has shape %v; want [N %d]", ErrUnsupportedCard, name, out.Shape, width[name])
		}
	}
	return in, nil
}

// Predict runs a loaded MG model on a parsed file.
func Predict(ctx context.Context, m *inference.Model, table *tabular.Table, input inference.InputRef, watch *inference.Stopwatch) (*Result, error) {
	if watch == nil {
		watch = inference.StartStopwatch()
	}
	card := m.Card
	prep, err := Prepare(card, table)
	if err != nil {
		return nil, err
	}
	watch.Lap("align and normalise")
	in := card.Inputs[0]
	out, err := m.Run(ctx, map[string]ort.Tensor{in.Name: {Shape: []int64{1, int64(len(prep.Z))}, Data: prep.Z}})
	if err != nil {
		return nil, err
	}
	watch.Lap("inference")
	res, err := interpret(card, prep, out)
	if err != nil {
		return nil, err
	}
	watch.Lap("postprocess")
	res.Provenance = m.Provenance()
	res.Inputs = []inference.InputRef{input}
	res.Timings = watch.Stages()
	if n := len(prep.Alignment.Missing) + len(prep.Alignment.NoValue); n > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%d of the model's %d genes had no value and were set to the training mean: see alignment", n, prep.Alignment.ModelFeatures))
	}
	if res.TMZResponse.Status == "Unknown" {
		res.Warnings = append(res.Warnings, "MGMT is missing: no temozolomide response")
	}
	return res, nil
}

func interpret(card *model.Card, prep *Prepared, out map[string]ort.Tensor) (*Result, error) {
	single := func(name string) float64 { return float64(out[name].Data[0]) }
	res := &Result{Alignment: prep.Alignment}

	risk := card.Output(OutRisk)
	res.Risk = Risk{Score: single(OutRisk), Meaning: risk.Description}
	if risk.Bands != nil {
		res.Risk.Group, res.Risk.Cuts = risk.Bands.Label(res.Risk.Score), risk.Bands.Cuts
	}

	grade := card.Output(OutGrade)
	probs := out[OutGrade].Data
	if len(probs) != len(grade.Labels) {
		return nil, fmt.Errorf("%w: grade output has %d values for %d labels", ErrUnsupportedCard, len(probs), len(grade.Labels))
	}
	best := 0
	for i, p := range probs {
		res.Grade.Probabilities = append(res.Grade.Probabilities, LabelProbability{Label: grade.Labels[i], Probability: float64(p)})
		if p > probs[best] {
			best = i
		}
		if i == len(probs)-1 {
			res.Grade.HGGProbability = float64(p)
		} else {
			res.Grade.LGGProbability += float64(p)
		}
	}
	res.Grade.Predicted, res.Grade.Probability = grade.Labels[best], float64(probs[best])

	days := math.Max(0, math.Expm1(single(OutSurvival)))
	res.SurvivalTime = SurvivalTime{Days: math.Round(days), Months: math.Round(days/30.44*10) / 10}

	rec := card.Output(OutRecurrence)
	res.Recurrence.Probability = single(OutRecurrence)
	if rec.Bands != nil {
		res.Recurrence.Predicted = rec.Bands.Label(res.Recurrence.Probability)
	}

	res.TMZResponse = tmz(card, prep)
	res.TopGenes = topGenes(card, prep, out[OutAttribution].Data)
	res.Features = slices.Clone(out[OutFeatures].Data)
	return res, nil
}

// tmz applies the card's MGMT rule: p = 1 / (1 + exp(z_MGMT)).
func tmz(card *model.Card, prep *Prepared) TMZResponse {
	rule := card.Rule(RuleTMZ)
	if rule == nil {
		return TMZResponse{Status: "Unknown", Interpretation: "this model's card states no TMZ rule"}
	}
	r := TMZResponse{Rule: rule.Formula}
	for i, g := range card.Genes {
		if model.FeatureKey(g.Symbol) != model.FeatureKey(rule.Feature) {
			continue
		}
		if !prep.Present[i] {
			break
		}
		z := float64(prep.Z[i])
		p := 1 / (1 + math.Exp(z))
		r.MGMTZScore, r.MethylationProbability = &z, &p
		r.Status = rule.Bands.Label(p)
		for k, label := range rule.Bands.Labels {
			if label == r.Status && k < len(rule.Interpretations) {
				r.Interpretation = rule.Interpretations[k]
			}
		}
		r.Confidence = math.Abs(p-0.5) * 2
		return r
	}
	r.Status, r.Interpretation = "Unknown", rule.Feature+" is not in the input"
	return r
}

// topGenes lists the genes with the largest |attribution|; ties go to the earlier gene in the card.
func topGenes(card *model.Card, prep *Prepared, attribution []float32) []TopGene {
	idx := make([]int, len(attribution))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		x, y := math.Abs(float64(attribution[a])), math.Abs(float64(attribution[b]))
		switch {
		case x > y:
			return -1
		case x < y:
			return 1
		}
		return 0
	})
	var top []TopGene
	for _, i := range idx {
		if len(top) == TopGeneCount || attribution[i] == 0 {
			break
		}
		top = append(top, TopGene{Rank: len(top) + 1, Gene: card.Genes[i].Symbol, Attribution: float64(attribution[i]), ZScore: float64(prep.Z[i])})
	}
	return top
}
