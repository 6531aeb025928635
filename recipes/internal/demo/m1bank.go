package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/neuronova/neuronova/assets/models"
	"github.com/neuronova/neuronova/inference"
	"github.com/neuronova/neuronova/inference/m1"
	"github.com/neuronova/neuronova/inference/model"
	"github.com/neuronova/neuronova/inference/ort"
	"github.com/neuronova/neuronova/recipes/internal/nn"
	"github.com/neuronova/neuronova/viewer"
)

// M1Case is the committed M1 model's embedding of one synthetic MRI case, with what the case's phantom rules say
// (recipes/m1/synth.py targets: grade from the first tumour's enhancement pattern, MGMT from its side).
type M1Case struct {
	Name      string
	Grade     int // 2, 3 or 4
	MGMT      bool
	Held      bool // kept for the test cohort
	Embedding []float64
}

// M1Bank runs the default embedded M1 model on every case folder of dir (`train_synth.py bank`: BraTS-layout
// folders named bank-PATTERN-SIDE-R with targets.json) and returns their embeddings and the model's card. Cases
// with R ≥ heldFrom serve the test cohort only.
func M1Bank(ctx context.Context, dir string, heldFrom int, opts ...ort.Option) (M1Embeddings, error) {
	engine, err := ort.New(append(opts, ort.WithProvider(ort.ProviderCPU), ort.WithIntraOpThreads(1))...)
	if err != nil {
		return M1Embeddings{}, err
	}
	defer engine.Close()
	reg, err := model.NewRegistry(model.WithEmbedded(models.FS))
	if err != nil {
		return M1Embeddings{}, err
	}
	mdl, err := inference.NewRuntime(reg, engine).LoadFamily(ctx, model.FamilyM1, "")
	if err != nil {
		return M1Embeddings{}, err
	}
	cases, err := bankCases(ctx, mdl, dir, heldFrom)
	return M1Embeddings{Cases: cases, Card: mdl.Card}, err
}

func bankCases(ctx context.Context, mdl *inference.Model, dir string, heldFrom int) ([]M1Case, error) {
	folders, err := filepath.Glob(filepath.Join(dir, "bank-*"))
	if err != nil || len(folders) == 0 {
		return nil, fmt.Errorf("no bank-* cases in %s (run recipes/m1/train_synth.py bank)", dir)
	}
	slices.Sort(folders)
	var out []M1Case
	for _, f := range folders {
		var t struct {
			Grade int `json:"grade"`
			MGMT  int `json:"mgmt"`
		}
		b, err := os.ReadFile(filepath.Join(f, "targets.json"))
		if err == nil {
			err = json.Unmarshal(b, &t)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		st, err := viewer.LoadBraTS(f)
		if err != nil {
			return nil, err
		}
		res, err := m1.Predict(ctx, mdl, m1.Request{Study: st})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		if len(res.Embedding) != MRIEmbeddingSize {
			return nil, fmt.Errorf("%s: M1 gave %d embedding values, want %d", f, len(res.Embedding), MRIEmbeddingSize)
		}
		var r int
		name := filepath.Base(f)
		if _, err := fmt.Sscan(name[strings.LastIndexByte(name, '-')+1:], &r); err != nil {
			return nil, fmt.Errorf("%s: the folder name does not end in its replicate number", f)
		}
		c := M1Case{Name: name, Grade: t.Grade + 2, MGMT: t.MGMT == 1, Held: r >= heldFrom, Embedding: make([]float64, MRIEmbeddingSize)}
		for i, v := range res.Embedding {
			c.Embedding[i] = float64(v)
		}
		out = append(out, c)
		fmt.Printf("M1 bank %s: grade %d, MGMT methylated %v, held %v\n", name, c.Grade, c.MGMT, c.Held)
	}
	return out, nil
}

// UseM1Bank gives every patient the embedding of a bank case whose phantom rules match its grade and MGMT status
// (cases marked Held for the test cohort, the others for training), drawn with rng. IDH has no image of its own
// in the phantoms: it reaches the embedding only through the grade.
func UseM1Bank(ps []Patient, bank []M1Case, held bool, rng *nn.RNG) error {
	for i := range ps {
		var pool []int
		for k, c := range bank {
			if c.Held == held && c.Grade == ps[i].Grade && c.MGMT == ps[i].MGMTMethylated {
				pool = append(pool, k)
			}
		}
		if len(pool) == 0 {
			return fmt.Errorf("the M1 bank has no case of grade %d, MGMT methylated %v (held %v)", ps[i].Grade, ps[i].MGMTMethylated, held)
		}
		ps[i].MRIEmbedding = bank[pool[rng.IntN(len(pool))]].Embedding
	}
	return nil
}
