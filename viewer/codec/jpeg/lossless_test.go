package jpeg

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// encodeLossless is a minimal lossless JPEG encoder for the tests: one component, predictor sel, a Huffman
// table giving every difference category a 5-bit code, and a restart marker every restart samples (0: none).
func encodeLossless(vals []uint16, w, h, precision, sel, restart int) []byte {
	out := []byte{0xFF, 0xD8}
	seg := func(marker byte, payload ...byte) {
		out = append(out, 0xFF, marker)
		out = binary.BigEndian.AppendUint16(out, uint16(len(payload)+2))
		out = append(out, payload...)
	}
	seg(0xC3, byte(precision), byte(h>>8), byte(h), byte(w>>8), byte(w), 1, 1, 0x11, 0)
	dht := []byte{0x00, 0, 0, 0, 0, 17, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	for s := 0; s <= 16; s++ {
		dht = append(dht, byte(s))
	}
	seg(0xC4, dht...)
	if restart > 0 {
		seg(0xDD, byte(restart>>8), byte(restart))
	}
	seg(0xDA, 1, 1, 0x00, byte(sel), 0, 0)
	var acc uint64
	var n uint
	put := func(v uint64, bits uint) {
		acc, n = acc<<bits|v&(1<<bits-1), n+bits
		for n >= 8 {
			b := byte(acc >> (n - 8))
			out = append(out, b)
			if b == 0xFF {
				out = append(out, 0)
			}
			n -= 8
		}
	}
	flush := func() {
		if n > 0 {
			put(1<<(8-n)-1, 8-n) // pad with 1 bits
		}
	}
	p := predictor{sel: sel, first: int32(1) << (precision - 1)}
	c := &component{plane: make([]uint16, w*h), stride: w}
	rst := 0
	for i := range vals {
		y, x := i/w, i%w
		if restart > 0 && i > 0 && i%restart == 0 {
			flush()
			out = append(out, 0xFF, 0xD0+byte(rst%8))
			rst++
			p.row, p.col = y, x
		}
		diff := int32(int16(vals[i] - uint16(p.predict(c, x, y))))
		c.plane[i] = vals[i]
		mag, s := diff, 0
		if mag < 0 {
			mag = -mag
		}
		for mag>>s != 0 {
			s++
		}
		if diff == -32768 {
			s = 16
		}
		put(uint64(s), 5)
		if s > 0 && s < 16 {
			v := diff
			if v < 0 {
				v--
			}
			put(uint64(v), uint(s))
		}
	}
	flush()
	return append(out, 0xFF, 0xD9)
}

// TestLosslessRestartIntervals round-trips 16-bit and 12-bit images through every predictor, without and
// with restart markers every row, every few rows or every few samples: decoding must give the values back
// exactly.
func TestLosslessRestartIntervals(t *testing.T) {
	w, h := 37, 23
	rng := rand.New(rand.NewPCG(3, 4))
	for _, precision := range []int{12, 16} {
		vals := make([]uint16, w*h)
		for i := range vals {
			vals[i] = uint16((i*97 + rng.IntN(300)) % (1 << precision))
		}
		vals[5], vals[6] = 0, uint16(1<<precision-1) // the extremes, next to each other
		for sel := 1; sel <= 7; sel++ {
			for _, restart := range []int{0, w, 3 * w, 5} { // 5: mid-row intervals, the general path
				data := encodeLossless(vals, w, h, precision, sel, restart)
				got := make([]byte, 2*w*h)
				if _, err := Decode(got, data, 2); err != nil {
					t.Fatalf("%d bits, predictor %d, restart %d: %v", precision, sel, restart, err)
				}
				for i, v := range vals {
					if g := binary.LittleEndian.Uint16(got[2*i:]); g != v {
						t.Fatalf("%d bits, predictor %d, restart %d: sample %d is %d, want %d", precision, sel, restart, i, g, v)
					}
				}
			}
		}
	}
}
