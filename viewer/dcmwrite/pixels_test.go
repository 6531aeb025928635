package dcmwrite

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"
)

// decode is what a reader does with the stored values.
func (r rescale) decode(b []byte) []float64 {
	out := make([]float64, len(b)/2)
	for i := range out {
		s := float64(binary.LittleEndian.Uint16(b[2*i:]))
		if r.Signed {
			s = float64(int16(binary.LittleEndian.Uint16(b[2*i:])))
		}
		out[i] = s*parseDS(r.SlopeDS) + parseDS(r.InterDS)
	}
	return out
}

func TestRescaleRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	gen := func(n int, f func(i int) float64) []float32 {
		d := make([]float32, n)
		for i := range d {
			d[i] = float32(f(i))
		}
		return d
	}
	cases := []struct {
		name   string
		data   []float32
		signed bool
		exact  bool
	}{
		{"uint8 image", gen(1000, func(i int) float64 { return float64(i % 256) }), false, true},
		{"uint16 range", gen(1000, func(i int) float64 { return float64(i * 65) }), false, true},
		{"CT-like ints", gen(1000, func(i int) float64 { return float64(i*3 - 1024) }), true, true},
		{"ints offset", gen(1000, func(i int) float64 { return float64(100000 + i*60) }), false, true},
		{"wide ints", gen(1000, func(i int) float64 { return float64(i*1000 - 300000) }), false, false},
		{"floats", gen(5000, func(int) float64 { return rng.NormFloat64()*300 + 900 }), false, false},
		{"tiny floats", gen(5000, func(int) float64 { return rng.Float64() * 1e-6 }), false, false},
		{"constant fraction", gen(10, func(int) float64 { return 0.3 }), false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := chooseRescale(c.data)
			if err != nil {
				t.Fatal(err)
			}
			if r.Signed != c.signed {
				t.Fatalf("signed %v, want %v (%+v)", r.Signed, c.signed, r)
			}
			if len(r.SlopeDS) > 16 || len(r.InterDS) > 16 {
				t.Fatalf("DS too long: %+v", r)
			}
			buf := make([]byte, 2*len(c.data))
			r.encode(buf, c.data)
			got := r.decode(buf)
			tol := r.Slope/2 + 1e-6*math.Abs(r.Intercept)
			if c.exact {
				tol = 0
			}
			for i, v := range c.data {
				if d := math.Abs(got[i] - float64(v)); d > tol {
					t.Fatalf("value %d: %v came back as %v (off by %v, allowed %v; %+v)", i, v, got[i], d, tol, r)
				}
			}
		})
	}
	if _, err := chooseRescale([]float32{1, float32(math.NaN())}); err == nil {
		t.Fatal("NaN accepted")
	}
}
