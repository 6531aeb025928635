// Package mm runs MM models: an MRI embedding (from M1), gene features (from MG) and an RPPA protein CSV, any of
// which may be missing, → survival hazard, risk score and group, 6- and 12-month survival, recurrence, and each
// modality's share of the fused representation.
//
// A missing modality is fed as a zero vector with its mask bit at 0, and the result says which were missing.
// Embeddings carry the provenance of the model that produced them; when the card pins an upstream model
// (sha256), an embedding from any other model is refused.
package mm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/neuronova/neuronova/inference"
	"github.com/neuronova/neuronova/inference/internal/tabular"
	"github.com/neuronova/neuronova/inference/mg"
	"github.com/neuronova/neuronova/inference/model"
	"github.com/neuronova/neuronova/inference/ort"
)

// Sentinel errors callers branch on. Bad RPPA files wrap ErrBadCSV or ErrTooLarge.
var (
	ErrBadCSV           = tabular.ErrBadCSV
	ErrTooLarge         = tabular.ErrTooLarge
	ErrNoModality       = errors.New("no modality given: MM needs at least one of MRI embedding, gene features, protein levels")
	ErrBadEmbedding     = errors.New("bad embedding")
	ErrUpstreamMismatch = errors.New("input comes from another model than the card names")
	ErrTooManyMissing   = errors.New("too many of the model's proteins are missing")
	ErrUnsupportedCard  = errors.New("MM card asks for something this pipeline does not do")
)

// Output names the pipeline reads from an MM card.
const (
	OutLogHazard  = "log_hazard"
	OutRisk       = "risk_score"
	OutSurvival6  = "survival_6m"
	OutSurvival12 = "survival_12m"
	OutRecurrence = "recurrence"
	OutNorms      = "modality_norms"
)

// The modalities, in the order of the mask columns the card declares.
const (
	ModalityMRI     = "mri"
	ModalityGene    = "gene"
	ModalityProtein = "protein"
)

// MaxUpstreamBytes caps an upstream result file.
const MaxUpstreamBytes = 16 << 20

// Format is the RPPA CSV format: Protein_Name,Expression.
var Format = tabular.Format{
	Kind:        "RPPA",
	NameHeaders: []string{"Protein_Name", "protein", "antibody", "Composite.Element.REF", "name"},
	ValueHeader: []string{"Expression", "value"},
}

// Embedding is a feature vector from an upstream model.
type Embedding struct {
	Values []float32
	Source *Source // nil when the producer is unknown
}

// Source identifies the model that produced an embedding.
type Source struct {
	ModelID string       `json:"id"`
	Family  model.Family `json:"family"`
	Version string       `json:"version"`
	SHA256  string       `json:"sha256"`
}

// FromMG takes the gene features of an MG result, with its provenance.
func FromMG(r *mg.Result) *Embedding {
	return &Embedding{Values: append([]float32(nil), r.Features...), Source: &Source{
		ModelID: r.Model.ID, Family: r.Model.Family, Version: r.Model.Version, SHA256: r.Model.SHA256,
	}}
}

// ParseUpstreamResult reads an MG result JSON (its "features") or an M1 result JSON (its "embedding"), with the
// "model" provenance both carry.
func ParseUpstreamResult(data []byte) (*Embedding, error) {
	if len(data) > MaxUpstreamBytes {
		return nil, fmt.Errorf("%w: upstream result of %d bytes (at most %d)", ErrBadEmbedding, len(data), MaxUpstreamBytes)
	}
	var doc struct {
		Model     *Source    `json:"model"`
		Features  *[]float64 `json:"features"`
		Embedding *[]float64 `json:"embedding"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%w: upstream result is not JSON: %v", ErrBadEmbedding, err)
	}
	if doc.Model == nil || doc.Model.ModelID == "" {
		return nil, fmt.Errorf("%w: upstream result has no model provenance (\"model\": {\"id\", \"sha256\"…})", ErrBadEmbedding)
	}
	var values *[]float64
	switch doc.Model.Family {
	case model.FamilyMG:
		values = doc.Features
	case model.FamilyM1:
		values = doc.Embedding
	default:
		return nil, fmt.Errorf("%w: upstream model %s is of family %q; want MG (features) or M1 (embedding)", ErrBadEmbedding, doc.Model.ModelID, doc.Model.Family)
	}
	if values == nil || len(*values) == 0 {
		return nil, fmt.Errorf("%w: %s result from %s has no feature vector", ErrBadEmbedding, doc.Model.Family, doc.Model.ModelID)
	}
	out := &Embedding{Source: doc.Model, Values: make([]float32, len(*values))}
	for i, v := range *values {
		if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > math.MaxFloat32 {
			return nil, fmt.Errorf("%w: value %d of the %s vector is %v", ErrBadEmbedding, i, doc.Model.Family, v)
		}
		out.Values[i] = float32(v)
	}
	return out, nil
}

// Request is one MM inference; nil fields are missing modalities.
type Request struct {
	ModelID           string // "" = the registry's default MM model
	MRI               *Embedding
	Gene              *Embedding
	ProteinCSV        io.Reader
	ProteinSourceName string
}

// Result is the MM output with its provenance (banner included).
type Result struct {
	inference.Provenance
	Survival          Survival           `json:"survival"`
	Recurrence        Recurrence         `json:"recurrence"`
	RiskGroup         RiskGroup          `json:"risk_group"`
	Modalities        []Modality         `json:"modalities"`
	ModalitiesUsed    []string           `json:"modalities_used"`
	ModalitiesMissing []string           `json:"modalities_missing"`
	ProteinAlignment  *tabular.Alignment `json:"protein_alignment,omitempty"`
}

// Survival is the hazard and the survival probabilities.
type Survival struct {
	LogHazard      float64 `json:"log_hazard"`
	HazardRatio    float64 `json:"hazard_ratio"`
	RiskScore      float64 `json:"risk_score"`
	Probability6m  float64 `json:"survival_probability_6m"`
	Probability12m float64 `json:"survival_probability_12m"`
}

// Recurrence is the recurrence prediction.
type Recurrence struct {
	Predicted   string  `json:"predicted_class"`
	Probability float64 `json:"recurrence_probability"`
}

// RiskGroup is the band of the risk score.
type RiskGroup struct {
	Predicted string    `json:"predicted_class"`
	Cuts      []float64 `json:"cuts"`
}

// Modality says whether a modality was used and its share of the fused tokens' L2 norms.
type Modality struct {
	Name         string  `json:"name"`
	Present      bool    `json:"present"`
	Contribution float64 `json:"contribution"`
}

// inputs are the card's inputs by role.
type inputs struct {
	mri, gene, protein, mask *model.Input
	order                    []string // mask columns
}

// CheckCard reports whether this pipeline can run the card's model (what `neuronova models add` checks).
func CheckCard(card *model.Card) error {
	_, err := cardInputs(card)
	return err
}

func cardInputs(card *model.Card) (*inputs, error) {
	if card.Family != model.FamilyMM {
		return nil, fmt.Errorf("%w: %s is an %s model", inference.ErrWrongFamily, card.ID, card.Family)
	}
	in := &inputs{}
	for i := range card.Inputs {
		x := &card.Inputs[i]
		up := card.UpstreamFor(x.Name)
		switch {
		case len(x.ChannelOrder) > 0:
			in.mask, in.order = x, x.ChannelOrder
		case x.Preprocessing != nil && x.Preprocessing.Features == "proteins":
			in.protein = x
		case up != nil && up.Family == model.FamilyM1:
			in.mri = x
		case up != nil && up.Family == model.FamilyMG:
			in.gene = x
		default:
			return nil, fmt.Errorf("%w: input %s is neither the mask (channel_order), the proteins (features \"proteins\") nor an upstream M1/MG input", ErrUnsupportedCard, x.Name)
		}
		if last := x.Shape[len(x.Shape)-1]; len(x.Shape) != 2 || !last.IsFixed() {
			return nil, fmt.Errorf("%w: input %s has shape %v; want [N width]", ErrUnsupportedCard, x.Name, x.Shape)
		}
	}
	if in.mri == nil || in.gene == nil || in.protein == nil || in.mask == nil {
		return nil, fmt.Errorf("%w: %s must declare an M1 input, an MG input, a protein input and a modality mask", ErrUnsupportedCard, card.ID)
	}
	if p := in.protein.Preprocessing; p.Normalisation != model.NormZScoreCard {
		return nil, fmt.Errorf("%w: protein normalisation %q; this pipeline implements %q", ErrUnsupportedCard, p.Normalisation, model.NormZScoreCard)
	}
	want := map[string]bool{ModalityMRI: true, ModalityGene: true, ModalityProtein: true}
	for _, name := range in.order {
		if !want[name] {
			return nil, fmt.Errorf("%w: mask column %q; want mri, gene and protein", ErrUnsupportedCard, name)
		}
		delete(want, name)
	}
	if len(want) > 0 || in.mask.Shape[1].Value != int64(len(in.order)) {
		return nil, fmt.Errorf("%w: the mask must have one column each for mri, gene and protein", ErrUnsupportedCard)
	}
	for _, name := range []string{OutLogHazard, OutRisk, OutSurvival6, OutSurvival12, OutRecurrence, OutNorms} {
		if card.Output(name) == nil {
			return nil, fmt.Errorf("%w: no output %q", ErrUnsupportedCard, name)
		}
	}
	return in, nil
}

func width(x *model.Input) int { return int(x.Shape[1].Value) }

// Run loads the model (default MM model unless named), checks the upstream embeddings, reads the RPPA file and
// predicts.
func Run(ctx context.Context, rt *inference.Runtime, req Request) (*Result, error) {
	if req.MRI == nil && req.Gene == nil && req.ProteinCSV == nil {
		return nil, ErrNoModality
	}
	watch := inference.StartStopwatch()
	m, err := rt.LoadFamily(ctx, model.FamilyMM, req.ModelID)
	if err != nil {
		return nil, err
	}
	watch.Lap("model")
	return Predict(ctx, m, req, watch)
}

// Predict runs a loaded MM model.
func Predict(ctx context.Context, m *inference.Model, req Request, watch *inference.Stopwatch) (*Result, error) {
	if watch == nil {
		watch = inference.StartStopwatch()
	}
	if req.MRI == nil && req.Gene == nil && req.ProteinCSV == nil {
		return nil, ErrNoModality
	}
	card := m.Card
	in, err := cardInputs(card)
	if err != nil {
		return nil, err
	}
	res := &Result{}
	var refs []inference.InputRef
	var warnings []string
	present := map[string]bool{}
	feed := map[string]ort.Tensor{}

	for _, e := range []struct {
		modality string
		input    *model.Input
		emb      *Embedding
	}{{ModalityMRI, in.mri, req.MRI}, {ModalityGene, in.gene, req.Gene}} {
		values := make([]float32, width(e.input))
		if e.emb == nil {
			refs = append(refs, inference.InputRef{Kind: inference.InputMissing, Role: e.input.Name})
		} else {
			ref, warning, err := checkEmbedding(card, e.input, e.emb)
			if err != nil {
				return nil, err
			}
			copy(values, e.emb.Values)
			present[e.modality] = true
			refs = append(refs, ref)
			if warning != "" {
				warnings = append(warnings, warning)
			}
		}
		feed[e.input.Name] = ort.Tensor{Shape: []int64{1, int64(len(values))}, Data: values}
	}

	proteins := make([]float32, width(in.protein))
	if req.ProteinCSV == nil {
		refs = append(refs, inference.InputRef{Kind: inference.InputMissing, Role: in.protein.Name})
	} else {
		hash := sha256.New()
		table, err := tabular.Parse(io.TeeReader(req.ProteinCSV, hash), Format)
		if err != nil {
			return nil, err
		}
		a, err := alignProteins(card, in.protein, table, proteins)
		if err != nil {
			return nil, err
		}
		res.ProteinAlignment = a
		present[ModalityProtein] = true
		refs = append(refs, inference.InputRef{Kind: inference.InputProteinCSV, Role: in.protein.Name,
			Name: req.ProteinSourceName, SHA256: hex.EncodeToString(hash.Sum(nil))})
		if n := len(a.Missing) + len(a.NoValue); n > 0 {
			warnings = append(warnings, fmt.Sprintf("%d of the model's %d proteins had no value and were set to the training mean: see protein_alignment", n, a.ModelFeatures))
		}
	}
	feed[in.protein.Name] = ort.Tensor{Shape: []int64{1, int64(len(proteins))}, Data: proteins}

	mask := make([]float32, len(in.order))
	for i, name := range in.order {
		if present[name] {
			mask[i] = 1
			res.ModalitiesUsed = append(res.ModalitiesUsed, name)
		} else {
			res.ModalitiesMissing = append(res.ModalitiesMissing, name)
			warnings = append(warnings, fmt.Sprintf("%s modality missing: fed as a zero vector with mask 0", name))
		}
	}
	feed[in.mask.Name] = ort.Tensor{Shape: []int64{1, int64(len(mask))}, Data: mask}
	watch.Lap("inputs")

	out, err := m.Run(ctx, feed)
	if err != nil {
		return nil, err
	}
	watch.Lap("inference")
	interpret(card, in, out, present, res)
	watch.Lap("postprocess")

	res.Provenance = m.Provenance()
	res.Inputs = refs
	res.Warnings = warnings
	res.Timings = watch.Stages()
	return res, nil
}

// checkEmbedding checks length, values and provenance against the card's upstream entry.
func checkEmbedding(card *model.Card, input *model.Input, e *Embedding) (inference.InputRef, string, error) {
	ref := inference.InputRef{Kind: inference.InputEmbedding, Role: input.Name}
	if len(e.Values) != width(input) {
		return ref, "", fmt.Errorf("%w: %s has %d values; %s takes %d", ErrBadEmbedding, input.Name, len(e.Values), card.ID, width(input))
	}
	for i, v := range e.Values {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return ref, "", fmt.Errorf("%w: %s value %d is %v", ErrBadEmbedding, input.Name, i, v)
		}
	}
	up := card.UpstreamFor(input.Name)
	if e.Source != nil {
		ref.Upstream = &inference.UpstreamRef{ModelID: e.Source.ModelID, Version: e.Source.Version, SHA256: e.Source.SHA256}
	}
	if up.SHA256 != "" {
		if e.Source == nil {
			return ref, "", fmt.Errorf("%w: %s has no provenance; %s takes %s from %s %s (sha256 %s) only — pass that model's result",
				ErrUpstreamMismatch, input.Name, card.ID, input.Name, up.ModelID, up.Version, up.SHA256)
		}
		if e.Source.ModelID != up.ModelID || e.Source.SHA256 != up.SHA256 {
			return ref, "", fmt.Errorf("%w: %s comes from %s %s (sha256 %s); %s was trained on %s %s (sha256 %s)",
				ErrUpstreamMismatch, input.Name, e.Source.ModelID, e.Source.Version, e.Source.SHA256, card.ID, up.ModelID, up.Version, up.SHA256)
		}
		ref.Upstream.Verified = true
		return ref, "", nil
	}
	if e.Source != nil && e.Source.Family != "" && e.Source.Family != up.Family {
		return ref, "", fmt.Errorf("%w: %s comes from an %s model (%s); %s takes it from an %s model",
			ErrUpstreamMismatch, input.Name, e.Source.Family, e.Source.ModelID, card.ID, up.Family)
	}
	note := up.Note
	if note == "" {
		note = "the card pins no upstream model"
	}
	return ref, fmt.Sprintf("%s not verified: %s", input.Name, note), nil
}

func alignProteins(card *model.Card, input *model.Input, table *tabular.Table, dst []float32) (*tabular.Alignment, error) {
	values, present, a, err := tabular.Align(table, card.Proteins, tabular.ProteinNames, tabular.AntibodyAliases(card.Proteins))
	if err != nil {
		return nil, err
	}
	if frac := a.MissingFraction(); frac > input.Preprocessing.MaxMissingFraction {
		return nil, fmt.Errorf("%w: %d of the %d proteins of %s have no value (%.0f%%, at most %.0f%% allowed); %d rows matched no protein of the model — is this an RPPA file with GENE|Antibody names?",
			ErrTooManyMissing, len(a.Missing)+len(a.NoValue), a.ModelFeatures, card.ID, 100*frac, 100*input.Preprocessing.MaxMissingFraction, a.UnknownCount)
	}
	for i, v := range values {
		if present[i] {
			dst[i] = float32((v - card.Proteins[i].Mean) / card.Proteins[i].SD)
		}
	}
	return &a, nil
}

func interpret(card *model.Card, in *inputs, out map[string]ort.Tensor, present map[string]bool, res *Result) {
	single := func(name string) float64 { return float64(out[name].Data[0]) }
	lh := single(OutLogHazard)
	res.Survival = Survival{LogHazard: lh, HazardRatio: math.Exp(lh), RiskScore: single(OutRisk),
		Probability6m: single(OutSurvival6), Probability12m: single(OutSurvival12)}
	res.Recurrence.Probability = single(OutRecurrence)
	if b := card.Output(OutRecurrence).Bands; b != nil {
		res.Recurrence.Predicted = b.Label(res.Recurrence.Probability)
	}
	if b := card.Output(OutRisk).Bands; b != nil {
		res.RiskGroup = RiskGroup{Predicted: b.Label(res.Survival.RiskScore), Cuts: b.Cuts}
	}
	norms := out[OutNorms].Data
	total := 0.0
	for _, v := range norms {
		total += float64(v)
	}
	for i, name := range in.order {
		mod := Modality{Name: name, Present: present[name]}
		if total > 0 && i < len(norms) {
			mod.Contribution = float64(norms[i]) / total
		}
		res.Modalities = append(res.Modalities, mod)
	}
}

// RunBytes is Run with the RPPA file in memory (nil = missing).
func RunBytes(ctx context.Context, rt *inference.Runtime, modelID string, mri, gene *Embedding, rppa []byte, rppaName string) (*Result, error) {
	req := Request{ModelID: modelID, MRI: mri, Gene: gene, ProteinSourceName: rppaName}
	if rppa != nil {
		req.ProteinCSV = bytes.NewReader(rppa)
	}
	return Run(ctx, rt, req)
}
