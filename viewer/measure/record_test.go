package measure

import (
	"math"
	"strings"
	"testing"

	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/render"
)

// plane is an axial plane with anisotropic pixels (0.5 × 2 mm) through a volume whose values are i.
func plane(t *testing.T) (render.Plane, *viewer.Volume) {
	t.Helper()
	g := viewer.Geometry{Size: [3]int{40, 20, 5}, Spacing: viewer.Vec3{0.5, 2, 3}, Direction: viewer.IdentityDirection}
	v := viewer.NewVolume(g)
	for i := range v.Data {
		v.Data[i] = float32(i % 40)
	}
	p, err := render.NewPlane(g, render.Axial)
	if err != nil {
		t.Fatal(err)
	}
	return p, v
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestComputeInMillimetres(t *testing.T) {
	p, v := plane(t)
	su, sv := p.PixelSpacing()
	m := Measurement{Kind: KindLength, Slice: 2, Points: []Point{{X: 1, Y: 1}, {X: 7, Y: 5}}}
	if err := m.Compute(p, v); err != nil {
		t.Fatal(err)
	}
	if want := math.Hypot(6*su, 4*sv); !near(m.Length, want) || m.Text() != strings.TrimSpace(m.Text()) || len(m.Patient) != 2 {
		t.Errorf("length %g, want %g", m.Length, want)
	}
	a := Measurement{Kind: KindAngle, Slice: 0, Points: []Point{{X: 11, Y: 1}, {X: 1, Y: 1}, {X: 1, Y: 9}}}
	if err := a.Compute(p, v); err != nil || !near(a.Angle, 90) || a.Text() != "90.0°" {
		t.Errorf("angle %g (%v) %q, want 90", a.Angle, err, a.Text())
	}
	r := Measurement{Kind: KindEllipse, Slice: 1, Points: []Point{{X: 2, Y: 2}, {X: 10, Y: 6}}}
	if err := r.Compute(p, v); err != nil || r.Stats == nil || r.Stats.N == 0 {
		t.Errorf("ellipse stats %+v, %v", r.Stats, err)
	}
	pr := Measurement{Kind: KindProbe, Slice: 1, Points: []Point{{X: 7.5, Y: 3.5}}}
	if err := pr.Compute(p, v); err != nil || pr.Value != "7" || !strings.HasPrefix(pr.Text(), "7 at (") {
		t.Errorf("probe %q %q, %v", pr.Value, pr.Text(), err)
	}
	bad := Measurement{Kind: KindAngle, Points: []Point{{}}}
	if err := bad.Compute(p, v); err == nil {
		t.Error("an angle of one point was computed")
	}
}

// TestBidirectionalStaysPerpendicular drags each of a bidirectional's four handles on anisotropic pixels:
// the short axis stays perpendicular to the long one in millimetres and crosses it, and a dragged end lands
// where it was dropped.
func TestBidirectionalStaysPerpendicular(t *testing.T) {
	p, v := plane(t)
	su, sv := p.PixelSpacing()
	pts := NewBidirectional(Point{X: 4, Y: 4}, Point{X: 30, Y: 12}, su, sv)
	check := func(what string) {
		t.Helper()
		mm := func(p Point) [2]float64 { return [2]float64{p.X * su, p.Y * sv} }
		a, b, c, d := mm(pts[0]), mm(pts[1]), mm(pts[2]), mm(pts[3])
		dot := (b[0]-a[0])*(d[0]-c[0]) + (b[1]-a[1])*(d[1]-c[1])
		if math.Abs(dot) > 1e-6 {
			t.Errorf("%s: axes not perpendicular (dot %g)", what, dot)
		}
		// c and d lie on either side of the long axis' line.
		side := func(q [2]float64) float64 { return (b[0]-a[0])*(q[1]-a[1]) - (b[1]-a[1])*(q[0]-a[0]) }
		if side(c)*side(d) > 0 {
			t.Errorf("%s: the short axis does not cross the long one", what)
		}
	}
	check("new")
	m := Measurement{Kind: KindBidirectional, Points: pts}
	if err := m.Compute(p, v); err != nil || !near(m.Short, m.Length/2) {
		t.Errorf("new: long %g short %g, want short = long/2", m.Length, m.Short)
	}
	for i, to := range []Point{{X: 2, Y: 8}, {X: 34, Y: 3}, {X: 20, Y: 16}, {X: 14, Y: 1}} {
		Move(KindBidirectional, pts, i, to, su, sv)
		check("after moving handle " + string(rune('0'+i)))
		if i < 2 && pts[i] != to {
			t.Errorf("long end %d at %v, dropped at %v", i, pts[i], to)
		}
	}
	// A short-axis end dropped beside the axis' span lands there.
	Move(KindBidirectional, pts, 2, Point{X: 20, Y: 14}, su, sv)
	if d := math.Hypot((pts[2].X-20)*su, (pts[2].Y-14)*sv); d > 1e-6 {
		t.Errorf("short end at %v, dropped at (20, 14): %g mm off", pts[2], d)
	}
	other := []Point{{X: 1, Y: 1}, {X: 2, Y: 2}}
	Move(KindLength, other, 1, Point{X: 5, Y: 5}, su, sv)
	if other[1] != (Point{X: 5, Y: 5}) {
		t.Errorf("length end not moved: %v", other)
	}
}

func TestRANO(t *testing.T) {
	for _, c := range []struct {
		long, short, thick float64
		measurable         bool
	}{
		{20, 12, 1, true},
		{20, 9.9, 1, false},
		{20, 12, 6, true},
		{20, 11, 6, false}, // under twice the 6 mm slice thickness
	} {
		r := RANOOf(c.long, c.short, c.thick)
		if r.Measurable != c.measurable || !near(r.Product, c.long*c.short) || (r.Why == "") != c.measurable {
			t.Errorf("RANOOf(%g, %g, %g) = %+v", c.long, c.short, c.thick, r)
		}
	}
	m := Measurement{Kind: KindBidirectional, Length: 8, Short: 5}
	if !strings.Contains(m.Text(), "non-measurable") {
		t.Errorf("text %q does not say non-measurable", m.Text())
	}
}
