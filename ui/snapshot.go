package ui

import (
	"image"

	"github.com/neuronova/neuronova/viewer/render"
)

// snapshot returns a function that renders what the viewport shows now — plane, slice, window, orientation
// and overlay — into a new image, for a report's key images; nil when it shows nothing. Call snapshot on the
// UI goroutine and the function it returns in a worker.
func (v *Viewport) snapshot() func() (image.Image, error) {
	f := v.frame()
	if f == nil {
		return nil
	}
	return func() (image.Image, error) {
		lut, err := render.NewLUT(f.window, f.invert)
		if err != nil {
			return nil, err
		}
		b := f.plane.Bounds()
		img := image.NewRGBA(b)
		if err := f.plane.RenderRGBA(img, f.vol, f.slice, lut, f.overlay); err != nil {
			return nil, err
		}
		if f.rot == 0 && !f.flipH && !f.flipV {
			return img, nil
		}
		ob := b
		if f.rot%2 == 1 {
			ob = image.Rect(0, 0, b.Dy(), b.Dx())
		}
		out := image.NewRGBA(ob)
		orientImage(out, img, f.rot, f.flipH, f.flipV)
		return out, nil
	}
}

// KeyImages renders the visible viewports as shown, in a worker, and hands them to done on the UI goroutine.
func (r *Reading) KeyImages(done func([]image.Image)) {
	var render []func() (image.Image, error)
	for _, vp := range r.Visible() {
		if f := vp.snapshot(); f != nil {
			render = append(render, f)
		}
	}
	go func() {
		var out []image.Image
		for _, f := range render {
			if img, err := f(); err == nil {
				out = append(out, img)
			}
		}
		do(func() { done(out) })
	}()
}
