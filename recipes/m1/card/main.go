// Command card writes the model card of the M1 demonstration model beside its ONNX file, with evaluation figures
// measured by running the exported file through ONNX Runtime from Go with the workstation's own pipeline
// (inference/m1): held-out randomised synthetic cases (BraTS-layout folders written by train_synth.py heldout,
// from maps and a seed the training never drew), held-out phantoms of the previous demo model's family
// (viewer/demo, seed 20260301), and, when given, a real BraTS-layout subject with ground truth, with the CPU time
// of each stage on it.
//
//	go run ./recipes/m1/card -onnx assets/models/m1-demo.onnx -heldout /tmp/m1heldout -brats ../shared/data/brats-sub-0004
//
// With -evaluate CARD it writes nothing and prints the same figures for an installed model (the committed one,
// to compare). It takes tens of minutes on one core.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/neuronova/neuronova/inference"
	"github.com/neuronova/neuronova/inference/m1"
	"github.com/neuronova/neuronova/inference/model"
	"github.com/neuronova/neuronova/inference/onnxpb"
	"github.com/neuronova/neuronova/inference/ort"
	"github.com/neuronova/neuronova/recipes/m1/internal/synth"
	"github.com/neuronova/neuronova/viewer"
)

// Training settings, as train_synth.py uses them.
const (
	trainSeed   = 20261202
	iterations  = 2000
	labelMaps   = 200
	headCases   = 60
	oldEvalSeed = 20260301 // the previous demo model's held-out phantoms
	window      = 96
)

func main() {
	onnxPath := flag.String("onnx", "assets/models/m1-demo.onnx", "the exported model; the card is written beside it")
	evaluate := flag.String("evaluate", "", "a card beside its model: print its figures, write nothing")
	heldout := flag.String("heldout", "", "folder of held-out randomised cases (train_synth.py heldout)")
	brats := flag.String("brats", "", "a BraTS-layout subject folder with ground truth to evaluate on (optional)")
	n := flag.Int("phantoms", 12, "held-out phantoms of the previous model's family")
	flag.Parse()
	if err := run(*onnxPath, *evaluate, *heldout, *brats, *n); err != nil {
		fmt.Fprintln(os.Stderr, "card:", err)
		os.Exit(1)
	}
}

func run(onnxPath, evaluate, heldout, brats string, n int) error {
	var card *model.Card
	var dir string
	if evaluate != "" {
		data, err := os.ReadFile(evaluate)
		if err != nil {
			return err
		}
		if card, err = model.ParseCard(data); err != nil {
			return err
		}
		dir = filepath.Dir(evaluate)
	} else {
		data, err := os.ReadFile(onnxPath)
		if err != nil {
			return err
		}
		sum, err := onnxpb.Inspect(data)
		if err != nil {
			return err
		}
		h := sha256.Sum256(data)
		card = newCard(hex.EncodeToString(h[:]), int64(len(data)), sum)
		// Evaluate from a scratch registry holding this file and a card without figures.
		if dir, err = os.MkdirTemp("", "m1card"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		if err := writeCard(filepath.Join(dir, "m1-demo.card.json"), card); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "m1-demo.onnx"), data, 0o644); err != nil {
			return err
		}
	}
	reg, err := model.NewRegistry(model.WithDir(dir))
	if err != nil {
		return err
	}
	eng, err := ort.New(ort.WithProvider(ort.ProviderCPU), ort.WithIntraOpThreads(1))
	if err != nil {
		return err
	}
	defer eng.Close()
	ctx := context.Background()
	mdl, err := inference.NewRuntime(reg, eng).Load(ctx, card.ID)
	if err != nil {
		return err
	}
	var metrics []model.Metric
	samples := 0
	if heldout != "" {
		hm, k, err := evaluateHeldout(ctx, mdl, heldout)
		if err != nil {
			return err
		}
		metrics, samples = append(metrics, hm...), samples+k
	}
	if n > 0 {
		pm, err := evaluatePhantoms(ctx, mdl, n)
		if err != nil {
			return err
		}
		metrics, samples = append(metrics, pm...), samples+n
	}
	if brats != "" {
		bm, err := evaluateBraTS(ctx, mdl, brats)
		if err != nil {
			return err
		}
		metrics = append(metrics, bm...)
	}
	for _, m := range metrics {
		fmt.Printf("%-40s %8.3f  %s\n", m.Name, m.Value, m.Note)
	}
	if evaluate != "" {
		return nil
	}
	card.Evaluation.Metrics, card.Evaluation.Samples = metrics, samples
	out := strings.TrimSuffix(onnxPath, ".onnx") + ".card.json"
	if err := writeCard(out, card); err != nil {
		return err
	}
	fmt.Println("wrote", out)
	return nil
}

func writeCard(path string, c *model.Card) error {
	b, err := c.Marshal()
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func round(x float64) float64 { return math.Round(x*1000) / 1000 }

// regionDice are WT, TC and ET of a comparison.
func regionDice(got, want *viewer.LabelMap) ([3]float64, error) {
	rows, err := m1.Compare(got, want)
	if err != nil {
		return [3]float64{}, err
	}
	return [3]float64{rows[0].Dice, rows[1].Dice, rows[2].Dice}, nil
}

// targets are a held-out case's head targets (synth.py's phantom rules).
type targets struct {
	Grade int     `json:"grade"`
	IDH   int     `json:"idh"`
	MGMT  int     `json:"mgmt"`
	Risk  float64 `json:"risk"`
	WTmL  float64 `json:"wt_ml"`
}

// evaluateHeldout runs the model on every held-out folder: Dice on the folder's own (anisotropic) grid, WT volume
// and the heads against the phantom rules.
func evaluateHeldout(ctx context.Context, mdl *inference.Model, dir string) ([]model.Metric, int, error) {
	folders, err := filepath.Glob(filepath.Join(dir, "heldout-*"))
	if err != nil || len(folders) == 0 {
		return nil, 0, fmt.Errorf("no held-out cases in %s (run train_synth.py heldout)", dir)
	}
	slices.Sort(folders)
	var sum [3]float64
	var volErr, riskErr float64
	var grade, idh, mgmt, heads int
	for _, f := range folders {
		st, err := viewer.LoadBraTS(f)
		if err != nil {
			return nil, 0, err
		}
		var t targets
		b, err := os.ReadFile(filepath.Join(f, "targets.json"))
		if err == nil {
			err = json.Unmarshal(b, &t)
		}
		if err != nil {
			return nil, 0, err
		}
		res, err := m1.Predict(ctx, mdl, m1.Request{Study: st})
		if err != nil {
			return nil, 0, err
		}
		d, err := regionDice(res.Labels, st.Labels)
		if err != nil {
			return nil, 0, err
		}
		for i := range sum {
			sum[i] += d[i]
		}
		volErr += math.Abs(res.Volumes.WT-t.WTmL) / t.WTmL
		line := fmt.Sprintf("%s (%v mm): Dice WT %.3f TC %.3f ET %.3f; WT %.1f mL (truth %.1f)", filepath.Base(f),
			res.Reference.SpacingMM, d[0], d[1], d[2], res.Volumes.WT, t.WTmL)
		if res.Grade != nil {
			heads++
			if res.Grade.PredictedClass == []string{"G2", "G3", "G4"}[t.Grade] {
				grade++
			}
			if (res.IDH.PredictedClass == "Mutant") == (t.IDH == 1) {
				idh++
			}
			if (res.MGMT.PredictedClass == "Methylated") == (t.MGMT == 1) {
				mgmt++
			}
			riskErr += math.Abs(res.Risk.Score - t.Risk)
			line += fmt.Sprintf("; grade %s (rule G%d)", res.Grade.PredictedClass, t.Grade+2)
		}
		fmt.Println(line)
	}
	k := float64(len(folders))
	note := fmt.Sprintf("mean over %d held-out randomised synthetic cases (maps and seed never drawn in training; 0.8–1.2 mm in plane, 1–5 mm between slices), run from Go through ONNX Runtime on the CPU", len(folders))
	out := []model.Metric{
		{Name: "heldout_dice_wt", Value: round(sum[0] / k), Note: note},
		{Name: "heldout_dice_tc", Value: round(sum[1] / k), Note: note},
		{Name: "heldout_dice_et", Value: round(sum[2] / k), Note: note},
		{Name: "heldout_wt_volume_relative_error", Value: round(volErr / k), Note: "mean |WT volume − true volume| / true volume on the same cases"},
	}
	if heads > 0 {
		h := float64(heads)
		out = append(out,
			model.Metric{Name: "heldout_grade_accuracy", Value: round(float64(grade) / h), Note: "against the phantom rule (the first tumour's enhancement pattern), not biology"},
			model.Metric{Name: "heldout_idh_accuracy", Value: round(float64(idh) / h), Note: "against the phantom rule (non-enhancing, 10 % flipped), not biology"},
			model.Metric{Name: "heldout_mgmt_accuracy", Value: round(float64(mgmt) / h), Note: "against the phantom rule (the tumour's side), not biology"},
			model.Metric{Name: "heldout_risk_mae", Value: round(riskErr / h), Note: "mean absolute error against the phantom rule's risk"})
	}
	return out, len(folders), nil
}

// evaluatePhantoms runs the model on phantoms of the previous demo model's family (viewer/demo on random grids).
func evaluatePhantoms(ctx context.Context, mdl *inference.Model, n int) ([]model.Metric, error) {
	rng := rand.New(rand.NewPCG(oldEvalSeed, 0x6d31))
	var sum [3]float64
	for i := 0; i < n; i++ {
		c := synth.NewCase(rng)
		r, err := c.Phantom.RenderOn(c.Grid)
		if err != nil {
			return nil, err
		}
		st := &viewer.Study{UID: fmt.Sprintf("eval-%d", i)}
		for k, t := range viewer.BrainTumourTypes {
			st.Series = append(st.Series, viewer.NewVolumeSeries(fmt.Sprintf("eval-%d-%d", i, k), string(t), t, r.Volumes[k]))
		}
		res, err := m1.Predict(ctx, mdl, m1.Request{Study: st})
		if err != nil {
			return nil, err
		}
		d, err := regionDice(res.Labels, r.Labels)
		if err != nil {
			return nil, err
		}
		for k := range sum {
			sum[k] += d[k]
		}
		fmt.Printf("phantom %d (%s, %.2f×%.2f×%.2f mm): Dice WT %.3f TC %.3f ET %.3f; WT %.1f mL (truth %.1f)\n",
			i, c.Plane, c.Grid.Spacing[0], c.Grid.Spacing[1], c.Grid.Spacing[2], d[0], d[1], d[2], res.Volumes.WT, c.Targets.WTmL)
	}
	f := float64(n)
	note := fmt.Sprintf("mean over %d phantoms of the previous demo model's family (viewer/demo, seed %d, random axial/coronal/sagittal grids)", n, oldEvalSeed)
	return []model.Metric{
		{Name: "phantom_dice_wt", Value: round(sum[0] / f), Note: note},
		{Name: "phantom_dice_tc", Value: round(sum[1] / f), Note: note},
		{Name: "phantom_dice_et", Value: round(sum[2] / f), Note: note},
	}, nil
}

// evaluateBraTS runs the model on a real subject: Dice, volumes, and the CPU time of each stage.
func evaluateBraTS(ctx context.Context, mdl *inference.Model, dir string) ([]model.Metric, error) {
	st, err := viewer.LoadBraTS(dir)
	if err != nil {
		return nil, err
	}
	if st.Labels == nil {
		return nil, fmt.Errorf("%s has no ground truth", dir)
	}
	res, err := m1.Predict(ctx, mdl, m1.Request{Study: st})
	if err != nil {
		return nil, err
	}
	d, err := regionDice(res.Labels, st.Labels)
	if err != nil {
		return nil, err
	}
	name := filepath.Base(filepath.Clean(dir))
	c := st.Labels.Counts()
	mL := st.Labels.VoxelVolume() / 1000
	ms := map[string]float64{}
	for _, t := range res.Timings {
		ms[t.Stage] = t.Milliseconds
	}
	pp := res.Preprocessing
	note := fmt.Sprintf("real BraTS-layout subject %s (one subject, never used in training or tuning), run from Go through ONNX Runtime on the CPU; "+
		"predicted NCR %.1f, ED %.1f, ET %.1f mL; truth NCR %.1f, ED %.1f, ET %.1f mL", name, res.Volumes.NCR, res.Volumes.ED, res.Volumes.ET,
		float64(c[1])*mL, float64(c[2])*mL, float64(c[3])*mL)
	timing := fmt.Sprintf("one thread, %s: model grid %v, %d windows of %v; load %.1f s, preprocess %.1f s, network %.1f s, postprocess %.1f s",
		name, pp.ModelGridSize, pp.Windows, pp.WindowSize, ms[m1.StageLoad]/1000, ms[m1.StagePreprocess]/1000, ms[m1.StageInference]/1000, ms[m1.StagePostprocess]/1000)
	fmt.Printf("%s: Dice WT %.3f TC %.3f ET %.3f; %s; %s\n", name, d[0], d[1], d[2], note, timing)
	return []model.Metric{
		{Name: "brats_sub_0004_dice_wt", Value: round(d[0]), Note: note},
		{Name: "brats_sub_0004_dice_tc", Value: round(d[1]), Note: note},
		{Name: "brats_sub_0004_dice_et", Value: round(d[2]), Note: note},
		{Name: "cpu_network_seconds", Value: round(ms[m1.StageInference] / 1000), Note: timing},
		{Name: "cpu_pre_post_over_network", Value: round((ms[m1.StagePreprocess] + ms[m1.StagePostprocess]) / ms[m1.StageInference]),
			Note: "preprocessing plus postprocessing time over the network's time on the same run (target at most 0.25)"},
	}, nil
}

func newCard(sha string, size int64, sum *onnxpb.Summary) *model.Card {
	one, d := model.Dim{Value: 1}, func(v int64) model.Dim { return model.Dim{Value: v} }
	p := func(s string) model.Dim { return model.Dim{Param: s} }
	vol := func(prefix string) model.Shape {
		return model.Shape{p(prefix + "n"), d(4), p(prefix + "d"), p(prefix + "h"), p(prefix + "w")}
	}
	box := model.Shape{one, d(4), p("bd"), p("bh"), p("bw")}
	classes := []model.Class{
		{Index: 0, Label: "BG", Name: "background"},
		{Index: 1, Label: "NCR", Name: "necrotic / non-enhancing tumour core", BraTSLabel: 1},
		{Index: 2, Label: "ED", Name: "peritumoural oedema", BraTSLabel: 2},
		{Index: 3, Label: "ET", Name: "enhancing tumour", BraTSLabel: 4},
	}
	noMeaning := "a demonstration head learnt from synthetic phantom rules: it carries no clinical meaning and must not be read as a prediction about a patient"
	return &model.Card{
		Schema:  model.CardSchema,
		ID:      "m1-demo",
		Family:  model.FamilyM1,
		Name:    "NeuroNova M1 demonstration model (3D U-Net on randomised synthesis, with demonstration grade, IDH, MGMT and risk heads)",
		Version: "2.0.0",
		Status:  model.StatusDemonstration,
		Task: "From T1, T1CE, T2 and FLAIR: a tumour label map (necrotic core, oedema, enhancing tumour) by sliding windows over " +
			"the brain at 1 mm; demonstration heads (grade, IDH, MGMT, risk) and a 768-value embedding for MM that carry no clinical meaning.",
		IntendedUse: model.IntendedUse{
			Summary: "Demonstrates NeuroNova's M1 pipeline end to end (sequence choice, resampling in patient coordinates, brain crop, " +
				"sliding-window ONNX Runtime inference, mapping back to the DICOM grid, volumes, DICOM SEG, provenance). It was trained " +
				"only on randomised synthetic cases. Its segmentations are a demonstration; its grade, IDH, MGMT and risk outputs carry " +
				"NO clinical meaning: they follow rules invented for the synthetic phantoms, not biology.",
			NotForClinicalUse: true,
			Banner:            "DEMONSTRATION MODEL — trained on synthetic data only; grade/IDH/MGMT/risk have no clinical meaning — not for clinical use",
			OutOfScope: []string{"any diagnosis, prognosis, treatment or surgical-planning decision", "measuring real tumours for care",
				"reading the grade, IDH, MGMT or risk outputs as anything about a patient"},
		},
		Artifact: model.Artifact{File: "m1-demo.onnx", SHA256: sha, SizeBytes: size, Opset: sum.Opset(), IRVersion: sum.IRVersion,
			Producer: strings.TrimSpace(sum.ProducerName + " " + sum.ProducerVersion)},
		Inputs: []model.Input{
			{
				TensorSpec: model.TensorSpec{Name: "image", DType: "float32", Shape: vol(""), ExampleShape: []int64{1, 4, window, window, window},
					Description: "windows of T1, T1CE, T2 and FLAIR on the model grid (patient axes L, P, S; D = S, H = P, W = L)"},
				ChannelOrder: []string{"T1", "T1CE", "T2", "FLAIR"},
				Preprocessing: &model.Preprocessing{
					Steps: []string{
						"choose the four series (classifier, or by hand)",
						"brain bounding box of the reference series (T1CE): voxels above a tenth of the mean non-zero value, on a 1 mm grid aligned with the patient axes, plus 5 mm",
						"model grid: that box at 1 mm (at least one window per axis), never resized",
						"each series resampled onto the model grid in patient coordinates, trilinear, 0 outside the series",
						"per channel: z-score over the non-zero voxels, 0 elsewhere",
						fmt.Sprintf("sliding windows of %d³ voxels, overlap 0.25, Gaussian blending (sigma 0.125 × window)", window),
					},
					Normalisation: model.NormZScoreBrain, SpacingMM: []float64{1, 1, 1}, Crop: "brain-bbox",
					Window: &model.Window{ROI: []int64{window, window, window}, Overlap: 0.25, Blend: model.BlendGaussian, Batch: 1},
				},
				IdleShape: []int64{1, 4, 16, 16, 16},
			},
			{TensorSpec: model.TensorSpec{Name: "heads_image", DType: "float32", Shape: box, ExampleShape: []int64{1, 4, 16, 16, 16},
				Description: "the whole normalised model grid, for the heads"}, Role: model.RoleHeadsImage, IdleShape: []int64{1, 4, 1, 1, 1}},
			{TensorSpec: model.TensorSpec{Name: "heads_probabilities", DType: "float32", Shape: box, ExampleShape: []int64{1, 4, 16, 16, 16},
				Description: "the blended class probabilities on that grid"}, Role: model.RoleHeadsProbabilities, IdleShape: []int64{1, 4, 1, 1, 1}},
		},
		Outputs: []model.Output{
			{TensorSpec: model.TensorSpec{Name: "probabilities", DType: "float32", Shape: vol(""),
				Description: "class probabilities of a window; the pipeline blends the windows, maps them back onto the reference series' grid and takes the most probable class"},
				Activation: "softmax", Classes: classes,
				Regions: []model.Region{{Name: "WT", Classes: []int{1, 2, 3}}, {Name: "TC", Classes: []int{1, 3}}, {Name: "ET", Classes: []int{3}}}},
			{TensorSpec: model.TensorSpec{Name: "grade", DType: "float32", Shape: model.Shape{one, d(3)}, Description: noMeaning}, Activation: "softmax", Labels: []string{"G2", "G3", "G4"}},
			{TensorSpec: model.TensorSpec{Name: "idh", DType: "float32", Shape: model.Shape{one, d(2)}, Description: noMeaning}, Activation: "softmax", Labels: []string{"Wildtype", "Mutant"}},
			{TensorSpec: model.TensorSpec{Name: "mgmt", DType: "float32", Shape: model.Shape{one, d(2)}, Description: noMeaning}, Activation: "softmax", Labels: []string{"Unmethylated", "Methylated"}},
			{TensorSpec: model.TensorSpec{Name: "risk", DType: "float32", Shape: model.Shape{one, d(1)}, Description: "survival-risk score: " + noMeaning},
				Activation: "sigmoid", Bands: &model.Bands{Cuts: []float64{0.3, 0.7}, Labels: []string{"Low", "Medium", "High"}}},
			{TensorSpec: model.TensorSpec{Name: "embedding", DType: "float32", Shape: model.Shape{one, d(768)},
				Description: "tanh features of statistics pooled over the predicted tumour regions of the whole box; MM's MRI input"}},
		},
		TrainingData: model.TrainingData{
			Kind:            "synthetic (randomised)",
			RealPatientData: false,
			Description: fmt.Sprintf("SynthSeg-style randomised synthesis (recipes/m1/synth.py), never real images: %d random "+
				"anatomies (folded cortex, sulci, fissure, white matter, deep grey nuclei, ventricles, cerebellum, brainstem, enhancing "+
				"vessels and choroid plexus) with one to three tumours each (size, shape, position, mass effect; ring enhancement around "+
				"necrosis, solid or patchy enhancement, non-enhancing) and oedema along white matter; every training case drawn afresh: "+
				"per-sequence tissue intensities (half around textbook contrasts, the rest in any order), texture, bias field, Gaussian or "+
				"Rician noise, gamma, 8-bit quantisation, rotation, scaling, elastic deformation, left-right flip, and per sequence "+
				"partial-volume blur and slices up to 6 mm thick along a random axis resampled to 1 mm. Head targets follow stated "+
				"phantom rules (grade from the first tumour's enhancement pattern, IDH from non-enhancement with 10 %% flipped, MGMT "+
				"from the tumour's side, risk from those and the volume); they are not biology.", labelMaps),
			Samples: iterations * 2,
			Seed:    trainSeed,
		},
		Evaluation: model.Evaluation{
			Dataset: "held-out randomised synthetic cases, held-out phantoms of the previous demo model's family and, for segmentation, one real BraTS-layout subject",
			Caveat: "Synthetic figures show that the pipeline and the network work as built; they say nothing about real tumours. The BraTS " +
				"figures are from a single real subject, never used for training or tuning, and are reported as measured. The heads' " +
				"accuracies are against invented phantom rules and carry no clinical meaning.",
		},
		Limitations: []string{
			"trained on synthetic data only: real tumours, scanners and artefacts differ from it; one real subject is no validation",
			"the grade, IDH, MGMT and risk heads and the embedding learnt invented phantom rules (for example MGMT from the tumour's side): they carry no clinical meaning",
			"expects skull-stripped images for the brain z-score; with the skull, the normalisation and the box include it",
			"a small network (about 1.1 M parameters) trained for a CPU budget",
		},
		Recipe: &model.Recipe{
			Command: fmt.Sprintf("OMP_NUM_THREADS=1 /usr/bin/python3 recipes/m1/train_synth.py train --work /tmp/m1synth --iterations %d --maps %d && "+
				"OMP_NUM_THREADS=1 /usr/bin/python3 recipes/m1/train_synth.py export --work /tmp/m1synth --out assets/models/m1-demo.onnx && "+
				"OMP_NUM_THREADS=1 /usr/bin/python3 recipes/m1/train_synth.py heldout --work /tmp/m1synth --out /tmp/m1heldout && "+
				"go run ./recipes/m1/card -onnx assets/models/m1-demo.onnx -heldout /tmp/m1heldout -brats ../shared/data/brats-sub-0004", iterations, labelMaps),
			Seed:       trainSeed,
			Iterations: iterations,
			Notes: fmt.Sprintf("Debian python3-torch 1.13 on one thread: a 5-level U-Net (8/16/32/64/96 channels, BatchNorm) on two 64³ patches "+
				"per step (70 %% centred near tumour), cross-entropy plus soft Dice, Adam with a one-cycle schedule; BatchNorm statistics "+
				"recomputed on 64 fresh patches; heads on statistics pooled over the network's predictions on %d whole training cases; "+
				"exported at opset 17 as one graph whose window network and heads run apart.", headCases),
		},
	}
}
