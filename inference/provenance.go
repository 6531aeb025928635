package inference

import (
	"time"

	"github.com/neuronova/neuronova/inference/model"
	"github.com/neuronova/neuronova/inference/ort"
)

// ResultSchema identifies the JSON result format shared by the M1, MG and MM pipelines.
const ResultSchema = "neuronova.inference-result/1"

// Provenance says which model made a result, on what, with what and how long each stage took. Every pipeline
// result carries one, and with it the model's banner.
type Provenance struct {
	Schema            string        `json:"schema"`
	Banner            string        `json:"banner"`
	NotForClinicalUse bool          `json:"not_for_clinical_use"`
	Model             ModelRef      `json:"model"`
	Runtime           RuntimeRef    `json:"runtime"`
	Inputs            []InputRef    `json:"inputs"`
	Timings           []StageTiming `json:"timings"`
	Warnings          []string      `json:"warnings,omitempty"`
	CreatedAt         time.Time     `json:"created_at"`
}

// ModelRef identifies the exact model.
type ModelRef struct {
	ID      string       `json:"id"`
	Family  model.Family `json:"family"`
	Name    string       `json:"name"`
	Version string       `json:"version"`
	Status  model.Status `json:"status"`
	SHA256  string       `json:"sha256"`
	Source  string       `json:"source"`
}

// RuntimeRef identifies the runtime and the execution provider that ran, with the reason it was chosen.
type RuntimeRef struct {
	Engine         string             `json:"engine"`
	ORTVersion     string             `json:"ort_version"`
	Binding        string             `json:"binding"`
	Provider       ort.ProviderReport `json:"provider"`
	IntraOpThreads int                `json:"intra_op_threads"`
	ModelLoad      LoadTimings        `json:"model_load"`
	ModelLoadedAt  time.Time          `json:"model_loaded_at"`
}

// LoadTimings are the stages of loading the model (once per process; later results share the session).
type LoadTimings struct {
	ReadAndVerifyMS float64 `json:"read_and_verify_ms"`
	CheckMS         float64 `json:"signature_check_ms"`
	CreateMS        float64 `json:"session_create_ms"`
	WarmUpMS        float64 `json:"warm_up_ms"`
}

// Input kinds.
const (
	InputGeneCSV    = "gene-expression-csv"
	InputProteinCSV = "rppa-csv"
	InputEmbedding  = "embedding"
	InputMRISeries  = "mri-series"
	InputMissing    = "missing"
)

// InputRef is one input a result was computed from.
type InputRef struct {
	Kind      string       `json:"kind"`
	Role      string       `json:"role,omitempty"` // the model input or channel it fed: T1CE, gene_features…
	Name      string       `json:"name,omitempty"` // file name or description
	SHA256    string       `json:"sha256,omitempty"`
	StudyUID  string       `json:"study_uid,omitempty"`
	SeriesUID string       `json:"series_uid,omitempty"`
	Upstream  *UpstreamRef `json:"upstream,omitempty"` // the model that produced this input
	Note      string       `json:"note,omitempty"`
}

// UpstreamRef is the model that produced an input, and whether it was checked against the card.
type UpstreamRef struct {
	ModelID  string `json:"model_id"`
	Version  string `json:"version,omitempty"`
	SHA256   string `json:"sha256,omitempty"`
	Verified bool   `json:"verified"`
}

// StageTiming is the wall time of one stage.
type StageTiming struct {
	Stage        string  `json:"stage"`
	Milliseconds float64 `json:"ms"`
}

// Stopwatch records consecutive stages.
type Stopwatch struct {
	last   time.Time
	stages []StageTiming
}

// StartStopwatch starts timing the first stage.
func StartStopwatch() *Stopwatch { return &Stopwatch{last: time.Now()} }

// Lap ends the current stage under that name and starts the next.
func (s *Stopwatch) Lap(stage string) {
	now := time.Now()
	s.stages = append(s.stages, StageTiming{Stage: stage, Milliseconds: ms(now.Sub(s.last))})
	s.last = now
}

// Add records a stage measured elsewhere.
func (s *Stopwatch) Add(stage string, d time.Duration) {
	s.stages = append(s.stages, StageTiming{Stage: stage, Milliseconds: ms(d)})
}

// Stages returns the recorded stages.
func (s *Stopwatch) Stages() []StageTiming { return append([]StageTiming(nil), s.stages...) }
