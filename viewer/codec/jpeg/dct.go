package jpeg

import "fmt"

// zigzag maps the zig-zag order of coefficients to their natural (row-major) order.
var zigzag = [64]int{
	0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
	12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
	35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
	58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
}

// dctScan decodes a sequential Huffman scan: blocks of quantised coefficients, each dequantised and
// transformed into its component's plane as soon as it is read.
func (d *decoder) dctScan() error {
	sc := &d.sc
	h := &d.hdr
	b := &d.bits
	var coef [64]int32
	idct := newIDCT(h.Precision)
	block := func(c *component, bx, by int) error {
		coef = [64]int32{}
		if err := d.decodeBlock(&coef, c); err != nil {
			return fmt.Errorf("component %d, block (%d, %d): %w", c.id, bx, by, err)
		}
		idct.transform(c.plane[by*8*c.stride+bx*8:], c.stride, &coef, &d.quant[c.tq])
		return nil
	}
	mcus, restartLeft := 0, d.restart
	restart := func() {
		if d.restart > 0 && mcus > 0 && restartLeft == 0 {
			d.restartAt()
			restartLeft = d.restart
		}
		mcus++
		restartLeft--
	}
	if len(sc.comps) == 1 {
		c := &d.comps[sc.comps[0]]
		for by := 0; by < c.blocksH; by++ {
			for bx := 0; bx < c.blocksW; bx++ {
				restart()
				if err := block(c, bx, by); err != nil {
					return err
				}
			}
			if b.overrun() {
				return fmt.Errorf("%w: component %d: %d of %d block rows decoded", ErrTruncated, c.id, by, c.blocksH)
			}
		}
		c.decodedScans++
		return nil
	}
	mcusX := (h.Width + 8*d.hmax - 1) / (8 * d.hmax)
	mcusY := (h.Height + 8*d.vmax - 1) / (8 * d.vmax)
	for my := 0; my < mcusY; my++ {
		for mx := 0; mx < mcusX; mx++ {
			restart()
			for _, k := range sc.comps {
				c := &d.comps[k]
				for v := 0; v < c.v; v++ {
					for u := 0; u < c.h; u++ {
						if err := block(c, mx*c.h+u, my*c.v+v); err != nil {
							return err
						}
					}
				}
			}
		}
		if b.overrun() {
			return fmt.Errorf("%w: %d of %d MCU rows decoded", ErrTruncated, my, mcusY)
		}
	}
	for _, k := range sc.comps {
		d.comps[k].decodedScans++
	}
	return nil
}

// decodeBlock reads one block's DC difference and AC coefficients into coef (natural order).
func (d *decoder) decodeBlock(coef *[64]int32, c *component) error {
	b := &d.bits
	s, err := b.decode(&d.dc[c.dcTbl])
	if err != nil {
		return err
	}
	if s > 16 {
		return fmt.Errorf("DC difference category %d", s)
	}
	c.dcPred += int(b.receiveExtend(int32(s)))
	coef[0] = int32(c.dcPred)
	ac := &d.ac[c.acTbl]
	for k := 1; k < 64; {
		rs, err := b.decode(ac)
		if err != nil {
			return err
		}
		r, s := int(rs>>4), int32(rs&15)
		if s == 0 {
			if r != 15 {
				break // end of block
			}
			k += 16
			continue
		}
		k += r
		if k > 63 {
			return fmt.Errorf("AC coefficient run past the block")
		}
		coef[zigzag[k]] = b.receiveExtend(s)
		k++
	}
	return nil
}

// Constants of the IJG's integer inverse DCT (jidctint.c): cos factors scaled by 2^13, rounded.
const (
	constBits    = 13
	fix_0_298631 = 2446
	fix_0_390181 = 3196
	fix_0_541196 = 4433
	fix_0_765367 = 6270
	fix_0_899976 = 7373
	fix_1_175876 = 9633
	fix_1_501321 = 12299
	fix_1_847759 = 15137
	fix_1_961571 = 16069
	fix_2_053120 = 16819
	fix_2_562915 = 20995
	fix_3_072711 = 25172
)

// idct is the IJG's "islow" inverse DCT for one sample precision.
type idct struct {
	pass1      uint // extra bits kept between the passes: 2 for 8-bit samples, 1 for 12-bit
	center     int
	maxv       int
	rangeMask  int
	rangeLimit []uint16 // the IJG's post-IDCT range-limit table, indexed by value & rangeMask
}

var idcts = map[int]*idct{}

func newIDCT(precision int) *idct {
	if t := idcts[precision]; t != nil {
		return t
	}
	return makeIDCT(precision)
}

func init() {
	idcts[8], idcts[12] = makeIDCT(8), makeIDCT(12)
}

func makeIDCT(precision int) *idct {
	t := &idct{pass1: 2, center: 1 << (precision - 1), maxv: 1<<precision - 1}
	if precision == 12 {
		t.pass1 = 1
	}
	size := 4 * (t.maxv + 1)
	t.rangeMask = size - 1
	t.rangeLimit = make([]uint16, size)
	// jdmaster.c prepare_range_limit_table: x+center clamped to the sample range, for x from −2·(max+1)
	// to 2·(max+1), indexed modulo 4·(max+1).
	for i := range t.rangeLimit {
		x := i
		if x >= 2*(t.maxv+1) {
			x -= size
		}
		t.rangeLimit[i] = uint16(min(max(x+t.center, 0), t.maxv))
	}
	return t
}

func descale(x int, n uint) int { return (x + 1<<(n-1)) >> n }

// transform dequantises a block and writes its inverse DCT, range-limited, into out (stride samples per
// row): jidctint.c's jpeg_idct_islow, zero-column and zero-row shortcuts included.
func (t *idct) transform(out []uint16, stride int, coef *[64]int32, q *[64]int32) {
	var ws [64]int
	p1 := t.pass1
	for col := 0; col < 8; col++ {
		in := func(r int) int { return int(coef[8*r+col]) * int(q[8*r+col]) }
		if coef[8+col] == 0 && coef[16+col] == 0 && coef[24+col] == 0 && coef[32+col] == 0 &&
			coef[40+col] == 0 && coef[48+col] == 0 && coef[56+col] == 0 {
			dc := in(0) << p1
			for r := 0; r < 8; r++ {
				ws[8*r+col] = dc
			}
			continue
		}
		z2, z3 := in(2), in(6)
		z1 := (z2 + z3) * fix_0_541196
		tmp2 := z1 + z3*(-fix_1_847759)
		tmp3 := z1 + z2*fix_0_765367
		tmp0 := (in(0) + in(4)) << constBits
		tmp1 := (in(0) - in(4)) << constBits
		tmp10, tmp13 := tmp0+tmp3, tmp0-tmp3
		tmp11, tmp12 := tmp1+tmp2, tmp1-tmp2
		o0, o1, o2, o3 := odd(in(7), in(5), in(3), in(1))
		n := constBits - p1
		ws[col] = descale(tmp10+o3, n)
		ws[56+col] = descale(tmp10-o3, n)
		ws[8+col] = descale(tmp11+o2, n)
		ws[48+col] = descale(tmp11-o2, n)
		ws[16+col] = descale(tmp12+o1, n)
		ws[40+col] = descale(tmp12-o1, n)
		ws[24+col] = descale(tmp13+o0, n)
		ws[32+col] = descale(tmp13-o0, n)
	}
	m := t.rangeMask
	lim := t.rangeLimit
	n := constBits + p1 + 3
	for row := 0; row < 8; row++ {
		w := ws[8*row : 8*row+8]
		o := out[row*stride : row*stride+8]
		if w[1] == 0 && w[2] == 0 && w[3] == 0 && w[4] == 0 && w[5] == 0 && w[6] == 0 && w[7] == 0 {
			v := lim[descale(w[0], p1+3)&m]
			for i := range o {
				o[i] = v
			}
			continue
		}
		z2, z3 := w[2], w[6]
		z1 := (z2 + z3) * fix_0_541196
		tmp2 := z1 + z3*(-fix_1_847759)
		tmp3 := z1 + z2*fix_0_765367
		tmp0 := (w[0] + w[4]) << constBits
		tmp1 := (w[0] - w[4]) << constBits
		tmp10, tmp13 := tmp0+tmp3, tmp0-tmp3
		tmp11, tmp12 := tmp1+tmp2, tmp1-tmp2
		o0, o1, o2, o3 := odd(w[7], w[5], w[3], w[1])
		o[0] = lim[descale(tmp10+o3, n)&m]
		o[7] = lim[descale(tmp10-o3, n)&m]
		o[1] = lim[descale(tmp11+o2, n)&m]
		o[6] = lim[descale(tmp11-o2, n)&m]
		o[2] = lim[descale(tmp12+o1, n)&m]
		o[5] = lim[descale(tmp12-o1, n)&m]
		o[3] = lim[descale(tmp13+o0, n)&m]
		o[4] = lim[descale(tmp13-o0, n)&m]
	}
}

// odd is the odd part of the IJG's 8-point inverse DCT, from inputs 7, 5, 3 and 1.
func odd(tmp0, tmp1, tmp2, tmp3 int) (int, int, int, int) {
	z1, z2, z3, z4 := tmp0+tmp3, tmp1+tmp2, tmp0+tmp2, tmp1+tmp3
	z5 := (z3 + z4) * fix_1_175876
	tmp0 *= fix_0_298631
	tmp1 *= fix_2_053120
	tmp2 *= fix_3_072711
	tmp3 *= fix_1_501321
	z1 *= -fix_0_899976
	z2 *= -fix_2_562915
	z3 = z3*-fix_1_961571 + z5
	z4 = z4*-fix_0_390181 + z5
	return tmp0 + z1 + z3, tmp1 + z2 + z4, tmp2 + z2 + z3, tmp3 + z1 + z4
}
