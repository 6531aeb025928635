package nn

import (
	"math"
	"testing"
)

// numericGrad is the central finite difference of f with respect to p[i].
func numericGrad(f func() float64, p []float64, i int) float64 {
	const h = 1e-6
	old := p[i]
	p[i] = old + h
	up := f()
	p[i] = old - h
	down := f()
	p[i] = old
	return (up - down) / (2 * h)
}

func closeEnough(a, b float64) bool {
	return math.Abs(a-b) <= 1e-5*math.Max(1, math.Abs(a)+math.Abs(b))
}

func TestDenseTanhCrossEntropyGradients(t *testing.T) {
	rng := NewRNG(1)
	n, in, hidden, k := 5, 4, 3, 3
	d1, d2 := NewDense(in, hidden, rng), NewDense(hidden, k, rng)
	x := make([]float64, n*in)
	for i := range x {
		x[i] = rng.Norm()
	}
	labels := []int{0, 2, 1, 2, 0}
	loss := func() float64 {
		l, _ := SoftmaxCrossEntropy(d2.Forward(Tanh(d1.Forward(x, n)), n), labels, n, k)
		return l
	}
	h := Tanh(d1.Forward(x, n))
	_, g := SoftmaxCrossEntropy(d2.Forward(h, n), labels, n, k)
	gh := d2.Backward(h, g, n)
	gx := d1.Backward(x, TanhBackward(h, gh), n)
	for _, check := range []struct {
		name  string
		p, gp []float64
	}{{"W1", d1.W, d1.GW}, {"b1", d1.B, d1.GB}, {"W2", d2.W, d2.GW}, {"b2", d2.B, d2.GB}, {"x", x, gx}} {
		for i := range check.p {
			if want := numericGrad(loss, check.p, i); !closeEnough(check.gp[i], want) {
				t.Errorf("%s[%d]: backprop %v, finite difference %v", check.name, i, check.gp[i], want)
			}
		}
	}
}

func TestBinaryCrossEntropyAndSquaredErrorGradients(t *testing.T) {
	z := []float64{-2, 0.3, 1.5, -0.1}
	y := []bool{false, true, true, false}
	_, g := BinaryCrossEntropy(z, y)
	for i := range z {
		want := numericGrad(func() float64 { l, _ := BinaryCrossEntropy(z, y); return l }, z, i)
		if !closeEnough(g[i], want) {
			t.Errorf("BCE grad[%d] = %v, want %v", i, g[i], want)
		}
	}
	target := []float64{1, 2, 3, 4}
	use := []bool{true, false, true, true}
	_, g = MaskedSquaredError(z, target, use)
	for i := range z {
		want := numericGrad(func() float64 { l, _ := MaskedSquaredError(z, target, use); return l }, z, i)
		if !closeEnough(g[i], want) {
			t.Errorf("MSE grad[%d] = %v, want %v", i, g[i], want)
		}
	}
}

func TestCoxGradientWithTiesAndCensoring(t *testing.T) {
	r := []float64{0.2, -0.5, 1.1, 0.0, 0.7, -1.2}
	times := []float64{5, 3, 3, 8, 1, 5}
	event := []bool{true, true, false, false, true, true}
	_, g := CoxPartialLikelihood(r, times, event)
	for i := range r {
		want := numericGrad(func() float64 { l, _ := CoxPartialLikelihood(r, times, event); return l }, r, i)
		if !closeEnough(g[i], want) {
			t.Errorf("Cox grad[%d] = %v, want %v", i, g[i], want)
		}
	}
	// Direct evaluation of the Breslow partial likelihood for the same data.
	want := 0.0
	for i := range r {
		if !event[i] {
			continue
		}
		s := 0.0
		for j := range r {
			if times[j] >= times[i] {
				s += math.Exp(r[j])
			}
		}
		want -= r[i] - math.Log(s)
	}
	want /= 4
	if l, _ := CoxPartialLikelihood(r, times, event); !closeEnough(l, want) {
		t.Errorf("Cox loss %v, want %v", l, want)
	}
}

func TestMetrics(t *testing.T) {
	if got := AUC([]float64{0.1, 0.4, 0.35, 0.8}, []bool{false, false, true, true}); math.Abs(got-0.75) > 1e-12 {
		t.Errorf("AUC = %v, want 0.75", got)
	}
	if got := AUC([]float64{1, 1}, []bool{false, true}); got != 0.5 {
		t.Errorf("AUC of a tie = %v, want 0.5", got)
	}
	// Risk perfectly ordered against time: C = 1; reversed: C = 0.
	times := []float64{1, 2, 3, 4}
	ev := []bool{true, true, true, false}
	if got := ConcordanceIndex([]float64{4, 3, 2, 1}, times, ev); got != 1 {
		t.Errorf("C-index = %v, want 1", got)
	}
	if got := ConcordanceIndex([]float64{1, 2, 3, 4}, times, ev); got != 0 {
		t.Errorf("reversed C-index = %v, want 0", got)
	}
	if got := Accuracy([]int{1, 2, 3}, []int{1, 0, 3}); math.Abs(got-2.0/3) > 1e-12 {
		t.Errorf("accuracy %v", got)
	}
	if Median([]float64{3, 1, 2}) != 2 || Quantile([]float64{0, 10}, 0.25) != 2.5 {
		t.Error("median or quantile")
	}
}

func TestRNGIsReproducibleAndRoughlyNormal(t *testing.T) {
	a, b := NewRNG(42), NewRNG(42)
	sum, sumSq := 0.0, 0.0
	const n = 20000
	for i := 0; i < n; i++ {
		x, y := a.Norm(), b.Norm()
		if x != y {
			t.Fatalf("draw %d differs: %v vs %v", i, x, y)
		}
		sum += x
		sumSq += x * x
	}
	mean, variance := sum/n, sumSq/n-(sum/n)*(sum/n)
	if math.Abs(mean) > 0.05 || math.Abs(variance-1) > 0.05 {
		t.Errorf("normal draws: mean %v variance %v", mean, variance)
	}
	if NewRNG(1).Uint64() == NewRNG(2).Uint64() {
		t.Error("different seeds gave the same first value")
	}
}

func TestKaplanMeier(t *testing.T) {
	// Deaths at 1 and 3, one censored at 2, one alive past 4: S(3) = (1 − 1/4)(1 − 1/2) = 0.375.
	days := []float64{1, 2, 3, 5}
	events := []bool{true, false, true, false}
	if got := KaplanMeier(days, events, 3); math.Abs(got-0.375) > 1e-12 {
		t.Errorf("S(3) = %v, want 0.375", got)
	}
	if got := KaplanMeier(days, events, 0.5); got != 1 {
		t.Errorf("S(0.5) = %v, want 1", got)
	}
}
