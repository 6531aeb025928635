// Package testrt gives tests and benchmarks a real runtime: the embedded demo models (assets/models) in a real
// ONNX Runtime engine on the CPU.
package testrt

import (
	"testing"

	"github.com/neuronova/neuronova/assets/models"
	"github.com/neuronova/neuronova/inference"
	"github.com/neuronova/neuronova/inference/model"
	"github.com/neuronova/neuronova/inference/ort"
)

// New returns a runtime over the embedded models; the engine is closed when the test ends.
func New(tb testing.TB, opts ...ort.Option) *inference.Runtime {
	tb.Helper()
	reg, err := model.NewRegistry(model.WithEmbedded(models.FS))
	if err != nil {
		tb.Fatal(err)
	}
	engine, err := ort.New(append([]ort.Option{ort.WithProvider(ort.ProviderCPU)}, opts...)...)
	if err != nil {
		tb.Fatalf("ONNX Runtime (set %s or run make setup): %v", ort.LibraryEnv, err)
	}
	tb.Cleanup(func() { engine.Close() })
	return inference.NewRuntime(reg, engine)
}

// Example returns an embedded example file.
func Example(tb testing.TB, name string) []byte {
	tb.Helper()
	data, err := models.FS.ReadFile("examples/" + name)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}
