package ui

import "image"

// orientImage writes src into dst turned by rot clockwise quarter turns and then mirrored, the pixel
// permutation that viewTransform describes. dst must have src's size, with width and height swapped for
// odd rot.
func orientImage(dst, src *image.RGBA, rot int, flipH, flipV bool) {
	sw, sh := src.Rect.Dx(), src.Rect.Dy()
	dw, dh := dst.Rect.Dx(), dst.Rect.Dy()
	for y := 0; y < sh; y++ {
		srow := src.Pix[y*src.Stride : y*src.Stride+4*sw]
		for x := 0; x < sw; x++ {
			// Source pixel (x, y) in display coordinates before mirroring.
			var dx, dy int
			switch rot % 4 {
			case 0:
				dx, dy = x, y
			case 1:
				dx, dy = sh-1-y, x
			case 2:
				dx, dy = sw-1-x, sh-1-y
			case 3:
				dx, dy = y, sw-1-x
			}
			if flipH {
				dx = dw - 1 - dx
			}
			if flipV {
				dy = dh - 1 - dy
			}
			o := dy*dst.Stride + 4*dx
			copy(dst.Pix[o:o+4], srow[4*x:4*x+4])
		}
	}
}
