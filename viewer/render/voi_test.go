package render

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/neuronova/neuronova/viewer"
)

func TestVOILinear(t *testing.T) {
	tests := []struct {
		name                string
		x, c, w, ymin, ymax float64
		want                float64
	}{
		{"at the lower bound", 0, 40.5, 81, 0, 255, 0},        // c−0.5−(w−1)/2 = 0
		{"below the lower bound", -1000, 40.5, 81, 0, 255, 0}, //
		{"just above the lower bound", 1, 40.5, 81, 0, 255, 255.0 / 80},
		{"centre − 0.5 is mid-grey", 40, 40.5, 81, 0, 255, 127.5},
		{"at the upper bound", 80, 40.5, 81, 0, 255, 255}, // c−0.5+(w−1)/2 = 80, middle formula gives ymax
		{"above the upper bound", 80.001, 40.5, 81, 0, 255, 255},
		{"other output range", 40, 40.5, 81, 10, 20, 15},
		{"w = 2, lower", 9, 10, 2, 0, 255, 0}, // bounds 9.0 and 10.0
		{"w = 2, middle", 9.75, 10, 2, 0, 255, 0.75 * 255},
		{"w = 1, at threshold", 9.5, 10, 1, 0, 255, 0},
		{"w = 1, just above threshold", math.Nextafter(9.5, 10), 10, 1, 0, 255, 255},
		{"w = 1, far below", -1e30, 10, 1, 0, 255, 0},
		{"w = 1, far above", 1e30, 10, 1, 0, 255, 255},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := VOILinear(tc.x, tc.c, tc.w, tc.ymin, tc.ymax)
			if math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("VOILinear(%g, c=%g, w=%g, %g, %g) = %g, want %g", tc.x, tc.c, tc.w, tc.ymin, tc.ymax, got, tc.want)
			}
		})
	}
}

// expectedGrey is the reference the LUT must match: the formula rounded half up, inverted if asked.
func expectedGrey(x float32, w viewer.Window, invert bool) uint8 {
	y := VOILinear(float64(x), w.Center, w.Width, 0, 255)
	if math.IsNaN(float64(x)) {
		y = 0
	}
	g := uint8(math.Floor(y + 0.5))
	if invert {
		return 255 - g
	}
	return g
}

func nextUp(x float32) float32   { return math.Nextafter32(x, float32(math.Inf(1))) }
func nextDown(x float32) float32 { return math.Nextafter32(x, float32(math.Inf(-1))) }

var lutWindows = []viewer.Window{
	{Center: 40, Width: 80},        // CT brain
	{Center: 3000, Width: 100},     // narrow, high values: float32 steps are coarse
	{Center: 100.5, Width: 3},      // three input units per 255 levels
	{Center: 600, Width: 1200},     // typical MR
	{Center: -500.25, Width: 1500}, // negative centre, fractional
	{Center: 10, Width: 1},         // threshold
	{Center: 10, Width: 1.0001},    // nearly a threshold
	{Center: 1e6, Width: 2},        // levels closer than a float32 step (0.0625 at 1e6)
	{Center: 0.5, Width: 256},      // 8-bit-ish
	{Center: 128, Width: 256},      // 8-bit identity
}

// TestLUTExact checks LUT.Value and LUT.Apply against the formula: exhaustively over every float32 of the
// window (plus a margin) where there are at most 2^21 of them, and otherwise at ±8 float32 steps around
// each analytic level boundary and at 200,000 random values across the window; then at every whole
// number from −32773 to 65540 and at special values.
func TestLUTExact(t *testing.T) {
	for _, w := range lutWindows {
		for _, invert := range []bool{false, true} {
			lut, err := NewLUT(w, invert)
			if err != nil {
				t.Fatalf("NewLUT(%+v): %v", w, err)
			}
			var xs []float32
			lo := float32(w.Center - 0.5 - (w.Width-1)/2 - 1)
			hi := float32(w.Center - 0.5 + (w.Width-1)/2 + 1)
			if n := orderedKey(hi) - orderedKey(lo); n <= 1<<21 {
				for x := lo; x <= hi; x = nextUp(x) {
					xs = append(xs, x)
				}
			} else {
				for level := 1; level <= 255; level++ {
					// VOILinear reaches level − 0.5 at this x.
					b := float32(w.Center - 0.5 + (w.Width-1)*((float64(level)-0.5)/255-0.5))
					x := b
					for range 8 {
						x = nextDown(x)
					}
					for range 17 {
						xs = append(xs, x)
						x = nextUp(x)
					}
				}
				r := rand.New(rand.NewPCG(1, 2))
				for range 200000 {
					xs = append(xs, lo+(hi-lo)*r.Float32())
				}
			}
			// Whole numbers, which take the integer table, across it and beyond its ends.
			for v := lutIntMin - 5; v <= lutIntMax+5; v++ {
				xs = append(xs, float32(v))
			}
			xs = append(xs, 1<<24, -1<<24, 1e9, -1e9)
			inf := float32(math.Inf(1))
			xs = append(xs, -inf, inf, float32(math.NaN()), 0, float32(math.Copysign(0, -1)),
				math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32)
			got := make([]uint8, len(xs))
			lut.Apply(got, xs)
			bad := 0
			for i, x := range xs {
				want := expectedGrey(x, w, invert)
				if got[i] != want || lut.Value(x) != want {
					if bad++; bad <= 5 {
						t.Errorf("window %+v invert %v: x = %v (%#x): Apply %d, Value %d, want %d",
							w, invert, x, math.Float32bits(x), got[i], lut.Value(x), want)
					}
				}
			}
			if bad > 0 {
				t.Errorf("window %+v invert %v: %d of %d values wrong", w, invert, bad, len(xs))
			}
		}
	}
}

func TestLUTCoversAllLevels(t *testing.T) {
	lut, err := NewLUT(viewer.Window{Center: 600, Width: 1200}, false)
	if err != nil {
		t.Fatal(err)
	}
	var seen [256]bool
	for x := float32(-10); x <= 1210; x += 0.25 {
		seen[lut.Value(x)] = true
	}
	for level, ok := range seen {
		if !ok {
			t.Errorf("level %d never produced over the window", level)
		}
	}
	if lut.Window().Width != 1200 || lut.Inverted() {
		t.Errorf("LUT reports window %+v inverted %v", lut.Window(), lut.Inverted())
	}
}

func TestNewLUTRejects(t *testing.T) {
	for _, w := range []viewer.Window{
		{Center: 40, Width: 0.5},
		{Center: 40, Width: 0},
		{Center: 40, Width: -80},
		{Center: math.NaN(), Width: 80},
		{Center: 40, Width: math.NaN()},
		{Center: math.Inf(1), Width: 80},
		{Center: 40, Width: math.Inf(1)},
	} {
		if _, err := NewLUT(w, false); !errors.Is(err, ErrWindow) {
			t.Errorf("NewLUT(%+v) error = %v, want ErrWindow", w, err)
		}
	}
}

func TestPresets(t *testing.T) {
	g := viewer.Geometry{Size: [3]int{20, 20, 20}, Spacing: viewer.Vec3{1, 1, 1}, Direction: viewer.IdentityDirection}
	v := viewer.NewVolume(g)
	r := rand.New(rand.NewPCG(5, 6))
	for i := range v.Data {
		v.Data[i] = float32(math.Round(max(110, min(1490, 800+200*r.NormFloat64())))) // tissue
	}
	v.Data[0], v.Data[1] = 100, 1500 // background (the minimum) and the brightest voxel
	v.Windows = []viewer.Window{{Center: 300, Width: 400, Name: "from file"}}
	got := Presets(v)
	if len(got) != 5 {
		t.Fatalf("Presets = %+v, want file window, Auto, Contrast, Wide, Full range", got)
	}
	for i, name := range []string{"from file", "Auto", "Contrast", "Wide", "Full range"} {
		if got[i].Name != name {
			t.Errorf("preset %d is %q, want %q", i+1, got[i].Name, name)
		}
	}
	if DefaultWindow(v) != got[0] {
		t.Errorf("DefaultWindow %+v, want the first preset %+v", DefaultWindow(v), got[0])
	}
	if got[0] != v.Windows[0] {
		t.Errorf("first preset %+v, want the file's %+v", got[0], v.Windows[0])
	}
	if got[1] != v.AutoWindow() {
		t.Errorf("second preset %+v, want AutoWindow %+v", got[1], v.AutoWindow())
	}
	full, err := NewLUT(got[4], false)
	if err != nil {
		t.Fatal(err)
	}
	if full.Value(100) != 0 || full.Value(1500) != 255 || full.Value(110) == 0 || full.Value(1490) == 255 {
		t.Errorf("Full range %+v maps min→%d, max→%d, next→%d, previous→%d; want 0, 255 and in between",
			got[4], full.Value(100), full.Value(1500), full.Value(110), full.Value(1490))
	}
	// A stored window equal to the auto-window is not offered twice, nor is a preset equal to another.
	v.Windows = []viewer.Window{v.AutoWindow()}
	v.Windows[0].Name = "Brain"
	got = Presets(v)
	for i := range got {
		for j := range i {
			if math.Abs(got[i].Center-got[j].Center) <= 0.02*got[i].Width && math.Abs(got[i].Width-got[j].Width) <= 0.02*got[i].Width {
				t.Errorf("presets %d (%+v) and %d (%+v) are the same window", j+1, got[j], i+1, got[i])
			}
		}
	}
	if got[0].Name != "Brain" || got[1].Name == "Auto" {
		t.Errorf("presets %+v: the stored window first, the equal auto-window left out", got)
	}

	rgb := &viewer.Volume{Geometry: g, Samples: 3, Data: make([]float32, 3*g.Len())}
	for i := range rgb.Data {
		rgb.Data[i] = float32(i % 256)
	}
	got = Presets(rgb)
	if len(got) != 1 || got[0].Name != "Full range" || DefaultWindow(rgb) != got[0] {
		t.Fatalf("RGB presets = %+v, want only Full range", got)
	}
	id, err := NewLUT(got[0], false)
	if err != nil {
		t.Fatal(err)
	}
	for x := 0; x < 256; x++ {
		if id.Value(float32(x)) != uint8(x) {
			t.Errorf("RGB full range maps %d to %d, want identity", x, id.Value(float32(x)))
		}
	}
}

// mrSlice returns n values shaped like an MR slice: air near 0, tissue 300…1500 with noise.
func mrSlice(n int) []float32 {
	r := rand.New(rand.NewPCG(3, 4))
	out := make([]float32, n)
	for i := range out {
		if i%7 < 2 {
			out[i] = float32(r.IntN(20))
		} else {
			out[i] = 300 + 1200*r.Float32()
		}
	}
	return out
}

func BenchmarkNewLUT(b *testing.B) {
	for b.Loop() {
		if _, err := NewLUT(viewer.Window{Center: 800, Width: 1000}, false); err != nil {
			b.Fatal(err)
		}
	}
}
