package mg

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/neuronova/neuronova/inference"
	"github.com/neuronova/neuronova/inference/internal/tabular"
	"github.com/neuronova/neuronova/inference/internal/testrt"
	"github.com/neuronova/neuronova/inference/model"
	"github.com/neuronova/neuronova/inference/ort"
)

const (
	highGradeExample = "mg-demo-example-1-grade4.csv"
	lowGradeExample  = "mg-demo-example-2-grade2.csv"
)

// rows splits a two-column example into its header and data lines.
func rows(t testing.TB, csv []byte) (string, []string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(string(csv)), "\n")
	return lines[0], lines[1:]
}

func join(header string, lines []string) []byte {
	return []byte(header + "\n" + strings.Join(lines, "\n") + "\n")
}

func run(t testing.TB, rt *inference.Runtime, csv []byte) *Result {
	t.Helper()
	res, err := RunBytes(context.Background(), rt, "", csv, "test.csv")
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// predictions is everything in a result that depends on the input's content, not on when or from which bytes
// it was computed.
func predictions(r *Result) []any {
	return []any{r.Risk, r.Grade, r.SurvivalTime, r.Recurrence, r.TMZResponse, r.TopGenes, r.Features, r.Alignment}
}

func TestExampleResultCarriesProvenanceAndBanner(t *testing.T) {
	rt := testrt.New(t)
	res := run(t, rt, testrt.Example(t, highGradeExample))
	card := res.Provenance.Model

	if !strings.Contains(strings.ToLower(res.Banner), model.NotForClinicalUse) || !res.NotForClinicalUse {
		t.Errorf("banner %q / not_for_clinical_use %v", res.Banner, res.NotForClinicalUse)
	}
	entry, err := rt.Registry().Get("mg-demo")
	if err != nil {
		t.Fatal(err)
	}
	if card.ID != "mg-demo" || card.SHA256 != entry.Card.Artifact.SHA256 || card.Version != entry.Card.Version || card.Source != model.EmbeddedSource {
		t.Errorf("model provenance %+v", card)
	}
	if res.Runtime.Provider.Used != ort.ProviderCPU || res.Runtime.Provider.Reason == "" || !strings.HasPrefix(res.Runtime.ORTVersion, "1.") {
		t.Errorf("runtime provenance %+v", res.Runtime)
	}
	var stages []string
	for _, s := range res.Timings {
		stages = append(stages, s.Stage)
	}
	if want := []string{"parse", "model", "align and normalise", "inference", "postprocess"}; !reflect.DeepEqual(stages, want) {
		t.Errorf("stages %v, want %v", stages, want)
	}
	if len(res.Inputs) != 1 || res.Inputs[0].Kind != inference.InputGeneCSV || len(res.Inputs[0].SHA256) != 64 || res.Inputs[0].Name != "test.csv" {
		t.Errorf("inputs %+v", res.Inputs)
	}

	a := res.Alignment
	if a.Matched != len(entry.Card.Genes) || len(a.Missing) != 0 || a.UnknownCount != 2 ||
		!reflect.DeepEqual(a.UnknownSample, []string{"HMGB1P1", "LOC100130426"}) || !a.Log2Applied {
		t.Errorf("alignment %+v", a)
	}
	sum := 0.0
	for _, p := range res.Grade.Probabilities {
		sum += p.Probability
	}
	if math.Abs(sum-1) > 1e-5 || math.Abs(res.Grade.LGGProbability+res.Grade.HGGProbability-1) > 1e-5 {
		t.Errorf("grade probabilities %+v", res.Grade)
	}
	if len(res.Features) != 64 || len(res.TopGenes) != TopGeneCount || res.TopGenes[0].Rank != 1 {
		t.Errorf("%d features, %d top genes", len(res.Features), len(res.TopGenes))
	}
	for i := 1; i < len(res.TopGenes); i++ {
		if math.Abs(res.TopGenes[i].Attribution) > math.Abs(res.TopGenes[i-1].Attribution) {
			t.Errorf("top genes not ordered by |attribution| at rank %d", i+1)
		}
	}
	if res.Risk.Group == "" || res.Recurrence.Predicted == "" || res.TMZResponse.Status == "Unknown" || res.SurvivalTime.Days <= 0 {
		t.Errorf("risk %+v recurrence %+v tmz %+v survival %+v", res.Risk, res.Recurrence, res.TMZResponse, res.SurvivalTime)
	}

	data, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"banner":"DEMONSTRATION MODEL`, `"schema":"neuronova.inference-result/1"`, `"provider":{"requested":"cpu","used":"cpu"`, `"top_genes":[{"rank":1`} {
		if !bytes.Contains(data, []byte(key)) {
			t.Errorf("result JSON lacks %s", key)
		}
	}
}

// With provider auto on a machine where CUDA cannot run, the result records the fallback and its reason.
func TestResultRecordsProviderChoice(t *testing.T) {
	rt := testrt.New(t, ort.WithProvider(ort.ProviderAuto))
	p := run(t, rt, testrt.Example(t, lowGradeExample)).Runtime.Provider
	if p.Requested != ort.ProviderAuto {
		t.Fatalf("requested %q", p.Requested)
	}
	switch p.Used {
	case ort.ProviderCPU:
		if !strings.HasPrefix(p.Reason, "CUDA unavailable, fell back to CPU: ") {
			t.Errorf("fallback reason %q", p.Reason)
		}
	case ort.ProviderCUDA:
		if p.CUDADeviceID == nil {
			t.Error("CUDA used without a device id")
		}
	default:
		t.Errorf("provider %+v", p)
	}
}

// The examples are a held-out synthetic grade-4 and grade-2 patient; the model must tell them apart.
func TestExamplesAreToldApart(t *testing.T) {
	rt := testrt.New(t)
	high, low := run(t, rt, testrt.Example(t, highGradeExample)), run(t, rt, testrt.Example(t, lowGradeExample))
	if high.Grade.HGGProbability <= low.Grade.HGGProbability {
		t.Errorf("P(G4): grade-4 example %.3f, grade-2 example %.3f", high.Grade.HGGProbability, low.Grade.HGGProbability)
	}
	if high.Risk.Score <= low.Risk.Score {
		t.Errorf("risk: grade-4 example %.3f, grade-2 example %.3f", high.Risk.Score, low.Risk.Score)
	}
}

// The seed took values in file order, so reordering rows changed its predictions. Here they must not change,
// whatever the order, the column layout or the separator.
func TestShuffledRowsGiveIdenticalOutputs(t *testing.T) {
	rt := testrt.New(t)
	csv := testrt.Example(t, highGradeExample)
	want := predictions(run(t, rt, csv))
	header, lines := rows(t, csv)
	for seed := uint64(1); seed <= 5; seed++ {
		shuffled := append([]string(nil), lines...)
		rand.New(rand.NewPCG(seed, 0)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		if got := predictions(run(t, rt, join(header, shuffled))); !reflect.DeepEqual(got, want) {
			t.Fatalf("shuffle %d changed the outputs:\n got %+v\nwant %+v", seed, got, want)
		}
	}
	// The TCGA three-column layout, tab-separated, reversed.
	var tsv []string
	for i := len(lines) - 1; i >= 0; i-- {
		name, value, _ := strings.Cut(lines[i], ",")
		tsv = append(tsv, fmt.Sprintf("%s\t%d\t%s", name, 1000+i, value))
	}
	if got := predictions(run(t, rt, join("Hugo_Symbol\tEntrez_Gene_Id\tExpression", tsv))); !reflect.DeepEqual(got, want) {
		t.Fatalf("three-column TSV changed the outputs:\n got %+v\nwant %+v", got, want)
	}
}

func TestMissingAndUnknownGenesAreReported(t *testing.T) {
	rt := testrt.New(t)
	header, lines := rows(t, testrt.Example(t, highGradeExample))
	drop := map[string]bool{"MGMT": true, "IDH1": true, "EGFR": true}
	var edited []string
	for _, l := range lines {
		name, _, _ := strings.Cut(l, ",")
		switch {
		case drop[name]:
		case name == "PTEN":
			edited = append(edited, "PTEN,NA") // present, unmeasured
		default:
			edited = append(edited, l)
		}
	}
	edited = append(edited, "NOTAGENE1,5.0", "ZZZ3,12.0")
	res := run(t, rt, join(header, edited))
	a := res.Alignment
	if want := []string{"MGMT", "EGFR", "IDH1"}; !reflect.DeepEqual(a.Missing, want) {
		t.Errorf("missing %v, want %v (card order)", a.Missing, want)
	}
	if !reflect.DeepEqual(a.NoValue, []string{"PTEN"}) {
		t.Errorf("no value %v, want [PTEN]", a.NoValue)
	}
	if a.UnknownCount != 4 || !reflect.DeepEqual(a.UnknownSample, []string{"HMGB1P1", "LOC100130426", "NOTAGENE1", "ZZZ3"}) {
		t.Errorf("unknown %d %v", a.UnknownCount, a.UnknownSample)
	}
	if res.TMZResponse.Status != "Unknown" || res.TMZResponse.MethylationProbability != nil {
		t.Errorf("TMZ without MGMT: %+v", res.TMZResponse)
	}
	if len(res.Warnings) != 2 || !strings.Contains(res.Warnings[0], "4 of the model's 309 genes had no value") {
		t.Errorf("warnings %q", res.Warnings)
	}
	for _, g := range res.TopGenes {
		if drop[g.Gene] || g.Gene == "PTEN" {
			t.Errorf("missing gene %s listed among the top genes", g.Gene)
		}
	}
}

func TestMostlyMissingFileIsRefused(t *testing.T) {
	rt := testrt.New(t)
	_, err := RunBytes(context.Background(), rt, "", []byte("Hugo_Symbol,Expression\nTP53,100\nEGFR,2000\nGAPDH,5000\n"), "few.csv")
	if !errors.Is(err, ErrTooManyMissing) || !strings.Contains(err.Error(), "306 of the 309 genes of mg-demo have no value") {
		t.Fatalf("error %v", err)
	}
}

func TestLog2RuleFollowsTheCard(t *testing.T) {
	rt := testrt.New(t)
	header, lines := rows(t, testrt.Example(t, highGradeExample))
	raw := run(t, rt, join(header, lines))
	// The same file already on the log2(x+1) scale: no transform, same predictions up to rounding.
	var logged []string
	for _, l := range lines {
		name, value, _ := strings.Cut(l, ",")
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			t.Fatal(err)
		}
		logged = append(logged, fmt.Sprintf("%s,%.9f", name, math.Log2(v+1)))
	}
	res := run(t, rt, join(header, logged))
	if res.Alignment.Log2Applied || !raw.Alignment.Log2Applied {
		t.Fatalf("log2 applied: raw file %v, log2 file %v", raw.Alignment.Log2Applied, res.Alignment.Log2Applied)
	}
	if math.Abs(res.Risk.Score-raw.Risk.Score) > 1e-4 || math.Abs(res.Grade.Probability-raw.Grade.Probability) > 1e-4 {
		t.Errorf("log2-scale file: risk %v grade %v; raw file: risk %v grade %v", res.Risk.Score, res.Grade.Probability, raw.Risk.Score, raw.Grade.Probability)
	}
	// A negative value in a raw-count file cannot be log-transformed.
	for i, l := range lines {
		if strings.HasPrefix(l, "TP53,") {
			lines[i] = "TP53,-5"
		}
	}
	if _, err := RunBytes(context.Background(), rt, "", join(header, lines), "neg.csv"); !errors.Is(err, ErrNegativeRaw) {
		t.Fatalf("negative raw value: %v", err)
	}
}

func TestTMZRuleReadsMGMT(t *testing.T) {
	rt := testrt.New(t)
	entry, err := rt.Registry().Get("mg-demo")
	if err != nil {
		t.Fatal(err)
	}
	var mgmt model.Feature
	for _, g := range entry.Card.Genes {
		if g.Symbol == "MGMT" {
			mgmt = g
		}
	}
	header, lines := rows(t, testrt.Example(t, highGradeExample))
	for _, tc := range []struct {
		z    float64
		want string
	}{{-2, "Methylated"}, {0, "Intermediate"}, {2, "Unmethylated"}} {
		raw := math.Exp2(mgmt.Mean+tc.z*mgmt.SD) - 1
		var edited []string
		for _, l := range lines {
			if strings.HasPrefix(l, "MGMT,") {
				l = fmt.Sprintf("MGMT,%.6f", raw)
			}
			edited = append(edited, l)
		}
		r := run(t, rt, join(header, edited)).TMZResponse
		wantP := 1 / (1 + math.Exp(tc.z))
		if r.Status != tc.want || math.Abs(*r.MGMTZScore-tc.z) > 1e-4 || math.Abs(*r.MethylationProbability-wantP) > 1e-4 ||
			math.Abs(r.Confidence-math.Abs(wantP-0.5)*2) > 1e-4 || r.Interpretation == "" {
			t.Errorf("z %v: %+v (p %v), want %s", tc.z, r, *r.MethylationProbability, tc.want)
		}
	}
}

// risk_attribution is computed inside the ONNX graph as gradient × input; check it against finite differences
// of the risk output through ONNX Runtime.
func TestAttributionIsGradientTimesInput(t *testing.T) {
	rt := testrt.New(t)
	m, err := rt.LoadFamily(context.Background(), model.FamilyMG, "")
	if err != nil {
		t.Fatal(err)
	}
	table, err := ParseCSV(bytes.NewReader(testrt.Example(t, highGradeExample)))
	if err != nil {
		t.Fatal(err)
	}
	prep, err := Prepare(m.Card, table)
	if err != nil {
		t.Fatal(err)
	}
	runZ := func(z []float32) map[string]ort.Tensor {
		out, err := m.Run(context.Background(), map[string]ort.Tensor{"expression_z": {Shape: []int64{1, int64(len(z))}, Data: z}})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	attribution := runZ(prep.Z)[OutAttribution].Data
	const h = 0.01
	for _, i := range []int{0, 1, 2, 5, 100, 200, 308} {
		up, down := append([]float32(nil), prep.Z...), append([]float32(nil), prep.Z...)
		up[i] += h
		down[i] -= h
		grad := (float64(runZ(up)[OutRisk].Data[0]) - float64(runZ(down)[OutRisk].Data[0])) / (2 * h)
		want := grad * float64(prep.Z[i])
		if math.Abs(float64(attribution[i])-want) > 2e-3*math.Max(1, math.Abs(want)) {
			t.Errorf("gene %s: attribution %v, finite difference %v", m.Card.Genes[i].Symbol, attribution[i], want)
		}
	}
}

func TestPrepareRefusesCardsItCannotHonour(t *testing.T) {
	rt := testrt.New(t)
	entry, err := rt.Registry().Get("mg-demo")
	if err != nil {
		t.Fatal(err)
	}
	table, err := ParseCSV(bytes.NewReader(testrt.Example(t, highGradeExample)))
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]func(c *model.Card){
		"normalisation": func(c *model.Card) { c.Inputs[0].Preprocessing.Normalisation = "quantile" },
		"feature list":  func(c *model.Card) { c.Inputs[0].Preprocessing.Features = "proteins" },
		"no output":     func(c *model.Card) { c.Outputs = c.Outputs[:3] },
		"grade labels":  func(c *model.Card) { c.Outputs[2].Labels = nil },
	}
	for name, spoil := range tests {
		t.Run(name, func(t *testing.T) {
			card := cloneCard(t, entry.Card)
			spoil(card)
			if _, err := Prepare(card, table); !errors.Is(err, ErrUnsupportedCard) {
				t.Fatalf("error %v, want ErrUnsupportedCard", err)
			}
		})
	}
	card := cloneCard(t, entry.Card)
	card.Family = model.FamilyMM
	if _, err := Prepare(card, table); !errors.Is(err, inference.ErrWrongFamily) {
		t.Fatalf("MM card: %v, want ErrWrongFamily", err)
	}
}

func cloneCard(t *testing.T, c *model.Card) *model.Card {
	t.Helper()
	data, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var out model.Card
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

func FuzzPrepare(f *testing.F) {
	rt := testrt.New(f)
	entry, err := rt.Registry().Get("mg-demo")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(testrt.Example(f, lowGradeExample)))
	f.Add("Hugo_Symbol,Entrez_Gene_Id,Expression\nMGMT,4255,12\nMGMT,4255,13\n")
	f.Add("TP53\t1\nEGFR\t-1\n")
	f.Fuzz(func(t *testing.T, csv string) {
		table, err := ParseCSV(strings.NewReader(csv), tabular.WithMaxBytes(1<<16))
		if err != nil {
			if !errors.Is(err, ErrBadCSV) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("parse error %v is not typed", err)
			}
			return
		}
		prep, err := Prepare(entry.Card, table)
		if err != nil {
			if !errors.Is(err, ErrBadCSV) && !errors.Is(err, ErrTooManyMissing) && !errors.Is(err, ErrNegativeRaw) {
				t.Fatalf("prepare error %v is not typed", err)
			}
			return
		}
		for i, z := range prep.Z {
			if math.IsNaN(float64(z)) || math.IsInf(float64(z), 0) {
				t.Fatalf("z[%d] = %v", i, z)
			}
		}
	})
}

func BenchmarkMGRun(b *testing.B) {
	rt := testrt.New(b)
	csv := testrt.Example(b, highGradeExample)
	run(b, rt, csv) // load and warm up outside the timing
	b.ResetTimer()
	for b.Loop() {
		if _, err := RunBytes(context.Background(), rt, "", csv, "bench.csv"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMGSessionRun(b *testing.B) {
	rt := testrt.New(b)
	m, err := rt.LoadFamily(context.Background(), model.FamilyMG, "")
	if err != nil {
		b.Fatal(err)
	}
	table, err := ParseCSV(bytes.NewReader(testrt.Example(b, highGradeExample)))
	if err != nil {
		b.Fatal(err)
	}
	prep, err := Prepare(m.Card, table)
	if err != nil {
		b.Fatal(err)
	}
	in := map[string]ort.Tensor{"expression_z": {Shape: []int64{1, int64(len(prep.Z))}, Data: prep.Z}}
	b.ResetTimer()
	for b.Loop() {
		if _, err := m.Run(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
}
