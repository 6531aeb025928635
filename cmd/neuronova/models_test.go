package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/neuronova/neuronova/inference/model"
	"github.com/neuronova/neuronova/inference/onnxpb"
	"github.com/neuronova/neuronova/viewer"
)

// sigmoidModel writes a segmentation-only M1 model in MONAI's BraTS convention (channels T1CE, T1, T2, FLAIR;
// sigmoid TC, WT, ET with thresholds; 32³ sliding windows) and its card: output channel k is input channel k,
// scaled. It returns the paths of the .onnx and the card.
func sigmoidModel(t *testing.T, dir, id string) (string, string) {
	t.Helper()
	b := onnxpb.NewBuilder(id)
	vol := []onnxpb.Dim{onnxpb.Symbolic("n"), onnxpb.Fixed(4), onnxpb.Symbolic("d"), onnxpb.Symbolic("h"), onnxpb.Symbolic("w")}
	x := b.Input("image", onnxpb.Float32, vol...)
	w := make([]float32, 3*4)
	for k := 0; k < 3; k++ {
		w[k*4+k] = 10
	}
	y := b.Op("Conv", []string{x, b.Float32("w", []int64{3, 4, 1, 1, 1}, w), b.Float32("b", []int64{3}, []float32{-5, -5, -5})},
		onnxpb.IntsAttr("kernel_shape", 1, 1, 1))
	b.OpTo("seg", "Sigmoid", []string{y})
	b.Output("seg", onnxpb.Float32, onnxpb.Symbolic("n"), onnxpb.Fixed(3), onnxpb.Symbolic("d"), onnxpb.Symbolic("h"), onnxpb.Symbolic("w"))
	data, err := (&onnxpb.Model{IRVersion: 8, Opsets: []onnxpb.OpsetID{{Version: 17}}, ProducerName: "models-test", Graph: b.Graph()}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	d := func(p string) model.Dim { return model.Dim{Param: p} }
	ch := func(k int) *int { return &k }
	card := &model.Card{
		Schema: model.CardSchema, ID: id, Family: model.FamilyM1, Name: "test " + id, Version: "1.0", Status: model.StatusResearch,
		Task:        "segmentation",
		IntendedUse: model.IntendedUse{Summary: "test", NotForClinicalUse: true, Banner: "TEST MODEL — not for clinical use"},
		Artifact:    model.Artifact{File: id + ".onnx", SHA256: hex.EncodeToString(sum[:]), SizeBytes: int64(len(data))},
		Inputs: []model.Input{{TensorSpec: model.TensorSpec{Name: "image", DType: "float32",
			Shape: model.Shape{d("n"), {Value: 4}, d("d"), d("h"), d("w")}, ExampleShape: []int64{1, 4, 32, 32, 32}},
			ChannelOrder: []string{"T1CE", "T1", "T2", "FLAIR"},
			Preprocessing: &model.Preprocessing{Steps: []string{"test"}, SpacingMM: []float64{1, 1, 1}, Crop: "brain-bbox",
				Normalisation: model.NormNone, Window: &model.Window{ROI: []int64{32, 32, 32}, Overlap: 0.25, Blend: model.BlendGaussian}}}},
		Outputs: []model.Output{{TensorSpec: model.TensorSpec{Name: "seg", DType: "float32", Shape: model.Shape{d("n"), {Value: 3}, d("d"), d("h"), d("w")}},
			Activation: "sigmoid", Regions: []model.Region{{Name: "TC", Channel: ch(0), Threshold: 0.5}, {Name: "WT", Channel: ch(1), Threshold: 0.5},
				{Name: "ET", Channel: ch(2), Threshold: 0.5}}}},
		TrainingData: model.TrainingData{Kind: "none", Description: "fixed weights"},
		Evaluation:   model.Evaluation{Dataset: "none"},
		Limitations:  []string{"a test model"},
	}
	cb, err := card.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	onnxPath, cardPath := filepath.Join(dir, id+".onnx"), filepath.Join(dir, id+".json")
	if err := os.WriteFile(onnxPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cardPath, cb, 0o644); err != nil {
		t.Fatal(err)
	}
	return onnxPath, cardPath
}

// indicatorStudy writes a BraTS folder whose T1CE marks the tumour core, T1 the whole tumour and T2 the
// enhancing rim (0.2 elsewhere in the brain), and the matching labels: what sigmoidModel must find.
func indicatorStudy(t *testing.T, dir string) string {
	t.Helper()
	g := viewer.Geometry{Size: [3]int{90, 96, 80}, Spacing: viewer.Vec3{1, 1, 1}, Origin: viewer.Vec3{-44, -47, -40}, Direction: viewer.IdentityDirection}
	labels := viewer.NewLabelMap(g)
	vols := map[string]*viewer.Volume{"t1": viewer.NewVolume(g), "t1ce": viewer.NewVolume(g), "t2": viewer.NewVolume(g), "flair": viewer.NewVolume(g)}
	for k := 0; k < g.Size[2]; k++ {
		for j := 0; j < g.Size[1]; j++ {
			for i := 0; i < g.Size[0]; i++ {
				p := g.ToPatient(viewer.Vec3{float64(i), float64(j), float64(k)})
				if p[0]*p[0]/1600+p[1]*p[1]/1936+p[2]*p[2]/1296 >= 1 {
					continue
				}
				n := g.Index(i, j, k)
				for _, v := range vols {
					v.Data[n] = 0.2
				}
				r := p.Sub(viewer.Vec3{6, -4, 3}).Norm()
				switch {
				case r < 8:
					labels.Data[n] = viewer.LabelNCR
					vols["t1ce"].Data[n], vols["t1"].Data[n] = 1, 1
				case r < 12:
					labels.Data[n] = viewer.LabelET
					vols["t1ce"].Data[n], vols["t1"].Data[n], vols["t2"].Data[n] = 1, 1, 1
				case r < 20:
					labels.Data[n] = viewer.LabelED
					vols["t1"].Data[n] = 1
				}
			}
		}
	}
	study := filepath.Join(dir, "study")
	if err := os.MkdirAll(study, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, v := range vols {
		if err := viewer.SaveNIfTI(filepath.Join(study, "case_"+name+".nii.gz"), v); err != nil {
			t.Fatal(err)
		}
	}
	if err := viewer.SaveNIfTILabels(filepath.Join(dir, "expected.nii.gz"), labels); err != nil {
		t.Fatal(err)
	}
	return study
}

// `models add` installs a site's model only when it passes every check, and `models verify` reports its Dice
// against the labels its provider ships.
func TestModelsAddAndVerify(t *testing.T) {
	dir := t.TempDir()
	userDir := filepath.Join(dir, "models")
	onnxPath, cardPath := sigmoidModel(t, dir, "site-seg")
	study := indicatorStudy(t, dir)
	expected := filepath.Join(dir, "expected.nii.gz")

	// Refused: extra arguments, a file that is not the card's, an id taken by an embedded model, a card the
	// pipeline cannot run.
	if code, _, stderr := runCmd("models", "add", "--models", userDir, onnxPath, cardPath, "extra"); code != 2 {
		t.Errorf("extra argument: exit %d: %s", code, stderr)
	}
	if code, _, stderr := runCmd("models", "add", onnxPath, cardPath, "--models", userDir); code != 2 {
		t.Errorf("flag after the files: exit %d: %s", code, stderr)
	}
	if code, _, stderr := runCmd("models", "frobnicate"); code != 2 {
		t.Errorf("unknown subcommand: exit %d: %s", code, stderr)
	}
	other, _ := sigmoidModel(t, t.TempDir(), "site-seg")
	data, _ := os.ReadFile(other)
	tampered := filepath.Join(dir, "tampered.onnx")
	os.WriteFile(tampered, append(data, 0), 0o644)
	if code, _, stderr := runCmd("models", "add", "--models", userDir, tampered, cardPath); code != 1 || !strings.Contains(stderr, "sha256") {
		t.Errorf("tampered file: exit %d: %s", code, stderr)
	}
	card, _ := os.ReadFile(cardPath)
	taken := filepath.Join(dir, "taken.json")
	os.WriteFile(taken, []byte(strings.Replace(string(card), `"id": "site-seg"`, `"id": "m1-demo"`, 1)), 0o644)
	if code, _, stderr := runCmd("models", "add", "--models", userDir, onnxPath, taken); code != 1 || !strings.Contains(stderr, "already installed") {
		t.Errorf("id of an embedded model: exit %d: %s", code, stderr)
	}
	unsupported := filepath.Join(dir, "unsupported.json")
	os.WriteFile(unsupported, []byte(strings.Replace(string(card), `"crop": "brain-bbox"`, `"crop": "centre"`, 1)), 0o644)
	if code, _, stderr := runCmd("models", "add", "--models", userDir, onnxPath, unsupported); code != 1 || !strings.Contains(stderr, "crop") {
		t.Errorf("crop the pipeline does not implement: exit %d: %s", code, stderr)
	}
	if entries, _ := os.ReadDir(userDir); len(entries) != 0 {
		t.Fatalf("refused models left files: %v", entries)
	}

	// Installed, listed, not installed twice.
	code, stdout, stderr := runCmd("models", "add", "--models", userDir, onnxPath, cardPath)
	if code != 0 || !strings.Contains(stdout, "installed site-seg 1.0") {
		t.Fatalf("add: exit %d: %s%s", code, stdout, stderr)
	}
	for _, name := range []string{"site-seg.onnx", "site-seg" + model.CardSuffix} {
		if _, err := os.Stat(filepath.Join(userDir, name)); err != nil {
			t.Errorf("not installed: %v", err)
		}
	}
	if code, stdout, _ := runCmd("models", "--models", userDir); code != 0 || !strings.Contains(stdout, "site-seg") || !strings.Contains(stdout, "m1-demo") {
		t.Errorf("list: exit %d:\n%s", code, stdout)
	}
	if code, _, stderr := runCmd("models", "add", "--models", userDir, onnxPath, cardPath); code != 1 || !strings.Contains(stderr, "already installed") {
		t.Errorf("second add: exit %d: %s", code, stderr)
	}

	// Verified against the shipped labels; a wrong reference falls below --min-dice.
	out := filepath.Join(dir, "got.nii.gz")
	code, stdout, stderr = runCmd("models", "verify", "site-seg", "--input", study, "--expect", expected, "--models", userDir,
		"--provider", "cpu", "--min-dice", "0.999", "--out", out)
	if code != 0 {
		t.Fatalf("verify: exit %d: %s%s", code, stdout, stderr)
	}
	for _, want := range []string{"not for clinical use", "WT      1.0000", "TC      1.0000", "ET      1.0000", "NCR     1.0000", "ED      1.0000"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("verify output lacks %q:\n%s", want, stdout)
		}
	}
	if _, err := viewer.LoadNIfTILabels(out); err != nil {
		t.Errorf("--out: %v", err)
	}
	wrong, _ := viewer.LoadNIfTILabels(expected)
	for i, l := range wrong.Data {
		if l == viewer.LabelET {
			wrong.Data[i] = viewer.LabelNCR
		}
	}
	viewer.SaveNIfTILabels(filepath.Join(dir, "wrong.nii.gz"), wrong)
	code, stdout, stderr = runCmd("models", "verify", "site-seg", "--input", study, "--expect", filepath.Join(dir, "wrong.nii.gz"),
		"--models", userDir, "--provider", "cpu", "--min-dice", "0.9")
	if code != 1 || !strings.Contains(stderr, "Dice below 0.9000: ET 0.0000") || !strings.Contains(stdout, "WT      1.0000") {
		t.Errorf("verify against wrong labels: exit %d: %s%s", code, stdout, stderr)
	}
	if code, _, stderr := runCmd("models", "verify", "site-seg", "--input", study); code != 2 {
		t.Errorf("verify without --expect: exit %d: %s", code, stderr)
	}
}
