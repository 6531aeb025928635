package viewer

import (
	"fmt"
	"strings"

	"github.com/neuronova/neuronova/internal/dicomkit"
)

// readPixelFormat reads and checks the Image Pixel module, and checks the pixel data's length against it.
func (f *File) readPixelFormat(a *attrs, lay *dicomkit.Layout, limit int64) error {
	rep, err := f.readPixelModule(a)
	if err != nil {
		return err
	}
	if err := f.checkPixelModule(rep); err != nil {
		return err
	}
	return f.checkPixelLength(lay, limit)
}

// readPixelModule reads the Image Pixel module into f.pix, with the defaults of its optional attributes,
// and returns PixelRepresentation.
func (f *File) readPixelModule(a *attrs) (rep int, err error) {
	p := &f.pix
	need := func(i int, name string) (int, error) {
		n, ok, err := dicomkit.Int(a[i])
		if err != nil {
			return 0, err
		}
		if !ok {
			return 0, fmt.Errorf("image without %s", name)
		}
		return n, nil
	}
	if p.rows, err = need(aRows, "Rows"); err != nil {
		return 0, err
	}
	if p.cols, err = need(aColumns, "Columns"); err != nil {
		return 0, err
	}
	if p.bitsAllocated, err = need(aBitsAllocated, "BitsAllocated"); err != nil {
		return 0, err
	}
	opt := func(i, def int) (int, error) {
		n, ok, err := dicomkit.Int(a[i])
		if err != nil || !ok {
			return def, err
		}
		return n, nil
	}
	if p.samples, err = opt(aSamples, 1); err != nil {
		return 0, err
	}
	if p.frames, err = opt(aFrames, 1); err != nil {
		return 0, err
	}
	if p.bitsStored, err = opt(aBitsStored, p.bitsAllocated); err != nil {
		return 0, err
	}
	if p.highBit, err = opt(aHighBit, p.bitsStored-1); err != nil {
		return 0, err
	}
	if rep, err = opt(aPixelRepresentation, 0); err != nil {
		return 0, err
	}
	planar, err := opt(aPlanar, 0)
	if err != nil {
		return 0, err
	}
	p.signed, p.planar = rep == 1, planar == 1
	p.photometric = strings.ToUpper(dicomkit.String(a[aPhotometric]))
	if p.photometric == "" {
		if p.samples != 1 {
			return 0, fmt.Errorf("image with %d samples per pixel has no PhotometricInterpretation", p.samples)
		}
		p.photometric = "MONOCHROME2"
		f.warnings = append(f.warnings, "PhotometricInterpretation missing: read as MONOCHROME2")
	}
	return rep, nil
}

// checkPixelModule checks that the pixel format is one the viewer decodes.
func (f *File) checkPixelModule(rep int) error {
	p := &f.pix
	switch {
	case p.rows <= 0 || p.cols <= 0 || p.rows > 65535 || p.cols > 65535:
		return fmt.Errorf("image size %d×%d is invalid", p.cols, p.rows)
	case p.frames <= 0:
		return fmt.Errorf("NumberOfFrames %d is invalid", p.frames)
	case p.samples != 1 && p.samples != 3:
		return fmt.Errorf("SamplesPerPixel %d is not supported (1 or 3)", p.samples)
	case p.bitsAllocated != 1 && p.bitsAllocated != 8 && p.bitsAllocated != 16 && p.bitsAllocated != 32:
		return fmt.Errorf("BitsAllocated %d is not supported (1, 8, 16 or 32)", p.bitsAllocated)
	case p.bitsStored <= 0 || p.bitsStored > p.bitsAllocated || p.highBit < p.bitsStored-1 || p.highBit >= p.bitsAllocated:
		return fmt.Errorf("BitsStored %d / HighBit %d do not fit BitsAllocated %d", p.bitsStored, p.highBit, p.bitsAllocated)
	case rep != 0 && rep != 1:
		return fmt.Errorf("PixelRepresentation %d is invalid", rep)
	}
	switch p.photometric {
	case "MONOCHROME1", "MONOCHROME2":
		if p.samples != 1 {
			return fmt.Errorf("%s with %d samples per pixel", p.photometric, p.samples)
		}
	case "RGB", "YBR_FULL", "YBR_FULL_422", "YBR_PARTIAL_422", "YBR_PARTIAL_420", "YBR_ICT", "YBR_RCT":
		if p.samples != 3 {
			return fmt.Errorf("%s with %d samples per pixel", p.photometric, p.samples)
		}
		if f.syntax.Kind == dicomkit.Native && p.photometric != "RGB" && p.photometric != "YBR_FULL" &&
			!(p.photometric == "YBR_FULL_422" && p.bitsAllocated == 8 && p.cols%2 == 0) {
			return fmt.Errorf("PhotometricInterpretation %s is not supported in native pixel data", p.photometric)
		}
	default:
		return fmt.Errorf("PhotometricInterpretation %q is not supported", p.photometric)
	}
	if p.bitsAllocated == 1 && (f.syntax.Kind != dicomkit.Native || p.samples != 1) {
		return fmt.Errorf("1-bit pixel data is supported only for native grey-scale images")
	}
	return nil
}

// checkPixelLength checks the image's size against limit before anything is allocated for it, and the
// length of native pixel data against the format.
func (f *File) checkPixelLength(lay *dicomkit.Layout, limit int64) error {
	p := &f.pix
	voxels := int64(p.rows) * int64(p.cols) * int64(p.samples)
	if int64(p.frames) > limit/4/voxels {
		return fmt.Errorf("%d×%d×%d frames×%d samples exceed the %d-byte memory limit", p.cols, p.rows, p.frames, p.samples, limit)
	}
	if f.syntax.Kind == dicomkit.Native {
		if lay.PixelLen == dicomkit.UndefinedLength {
			return fmt.Errorf("pixel data is encapsulated but the transfer syntax is %s", f.syntax)
		}
		want, found := p.nativeBytes(), int64(lay.PixelLen)
		if want > lay.DatasetSize {
			return fmt.Errorf("%w: %d×%d×%d frames need %d pixel bytes, the whole dataset has %d", ErrTruncated, p.cols, p.rows, p.frames, want, lay.DatasetSize)
		}
		if found < want {
			return fmt.Errorf("%w: pixel data has %d bytes, expected %d (%d×%d, %d frames, %d samples, %d bits allocated)",
				ErrTruncated, found, want, p.cols, p.rows, p.frames, p.samples, p.bitsAllocated)
		}
		if found > want+1 {
			f.warnings = append(f.warnings, fmt.Sprintf("pixel data has %d bytes, %d expected: the excess is ignored", found, want))
		}
		f.pixelLen = found
	} else if lay.PixelLen != dicomkit.UndefinedLength {
		return fmt.Errorf("transfer syntax %s needs encapsulated pixel data, the file's is native", f.syntax)
	}
	return nil
}
