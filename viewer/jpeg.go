package viewer

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"

	jpegcodec "github.com/neuronova/neuronova/viewer/codec/jpeg"
)

// The JPEG processes decoded in Go besides baseline: lossless (process 14, any predictor, and its
// selection value 1 syntax) and extended (processes 2 and 4, 8 or 12 bits).
func init() {
	for _, ts := range []string{"1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.4.51"} {
		RegisterCodec(Codec{TransferSyntax: ts, Library: "Go", Decode: decodeJPEGFrame})
	}
}

// decodeJPEGFrame is the FrameDecoder of JPEG lossless and extended frames (package codec/jpeg).
func decodeJPEGFrame(dst, frame []byte, info FrameInfo) (FrameInfo, error) {
	h, err := jpegcodec.ReadHeader(frame)
	if err != nil {
		return info, err
	}
	switch {
	case h.Width != info.Columns || h.Height != info.Rows:
		return info, fmt.Errorf("JPEG frame is %d×%d, the header says %d×%d", h.Width, h.Height, info.Columns, info.Rows)
	case h.Components != info.Samples:
		return info, fmt.Errorf("JPEG frame has %d components, the header says %d samples per pixel", h.Components, info.Samples)
	case h.Precision > info.BitsAllocated:
		return info, fmt.Errorf("JPEG frame has %d-bit samples, BitsAllocated is %d", h.Precision, info.BitsAllocated)
	}
	if h, err = jpegcodec.Decode(dst, frame, info.BitsAllocated/8); err != nil {
		return info, err
	}
	if h.ColourTransform {
		info.Photometric = "RGB"
	}
	return info, nil
}

// decodeJPEG decodes one JPEG Baseline (Process 1) frame into dst: grey values, or RGB whatever colour space
// the JPEG stream is coded in (the decoder follows its JFIF/Adobe markers, as the standard intends).
// Grey values go through m; colour values are 0–255.
func decodeJPEG(dst []float32, data []byte, p *pixelFormat, m affine) error {
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("JPEG frame: %w", err)
	}
	if cfg.Width != p.cols || cfg.Height != p.rows {
		return fmt.Errorf("JPEG frame is %d×%d, the header says %d×%d", cfg.Width, cfg.Height, p.cols, p.rows)
	}
	img, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("JPEG frame: %w", err)
	}
	w, h := p.cols, p.rows
	switch im := img.(type) {
	case *image.Gray:
		if p.samples != 1 {
			return fmt.Errorf("JPEG frame is grey-scale, the header says %d samples per pixel", p.samples)
		}
		for y := 0; y < h; y++ {
			row := im.Pix[y*im.Stride : y*im.Stride+w]
			out := dst[y*w : (y+1)*w]
			for x, v := range row {
				out[x] = float32(float64(v)*m.a + m.b)
			}
		}
	case *image.YCbCr:
		if p.samples != 3 {
			return fmt.Errorf("JPEG frame is colour, the header says %d samples per pixel", p.samples)
		}
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				yi, ci := im.YOffset(x, y), im.COffset(x, y)
				r, g, b := color.YCbCrToRGB(im.Y[yi], im.Cb[ci], im.Cr[ci])
				o := dst[3*(y*w+x):]
				o[0], o[1], o[2] = float32(r), float32(g), float32(b)
			}
		}
	case *image.RGBA:
		if p.samples != 3 {
			return fmt.Errorf("JPEG frame is colour, the header says %d samples per pixel", p.samples)
		}
		for y := 0; y < h; y++ {
			row := im.Pix[y*im.Stride:]
			for x := 0; x < w; x++ {
				o := dst[3*(y*w+x):]
				o[0], o[1], o[2] = float32(row[4*x]), float32(row[4*x+1]), float32(row[4*x+2])
			}
		}
	default:
		return fmt.Errorf("JPEG frame decodes to %T, which the viewer does not handle", img)
	}
	return nil
}
