package viewer

import (
	"encoding/binary"
	"fmt"
)

// decodeRLE decodes one RLE Lossless frame (PS3.5 Annex G) into out, which receives pixels·samples values
// of bytesPer bytes each, interleaved by pixel and little endian, the layout convertNative reads. The frame
// holds one segment per byte of each sample, most significant byte first, each a PackBits stream.
func decodeRLE(out, frame []byte, pixels, samples, bytesPer int) error {
	nseg := samples * bytesPer
	if len(out) != pixels*nseg {
		return fmt.Errorf("internal: RLE output holds %d bytes for %d pixels×%d bytes", len(out), pixels, nseg)
	}
	if len(frame) < 64 {
		return fmt.Errorf("%w: RLE frame of %d bytes has no 64-byte header", ErrTruncated, len(frame))
	}
	if n := binary.LittleEndian.Uint32(frame); n != uint32(nseg) {
		return fmt.Errorf("RLE header declares %d segments, %d samples×%d bytes need %d", n, samples, bytesPer, nseg)
	}
	var offsets [16]int
	for s := 0; s < nseg; s++ {
		offsets[s] = int(binary.LittleEndian.Uint32(frame[4+4*s:]))
	}
	offsets[nseg] = len(frame)
	for s := 0; s < nseg; s++ {
		start, end := offsets[s], offsets[s+1]
		if start < 64 || start > end || end > len(frame) {
			return fmt.Errorf("RLE segment %d spans bytes %d to %d of a %d-byte frame", s, start, end, len(frame))
		}
		sample, msb := s/bytesPer, s%bytesPer
		// Byte msb of a sample (0 = most significant) lands at little-endian position bytesPer-1-msb.
		first := sample*bytesPer + bytesPer - 1 - msb
		if err := unpackBits(out[first:], nseg, frame[start:end], pixels); err != nil {
			return fmt.Errorf("RLE segment %d: %w", s, err)
		}
	}
	return nil
}

// unpackBits decodes a PackBits stream into dst[0], dst[stride], … until n bytes are written. Bytes past
// the n-th (encoders pad segments to an even length) are ignored.
func unpackBits(dst []byte, stride int, src []byte, n int) error {
	o, i := 0, 0
	for o < n && i < len(src) {
		h := int8(src[i])
		i++
		switch {
		case h >= 0: // h+1 literal bytes
			cnt := int(h) + 1
			if i+cnt > len(src) {
				return fmt.Errorf("%w: literal run of %d bytes, %d left", ErrTruncated, cnt, len(src)-i)
			}
			cnt = min(cnt, n-o)
			if stride == 1 {
				copy(dst[o:o+cnt], src[i:i+cnt])
			} else {
				for k := 0; k < cnt; k++ {
					dst[(o+k)*stride] = src[i+k]
				}
			}
			i += int(h) + 1
			o += cnt
		case h != -128: // 1-h copies of the next byte
			if i >= len(src) {
				return fmt.Errorf("%w: replicate run without its byte", ErrTruncated)
			}
			cnt := min(1-int(h), n-o)
			v := src[i]
			i++
			if stride == 1 {
				seg := dst[o : o+cnt]
				for k := range seg {
					seg[k] = v
				}
			} else {
				for k := 0; k < cnt; k++ {
					dst[(o+k)*stride] = v
				}
			}
			o += cnt
		}
	}
	if o < n {
		return fmt.Errorf("%w: decodes to %d bytes, %d expected", ErrTruncated, o, n)
	}
	return nil
}
