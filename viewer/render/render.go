package render

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
	"runtime"
	"sync"

	"github.com/neuronova/neuronova/viewer"
)

var (
	// ErrImageSize reports a destination image or buffer whose size does not match the plane.
	ErrImageSize = errors.New("render: destination does not match the plane size")
	// ErrSamples reports an RGB volume given to a grey-scale renderer.
	ErrSamples = errors.New("render: RGB volume needs RenderRGBA")
	// ErrOverlay reports overlay settings that cannot be drawn.
	ErrOverlay = errors.New("render: invalid overlay")
)

// Extract copies slice slice of v into dst, row by row: Bounds().Dx()·Bounds().Dy() values for grey-scale
// volumes, three times as many (R, G, B interleaved) for RGB ones. dst must be at least that long.
func (p Plane) Extract(dst []float32, v *viewer.Volume, slice int) error {
	if err := p.checkVolume(v, slice); err != nil {
		return err
	}
	w, h, su := p.axes[0].size, p.axes[1].size, p.stride[0]
	if need := w * h * v.Samples; len(dst) < need {
		return fmt.Errorf("%w: buffer of %d values for %d×%d×%d", ErrImageSize, len(dst), w, h, v.Samples)
	}
	for y := 0; y < h; y++ {
		off := p.rowStart(slice, y)
		if v.Samples == 1 {
			row := dst[y*w : (y+1)*w]
			if su == 1 {
				copy(row, v.Data[off:off+w])
				continue
			}
			for x := range row {
				row[x] = v.Data[off]
				off += su
			}
			continue
		}
		row := dst[3*y*w : 3*(y+1)*w]
		for x := 0; x < w; x++ {
			copy(row[3*x:3*x+3], v.Data[3*off:3*off+3])
			off += su
		}
	}
	return nil
}

// RenderGray draws slice slice of the grey-scale volume v through lut into dst, whose bounds must have
// the size of Bounds() (its origin may be anywhere).
func (p Plane) RenderGray(dst *image.Gray, v *viewer.Volume, slice int, lut *LUT) error {
	if err := p.checkVolume(v, slice); err != nil {
		return err
	}
	if v.Samples != 1 {
		return ErrSamples
	}
	if err := p.checkImage(dst.Rect, lut); err != nil {
		return err
	}
	w, h := p.axes[0].size, p.axes[1].size
	if n := bands(w, h); n > 1 {
		p.grayBands(dst, v, slice, lut, n)
	} else {
		p.grayRows(dst, v, slice, lut, 0, h)
	}
	return nil
}

// grayBands is RenderGray on n goroutines.
func (p Plane) grayBands(dst *image.Gray, v *viewer.Volume, slice int, lut *LUT, n int) {
	inBands(p.axes[1].size, n, func(y0, y1 int) { p.grayRows(dst, v, slice, lut, y0, y1) })
}

// grayRows is RenderGray for rows y0 to y1.
func (p Plane) grayRows(dst *image.Gray, v *viewer.Volume, slice int, lut *LUT, y0, y1 int) {
	w, su := p.axes[0].size, p.stride[0]
	for y := y0; y < y1; y++ {
		row := dst.Pix[y*dst.Stride : y*dst.Stride+w]
		off := p.rowStart(slice, y)
		if su == 1 {
			lut.Apply(row, v.Data[off:off+w])
		} else {
			lut.applyStride(row, v.Data, off, su)
		}
	}
}

// bandPixels is the least number of pixels worth a goroutine of its own.
const bandPixels = 1 << 15

// bands is how many goroutines draw a w×h image: 1 for small images, at most GOMAXPROCS.
func bands(w, h int) int { return min(runtime.GOMAXPROCS(0), h/8, w*h/bandPixels) }

// inBands calls fn on n bands of the rows [0, h) at once, one goroutine each, and returns when all are done.
func inBands(h, n int, fn func(y0, y1 int)) {
	var wg sync.WaitGroup
	for k := range n {
		wg.Go(func() { fn(k*h/n, (k+1)*h/n) })
	}
	wg.Wait()
}

// RenderRGBA draws slice slice of v through lut into dst (opaque; bounds of the size of Bounds()), then,
// when ov is not nil, the overlay's labels over it. Grey-scale volumes draw as grey. RGB volumes draw in
// colour with lut applied to each channel alike, so that 16-bit colour can be brought into range and
// brightened; the identity for 8-bit colour is the window centre 128, width 256 (Presets offers it).
//
// Fyne uploads *image.RGBA to the GPU without conversion, so this is the renderer for display.
func (p Plane) RenderRGBA(dst *image.RGBA, v *viewer.Volume, slice int, lut *LUT, ov *Overlay) error {
	if err := p.checkVolume(v, slice); err != nil {
		return err
	}
	if err := p.checkImage(dst.Rect, lut); err != nil {
		return err
	}
	var pal palette
	if ov != nil {
		if err := ov.palette(&pal); err != nil {
			return err
		}
		if err := p.checkGrid("label map", ov.Map.Geometry, slice); err != nil {
			return err
		}
	}
	w, h := p.axes[0].size, p.axes[1].size
	if n := bands(w, h); n > 1 {
		p.rgbaBands(dst, v, slice, lut, ov, pal, n)
	} else {
		p.rgbaRows(dst, v, slice, lut, ov, &pal, 0, h)
	}
	return nil
}

// rgbaBands is RenderRGBA on n goroutines.
func (p Plane) rgbaBands(dst *image.RGBA, v *viewer.Volume, slice int, lut *LUT, ov *Overlay, pal palette, n int) {
	inBands(p.axes[1].size, n, func(y0, y1 int) { p.rgbaRows(dst, v, slice, lut, ov, &pal, y0, y1) })
}

// rgbaRows is RenderRGBA for rows y0 to y1.
func (p Plane) rgbaRows(dst *image.RGBA, v *viewer.Volume, slice int, lut *LUT, ov *Overlay, pal *palette, y0, y1 int) {
	w, su := p.axes[0].size, p.stride[0]
	var grey [256]uint8
	for y := y0; y < y1; y++ {
		row := dst.Pix[y*dst.Stride : y*dst.Stride+4*w]
		off := p.rowStart(slice, y)
		if v.Samples == 1 {
			for x0 := 0; x0 < w; x0 += len(grey) {
				chunk := grey[:min(len(grey), w-x0)]
				lut.applyStride(chunk, v.Data, off+x0*su, su)
				px := row[4*x0 : 4*(x0+len(chunk))]
				for x, g := range chunk {
					px[4*x], px[4*x+1], px[4*x+2], px[4*x+3] = g, g, g, 255
				}
			}
		} else {
			for x, o := 0, off; x < w; x, o = x+1, o+su {
				rgb := v.Data[3*o : 3*o+3]
				row[4*x], row[4*x+1], row[4*x+2], row[4*x+3] = lut.Value(rgb[0]), lut.Value(rgb[1]), lut.Value(rgb[2]), 255
			}
		}
		if ov != nil {
			p.blendRow(row, ov, pal, slice, y)
		}
	}
}

// DefaultOverlayOpacity is the label overlay's opacity until the reader changes it.
const DefaultOverlayOpacity = 0.45

// Overlay is a label map drawn over a plane image.
type Overlay struct {
	Map *viewer.LabelMap // on the plane's grid; resampling is the caller's business
	// Opacity scales each label colour's alpha, from 0 (invisible) to 1 (the label colour as it is).
	Opacity float64
	Hidden  [256]bool // label values not drawn
	Outline bool      // draw only the boundary pixels of each label region (4-neighbourhood)
}

// UndescribedLabelColor draws label values that Map.Labels does not describe, so that no labelled voxel
// is silently invisible. Value 0 is background and is never drawn.
var UndescribedLabelColor = color.NRGBA{R: 255, G: 0, B: 255, A: 255}

// palette holds, per label value, the blend weight a (0…255) of the label colour and the colour times a.
type palette [256]struct {
	a       uint32
	r, g, b uint32
}

// palette fills pal: out = (base·(255−a) + colour·a + 127) / 255, with a = round(Opacity·alpha).
func (ov *Overlay) palette(pal *palette) error {
	if ov.Map == nil {
		return fmt.Errorf("%w: no label map", ErrOverlay)
	}
	if !(ov.Opacity >= 0 && ov.Opacity <= 1) {
		return fmt.Errorf("%w: opacity %g outside 0…1", ErrOverlay, ov.Opacity)
	}
	if err := ov.Map.Check(); err != nil {
		return fmt.Errorf("%w: %w", ErrOverlay, err)
	}
	set := func(value uint8, c color.NRGBA) {
		a := uint32(math.Round(ov.Opacity * float64(c.A)))
		pal[value].a, pal[value].r, pal[value].g, pal[value].b = a, uint32(c.R)*a, uint32(c.G)*a, uint32(c.B)*a
	}
	for value := 1; value < 256; value++ {
		set(uint8(value), UndescribedLabelColor)
	}
	for _, l := range ov.Map.Labels {
		set(l.Value, l.Color)
	}
	pal[0] = palette{}[0]
	for value, hidden := range ov.Hidden {
		if hidden {
			pal[value] = palette{}[0]
		}
	}
	return nil
}

// blendRow draws the overlay's row y over the opaque RGBA pixels of row.
func (p Plane) blendRow(row []uint8, ov *Overlay, pal *palette, slice, y int) {
	w, h, su, sv := p.axes[0].size, p.axes[1].size, p.stride[0], p.stride[1]
	labels := ov.Map.Data
	off := p.rowStart(slice, y)
	for x := 0; x < w; x, off = x+1, off+su {
		l := labels[off]
		c := &pal[l]
		if c.a == 0 {
			continue
		}
		if ov.Outline {
			left, right, up, down := uint8(0), uint8(0), uint8(0), uint8(0)
			if x > 0 {
				left = labels[off-su]
			}
			if x < w-1 {
				right = labels[off+su]
			}
			if y > 0 {
				up = labels[off-sv]
			}
			if y < h-1 {
				down = labels[off+sv]
			}
			if left == l && right == l && up == l && down == l {
				continue
			}
		}
		px := row[4*x : 4*x+3]
		na := 255 - c.a
		px[0] = uint8((uint32(px[0])*na + c.r + 127) / 255)
		px[1] = uint8((uint32(px[1])*na + c.g + 127) / 255)
		px[2] = uint8((uint32(px[2])*na + c.b + 127) / 255)
	}
}

func (p Plane) checkImage(r image.Rectangle, lut *LUT) error {
	if r.Dx() != p.axes[0].size || r.Dy() != p.axes[1].size {
		return fmt.Errorf("%w: image %v for a %s plane of %v", ErrImageSize, r, p.orient, p.Bounds())
	}
	if lut == nil {
		return errors.New("render: nil LUT")
	}
	return nil
}
