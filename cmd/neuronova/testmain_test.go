package main

import (
	"fmt"
	"os"
	"testing"
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
