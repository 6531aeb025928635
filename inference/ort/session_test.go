package ort

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/neuronova/neuronova/inference/onnxpb"
)

// affineONNX is y = Relu(x·W + b) for x of shape [N 3], written with onnxpb.
func affineONNX(t testing.TB) []byte {
	t.Helper()
	b := onnxpb.NewBuilder("affine")
	x := b.Input("x", onnxpb.Float32, onnxpb.Symbolic("N"), onnxpb.Fixed(3))
	w := b.Float32("W", []int64{3, 2}, []float32{1, -2, 3, 4, -5, 6})
	bias := b.Float32("b", []int64{2}, []float32{0.5, -0.5})
	b.OpTo("y", "Relu", []string{b.Op("Gemm", []string{x, w, bias})})
	b.Output("y", onnxpb.Float32, onnxpb.Symbolic("N"), onnxpb.Fixed(2))
	m := onnxpb.Model{IRVersion: 8, Opsets: []onnxpb.OpsetID{{Version: 17}}, ProducerName: "ort-test", Graph: b.Graph()}
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func affineSpec(t testing.TB, key string) Spec {
	return Spec{
		Key:     key,
		ONNX:    affineONNX(t),
		Inputs:  []TensorInfo{{Name: "x", DType: "float32", Shape: []int64{-1, 3}}},
		Outputs: []TensorInfo{{Name: "y", DType: "float32", Shape: []int64{-1, 2}}},
		WarmUp:  map[string][]int64{"x": {1, 3}},
	}
}

func newEngine(t testing.TB, opts ...Option) *Engine {
	t.Helper()
	e, err := New(opts...)
	if err != nil {
		t.Fatalf("ONNX Runtime engine: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func TestRunComputesTheGraph(t *testing.T) {
	e := newEngine(t, WithProvider(ProviderCPU))
	s, err := e.Load(context.Background(), affineSpec(t, "affine"))
	if err != nil {
		t.Fatal(err)
	}
	x := []float32{1, 2, 3, -1, 0, 1}
	out, err := s.Run(context.Background(), map[string]Tensor{"x": {Shape: []int64{2, 3}, Data: x}})
	if err != nil {
		t.Fatal(err)
	}
	w := [3][2]float32{{1, -2}, {3, 4}, {-5, 6}}
	bias := [2]float32{0.5, -0.5}
	y := out["y"]
	if len(y.Shape) != 2 || y.Shape[0] != 2 || y.Shape[1] != 2 {
		t.Fatalf("output shape %v, want [2 2]", y.Shape)
	}
	for n := 0; n < 2; n++ {
		for j := 0; j < 2; j++ {
			want := bias[j]
			for k := 0; k < 3; k++ {
				want += x[3*n+k] * w[k][j]
			}
			want = float32(math.Max(0, float64(want)))
			if got := y.Data[2*n+j]; math.Abs(float64(got-want)) > 1e-6 {
				t.Errorf("y[%d][%d] = %v, want %v", n, j, got, want)
			}
		}
	}
	if s.Provider().Used != ProviderCPU || s.Provider().Reason != "CPU requested" {
		t.Errorf("provider report %+v", s.Provider())
	}
	if s.LoadTimings().Create <= 0 || s.LoadTimings().WarmUp <= 0 {
		t.Errorf("load timings not recorded: %+v", s.LoadTimings())
	}
	if v := e.ORTVersion(); !strings.HasPrefix(v, "1.") {
		t.Errorf("ORT version %q", v)
	}
}

func TestLoadCachesSessionsByKey(t *testing.T) {
	e := newEngine(t, WithProvider(ProviderCPU))
	a, err := e.Load(context.Background(), affineSpec(t, "k"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.Load(context.Background(), affineSpec(t, "k"))
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Fatal("second load with the same key created a new session")
	}
	if err := e.Evict("k"); err != nil {
		t.Fatal(err)
	}
	c, err := e.Load(context.Background(), affineSpec(t, "k"))
	if err != nil {
		t.Fatal(err)
	}
	if c == a {
		t.Fatal("load after Evict returned the destroyed session")
	}
	if _, err := a.Run(context.Background(), map[string]Tensor{"x": {Shape: []int64{1, 3}, Data: make([]float32, 3)}}); !errors.Is(err, ErrClosed) {
		t.Fatalf("run on an evicted session: %v, want ErrClosed", err)
	}
}

func TestLoadRejectsSignatureMismatch(t *testing.T) {
	e := newEngine(t, WithProvider(ProviderCPU))
	tests := map[string]struct {
		spoil func(*Spec)
		want  string
	}{
		"input name":    {func(s *Spec) { s.Inputs[0].Name = "image" }, `input "image" is not in the model`},
		"extra input":   {func(s *Spec) { s.Inputs = append(s.Inputs, TensorInfo{"mask", "float32", []int64{-1, 3}}) }, `"mask" is not in the model`},
		"output name":   {func(s *Spec) { s.Outputs[0].Name = "logits" }, `the model's output "y" is not in the card`},
		"fixed dim":     {func(s *Spec) { s.Inputs[0].Shape = []int64{-1, 4} }, "card says shape [? 4], model has [? 3]"},
		"symbolic dim":  {func(s *Spec) { s.Outputs[0].Shape = []int64{1, 2} }, "card says shape [1 2], model has [? 2]"},
		"rank":          {func(s *Spec) { s.Inputs[0].Shape = []int64{-1, 3, 1} }, "card says shape [? 3 1]"},
		"unsupported":   {func(s *Spec) { s.Inputs[0].DType = "int64" }, "float32 tensors only"},
		"garbage bytes": {func(s *Spec) { s.ONNX = []byte("no model here") }, "read the model's inputs and outputs"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			spec := affineSpec(t, "mismatch-"+name)
			tc.spoil(&spec)
			_, err := e.Load(context.Background(), spec)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestRunRejectsBadInputs(t *testing.T) {
	e := newEngine(t, WithProvider(ProviderCPU))
	s, err := e.Load(context.Background(), affineSpec(t, "bad-input"))
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]map[string]Tensor{
		"missing":     {},
		"wrong width": {"x": {Shape: []int64{1, 4}, Data: make([]float32, 4)}},
		"wrong rank":  {"x": {Shape: []int64{3}, Data: make([]float32, 3)}},
		"short data":  {"x": {Shape: []int64{2, 3}, Data: make([]float32, 5)}},
		"zero dim":    {"x": {Shape: []int64{0, 3}, Data: nil}},
		"huge":        {"x": {Shape: []int64{1 << 40, 3}, Data: nil}},
		"extra input": {"x": {Shape: []int64{1, 3}, Data: make([]float32, 3)}, "z": {Shape: []int64{1}, Data: []float32{1}}},
	}
	for name, inputs := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := s.Run(context.Background(), inputs); !errors.Is(err, ErrBadInput) {
				t.Fatalf("Run error = %v, want ErrBadInput", err)
			}
		})
	}
}

func TestRunHonoursCancelledContext(t *testing.T) {
	e := newEngine(t, WithProvider(ProviderCPU))
	s, err := e.Load(context.Background(), affineSpec(t, "cancel"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = s.Run(ctx, map[string]Tensor{"x": {Shape: []int64{1, 3}, Data: make([]float32, 3)}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run error = %v, want context.Canceled", err)
	}
}

// TestCUDAProviderPolicy checks both branches of the provider policy against what this machine can do: where
// CUDA cannot run (the CPU build of ONNX Runtime, or no GPU), auto falls back to CPU with the reason recorded
// and an explicit cuda request fails; where it can, both run on CUDA.
func TestCUDAProviderPolicy(t *testing.T) {
	auto := newEngine(t, WithProvider(ProviderAuto), WithCUDADevice(0), WithCUDAMemoryLimit(1<<30))
	sa, err := auto.Load(context.Background(), affineSpec(t, "auto"))
	if err != nil {
		t.Fatalf("auto must never fail for want of CUDA: %v", err)
	}
	report := sa.Provider()
	if report.Requested != ProviderAuto {
		t.Errorf("requested = %q, want auto", report.Requested)
	}

	cuda := newEngine(t, WithProvider(ProviderCUDA))
	sc, cudaErr := cuda.Load(context.Background(), affineSpec(t, "cuda"))

	switch report.Used {
	case ProviderCPU:
		if !strings.Contains(report.Reason, "CUDA unavailable") || len(report.Reason) <= len("CUDA unavailable, fell back to CPU: ") {
			t.Errorf("fallback reason %q does not say why", report.Reason)
		}
		if !errors.Is(cudaErr, ErrProviderUnavailable) {
			t.Fatalf("explicit cuda on a machine where auto fell back: err = %v, want ErrProviderUnavailable", cudaErr)
		}
		if sc != nil {
			t.Fatal("explicit cuda returned a session")
		}
		t.Logf("auto fell back: %s", report.Reason)
	case ProviderCUDA:
		if cudaErr != nil || sc.Provider().Used != ProviderCUDA || report.CUDADeviceID == nil {
			t.Fatalf("auto ran on CUDA but explicit cuda gave %v (%+v)", cudaErr, sc)
		}
	default:
		t.Fatalf("used provider %q", report.Used)
	}
	// The fallback session must compute the same thing as a CPU one.
	in := map[string]Tensor{"x": {Shape: []int64{1, 3}, Data: []float32{1, 1, 1}}}
	out, err := sa.Run(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if got := out["y"].Data; math.Abs(float64(got[0]-0)) > 1e-6 || math.Abs(float64(got[1]-7.5)) > 1e-5 {
		t.Errorf("auto session output %v, want [0 7.5]", got)
	}
}

func TestNewRejectsBadConfiguration(t *testing.T) {
	if _, err := New(WithLibraryPath("/nonexistent/libonnxruntime.so")); !errors.Is(err, ErrLibraryNotFound) {
		t.Errorf("missing library: %v, want ErrLibraryNotFound", err)
	}
	if _, err := New(WithProvider("tpu")); err == nil || !strings.Contains(err.Error(), "want auto, cuda or cpu") {
		t.Errorf("unknown provider: %v", err)
	}
	if _, err := New(WithIntraOpThreads(0)); err == nil {
		t.Error("zero intra-op threads accepted")
	}
	if p, err := ParseProvider("cuda"); err != nil || p != ProviderCUDA {
		t.Errorf("ParseProvider(cuda) = %q, %v", p, err)
	}
}

func TestLibraryPathFromEnvironmentOrRepository(t *testing.T) {
	e := newEngine(t)
	if !strings.HasSuffix(e.LibraryPath(), "libonnxruntime.so.1") {
		t.Errorf("library %s", e.LibraryPath())
	}
	t.Setenv(LibraryEnv, "")
	p, err := resolveLibrary("")
	if err != nil {
		t.Fatalf("no configuration and no %s: %v (run make setup)", LibraryEnv, err)
	}
	if !strings.HasSuffix(p, RepoLibraryPath) {
		t.Errorf("default library %s, want the repository's %s", p, RepoLibraryPath)
	}
}

func BenchmarkSessionCreateAndWarmUp(b *testing.B) {
	e := newEngine(b, WithProvider(ProviderCPU))
	spec := affineSpec(b, "bench")
	b.ResetTimer()
	for b.Loop() {
		if _, err := e.Load(context.Background(), spec); err != nil {
			b.Fatal(err)
		}
		if err := e.Evict(spec.Key); err != nil {
			b.Fatal(err)
		}
	}
}
