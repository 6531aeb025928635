package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/neuronova/neuronova/inference"
	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/viewer/demo"
)

// TestMain gives the package's tests a data directory of their own: a command run without --data (infer,
// sync) keeps its cache and job queue there, never in the user's data directory.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "neuronova-cmd-test-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("NEURONOVA_DATA", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// demoCache is a new cache holding the demo study, closed when t ends.
func demoCache(t *testing.T) *cache.Cache {
	t.Helper()
	dir := t.TempDir()
	if err := demo.Write(filepath.Join(dir, "study")); err != nil {
		t.Fatal(err)
	}
	c, err := cache.Open(filepath.Join(dir, "cache"), cache.Options{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Import(context.Background(), []string{filepath.Join(dir, "study")}, nil); err != nil {
		t.Fatal(err)
	}
	return c
}

// cpuRuntime is ONNX Runtime on the CPU with one thread, closed when t ends.
func cpuRuntime(t *testing.T) *inference.Runtime {
	t.Helper()
	rt, closeRT, err := inferRuntime("", "cpu", 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeRT)
	return rt
}
