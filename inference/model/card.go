// Package model holds model cards (the JSON file beside each .onnx that says what the model is, what it takes,
// what it gives and how far it may be trusted) and the registry that finds models in the embedded directory and
// a user directory. It does not run models: inference/ort does.
package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strings"
)

// CardSchema identifies the card format this package reads and writes.
const CardSchema = "neuronova.model-card/1"

// MaxCardBytes caps the size of a card file (a 20,000-gene list with statistics fits easily).
const MaxCardBytes = 8 << 20

// NotForClinicalUse is the phrase every banner of a model not validated for clinical use must contain.
const NotForClinicalUse = "not for clinical use"

// ErrInvalidCard reports a card that cannot be parsed or breaks a rule of the card format.
var ErrInvalidCard = errors.New("invalid model card")

// Family is the kind of model, which decides the pipeline that runs it.
type Family string

// The model families of the seed system.
const (
	FamilyM1 Family = "M1" // four MRI sequences → segmentation, grade, IDH, MGMT, risk, 768-value embedding
	FamilyMG Family = "MG" // gene expression → risk, grade, survival time, recurrence, 64-value features
	FamilyMM Family = "MM" // MRI embedding + gene features + protein levels → survival, recurrence, risk group
)

// Status says how far a model has been validated.
type Status string

// The validation levels a card can claim.
const (
	StatusDemonstration Status = "demonstration"
	StatusResearch      Status = "research"
	StatusValidated     Status = "validated"
)

// Card is a model card. Field order follows the JSON file.
type Card struct {
	Schema       string       `json:"schema"`
	ID           string       `json:"id"`
	Family       Family       `json:"family"`
	Name         string       `json:"name"`
	Version      string       `json:"version"`
	Status       Status       `json:"status"`
	Task         string       `json:"task"`
	IntendedUse  IntendedUse  `json:"intended_use"`
	Artifact     Artifact     `json:"artifact"`
	Inputs       []Input      `json:"inputs"`
	Outputs      []Output     `json:"outputs"`
	Genes        []Feature    `json:"genes,omitempty"`    // ordered: gene i is column i of the gene input
	Proteins     []Feature    `json:"proteins,omitempty"` // ordered: protein i is column i of the protein input
	Rules        []Rule       `json:"rules,omitempty"`    // outputs computed by a stated rule, not by the network
	Upstream     []Upstream   `json:"upstream,omitempty"` // models whose outputs this one consumes
	TrainingData TrainingData `json:"training_data"`
	Evaluation   Evaluation   `json:"evaluation"`
	Limitations  []string     `json:"limitations"`
	Recipe       *Recipe      `json:"recipe,omitempty"`
}

// IntendedUse says what the model is for; Banner is shown beside every result of the model.
type IntendedUse struct {
	Summary           string   `json:"summary"`
	NotForClinicalUse bool     `json:"not_for_clinical_use"`
	Banner            string   `json:"banner"`
	OutOfScope        []string `json:"out_of_scope,omitempty"`
}

// Artifact describes the .onnx file; SHA256 is of its exact bytes and is verified at every load.
type Artifact struct {
	File      string `json:"file"` // beside the card
	SHA256    string `json:"sha256"`
	SizeBytes int64  `json:"size_bytes"`
	Opset     int64  `json:"opset,omitempty"`
	IRVersion int64  `json:"ir_version,omitempty"`
	Producer  string `json:"producer,omitempty"`
}

// TensorSpec is what the session must report for one input or output.
type TensorSpec struct {
	Name  string `json:"name"`
	DType string `json:"dtype"`
	Shape Shape  `json:"shape"`
	// ExampleShape is a concrete shape for warm-up runs and benchmarks (symbolic dimensions filled in).
	ExampleShape []int64 `json:"example_shape,omitempty"`
	Description  string  `json:"description,omitempty"`
}

// Input is one model input with the preprocessing that produces it.
type Input struct {
	TensorSpec
	// Role says what a pipeline feeds an input of a model with several; "" is the main input. M1 knows
	// RoleHeadsImage and RoleHeadsProbabilities.
	Role          string         `json:"role,omitempty"`
	ChannelOrder  []string       `json:"channel_order,omitempty"` // meaning of the channel (or column) axis
	Preprocessing *Preprocessing `json:"preprocessing,omitempty"`
	// IdleShape is the shape of the zero tensor fed to this input in runs that do not need it (models whose
	// parts run separately, such as M1's window network and its heads).
	IdleShape []int64 `json:"idle_shape,omitempty"`
}

// Input roles of an M1 model whose heads run once on the whole brain box, apart from the window network.
const (
	RoleHeadsImage         = "heads_image"         // the whole normalised model grid, [1, C, D, H, W]
	RoleHeadsProbabilities = "heads_probabilities" // the stitched segmentation output on that grid
)

// Normalisation methods a pipeline knows how to apply.
const (
	NormZScoreCard = "zscore-card-statistics" // (x − feature mean) / feature SD, from the card's feature list
	// NormZScoreBrain z-scores each channel over its non-zero voxels (the brain of skull-stripped images) and
	// leaves the zero voxels at 0: MONAI's NormalizeIntensity(nonzero=True, channel_wise=True).
	NormZScoreBrain = "zscore-brain-mask"
	// NormPercentile clips each channel to the values at Percentiles of its non-zero voxels and maps that range
	// linearly onto ScaleRange (every voxel, the zero ones included).
	NormPercentile = "percentile-scale"
	// NormFixed is (x − ChannelMean[c]) / ChannelSD[c] for every voxel of channel c.
	NormFixed = "fixed-mean-sd"
	NormNone  = "none"
)

// Segmentation-window blending modes (MONAI's sliding_window_inference).
const (
	BlendConstant = "constant"
	BlendGaussian = "gaussian"
)

// Window is sliding-window inference: the model grid (the crop at SpacingMM, never resized) is covered by
// windows of ROI voxels overlapping by Overlap, whose outputs are blended.
type Window struct {
	ROI     []int64 `json:"roi"`     // D, H, W voxels
	Overlap float64 `json:"overlap"` // fraction of the ROI shared by neighbouring windows, in [0, 1)
	Blend   string  `json:"blend"`   // BlendConstant or BlendGaussian
	// SigmaScale is the Gaussian's SD as a fraction of the ROI side (0 = MONAI's and nnU-Net's 0.125).
	SigmaScale float64 `json:"sigma_scale,omitempty"`
	Batch      int     `json:"batch,omitempty"` // windows per run (0 = 1)
}

// Preprocessing says how raw data becomes the input tensor. Pipelines refuse cards whose methods they do not
// implement, rather than guess.
type Preprocessing struct {
	Steps []string `json:"steps"` // in order, for people
	// Features names the card list whose order the last axis follows: "genes" or "proteins".
	Features      string  `json:"features,omitempty"`
	Normalisation string  `json:"normalisation,omitempty"`
	Log2IfMaxOver float64 `json:"log2_if_max_over,omitempty"` // apply log2(x + LogOffset) when the sample max exceeds it
	LogOffset     float64 `json:"log_offset,omitempty"`
	// MissingFeature says what a feature absent from the input becomes (after normalisation).
	MissingFeature     string    `json:"missing_feature,omitempty"`
	MaxMissingFraction float64   `json:"max_missing_fraction,omitempty"` // refuse inputs missing more than this
	SpacingMM          []float64 `json:"spacing_mm,omitempty"`
	Crop               string    `json:"crop,omitempty"`
	// Size (D, H, W) fits the crop into one input of that size, resized with its aspect ratio kept; Window runs
	// it at SpacingMM in windows instead. A card gives one of them.
	Size        []int64   `json:"size,omitempty"`
	Window      *Window   `json:"window,omitempty"`
	Percentiles []float64 `json:"percentiles,omitempty"`  // NormPercentile: lower and upper, 0–100
	ScaleRange  []float64 `json:"scale_range,omitempty"`  // NormPercentile: what the two percentiles become
	ChannelMean []float64 `json:"channel_mean,omitempty"` // NormFixed, in channel order
	ChannelSD   []float64 `json:"channel_sd,omitempty"`
	// TestTimeFlips lists mirrored runs averaged with the plain one, each a set of axes: "x" (W), "y" (H),
	// "z" (D), "xy"…
	TestTimeFlips []string `json:"test_time_flips,omitempty"`
}

// Output is one model output and how to read it.
type Output struct {
	TensorSpec
	Activation string `json:"activation,omitempty"` // none, softmax, sigmoid…: applied inside the graph unless Logits
	// Logits says the graph outputs the activation's input: the pipeline blends those and applies it.
	Logits    bool     `json:"logits,omitempty"`
	Labels    []string `json:"labels,omitempty"`  // index along the last axis → label
	Classes   []Class  `json:"classes,omitempty"` // segmentation classes
	Regions   []Region `json:"regions,omitempty"` // unions of classes reported together
	Bands     *Bands   `json:"bands,omitempty"`   // value → group label
	Unit      string   `json:"unit,omitempty"`
	Transform string   `json:"transform,omitempty"` // how the pipeline turns the value into what it reports
}

// Class is one segmentation class: the index the network outputs and the BraTS label it stands for.
type Class struct {
	Index      int    `json:"index"`
	Label      string `json:"label"` // short form: NCR, ED, ET
	Name       string `json:"name"`
	BraTSLabel int    `json:"brats_label,omitempty"`
}

// Region is a union of classes (WT = NCR+ED+ET, TC = NCR+ET, ET) of a softmax output, or one channel of a
// sigmoid output (MONAI's BraTS models: TC, WT and ET, each present where its probability exceeds Threshold).
type Region struct {
	Name      string  `json:"name"`
	Classes   []int   `json:"classes,omitempty"`
	Channel   *int    `json:"channel,omitempty"`
	Threshold float64 `json:"threshold,omitempty"`
}

// Bands turns a value into a group: the label at index i, where i is the number of cuts strictly below the value.
type Bands struct {
	Cuts   []float64 `json:"cuts"`
	Labels []string  `json:"labels"`
}

// Label returns the band label of v.
func (b *Bands) Label(v float64) string {
	i := 0
	for _, c := range b.Cuts {
		if v > c {
			i++
		}
	}
	return b.Labels[i]
}

// Feature is one gene or protein of an ordered feature list, with the training statistics used to z-score it.
type Feature struct {
	Symbol string  `json:"symbol"`
	Mean   float64 `json:"mean"`
	SD     float64 `json:"sd"`
}

// Rule is an output computed by a stated formula rather than by the network.
type Rule struct {
	Name            string   `json:"name"`
	Feature         string   `json:"feature"` // the gene or protein it reads
	Formula         string   `json:"formula"` // for people; the pipeline implements exactly this
	Bands           Bands    `json:"bands"`
	Interpretations []string `json:"interpretations,omitempty"` // one per band label
	Description     string   `json:"description,omitempty"`
}

// Upstream names the model whose output feeds one of this model's inputs. An empty SHA256 means any version is
// accepted (and the result says the source was not checked).
type Upstream struct {
	Input   string `json:"input"`
	Family  Family `json:"family"`
	ModelID string `json:"model_id"`
	Version string `json:"version,omitempty"`
	SHA256  string `json:"sha256,omitempty"`
	Note    string `json:"note,omitempty"`
}

// TrainingData says what the model learnt from.
type TrainingData struct {
	Kind            string `json:"kind"` // synthetic, public dataset name, institutional…
	RealPatientData bool   `json:"real_patient_data"`
	Description     string `json:"description"`
	Samples         int    `json:"samples,omitempty"`
	Seed            uint64 `json:"seed,omitempty"`
}

// Evaluation holds measured figures and on what they were measured.
type Evaluation struct {
	Dataset string   `json:"dataset"`
	Samples int      `json:"samples,omitempty"`
	Metrics []Metric `json:"metrics"`
	Caveat  string   `json:"caveat,omitempty"`
}

// Metric is one measured figure.
type Metric struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Note  string  `json:"note,omitempty"`
}

// Recipe says how the artifact was produced.
type Recipe struct {
	Command    string `json:"command"`
	Seed       uint64 `json:"seed"`
	Iterations int    `json:"iterations,omitempty"`
	Notes      string `json:"notes,omitempty"`
}

// ParseCard decodes and validates a card. Unknown fields are errors, so that a misspelt field is not ignored.
func ParseCard(data []byte) (*Card, error) {
	if len(data) > MaxCardBytes {
		return nil, fmt.Errorf("%w: %d bytes, more than the %d allowed", ErrInvalidCard, len(data), MaxCardBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c Card
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidCard, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the card's JSON object", ErrInvalidCard)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Marshal encodes the card as indented JSON ending in a newline.
func (c *Card) Marshal() ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

var (
	idPattern     = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
	sha256Pattern = regexp.MustCompile(`^[0-9a-f]{64}$`)
	symbolPattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9 ._|/+-]{0,79}$`)
	dtypes        = map[string]bool{"float32": true, "float16": true, "float64": true, "int64": true, "int32": true, "uint8": true, "int8": true, "bool": true}
)

// Validate checks the rules of the card format; the error names the field at fault.
func (c *Card) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w %q: %s", ErrInvalidCard, c.ID, fmt.Sprintf(format, args...))
	}
	if c.Schema != CardSchema {
		return bad("schema is %q, want %q", c.Schema, CardSchema)
	}
	if !idPattern.MatchString(c.ID) {
		return bad("id must be 1–64 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	switch c.Family {
	case FamilyM1, FamilyMG, FamilyMM:
	default:
		return bad("family %q is not M1, MG or MM", c.Family)
	}
	if strings.TrimSpace(c.Name) == "" || strings.TrimSpace(c.Version) == "" || strings.TrimSpace(c.Task) == "" {
		return bad("name, version and task are required")
	}
	switch c.Status {
	case StatusDemonstration, StatusResearch, StatusValidated:
	default:
		return bad("status %q is not demonstration, research or validated", c.Status)
	}
	if err := c.validateIntendedUse(); err != nil {
		return bad("%v", err)
	}
	if err := c.validateArtifact(); err != nil {
		return bad("artifact: %v", err)
	}
	if err := c.validateTensors(); err != nil {
		return bad("%v", err)
	}
	for _, list := range []struct {
		name     string
		features []Feature
	}{{"genes", c.Genes}, {"proteins", c.Proteins}} {
		if err := validateFeatures(list.features); err != nil {
			return bad("%s: %v", list.name, err)
		}
	}
	for _, r := range c.Rules {
		if r.Name == "" || r.Feature == "" || r.Formula == "" {
			return bad("rule %q: name, feature and formula are required", r.Name)
		}
		if err := r.Bands.validate(); err != nil {
			return bad("rule %s: %v", r.Name, err)
		}
		if len(r.Interpretations) != 0 && len(r.Interpretations) != len(r.Bands.Labels) {
			return bad("rule %s: %d interpretations for %d bands", r.Name, len(r.Interpretations), len(r.Bands.Labels))
		}
	}
	for _, u := range c.Upstream {
		if u.Input == "" || u.ModelID == "" {
			return bad("upstream: input and model_id are required")
		}
		if c.input(u.Input) == nil {
			return bad("upstream names input %q, which the card does not declare", u.Input)
		}
		if u.SHA256 != "" && !sha256Pattern.MatchString(u.SHA256) {
			return bad("upstream %s: sha256 must be 64 lower-case hex digits", u.ModelID)
		}
	}
	if strings.TrimSpace(c.TrainingData.Kind) == "" || strings.TrimSpace(c.TrainingData.Description) == "" {
		return bad("training_data: kind and description are required")
	}
	if strings.TrimSpace(c.Evaluation.Dataset) == "" {
		return bad("evaluation: dataset is required (say \"none\" when the model was not evaluated)")
	}
	for _, m := range c.Evaluation.Metrics {
		if m.Name == "" || math.IsNaN(m.Value) || math.IsInf(m.Value, 0) {
			return bad("evaluation: metric %q needs a name and a finite value", m.Name)
		}
	}
	if len(c.Limitations) == 0 {
		return bad("limitations: at least one is required")
	}
	return nil
}

func (c *Card) validateIntendedUse() error {
	u := c.IntendedUse
	if strings.TrimSpace(u.Summary) == "" || strings.TrimSpace(u.Banner) == "" {
		return errors.New("intended_use: summary and banner are required")
	}
	if c.Status != StatusValidated && !u.NotForClinicalUse {
		return fmt.Errorf("intended_use: a %s model must set not_for_clinical_use", c.Status)
	}
	if u.NotForClinicalUse && !strings.Contains(strings.ToLower(u.Banner), NotForClinicalUse) {
		return fmt.Errorf("intended_use: the banner must say %q", NotForClinicalUse)
	}
	return nil
}

func (c *Card) validateArtifact() error {
	a := c.Artifact
	if a.File == "" || strings.ContainsAny(a.File, `/\`) || a.File == "." || a.File == ".." ||
		!strings.HasSuffix(a.File, ".onnx") {
		return fmt.Errorf("file %q must be a plain .onnx file name beside the card", a.File)
	}
	if !sha256Pattern.MatchString(a.SHA256) {
		return fmt.Errorf("sha256 %q must be 64 lower-case hex digits", a.SHA256)
	}
	if a.SizeBytes <= 0 {
		return fmt.Errorf("size_bytes %d must be positive", a.SizeBytes)
	}
	return nil
}

func (c *Card) validateTensors() error {
	if len(c.Inputs) == 0 || len(c.Outputs) == 0 {
		return errors.New("at least one input and one output are required")
	}
	seen := map[string]bool{}
	check := func(kind string, t TensorSpec) error {
		if t.Name == "" {
			return fmt.Errorf("%s without a name", kind)
		}
		if seen[t.Name] {
			return fmt.Errorf("%s %q is declared twice", kind, t.Name)
		}
		seen[t.Name] = true
		if !dtypes[t.DType] {
			return fmt.Errorf("%s %s: dtype %q is not supported", kind, t.Name, t.DType)
		}
		if err := t.Shape.validate(); err != nil {
			return fmt.Errorf("%s %s: shape: %v", kind, t.Name, err)
		}
		if t.ExampleShape != nil {
			if err := t.Shape.Accepts(t.ExampleShape); err != nil {
				return fmt.Errorf("%s %s: example_shape: %v", kind, t.Name, err)
			}
		}
		return nil
	}
	for _, in := range c.Inputs {
		if err := check("input", in.TensorSpec); err != nil {
			return err
		}
		if len(in.ChannelOrder) > 0 && in.Preprocessing != nil && in.Preprocessing.Features != "" {
			return fmt.Errorf("input %s: channel_order and a feature list are exclusive", in.Name)
		}
		if p := in.Preprocessing; p != nil && p.Features != "" {
			n := len(c.featureList(p.Features))
			if n == 0 {
				return fmt.Errorf("input %s: preprocessing.features %q names no list in the card", in.Name, p.Features)
			}
			last := in.Shape[len(in.Shape)-1]
			if last.IsFixed() && last.Value != int64(n) {
				return fmt.Errorf("input %s: last dimension %d but %d %s", in.Name, last.Value, n, p.Features)
			}
		}
		if p := in.Preprocessing; p != nil {
			if err := p.validate(); err != nil {
				return fmt.Errorf("input %s: preprocessing: %v", in.Name, err)
			}
		}
		if in.IdleShape != nil {
			if err := in.Shape.Accepts(in.IdleShape); err != nil {
				return fmt.Errorf("input %s: idle_shape: %v", in.Name, err)
			}
		}
	}
	for _, out := range c.Outputs {
		if err := check("output", out.TensorSpec); err != nil {
			return err
		}
		if len(out.Labels) > 0 && len(out.Shape) > 0 {
			last := out.Shape[len(out.Shape)-1]
			if last.IsFixed() && last.Value != int64(len(out.Labels)) {
				return fmt.Errorf("output %s: %d labels for a last dimension of %d", out.Name, len(out.Labels), last.Value)
			}
		}
		if out.Bands != nil {
			if err := out.Bands.validate(); err != nil {
				return fmt.Errorf("output %s: %v", out.Name, err)
			}
		}
		for _, r := range out.Regions {
			if (len(r.Classes) > 0) == (r.Channel != nil) {
				return fmt.Errorf("output %s: region %s needs classes (softmax) or a channel (sigmoid), not both", out.Name, r.Name)
			}
			for _, k := range r.Classes {
				if !hasClass(out.Classes, k) {
					return fmt.Errorf("output %s: region %s names class %d, which is not declared", out.Name, r.Name, k)
				}
			}
			if r.Channel != nil && (*r.Channel < 0 || !(r.Threshold > 0 && r.Threshold < 1)) {
				return fmt.Errorf("output %s: region %s needs a channel ≥ 0 and a threshold in (0, 1)", out.Name, r.Name)
			}
		}
	}
	return nil
}

func (p *Preprocessing) validate() error {
	if p.MaxMissingFraction < 0 || p.MaxMissingFraction > 1 {
		return fmt.Errorf("max_missing_fraction %v is not within [0, 1]", p.MaxMissingFraction)
	}
	if p.Window != nil {
		if len(p.Size) > 0 {
			return errors.New("size and window are exclusive")
		}
		if err := p.Window.validate(); err != nil {
			return fmt.Errorf("window: %v", err)
		}
	}
	for _, s := range p.SpacingMM {
		if !(s > 0) || math.IsInf(s, 0) {
			return fmt.Errorf("spacing_mm %v must be positive", p.SpacingMM)
		}
	}
	switch p.Normalisation {
	case NormPercentile:
		if len(p.Percentiles) != 2 || !(p.Percentiles[0] >= 0 && p.Percentiles[0] < p.Percentiles[1] && p.Percentiles[1] <= 100) {
			return fmt.Errorf("percentiles %v: want [lower, upper] with 0 ≤ lower < upper ≤ 100", p.Percentiles)
		}
		if len(p.ScaleRange) != 2 || !(p.ScaleRange[0] < p.ScaleRange[1]) || math.IsInf(p.ScaleRange[1]-p.ScaleRange[0], 0) {
			return fmt.Errorf("scale_range %v: want [low, high] with low < high", p.ScaleRange)
		}
	case NormFixed:
		if len(p.ChannelMean) == 0 || len(p.ChannelMean) != len(p.ChannelSD) {
			return fmt.Errorf("channel_mean and channel_sd need one value per channel (%d and %d)", len(p.ChannelMean), len(p.ChannelSD))
		}
		for c := range p.ChannelMean {
			if math.IsNaN(p.ChannelMean[c]) || math.IsInf(p.ChannelMean[c], 0) || !(p.ChannelSD[c] > 0) || math.IsInf(p.ChannelSD[c], 0) {
				return fmt.Errorf("channel %d: mean must be finite and sd positive (got %v, %v)", c, p.ChannelMean[c], p.ChannelSD[c])
			}
		}
	}
	seen := map[string]bool{}
	for _, f := range p.TestTimeFlips {
		key, err := flipKey(f)
		if err != nil {
			return err
		}
		if seen[key] {
			return fmt.Errorf("test_time_flips lists %q twice", f)
		}
		seen[key] = true
	}
	return nil
}

// flipKey checks a test-time flip ("x", "yz"…) and returns its axes in x, y, z order.
func flipKey(f string) (string, error) {
	var has [3]bool
	for _, r := range f {
		i := strings.IndexRune("xyz", r)
		if i < 0 || has[i] {
			return "", fmt.Errorf("test-time flip %q: want distinct axes among x, y and z", f)
		}
		has[i] = true
	}
	if f == "" {
		return "", errors.New("test-time flip \"\": the plain run is always made; name axes")
	}
	key := ""
	for i, h := range has {
		if h {
			key += string("xyz"[i])
		}
	}
	return key, nil
}

func (w *Window) validate() error {
	if len(w.ROI) != 3 {
		return fmt.Errorf("roi %v: want three sizes (D, H, W)", w.ROI)
	}
	for _, r := range w.ROI {
		if r < 1 || r > 1024 {
			return fmt.Errorf("roi %v: sizes must be within 1–1024", w.ROI)
		}
	}
	if !(w.Overlap >= 0 && w.Overlap < 1) {
		return fmt.Errorf("overlap %v is not within [0, 1)", w.Overlap)
	}
	switch w.Blend {
	case BlendConstant, BlendGaussian:
	default:
		return fmt.Errorf("blend %q is not %q or %q", w.Blend, BlendConstant, BlendGaussian)
	}
	if w.SigmaScale < 0 || w.SigmaScale > 10 || w.Batch < 0 || w.Batch > 1024 {
		return fmt.Errorf("sigma_scale %v must be within [0, 10] and batch %d within [0, 1024]", w.SigmaScale, w.Batch)
	}
	return nil
}

func hasClass(classes []Class, index int) bool {
	for _, c := range classes {
		if c.Index == index {
			return true
		}
	}
	return false
}

func (b *Bands) validate() error {
	if len(b.Labels) != len(b.Cuts)+1 {
		return fmt.Errorf("bands: %d labels for %d cuts (want one more label than cuts)", len(b.Labels), len(b.Cuts))
	}
	for i, c := range b.Cuts {
		if math.IsNaN(c) || math.IsInf(c, 0) || (i > 0 && c <= b.Cuts[i-1]) {
			return fmt.Errorf("bands: cuts %v must be finite and increasing", b.Cuts)
		}
	}
	return nil
}

func validateFeatures(features []Feature) error {
	seen := map[string]int{}
	for i, f := range features {
		if !symbolPattern.MatchString(f.Symbol) {
			return fmt.Errorf("entry %d: symbol %q is not a valid gene or protein name", i, f.Symbol)
		}
		key := FeatureKey(f.Symbol)
		if j, dup := seen[key]; dup {
			return fmt.Errorf("entries %d and %d are both %q", j, i, f.Symbol)
		}
		seen[key] = i
		if math.IsNaN(f.Mean) || math.IsInf(f.Mean, 0) || !(f.SD > 0) || math.IsInf(f.SD, 0) {
			return fmt.Errorf("%s: mean must be finite and sd positive and finite (got %v, %v)", f.Symbol, f.Mean, f.SD)
		}
	}
	return nil
}

// FeatureKey is the form in which gene and protein names are compared: trimmed and upper-case.
func FeatureKey(symbol string) string {
	return strings.ToUpper(strings.TrimSpace(symbol))
}

func (c *Card) featureList(name string) []Feature {
	switch name {
	case "genes":
		return c.Genes
	case "proteins":
		return c.Proteins
	}
	return nil
}

func (c *Card) input(name string) *Input {
	for i := range c.Inputs {
		if c.Inputs[i].Name == name {
			return &c.Inputs[i]
		}
	}
	return nil
}

// Input returns the input with that name, or nil.
func (c *Card) Input(name string) *Input { return c.input(name) }

// Output returns the output with that name, or nil.
func (c *Card) Output(name string) *Output {
	for i := range c.Outputs {
		if c.Outputs[i].Name == name {
			return &c.Outputs[i]
		}
	}
	return nil
}

// Rule returns the rule with that name, or nil.
func (c *Card) Rule(name string) *Rule {
	for i := range c.Rules {
		if c.Rules[i].Name == name {
			return &c.Rules[i]
		}
	}
	return nil
}

// UpstreamFor returns the upstream model declared for an input, or nil.
func (c *Card) UpstreamFor(input string) *Upstream {
	for i := range c.Upstream {
		if c.Upstream[i].Input == input {
			return &c.Upstream[i]
		}
	}
	return nil
}

// FeatureList returns the ordered list an input's last axis follows ("genes" or "proteins"), or nil.
func (c *Card) FeatureList(name string) []Feature { return c.featureList(name) }
