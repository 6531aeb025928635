package ui

import "math"

// viewTransform places a plane image in a viewport: fitted to the viewport with the image's true aspect
// (from its pixel spacing), then zoomed about the viewport centre, panned, rotated by quarter turns
// clockwise and flipped. It maps between viewport points (Fyne units, origin top-left) and continuous image
// coordinates (pixel centres at +0.5), the coordinates viewer/render works in.
type viewTransform struct {
	viewW, viewH float64 // viewport size
	imgW, imgH   int     // plane image size in pixels
	su, sv       float64 // mm per image pixel along x and y
	zoom         float64 // 1 fits the image to the viewport
	panX, panY   float64 // offset of the image centre from the viewport centre
	rot          int     // clockwise quarter turns, 0…3
	flipH, flipV bool    // mirror after rotating: left↔right, top↔bottom
}

// displayMM is the size of the rotated image in millimetres.
func (t viewTransform) displayMM() (w, h float64) {
	w, h = float64(t.imgW)*t.su, float64(t.imgH)*t.sv
	if t.rot%2 == 1 {
		w, h = h, w
	}
	return w, h
}

// scale is viewport units per millimetre.
func (t viewTransform) scale() float64 {
	w, h := t.displayMM()
	if w <= 0 || h <= 0 || t.viewW <= 0 || t.viewH <= 0 {
		return 0
	}
	return math.Min(t.viewW/w, t.viewH/h) * t.zoom
}

// imageRect is where the rotated image is drawn: top-left corner and size in viewport units.
func (t viewTransform) imageRect() (x, y, w, h float64) {
	s := t.scale()
	mw, mh := t.displayMM()
	w, h = mw*s, mh*s
	return t.viewW/2 + t.panX - w/2, t.viewH/2 + t.panY - h/2, w, h
}

// rotate turns a display-frame vector by n clockwise quarter turns (screen y points down).
func rotate(x, y float64, n int) (float64, float64) {
	for ; n > 0; n-- {
		x, y = -y, x
	}
	return x, y
}

// toImage maps a viewport point to image coordinates.
func (t viewTransform) toImage(px, py float64) (x, y float64) {
	s := t.scale()
	if s == 0 {
		return math.NaN(), math.NaN()
	}
	dx, dy := (px-t.viewW/2-t.panX)/s, (py-t.viewH/2-t.panY)/s
	if t.flipH {
		dx = -dx
	}
	if t.flipV {
		dy = -dy
	}
	dx, dy = rotate(dx, dy, (4-t.rot%4)%4)
	return float64(t.imgW)/2 + dx/t.su, float64(t.imgH)/2 + dy/t.sv
}

// toView maps image coordinates to a viewport point.
func (t viewTransform) toView(x, y float64) (px, py float64) {
	s := t.scale()
	dx, dy := (x-float64(t.imgW)/2)*t.su, (y-float64(t.imgH)/2)*t.sv
	dx, dy = rotate(dx, dy, t.rot%4)
	if t.flipH {
		dx = -dx
	}
	if t.flipV {
		dy = -dy
	}
	return t.viewW/2 + t.panX + dx*s, t.viewH/2 + t.panY + dy*s
}

// imageDirection returns which image direction (+x, −x, +y or −y, as a unit step) appears towards the
// display direction (dx, dy) (one of the four unit steps), for edge labels.
func (t viewTransform) imageDirection(dx, dy float64) (x, y float64) {
	if t.flipH {
		dx = -dx
	}
	if t.flipV {
		dy = -dy
	}
	return rotate(dx, dy, (4-t.rot%4)%4)
}
