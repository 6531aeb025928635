package inference_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/neuronova/neuronova/assets/models"
	"github.com/neuronova/neuronova/inference"
	"github.com/neuronova/neuronova/inference/internal/testrt"
	"github.com/neuronova/neuronova/inference/model"
	"github.com/neuronova/neuronova/inference/ort"
)

// userModel copies the embedded MG demo into a user directory under a new id, letting the test change the card
// or the model bytes first.
func userModel(t *testing.T, id string, editCard func(*model.Card), editONNX func([]byte)) *model.Registry {
	t.Helper()
	dir := t.TempDir()
	data, err := models.FS.ReadFile("mg-demo" + model.CardSuffix)
	if err != nil {
		t.Fatal(err)
	}
	card, err := model.ParseCard(data)
	if err != nil {
		t.Fatal(err)
	}
	onnx, err := models.FS.ReadFile(card.Artifact.File)
	if err != nil {
		t.Fatal(err)
	}
	card.ID, card.Artifact.File = id, id+".onnx"
	if editCard != nil {
		editCard(card)
	}
	if editONNX != nil {
		onnx = append([]byte(nil), onnx...)
		editONNX(onnx)
	}
	cardBytes, err := card.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{id + model.CardSuffix: cardBytes, card.Artifact.File: onnx} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	reg, err := model.NewRegistry(model.WithDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func newRuntime(t *testing.T, reg *model.Registry) *inference.Runtime {
	t.Helper()
	engine, err := ort.New(ort.WithProvider(ort.ProviderCPU))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { engine.Close() })
	return inference.NewRuntime(reg, engine)
}

func TestLoadRefusesAModelWhoseSHA256DiffersFromItsCard(t *testing.T) {
	reg := userModel(t, "mg-tampered", nil, func(b []byte) { b[len(b)-10] ^= 0x01 })
	_, err := newRuntime(t, reg).Load(context.Background(), "mg-tampered")
	if !errors.Is(err, model.ErrChecksumMismatch) {
		t.Fatalf("error %v, want ErrChecksumMismatch", err)
	}
	for _, want := range []string{"mg-tampered", "mg-tampered.onnx", "card says sha256"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
}

func TestLoadRefusesACardThatDoesNotMatchTheGraph(t *testing.T) {
	tests := map[string]struct {
		edit func(*model.Card)
		msg  string
	}{
		"input name": {func(c *model.Card) { c.Inputs[0].Name = "genes_z" }, `the card's input "genes_z" is not in the model`},
		"output shape": {func(c *model.Card) {
			c.Outputs[0].Shape[1].Value = 32
		}, "output features: card says shape [? 32], model has [? 64]"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			reg := userModel(t, "mg-renamed", tc.edit, nil)
			_, err := newRuntime(t, reg).Load(context.Background(), "mg-renamed")
			if !errors.Is(err, ort.ErrSignatureMismatch) || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), "mg-renamed") {
				t.Fatalf("error %v, want ErrSignatureMismatch naming the model and %q", err, tc.msg)
			}
		})
	}
}

func TestLoadCachesAndChecksFamily(t *testing.T) {
	rt := testrt.New(t)
	ctx := context.Background()
	a, err := rt.Load(ctx, "mg-demo")
	if err != nil {
		t.Fatal(err)
	}
	b, err := rt.LoadFamily(ctx, model.FamilyMG, "")
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Error("the second load did not reuse the model")
	}
	if a.Load.WarmUp <= 0 || a.Load.Create <= 0 || a.Load.Read <= 0 {
		t.Errorf("load record %+v", a.Load)
	}
	if _, err := rt.LoadFamily(ctx, model.FamilyMM, "mg-demo"); !errors.Is(err, inference.ErrWrongFamily) {
		t.Errorf("MG model as MM: %v", err)
	}
	if m, err := rt.LoadFamily(ctx, model.FamilyM1, ""); err != nil || m.Card.ID != "m1-demo" {
		t.Errorf("default M1 model: %v", err)
	}
	if _, err := rt.LoadFamily(ctx, model.FamilyM1, "mg-demo"); !errors.Is(err, inference.ErrWrongFamily) {
		t.Errorf("MG model as M1: %v", err)
	}
	if err := rt.Preload(ctx, model.FamilyM1, model.FamilyMG, model.FamilyMM); err != nil {
		t.Errorf("preload: %v", err)
	}
	p := a.Provenance()
	if p.Schema != inference.ResultSchema || p.Model.SHA256 != a.Card.Artifact.SHA256 || p.Runtime.ModelLoad.WarmUpMS <= 0 ||
		p.Runtime.IntraOpThreads != 1 || p.Runtime.Binding != ort.BindingVersion {
		t.Errorf("provenance %+v", p)
	}
}

func TestStopwatch(t *testing.T) {
	w := inference.StartStopwatch()
	w.Lap("one")
	w.Add("two", 1500000)
	s := w.Stages()
	if len(s) != 2 || s[0].Stage != "one" || s[0].Milliseconds < 0 || s[1].Milliseconds != 1.5 {
		t.Errorf("stages %+v", s)
	}
}

// BenchmarkModelLoad measures reading, sha256, signature check, session creation and warm-up of each demo model.
func BenchmarkModelLoad(b *testing.B) {
	reg, err := model.NewRegistry(model.WithEmbedded(models.FS))
	if err != nil {
		b.Fatal(err)
	}
	engine, err := ort.New(ort.WithProvider(ort.ProviderCPU))
	if err != nil {
		b.Fatal(err)
	}
	defer engine.Close()
	for _, id := range []string{"mg-demo", "mm-demo"} {
		b.Run(id, func(b *testing.B) {
			for b.Loop() {
				m, err := inference.NewRuntime(reg, engine).Load(context.Background(), id)
				if err != nil {
					b.Fatal(err)
				}
				if err := engine.Evict(m.Session.Key()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
