package nn

import "math"

// Dense is y = x·W + b for a batch of rows; W is In×Out, row-major.
type Dense struct {
	In, Out int
	W, B    []float64
	GW, GB  []float64 // gradients accumulated by Backward
	adam    [4][]float64
}

// NewDense initialises W with N(0, 1/In) and b with zeros.
func NewDense(in, out int, rng *RNG) *Dense {
	d := &Dense{In: in, Out: out, W: make([]float64, in*out), B: make([]float64, out),
		GW: make([]float64, in*out), GB: make([]float64, out)}
	scale := 1 / math.Sqrt(float64(in))
	for i := range d.W {
		d.W[i] = rng.Norm() * scale
	}
	return d
}

// Forward returns the n×Out outputs of the n×In rows x.
func (d *Dense) Forward(x []float64, n int) []float64 {
	y := make([]float64, n*d.Out)
	for r := 0; r < n; r++ {
		row, out := x[r*d.In:(r+1)*d.In], y[r*d.Out:(r+1)*d.Out]
		copy(out, d.B)
		for i, xi := range row {
			if xi == 0 {
				continue
			}
			w := d.W[i*d.Out : (i+1)*d.Out]
			for j := range out {
				out[j] += xi * w[j]
			}
		}
	}
	return y
}

// Backward adds the gradients of W and b for upstream gradient gy (n×Out) and returns the gradient of x.
func (d *Dense) Backward(x, gy []float64, n int) []float64 {
	gx := make([]float64, n*d.In)
	for r := 0; r < n; r++ {
		row, g := x[r*d.In:(r+1)*d.In], gy[r*d.Out:(r+1)*d.Out]
		gxr := gx[r*d.In : (r+1)*d.In]
		for j, gj := range g {
			d.GB[j] += gj
		}
		for i, xi := range row {
			w, gw := d.W[i*d.Out:(i+1)*d.Out], d.GW[i*d.Out:(i+1)*d.Out]
			s := 0.0
			for j, gj := range g {
				gw[j] += xi * gj
				s += w[j] * gj
			}
			gxr[i] = s
		}
	}
	return gx
}

// ZeroGrad clears the accumulated gradients.
func (d *Dense) ZeroGrad() {
	clear(d.GW)
	clear(d.GB)
}

// Tanh applies tanh element-wise into a new slice.
func Tanh(x []float64) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = math.Tanh(v)
	}
	return y
}

// TanhBackward returns the gradient through y = tanh(x), given y and the upstream gradient.
func TanhBackward(y, gy []float64) []float64 {
	g := make([]float64, len(y))
	for i := range y {
		g[i] = gy[i] * (1 - y[i]*y[i])
	}
	return g
}

// Adam is the Adam optimiser with decoupled weight decay on W (not on b).
type Adam struct {
	LR, Beta1, Beta2, Eps, WeightDecay float64
	step                               int
}

// NewAdam returns Adam with the usual constants.
func NewAdam(lr, weightDecay float64) *Adam {
	return &Adam{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: weightDecay}
}

// Step updates the layers from their gradients (already averaged over the batch) and clears the gradients.
func (a *Adam) Step(layers ...*Dense) {
	a.step++
	c1 := 1 - math.Pow(a.Beta1, float64(a.step))
	c2 := 1 - math.Pow(a.Beta2, float64(a.step))
	for _, d := range layers {
		if d.adam[0] == nil {
			d.adam = [4][]float64{make([]float64, len(d.W)), make([]float64, len(d.W)), make([]float64, len(d.B)), make([]float64, len(d.B))}
		}
		a.update(d.W, d.GW, d.adam[0], d.adam[1], c1, c2, a.WeightDecay)
		a.update(d.B, d.GB, d.adam[2], d.adam[3], c1, c2, 0)
		d.ZeroGrad()
	}
}

func (a *Adam) update(p, g, m, v []float64, c1, c2, decay float64) {
	for i := range p {
		m[i] = a.Beta1*m[i] + (1-a.Beta1)*g[i]
		v[i] = a.Beta2*v[i] + (1-a.Beta2)*g[i]*g[i]
		p[i] -= a.LR * (m[i]/c1/(math.Sqrt(v[i]/c2)+a.Eps) + decay*p[i])
	}
}
