package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/inference/mm"
	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/demo"
)

// An MM job for the server's queue carries the MRI embedding of the latest M1 result kept for the study and
// the CSVs it is given; a worker runs the real MM on them with the embedding verified as M1's, and states
// each modality's source. Without an M1 result or a CSV there is nothing to send (a usage error); inputs that
// are not MM's, or a protein CSV MM refuses, fail the job for good.
func TestMMJobCarriesTheKeptEmbedding(t *testing.T) {
	c := demoCache(t)
	ctx := context.Background()
	rt := cpuRuntime(t)
	uid := demo.Study().UID
	rppa := "../../assets/models/examples/mm-demo-example-1-grade4-rppa.csv"

	if _, err := (jobFlags{model: api.ModelMM}).mmInputs(ctx, c, []string{uid}); !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "run M1 first") {
		t.Fatalf("an MM job with nothing to send: %v", err)
	}
	st, err := cacheExam(ctx, c, uid, viewer.ExamByDay, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (analyzer{rt: rt, cache: c}).runM1(ctx, st, nil, "", func(string, int, int) {}); err != nil {
		t.Fatal(err)
	}
	raw, err := (jobFlags{model: api.ModelMM, proteins: rppa}).mmInputs(ctx, c, []string{uid})
	if err != nil {
		t.Fatal(err)
	}
	in, err := parseMMInputs(raw)
	if err != nil || in.MRI == nil || len(in.MRI.Values) == 0 || !strings.HasPrefix(in.MRI.From, "embedding of the M1 run m1-demo ") ||
		in.GenesCSV != "" || in.ProteinsName != filepath.Base(rppa) {
		t.Fatalf("MM inputs %+v %v", in, err)
	}

	w := &worker{rt: rt, out: io.Discard, o: workerOptions{user: "ris1"}}
	up, err := w.runMM(ctx, &api.Job{ID: "j1", Attempts: 1, StudyUID: uid, Inputs: raw})
	if err != nil {
		t.Fatal(err)
	}
	var res mm.Result
	if err := json.Unmarshal(up.Result, &res); err != nil {
		t.Fatal(err)
	}
	if up.Model != api.ModelMM || up.StudyUID != uid || strings.Join(res.ModalitiesUsed, ",") != "mri,protein" ||
		res.Inputs[0].Upstream == nil || res.Inputs[0].Upstream.ModelID != "m1-demo" {
		t.Fatalf("MM on the job: %+v used %v, inputs %+v", up, res.ModalitiesUsed, res.Inputs)
	}
	var prov struct{ Sources map[string]string }
	if err := json.Unmarshal(up.Provenance, &prov); err != nil || prov.Sources[mm.ModalityMRI] != in.MRI.From ||
		prov.Sources[mm.ModalityGene] != notGiven || prov.Sources[mm.ModalityProtein] != filepath.Base(rppa) {
		t.Fatalf("provenance sources %v %v", prov.Sources, err)
	}

	for name, raw := range map[string]string{"no modality": `{}`, "not MM's": `{"genes":"x.csv"}`,
		"bad proteins": `{"proteins_csv":"not,a\nprotein,table\n","proteins_name":"bad.csv"}`} {
		if _, err := w.runMM(ctx, &api.Job{ID: "j2", Inputs: json.RawMessage(raw)}); !errors.Is(err, errJobInvalid) {
			t.Errorf("%s: %v, want it failed for good", name, err)
		}
	}
	big := filepath.Join(t.TempDir(), "big.csv")
	if err := os.WriteFile(big, make([]byte, maxJobCSV+1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := (jobFlags{model: api.ModelMM, genes: big}).mmInputs(ctx, c, []string{uid}); err == nil || !strings.Contains(err.Error(), "a job carries at most") {
		t.Errorf("a CSV too large for a job: %v", err)
	}
}

// FuzzParseMMInputs: any MM job inputs give inputs with at least one modality or an invalid-job error, never a
// panic.
func FuzzParseMMInputs(f *testing.F) {
	f.Add([]byte(`{"mri":{"values":[0.5,1],"from":"embedding of the M1 run m1-demo 1.0.0"},"proteins_csv":"a,b\n","proteins_name":"p.csv"}`))
	f.Add([]byte(`{"mri_missing":"no M1 result is kept","genes_csv":"Hugo_Symbol\n"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := parseMMInputs(json.RawMessage(b))
		if err != nil {
			if !errors.Is(err, errJobInvalid) {
				t.Fatalf("%q: %v is not an invalid-job error", b, err)
			}
			return
		}
		if (in.MRI == nil || len(in.MRI.Values) == 0) && strings.TrimSpace(in.GenesCSV) == "" && strings.TrimSpace(in.ProteinsCSV) == "" {
			t.Fatalf("%q: accepted without a modality", b)
		}
	})
}
