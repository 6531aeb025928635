// Command card writes the model card of the M1 demonstration model beside its ONNX file, with evaluation figures
// measured by running the exported file through ONNX Runtime from Go with the workstation's own pipeline
// (inference/m1): held-out synthetic phantoms (a seed the training data did not use) and, when given, a real
// BraTS-layout subject with ground truth.
//
//	go run ./inference/recipes/m1/card -onnx assets/models/m1-demo.onnx -brats ../shared/data/brats-sub-0004
//
// It takes a few minutes on one core (each case renders a phantom and runs the network on 128³ voxels).
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/neuronova/neuronova/inference"
	"github.com/neuronova/neuronova/inference/m1"
	"github.com/neuronova/neuronova/inference/model"
	"github.com/neuronova/neuronova/inference/onnxpb"
	"github.com/neuronova/neuronova/inference/ort"
	"github.com/neuronova/neuronova/inference/recipes/m1/internal/synth"
	"github.com/neuronova/neuronova/viewer"
)

// Training settings, as train.py and gendata use them.
const (
	trainSeed    = 20260201
	trainSamples = 100
	iterations   = 1400
	evalSeed     = 20260301
)

func main() {
	onnxPath := flag.String("onnx", "assets/models/m1-demo.onnx", "the exported model; the card is written beside it")
	brats := flag.String("brats", "", "a BraTS-layout subject folder with ground truth to evaluate on (optional)")
	n := flag.Int("n", 12, "held-out phantoms to evaluate on")
	flag.Parse()
	if err := run(*onnxPath, *brats, *n); err != nil {
		fmt.Fprintln(os.Stderr, "card:", err)
		os.Exit(1)
	}
}

func run(onnxPath, brats string, n int) error {
	data, err := os.ReadFile(onnxPath)
	if err != nil {
		return err
	}
	sum, err := onnxpb.Inspect(data)
	if err != nil {
		return err
	}
	h := sha256.Sum256(data)
	card := newCard(hex.EncodeToString(h[:]), int64(len(data)), sum)
	// Evaluate from a scratch registry holding this file and a card without figures.
	dir, err := os.MkdirTemp("", "m1card")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := writeCard(filepath.Join(dir, "m1-demo.card.json"), card); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "m1-demo.onnx"), data, 0o644); err != nil {
		return err
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
	rt := inference.NewRuntime(reg, eng)
	ctx := context.Background()
	mdl, err := rt.Load(ctx, "m1-demo")
	if err != nil {
		return err
	}
	metrics, err := evaluatePhantoms(ctx, mdl, n)
	if err != nil {
		return err
	}
	card.Evaluation.Metrics = metrics
	card.Evaluation.Samples = n
	if brats != "" {
		bm, err := evaluateBraTS(ctx, mdl, brats)
		if err != nil {
			return err
		}
		card.Evaluation.Metrics = append(card.Evaluation.Metrics, bm...)
	}
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

// dice returns the Dice coefficient of the voxels whose label is in set, in a and b.
func dice(a, b []uint8, set ...uint8) float64 {
	in := func(v uint8) bool {
		for _, s := range set {
			if v == s {
				return true
			}
		}
		return false
	}
	var inter, na, nb int
	for i := range a {
		x, y := in(a[i]), in(b[i])
		if x {
			na++
		}
		if y {
			nb++
		}
		if x && y {
			inter++
		}
	}
	if na+nb == 0 {
		return 1
	}
	return 2 * float64(inter) / float64(na+nb)
}

func round(x float64) float64 { return math.Round(x*1000) / 1000 }

func evaluatePhantoms(ctx context.Context, mdl *inference.Model, n int) ([]model.Metric, error) {
	rng := rand.New(rand.NewPCG(evalSeed, 0x6d31))
	var wt, tc, et, volErr float64
	var grade, idh, mgmt int
	var riskErr float64
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
		start := time.Now()
		res, err := m1.Predict(ctx, mdl, m1.Request{Study: st})
		if err != nil {
			return nil, err
		}
		d := [3]float64{dice(res.Labels.Data, r.Labels.Data, 1, 2, 3), dice(res.Labels.Data, r.Labels.Data, 1, 3), dice(res.Labels.Data, r.Labels.Data, 3)}
		wt, tc, et = wt+d[0], tc+d[1], et+d[2]
		gt := c.Targets
		volErr += math.Abs(res.Volumes.WT-gt.WTmL) / gt.WTmL
		labels := []string{"G2", "G3", "G4"}
		if res.Grade.PredictedClass == labels[gt.Grade] {
			grade++
		}
		if (res.IDH.PredictedClass == "Mutant") == (gt.IDH == 1) {
			idh++
		}
		if (res.MGMT.PredictedClass == "Methylated") == (gt.MGMT == 1) {
			mgmt++
		}
		riskErr += math.Abs(res.Risk.Score - gt.Risk)
		fmt.Printf("phantom %d (%s, %.2f×%.2f×%.2f mm): Dice WT %.3f TC %.3f ET %.3f; WT %.1f mL (truth %.1f); grade %s (truth G%d) %s\n",
			i, c.Plane, c.Grid.Spacing[0], c.Grid.Spacing[1], c.Grid.Spacing[2], d[0], d[1], d[2], res.Volumes.WT, gt.WTmL,
			res.Grade.PredictedClass, gt.Grade+2, time.Since(start).Round(time.Millisecond))
	}
	f := float64(n)
	note := "mean over held-out synthetic phantoms on random acquisition grids (seed 20260301), run from Go through ONNX Runtime 1.30.0 on the CPU"
	return []model.Metric{
		{Name: "phantom_dice_wt", Value: round(wt / f), Note: note},
		{Name: "phantom_dice_tc", Value: round(tc / f), Note: note},
		{Name: "phantom_dice_et", Value: round(et / f), Note: note},
		{Name: "phantom_wt_volume_relative_error", Value: round(volErr / f), Note: "mean |WT volume − analytic volume| / analytic volume on the same phantoms"},
		{Name: "phantom_grade_accuracy", Value: round(float64(grade) / f), Note: "phantom rule, not biology"},
		{Name: "phantom_idh_accuracy", Value: round(float64(idh) / f), Note: "phantom rule (10 % of targets flipped), not biology"},
		{Name: "phantom_mgmt_accuracy", Value: round(float64(mgmt) / f), Note: "phantom rule (tumour side), not biology"},
		{Name: "phantom_risk_mae", Value: round(riskErr / f), Note: "mean absolute error of the risk score against the phantom rule"},
	}, nil
}

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
	if !res.Labels.SameGrid(st.Labels.Geometry, 1e-3) {
		return nil, fmt.Errorf("%s: ground truth is not on the T1CE grid", dir)
	}
	name := filepath.Base(filepath.Clean(dir))
	d := [3]float64{dice(res.Labels.Data, st.Labels.Data, 1, 2, 3), dice(res.Labels.Data, st.Labels.Data, 1, 3), dice(res.Labels.Data, st.Labels.Data, 3)}
	c := st.Labels.Counts()
	mL := st.Labels.VoxelVolume() / 1000
	fmt.Printf("%s: Dice WT %.3f TC %.3f ET %.3f; predicted WT %.1f mL, truth %.1f mL\n", name, d[0], d[1], d[2], res.Volumes.WT, float64(c[1]+c[2]+c[3])*mL)
	note := fmt.Sprintf("real BraTS-layout subject %s (one subject), run from Go through ONNX Runtime 1.30.0 on the CPU; predicted WT %.1f mL, truth %.1f mL",
		name, res.Volumes.WT, float64(c[1]+c[2]+c[3])*mL)
	return []model.Metric{
		{Name: "brats_sub_0004_dice_wt", Value: round(d[0]), Note: note},
		{Name: "brats_sub_0004_dice_tc", Value: round(d[1]), Note: note},
		{Name: "brats_sub_0004_dice_et", Value: round(d[2]), Note: note},
	}, nil
}

func newCard(sha string, size int64, sum *onnxpb.Summary) *model.Card {
	n, d := model.Dim{Value: 1}, func(v int64) model.Dim { return model.Dim{Value: v} }
	classes := []model.Class{
		{Index: 0, Label: "BG", Name: "background"},
		{Index: 1, Label: "NCR", Name: "necrotic / non-enhancing tumour core", BraTSLabel: 1},
		{Index: 2, Label: "ED", Name: "peritumoural oedema", BraTSLabel: 2},
		{Index: 3, Label: "ET", Name: "enhancing tumour", BraTSLabel: 4},
	}
	return &model.Card{
		Schema:  model.CardSchema,
		ID:      "m1-demo",
		Family:  model.FamilyM1,
		Name:    "NeuroNova M1 demonstration model (3D U-Net segmentation with grade, IDH, MGMT and risk heads)",
		Version: "1.0.0",
		Status:  model.StatusDemonstration,
		Task: "From T1, T1CE, T2 and FLAIR: a tumour label map (necrotic core, oedema, enhancing tumour), grade G2/G3/G4, " +
			"IDH wild type/mutant, MGMT unmethylated/methylated, a survival-risk score with Low/Medium/High groups, and a " +
			"768-value embedding for MM.",
		IntendedUse: model.IntendedUse{
			Summary: "Demonstrates NeuroNova's M1 pipeline end to end (sequence choice, resampling in patient coordinates, " +
				"brain crop, ONNX Runtime inference, mapping back to the DICOM grid, volumes, DICOM SEG, provenance). It was " +
				"trained on synthetic phantoms only; its segmentations and predictions carry no clinical meaning.",
			NotForClinicalUse: true,
			Banner:            "DEMONSTRATION MODEL — trained on synthetic phantoms — not for clinical use",
			OutOfScope: []string{"any diagnosis, prognosis, treatment or surgical-planning decision", "measuring real tumours",
				"conclusions about real patients"},
		},
		Artifact: model.Artifact{File: "m1-demo.onnx", SHA256: sha, SizeBytes: size, Opset: sum.Opset(), IRVersion: sum.IRVersion,
			Producer: strings.TrimSpace(sum.ProducerName + " " + sum.ProducerVersion)},
		Inputs: []model.Input{{
			TensorSpec: model.TensorSpec{Name: "image", DType: "float32", Shape: model.Shape{n, d(4), d(128), d(128), d(128)},
				Description: "T1, T1CE, T2 and FLAIR on the model grid (patient axes L, P, S; D = S, H = P, W = L)"},
			ChannelOrder: []string{"T1", "T1CE", "T2", "FLAIR"},
			Preprocessing: &model.Preprocessing{
				Steps: []string{
					"choose the four series (classifier, or by hand)",
					"brain bounding box of the reference series (T1CE): voxels above a tenth of the mean non-zero value, on a 1 mm grid aligned with the patient axes, plus 5 mm",
					"model grid: 128³ voxels centred on the box, 1 mm when the box fits, else the smallest isotropic spacing that fits it (aspect ratio kept, padded)",
					"each series resampled onto the model grid in patient coordinates, trilinear, 0 outside the series",
					"per channel: z-score over the voxels above 0 (the brain of skull-stripped images), 0 elsewhere",
				},
				SpacingMM: []float64{1, 1, 1}, Crop: "brain-bbox", Size: []int64{128, 128, 128}, Normalisation: model.NormZScoreBrain,
			},
		}},
		Outputs: []model.Output{
			{TensorSpec: model.TensorSpec{Name: "probabilities", DType: "float32", Shape: model.Shape{n, d(4), d(128), d(128), d(128)},
				Description: "class probabilities on the model grid; the pipeline maps them back onto the reference series' grid and takes the most probable class"},
				Activation: "softmax", Classes: classes,
				Regions: []model.Region{{Name: "WT", Classes: []int{1, 2, 3}}, {Name: "TC", Classes: []int{1, 3}}, {Name: "ET", Classes: []int{3}}}},
			{TensorSpec: model.TensorSpec{Name: "grade", DType: "float32", Shape: model.Shape{n, d(3)}}, Activation: "softmax", Labels: []string{"G2", "G3", "G4"}},
			{TensorSpec: model.TensorSpec{Name: "idh", DType: "float32", Shape: model.Shape{n, d(2)}}, Activation: "softmax", Labels: []string{"Wildtype", "Mutant"}},
			{TensorSpec: model.TensorSpec{Name: "mgmt", DType: "float32", Shape: model.Shape{n, d(2)}}, Activation: "softmax", Labels: []string{"Unmethylated", "Methylated"}},
			{TensorSpec: model.TensorSpec{Name: "risk", DType: "float32", Shape: model.Shape{n, d(1)}, Description: "survival-risk score"},
				Activation: "sigmoid", Bands: &model.Bands{Cuts: []float64{0.3, 0.7}, Labels: []string{"Low", "Medium", "High"}}},
			{TensorSpec: model.TensorSpec{Name: "embedding", DType: "float32", Shape: model.Shape{n, d(768)},
				Description: "tanh features of statistics pooled over the predicted tumour regions; MM's MRI input"}},
		},
		TrainingData: model.TrainingData{
			Kind:            "synthetic",
			RealPatientData: false,
			Description: "100 procedural brain-tumour phantoms (viewer/demo: brain with grey/white matter, CSF, vessels, a lobulated tumour with " +
				"oedema, necrotic core and an enhancing rim or none, texture, bias field, Rician noise) with random anatomy, tumour and noise, " +
				"acquired on random axial, coronal or sagittal grids (0.8–1.25 mm in plane, 1–4 mm between slices) and preprocessed by the " +
				"workstation's own code; segmentation targets are the phantom's analytic labels. Head targets follow stated phantom rules: " +
				"grade from the enhancing rim and the core size, IDH from the rim (10 % flipped), MGMT from the tumour's side, risk from grade, " +
				"volume, IDH and MGMT. No real patient data was used.",
			Samples: trainSamples,
			Seed:    trainSeed,
		},
		Evaluation: model.Evaluation{
			Dataset: "held-out synthetic phantoms (another seed) and, for segmentation only, one real BraTS-layout subject",
			Caveat: "Phantom figures show that the pipeline and the network work as built; they say nothing about real tumours. The " +
				"BraTS figures are from a single real subject, unseen in any form, and are reported as measured.",
		},
		Limitations: []string{
			"trained on synthetic phantoms only: real tumours, scanners and artefacts differ from them",
			"the grade, IDH, MGMT and risk heads learnt the phantom's rules (for example MGMT from the tumour's side), not biology",
			"expects skull-stripped images for the brain z-score; with the skull, the normalisation and the box include it",
			"one 128³ pass over the brain box: at about 1.2 mm per voxel small structures are coarse",
		},
		Recipe: &model.Recipe{
			Command: "go run ./inference/recipes/m1/gendata -n 100 -seed 20260201 -out /tmp/m1data && " +
				"OMP_NUM_THREADS=1 /usr/bin/python3 inference/recipes/m1/train.py --data /tmp/m1data --out assets/models/m1-demo.onnx && " +
				"go run ./inference/recipes/m1/card -onnx assets/models/m1-demo.onnx -brats ../shared/data/brats-sub-0004",
			Seed:       trainSeed,
			Iterations: iterations,
			Notes: "Debian python3-torch 1.13 on one thread; 1,400 iterations of 40³ patches (Adam, one-cycle), then the heads on " +
				"statistics pooled over the regions the trained network predicts on each training volume; exported at opset 17.",
		},
	}
}
