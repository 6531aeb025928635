package demo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"testing/fstest"

	"github.com/neuronova/neuronova/inference"
	"github.com/neuronova/neuronova/inference/model"
	"github.com/neuronova/neuronova/inference/onnxpb"
	"github.com/neuronova/neuronova/inference/ort"
	"github.com/neuronova/neuronova/recipes/internal/nn"
)

// Config fixes a recipe run. The same Config gives the same files.
type Config struct {
	Seed         uint64
	TrainSize    int
	TestSize     int
	MG           MGTraining
	MM           MMTraining
	Command      string // the command line recorded in the cards
	LibraryPath  string // ONNX Runtime library for the evaluation runs ("" = the usual lookup)
	ExampleCount int    // example input files per model
	// M1Bank is the folder of synthetic MRI cases (train_synth.py bank) whose embeddings by the committed M1
	// model MM trains on (see M1Bank); replicates numbered M1BankHeldFrom and above serve the test cohort only.
	M1Bank         string
	M1BankHeldFrom int
}

// M1Embeddings are what MM learns the MRI modality from: the M1 model's embeddings of synthetic cases, and that
// model's card (MM's card pins it).
type M1Embeddings struct {
	Cases []M1Case
	Card  *model.Card
}

// DefaultConfig is the configuration of the committed demo models.
func DefaultConfig() Config {
	return Config{
		Seed:           20260125,
		TrainSize:      3000,
		TestSize:       1000,
		MG:             MGTraining{Seed: 11, Steps: 1500, Batch: 128, LR: 2e-3, WeightDecay: 1e-4, GeneDropout: 0.1},
		MM:             MMTraining{Seed: 12, Steps: 1200, Batch: 128, LR: 2e-3, WeightDecay: 1e-4, ModalityDropout: 0.3},
		Command:        "go run ./recipes/demomodels -out assets/models -m1-bank /tmp/m1bank",
		ExampleCount:   2,
		M1Bank:         "/tmp/m1bank",
		M1BankHeldFrom: 6,
	}
}

// Model ids and versions of the demo models.
const (
	MGCardID  = "mg-demo"
	MMCardID  = "mm-demo"
	MGVersion = "1.0.0"
	MMVersion = "2.0.0"
	Banner    = "DEMONSTRATION MODEL — trained on synthetic data — not for clinical use"
)

// Artifacts are the files a recipe run writes, by name relative to the output directory.
type Artifacts struct {
	Files   map[string][]byte
	Reports []string // one line per measured figure, for the console
}

// Build generates the cohorts, trains MG and MM (MM's MRI inputs from m1), exports them, evaluates the exported
// graphs with ONNX Runtime and writes their cards and example inputs.
func Build(ctx context.Context, cfg Config, m1 M1Embeddings) (*Artifacts, error) {
	gen := NewGenerator(cfg.Seed)
	train, test := gen.Cohort(cfg.TrainSize), gen.Cohort(cfg.TestSize)
	art := &Artifacts{Files: map[string][]byte{}}

	var opts []ort.Option
	if cfg.LibraryPath != "" {
		opts = append(opts, ort.WithLibraryPath(cfg.LibraryPath))
	}
	engine, err := ort.New(append(opts, ort.WithProvider(ort.ProviderCPU), ort.WithIntraOpThreads(1))...)
	if err != nil {
		return nil, err
	}
	defer engine.Close()

	mgModel, mgCard, err := buildMG(ctx, cfg, train, test, engine, art)
	if err != nil {
		return nil, fmt.Errorf("MG: %w", err)
	}
	rng := nn.NewRNG(cfg.Seed + 13)
	if err := UseM1Bank(train, m1.Cases, false, rng); err != nil {
		return nil, err
	}
	if err := UseM1Bank(test, m1.Cases, true, rng); err != nil {
		return nil, err
	}
	if err := buildMM(ctx, cfg, train, test, engine, mgModel, mgCard, m1.Card, len(m1.Cases), art); err != nil {
		return nil, fmt.Errorf("MM: %w", err)
	}
	writeExamples(cfg, test, art)
	return art, nil
}

// load puts a card and its model into an in-memory registry and loads it the way the workstation does (sha256
// and signature checks included).
func load(ctx context.Context, engine *ort.Engine, card *model.Card, onnxBytes []byte) (*inference.Model, error) {
	cardBytes, err := card.Marshal()
	if err != nil {
		return nil, err
	}
	fsys := fstest.MapFS{
		card.ID + model.CardSuffix: {Data: cardBytes},
		card.Artifact.File:         {Data: onnxBytes},
	}
	reg, err := model.NewRegistry(model.WithEmbedded(fsys))
	if err != nil {
		return nil, err
	}
	return inference.NewRuntime(reg, engine).Load(ctx, card.ID)
}

func artifactFor(file string, data []byte) model.Artifact {
	sum := sha256.Sum256(data)
	return model.Artifact{File: file, SHA256: hex.EncodeToString(sum[:]), SizeBytes: int64(len(data)),
		Opset: graphOpset, IRVersion: graphIRVersion, Producer: Producer + " " + ProducerVersion}
}

func marshal(m onnxpb.Model) ([]byte, error) { return m.Marshal() }

// runRows feeds rows through a loaded model in batches and returns each output, concatenated.
func runRows(ctx context.Context, m *inference.Model, inputs map[string][][]float64) (map[string][]float32, error) {
	var n int
	for _, rows := range inputs {
		n = len(rows)
	}
	out := map[string][]float32{}
	const batch = 256
	for lo := 0; lo < n; lo += batch {
		hi := min(lo+batch, n)
		feed := map[string]ort.Tensor{}
		for name, rows := range inputs {
			width := len(rows[0])
			data := make([]float32, 0, (hi-lo)*width)
			for _, r := range rows[lo:hi] {
				data = append(data, f32(r)...)
			}
			feed[name] = ort.Tensor{Shape: []int64{int64(hi - lo), int64(width)}, Data: data}
		}
		res, err := m.Run(ctx, feed)
		if err != nil {
			return nil, err
		}
		for name, t := range res {
			out[name] = append(out[name], t.Data...)
		}
	}
	return out, nil
}

func column(v []float32, width, col int) []float64 {
	out := make([]float64, len(v)/width)
	for i := range out {
		out[i] = float64(v[i*width+col])
	}
	return out
}

func metric(name string, value float64, note string) model.Metric {
	return model.Metric{Name: name, Value: math.Round(value*1e4) / 1e4, Note: note}
}

func (a *Artifacts) report(prefix string, metrics []model.Metric) {
	for _, m := range metrics {
		a.Reports = append(a.Reports, fmt.Sprintf("%s: %s = %.4f", prefix, m.Name, m.Value))
	}
}

func survivalOf(ps []Patient) (days []float64, events []bool) {
	for _, p := range ps {
		days, events = append(days, p.Days), append(events, p.Event)
	}
	return days, events
}

func csvBytes(header string, rows [][2]string) []byte {
	var b bytes.Buffer
	b.WriteString(header + "\n")
	for _, r := range rows {
		b.WriteString(r[0] + "," + r[1] + "\n")
	}
	return b.Bytes()
}

// writeExamples writes example inputs from held-out patients (one high-grade, one lower-grade), rows shuffled,
// with two genes the model does not use, as TCGA files have.
func writeExamples(cfg Config, test []Patient, art *Artifacts) {
	rng := nn.NewRNG(cfg.Seed + 7)
	picked := 0
	for _, want := range []int{4, 2} {
		if picked >= cfg.ExampleCount {
			break
		}
		for _, p := range test {
			if p.Grade != want {
				continue
			}
			picked++
			label := fmt.Sprintf("example-%d-grade%d", picked, p.Grade)
			var rows [][2]string
			for i, g := range GeneList {
				rows = append(rows, [2]string{g.Symbol, fmt.Sprintf("%.4f", math.Exp2(p.GeneLog2[i])-1)})
			}
			rows = append(rows, [2]string{"LOC100130426", "0.0000"}, [2]string{"HMGB1P1", "195.9425"})
			shuffleRows(rng, rows)
			art.Files["examples/"+MGCardID+"-"+label+".csv"] = csvBytes("Hugo_Symbol,Expression", rows)
			rows = nil
			for i, pr := range ProteinList {
				rows = append(rows, [2]string{pr.Name, fmt.Sprintf("%.4f", p.Proteins[i])})
			}
			shuffleRows(rng, rows)
			art.Files["examples/"+MMCardID+"-"+label+"-rppa.csv"] = csvBytes("Protein_Name,Expression", rows)
			break
		}
	}
}

func shuffleRows(rng *nn.RNG, rows [][2]string) {
	idx := make([]int, len(rows))
	for i := range idx {
		idx[i] = i
	}
	rng.Shuffle(idx)
	shuffled := make([][2]string, len(rows))
	for i, j := range idx {
		shuffled[i] = rows[j]
	}
	copy(rows, shuffled)
}
