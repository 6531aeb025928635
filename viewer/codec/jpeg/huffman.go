package jpeg

import "fmt"

const lookBits = 9 // codes up to this length decode with one table look-up

// huffman is a decoding table built from a DHT segment.
type huffman struct {
	ok      bool
	look    [1 << lookBits]uint16 // length<<8 | value for codes of ≤ lookBits bits; 0 when longer
	maxCode [18]int32             // largest code of each length, -1 when none; maxCode[17] ends the search
	valPtr  [17]int32             // index in vals of the first code of each length, minus that code
	vals    [256]uint8
}

func (t *huffman) build(counts [16]int, vals []byte) error {
	*t = huffman{}
	copy(t.vals[:], vals)
	code, k := int32(0), int32(0)
	for l := 1; l <= 16; l++ {
		n := int32(counts[l-1])
		if code+n > 1<<l {
			return fmt.Errorf("Huffman table with too many codes of %d bits", l)
		}
		t.valPtr[l] = k - code
		if n == 0 {
			t.maxCode[l] = -1
		} else {
			t.maxCode[l] = code + n - 1
		}
		if l <= lookBits {
			for i := int32(0); i < n; i++ {
				c := code + i
				shift := lookBits - l
				for fill := int32(0); fill < 1<<shift; fill++ {
					t.look[c<<shift|fill] = uint16(l)<<8 | uint16(vals[k+i])
				}
			}
		}
		code += n
		k += n
		code <<= 1
	}
	t.maxCode[17] = 1<<31 - 1
	t.ok = true
	return nil
}

// bitReader reads entropy-coded data: bytes with 0xFF00 stuffing, up to the next marker. Past a marker or
// the end of the data it reads zero bits, as the IJG does, and counts them.
type bitReader struct {
	data   []byte
	pos    int
	acc    uint64 // bits, most significant first
	n      uint   // bits in acc
	marker bool   // pos is at a marker: no more data in this interval
	padded int    // zero bytes supplied past the data
}

func (b *bitReader) fill() {
	for b.n <= 56 {
		var c byte
		switch {
		case b.marker || b.pos >= len(b.data):
			b.padded++
		case b.data[b.pos] != 0xFF:
			c = b.data[b.pos]
			b.pos++
		case b.pos+1 < len(b.data) && b.data[b.pos+1] == 0x00:
			c = 0xFF
			b.pos += 2
		default:
			b.marker = true
			b.padded++
		}
		b.acc |= uint64(c) << (56 - b.n)
		b.n += 8
	}
}

// bits returns the next n (≤ 16) bits.
func (b *bitReader) bits(n uint) int32 {
	if n == 0 {
		return 0
	}
	if b.n < n {
		b.fill()
	}
	v := int32(b.acc >> (64 - n))
	b.acc <<= n
	b.n -= n
	return v
}

// receiveExtend reads an s-bit magnitude and sign-extends it (JPEG's EXTEND procedure).
func (b *bitReader) receiveExtend(s int32) int32 {
	if s == 0 {
		return 0
	}
	if s > 16 {
		return 0
	}
	v := b.bits(uint(s))
	if v < 1<<(s-1) {
		v += -1<<s + 1
	}
	return v
}

// decode reads one Huffman-coded value.
func (b *bitReader) decode(t *huffman) (uint8, error) {
	if b.n < 16 {
		b.fill()
	}
	if e := t.look[b.acc>>(64-lookBits)]; e != 0 {
		l := uint(e >> 8)
		b.acc <<= l
		b.n -= l
		return uint8(e), nil
	}
	code := int32(b.acc >> (64 - lookBits))
	l := lookBits
	for l++; l <= 16; l++ {
		code = int32(b.acc >> (64 - uint(l)))
		if code <= t.maxCode[l] {
			break
		}
	}
	if l > 16 {
		return 0, fmt.Errorf("bad Huffman code")
	}
	b.acc <<= uint(l)
	b.n -= uint(l)
	return t.vals[(t.valPtr[l]+code)&0xFF], nil
}

// overrun reports entropy-coded data that ran out before the image: more than 64 of the zero bits supplied
// past its end were consumed.
func (b *bitReader) overrun() bool { return b.padded*8-int(b.n) > 64 }

// restart skips to the byte boundary and past an RSTn marker.
func (b *bitReader) restart() {
	b.acc, b.n = 0, 0
	if b.pos+1 < len(b.data) && b.data[b.pos] == 0xFF && b.data[b.pos+1] >= 0xD0 && b.data[b.pos+1] <= 0xD7 {
		b.pos += 2
	}
	b.marker, b.padded = false, 0
}

// end is where the data after the scan starts: the marker that ended it.
func (b *bitReader) end() int {
	p := b.pos
	for p < len(b.data) {
		if b.data[p] == 0xFF && p+1 < len(b.data) && b.data[p+1] != 0x00 && !(b.data[p+1] >= 0xD0 && b.data[p+1] <= 0xD7) {
			return p
		}
		p++
	}
	return p
}
