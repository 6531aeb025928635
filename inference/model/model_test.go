package model

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/neuronova/neuronova/assets/models"
)

func embeddedCard(t testing.TB, id string) (*Card, []byte) {
	t.Helper()
	data, err := models.FS.ReadFile(id + CardSuffix)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseCard(data)
	if err != nil {
		t.Fatal(err)
	}
	return c, data
}

func TestEmbeddedCardsParseAndRoundTrip(t *testing.T) {
	for _, id := range []string{"mg-demo", "mm-demo"} {
		c, data := embeddedCard(t, id)
		if !c.IntendedUse.NotForClinicalUse || c.Status != StatusDemonstration || c.TrainingData.RealPatientData {
			t.Errorf("%s: intended use %+v status %s training %+v", id, c.IntendedUse, c.Status, c.TrainingData)
		}
		again, err := c.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, data) {
			t.Errorf("%s: re-encoding the card changes it", id)
		}
	}
}

func TestDimJSON(t *testing.T) {
	var s Shape
	if err := json.Unmarshal([]byte(`["N", 4, "D", 128]`), &s); err != nil {
		t.Fatal(err)
	}
	if want := (Shape{{Param: "N"}, {Value: 4}, {Param: "D"}, {Value: 128}}); !reflect.DeepEqual(s, want) {
		t.Fatalf("shape %v, want %v", s, want)
	}
	if got := s.Int64s(); !reflect.DeepEqual(got, []int64{-1, 4, -1, 128}) {
		t.Errorf("Int64s %v", got)
	}
	out, _ := json.Marshal(s)
	if string(out) != `["N",4,"D",128]` {
		t.Errorf("marshal %s", out)
	}
	if err := json.Unmarshal([]byte(`[1.5]`), &s); err == nil {
		t.Error("fractional dimension accepted")
	}
	if err := s.Accepts([]int64{1, 4, 96, 128}); err != nil {
		t.Errorf("Accepts: %v", err)
	}
	if err := (Shape{{Param: "N"}, {Value: 4}}).Accepts([]int64{1, 3}); err == nil || !strings.Contains(err.Error(), "is 3, want 4") {
		t.Errorf("Accepts wrong fixed dim: %v", err)
	}
}

// M1's contract must fit the card format without changes.
func TestM1CardFits(t *testing.T) {
	c, _ := embeddedCard(t, "mg-demo")
	c.ID, c.Family, c.Genes, c.Rules = "m1-test", FamilyM1, nil, nil
	n, d := Dim{Value: 1}, func(s string) Dim { return Dim{Param: s} }
	c.Inputs = []Input{{
		TensorSpec:   TensorSpec{Name: "image", DType: "float32", Shape: Shape{n, {Value: 4}, d("D"), d("H"), d("W")}, ExampleShape: []int64{1, 4, 128, 128, 128}},
		ChannelOrder: []string{"T1", "T1CE", "T2", "FLAIR"},
		Preprocessing: &Preprocessing{Steps: []string{"resample to 1 mm", "crop to brain", "z-score in brain mask"},
			SpacingMM: []float64{1, 1, 1}, Crop: "foreground", Size: []int64{128, 128, 128}, Normalisation: NormZScoreBrain},
	}}
	classes := []Class{{0, "BG", "background", 0}, {1, "NCR", "necrotic core", 1}, {2, "ED", "oedema", 2}, {3, "ET", "enhancing tumour", 4}}
	c.Outputs = []Output{
		{TensorSpec: TensorSpec{Name: "logits", DType: "float32", Shape: Shape{n, {Value: 4}, d("D"), d("H"), d("W")}}, Classes: classes,
			Regions: []Region{{Name: "WT", Classes: []int{1, 2, 3}}, {Name: "TC", Classes: []int{1, 3}}, {Name: "ET", Classes: []int{3}}}},
		{TensorSpec: TensorSpec{Name: "grade", DType: "float32", Shape: Shape{n, {Value: 3}}}, Activation: "softmax", Labels: []string{"G2", "G3", "G4"}},
		{TensorSpec: TensorSpec{Name: "idh", DType: "float32", Shape: Shape{n, {Value: 2}}}, Activation: "softmax", Labels: []string{"Wildtype", "Mutant"}},
		{TensorSpec: TensorSpec{Name: "mgmt", DType: "float32", Shape: Shape{n, {Value: 2}}}, Activation: "softmax", Labels: []string{"Unmethylated", "Methylated"}},
		{TensorSpec: TensorSpec{Name: "risk", DType: "float32", Shape: Shape{n, {Value: 1}}}, Activation: "sigmoid",
			Bands: &Bands{Cuts: []float64{0.3, 0.7}, Labels: []string{"Low", "Medium", "High"}}},
		{TensorSpec: TensorSpec{Name: "embedding", DType: "float32", Shape: Shape{n, {Value: 768}}}},
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("M1 card: %v", err)
	}
	data, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseCard(data); err != nil {
		t.Fatal(err)
	}
}

func TestCardValidationNamesTheFault(t *testing.T) {
	tests := map[string]struct {
		spoil func(c *Card)
		msg   string
	}{
		"schema":          {func(c *Card) { c.Schema = "v0" }, "schema is"},
		"id":              {func(c *Card) { c.ID = "MG Demo" }, "id must be"},
		"family":          {func(c *Card) { c.Family = "M2" }, "family \"M2\""},
		"status":          {func(c *Card) { c.Status = "approved" }, "status \"approved\""},
		"banner phrase":   {func(c *Card) { c.IntendedUse.Banner = "Demo model" }, "the banner must say \"not for clinical use\""},
		"clinical flag":   {func(c *Card) { c.IntendedUse.NotForClinicalUse = false }, "must set not_for_clinical_use"},
		"file path":       {func(c *Card) { c.Artifact.File = "../x.onnx" }, "plain .onnx file name"},
		"sha256":          {func(c *Card) { c.Artifact.SHA256 = "ABC" }, "sha256"},
		"dtype":           {func(c *Card) { c.Inputs[0].DType = "complex64" }, "dtype \"complex64\""},
		"zero dim":        {func(c *Card) { c.Inputs[0].Shape[1].Value = 0 }, "sizes must be positive"},
		"example shape":   {func(c *Card) { c.Inputs[0].ExampleShape = []int64{1, 5} }, "example_shape"},
		"gene count":      {func(c *Card) { c.Genes = c.Genes[:10] }, "last dimension 309 but 10 genes"},
		"duplicate gene":  {func(c *Card) { c.Genes[1].Symbol = "mgmt" }, "are both"},
		"sd":              {func(c *Card) { c.Genes[0].SD = 0 }, "sd positive"},
		"labels":          {func(c *Card) { c.Outputs[2].Labels = []string{"G2", "G3"} }, "2 labels for a last dimension of 3"},
		"bands":           {func(c *Card) { c.Outputs[1].Bands.Cuts = []float64{1, 0} }, "finite and increasing"},
		"duplicate name":  {func(c *Card) { c.Outputs[1].Name = "features" }, "declared twice"},
		"rule bands":      {func(c *Card) { c.Rules[0].Bands.Labels = c.Rules[0].Bands.Labels[:2] }, "rule tmz_response"},
		"upstream input":  {func(c *Card) { c.Upstream = []Upstream{{Input: "nope", ModelID: "x"}} }, "upstream names input \"nope\""},
		"no limitations":  {func(c *Card) { c.Limitations = nil }, "limitations"},
		"no training":     {func(c *Card) { c.TrainingData.Description = "" }, "training_data"},
		"missing allowed": {func(c *Card) { c.Inputs[0].Preprocessing.MaxMissingFraction = 2 }, "max_missing_fraction"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c, _ := embeddedCard(t, "mg-demo")
			tc.spoil(c)
			err := c.Validate()
			if !errors.Is(err, ErrInvalidCard) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %v, want ErrInvalidCard containing %q", err, tc.msg)
			}
		})
	}
}

func TestParseCardRejectsUnknownFieldsAndTrailingData(t *testing.T) {
	_, data := embeddedCard(t, "mm-demo")
	typo := bytes.Replace(data, []byte(`"limitations"`), []byte(`"limitation"`), 1)
	if _, err := ParseCard(typo); !errors.Is(err, ErrInvalidCard) || !strings.Contains(err.Error(), `unknown field "limitation"`) {
		t.Errorf("misspelt field: %v", err)
	}
	if _, err := ParseCard(append(append([]byte(nil), data...), []byte("{}")...)); !errors.Is(err, ErrInvalidCard) {
		t.Errorf("trailing data: %v", err)
	}
}

func TestEmbeddedRegistry(t *testing.T) {
	r, err := NewRegistry(WithEmbedded(models.FS))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range r.List() {
		if e.Err != nil {
			t.Errorf("%s: %v", e.CardPath, e.Err)
		}
		ids = append(ids, e.Card.ID)
	}
	if !reflect.DeepEqual(ids, []string{"m1-demo", "mg-demo", "mm-demo"}) {
		t.Errorf("ids %v", ids)
	}
	if e, err := r.Default(FamilyMG); err != nil || e.Card.ID != "mg-demo" {
		t.Errorf("default MG: %v %v", e.Card, err)
	}
	if e, err := r.Default(FamilyM1); err != nil || e.Card.ID != "m1-demo" {
		t.Errorf("default M1: %v %v", e.Card, err)
	}
	if _, err := r.Get("m2-demo"); !errors.Is(err, ErrNotFound) {
		t.Errorf("get m2-demo: %v", err)
	}
	e, err := r.Get("mg-demo")
	if err != nil {
		t.Fatal(err)
	}
	data, err := e.ReadArtifact()
	if err != nil || int64(len(data)) != e.Card.Artifact.SizeBytes {
		t.Fatalf("read artifact: %d bytes, %v", len(data), err)
	}
	var out bytes.Buffer
	if err := WriteList(&out, r.List()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ID", "mg-demo", "MG", "1.0.0", "demonstration", "embedded", "not for clinical use"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("listing lacks %q:\n%s", want, out.String())
		}
	}
}

// copyModel writes an embedded model and its card into dir under a new id, optionally changing the bytes.
func copyModel(t *testing.T, dir, from, id string, spoil func(onnx []byte)) {
	t.Helper()
	c, _ := embeddedCard(t, from)
	onnx, err := models.FS.ReadFile(c.Artifact.File)
	if err != nil {
		t.Fatal(err)
	}
	c.ID, c.Artifact.File = id, id+".onnx"
	if spoil != nil {
		onnx = append([]byte(nil), onnx...)
		spoil(onnx)
	}
	cardBytes, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, id+CardSuffix), cardBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, c.Artifact.File), onnx, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestUserDirectory(t *testing.T) {
	dir := t.TempDir()
	copyModel(t, dir, "mg-demo", "mg-site", nil)
	copyModel(t, dir, "mg-demo", "mg-tampered", func(b []byte) { b[len(b)/2] ^= 1 })
	if err := os.WriteFile(filepath.Join(dir, "broken"+CardSuffix), []byte(`{"schema":`), 0o644); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "again")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	copyModel(t, sub, "mm-demo", "mm-demo", nil) // same id as the embedded model

	r, err := NewRegistry(WithEmbedded(models.FS), WithDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string]Entry{}
	for _, e := range r.List() {
		byPath[e.CardPath] = e
	}
	if e := byPath["broken"+CardSuffix]; !errors.Is(e.Err, ErrInvalidCard) || e.Card != nil {
		t.Errorf("broken card: %+v", e)
	}
	if e := byPath["again/mm-demo"+CardSuffix]; !errors.Is(e.Err, ErrDuplicateID) {
		t.Errorf("duplicate id: %v", e.Err)
	}
	// The tampered file is listed, but refuses to load.
	e, err := r.Get("mg-tampered")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.ReadArtifact(); !errors.Is(err, ErrChecksumMismatch) || !strings.Contains(err.Error(), "card says sha256") {
		t.Errorf("tampered artifact: %v", err)
	}
	// Two user MG models: the default is ambiguous and must be named.
	if _, err := r.Default(FamilyMG); !errors.Is(err, ErrAmbiguous) || !strings.Contains(err.Error(), "mg-site") {
		t.Errorf("default MG with two user models: %v", err)
	}
	if e, err := r.Default(FamilyMM); err != nil || e.Card.ID != "mm-demo" || e.Source != EmbeddedSource {
		t.Errorf("default MM: %+v %v", e, err)
	}
	if _, err := NewRegistry(WithDir(filepath.Join(dir, "nope"))); err == nil {
		t.Error("a missing user directory was accepted")
	}
	var out bytes.Buffer
	if err := WriteList(&out, r.List()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "unusable") || !strings.Contains(out.String(), "error: ") {
		t.Errorf("listing does not show unusable models:\n%s", out.String())
	}
}

func TestArtifactSizeMismatchIsAChecksumError(t *testing.T) {
	c, _ := embeddedCard(t, "mg-demo")
	onnx, err := models.FS.ReadFile(c.Artifact.File)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(onnx[:100])
	c.Artifact.SHA256, c.Artifact.SizeBytes = hex.EncodeToString(sum[:]), 100
	cardBytes, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRegistry(WithEmbedded(fstest.MapFS{"m" + CardSuffix: {Data: cardBytes}, c.Artifact.File: {Data: onnx}}))
	if err != nil {
		t.Fatal(err)
	}
	e, err := r.Get(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.ReadArtifact(); !errors.Is(err, ErrChecksumMismatch) {
		t.Fatalf("error %v", err)
	}
}

func FuzzParseCard(f *testing.F) {
	for _, id := range []string{"mg-demo", "mm-demo"} {
		_, data := embeddedCard(f, id)
		f.Add(data)
	}
	f.Add([]byte(`{"schema":"neuronova.model-card/1","inputs":[{"shape":["N",-1]}]}`))
	f.Add([]byte(`{"outputs":[{"bands":{"cuts":[1],"labels":[]}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCard(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidCard) {
				t.Fatalf("error %v does not wrap ErrInvalidCard", err)
			}
			return
		}
		again, err := c.Marshal()
		if err != nil {
			t.Fatalf("a parsed card does not re-encode: %v", err)
		}
		if _, err := ParseCard(again); err != nil {
			t.Fatalf("a re-encoded card does not parse: %v", err)
		}
	})
}

// windowCard is an M1 card with sliding windows and sigmoid regions (MONAI's BraTS contract).
func windowCard(t *testing.T) *Card {
	c, _ := embeddedCard(t, "mg-demo")
	c.ID, c.Family, c.Genes, c.Rules = "m1-window", FamilyM1, nil, nil
	vol := Shape{{Param: "N"}, {Value: 4}, {Param: "D"}, {Param: "H"}, {Param: "W"}}
	c.Inputs = []Input{{
		TensorSpec:   TensorSpec{Name: "image", DType: "float32", Shape: vol, ExampleShape: []int64{1, 4, 96, 96, 96}},
		ChannelOrder: []string{"T1CE", "T1", "T2", "FLAIR"},
		Preprocessing: &Preprocessing{Steps: []string{"brain box", "1 mm", "z-score"}, SpacingMM: []float64{1, 1, 1}, Crop: "brain-bbox",
			Normalisation: NormZScoreBrain, Window: &Window{ROI: []int64{96, 96, 96}, Overlap: 0.5, Blend: BlendGaussian, Batch: 2},
			TestTimeFlips: []string{"x", "yz"}},
	}}
	ch := func(k int) *int { return &k }
	c.Outputs = []Output{{TensorSpec: TensorSpec{Name: "seg", DType: "float32", Shape: Shape{{Param: "N"}, {Value: 3}, {Param: "D"}, {Param: "H"}, {Param: "W"}}},
		Activation: "sigmoid", Logits: true, Regions: []Region{{Name: "TC", Channel: ch(0), Threshold: 0.5},
			{Name: "WT", Channel: ch(1), Threshold: 0.5}, {Name: "ET", Channel: ch(2), Threshold: 0.5}}}}
	if err := c.Validate(); err != nil {
		t.Fatalf("window card: %v", err)
	}
	return c
}

func TestWindowCardValidation(t *testing.T) {
	data, err := windowCard(t).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseCard(data); err != nil {
		t.Fatalf("round trip: %v", err)
	}
	tests := map[string]struct {
		spoil func(c *Card)
		msg   string
	}{
		"roi":             {func(c *Card) { c.Inputs[0].Preprocessing.Window.ROI = []int64{96, 96} }, "roi"},
		"overlap":         {func(c *Card) { c.Inputs[0].Preprocessing.Window.Overlap = 1 }, "overlap 1 is not within [0, 1)"},
		"blend":           {func(c *Card) { c.Inputs[0].Preprocessing.Window.Blend = "linear" }, `blend "linear"`},
		"size and window": {func(c *Card) { c.Inputs[0].Preprocessing.Size = []int64{128, 128, 128} }, "size and window are exclusive"},
		"flip axis":       {func(c *Card) { c.Inputs[0].Preprocessing.TestTimeFlips = []string{"w"} }, `test-time flip "w"`},
		"flip twice":      {func(c *Card) { c.Inputs[0].Preprocessing.TestTimeFlips = []string{"xy", "yx"} }, "twice"},
		"spacing":         {func(c *Card) { c.Inputs[0].Preprocessing.SpacingMM = []float64{1, 0, 1} }, "spacing_mm"},
		"percentiles":     {func(c *Card) { c.Inputs[0].Preprocessing.Normalisation = NormPercentile }, "percentiles"},
		"scale range": {func(c *Card) {
			p := c.Inputs[0].Preprocessing
			p.Normalisation, p.Percentiles = NormPercentile, []float64{1, 99}
		}, "scale_range"},
		"fixed statistics": {func(c *Card) {
			p := c.Inputs[0].Preprocessing
			p.Normalisation, p.ChannelMean = NormFixed, []float64{1, 2}
		}, "channel_mean and channel_sd"},
		"fixed sd": {func(c *Card) {
			p := c.Inputs[0].Preprocessing
			p.Normalisation, p.ChannelMean, p.ChannelSD = NormFixed, []float64{1}, []float64{0}
		}, "sd positive"},
		"region threshold": {func(c *Card) { c.Outputs[0].Regions[0].Threshold = 1 }, "threshold in (0, 1)"},
		"region kinds":     {func(c *Card) { c.Outputs[0].Regions[0].Classes = []int{1} }, "classes (softmax) or a channel (sigmoid), not both"},
		"idle shape":       {func(c *Card) { c.Inputs[0].IdleShape = []int64{1, 3, 8, 8, 8} }, "idle_shape"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := windowCard(t)
			tc.spoil(c)
			err := c.Validate()
			if !errors.Is(err, ErrInvalidCard) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %v, want ErrInvalidCard containing %q", err, tc.msg)
			}
		})
	}
}
