package viewer

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestNthElement checks selection against sorting on random data with many repeats, every k.
func TestNthElement(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 3, 15, 16, 17, 100, 1000} {
		for trial := 0; trial < 5; trial++ {
			a := make([]float32, n)
			for i := range a {
				a[i] = float32(r.IntN(n/3 + 1))
			}
			sorted := slices.Clone(a)
			slices.Sort(sorted)
			for k := 0; k < n; k++ {
				b := slices.Clone(a)
				if got := nthElement(b, k); got != sorted[k] {
					t.Fatalf("n %d k %d: %g, want %g", n, k, got, sorted[k])
				}
			}
		}
	}
}

// TestPercentilesMatchSorting compares Percentiles with the sorted sample it stands for.
func TestPercentilesMatchSorting(t *testing.T) {
	g := Geometry{Size: [3]int{64, 64, 40}, Spacing: Vec3{1, 1, 1}, Direction: IdentityDirection}
	v := NewVolume(g)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range v.Data {
		if i%5 != 0 {
			v.Data[i] = float32(math.Round(r.NormFloat64()*200 + 800))
		}
	}
	lo, _ := v.Range()
	var sample []float32
	for _, x := range v.Data {
		if x > lo {
			sample = append(sample, x)
		}
	}
	slices.Sort(sample)
	ps := []float64{0, 0.01, 0.5, 0.995, 1}
	got := v.Percentiles(ps...)
	for i, p := range ps {
		want := float64(sample[int(math.Round(p*float64(len(sample)-1)))])
		if got[i] != want {
			t.Errorf("percentile %g: %g, want %g", p, got[i], want)
		}
	}
}
