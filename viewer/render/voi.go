package render

import (
	"errors"
	"fmt"
	"math"

	"github.com/neuronova/neuronova/viewer"
)

// ErrWindow reports a window that the DICOM linear VOI function cannot use: a width below 1 or a
// non-finite centre or width.
var ErrWindow = errors.New("render: invalid window")

// VOILinear is the DICOM linear VOI function (PS3.3 C.11.2.1.2.1) for centre c and width w ≥ 1:
//
//	x ≤ c − 0.5 − (w−1)/2  →  ymin
//	x > c − 0.5 + (w−1)/2  →  ymax
//	otherwise              →  ((x − (c − 0.5)) / (w − 1) + 0.5)·(ymax − ymin) + ymin
//
// For w = 1 the middle case is empty and the function is a threshold at c − 0.5.
func VOILinear(x, c, w, ymin, ymax float64) float64 {
	switch {
	case x <= c-0.5-(w-1)/2:
		return ymin
	case x > c-0.5+(w-1)/2:
		return ymax
	}
	return ((x-(c-0.5))/(w-1)+0.5)*(ymax-ymin) + ymin
}

// voiGrey is the 8-bit display value of x: VOILinear with ymin 0 and ymax 255, rounded half up.
func voiGrey(x, c, w float64) uint8 {
	return uint8(math.Floor(VOILinear(x, c, w, 0, 255) + 0.5))
}

// lutBin is one interval of LUT input values: its output is base, plus jump when the input is at least
// thr (the threshold inside the bin; +Inf with jump 0 when there is none).
type lutBin struct {
	thr        float32
	base, jump uint8
}

const (
	lutMinBins = 1 << 10
	lutMaxBins = 1 << 20
	// Integer inputs from lutIntMin to lutIntMax (int16 and uint16 stored values) have their own table.
	lutIntMin = -1 << 15
	lutIntMax = 1<<16 - 1
)

// LUT maps float32 voxel values to 8-bit display values through a window. Its output equals the DICOM
// linear VOI function with ymin 0 and ymax 255, rounded half up (and inverted when asked), exactly, for
// every float32 input; NaN gives black (white when inverted).
//
// How: the output is a non-decreasing step function of x, fully described by the smallest float32 values
// at which it reaches 1, 2, … 255 (found on the formula itself). Whole numbers from −32768 to 65535, which
// is what MR and CT voxels are once a stored integer is rescaled by a whole slope and intercept, read a
// plain table. Any other value goes to bins cut by a monotone float32 function of x; a bin holds the
// output at its start and the one threshold, if any, inside it (NewLUT doubles the bins until no bin
// holds two distinct thresholds). Because the bin function is monotone, a value's bin and one comparison
// with that bin's threshold decide its output exactly, whatever the rounding. Both paths are free of
// data-dependent branches except the choice between them, which is steady for a given volume.
//
// A LUT is read-only after NewLUT and safe for concurrent use.
type LUT struct {
	window   viewer.Window
	invert   bool
	ints     []uint8 // display values of lutIntMin … lutIntMax
	lo       float32 // the first threshold: bin 0 starts there
	scale    float32 // bins per unit of x
	lastBits int32   // float32 bits of the last bin's index
	black    uint8   // the display value of NaN
	bins     []lutBin
	packed   []uint64 // bins as the loops read them: thr's bits, base << 32, jump << 40
}

// lutStep is a distinct threshold and the number of output levels it adds.
type lutStep struct {
	at   float32
	jump uint8
}

// NewLUT builds the table for window w; invert swaps black and white.
func NewLUT(w viewer.Window, invert bool) (*LUT, error) {
	c, width := w.Center, w.Width
	if math.IsNaN(c) || math.IsInf(c, 0) || !(width >= 1) || math.IsInf(width, 0) {
		return nil, fmt.Errorf("%w: centre %g, width %g (want finite values, width ≥ 1)", ErrWindow, c, width)
	}
	var steps [255]lutStep
	n := 0
	for level := 1; level <= 255; level++ {
		at := firstAtLeast(uint8(level), c, width)
		if n > 0 && steps[n-1].at == at {
			steps[n-1].jump++
			continue
		}
		steps[n] = lutStep{at: at, jump: 1}
		n++
	}
	lo, hi := steps[0].at, steps[n-1].at
	if math.IsInf(float64(lo), 0) || math.IsInf(float64(hi), 0) {
		return nil, fmt.Errorf("%w: centre %g, width %g reaches beyond the float32 range", ErrWindow, c, width)
	}
	l := &LUT{window: w, invert: invert, lo: lo, scale: 1, ints: make([]uint8, lutIntMax-lutIntMin+1)}
	if invert {
		l.black = 255
	}
	l.fillInts(steps[:n])
	for nb := lutMinBins; nb <= lutMaxBins; nb *= 2 {
		l.bins = make([]lutBin, nb)
		l.lastBits = int32(math.Float32bits(float32(nb - 1)))
		if hi > lo {
			l.scale = min(float32(nb-2)/(hi-lo), math.MaxFloat32)
			if l.scale == 0 {
				return nil, fmt.Errorf("%w: centre %g, width %g spans more than the float32 range", ErrWindow, c, width)
			}
		}
		if l.fill(steps[:n]) {
			l.packed = make([]uint64, len(l.bins))
			for i, b := range l.bins {
				l.packed[i] = uint64(math.Float32bits(b.thr)) | uint64(b.base)<<32 | uint64(b.jump)<<40
			}
			return l, nil
		}
	}
	return nil, fmt.Errorf("%w: centre %g, width %g: display steps closer than float32 can separate", ErrWindow, c, width)
}

// fillInts sets the integer table: integer v shows the levels of the thresholds at or below it.
func (l *LUT) fillInts(steps []lutStep) {
	level, from := uint8(0), lutIntMin
	for _, s := range append(steps, lutStep{at: float32(math.Inf(1))}) {
		to := int(math.Ceil(min(max(float64(s.at), lutIntMin), lutIntMax+1))) // first integer ≥ s.at
		out := level
		if l.invert {
			out = 255 - level
		}
		for v := from; v < to; v++ {
			l.ints[v-lutIntMin] = out
		}
		from = max(from, to)
		level += s.jump
	}
}

// fill places each step in its bin and accumulates the bases; it reports false when two distinct
// thresholds share a bin.
func (l *LUT) fill(steps []lutStep) bool {
	inf := float32(math.Inf(1))
	for b := range l.bins {
		l.bins[b] = lutBin{thr: inf}
	}
	for _, s := range steps {
		b := &l.bins[l.bin(s.at)]
		if b.jump != 0 {
			return false
		}
		b.thr, b.jump = s.at, s.jump
	}
	var sum uint8
	for b := range l.bins {
		l.bins[b].base = sum
		sum += l.bins[b].jump
		if l.invert {
			l.bins[b].base = 255 - l.bins[b].base
			l.bins[b].jump = -l.bins[b].jump // uint8 wrap-around: base + jump steps down
		}
	}
	return true
}

// bin is the table index of x, a non-decreasing function of x for every x but NaN. It clamps on the bit
// pattern of (x − lo)·scale, which orders non-negative float32 values like integers.
func (l *LUT) bin(x float32) int {
	t := int32(math.Float32bits((x - l.lo) * l.scale))
	return int(math.Float32frombits(uint32(min(max(t, 0), l.lastBits))))
}

// Window returns the window the table was built for.
func (l *LUT) Window() viewer.Window { return l.window }

// Inverted reports whether black and white are swapped.
func (l *LUT) Inverted() bool { return l.invert }

// Value returns the display value of x.
func (l *LUT) Value(x float32) uint8 {
	n := int32(x)
	if k := int(n) - lutIntMin; float32(n) == x && uint(k) < uint(len(l.ints)) {
		return l.ints[k]
	}
	if x != x {
		return l.black
	}
	b := &l.bins[l.bin(x)]
	// x − thr is exact in sign: its sign bit says x < thr.
	under := uint8(int32(math.Float32bits(x-b.thr)) >> 31)
	return b.base + b.jump&^under
}

// Apply writes the display values of src to dst, which must be at least as long.
func (l *LUT) Apply(dst []uint8, src []float32) {
	l.applyStride(dst[:len(src)], src, 0, 1)
}

// applyStride writes the display values of data[off], data[off+step], … to dst: through the integer
// table while the values are whole numbers in its range, then, from the first that is not, through the
// bins. Each loop is Value's code for its path, kept small so that it stays in registers.
func (l *LUT) applyStride(dst []uint8, data []float32, off, step int) {
	ints := l.ints
	i := 0
	for ; i < len(dst); i++ {
		x := data[off]
		n := int32(x)
		k := int(n) - lutIntMin
		if float32(n) != x || uint(k) >= uint(len(ints)) {
			break
		}
		dst[i] = ints[k]
		off += step
	}
	if i < len(dst) {
		l.applyBins(dst[i:], data, off, step)
	}
}

// applyBins is applyStride for any values: NaN, then the bins, read packed in one load each; contiguous
// values take a loop without index arithmetic.
func (l *LUT) applyBins(dst []uint8, data []float32, off, step int) {
	bins, lo, scale, lastBits, black := l.packed, l.lo, l.scale, l.lastBits, l.black
	if step == 1 {
		src := data[off : off+len(dst)]
		dst = dst[:len(src)]
		for i, x := range src {
			t := int32(math.Float32bits((x - lo) * scale))
			p := bins[int(math.Float32frombits(uint32(min(max(t, 0), lastBits))))]
			under := uint8(int32(math.Float32bits(x-math.Float32frombits(uint32(p)))) >> 31)
			out := uint8(p>>32) + uint8(p>>40)&^under
			if x != x {
				out = black
			}
			dst[i] = out
		}
		return
	}
	for i := range dst {
		x := data[off]
		off += step
		t := int32(math.Float32bits((x - lo) * scale))
		p := bins[int(math.Float32frombits(uint32(min(max(t, 0), lastBits))))]
		under := uint8(int32(math.Float32bits(x-math.Float32frombits(uint32(p)))) >> 31)
		out := uint8(p>>32) + uint8(p>>40)&^under
		if x != x {
			out = black
		}
		dst[i] = out
	}
}

// firstAtLeast returns the smallest float32 x (−Inf … +Inf) with voiGrey(x) ≥ level, level ≥ 1. It starts
// from the real-valued boundary, where the formula reaches level − 0.5, and steps to the exact float32;
// should that take long, it bisects the ordered bit patterns instead (voiGrey is non-decreasing along
// the float32 order).
func firstAtLeast(level uint8, c, w float64) float32 {
	up, down := float32(math.Inf(1)), float32(math.Inf(-1))
	x := float32(c - 0.5 + (w-1)*((float64(level)-0.5)/255-0.5))
	for range 64 {
		if math.IsInf(float64(x), 0) {
			break
		}
		if voiGrey(float64(x), c, w) < level {
			x = math.Nextafter32(x, up)
			continue
		}
		prev := math.Nextafter32(x, down)
		if voiGrey(float64(prev), c, w) < level {
			return x
		}
		x = prev
	}
	below := orderedKey(down) // voiGrey(−Inf) = 0 < level
	atOrAbove := orderedKey(up)
	for atOrAbove-below > 1 {
		mid := below + (atOrAbove-below)/2
		if voiGrey(float64(fromOrderedKey(mid)), c, w) >= level {
			atOrAbove = mid
		} else {
			below = mid
		}
	}
	return fromOrderedKey(atOrAbove)
}

// orderedKey maps float32 values to integers in the same order (−0 just below +0; NaNs with the sign bit
// clear above +Inf). It has no branch.
func orderedKey(f float32) uint32 {
	u := math.Float32bits(f)
	return u ^ (uint32(int32(u)>>31) | 1<<31)
}

func fromOrderedKey(k uint32) float32 {
	if k&(1<<31) != 0 {
		return math.Float32frombits(k &^ (1 << 31))
	}
	return math.Float32frombits(^k)
}

// Presets returns the windows a reader can choose for v, in order, none repeated (a window within 2 % of an
// earlier one's width in both centre and width is left out): the ones stored in the files (Volume.Windows),
// then for grey-scale volumes the MR auto-window (Volume.AutoWindow, the 1st to 99.5th percentile of the
// non-background voxels), "Contrast" (5th to 95th: grey against white matter) and "Wide" (0.1th to 99.9th),
// then "Full range", which maps the smallest value to black and the largest to white.
//
// RGB volumes get no percentile windows: their window applies to each channel alike (see Plane.RenderRGBA),
// and their "Full range" is the 8-bit identity (centre 128, width 256) when every value lies in 0…255.
func Presets(v *viewer.Volume) []viewer.Window {
	var out []viewer.Window
	add := func(w viewer.Window) {
		for _, o := range out {
			tol := 0.02 * max(o.Width, w.Width)
			if math.Abs(o.Center-w.Center) <= tol && math.Abs(o.Width-w.Width) <= tol {
				return
			}
		}
		out = append(out, w)
	}
	for _, w := range v.Windows {
		add(w)
	}
	lo, hi := v.Range()
	if v.Samples == 3 {
		if lo >= 0 && hi <= 255 {
			add(viewer.Window{Center: 128, Width: 256, Name: "Full range"})
			return out
		}
	} else {
		add(v.AutoWindow())
		p := v.Percentiles(0.05, 0.95, 0.001, 0.999)
		add(percentileWindow(p[0], p[1], "Contrast"))
		add(percentileWindow(p[2], p[3], "Wide"))
	}
	flo, fhi := float64(lo), float64(hi)
	add(viewer.Window{Center: (flo+fhi)/2 + 0.5, Width: fhi - flo + 1, Name: "Full range"})
	return out
}

// percentileWindow spans lo to hi, at least 1 wide, as AutoWindow does.
func percentileWindow(lo, hi float64, name string) viewer.Window {
	w := max(hi-lo, 1)
	return viewer.Window{Center: lo + w/2, Width: w, Name: name}
}

// DefaultWindow is the window a series opens with, Presets(v)[0], without computing the others: the first
// stored in the files, else the auto-window (grey) or the full range (RGB).
func DefaultWindow(v *viewer.Volume) viewer.Window {
	if len(v.Windows) > 0 {
		return v.Windows[0]
	}
	if v.Samples == 3 {
		return Presets(v)[0]
	}
	return v.AutoWindow()
}
