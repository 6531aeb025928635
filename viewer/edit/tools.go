package edit

import (
	"fmt"
	"math"

	"github.com/neuronova/neuronova/viewer/render"
)

// Point is a point of a plane image in continuous image coordinates (pixel centres at +0.5).
type Point struct{ X, Y float64 }

// Range is an inclusive intensity range of the image under the map.
type Range struct{ Lo, Hi float32 }

// Paint says what a tool writes.
type Paint struct {
	Label uint8 // the active label: painted, or, with Erase and OnlyActive, the one erased
	Erase bool  // write 0 (background) instead of Label
	// OnlyActive, with Erase, clears only voxels of Label and leaves other labels alone.
	OnlyActive bool
	// Intensity, when not nil, limits the tool to voxels whose image value lies within the range (the editor
	// must have the image).
	Intensity *Range
}

// value is what p writes.
func (p Paint) value() uint8 {
	if p.Erase {
		return 0
	}
	return p.Label
}

// check reports a Paint that cannot be applied to e's map.
func (e *Editor) checkPaint(p Paint) error {
	if !p.Erase || p.OnlyActive {
		if p.Label == 0 {
			return fmt.Errorf("edit: label 0 is the background: erase instead")
		}
		if _, ok := e.m.Label(p.Label); !ok {
			return fmt.Errorf("edit: label %d is not one of the map's labels %v", p.Label, e.labelValues())
		}
	}
	if r := p.Intensity; r != nil {
		if e.img == nil {
			return fmt.Errorf("edit: an intensity range needs the image the map was drawn on")
		}
		if isNaN32(r.Lo) || isNaN32(r.Hi) || r.Lo > r.Hi {
			return fmt.Errorf("edit: intensity range [%g, %g] is empty or not a number", r.Lo, r.Hi)
		}
	}
	return nil
}

func (e *Editor) labelValues() []uint8 {
	v := make([]uint8, len(e.m.Labels))
	for n, l := range e.m.Labels {
		v[n] = l.Value
	}
	return v
}

func isNaN32(f float32) bool { return f != f }

// apply writes p at data index i if p's rules allow; it reports whether the voxel changed.
func (e *Editor) apply(i int, p *Paint) bool {
	if p.Erase && p.OnlyActive && e.m.Data[i] != p.Label {
		return false
	}
	if r := p.Intensity; r != nil {
		if x := e.img.Data[i]; !(x >= r.Lo && x <= r.Hi) {
			return false
		}
	}
	return e.write(i, p.value())
}

// slice is the data layout of one slice of a plane: the index of pixel (0, 0) and the index steps per pixel
// along x and y, taken from render.Plane.Voxel.
type slice struct {
	plane        render.Plane
	w, h         int
	base, dx, dy int
}

// slice checks orientation o and slice index k and returns the slice's layout.
func (e *Editor) slice(o render.Orientation, k int) (slice, error) {
	p, err := e.Plane(o)
	if err != nil {
		return slice{}, err
	}
	if k < 0 || k >= p.Slices() {
		return slice{}, fmt.Errorf("edit: %s slice %d is out of range 0…%d", o, k, p.Slices()-1)
	}
	b := p.Bounds()
	s := slice{plane: p, w: b.Dx(), h: b.Dy()}
	g := e.m.Geometry
	idx := func(x, y int) int {
		v, _ := p.Voxel(k, x, y)
		return g.Index(v[0], v[1], v[2])
	}
	s.base = idx(0, 0)
	if s.w > 1 {
		s.dx = idx(1, 0) - s.base
	}
	if s.h > 1 {
		s.dy = idx(0, 1) - s.base
	}
	return s, nil
}

func (s slice) at(x, y int) int { return s.base + x*s.dx + y*s.dy }

// Dab paints a disc of radius mm (in the slice's plane, true millimetres whatever the pixel spacing) centred
// at c on slice k of plane o, and returns the number of voxels it changed.
func (e *Editor) Dab(o render.Orientation, k int, c Point, radius float64, p Paint) (int, error) {
	return e.Brush(o, k, c, c, radius, p)
}

// Brush paints the segment of a drag from a to b with a brush of radius mm: every pixel whose centre lies
// within radius of the segment (so a fast drag leaves no gaps). It returns the number of voxels it changed.
// Outside a stroke (Begin … End) it is a stroke of its own.
func (e *Editor) Brush(o render.Orientation, k int, a, b Point, radius float64, p Paint) (int, error) {
	s, err := e.slice(o, k)
	if err != nil {
		return 0, err
	}
	if !(radius > 0) || math.IsInf(radius, 0) {
		return 0, fmt.Errorf("edit: brush radius %g mm (want a positive size)", radius)
	}
	for _, q := range [2]Point{a, b} {
		if !finite(q.X) || !finite(q.Y) {
			return 0, fmt.Errorf("edit: brush point (%g, %g) is not a number", q.X, q.Y)
		}
	}
	if err := e.checkPaint(p); err != nil {
		return 0, err
	}
	name := "brush"
	if p.Erase {
		name = "erase"
	}
	return e.within(name, func() int { return e.capsule(s, a, b, radius, &p) }), nil
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// capsule paints the pixels of s within radius mm of segment ab.
func (e *Editor) capsule(s slice, a, b Point, radius float64, p *Paint) int {
	su, sv := s.plane.PixelSpacing()
	rx, ry := radius/su, radius/sv
	x0 := max(0, int(math.Floor(min(a.X, b.X)-rx)))
	x1 := min(s.w-1, int(math.Ceil(max(a.X, b.X)+rx)))
	y0 := max(0, int(math.Floor(min(a.Y, b.Y)-ry)))
	y1 := min(s.h-1, int(math.Ceil(max(a.Y, b.Y)+ry)))
	// In millimetres: the segment from (ax, ay) along (dx, dy).
	ax, ay := a.X*su, a.Y*sv
	dx, dy := (b.X-a.X)*su, (b.Y-a.Y)*sv
	l2 := dx*dx + dy*dy
	r2 := radius * radius
	n := 0
	for y := y0; y <= y1; y++ {
		cy := (float64(y)+0.5)*sv - ay
		for x := x0; x <= x1; x++ {
			cx := (float64(x)+0.5)*su - ax
			t := 0.0
			if l2 > 0 {
				t = max(0, min(1, (cx*dx+cy*dy)/l2))
			}
			ex, ey := cx-t*dx, cy-t*dy
			if ex*ex+ey*ey <= r2 && e.apply(s.at(x, y), p) {
				n++
			}
		}
	}
	return n
}

// Fill fills, on slice k of plane o, the 4-connected region of pixels that hold the same label value as the
// pixel under seed (and, with p.Intensity, whose image values are in range: the range bounds the region) and
// returns the number of voxels it changed. It never leaves the slice.
func (e *Editor) Fill(o render.Orientation, k int, seed Point, p Paint) (int, error) {
	s, err := e.slice(o, k)
	if err != nil {
		return 0, err
	}
	if !finite(seed.X) || !finite(seed.Y) {
		return 0, fmt.Errorf("edit: fill seed (%g, %g) is not a number", seed.X, seed.Y)
	}
	px, py := int(math.Floor(seed.X)), int(math.Floor(seed.Y))
	if seed.X < 0 || seed.Y < 0 || px >= s.w || py >= s.h {
		return 0, fmt.Errorf("edit: fill seed (%g, %g) is outside the %d×%d %s image", seed.X, seed.Y, s.w, s.h, o)
	}
	if err := e.checkPaint(p); err != nil {
		return 0, err
	}
	return e.within("fill", func() int { return e.flood(s, px, py, &p) }), nil
}

// flood is Fill's scan: a stack of pixels; each is written when pushed, so none is pushed twice.
func (e *Editor) flood(s slice, px, py int, p *Paint) int {
	from := e.m.Data[s.at(px, py)]
	if from == p.value() || p.Erase && p.OnlyActive && from != p.Label {
		return 0
	}
	n := 0
	var stack [][2]int32
	push := func(x, y int) {
		if x < 0 || y < 0 || x >= s.w || y >= s.h {
			return
		}
		i := s.at(x, y)
		if e.m.Data[i] == from && e.apply(i, p) {
			n++
			stack = append(stack, [2]int32{int32(x), int32(y)})
		}
	}
	push(px, py)
	for len(stack) > 0 {
		q := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		x, y := int(q[0]), int(q[1])
		push(x+1, y)
		push(x-1, y)
		push(x, y+1)
		push(x, y-1)
	}
	return n
}
