package ort

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	onnx "github.com/yalue/onnxruntime_go"
)

// TensorInfo is an input or output as the card declares it; -1 marks a symbolic dimension.
type TensorInfo struct {
	Name  string
	DType string // card spelling: float32, int64…
	Shape []int64
}

// Spec is what Load needs: the verified model bytes and the signature they must have.
type Spec struct {
	Key     string // cache key, for example "mg-demo@<sha256>"
	ONNX    []byte
	Inputs  []TensorInfo
	Outputs []TensorInfo
	// WarmUp gives each input a concrete shape for one zero-filled run at load time; nil skips the warm-up.
	WarmUp map[string][]int64
}

// ProviderReport says which execution provider a session runs on and why.
type ProviderReport struct {
	Requested    Provider `json:"requested"`
	Used         Provider `json:"used"`
	Reason       string   `json:"reason"`
	CUDADeviceID *int     `json:"cuda_device_id,omitempty"`
}

// LoadTimings are the stages of creating a session.
type LoadTimings struct {
	Check  time.Duration // reading the model's signature and comparing it with the card
	Create time.Duration // creating the session (provider set-up included)
	WarmUp time.Duration
}

// Tensor is a dense float32 tensor in row-major order.
type Tensor struct {
	Shape []int64
	Data  []float32
}

// Session is a loaded model. Run may be called from several goroutines at once.
type Session struct {
	mu       sync.RWMutex // Run holds it shared; destroy exclusively
	key      string
	session  *onnx.DynamicAdvancedSession
	inputs   []TensorInfo
	outputs  []TensorInfo
	provider ProviderReport
	timings  LoadTimings
}

// Key is the cache key the session was loaded under.
func (s *Session) Key() string { return s.key }

// Provider reports the execution provider in use.
func (s *Session) Provider() ProviderReport { return s.provider }

// LoadTimings reports how long loading took.
func (s *Session) LoadTimings() LoadTimings { return s.timings }

// Inputs are the checked input signatures, in the order Run feeds them.
func (s *Session) Inputs() []TensorInfo { return slices.Clone(s.inputs) }

// Outputs are the checked output signatures.
func (s *Session) Outputs() []TensorInfo { return slices.Clone(s.outputs) }

func (s *Session) destroy() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.session == nil {
		return nil
	}
	err := s.session.Destroy()
	s.session = nil
	return err
}

func (e *Engine) newSession(ctx context.Context, spec Spec) (*Session, error) {
	for _, t := range append(slices.Clone(spec.Inputs), spec.Outputs...) {
		if t.DType != "float32" {
			return nil, fmt.Errorf("%w: %s is %s; this engine feeds and reads float32 tensors only", ErrUnsupportedType, t.Name, t.DType)
		}
	}
	s := &Session{key: spec.Key, inputs: spec.Inputs, outputs: spec.Outputs}

	start := time.Now()
	if err := checkSignature(spec); err != nil {
		return nil, err
	}
	s.timings.Check = time.Since(start)

	start = time.Now()
	var err error
	s.session, s.provider, err = e.createSession(spec)
	if err != nil {
		return nil, err
	}
	s.timings.Create = time.Since(start)
	e.cfg.logger.Debug("model session created", "key", spec.Key, "provider", s.provider.Used,
		"reason", s.provider.Reason, "threads", e.cfg.intraOpThreads, "create", s.timings.Create)

	if spec.WarmUp != nil {
		start = time.Now()
		if err := s.warmUp(ctx, spec.WarmUp); err != nil {
			s.destroy()
			return nil, fmt.Errorf("warm-up: %w", err)
		}
		s.timings.WarmUp = time.Since(start)
	}
	return s, nil
}

// createSession applies the provider policy: cpu as asked; cuda or an ErrProviderUnavailable; auto tries CUDA
// and falls back to CPU, keeping the reason.
func (e *Engine) createSession(spec Spec) (*onnx.DynamicAdvancedSession, ProviderReport, error) {
	report := ProviderReport{Requested: e.cfg.provider}
	if e.cfg.provider == ProviderCPU {
		s, err := e.createWith(spec, false)
		report.Used, report.Reason = ProviderCPU, "CPU requested"
		return s, report, err
	}
	cudaErr := e.cudaBroken
	if cudaErr == nil {
		s, err := e.createWith(spec, true)
		if err == nil {
			dev := e.cfg.cudaDevice
			report.Used, report.Reason, report.CUDADeviceID = ProviderCUDA, "CUDA "+string(e.cfg.provider)+" request succeeded", &dev
			return s, report, nil
		}
		cudaErr = err
	}
	if e.cfg.provider == ProviderCUDA {
		return nil, report, fmt.Errorf("%w: CUDA was requested explicitly: %v", ErrProviderUnavailable, cudaErr)
	}
	e.cfg.logger.Warn("CUDA unavailable; running on CPU", "key", spec.Key, "reason", cudaErr)
	s, err := e.createWith(spec, false)
	report.Used, report.Reason = ProviderCPU, "CUDA unavailable, fell back to CPU: "+cudaErr.Error()
	return s, report, err
}

func (e *Engine) createWith(spec Spec, cuda bool) (*onnx.DynamicAdvancedSession, error) {
	opts, err := onnx.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("session options: %w", err)
	}
	defer opts.Destroy()
	if err := opts.SetIntraOpNumThreads(e.cfg.intraOpThreads); err != nil {
		return nil, fmt.Errorf("intra-op threads: %w", err)
	}
	if err := opts.SetInterOpNumThreads(1); err != nil {
		return nil, fmt.Errorf("inter-op threads: %w", err)
	}
	if cuda {
		if err := e.appendCUDA(opts); err != nil {
			// The library cannot provide CUDA at all: remember it so later sessions do not retry.
			e.cudaBroken = err
			return nil, err
		}
	}
	names := func(ts []TensorInfo) []string {
		out := make([]string, len(ts))
		for i, t := range ts {
			out[i] = t.Name
		}
		return out
	}
	s, err := onnx.NewDynamicAdvancedSessionWithONNXData(spec.ONNX, names(spec.Inputs), names(spec.Outputs), opts)
	if err != nil {
		return nil, fmt.Errorf("create session: %w", err)
	}
	return s, nil
}

func (e *Engine) appendCUDA(opts *onnx.SessionOptions) error {
	cudaOpts, err := onnx.NewCUDAProviderOptions()
	if err != nil {
		return fmt.Errorf("CUDA provider options: %w", err)
	}
	defer cudaOpts.Destroy()
	settings := map[string]string{"device_id": strconv.Itoa(e.cfg.cudaDevice)}
	if e.cfg.cudaMemoryLimit > 0 {
		settings["gpu_mem_limit"] = strconv.FormatInt(e.cfg.cudaMemoryLimit, 10)
	}
	if err := cudaOpts.Update(settings); err != nil {
		return fmt.Errorf("CUDA provider settings %v: %w", settings, err)
	}
	if err := opts.AppendExecutionProviderCUDA(cudaOpts); err != nil {
		return fmt.Errorf("append CUDA provider: %w", err)
	}
	return nil
}

// dtypeNames maps ONNX Runtime element types to the card spelling.
var dtypeNames = map[onnx.TensorElementDataType]string{
	onnx.TensorElementDataTypeFloat:   "float32",
	onnx.TensorElementDataTypeFloat16: "float16",
	onnx.TensorElementDataTypeDouble:  "float64",
	onnx.TensorElementDataTypeInt64:   "int64",
	onnx.TensorElementDataTypeInt32:   "int32",
	onnx.TensorElementDataTypeUint8:   "uint8",
	onnx.TensorElementDataTypeInt8:    "int8",
	onnx.TensorElementDataTypeBool:    "bool",
}

// checkSignature compares the model's inputs and outputs, as ONNX Runtime reads them, with the card: the same
// names, element types and shapes (symbolic where the card is symbolic).
func checkSignature(spec Spec) error {
	inputs, outputs, err := onnx.GetInputOutputInfoWithONNXData(spec.ONNX)
	if err != nil {
		return fmt.Errorf("read the model's inputs and outputs: %w", err)
	}
	var problems []string
	compare := func(kind string, want []TensorInfo, have []onnx.InputOutputInfo) {
		byName := map[string]onnx.InputOutputInfo{}
		for _, h := range have {
			byName[h.Name] = h
		}
		for _, w := range want {
			h, ok := byName[w.Name]
			if !ok {
				problems = append(problems, fmt.Sprintf("the card's %s %q is not in the model (model %ss: %s)", kind, w.Name, kind, infoNames(have)))
				continue
			}
			delete(byName, w.Name)
			if h.OrtValueType != onnx.ONNXTypeTensor {
				problems = append(problems, fmt.Sprintf("%s %s is a %v in the model, not a tensor", kind, w.Name, h.OrtValueType))
				continue
			}
			if got := dtypeName(h.DataType); got != w.DType {
				problems = append(problems, fmt.Sprintf("%s %s: card says %s, model has %s", kind, w.Name, w.DType, got))
			}
			if !shapesMatch(w.Shape, h.Dimensions) {
				problems = append(problems, fmt.Sprintf("%s %s: card says shape %s, model has %s", kind, w.Name, shapeString(w.Shape), shapeString(h.Dimensions)))
			}
		}
		for name := range byName {
			problems = append(problems, fmt.Sprintf("the model's %s %q is not in the card", kind, name))
		}
	}
	compare("input", spec.Inputs, inputs)
	compare("output", spec.Outputs, outputs)
	if len(problems) > 0 {
		slices.Sort(problems)
		return fmt.Errorf("%w: %s", ErrSignatureMismatch, strings.Join(problems, "; "))
	}
	return nil
}

func dtypeName(t onnx.TensorElementDataType) string {
	if n, ok := dtypeNames[t]; ok {
		return n
	}
	return t.String()
}

func infoNames(infos []onnx.InputOutputInfo) string {
	names := make([]string, len(infos))
	for i, info := range infos {
		names[i] = info.Name
	}
	return strings.Join(names, ", ")
}

func shapesMatch(card []int64, model onnx.Shape) bool {
	if len(card) != len(model) {
		return false
	}
	for i := range card {
		symbolicCard, symbolicModel := card[i] < 0, model[i] < 0
		if symbolicCard != symbolicModel || (!symbolicCard && card[i] != model[i]) {
			return false
		}
	}
	return true
}

func shapeString[T ~[]int64](s T) string {
	parts := make([]string, len(s))
	for i, d := range s {
		if d < 0 {
			parts[i] = "?"
		} else {
			parts[i] = strconv.FormatInt(d, 10)
		}
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func (s *Session) warmUp(ctx context.Context, shapes map[string][]int64) error {
	inputs := map[string]Tensor{}
	for _, in := range s.inputs {
		shape, ok := shapes[in.Name]
		if !ok {
			return fmt.Errorf("no warm-up shape for input %s", in.Name)
		}
		n, err := elementCount(shape)
		if err != nil {
			return fmt.Errorf("input %s: %w", in.Name, err)
		}
		inputs[in.Name] = Tensor{Shape: shape, Data: make([]float32, n)}
	}
	_, err := s.Run(ctx, inputs)
	return err
}

// maxElements caps one tensor (16 Gi float32 values would be 64 GiB).
const maxElements = 1 << 34

func elementCount(shape []int64) (int, error) {
	n := int64(1)
	for _, d := range shape {
		if d <= 0 {
			return 0, fmt.Errorf("%w: shape %v has a non-positive dimension", ErrBadInput, shape)
		}
		if n > maxElements/d {
			return 0, fmt.Errorf("%w: shape %v has more than %d elements", ErrBadInput, shape, int64(maxElements))
		}
		n *= d
	}
	return int(n), nil
}

// Run feeds every input the card declares and returns every output. Cancelling ctx terminates the run.
func (s *Session) Run(ctx context.Context, inputs map[string]Tensor) (map[string]Tensor, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.session == nil {
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	values := make([]onnx.Value, len(s.inputs))
	defer func() {
		for _, v := range values {
			if v != nil {
				v.Destroy()
			}
		}
	}()
	for i, in := range s.inputs {
		t, ok := inputs[in.Name]
		if !ok {
			return nil, fmt.Errorf("%w: input %s not given", ErrBadInput, in.Name)
		}
		if err := fits(in, t); err != nil {
			return nil, err
		}
		v, err := onnx.NewTensor(onnx.NewShape(t.Shape...), t.Data)
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", in.Name, err)
		}
		values[i] = v
	}
	if len(inputs) != len(s.inputs) {
		for name := range inputs {
			if !slices.ContainsFunc(s.inputs, func(t TensorInfo) bool { return t.Name == name }) {
				return nil, fmt.Errorf("%w: the model has no input %s", ErrBadInput, name)
			}
		}
	}

	outputs := make([]onnx.Value, len(s.outputs))
	defer func() {
		for _, v := range outputs {
			if v != nil {
				v.Destroy()
			}
		}
	}()
	runOpts, err := onnx.NewRunOptions()
	if err != nil {
		return nil, fmt.Errorf("run options: %w", err)
	}
	defer runOpts.Destroy()
	if done := ctx.Done(); done != nil {
		finished := make(chan struct{})
		defer close(finished)
		go func() {
			select {
			case <-done:
				runOpts.Terminate()
			case <-finished:
			}
		}()
	}
	if err := s.session.RunWithOptions(values, outputs, runOpts); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("run %s: %w", s.key, ctxErr)
		}
		return nil, fmt.Errorf("run %s: %w", s.key, err)
	}
	result := make(map[string]Tensor, len(outputs))
	for i, out := range s.outputs {
		t, ok := outputs[i].(*onnx.Tensor[float32])
		if !ok {
			return nil, fmt.Errorf("%w: output %s is not a float32 tensor", ErrUnsupportedType, out.Name)
		}
		result[out.Name] = Tensor{Shape: slices.Clone([]int64(t.GetShape())), Data: slices.Clone(t.GetData())}
	}
	return result, nil
}

func fits(want TensorInfo, t Tensor) error {
	n, err := elementCount(t.Shape)
	if err != nil {
		return fmt.Errorf("input %s: %w", want.Name, err)
	}
	if len(t.Shape) != len(want.Shape) {
		return fmt.Errorf("%w: input %s has shape %v, want rank %d as in %s", ErrBadInput, want.Name, t.Shape, len(want.Shape), shapeString(want.Shape))
	}
	for i, d := range want.Shape {
		if d >= 0 && t.Shape[i] != d {
			return fmt.Errorf("%w: input %s has shape %v, want %s", ErrBadInput, want.Name, t.Shape, shapeString(want.Shape))
		}
	}
	if n != len(t.Data) {
		return fmt.Errorf("%w: input %s has shape %v (%d values) but %d values were given", ErrBadInput, want.Name, t.Shape, n, len(t.Data))
	}
	return nil
}
