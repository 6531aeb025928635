package ui

import (
	"image/color"
	"math"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/theme"

	"github.com/neuronova/neuronova/viewer/measure"
)

var (
	annotationColor = color.NRGBA{R: 0xe0, G: 0xe6, B: 0xeb, A: 0xff}
	edgeColor       = color.NRGBA{R: 0xf5, G: 0x9e, B: 0x0b, A: 0xff}
	measureColor    = color.NRGBA{R: 0x2d, G: 0xd4, B: 0xbf, A: 0xff}
	selectedColor   = color.NRGBA{R: 0xfa, G: 0xcc, B: 0x15, A: 0xff}
	labelBackground = color.NRGBA{R: 0x0b, G: 0x0d, B: 0x10, A: 0xc8}
	refLineColor    = color.NRGBA{R: 0x60, G: 0xa5, B: 0xfa, A: 0xc0}
	crossColor      = color.NRGBA{R: 0xfa, G: 0xcc, B: 0x15, A: 0xd0}
	activeColor     = color.NRGBA{R: 0x2d, G: 0xd4, B: 0xbf, A: 0xff}
)

// CreateRenderer builds the viewport's canvas objects.
func (v *Viewport) CreateRenderer() fyne.WidgetRenderer { return &viewportRenderer{v: v} }

type viewportRenderer struct{ v *Viewport }

func (r *viewportRenderer) Objects() []fyne.CanvasObject {
	v := r.v
	objs := []fyne.CanvasObject{v.bg, v.img}
	objs = append(objs, v.vectors...)
	for _, b := range v.corners {
		objs = append(objs, b.objects()...)
	}
	for _, b := range v.edges {
		objs = append(objs, b.objects()...)
	}
	objs = append(objs, v.bannerLines.objects()...)
	objs = append(objs, v.scale.objects()...)
	return append(objs, v.placeholder, v.border)
}

func (r *viewportRenderer) Layout(size fyne.Size) {
	v := r.v
	v.bg.Resize(size)
	v.border.Resize(size)
	v.tr.viewW, v.tr.viewH = float64(size.Width), float64(size.Height)
	x, y, w, h := v.tr.imageRect()
	v.img.Move(fyne.NewPos(float32(x), float32(y)))
	v.img.Resize(fyne.NewSize(float32(w), float32(h)))
	pad := theme.Padding() + 1
	W, H := size.Width, size.Height
	for _, b := range v.corners {
		b.fit(W/2 - 2*pad)
	}
	v.corners[0].place(pad, pad, 0, 0)
	v.corners[1].place(W-pad, pad, 1, 0)
	v.corners[2].place(pad, H-pad, 0, 1)
	v.corners[3].place(W-pad, H-pad, 1, 1)
	v.edges[0].place(pad, H/2, 0, 0.5)
	v.edges[1].place(W-pad, H/2, 1, 0.5)
	v.edges[2].place(W/2, pad, 0.5, 0)
	v.edges[3].place(W/2, H-pad, 0.5, 1)
	// The AI banner goes under the top corners' text, across the viewport, so that it hides neither.
	v.bannerLines.setLines(wrapText(v.bannerText(), W-2*pad, theme.CaptionTextSize(), fyne.TextStyle{Bold: true}))
	top := pad + v.edges[2].size().Height
	for _, b := range v.corners[:2] {
		if _, hi, ok := b.rect(); ok {
			top = max(top, hi.Y)
		}
	}
	v.bannerLines.place(W/2, top+2, 0.5, 0)
	perMM := float32(v.tr.scale())
	v.scale.place(W/2, H-pad-v.edges[3].size().Height-4, W, perMM, v.vol != nil && v.Annotations != nil && v.Annotations.ScaleBar)
	m := v.placeholder.MinSize()
	v.placeholder.Move(fyne.NewPos((W-m.Width)/2, (H-m.Height)/2))
	r.layoutVectors()
}

// bannerText is the banner drawn: the AI result's, while its label map is drawn.
func (v *Viewport) bannerText() string {
	if v.banner.Text == "" || v.vol == nil || v.labels == nil || (v.Overlay != nil && !v.Overlay.Visible) {
		return ""
	}
	return v.banner.Text
}

// wrapText breaks s into lines no wider than width.
func wrapText(s string, width, size float32, style fyne.TextStyle) []string {
	if s == "" {
		return nil
	}
	var lines []string
	line := ""
	for _, w := range strings.Fields(s) {
		try := strings.TrimSpace(line + " " + w)
		if line != "" && fyne.MeasureText(try, size, style).Width > width {
			lines = append(lines, line)
			try = w
		}
		line = try
	}
	return append(lines, line)
}

// layoutVectors rebuilds the vector annotations for the current transform: reference lines, the crosshair,
// the measurements of the slice shown with their handles and labels.
func (r *viewportRenderer) layoutVectors() {
	v := r.v
	v.vectors = v.vectors[:0]
	if v.vol == nil {
		return
	}
	line := func(a, b fyne.Position, c color.Color, width float32) {
		l := canvas.NewLine(c)
		l.StrokeWidth = width
		l.Position1, l.Position2 = a, b
		v.vectors = append(v.vectors, l)
	}
	for _, l := range v.refLines {
		line(v.ImageToView(l.X0, l.Y0), v.ImageToView(l.X1, l.Y1), refLineColor, 1)
	}
	if v.cross != nil {
		s, x, y := v.plane.Locate(*v.cross)
		if math.Abs(s-float64(v.slice)) < 0.5 {
			b := v.plane.Bounds()
			line(v.ImageToView(0, y), v.ImageToView(float64(b.Dx()), y), crossColor, 1)
			line(v.ImageToView(x, 0), v.ImageToView(x, float64(b.Dy())), crossColor, 1)
		}
	}
	ms := v.measures
	if v.drawing != nil {
		ms = append(ms[:len(ms):len(ms)], *v.drawing)
	}
	// Labels keep clear of each other and of the corner text: top-left and bottom-right corners, in pairs.
	var placed []fyne.Position
	for _, b := range append(v.corners[:], v.bannerLines) {
		if lo, hi, ok := b.rect(); ok {
			placed = append(placed, lo, hi)
		}
	}
	for i, m := range ms {
		if !v.onSlice(m) || len(m.Points) != m.Kind.Points() {
			continue
		}
		c := color.Color(measureColor)
		if i == v.editing.m || i == v.hover.m {
			c = selectedColor
		}
		pts := make([]fyne.Position, len(m.Points))
		for k, p := range m.Points {
			pts[k] = v.ImageToView(p.X, p.Y)
		}
		r.drawShape(m, pts, c, line)
		for k, p := range pts {
			radius := float32(3)
			if (grip{i, k}) == v.hover || (grip{i, k}) == v.editing {
				radius = 5
			}
			dot := canvas.NewCircle(color.Transparent)
			dot.StrokeColor, dot.StrokeWidth = c, 1.5
			if m.Kind == measure.KindProbe {
				dot.FillColor = c
			}
			dot.Move(p.Subtract(fyne.NewPos(radius, radius)))
			dot.Resize(fyne.NewSize(2*radius, 2*radius))
			v.vectors = append(v.vectors, dot)
		}
		below, above := pts[0], pts[0]
		for _, p := range pts {
			below = fyne.NewPos(max(below.X, p.X), max(below.Y, p.Y))
			above = fyne.NewPos(min(above.X, p.X), min(above.Y, p.Y))
		}
		r.label(below.Add(fyne.NewPos(6, 6)), above.Subtract(fyne.NewPos(6, 6)), m.Text(), &placed)
	}
}

// drawShape draws a measurement's outline through its points (viewport coordinates).
func (r *viewportRenderer) drawShape(m measure.Measurement, pts []fyne.Position, c color.Color, line func(a, b fyne.Position, c color.Color, w float32)) {
	v := r.v
	switch m.Kind {
	case measure.KindLength:
		line(pts[0], pts[1], c, 2)
	case measure.KindBidirectional:
		line(pts[0], pts[1], c, 2)
		line(pts[2], pts[3], c, 2)
	case measure.KindAngle:
		line(pts[0], pts[1], c, 2)
		line(pts[1], pts[2], c, 2)
	case measure.KindEllipse:
		// A polygon through the image, so that it follows rotation, flips and the pixel aspect.
		a, b := m.Points[0], m.Points[1]
		cx, cy := (a.X+b.X)/2, (a.Y+b.Y)/2
		rx, ry := (b.X-a.X)/2, (b.Y-a.Y)/2
		const segments = 64
		prev := v.ImageToView(cx+rx, cy)
		for k := 1; k <= segments; k++ {
			t := 2 * math.Pi * float64(k) / segments
			p := v.ImageToView(cx+rx*math.Cos(t), cy+ry*math.Sin(t))
			line(prev, p, c, 2)
			prev = p
		}
	case measure.KindRectangle:
		a, b := m.Points[0], m.Points[1]
		corners := [4]fyne.Position{pts[0], v.ImageToView(b.X, a.Y), pts[1], v.ImageToView(a.X, b.Y)}
		for k := range corners {
			line(corners[k], corners[(k+1)%4], c, 2)
		}
	}
}

// label draws text on a dark box below and right of below, or, when that does not fit clear of the labels
// and corner text placed already, above and left of above; inside the view either way.
func (r *viewportRenderer) label(below, above fyne.Position, text string, placed *[]fyne.Position) {
	v := r.v
	if text == "" {
		return
	}
	size := theme.CaptionTextSize()
	var texts []*canvas.Text
	var box fyne.Size
	for _, s := range strings.Split(text, "\n") {
		t := canvas.NewText(s, annotationColor)
		t.TextSize = size
		m := t.MinSize()
		box.Width, box.Height = max(box.Width, m.Width), box.Height+m.Height
		texts = append(texts, t)
	}
	pad := float32(3)
	box = box.AddWidthHeight(2*pad+4, pad) // 4: glyphs such as × and ² measure a little narrow
	W, H := float32(v.tr.viewW), float32(v.tr.viewH)
	clamp := func(p fyne.Position) fyne.Position {
		return fyne.NewPos(max(0, min(p.X, W-box.Width)), max(0, min(p.Y, H-box.Height)))
	}
	// slide moves p down (dir 1) or up (dir -1) past every box it overlaps; ok when it ends inside the view.
	slide := func(p fyne.Position, dir float32) (fyne.Position, bool) {
		for tries := 0; tries < 16; tries++ {
			moved := false
			for k := 0; k+1 < len(*placed); k += 2 {
				a, b := (*placed)[k], (*placed)[k+1]
				if p.X < b.X && p.X+box.Width > a.X && p.Y < b.Y && p.Y+box.Height > a.Y {
					if dir > 0 {
						p.Y = b.Y + 1
					} else {
						p.Y = a.Y - box.Height - 1
					}
					moved = true
				}
			}
			if !moved {
				return p, p.Y >= 0 && p.Y+box.Height <= H
			}
		}
		return p, false
	}
	pos, ok := slide(clamp(below), 1)
	if !ok {
		up := clamp(above.Subtract(fyne.NewPos(box.Width, box.Height)))
		if p, ok := slide(up, -1); ok {
			pos = p
		}
	}
	pos = clamp(pos)
	*placed = append(*placed, pos, pos.Add(fyne.NewPos(box.Width, box.Height)))
	bg := canvas.NewRectangle(labelBackground)
	bg.CornerRadius = 2
	bg.Move(pos)
	bg.Resize(box)
	v.vectors = append(v.vectors, bg)
	y := pos.Y + pad/2
	for _, t := range texts {
		t.Move(fyne.NewPos(pos.X+pad, y))
		y += t.MinSize().Height
		v.vectors = append(v.vectors, t)
	}
}

func (r *viewportRenderer) MinSize() fyne.Size { return fyne.NewSize(128, 128) }

func (r *viewportRenderer) Refresh() {
	v := r.v
	v.placeholder.Hidden = v.vol != nil
	v.img.Hidden = v.vol == nil
	v.placeholder.Text = "Drop a series here"
	if v.vol != nil {
		ann := DefaultAnnotations
		if v.Annotations != nil {
			ann = *v.Annotations
		}
		vals := v.annotationValues()
		for i, b := range v.corners {
			b.setLines(fillTemplate(ann.Corners[i], vals))
		}
		e := v.plane.Edges()
		names := map[[2]float64]string{{-1, 0}: e.Left, {1, 0}: e.Right, {0, -1}: e.Top, {0, 1}: e.Bottom}
		for i, d := range [4][2]float64{{-1, 0}, {1, 0}, {0, -1}, {0, 1}} {
			x, y := v.tr.imageDirection(d[0], d[1])
			v.edges[i].setLines([]string{names[[2]float64{math.Round(x), math.Round(y)}]})
		}
	} else {
		for i := range v.corners {
			v.corners[i].setLines(nil)
			v.edges[i].setLines(nil)
		}
	}
	if v.lastErr != nil {
		v.placeholder.Text, v.placeholder.Hidden = v.lastErr.Error(), false
	}
	v.banner.Hidden = v.bannerText() == ""
	v.border.StrokeColor = color.Transparent
	if v.active {
		v.border.StrokeColor = activeColor
	}
	r.Layout(v.Size())
	for _, o := range r.Objects() {
		o.Refresh()
	}
}

func (r *viewportRenderer) Destroy() {}

// CornerText returns what corner i (0 top left … 3 bottom right) says, a line each.
func (v *Viewport) CornerText(i int) string { return v.corners[i].text() }
