package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/neuronova/neuronova/internal/testsvc"
	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/dcmwrite/dcmcheck"
)

// `neuronova infer --model m1` on the demo study written as DICOM: a SEG that dciodvfy passes and Orthanc stores,
// a JSON result with provenance and the banner, and the label map as NIfTI on the reference grid; then MM on
// that result with gene and protein files.
func TestInferM1OnDemoStudyThenMM(t *testing.T) {
	if os.Getenv("ONNXRUNTIME_SHARED_LIBRARY_PATH") == "" {
		if _, err := os.Stat("../../.deps/onnxruntime-1.30.0/libonnxruntime.so.1"); err != nil {
			t.Fatal("ONNX Runtime not found: run make setup or set ONNXRUNTIME_SHARED_LIBRARY_PATH")
		}
	}
	dir := t.TempDir()
	study, out := filepath.Join(dir, "demo"), filepath.Join(dir, "out")
	if code, _, stderr := runCmd("demo", "--out", study); code != 0 {
		t.Fatalf("demo: exit %d: %s", code, stderr)
	}
	code, stdout, stderr := runCmd("infer", "--model", "m1", "--input", study, "--out", out, "--provider", "cpu")
	if code != 0 {
		t.Fatalf("infer m1: exit %d: %s", code, stderr)
	}
	if !strings.Contains(strings.ToLower(stdout), "not for clinical use") || !strings.Contains(stdout, "WT ") {
		t.Errorf("summary lacks the banner or volumes:\n%s", stdout)
	}

	// JSON with provenance.
	data, err := os.ReadFile(filepath.Join(out, m1ResultFile))
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Banner            string `json:"banner"`
		NotForClinicalUse bool   `json:"not_for_clinical_use"`
		Model             struct{ ID, Version, SHA256 string }
		Runtime           struct {
			ORTVersion string `json:"ort_version"`
			Provider   struct{ Used string }
		}
		Inputs []struct {
			SeriesUID string `json:"series_uid"`
		}
		Timings   []struct{ Stage string }
		Volumes   map[string]float64 `json:"volumes_ml"`
		Embedding []float64
	}
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatal(err)
	}
	if !res.NotForClinicalUse || !strings.Contains(strings.ToLower(res.Banner), "not for clinical use") || res.Model.ID != "m1-demo" ||
		len(res.Model.SHA256) != 64 || res.Runtime.ORTVersion == "" || res.Runtime.Provider.Used != "cpu" ||
		len(res.Inputs) != 4 || res.Inputs[0].SeriesUID == "" || len(res.Timings) != 4 || len(res.Embedding) != 768 || !(res.Volumes["wt"] > 0) {
		t.Errorf("result JSON lacks provenance: %.600s", data)
	}

	// The label map on the reference (T1CE) grid.
	lm, err := viewer.LoadNIfTILabels(filepath.Join(out, m1LabelsFile))
	if err != nil {
		t.Fatal(err)
	}
	if lm.Size != [3]int{240, 240, 155} {
		t.Errorf("label map %v, want the 240×240×155 reference grid", lm.Size)
	}

	// The SEG: dciodvfy without errors, and Orthanc stores it.
	seg := filepath.Join(out, m1SEGFile)
	dcmcheck.Dciodvfy(t, seg)
	url, user, pass := testsvc.FreshOrthanc(t)
	body, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", url+"/instances", bytes.NewReader(body))
	req.SetBasicAuth(user, pass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	reply, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(reply), `"Success"`) {
		t.Errorf("Orthanc refused the SEG: %d %s", resp.StatusCode, reply)
	}

	// MM on the M1 result, with genes and proteins.
	genes, prot := filepath.Join(dir, "genes.csv"), filepath.Join(dir, "rppa.csv")
	for name, path := range map[string]string{"mg-demo-example-1-grade4.csv": genes, "mm-demo-example-1-grade4-rppa.csv": prot} {
		b, err := os.ReadFile(filepath.Join("../../assets/models/examples", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, stdout, stderr = runCmd("infer", "--model", "mm", "--input", filepath.Join(out, m1ResultFile), "--genes", genes,
		"--proteins", prot, "--out", out, "--provider", "cpu")
	if code != 0 {
		t.Fatalf("infer mm: exit %d: %s", code, stderr)
	}
	mmData, err := os.ReadFile(filepath.Join(out, mmResultFile))
	if err != nil || !strings.Contains(string(mmData), `"m1-demo"`) || !strings.Contains(stdout, "risk group") {
		t.Errorf("MM result: %v %.300s\n%s", err, mmData, stdout)
	}

	// Usage errors.
	if code, _, _ := runCmd("infer", "--model", "m1", "--out", out); code != 2 {
		t.Errorf("m1 without --input: exit %d, want 2", code)
	}
	if code, _, _ := runCmd("infer", "--model", "m7", "--input", study, "--out", out); code != 2 {
		t.Errorf("unknown model: exit %d, want 2", code)
	}
}
