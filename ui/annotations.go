package ui

import (
	"fmt"
	"image/color"
	"math"
	"regexp"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/theme"

	"github.com/neuronova/neuronova/viewer"
)

// Annotations say what the viewports write in their four corners and whether they draw a scale bar. Each
// corner is a template: lines of text with {field} placeholders (see AnnotationFields); a line whose fields
// are all empty is left out. A reading area's viewports share one.
type Annotations struct {
	Corners  [4]string // top left, top right, bottom left, bottom right
	ScaleBar bool
}

// DefaultAnnotations are the corners of Weasis and OHIF: who (top left), which study (top right), which
// image (bottom left), how it is shown (bottom right).
var DefaultAnnotations = Annotations{
	Corners: [4]string{
		"{name}\n{id}\n{sex_age}  {birth}",
		"{institution}\n{study_date} {study_time}\n{accession}\n{study}",
		"{series}\n{image}  {location}\n{thickness}  {plane}",
		"{window}\n{zoom}",
	},
	ScaleBar: true,
}

// AnnotationFields are the placeholders of the corner templates and what they stand for.
var AnnotationFields = []struct{ Name, Means string }{
	{"name", "patient name, as a person reads it (DOE, JANE)"},
	{"id", "patient ID"},
	{"sex_age", "sex and age at the study date (F 54 y)"},
	{"birth", "date of birth"},
	{"institution", "institution"},
	{"study_date", "study date (2024-01-31)"},
	{"study_time", "study time (09:30)"},
	{"accession", "accession number"},
	{"study", "study description"},
	{"series", "sequence and series description (T1CE  AX T1 POST GD)"},
	{"series_number", "series number (Se 3)"},
	{"image", "image number in the plane (Im 78/155)"},
	{"location", "slice position along the plane's normal (Loc 12.5 mm)"},
	{"thickness", "slice thickness (Th 1.0 mm)"},
	{"plane", "axial, coronal or sagittal"},
	{"window", "window width and level (W 824 L 468), inv when inverted"},
	{"zoom", "zoom (Zoom 125%)"},
}

var fieldPattern = regexp.MustCompile(`\{([a-z_]+)\}`)

// fillTemplate writes a corner template with values: lines whose placeholders are all empty are left out,
// unknown placeholders stay as written.
func fillTemplate(tpl string, values map[string]string) []string {
	var out []string
	for _, line := range strings.Split(tpl, "\n") {
		found, filled := 0, 0
		s := fieldPattern.ReplaceAllStringFunc(line, func(m string) string {
			v, ok := values[m[1:len(m)-1]]
			if !ok {
				return m
			}
			found++
			if v != "" {
				filled++
			}
			return v
		})
		if found > 0 && filled == 0 {
			continue
		}
		if s = strings.Join(strings.Fields(s), " "); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// annotationValues are the corner fields of what v shows.
func (v *Viewport) annotationValues() map[string]string {
	vals := map[string]string{}
	for _, f := range AnnotationFields {
		vals[f.Name] = "" // known but empty: its line is left out
	}
	if st := v.study; st != nil {
		vals["name"] = viewer.PersonName(st.PatientName)
		vals["id"] = st.PatientID
		vals["sex_age"] = st.SexAge()
		if st.PatientBirthDate != "" {
			vals["birth"] = "DOB " + viewer.FormatDate(st.PatientBirthDate)
		}
		vals["institution"] = st.Institution
		vals["study_date"] = viewer.FormatDate(st.StudyDate)
		vals["study_time"] = viewer.FormatTime(st.StudyTime)
		if st.AccessionNumber != "" {
			vals["accession"] = "Acc " + st.AccessionNumber
		}
		vals["study"] = st.Description
	}
	if se := v.series; se != nil {
		vals["series"] = strings.TrimSpace(string(se.Type) + "  " + se.Description)
		if se.Number != 0 {
			vals["series_number"] = fmt.Sprintf("Se %d", se.Number)
		}
	}
	if v.vol == nil {
		return vals
	}
	vals["image"] = fmt.Sprintf("Im %d/%d", v.slice+1, v.plane.Slices())
	b := v.plane.Bounds()
	n := v.plane.Patient(float64(v.slice)+1, 0, 0).Sub(v.plane.Patient(float64(v.slice), 0, 0)).Unit()
	loc := v.plane.Patient(float64(v.slice), float64(b.Dx())/2, float64(b.Dy())/2).Dot(n)
	vals["location"] = fmt.Sprintf("Loc %.1f mm", loc)
	thick := v.plane.SliceSpacing()
	if _, native := v.plane.SourceSlice(v.slice); native && v.vol.Thickness > 0 {
		thick = v.vol.Thickness
	}
	vals["thickness"] = fmt.Sprintf("Th %.1f mm", thick)
	vals["plane"] = v.plane.Orientation().String()
	vals["window"] = fmt.Sprintf("W %.0f L %.0f", v.window.Width, v.window.Center)
	if v.invert {
		vals["window"] += " inv"
	}
	vals["zoom"] = fmt.Sprintf("Zoom %.0f%%", 100*v.tr.zoom)
	return vals
}

// haloColor outlines text drawn over images, so that it reads on bright and dark pixels alike.
var haloColor = color.NRGBA{A: 0xe0}

// textBlock is lines of outlined text: each line drawn four times in haloColor, a pixel off diagonally,
// then once in its colour.
type textBlock struct {
	color color.Color
	bold  bool
	full  []string // the lines as set, before fit shortened them
	lines []*canvas.Text
	halos []*canvas.Text
}

func newTextBlock(c color.Color) *textBlock { return &textBlock{color: c} }

// setLines shows lines, reusing the canvas texts it has.
func (b *textBlock) setLines(lines []string) {
	for len(b.lines) < len(lines) {
		t := canvas.NewText("", b.color)
		t.TextSize, t.TextStyle.Bold = theme.CaptionTextSize(), b.bold
		b.lines = append(b.lines, t)
		for range 4 {
			h := canvas.NewText("", haloColor)
			h.TextSize, h.TextStyle.Bold = t.TextSize, b.bold
			b.halos = append(b.halos, h)
		}
	}
	b.full = append(b.full[:0], lines...)
	for i, t := range b.lines {
		t.Hidden = i >= len(lines)
		if !t.Hidden {
			t.Text, t.Color = lines[i], b.color
		}
		for k := range 4 {
			h := b.halos[4*i+k]
			h.Text, h.Hidden = t.Text, t.Hidden
		}
	}
}

// text returns the lines shown, joined by newlines.
func (b *textBlock) text() string {
	var s []string
	for _, t := range b.lines {
		if !t.Hidden {
			s = append(s, t.Text)
		}
	}
	return strings.Join(s, "\n")
}

func (b *textBlock) objects() []fyne.CanvasObject {
	objs := make([]fyne.CanvasObject, 0, len(b.halos)+len(b.lines))
	for _, h := range b.halos {
		objs = append(objs, h)
	}
	for _, t := range b.lines {
		objs = append(objs, t)
	}
	return objs
}

// rect returns the block's top-left and bottom-right corners as laid out, or false when it shows nothing.
func (b *textBlock) rect() (fyne.Position, fyne.Position, bool) {
	var lo, hi fyne.Position
	found := false
	for _, t := range b.lines {
		if t.Hidden {
			continue
		}
		p, s := t.Position(), t.MinSize()
		if !found {
			lo, hi, found = p, p.Add(fyne.NewPos(s.Width, s.Height)), true
			continue
		}
		lo = fyne.NewPos(min(lo.X, p.X), min(lo.Y, p.Y))
		hi = fyne.NewPos(max(hi.X, p.X+s.Width), max(hi.Y, p.Y+s.Height))
	}
	return lo, hi, found
}

// size is the block's extent.
func (b *textBlock) size() fyne.Size {
	var s fyne.Size
	for _, t := range b.lines {
		if t.Hidden {
			continue
		}
		m := t.MinSize()
		s.Width = max(s.Width, m.Width)
		s.Height += m.Height
	}
	return s
}

// fit shortens the lines wider than width, with an ellipsis.
func (b *textBlock) fit(width float32) {
	for i, t := range b.lines {
		if t.Hidden {
			continue
		}
		t.Text = b.full[i]
		for k := range 4 {
			b.halos[4*i+k].Text = t.Text
		}
		if t.MinSize().Width <= width {
			continue
		}
		r := []rune(t.Text)
		for len(r) > 1 && fyne.MeasureText(string(r)+"…", t.TextSize, t.TextStyle).Width > width {
			r = r[:len(r)-1]
		}
		t.Text = string(r) + "…"
		for k := range 4 {
			b.halos[4*i+k].Text = t.Text
		}
	}
}

// place lays the block out with its anchor at (x, y): fx and fy (0, 0.5 or 1) say where the anchor lies on
// the block (0: left or top edge, 1: right or bottom), and each line is aligned within the block by fx.
func (b *textBlock) place(x, y, fx, fy float32) {
	s := b.size()
	top := y - fy*s.Height
	for i, t := range b.lines {
		if t.Hidden {
			continue
		}
		m := t.MinSize()
		p := fyne.NewPos(x-fx*m.Width, top)
		t.Move(p)
		t.Resize(m)
		for k, d := range [4][2]float32{{-1, -1}, {1, -1}, {-1, 1}, {1, 1}} {
			h := b.halos[4*i+k]
			h.Move(p.Add(fyne.NewPos(d[0], d[1])))
			h.Resize(m)
		}
		top += m.Height
	}
}

// scaleBar is a horizontal bar of a round length in millimetres, outlined like the corner text.
type scaleBar struct {
	shadow, bar   *canvas.Line
	ticks, shades [2]*canvas.Line
	label         *textBlock
}

func newScaleBar() *scaleBar {
	s := &scaleBar{label: newTextBlock(annotationColor)}
	line := func(c color.Color, w float32) *canvas.Line {
		l := canvas.NewLine(c)
		l.StrokeWidth = w
		return l
	}
	s.shadow, s.bar = line(haloColor, 4), line(annotationColor, 2)
	for i := range s.ticks {
		s.shades[i], s.ticks[i] = line(haloColor, 4), line(annotationColor, 2)
	}
	return s
}

func (s *scaleBar) objects() []fyne.CanvasObject {
	objs := []fyne.CanvasObject{s.shadow, s.shades[0], s.shades[1], s.bar, s.ticks[0], s.ticks[1]}
	return append(objs, s.label.objects()...)
}

// barLength is the longest of 1, 2, 5, 10, 20, 50 … mm that spans at most a quarter of width units at
// perMM units per millimetre; 0 when even 1 mm is too long.
func barLength(width, perMM float64) float64 {
	best := 0.0
	for e := 0.0; e < 5; e++ {
		for _, m := range []float64{1, 2, 5} {
			mm := m * math.Pow(10, e)
			if mm*perMM <= width/4 {
				best = mm
			}
		}
	}
	return best
}

// place draws the bar centred on x with its baseline at y, for perMM units per millimetre within a view of
// width units; hidden when no round length fits.
func (s *scaleBar) place(x, y, width, perMM float32, visible bool) {
	mm := barLength(float64(width), float64(perMM))
	visible = visible && mm > 0 && perMM > 0
	for _, o := range s.objects() {
		o.Hide()
	}
	if !visible {
		s.label.setLines(nil)
		return
	}
	length := float32(mm) * perMM
	x0, x1 := x-length/2, x+length/2
	set := func(l *canvas.Line, a, b fyne.Position) {
		l.Position1, l.Position2 = a, b
		l.Show()
	}
	for _, l := range []*canvas.Line{s.shadow, s.bar} {
		set(l, fyne.NewPos(x0, y), fyne.NewPos(x1, y))
	}
	for i, tx := range []float32{x0, x1} {
		set(s.shades[i], fyne.NewPos(tx, y-5), fyne.NewPos(tx, y+1))
		set(s.ticks[i], fyne.NewPos(tx, y-5), fyne.NewPos(tx, y+1))
	}
	label := fmt.Sprintf("%g mm", mm)
	if mm >= 10 {
		label = fmt.Sprintf("%g cm", mm/10)
	}
	s.label.setLines([]string{label})
	s.label.place(x, y-6, 0.5, 1)
}
