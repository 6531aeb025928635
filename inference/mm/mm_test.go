package mm

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/neuronova/neuronova/inference"
	"github.com/neuronova/neuronova/inference/internal/tabular"
	"github.com/neuronova/neuronova/inference/internal/testrt"
	"github.com/neuronova/neuronova/inference/mg"
	"github.com/neuronova/neuronova/inference/model"
)

const (
	geneExample    = "mg-demo-example-1-grade4.csv"
	proteinExample = "mm-demo-example-1-grade4-rppa.csv"
)

func mgResult(t testing.TB, rt *inference.Runtime) *mg.Result {
	t.Helper()
	res, err := mg.RunBytes(context.Background(), rt, "", testrt.Example(t, geneExample), geneExample)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func runMM(t testing.TB, rt *inference.Runtime, mri, gene *Embedding, rppa []byte) *Result {
	t.Helper()
	res, err := RunBytes(context.Background(), rt, "", mri, gene, rppa, "rppa.csv")
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func predictions(r *Result) []any {
	return []any{r.Survival, r.Recurrence, r.RiskGroup, r.Modalities, r.ModalitiesUsed, r.ModalitiesMissing, r.ProteinAlignment}
}

func TestGeneAndProteinWithMRIMissing(t *testing.T) {
	rt := testrt.New(t)
	gene := FromMG(mgResult(t, rt))
	res := runMM(t, rt, nil, gene, testrt.Example(t, proteinExample))

	if !strings.Contains(strings.ToLower(res.Banner), model.NotForClinicalUse) || res.Model.ID != "mm-demo" {
		t.Errorf("banner %q model %+v", res.Banner, res.Model)
	}
	if !reflect.DeepEqual(res.ModalitiesUsed, []string{"gene", "protein"}) || !reflect.DeepEqual(res.ModalitiesMissing, []string{"mri"}) {
		t.Errorf("used %v missing %v", res.ModalitiesUsed, res.ModalitiesMissing)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "mri modality missing") {
		t.Errorf("warnings %q", res.Warnings)
	}
	if len(res.Inputs) != 3 || res.Inputs[0].Kind != inference.InputMissing ||
		res.Inputs[1].Upstream == nil || !res.Inputs[1].Upstream.Verified || res.Inputs[1].Upstream.ModelID != "mg-demo" ||
		res.Inputs[2].Kind != inference.InputProteinCSV || len(res.Inputs[2].SHA256) != 64 {
		t.Errorf("inputs %+v", res.Inputs)
	}
	share := 0.0
	for _, m := range res.Modalities {
		share += m.Contribution
		if !m.Present && m.Contribution != 0 {
			t.Errorf("missing modality %s contributes %v", m.Name, m.Contribution)
		}
	}
	if math.Abs(share-1) > 1e-6 {
		t.Errorf("contributions sum to %v", share)
	}
	s := res.Survival
	if !(s.Probability12m > 0 && s.Probability12m <= s.Probability6m && s.Probability6m < 1) ||
		math.Abs(s.HazardRatio-math.Exp(s.LogHazard)) > 1e-9 || math.Abs(s.RiskScore-1/(1+math.Exp(-s.LogHazard))) > 1e-5 {
		t.Errorf("survival %+v", s)
	}
	// S(t) = exp(−H0(t)·HR): the two horizons must share one hazard ratio.
	if r := math.Log(s.Probability12m) / math.Log(s.Probability6m); r <= 1 {
		t.Errorf("cumulative hazard ratio 12m/6m = %v, want > 1", r)
	}
	card, err := rt.Registry().Get("mm-demo")
	if err != nil {
		t.Fatal(err)
	}
	if want := card.Card.Output(OutRisk).Bands.Label(s.RiskScore); res.RiskGroup.Predicted != want {
		t.Errorf("risk group %q for score %v, want %q", res.RiskGroup.Predicted, s.RiskScore, want)
	}
	if a := res.ProteinAlignment; a == nil || a.Matched != len(card.Card.Proteins) || a.UnknownCount != 0 {
		t.Errorf("protein alignment %+v", a)
	}
}

func TestShuffledProteinRowsAndAntibodyNamesGiveIdenticalOutputs(t *testing.T) {
	rt := testrt.New(t)
	gene := FromMG(mgResult(t, rt))
	csv := string(testrt.Example(t, proteinExample))
	want := predictions(runMM(t, rt, nil, gene, []byte(csv)))
	lines := strings.Split(strings.TrimSpace(csv), "\n")
	header, rows := lines[0], lines[1:]
	rand.New(rand.NewPCG(7, 0)).Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	if got := predictions(runMM(t, rt, nil, gene, []byte(header+"\n"+strings.Join(rows, "\n")+"\n"))); !reflect.DeepEqual(got, want) {
		t.Fatalf("shuffled RPPA rows changed the outputs:\n got %+v\nwant %+v", got, want)
	}
	// Antibody names only, where they are unique in the card.
	for i, r := range rows {
		if strings.HasPrefix(r, "EGFR|EGFR_pY1068,") || strings.HasPrefix(r, "PTEN|PTEN,") {
			_, rest, _ := strings.Cut(r, "|")
			rows[i] = rest
		}
	}
	if got := predictions(runMM(t, rt, nil, gene, []byte(header+"\n"+strings.Join(rows, "\n")+"\n"))); !reflect.DeepEqual(got, want) {
		t.Fatalf("antibody-only names changed the outputs:\n got %+v\nwant %+v", got, want)
	}
}

func TestUpstreamResultJSONRoundTrip(t *testing.T) {
	rt := testrt.New(t)
	res := mgResult(t, rt)
	data, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := ParseUpstreamResult(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(parsed, FromMG(res)) {
		t.Fatalf("parsed %+v, want %+v", parsed.Source, FromMG(res).Source)
	}
}

func TestUpstreamChecks(t *testing.T) {
	rt := testrt.New(t)
	good := FromMG(mgResult(t, rt))
	rppa := testrt.Example(t, proteinExample)
	other := *good
	otherSource := *good.Source
	otherSource.SHA256 = strings.Repeat("0", 64)
	other.Source = &otherSource
	short := &Embedding{Values: good.Values[:10], Source: good.Source}
	nan := &Embedding{Values: append([]float32(nil), good.Values...), Source: good.Source}
	nan.Values[3] = float32(math.NaN())
	mriFromMG := &Embedding{Values: make([]float32, 768), Source: good.Source}

	tests := map[string]struct {
		mri, gene *Embedding
		want      error
		msg       string
	}{
		"no provenance":        {nil, &Embedding{Values: good.Values}, ErrUpstreamMismatch, "gene_features has no provenance"},
		"another MG model":     {nil, &other, ErrUpstreamMismatch, "was trained on mg-demo"},
		"wrong length":         {nil, short, ErrBadEmbedding, "gene_features has 10 values; mm-demo takes 64"},
		"not finite":           {nil, nan, ErrBadEmbedding, "value 3 is NaN"},
		"MRI from an MG model": {mriFromMG, nil, ErrUpstreamMismatch, "comes from an MG model"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := RunBytes(context.Background(), rt, "", tc.mri, tc.gene, rppa, "rppa.csv")
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %v, want %v containing %q", err, tc.want, tc.msg)
			}
		})
	}
	if _, err := RunBytes(context.Background(), rt, "", nil, nil, nil, ""); !errors.Is(err, ErrNoModality) {
		t.Fatalf("no modality: %v", err)
	}
}

// The demo card pins no M1 model (M1 did not exist when MM was trained): an M1 embedding is used, and the result
// says it was not verified.
func TestUnverifiedMRIEmbeddingIsMarked(t *testing.T) {
	rt := testrt.New(t)
	mri := &Embedding{Values: make([]float32, 768), Source: &Source{ModelID: "m1-site", Family: model.FamilyM1, Version: "0.1"}}
	for i := range mri.Values {
		mri.Values[i] = float32(math.Sin(float64(i)))
	}
	res := runMM(t, rt, mri, nil, nil)
	if !reflect.DeepEqual(res.ModalitiesUsed, []string{"mri"}) || res.Inputs[0].Upstream == nil || res.Inputs[0].Upstream.Verified {
		t.Fatalf("used %v inputs %+v", res.ModalitiesUsed, res.Inputs)
	}
	found := false
	for _, w := range res.Warnings {
		found = found || strings.Contains(w, "mri_embedding not verified: trained on simulated 768-value embeddings")
	}
	if !found {
		t.Errorf("warnings %q do not say the MRI embedding was unverified", res.Warnings)
	}
}

func TestMostlyMissingProteinsAreRefused(t *testing.T) {
	rt := testrt.New(t)
	_, err := RunBytes(context.Background(), rt, "", nil, nil, []byte("Protein_Name,Expression\nEGFR|EGFR,0.5\nFOO|Bar,1\n"), "few.csv")
	if !errors.Is(err, ErrTooManyMissing) || !strings.Contains(err.Error(), "58 of the 59 proteins of mm-demo have no value") {
		t.Fatalf("error %v", err)
	}
	_, err = RunBytes(context.Background(), rt, "", nil, nil, []byte("Protein_Name,Expression\nEGFR|EGFR,lots\n"), "bad.csv")
	if !errors.Is(err, ErrBadCSV) || !strings.Contains(err.Error(), `RPPA file, line 2, column Expression: "lots"`) {
		t.Fatalf("error %v", err)
	}
}

func FuzzParseUpstreamResult(f *testing.F) {
	f.Add([]byte(`{"model":{"id":"mg-demo","family":"MG","version":"1","sha256":"ab"},"features":[0.1,-2,3e-3]}`))
	f.Add([]byte(`{"model":{"id":"m1","family":"M1"},"embedding":[1,2]}`))
	f.Add([]byte(`{"model":{"id":"x","family":"MM"},"features":[1]}`))
	f.Add([]byte(`{"features":[1e400]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseUpstreamResult(data)
		if err != nil {
			if !errors.Is(err, ErrBadEmbedding) {
				t.Fatalf("error %v does not wrap ErrBadEmbedding", err)
			}
			return
		}
		if e.Source == nil || e.Source.ModelID == "" || len(e.Values) == 0 {
			t.Fatalf("accepted %+v", e)
		}
		for _, v := range e.Values {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("accepted a non-finite value")
			}
		}
	})
}

func FuzzAlignProteins(f *testing.F) {
	rt := testrt.New(f)
	entry, err := rt.Registry().Get("mm-demo")
	if err != nil {
		f.Fatal(err)
	}
	in, err := cardInputs(entry.Card)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(testrt.Example(f, proteinExample)))
	f.Add("Protein_Name,Expression\nEGFR_pY1068,1\nEGFR|EGFR_pY1068,2\n")
	f.Add("PTEN\t0.1\n")
	f.Fuzz(func(t *testing.T, csv string) {
		table, err := tabular.Parse(strings.NewReader(csv), Format, tabular.WithMaxBytes(1<<16))
		if err != nil {
			if !errors.Is(err, ErrBadCSV) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("parse error %v is not typed", err)
			}
			return
		}
		dst := make([]float32, width(in.protein))
		if _, err := alignProteins(entry.Card, in.protein, table, dst); err != nil {
			if !errors.Is(err, ErrBadCSV) && !errors.Is(err, ErrTooManyMissing) {
				t.Fatalf("align error %v is not typed", err)
			}
			return
		}
		for i, v := range dst {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("protein %d = %v", i, v)
			}
		}
	})
}

func BenchmarkMMRun(b *testing.B) {
	rt := testrt.New(b)
	gene := FromMG(mgResult(b, rt))
	rppa := testrt.Example(b, proteinExample)
	mri := &Embedding{Values: make([]float32, 768), Source: &Source{ModelID: "m1-bench", Family: model.FamilyM1}}
	runMM(b, rt, mri, gene, rppa) // load and warm up outside the timing
	b.ResetTimer()
	for b.Loop() {
		if _, err := RunBytes(context.Background(), rt, "", mri, gene, rppa, "rppa.csv"); err != nil {
			b.Fatal(err)
		}
	}
}
