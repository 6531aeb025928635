package ui

import (
	"math"
	"testing"
)

func TestViewTransformRoundTrip(t *testing.T) {
	base := viewTransform{viewW: 400, viewH: 300, imgW: 240, imgH: 155, su: 1, sv: 1.5, zoom: 1}
	for rot := 0; rot < 4; rot++ {
		for _, fh := range []bool{false, true} {
			for _, fv := range []bool{false, true} {
				tr := base
				tr.rot, tr.flipH, tr.flipV, tr.zoom, tr.panX, tr.panY = rot, fh, fv, 1.7, 12, -30
				for _, p := range [][2]float64{{0, 0}, {0.5, 0.5}, {120, 77.5}, {239.5, 10}, {33, 154}} {
					vx, vy := tr.toView(p[0], p[1])
					x, y := tr.toImage(vx, vy)
					if math.Abs(x-p[0]) > 1e-9 || math.Abs(y-p[1]) > 1e-9 {
						t.Fatalf("rot %d flip %v/%v: %v → (%g,%g) → (%g,%g)", rot, fh, fv, p, vx, vy, x, y)
					}
				}
			}
		}
	}
}

func TestViewTransformFitAndAspect(t *testing.T) {
	// 240 px × 1 mm wide, 155 px × 1.5 mm = 232.5 mm high: width limits the fit in a 480×600 viewport.
	tr := viewTransform{viewW: 480, viewH: 600, imgW: 240, imgH: 155, su: 1, sv: 1.5, zoom: 1}
	x, y, w, h := tr.imageRect()
	if w != 480 || math.Abs(h-465) > 1e-9 || x != 0 || math.Abs(y-67.5) > 1e-9 {
		t.Fatalf("fit rect = %g,%g %g×%g, want 0,67.5 480×465", x, y, w, h)
	}
	// A quarter turn swaps the millimetre extents.
	tr.rot = 1
	_, _, w, h = tr.imageRect()
	if math.Abs(w/h-232.5/240) > 1e-9 {
		t.Fatalf("rotated aspect = %g, want %g", w/h, 232.5/240)
	}
}

func TestViewTransformOrientation(t *testing.T) {
	tr := viewTransform{viewW: 100, viewH: 100, imgW: 10, imgH: 10, su: 1, sv: 1, zoom: 1}
	tests := []struct {
		rot          int
		flipH, flipV bool
		// image direction shown towards the display right (+x)
		wantX, wantY float64
	}{
		{0, false, false, 1, 0},
		{1, false, false, 0, -1}, // a clockwise turn brings the image top to the right
		{2, false, false, -1, 0},
		{3, false, false, 0, 1},
		{0, true, false, -1, 0},
		{1, true, false, 0, 1},
	}
	for _, tc := range tests {
		tr.rot, tr.flipH, tr.flipV = tc.rot, tc.flipH, tc.flipV
		x, y := tr.imageDirection(1, 0)
		if x != tc.wantX || y != tc.wantY {
			t.Errorf("rot %d flipH %v: right shows image (%g,%g), want (%g,%g)", tc.rot, tc.flipH, x, y, tc.wantX, tc.wantY)
		}
	}
}
