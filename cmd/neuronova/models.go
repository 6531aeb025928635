package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/neuronova/neuronova/assets/models"
	"github.com/neuronova/neuronova/inference"
	"github.com/neuronova/neuronova/inference/m1"
	"github.com/neuronova/neuronova/inference/mg"
	"github.com/neuronova/neuronova/inference/mm"
	"github.com/neuronova/neuronova/inference/model"
	"github.com/neuronova/neuronova/inference/ort"
	"github.com/neuronova/neuronova/viewer"
)

// cmdModels lists the models the workstation can run, or adds or verifies one.
func cmdModels(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "add":
			return cmdModelsAdd(args[1:], stdout, stderr)
		case "verify":
			return cmdModelsVerify(args[1:], stdout, stderr)
		}
		return fmt.Errorf("%w: models %q: want no argument (list), add or verify", errUsage, args[0])
	}
	fs := newFlags("models", stderr)
	dir := fs.String("models", "", "user model directory (default: the conventional one, when it exists)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: models: unexpected arguments %q", errUsage, fs.Args())
	}
	opts := []model.Option{model.WithEmbedded(models.FS)}
	if *dir == "" {
		if d, err := model.UserDir(); err == nil {
			if fi, err := os.Stat(d); err == nil && fi.IsDir() {
				*dir = d
			}
		}
	}
	if *dir != "" {
		opts = append(opts, model.WithDir(*dir))
	}
	reg, err := model.NewRegistry(opts...)
	if err != nil {
		return err
	}
	return model.WriteList(stdout, reg.List())
}

// cmdModelsAdd checks a model and its card as loading would (card rules, the file's sha256 and size, the
// graph's inputs and outputs against the card, a warm-up run in ONNX Runtime, what its family's pipeline
// accepts) and installs both into the user model directory, next to no other model of that id.
func cmdModelsAdd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("models add", stderr)
	dir := fs.String("models", "", "user model directory to install into (default: the conventional one, made when missing)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 || !strings.HasSuffix(fs.Arg(0), ".onnx") || !strings.HasSuffix(fs.Arg(1), ".json") {
		return fmt.Errorf("%w: models add [--models DIR] MODEL.onnx CARD.json (got %q)", errUsage, fs.Args())
	}
	onnxPath, cardPath := fs.Arg(0), fs.Arg(1)
	cardData, err := os.ReadFile(cardPath)
	if err != nil {
		return err
	}
	card, err := model.ParseCard(cardData)
	if err != nil {
		return fmt.Errorf("%s: %w", cardPath, err)
	}
	data, err := os.ReadFile(onnxPath)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != card.Artifact.SHA256 || int64(len(data)) != card.Artifact.SizeBytes {
		return fmt.Errorf("%w: %s has sha256 %s (%d bytes); the card says %s (%d bytes)", model.ErrChecksumMismatch, onnxPath,
			got, len(data), card.Artifact.SHA256, card.Artifact.SizeBytes)
	}
	if *dir == "" {
		if *dir, err = model.UserDir(); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	reg, err := model.NewRegistry(model.WithEmbedded(models.FS), model.WithDir(*dir))
	if err != nil {
		return err
	}
	for _, e := range reg.List() {
		if e.Card != nil && e.Card.ID == card.ID {
			return fmt.Errorf("%w: %s is already installed (%s in %s); give the new model another id", model.ErrDuplicateID, card.ID, e.CardPath, e.Source)
		}
	}
	dst := map[string][]byte{card.Artifact.File: data, card.ID + model.CardSuffix: cardData}
	for name := range dst {
		if _, err := os.Stat(filepath.Join(*dir, name)); err == nil {
			return fmt.Errorf("%s already exists in %s", name, *dir)
		}
	}
	if err := checkModel(card, dst); err != nil {
		return err
	}
	for _, name := range []string{card.Artifact.File, card.ID + model.CardSuffix} { // the card last: the registry reads cards
		tmp := filepath.Join(*dir, "."+name+".tmp")
		if err := os.WriteFile(tmp, dst[name], 0o644); err != nil {
			return err
		}
		if err := os.Rename(tmp, filepath.Join(*dir, name)); err != nil {
			os.Remove(tmp)
			return err
		}
	}
	fmt.Fprintf(stdout, "installed %s %s (%s, %s) into %s\n%s\n", card.ID, card.Version, card.Family, card.Status, *dir, card.IntendedUse.Banner)
	return nil
}

// checkModel loads the model from a scratch directory holding files as the runtime would, then asks its
// family's pipeline whether it can run it.
func checkModel(card *model.Card, files map[string][]byte) error {
	scratch, err := os.MkdirTemp("", "neuronova-models-add-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(scratch, name), b, 0o644); err != nil {
			return err
		}
	}
	reg, err := model.NewRegistry(model.WithDir(scratch))
	if err != nil {
		return err
	}
	eng, err := ort.New(ort.WithProvider(ort.ProviderCPU), ort.WithIntraOpThreads(1))
	if err != nil {
		return err
	}
	defer eng.Close()
	if _, err := inference.NewRuntime(reg, eng).Load(context.Background(), card.ID); err != nil {
		return err
	}
	switch card.Family {
	case model.FamilyM1:
		return m1.CheckCard(card)
	case model.FamilyMG:
		return mg.CheckCard(card)
	}
	return mm.CheckCard(card)
}

// cmdModelsVerify runs an M1 model on a study and reports the Dice of each region against the label map the
// model's provider ships for it.
func cmdModelsVerify(args []string, stdout, stderr io.Writer) error {
	id := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		id, args = args[0], args[1:]
	}
	fs := newFlags("models verify", stderr)
	input := fs.String("input", "", "the study: a DICOM folder or file, a BraTS NIfTI folder, or \"demo\"")
	expect := fs.String("expect", "", "the expected label map (NIfTI, BraTS labels) on the reference series' grid")
	reference := fs.String("reference", "T1CE", "the sequence whose grid the labels use")
	minDice := fs.Float64("min-dice", 0, "fail when the Dice of WT, TC or ET is below this")
	out := fs.String("out", "", "also write the model's label map here (NIfTI)")
	modelsDir := fs.String("models", "", "user model directory (default: the conventional one, when it exists)")
	provider := fs.String("provider", "auto", "execution provider: auto, cuda or cpu")
	threads := fs.Int("threads", 1, "ONNX Runtime intra-op threads")
	if err := parse(fs, args); err != nil {
		return err
	}
	if id == "" || fs.NArg() > 0 || *input == "" || *expect == "" {
		return fmt.Errorf("%w: models verify ID --input STUDY --expect LABELS.nii.gz (got %q)", errUsage, append([]string{id}, fs.Args()...))
	}
	ref, ok := viewer.ParseSeriesType(*reference)
	if !ok {
		return fmt.Errorf("%w: --reference %q", errUsage, *reference)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rt, closeRT, err := inferRuntime(*modelsDir, *provider, *threads)
	if err != nil {
		return err
	}
	defer closeRT()
	e, err := rt.Registry().Get(id)
	if err != nil {
		return err
	}
	if e.Card.Family != model.FamilyM1 {
		return fmt.Errorf("%w: %s is an %s model; verify compares segmentations (M1)", errUsage, id, e.Card.Family)
	}
	want, err := viewer.LoadNIfTILabels(*expect)
	if err != nil {
		return err
	}
	st, err := loadStudy(ctx, *input)
	if err != nil {
		return err
	}
	res, err := m1.Run(ctx, rt, m1.Request{ModelID: id, Study: st, Reference: ref})
	if err != nil {
		return err
	}
	if *out != "" {
		if err := viewer.SaveNIfTILabels(*out, res.Labels); err != nil {
			return err
		}
	}
	rows, err := m1.Compare(res.Labels, want)
	if err != nil {
		return fmt.Errorf("%s against %s: %w", id, *expect, err)
	}
	fmt.Fprintf(stdout, "%s\n%s %s on %s (%d windows of %v, provider %s, network %s)\n", res.Banner, id, e.Card.Version, *input,
		res.Preprocessing.Windows, res.Preprocessing.WindowSize, res.Runtime.Provider.Used, stageTime(res, m1.StageInference))
	mL := res.Labels.VoxelVolume() / 1000
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REGION\tDICE\tMODEL mL\tEXPECTED mL")
	var low []string
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%.4f\t%.2f\t%.2f\n", r.Name, r.Dice, float64(r.Voxels)*mL, float64(r.Reference)*mL)
		if (r.Name == "WT" || r.Name == "TC" || r.Name == "ET") && r.Dice < *minDice {
			low = append(low, fmt.Sprintf("%s %.4f", r.Name, r.Dice))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(low) > 0 {
		return fmt.Errorf("%s: Dice below %.4f: %s", id, *minDice, strings.Join(low, ", "))
	}
	return nil
}

func stageTime(res *m1.Result, stage string) string {
	for _, t := range res.Timings {
		if t.Stage == stage {
			return fmt.Sprintf("%.1f s", t.Milliseconds/1000)
		}
	}
	return "?"
}
