package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/neuronova/neuronova/cmd/neuronova/internal/jobq"
	"github.com/neuronova/neuronova/inference/jobs"
)

// `neuronova infer` runs as a job of the queue in the data directory, a corrupt job file set aside: the job
// is kept done with the files it read named by content; while a window owns the queue, infer says so and runs nothing.
func TestInferRunsThroughTheJobQueue(t *testing.T) {
	dir := t.TempDir()
	data, out, genes := filepath.Join(dir, "data"), filepath.Join(dir, "out"), filepath.Join(dir, "genes.csv")
	csv, err := os.ReadFile("../../assets/models/examples/mg-demo-example-1-grade4.csv")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(genes, csv, 0o644); err != nil {
		t.Fatal(err)
	}
	// A file of the store that is not a job (a disk error, a hand edit) is set aside and said; infer runs.
	if err := os.MkdirAll(filepath.Join(data, jobq.Dir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, jobq.Dir, "broken.json"), []byte("{\"id\":"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCmd("infer", "--model", "mg", "--genes", genes, "--out", out, "--data", data, "--provider", "cpu")
	if code != 0 || !strings.Contains(stdout, "risk") || !strings.Contains(stderr, "job ") ||
		!strings.Contains(stderr, "job queue: broken.json set aside as broken.json.bad: jobs: invalid job file") {
		t.Fatalf("infer mg: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, mgResultFile)); err != nil {
		t.Fatal(err)
	}
	never := func(ctx context.Context, req jobs.Request, att any, p jobs.Progress) (json.RawMessage, any, error) {
		return nil, nil, context.Canceled
	}
	window, err := jobq.Open(data, never, jobq.Options{Owner: ownerWindow})
	if err != nil {
		t.Fatal(err)
	}
	list := window.List()
	sum, _ := jobq.FileSHA256(genes)
	if len(list) != 1 || list[0].State != jobs.Done || list[0].Request.Model != "mg" || list[0].Request.Inputs["genes"] != genes ||
		list[0].Request.Params["genes_sha256"] != sum || list[0].Request.Params[paramVia] != "cli" || !strings.Contains(string(list[0].Result), out) {
		t.Fatalf("jobs after infer: %+v", list)
	}
	// The window owns the queue now.
	out2 := filepath.Join(dir, "out2")
	code, _, stderr = runCmd("infer", "--model", "mg", "--genes", genes, "--out", out2, "--data", data, "--provider", "cpu")
	if code != 1 || !strings.Contains(stderr, "in use by a NeuroNova window") {
		t.Errorf("infer beside a window: exit %d, %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(out2, mgResultFile)); err == nil {
		t.Error("infer ran beside the window")
	}
	window.Close()
	// Another infer owns it: this one waits its turn, then runs.
	other, err := jobq.Open(data, never, jobq.Options{Owner: ownerInfer, Hold: true})
	if err != nil {
		t.Fatal(err)
	}
	released := make(chan time.Time, 1)
	go func() {
		time.Sleep(500 * time.Millisecond)
		released <- time.Now()
		other.Close()
	}()
	code, _, stderr = runCmd("infer", "--model", "mg", "--genes", genes, "--out", out2, "--data", data, "--provider", "cpu")
	freed := <-released
	if fi, err := os.Stat(filepath.Join(out2, mgResultFile)); code != 0 || err != nil || fi.ModTime().Before(freed) || !strings.Contains(stderr, "waiting: ") {
		t.Errorf("infer behind another infer: exit %d, %v, %s", code, err, stderr)
	}
	// A usage error found by the run keeps its exit status, and the job records it.
	code, _, stderr = runCmd("infer", "--model", "mm", "--out", out2, "--data", data, "--provider", "cpu")
	if code != 2 {
		t.Errorf("mm with no modality: exit %d, %s", code, stderr)
	}
}
