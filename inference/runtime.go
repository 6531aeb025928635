// Package inference ties the model registry (inference/model) to ONNX Runtime (inference/ort): Runtime loads a
// model by id or family, verifying its sha256 and its signature against the card, warms it up and caches it;
// Provenance is the part every result (M1, MG, MM) shares. The pipelines live in sub-packages (inference/mg,
// inference/mm).
package inference

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/neuronova/neuronova/inference/model"
	"github.com/neuronova/neuronova/inference/ort"
)

// ErrWrongFamily reports a model of another family than the pipeline runs.
var ErrWrongFamily = errors.New("model belongs to another family")

// Runtime loads models from a registry into an engine. It is safe for concurrent use.
type Runtime struct {
	registry *model.Registry
	engine   *ort.Engine
	warmUp   bool

	mu     sync.Mutex
	loaded map[string]*Model
}

// RuntimeOption configures NewRuntime.
type RuntimeOption func(*Runtime)

// WithoutWarmUp skips the zero-filled run at load time (for measuring the first run itself).
func WithoutWarmUp() RuntimeOption { return func(r *Runtime) { r.warmUp = false } }

// NewRuntime returns a runtime over a registry and an engine.
func NewRuntime(registry *model.Registry, engine *ort.Engine, opts ...RuntimeOption) *Runtime {
	r := &Runtime{registry: registry, engine: engine, warmUp: true, loaded: map[string]*Model{}}
	for _, opt := range opts {
		opt(r)
	}
	return r
}

// Registry is the runtime's model registry.
func (r *Runtime) Registry() *model.Registry { return r.registry }

// Engine is the runtime's ONNX Runtime engine.
func (r *Runtime) Engine() *ort.Engine { return r.engine }

// Model is a loaded model: its card and a session checked against it.
type Model struct {
	Card    *model.Card
	Source  string
	Session *ort.Session
	Load    LoadRecord
	runtime RuntimeRef
}

// LoadRecord says how the model was loaded.
type LoadRecord struct {
	Read     time.Duration // reading the file and verifying its sha256 against the card
	Check    time.Duration // signature against the card
	Create   time.Duration // session creation
	WarmUp   time.Duration
	LoadedAt time.Time
}

// Load returns the model with that id, loading it the first time.
func (r *Runtime) Load(ctx context.Context, id string) (*Model, error) {
	entry, err := r.registry.Get(id)
	if err != nil {
		return nil, err
	}
	return r.load(ctx, entry)
}

// LoadFamily returns the model with that id if id is not empty, else the registry's default model of the family;
// either way it must belong to the family.
func (r *Runtime) LoadFamily(ctx context.Context, family model.Family, id string) (*Model, error) {
	var entry model.Entry
	var err error
	if id != "" {
		entry, err = r.registry.Get(id)
	} else {
		entry, err = r.registry.Default(family)
	}
	if err != nil {
		return nil, err
	}
	if entry.Card.Family != family {
		return nil, fmt.Errorf("%w: %s is an %s model, not %s", ErrWrongFamily, entry.Card.ID, entry.Card.Family, family)
	}
	return r.load(ctx, entry)
}

func (r *Runtime) load(ctx context.Context, entry model.Entry) (*Model, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	card := entry.Card
	if m, ok := r.loaded[card.ID]; ok {
		return m, nil
	}
	rec := LoadRecord{LoadedAt: time.Now()}
	start := time.Now()
	data, err := entry.ReadArtifact()
	if err != nil {
		return nil, err
	}
	rec.Read = time.Since(start) // reading and verifying the sha256
	spec := ort.Spec{Key: card.ID + "@" + card.Artifact.SHA256, ONNX: data}
	for _, in := range card.Inputs {
		spec.Inputs = append(spec.Inputs, ort.TensorInfo{Name: in.Name, DType: in.DType, Shape: in.Shape.Int64s()})
	}
	for _, out := range card.Outputs {
		spec.Outputs = append(spec.Outputs, ort.TensorInfo{Name: out.Name, DType: out.DType, Shape: out.Shape.Int64s()})
	}
	if r.warmUp {
		spec.WarmUp = map[string][]int64{}
		for _, in := range card.Inputs {
			spec.WarmUp[in.Name] = ExampleShape(in.TensorSpec)
		}
	}
	session, err := r.engine.Load(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("model %s (%s): %w", card.ID, entry.Source, err)
	}
	t := session.LoadTimings()
	rec.Check, rec.Create, rec.WarmUp = t.Check, t.Create, t.WarmUp
	m := &Model{Card: card, Source: entry.Source, Session: session, Load: rec, runtime: RuntimeRef{
		Engine:         "onnxruntime",
		ORTVersion:     r.engine.ORTVersion(),
		Binding:        ort.BindingVersion,
		Provider:       session.Provider(),
		IntraOpThreads: r.engine.IntraOpThreads(),
		ModelLoad: LoadTimings{
			ReadAndVerifyMS: ms(rec.Read), CheckMS: ms(rec.Check), CreateMS: ms(rec.Create), WarmUpMS: ms(rec.WarmUp),
		},
		ModelLoadedAt: rec.LoadedAt.UTC(),
	}}
	r.loaded[card.ID] = m
	return m, nil
}

// ExampleShape is the card's example shape of a tensor, or its shape with every symbolic dimension set to 1: what
// warm-up runs feed.
func ExampleShape(t model.TensorSpec) []int64 {
	if t.ExampleShape != nil {
		return t.ExampleShape
	}
	s := t.Shape.Int64s()
	for i, d := range s {
		if d < 0 {
			s[i] = 1
		}
	}
	return s
}

// Preload loads (and warms up) the default model of each family at start-up, so that the first request does not
// pay for it. A family without a model is skipped; any other error is returned.
func (r *Runtime) Preload(ctx context.Context, families ...model.Family) error {
	for _, f := range families {
		if _, err := r.LoadFamily(ctx, f, ""); err != nil && !errors.Is(err, model.ErrNotFound) {
			return err
		}
	}
	return nil
}

// Run runs the model's session.
func (m *Model) Run(ctx context.Context, inputs map[string]ort.Tensor) (map[string]ort.Tensor, error) {
	return m.Session.Run(ctx, inputs)
}

// Provenance starts the provenance of a result produced by this model; the pipeline adds inputs, timings and
// warnings.
func (m *Model) Provenance() Provenance {
	c := m.Card
	return Provenance{
		Schema:            ResultSchema,
		Banner:            c.IntendedUse.Banner,
		NotForClinicalUse: c.IntendedUse.NotForClinicalUse,
		Model: ModelRef{
			ID: c.ID, Family: c.Family, Name: c.Name, Version: c.Version, Status: c.Status,
			SHA256: c.Artifact.SHA256, Source: m.Source,
		},
		Runtime:   m.runtime,
		CreatedAt: time.Now().UTC(),
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
