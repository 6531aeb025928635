// Command demomodels trains NeuroNova's MG and MM demonstration models on synthetic patients, writes them as ONNX
// with their model cards and example inputs, and (with -check) verifies that the committed files are exactly what
// the recipe produces.
//
//	OMP_NUM_THREADS=1 /usr/bin/python3 recipes/m1/train_synth.py bank --out /tmp/m1bank   # MM's MRI cases
//	go run ./recipes/demomodels -out assets/models -m1-bank /tmp/m1bank          # regenerate
//	go run ./recipes/demomodels -out assets/models -m1-bank /tmp/m1bank -check   # compare, write nothing
//
// MM trains on the committed M1 model's embeddings of the bank's cases, so it follows M1: rebuild it whenever M1
// changes.
//
// The ONNX Runtime library is found as by the workstation (ONNXRUNTIME_SHARED_LIBRARY_PATH, or the repository's
// .deps copy); the evaluation figures in the cards come from runs of the exported files through it.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/neuronova/neuronova/recipes/internal/demo"
)

func main() {
	out := flag.String("out", "assets/models", "directory to write the models, cards and examples into")
	check := flag.Bool("check", false, "compare with the files in -out instead of writing; exit 1 on any difference")
	bank := flag.String("m1-bank", demo.DefaultConfig().M1Bank, "folder of synthetic MRI cases for MM (train_synth.py bank)")
	flag.Parse()
	if err := run(*out, *check, *bank); err != nil {
		fmt.Fprintln(os.Stderr, "demomodels:", err)
		os.Exit(1)
	}
}

func run(out string, check bool, bank string) error {
	start := time.Now()
	cfg := demo.DefaultConfig()
	cfg.M1Bank = bank
	m1, err := demo.M1Bank(context.Background(), cfg.M1Bank, cfg.M1BankHeldFrom)
	if err != nil {
		return err
	}
	art, err := demo.Build(context.Background(), cfg, m1)
	if err != nil {
		return err
	}
	for _, line := range art.Reports {
		fmt.Println(line)
	}
	names := make([]string, 0, len(art.Files))
	for name := range art.Files {
		names = append(names, name)
	}
	slices.Sort(names)
	differ := 0
	for _, name := range names {
		path := filepath.Join(out, filepath.FromSlash(name))
		if check {
			have, err := os.ReadFile(path)
			switch {
			case err != nil:
				fmt.Printf("MISSING  %s (%v)\n", path, err)
				differ++
			case !bytes.Equal(have, art.Files[name]):
				fmt.Printf("DIFFERS  %s\n", path)
				differ++
			default:
				fmt.Printf("same     %s\n", path)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, art.Files[name], 0o644); err != nil {
			return err
		}
		fmt.Printf("wrote    %s (%d bytes)\n", path, len(art.Files[name]))
	}
	fmt.Printf("done in %s\n", time.Since(start).Round(time.Millisecond))
	if differ > 0 {
		return fmt.Errorf("%d file(s) differ from what the recipe produces", differ)
	}
	return nil
}
