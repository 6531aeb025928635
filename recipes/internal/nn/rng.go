// Package nn is the small, deterministic toolkit the demo-model recipes train with: a seeded random source,
// dense layers with hand-written backpropagation, Adam, the losses the seed's heads used (softmax cross-entropy,
// logistic, squared error, Cox partial likelihood) and the metrics the cards report. Everything runs on one
// goroutine in float64, so a recipe run with the same seed and iteration count gives the same bytes (on the same
// architecture: Go may fuse multiply-adds on arm64, ppc64 and s390x).
package nn

import "math"

// RNG is SplitMix64 with Box–Muller normals. Its output is fixed by this file alone, unlike math/rand's helper
// methods, whose algorithms may change between Go releases.
type RNG struct {
	state      uint64
	spare      float64
	spareValid bool
}

// NewRNG seeds a generator.
func NewRNG(seed uint64) *RNG { return &RNG{state: seed} }

// Uint64 returns the next 64 random bits.
func (r *RNG) Uint64() uint64 {
	r.state += 0x9e3779b97f4a7c15
	z := r.state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Float64 returns a uniform value in [0, 1).
func (r *RNG) Float64() float64 { return float64(r.Uint64()>>11) / (1 << 53) }

// Uniform returns a uniform value in [lo, hi).
func (r *RNG) Uniform(lo, hi float64) float64 { return lo + (hi-lo)*r.Float64() }

// Bernoulli returns true with probability p.
func (r *RNG) Bernoulli(p float64) bool { return r.Float64() < p }

// Norm returns a standard normal value.
func (r *RNG) Norm() float64 {
	if r.spareValid {
		r.spareValid = false
		return r.spare
	}
	u := r.Float64()
	for u == 0 {
		u = r.Float64()
	}
	v := r.Float64()
	radius := math.Sqrt(-2 * math.Log(u))
	r.spare, r.spareValid = radius*math.Sin(2*math.Pi*v), true
	return radius * math.Cos(2*math.Pi*v)
}

// IntN returns a uniform integer in [0, n).
func (r *RNG) IntN(n int) int { return int(r.Uint64() % uint64(n)) }

// Shuffle permutes idx in place (Fisher–Yates).
func (r *RNG) Shuffle(idx []int) {
	for i := len(idx) - 1; i > 0; i-- {
		j := r.IntN(i + 1)
		idx[i], idx[j] = idx[j], idx[i]
	}
}

// Categorical draws an index with the given probabilities (which sum to 1).
func (r *RNG) Categorical(p []float64) int {
	u, acc := r.Float64(), 0.0
	for i, pi := range p {
		acc += pi
		if u < acc {
			return i
		}
	}
	return len(p) - 1
}

// Batches hands out minibatches of the indices 0 … n-1 in a shuffled order, shuffling again (with its RNG)
// whenever the rest of the order cannot fill a batch.
type Batches struct {
	order     []int
	pos, size int
	rng       *RNG
}

// NewBatches makes minibatches of size of n indices, drawn with rng.
func NewBatches(n, size int, rng *RNG) *Batches {
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	return &Batches{order: order, pos: n, size: size, rng: rng}
}

// Next returns the next batch; the slice is valid until the following call.
func (b *Batches) Next() []int {
	if b.pos+b.size > len(b.order) {
		b.rng.Shuffle(b.order)
		b.pos = 0
	}
	batch := b.order[b.pos : b.pos+b.size]
	b.pos += b.size
	return batch
}
