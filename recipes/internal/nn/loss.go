package nn

import (
	"math"
	"sort"
)

// Sigmoid is the logistic function.
func Sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// Softmax returns the softmax of one row.
func Softmax(logits []float64) []float64 {
	m := logits[0]
	for _, v := range logits {
		m = math.Max(m, v)
	}
	p := make([]float64, len(logits))
	s := 0.0
	for i, v := range logits {
		p[i] = math.Exp(v - m)
		s += p[i]
	}
	for i := range p {
		p[i] /= s
	}
	return p
}

// SoftmaxCrossEntropy returns the mean loss over n rows of k logits and its gradient (already divided by n).
func SoftmaxCrossEntropy(logits []float64, labels []int, n, k int) (float64, []float64) {
	g := make([]float64, n*k)
	loss := 0.0
	for r := 0; r < n; r++ {
		p := Softmax(logits[r*k : (r+1)*k])
		loss -= math.Log(math.Max(p[labels[r]], 1e-300))
		for j := range p {
			g[r*k+j] = p[j] / float64(n)
		}
		g[r*k+labels[r]] -= 1 / float64(n)
	}
	return loss / float64(n), g
}

// BinaryCrossEntropy returns the mean logistic loss of n logits and its gradient (divided by n).
func BinaryCrossEntropy(logits []float64, targets []bool) (float64, []float64) {
	n := len(logits)
	g := make([]float64, n)
	loss := 0.0
	for i, z := range logits {
		y := 0.0
		if targets[i] {
			y = 1
		}
		// log(1+exp(z)) − y·z, computed stably.
		loss += math.Max(z, 0) - y*z + math.Log1p(math.Exp(-math.Abs(z)))
		g[i] = (Sigmoid(z) - y) / float64(n)
	}
	return loss / float64(n), g
}

// MaskedSquaredError returns the mean of ½(pred−target)² over the rows where use is true, and its gradient.
func MaskedSquaredError(pred, target []float64, use []bool) (float64, []float64) {
	g := make([]float64, len(pred))
	count := 0
	for _, u := range use {
		if u {
			count++
		}
	}
	if count == 0 {
		return 0, g
	}
	loss := 0.0
	for i := range pred {
		if !use[i] {
			continue
		}
		d := pred[i] - target[i]
		loss += 0.5 * d * d
		g[i] = d / float64(count)
	}
	return loss / float64(count), g
}

// CoxPartialLikelihood returns the negative log partial likelihood (Breslow ties) of risk scores r for times t
// with event flags, divided by the number of events, and its gradient.
func CoxPartialLikelihood(r, t []float64, event []bool) (float64, []float64) {
	n := len(r)
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	// Longest time first, so that the risk set of a subject is everything before it plus its ties.
	sort.SliceStable(order, func(a, b int) bool { return t[order[a]] > t[order[b]] })
	maxR := r[0]
	for _, v := range r {
		maxR = math.Max(maxR, v)
	}
	g := make([]float64, n)
	events := 0
	for _, e := range event {
		if e {
			events++
		}
	}
	if events == 0 {
		return 0, g
	}
	// riskSum[i] = Σ exp(r_j − maxR) over j with t_j ≥ t_i.
	riskSum := make([]float64, n)
	acc := 0.0
	for k := 0; k < n; {
		end := k
		for end < n && t[order[end]] == t[order[k]] {
			acc += math.Exp(r[order[end]] - maxR)
			end++
		}
		for m := k; m < end; m++ {
			riskSum[order[m]] = acc
		}
		k = end
	}
	loss := 0.0
	// Gradient: −δ_k + exp(r_k) Σ_{i event, t_i ≤ t_k} 1/riskSum_i; walk from the shortest time upwards.
	inv := 0.0
	for k := n - 1; k >= 0; {
		start := k
		for start >= 0 && t[order[start]] == t[order[k]] {
			i := order[start]
			if event[i] {
				loss -= r[i] - maxR - math.Log(riskSum[i])
				inv += 1 / riskSum[i]
			}
			start--
		}
		for m := k; m > start; m-- {
			i := order[m]
			g[i] = math.Exp(r[i]-maxR) * inv
			if event[i] {
				g[i]--
			}
			g[i] /= float64(events)
		}
		k = start
	}
	return loss / float64(events), g
}
