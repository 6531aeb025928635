package demo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"strings"
	"testing"

	"github.com/neuronova/neuronova/assets/models"
	"github.com/neuronova/neuronova/inference/model"
	"github.com/neuronova/neuronova/inference/ort"
	"github.com/neuronova/neuronova/recipes/internal/nn"
)

func smallConfig() Config {
	cfg := DefaultConfig()
	cfg.TrainSize, cfg.TestSize = 300, 120
	cfg.MG.Steps, cfg.MG.Batch = 25, 64
	cfg.MM.Steps, cfg.MM.Batch = 25, 64
	return cfg
}

// fakeM1 stands in for M1's embeddings in tests of the recipe's determinism and plumbing: a fixed vector per
// grade and MGMT status and replicate, and the embedded M1 card.
func fakeM1(t *testing.T) M1Embeddings {
	t.Helper()
	data, err := models.FS.ReadFile("m1-demo" + model.CardSuffix)
	if err != nil {
		t.Fatal(err)
	}
	card, err := model.ParseCard(data)
	if err != nil {
		t.Fatal(err)
	}
	rng := nn.NewRNG(5)
	var cases []M1Case
	for grade := 2; grade <= 4; grade++ {
		for _, mgmt := range []bool{false, true} {
			for r := 0; r < 3; r++ {
				e := make([]float64, MRIEmbeddingSize)
				for i := range e {
					e[i] = math.Tanh(0.3*float64(grade) + rng.Norm())
				}
				cases = append(cases, M1Case{Name: "fake", Grade: grade, MGMT: mgmt, Held: r == 2, Embedding: e})
			}
		}
	}
	return M1Embeddings{Cases: cases, Card: card}
}

func engine(t *testing.T) *ort.Engine {
	t.Helper()
	e, err := ort.New(ort.WithProvider(ort.ProviderCPU))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// The committed models must be reproducible: the same configuration gives the same bytes.
func TestBuildIsDeterministic(t *testing.T) {
	a, err := Build(context.Background(), smallConfig(), fakeM1(t))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Build(context.Background(), smallConfig(), fakeM1(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Files) != 8 || len(a.Files) != len(b.Files) {
		t.Fatalf("%d and %d files", len(a.Files), len(b.Files))
	}
	for name, data := range a.Files {
		if !bytes.Equal(data, b.Files[name]) {
			t.Errorf("%s differs between two runs", name)
		}
	}
	for _, id := range []string{MGCardID, MMCardID} {
		card, err := model.ParseCard(a.Files[id+model.CardSuffix])
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(a.Files[card.Artifact.File])
		if hex.EncodeToString(sum[:]) != card.Artifact.SHA256 {
			t.Errorf("%s: card sha256 does not match the file", id)
		}
		if len(card.Evaluation.Metrics) == 0 || !strings.Contains(card.Evaluation.Dataset, "synthetic") || card.TrainingData.RealPatientData {
			t.Errorf("%s: evaluation %+v", id, card.Evaluation)
		}
	}
}

func maxAbsDiff(a []float32, b []float64) float64 {
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i])-b[i]))
	}
	return d
}

// The exported graph must compute what the Go network computes (weights laid out, heads folded correctly).
func TestExportedGraphsMatchTheGoNetworks(t *testing.T) {
	cfg := smallConfig()
	gen := NewGenerator(cfg.Seed)
	train, test := gen.Cohort(cfg.TrainSize), gen.Cohort(8)
	stats := mgStats(train)
	mgNet := TrainMG(train, stats, cfg.MG)
	onnxBytes, err := marshal(mgNet.ExportMG(MGCardID, MGVersion))
	if err != nil {
		t.Fatal(err)
	}
	card := mgCard(cfg, stats, artifactFor(MGCardID+".onnx", onnxBytes), []float64{-1, 1})
	e := engine(t)
	m, err := load(context.Background(), e, card, onnxBytes)
	if err != nil {
		t.Fatal(err)
	}
	rows := mgInputs(test, stats, 0, 0)
	out, err := runRows(context.Background(), m, map[string][][]float64{MGInput: rows})
	if err != nil {
		t.Fatal(err)
	}
	var flat []float64
	for _, r := range rows {
		flat = append(flat, r...)
	}
	f := mgNet.forward(flat, len(rows))
	wantRisk := make([]float64, len(rows))
	wantSurv := make([]float64, len(rows))
	var wantGrade []float64
	for i := range rows {
		wantRisk[i] = f.risk[i] - mgNet.RiskOffset
		wantSurv[i] = f.surv[i]*mgNet.SurvSD + mgNet.SurvMean
		wantGrade = append(wantGrade, nn.Softmax(f.gradeLogits[3*i:3*i+3])...)
	}
	for name, c := range map[string]struct {
		got  []float32
		want []float64
	}{
		MGOutFeatures: {out[MGOutFeatures], f.feat},
		MGOutRisk:     {out[MGOutRisk], wantRisk},
		MGOutSurvival: {out[MGOutSurvival], wantSurv},
		MGOutGrade:    {out[MGOutGrade], wantGrade},
	} {
		if d := maxAbsDiff(c.got, c.want); d > 1e-4 {
			t.Errorf("MG %s: ONNX Runtime and Go differ by %g", name, d)
		}
	}

	// MM, with one modality hidden per row in turn.
	samples, err := mmSamples(context.Background(), m, card, train[:200], FeatureStats(proteinNames(), proteinRows(train[:200])))
	if err != nil {
		t.Fatal(err)
	}
	days, events := survivalOf(train[:200])
	recs := make([]bool, 200)
	mmNet := TrainMM(samples, days, events, recs, cfg.MM)
	mmBytes, err := marshal(mmNet.ExportMM(MMCardID, MMVersion))
	if err != nil {
		t.Fatal(err)
	}
	mmc := mmCard(cfg, FeatureStats(proteinNames(), proteinRows(train[:200])), artifactFor(MMCardID+".onnx", mmBytes), card, fakeM1(t).Card, 18, mmNet)
	mm, err := load(context.Background(), e, mmc, mmBytes)
	if err != nil {
		t.Fatal(err)
	}
	batch := samples[:6]
	for i := range batch {
		batch[i].Mask = [3]float64{1, 1, 1}
		if i < 3 {
			batch[i].Mask[i] = 0
		}
	}
	in := map[string][][]float64{}
	for _, s := range batch {
		zero := func(v []float64, keep float64) []float64 {
			if keep == 1 {
				return v
			}
			return make([]float64, len(v))
		}
		in[MMInMRI] = append(in[MMInMRI], zero(s.MRI, s.Mask[0]))
		in[MMInGene] = append(in[MMInGene], zero(s.Gene, s.Mask[1]))
		in[MMInProtein] = append(in[MMInProtein], zero(s.Protein, s.Mask[2]))
		in[MMInMask] = append(in[MMInMask], s.Mask[:])
	}
	got, err := runRows(context.Background(), mm, in)
	if err != nil {
		t.Fatal(err)
	}
	fw := mmNet.forward(batch)
	var wantLH, wantS12 []float64
	for _, v := range fw.logHazard {
		lh := v - mmNet.HazardOffset
		wantLH = append(wantLH, lh)
		wantS12 = append(wantS12, math.Exp(-mmNet.H0At12*math.Exp(lh)))
	}
	if d := maxAbsDiff(got[MMOutLogHazard], wantLH); d > 1e-4 {
		t.Errorf("MM log_hazard: ONNX Runtime and Go differ by %g", d)
	}
	if d := maxAbsDiff(got[MMOutSurvival12], wantS12); d > 1e-4 {
		t.Errorf("MM survival_12m: ONNX Runtime and Go differ by %g", d)
	}
}
