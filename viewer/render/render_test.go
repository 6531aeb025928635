package render

import (
	"errors"
	"image"
	"image/color"
	"math"
	"sync"
	"testing"

	"github.com/neuronova/neuronova/viewer"
)

func mustLUT(t testing.TB, w viewer.Window, invert bool) *LUT {
	t.Helper()
	l, err := NewLUT(w, invert)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// identityWindow maps the integers 0 … 255 to themselves.
var identityWindow = viewer.Window{Center: 128, Width: 256}

func TestExtract(t *testing.T) {
	for _, ac := range acquisitions {
		g := smallGrid.geometry(ac.acq)
		v := smallGrid.fill(g, uniqueValue(smallGrid.size))
		rgb := &viewer.Volume{Geometry: g, Samples: 3, Data: make([]float32, 3*g.Len())}
		for i := range rgb.Data {
			rgb.Data[i] = float32(i)
		}
		for o := Axial; o <= Sagittal; o++ {
			p := mustPlane(t, g, o)
			w, h := p.Bounds().Dx(), p.Bounds().Dy()
			grey := make([]float32, w*h)
			colour := make([]float32, 3*w*h)
			for slice := 0; slice < p.Slices(); slice++ {
				if err := p.Extract(grey, v, slice); err != nil {
					t.Fatal(err)
				}
				if err := p.Extract(colour, rgb, slice); err != nil {
					t.Fatal(err)
				}
				for y := 0; y < h; y++ {
					for x := 0; x < w; x++ {
						ijk, _ := p.Voxel(slice, x, y)
						if grey[y*w+x] != v.At(ijk[0], ijk[1], ijk[2]) {
							t.Fatalf("%s %s slice %d (%d, %d): %g, want voxel %v = %g",
								ac.name, o, slice, x, y, grey[y*w+x], ijk, v.At(ijk[0], ijk[1], ijk[2]))
						}
						at := 3 * g.Index(ijk[0], ijk[1], ijk[2])
						for c := 0; c < 3; c++ {
							if colour[3*(y*w+x)+c] != rgb.Data[at+c] {
								t.Fatalf("%s %s slice %d (%d, %d) channel %d: %g, want %g",
									ac.name, o, slice, x, y, c, colour[3*(y*w+x)+c], rgb.Data[at+c])
							}
						}
					}
				}
			}
			if err := p.Extract(grey[:w*h-1], v, 0); !errors.Is(err, ErrImageSize) {
				t.Errorf("Extract into a short buffer: %v, want ErrImageSize", err)
			}
		}
	}
}

// TestSameContentSameImage renders one patient phantom acquired five ways: every plane image must be
// identical, since planes are patient planes.
func TestSameContentSameImage(t *testing.T) {
	lut := mustLUT(t, viewer.Window{Center: 800, Width: 1400}, false)
	f := headPhantom(goldenGrid, 1)
	want := map[Orientation]*image.Gray{}
	for _, ac := range acquisitions {
		g := goldenGrid.geometry(ac.acq)
		v := goldenGrid.fill(g, f)
		for o := Axial; o <= Sagittal; o++ {
			p := mustPlane(t, g, o)
			img := image.NewGray(p.Bounds())
			if err := p.RenderGray(img, v, p.Slices()/2, lut); err != nil {
				t.Fatal(err)
			}
			if want[o] == nil {
				want[o] = img
				continue
			}
			if !sameImage(img, want[o]) {
				t.Errorf("%s %s: image differs from the identity acquisition's", ac.name, o)
			}
		}
	}
}

func TestRenderGray(t *testing.T) {
	g := smallGrid.geometry(acqSagittal)
	v := smallGrid.fill(g, uniqueValue(smallGrid.size))
	v.Data[3] = float32(math.NaN())
	for _, invert := range []bool{false, true} {
		lut := mustLUT(t, viewer.Window{Center: 60, Width: 100}, invert)
		for o := Axial; o <= Sagittal; o++ {
			p := mustPlane(t, g, o)
			// An image whose bounds do not start at (0, 0) and whose stride is wider than a row.
			parent := image.NewGray(image.Rect(-3, 2, p.Bounds().Dx()+5, p.Bounds().Dy()+4))
			img := parent.SubImage(image.Rect(-2, 3, p.Bounds().Dx()-2, p.Bounds().Dy()+3)).(*image.Gray)
			for slice := 0; slice < p.Slices(); slice++ {
				if err := p.RenderGray(img, v, slice, lut); err != nil {
					t.Fatal(err)
				}
				for y := 0; y < p.Bounds().Dy(); y++ {
					for x := 0; x < p.Bounds().Dx(); x++ {
						ijk, _ := p.Voxel(slice, x, y)
						got := img.GrayAt(img.Rect.Min.X+x, img.Rect.Min.Y+y).Y
						want := expectedGrey(v.At(ijk[0], ijk[1], ijk[2]), lut.Window(), invert)
						if got != want {
							t.Fatalf("%s slice %d (%d, %d) invert %v: %d, want %d", o, slice, x, y, invert, got, want)
						}
					}
				}
			}
		}
	}
}

func TestRenderErrors(t *testing.T) {
	g := smallGrid.geometry(acqIdentity)
	v := viewer.NewVolume(g)
	p := mustPlane(t, g, Axial)
	lut := mustLUT(t, identityWindow, false)
	rgb := &viewer.Volume{Geometry: g, Samples: 3, Data: make([]float32, 3*g.Len())}
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"grey image too small", p.RenderGray(image.NewGray(image.Rect(0, 0, 5, 5)), v, 0, lut), ErrImageSize},
		{"RGBA image too large", p.RenderRGBA(image.NewRGBA(image.Rect(0, 0, 7, 5)), v, 0, lut, nil), ErrImageSize},
		{"RGB volume into grey", p.RenderGray(image.NewGray(p.Bounds()), rgb, 0, lut), ErrSamples},
		{"negative slice", p.RenderGray(image.NewGray(p.Bounds()), v, -1, lut), ErrSliceRange},
		{"slice past the end", p.RenderRGBA(image.NewRGBA(p.Bounds()), v, p.Slices(), lut, nil), ErrSliceRange},
		{"volume on another grid", p.RenderGray(image.NewGray(p.Bounds()), viewer.NewVolume(smallGrid.geometry(acqFlipped)), 0, lut), ErrGridMismatch},
	}
	for _, tc := range tests {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: error %v, want %v", tc.name, tc.err, tc.want)
		}
	}
	if err := p.RenderGray(image.NewGray(p.Bounds()), v, 0, nil); err == nil {
		t.Error("RenderGray accepted a nil LUT")
	}
	short := viewer.NewVolume(g)
	short.Data = short.Data[:10]
	if err := p.RenderGray(image.NewGray(p.Bounds()), short, 0, lut); err == nil {
		t.Error("RenderGray accepted a volume with too few values")
	}
}

func TestRenderRGBAColour(t *testing.T) {
	g := smallGrid.geometry(acqCoronal)
	rgb := &viewer.Volume{Geometry: g, Samples: 3, Data: make([]float32, 3*g.Len())}
	for i := range rgb.Data {
		rgb.Data[i] = float32(i % 256)
	}
	grey := smallGrid.fill(g, uniqueValue(smallGrid.size))
	lut := mustLUT(t, identityWindow, false)
	p := mustPlane(t, g, Sagittal)
	img := image.NewRGBA(p.Bounds())
	if err := p.RenderRGBA(img, rgb, 2, lut, nil); err != nil {
		t.Fatal(err)
	}
	for y := 0; y < p.Bounds().Dy(); y++ {
		for x := 0; x < p.Bounds().Dx(); x++ {
			ijk, _ := p.Voxel(2, x, y)
			at := 3 * g.Index(ijk[0], ijk[1], ijk[2])
			want := color.RGBA{uint8(rgb.Data[at]), uint8(rgb.Data[at+1]), uint8(rgb.Data[at+2]), 255}
			if got := img.RGBAAt(x, y); got != want {
				t.Fatalf("RGB (%d, %d): %v, want %v", x, y, got, want)
			}
		}
	}
	if err := p.RenderRGBA(img, grey, 2, lut, nil); err != nil {
		t.Fatal(err)
	}
	for y := 0; y < p.Bounds().Dy(); y++ {
		for x := 0; x < p.Bounds().Dx(); x++ {
			ijk, _ := p.Voxel(2, x, y)
			gv := lut.Value(grey.At(ijk[0], ijk[1], ijk[2]))
			if got := img.RGBAAt(x, y); got != (color.RGBA{gv, gv, gv, 255}) {
				t.Fatalf("grey (%d, %d): %v, want grey %d", x, y, got, gv)
			}
		}
	}
}

// blendWant is the overlay formula, computed independently in floating point.
func blendWant(base uint8, c color.NRGBA, opacity float64) color.RGBA {
	a := math.Round(opacity * float64(c.A))
	mix := func(ch uint8) uint8 {
		return uint8(math.Round((float64(base)*(255-a) + float64(ch)*a) / 255))
	}
	return color.RGBA{mix(c.R), mix(c.G), mix(c.B), 255}
}

func TestOverlayColourOpacityVisibility(t *testing.T) {
	g := smallGrid.geometry(acqIdentity)
	const base = 100
	v := smallGrid.fill(g, func([3]int) float32 { return base })
	m := viewer.NewLabelMap(g)
	p := mustPlane(t, g, Axial)
	const slice = 1
	put := func(x, y int, l uint8) {
		ijk, _ := p.Voxel(slice, x, y)
		m.Data[g.Index(ijk[0], ijk[1], ijk[2])] = l
	}
	put(0, 0, viewer.LabelNCR)
	put(1, 0, viewer.LabelED)
	put(2, 0, viewer.LabelET)
	put(3, 0, 9) // no Label describes 9
	m.Labels = append([]viewer.Label{}, viewer.TumourLabels...)
	m.Labels[1].Color.A = 128 // a translucent oedema colour
	colourOf := func(l uint8) color.NRGBA {
		if d, ok := m.Label(l); ok {
			return d.Color
		}
		return UndescribedLabelColor
	}
	lut := mustLUT(t, identityWindow, false)
	img := image.NewRGBA(p.Bounds())
	for _, opacity := range []float64{0, 0.25, 0.5, 1} {
		for _, hide := range []uint8{0, viewer.LabelED} {
			ov := &Overlay{Map: m, Opacity: opacity}
			ov.Hidden[hide] = hide != 0
			if err := p.RenderRGBA(img, v, slice, lut, ov); err != nil {
				t.Fatal(err)
			}
			for y := 0; y < p.Bounds().Dy(); y++ {
				for x := 0; x < p.Bounds().Dx(); x++ {
					ijk, _ := p.Voxel(slice, x, y)
					l := m.Data[g.Index(ijk[0], ijk[1], ijk[2])]
					want := color.RGBA{base, base, base, 255}
					if l != 0 && !ov.Hidden[l] {
						want = blendWant(base, colourOf(l), opacity)
					}
					if got := img.RGBAAt(x, y); got != want {
						t.Errorf("opacity %g, hidden %d: (%d, %d) label %d = %v, want %v", opacity, hide, x, y, l, got, want)
					}
				}
			}
		}
	}
	// Opacity 1 with an opaque colour is the colour itself.
	if err := p.RenderRGBA(img, v, slice, lut, &Overlay{Map: m, Opacity: 1}); err != nil {
		t.Fatal(err)
	}
	if got, c := img.RGBAAt(0, 0), viewer.TumourLabels[0].Color; got != (color.RGBA{c.R, c.G, c.B, 255}) {
		t.Errorf("opaque NCR pixel %v, want %v", got, c)
	}
}

func TestOverlayOutline(t *testing.T) {
	g := smallGrid.geometry(acqIdentity)
	v := smallGrid.fill(g, func([3]int) float32 { return 50 })
	p := mustPlane(t, g, Axial)
	const slice = 2
	m := viewer.NewLabelMap(g)
	// A 3 × 3 block of oedema at pixels (1…3, 1…3) and a column of core along the right image edge.
	inBlock := func(x, y int) bool { return x >= 1 && x <= 3 && y >= 1 && y <= 3 }
	for y := 0; y < p.Bounds().Dy(); y++ {
		for x := 0; x < p.Bounds().Dx(); x++ {
			ijk, _ := p.Voxel(slice, x, y)
			switch {
			case inBlock(x, y):
				m.Data[g.Index(ijk[0], ijk[1], ijk[2])] = viewer.LabelED
			case x == p.Bounds().Dx()-1:
				m.Data[g.Index(ijk[0], ijk[1], ijk[2])] = viewer.LabelNCR
			}
		}
	}
	img := image.NewRGBA(p.Bounds())
	lut := mustLUT(t, identityWindow, false)
	if err := p.RenderRGBA(img, v, slice, lut, &Overlay{Map: m, Opacity: 1, Outline: true}); err != nil {
		t.Fatal(err)
	}
	grey := color.RGBA{50, 50, 50, 255}
	ed, ncr := viewer.TumourLabels[1].Color, viewer.TumourLabels[0].Color
	for y := 0; y < p.Bounds().Dy(); y++ {
		for x := 0; x < p.Bounds().Dx(); x++ {
			want := grey
			switch {
			case inBlock(x, y) && !(x == 2 && y == 2): // the block's centre is interior
				want = color.RGBA{ed.R, ed.G, ed.B, 255}
			case x == p.Bounds().Dx()-1: // every pixel on the image edge is a boundary
				want = color.RGBA{ncr.R, ncr.G, ncr.B, 255}
			}
			if got := img.RGBAAt(x, y); got != want {
				t.Errorf("outline (%d, %d) = %v, want %v", x, y, got, want)
			}
		}
	}
}

func TestOverlayErrors(t *testing.T) {
	g := smallGrid.geometry(acqIdentity)
	v := viewer.NewVolume(g)
	p := mustPlane(t, g, Axial)
	img := image.NewRGBA(p.Bounds())
	lut := mustLUT(t, identityWindow, false)
	m := viewer.NewLabelMap(g)
	tests := []struct {
		name string
		ov   *Overlay
		want error
	}{
		{"no map", &Overlay{Opacity: 0.5}, ErrOverlay},
		{"opacity above 1", &Overlay{Map: m, Opacity: 1.5}, ErrOverlay},
		{"negative opacity", &Overlay{Map: m, Opacity: -0.1}, ErrOverlay},
		{"NaN opacity", &Overlay{Map: m, Opacity: math.NaN()}, ErrOverlay},
		{"short map", &Overlay{Map: &viewer.LabelMap{Geometry: g, Data: m.Data[:5]}, Opacity: 0.5}, ErrOverlay},
		{"map on another grid", &Overlay{Map: viewer.NewLabelMap(smallGrid.geometry(acqSagittal)), Opacity: 0.5}, ErrGridMismatch},
	}
	for _, tc := range tests {
		if err := p.RenderRGBA(img, v, 0, lut, tc.ov); !errors.Is(err, tc.want) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.want)
		}
	}
	// A map shifted by a fraction of a voxel (well under the 1 % tolerance) is the same grid.
	near := viewer.NewLabelMap(g)
	near.Origin = near.Origin.Add(viewer.Vec3{0.001, 0, 0})
	if err := p.RenderRGBA(img, v, 0, lut, &Overlay{Map: near, Opacity: 0.5}); err != nil {
		t.Errorf("map 0.001 mm off: %v", err)
	}
}

func TestRenderDoesNotAllocate(t *testing.T) {
	g := goldenGrid.geometry(acqSagittal)
	v := goldenGrid.fill(g, headPhantom(goldenGrid, 1))
	ov := &Overlay{Map: goldenGrid.labels(g, tumourLabels(goldenGrid)), Opacity: 0.5, Outline: true}
	lut := mustLUT(t, viewer.Window{Center: 800, Width: 1400}, false)
	p, p2 := mustPlane(t, g, Coronal), mustPlane(t, g, Axial)
	grey, rgba, buf := image.NewGray(p.Bounds()), image.NewRGBA(p.Bounds()), make([]float32, p.Bounds().Dx()*p.Bounds().Dy())
	allocs := testing.AllocsPerRun(20, func() {
		if p.RenderGray(grey, v, 3, lut) != nil || p.RenderRGBA(rgba, v, 3, lut, ov) != nil || p.Extract(buf, v, 3) != nil {
			t.Fatal("render failed")
		}
		if _, err := p.Pick(v, 3, 1.5, 2.5); err != nil {
			t.Fatal(err)
		}
		if _, ok := p.ReferenceLine(3, p2, 4); !ok {
			t.Fatal("no reference line")
		}
		if p.Edges().Top != "S" {
			t.Fatal("wrong edge label")
		}
	})
	if allocs != 0 {
		t.Errorf("render, extract, pick, reference line and edges allocate %g times per call", allocs)
	}
}

func sameImage(a, b image.Image) bool {
	if a.Bounds().Size() != b.Bounds().Size() {
		return false
	}
	ra, rb := a.Bounds(), b.Bounds()
	for y := 0; y < ra.Dy(); y++ {
		for x := 0; x < ra.Dx(); x++ {
			if color.NRGBAModel.Convert(a.At(ra.Min.X+x, ra.Min.Y+y)) != color.NRGBAModel.Convert(b.At(rb.Min.X+x, rb.Min.Y+y)) {
				return false
			}
		}
	}
	return true
}

// Benchmarks. The volumes are built once and shared.

var (
	benchOnce     sync.Once
	brainGrid     = patientGrid{size: [3]int{240, 240, 155}, spacing: viewer.Vec3{1, 1, 1}}
	brain         *viewer.Volume
	brainMask     *viewer.LabelMap
	sliceGrid     = patientGrid{size: [3]int{512, 512, 2}, spacing: viewer.Vec3{0.45, 0.45, 5}}
	slice512      *viewer.Volume // whole-number values
	slice512Float *viewer.Volume
	benchLUT      *LUT
	benchPlane    map[Orientation]Plane
)

func benchData(b *testing.B) {
	benchOnce.Do(func() {
		g := brainGrid.geometry(acqIdentity)
		head := headPhantom(brainGrid, 2)
		brain = brainGrid.fill(g, func(idx [3]int) float32 { // whole numbers, like BraTS and DICOM voxels
			return float32(math.Round(float64(head(idx))))
		})
		brainMask = brainGrid.labels(g, tumourLabels(brainGrid))
		slice512Float = sliceGrid.fill(sliceGrid.geometry(acqIdentity), headPhantom(sliceGrid, 3))
		slice512 = &viewer.Volume{Geometry: slice512Float.Geometry, Samples: 1, Data: make([]float32, len(slice512Float.Data))}
		for i, x := range slice512Float.Data {
			slice512.Data[i] = float32(math.Round(float64(x)))
		}
		benchLUT = mustLUT(b, brain.AutoWindow(), false)
		benchPlane = map[Orientation]Plane{}
		for o := Axial; o <= Sagittal; o++ {
			benchPlane[o] = mustPlane(b, g, o)
		}
	})
}

// BenchmarkWindowLevel512 renders one 512 × 512 MR slice (air, head, noise; whole-number values, as
// MR and CT voxels are) through its auto-window. Target: under 0.5 ms.
func BenchmarkWindowLevel512(b *testing.B) {
	benchData(b)
	benchWindowLevel(b, slice512)
}

// BenchmarkWindowLevel512Float is the same slice with fractional values (resampled or normalised data),
// which take the binned path.
func BenchmarkWindowLevel512Float(b *testing.B) {
	benchData(b)
	benchWindowLevel(b, slice512Float)
}

func benchWindowLevel(b *testing.B, v *viewer.Volume) {
	p := mustPlane(b, v.Geometry, Axial)
	lut := mustLUT(b, v.AutoWindow(), false)
	img := image.NewGray(p.Bounds())
	b.ResetTimer()
	for b.Loop() {
		if err := p.RenderGray(img, v, 0, lut); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWindowLevel512Noise is the worst case: fractional values, every pixel independent, 2/7 of them
// below the window and the rest uniform across it and above.
func BenchmarkWindowLevel512Noise(b *testing.B) {
	src := mrSlice(512 * 512)
	dst := make([]uint8, len(src))
	lut := mustLUT(b, viewer.Window{Center: 800, Width: 1000}, false)
	for b.Loop() {
		lut.Apply(dst, src)
	}
}

func benchReslice(b *testing.B, o Orientation) {
	benchData(b)
	p := benchPlane[o]
	buf := make([]float32, p.Bounds().Dx()*p.Bounds().Dy())
	b.ResetTimer()
	for b.Loop() {
		if err := p.Extract(buf, brain, p.Slices()/2); err != nil {
			b.Fatal(err)
		}
	}
}

// Target for the coronal reslice: under 2 ms.
func BenchmarkResliceAxial240x240x155(b *testing.B)    { benchReslice(b, Axial) }
func BenchmarkResliceCoronal240x240x155(b *testing.B)  { benchReslice(b, Coronal) }
func BenchmarkResliceSagittal240x240x155(b *testing.B) { benchReslice(b, Sagittal) }

func benchRender(b *testing.B, o Orientation, ov *Overlay) {
	benchData(b)
	p := benchPlane[o]
	img := image.NewRGBA(p.Bounds())
	b.ResetTimer()
	for b.Loop() {
		if err := p.RenderRGBA(img, brain, p.Slices()/2, benchLUT, ov); err != nil {
			b.Fatal(err)
		}
	}
}

// The display path: reslice, window and RGBA in one pass.
func BenchmarkRenderRGBAAxial240(b *testing.B)    { benchRender(b, Axial, nil) }
func BenchmarkRenderRGBACoronal240(b *testing.B)  { benchRender(b, Coronal, nil) }
func BenchmarkRenderRGBASagittal240(b *testing.B) { benchRender(b, Sagittal, nil) }

func BenchmarkOverlayAxial240(b *testing.B) {
	benchData(b)
	benchRender(b, Axial, &Overlay{Map: brainMask, Opacity: 0.4})
}

func BenchmarkOverlayOutlineAxial240(b *testing.B) {
	benchData(b)
	benchRender(b, Axial, &Overlay{Map: brainMask, Opacity: 1, Outline: true})
}
