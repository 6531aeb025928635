package viewer

import (
	"encoding/binary"
	"fmt"
)

// affine is the map from stored values to volume values: value = a·stored + b. It folds Rescale
// Slope/Intercept and the MONOCHROME1 inversion into one multiply-add.
type affine struct{ a, b float64 }

var identity = affine{1, 0}

func (m affine) isIdentity() bool { return m.a == 1 && m.b == 0 }

// sampleBits extracts stored values from their containers: v = (raw << left) >> right on 64 bits, with an
// arithmetic shift for signed data, masks the bits above HighBit and sign-extends from BitsStored.
type sampleBits struct {
	left, right uint
	signed      bool
}

func bitsOf(p *pixelFormat) sampleBits {
	return sampleBits{left: uint(63 - p.highBit), right: uint(64 - p.bitsStored), signed: p.signed}
}

// full reports containers whose every bit is the stored value (no masking or sign extension needed).
func (s sampleBits) full(bitsAllocated int) bool {
	return s.left == uint(64-bitsAllocated) && s.right == s.left
}

// convertNative converts one frame of native pixel data (src starts at the frame) into dst, which holds
// rows·cols·samples values, interleaved. It does not convert colour spaces.
func convertNative(dst []float32, src []byte, p *pixelFormat, bigEndian bool, m affine) error {
	plane := p.rows * p.cols
	if len(dst) != plane*p.samples {
		return fmt.Errorf("internal: destination holds %d values for %d×%d×%d", len(dst), p.cols, p.rows, p.samples)
	}
	if p.photometric == "YBR_FULL_422" {
		return convertYBR422(dst, src, plane, m)
	}
	bytesPer := p.bitsAllocated / 8
	if len(src) < plane*p.samples*bytesPer {
		return fmt.Errorf("%w: frame has %d bytes, expected %d", ErrTruncated, len(src), plane*p.samples*bytesPer)
	}
	sb := bitsOf(p)
	if p.samples == 1 || !p.planar {
		convertSamples(dst, 1, src, plane*p.samples, p.bitsAllocated, bigEndian, sb, m)
		return nil
	}
	for s := 0; s < p.samples; s++ {
		convertSamples(dst[s:], p.samples, src[s*plane*bytesPer:], plane, p.bitsAllocated, bigEndian, sb, m)
	}
	return nil
}

// convertSamples converts n samples of bits bits each from src into dst[0], dst[stride], dst[2·stride]…
func convertSamples(dst []float32, stride int, src []byte, n, bits int, bigEndian bool, sb sampleBits, m affine) {
	if n == 0 {
		return
	}
	dst = dst[:(n-1)*stride+1]
	switch bits {
	case 8:
		convert8(dst, stride, src[:n], sb, m)
	case 16:
		if bigEndian {
			convert16BE(dst, stride, src[:2*n], sb, m)
		} else {
			convert16LE(dst, stride, src[:2*n], sb, m)
		}
	case 32:
		convert32(dst, stride, src[:4*n], bigEndian, sb, m)
	}
}

func convert8(dst []float32, stride int, src []byte, sb sampleBits, m affine) {
	if stride == 1 && !sb.signed && sb.full(8) && m.isIdentity() {
		for i, v := range src {
			dst[i] = float32(v)
		}
		return
	}
	for i, v := range src {
		dst[i*stride] = float32(float64(sb.value(uint64(v)))*m.a + m.b)
	}
}

// convert16LE is the hot loop of a typical MR or CT series.
func convert16LE(dst []float32, stride int, src []byte, sb sampleBits, m affine) {
	n := len(src) / 2
	if stride == 1 && sb.full(16) {
		// Two-byte subslices with a capped capacity let the compiler drop the bounds checks: 1.5× faster.
		dst, src = dst[:n], src[:2*n]
		switch {
		case sb.signed && m.isIdentity():
			for i := range dst {
				s := src[2*i : 2*i+2 : 2*i+2]
				dst[i] = float32(int16(uint16(s[0]) | uint16(s[1])<<8))
			}
		case !sb.signed && m.isIdentity():
			for i := range dst {
				s := src[2*i : 2*i+2 : 2*i+2]
				dst[i] = float32(uint16(s[0]) | uint16(s[1])<<8)
			}
		case sb.signed:
			for i := range dst {
				s := src[2*i : 2*i+2 : 2*i+2]
				dst[i] = float32(float64(int16(uint16(s[0])|uint16(s[1])<<8))*m.a + m.b)
			}
		default:
			for i := range dst {
				s := src[2*i : 2*i+2 : 2*i+2]
				dst[i] = float32(float64(uint16(s[0])|uint16(s[1])<<8)*m.a + m.b)
			}
		}
		return
	}
	if stride == 1 {
		dst = dst[:n]
		for i := range dst {
			dst[i] = float32(float64(sb.value(uint64(binary.LittleEndian.Uint16(src[2*i:]))))*m.a + m.b)
		}
		return
	}
	for i := 0; i < n; i++ {
		dst[i*stride] = float32(float64(sb.value(uint64(binary.LittleEndian.Uint16(src[2*i:]))))*m.a + m.b)
	}
}

func convert16BE(dst []float32, stride int, src []byte, sb sampleBits, m affine) {
	n := len(src) / 2
	for i := 0; i < n; i++ {
		dst[i*stride] = float32(float64(sb.value(uint64(binary.BigEndian.Uint16(src[2*i:]))))*m.a + m.b)
	}
}

func convert32(dst []float32, stride int, src []byte, bigEndian bool, sb sampleBits, m affine) {
	n := len(src) / 4
	var order binary.ByteOrder = binary.LittleEndian
	if bigEndian {
		order = binary.BigEndian
	}
	for i := 0; i < n; i++ {
		dst[i*stride] = float32(float64(sb.value(uint64(order.Uint32(src[4*i:]))))*m.a + m.b)
	}
}

// value extracts the stored value from a raw container.
func (s sampleBits) value(raw uint64) int64 {
	if s.signed {
		return int64(raw<<s.left) >> s.right
	}
	return int64(raw << s.left >> s.right)
}

// convertBits converts n 1-bit values starting at bit offset first of src (least significant bit first,
// as PS3.5 8.1.1 packs them).
func convertBits(dst []float32, src []byte, first, n int, m affine) error {
	if (first+n+7)/8 > len(src) {
		return fmt.Errorf("%w: 1-bit frame needs %d bytes, %d found", ErrTruncated, (first+n+7)/8, len(src))
	}
	off, on := float32(m.b), float32(m.a+m.b)
	for i := 0; i < n; i++ {
		bit := first + i
		if src[bit>>3]>>(bit&7)&1 != 0 {
			dst[i] = on
		} else {
			dst[i] = off
		}
	}
	return nil
}

// convertYBR422 expands 8-bit YBR_FULL_422 data (Y1 Y2 Cb Cr per pair of pixels) to three samples per pixel.
func convertYBR422(dst []float32, src []byte, plane int, m affine) error {
	if len(src) < plane*2 {
		return fmt.Errorf("%w: YBR_FULL_422 frame has %d bytes, expected %d", ErrTruncated, len(src), plane*2)
	}
	for i := 0; i+1 < plane; i += 2 {
		y1, y2, cb, cr := src[2*i], src[2*i+1], src[2*i+2], src[2*i+3]
		o := dst[3*i : 3*i+6]
		o[0], o[1], o[2] = float32(float64(y1)*m.a+m.b), float32(float64(cb)*m.a+m.b), float32(float64(cr)*m.a+m.b)
		o[3], o[4], o[5] = float32(float64(y2)*m.a+m.b), o[1], o[2]
	}
	return nil
}

// ybrToRGB converts YBR_FULL values (PS3.3 C.7.6.3.1.2) of bits-bit samples to RGB in place, clamped to
// the samples' range.
func ybrToRGB(data []float32, bits int) {
	half := float32(int(1) << (bits - 1))
	top := float32(int(1)<<bits - 1)
	clamp := func(v float32) float32 { return min(max(v, 0), top) }
	for i := 0; i+2 < len(data); i += 3 {
		y, cb, cr := data[i], data[i+1]-half, data[i+2]-half
		data[i] = clamp(y + 1.402*cr)
		data[i+1] = clamp(y - 0.344136*cb - 0.714136*cr)
		data[i+2] = clamp(y + 1.772*cb)
	}
}
