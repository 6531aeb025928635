package demo

import (
	"math"

	"github.com/neuronova/neuronova/recipes/internal/nn"
)

// MRIEmbeddingSize is the width of M1's embedding, which MM consumes.
const MRIEmbeddingSize = 768

// Patient is one synthetic patient: the latent truth and the measurements generated from it.
type Patient struct {
	Grade          int // 2, 3 or 4
	IDHMutant      bool
	MGMTMethylated bool
	// Programme activities (standard-normal scale).
	Prolif, Hypoxia, Mesench, Immune float64
	EGFRAmp, CDKN2Del                bool
	LogHazard                        float64 // the generator's true log-hazard
	Days                             float64 // follow-up: death or censoring
	Event                            bool    // death observed
	Recurrence                       bool    // recurrence within 24 months

	GeneLog2     []float64 // log2(expression + 1), GeneList order
	Proteins     []float64 // RPPA-like relative levels, ProteinList order
	MRIEmbedding []float64 // simulated stand-in for M1's embedding
}

// Generator draws synthetic patients. Gene baselines, loadings and the MRI projection are fixed by the seed.
type Generator struct {
	rng           *nn.RNG
	geneBase      []float64
	geneNoise     []float64
	geneLoad      []float64
	proteinLoad   []float64
	mriProjection [][]float64 // MRIEmbeddingSize × mriTraits
}

const mriTraits = 9

// NewGenerator fixes the generator's parameters from seed.
func NewGenerator(seed uint64) *Generator {
	rng := nn.NewRNG(seed)
	g := &Generator{rng: rng}
	for range GeneList {
		g.geneBase = append(g.geneBase, rng.Uniform(3, 11))
		g.geneNoise = append(g.geneNoise, rng.Uniform(0.35, 0.8))
		g.geneLoad = append(g.geneLoad, rng.Uniform(0.6, 1.2))
	}
	for range ProteinList {
		g.proteinLoad = append(g.proteinLoad, rng.Uniform(0.25, 0.6))
	}
	for range MRIEmbeddingSize {
		row := make([]float64, mriTraits)
		for j := range row {
			row[j] = rng.Norm() * 0.5
		}
		g.mriProjection = append(g.mriProjection, row)
	}
	return g
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// programmeShift is how far a gene or protein with loading load on programme prog moves in p (idh: 1 for an
// IDH-mutant tumour), for the programmes whose effect scales with the loading; 0 for the others.
func (p *Patient) programmeShift(prog Programme, load, idh float64) float64 {
	switch prog {
	case Proliferation:
		return load * p.Prolif
	case Hypoxia:
		return load * p.Hypoxia
	case Mesenchymal:
		return load * p.Mesench
	case Proneural:
		return load * (0.9*idh - 0.5*p.Mesench)
	}
	return 0
}

// Patient draws one patient.
func (g *Generator) Patient() Patient {
	r := g.rng
	p := Patient{Grade: 2 + r.Categorical([]float64{0.25, 0.25, 0.5})}
	p.IDHMutant = r.Bernoulli([]float64{0.8, 0.6, 0.1}[p.Grade-2])
	if p.IDHMutant {
		p.MGMTMethylated = r.Bernoulli(0.85)
	} else {
		p.MGMTMethylated = r.Bernoulli(0.4)
	}
	gbm := p.Grade == 4 && !p.IDHMutant
	idh, meth := b2f(p.IDHMutant), b2f(p.MGMTMethylated)
	p.Prolif = 0.6*r.Norm() + 0.8*float64(p.Grade-3)
	p.Hypoxia = 0.6*r.Norm() + 0.7*b2f(p.Grade == 4) - 0.3*idh
	p.Mesench = 0.7*r.Norm() + 0.6*b2f(gbm)
	p.Immune = 0.8*r.Norm() + 0.4*p.Mesench
	p.EGFRAmp = gbm && r.Bernoulli(0.45)
	p.CDKN2Del = (gbm && r.Bernoulli(0.55)) || (p.IDHMutant && p.Grade >= 3 && r.Bernoulli(0.2))

	p.LogHazard = 0.8*float64(p.Grade-3) - 0.7*idh - 0.5*meth + 0.3*p.Prolif + 0.2*p.Mesench +
		0.3*b2f(p.CDKN2Del) + 0.3*r.Norm()
	// Exponential survival, median 1,100 days at log-hazard 0; uniform censoring over 0.5–10 years.
	u := r.Float64()
	for u == 0 {
		u = r.Float64()
	}
	death := -math.Log(u) / (math.Ln2 / 1100 * math.Exp(p.LogHazard))
	censor := r.Uniform(180, 3650)
	p.Days, p.Event = math.Min(death, censor), death <= censor
	p.Days = math.Max(1, math.Round(p.Days))
	recLogit := 1.2*float64(p.Grade-3) - 0.8*idh - 0.3*meth + 0.5*p.Prolif + 0.4*p.Mesench + 0.5*r.Norm()
	p.Recurrence = r.Bernoulli(nn.Sigmoid(recLogit))

	p.GeneLog2 = make([]float64, len(GeneList))
	for i, gene := range GeneList {
		load := g.geneLoad[i]
		shift := p.programmeShift(gene.Programme, load, idh)
		switch gene.Programme {
		case Immune:
			shift = load * p.Immune
		case Neuronal:
			shift = -load * 0.6 * float64(p.Grade-3)
		case MGMTSilencing:
			shift = -1.8 * meth
		case EGFRAmplified:
			shift = 2.5 * b2f(p.EGFRAmp)
		case CDKN2Deleted:
			shift = -3 * b2f(p.CDKN2Del)
		case PTENLoss:
			shift = -0.8 * b2f(gbm)
		case IGFBP2High:
			shift = 1.5 * b2f(gbm)
		}
		p.GeneLog2[i] = math.Max(0, g.geneBase[i]+shift+g.geneNoise[i]*r.Norm())
	}

	p.Proteins = make([]float64, len(ProteinList))
	for i, prot := range ProteinList {
		shift := p.programmeShift(prot.Programme, g.proteinLoad[i], idh)
		switch prot.Programme {
		case EGFRAmplified:
			shift = 1.2 * b2f(p.EGFRAmp)
		case PTENLoss:
			shift = -0.6 * b2f(gbm)
		case IGFBP2High:
			shift = 1.0 * b2f(gbm)
		}
		p.Proteins[i] = shift + 0.3*r.Norm()
	}

	traits := []float64{b2f(p.Grade == 2), b2f(p.Grade == 3), b2f(p.Grade == 4), idh, meth,
		p.Prolif, p.Hypoxia, p.Mesench, b2f(p.CDKN2Del)}
	p.MRIEmbedding = make([]float64, MRIEmbeddingSize)
	for i, row := range g.mriProjection {
		s := 0.0
		for j, w := range row {
			s += w * traits[j]
		}
		p.MRIEmbedding[i] = math.Tanh(s + 0.5*r.Norm())
	}
	return p
}

// Cohort draws n patients.
func (g *Generator) Cohort(n int) []Patient {
	out := make([]Patient, n)
	for i := range out {
		out[i] = g.Patient()
	}
	return out
}
