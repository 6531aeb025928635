package jpeg

import "fmt"

// losslessScan decodes a lossless scan (ITU-T T.81 Annex H): each sample is its prediction from the
// neighbours Ra (left), Rb (above) and Rc (above left) plus a Huffman-coded difference, modulo 2^16.
func (d *decoder) losslessScan() error {
	sc := &d.sc
	h := &d.hdr
	pt := uint(sc.al)
	p := predictor{sel: sc.ss, first: int32(1) << (h.Precision - int(pt) - 1)}
	var comps [maxComps]*component
	var tables [maxComps]*huffman
	n := len(sc.comps)
	for i, k := range sc.comps {
		comps[i], tables[i] = &d.comps[k], &d.dc[d.comps[k].dcTbl]
	}
	var err error
	if n == 1 && d.restart%h.Width == 0 {
		err = d.losslessRows(comps[0], tables[0], &p)
	} else {
		err = d.losslessSamples(comps[:n], tables[:n], &p)
	}
	if err != nil {
		return err
	}
	for _, c := range comps[:n] {
		if pt > 0 {
			for k, v := range c.plane {
				c.plane[k] = v << pt
			}
		}
		c.decodedScans++
	}
	return nil
}

// losslessSamples decodes a scan sample by sample, each MCU one sample of each component, restart
// intervals of any length.
func (d *decoder) losslessSamples(comps []*component, tables []*huffman, p *predictor) error {
	h := &d.hdr
	mcus, restartLeft := 0, d.restart
	for y := 0; y < h.Height; y++ {
		for x := 0; x < h.Width; x++ {
			if d.restart > 0 && mcus > 0 && restartLeft == 0 {
				d.bits.restart()
				restartLeft = d.restart
				p.row, p.col = y, x
			}
			for i, c := range comps {
				diff, err := d.difference(tables[i])
				if err != nil {
					return fmt.Errorf("row %d, column %d: %w", y, x, err)
				}
				c.plane[y*c.stride+x] = uint16(p.predict(c, x, y) + diff)
			}
			mcus++
			restartLeft--
		}
		if d.bits.overrun() {
			return fmt.Errorf("%w: %d of %d rows decoded", ErrTruncated, y, h.Height)
		}
	}
	return nil
}

// losslessRows decodes a one-component scan whose restart intervals (if any) are whole rows, row by row:
// the common case, and the fast one (no per-sample test of the interval's edges).
func (d *decoder) losslessRows(c *component, t *huffman, p *predictor) error {
	w, height := d.hdr.Width, d.hdr.Height
	rowsPerInterval := d.restart / w
	for y := 0; y < height; y++ {
		if rowsPerInterval > 0 && y > 0 && y%rowsPerInterval == 0 {
			d.bits.restart()
			p.row, p.col = y, 0
		}
		row := c.plane[y*c.stride : y*c.stride+w]
		diff, err := d.difference(t)
		if err != nil {
			return fmt.Errorf("row %d, column 0: %w", y, err)
		}
		row[0] = uint16(p.predict(c, 0, y) + diff)
		if err := d.losslessRow(row, c.plane[max(y-1, 0)*c.stride:], t, y == p.row, p.sel); err != nil {
			return fmt.Errorf("row %d: %w", y, err)
		}
		if d.bits.overrun() {
			return fmt.Errorf("%w: %d of %d rows decoded", ErrTruncated, y, height)
		}
	}
	return nil
}

// losslessRow decodes samples 1… of a row whose sample 0 is decoded; up is the row above, unused in an
// interval's first row, which is predicted from the left.
func (d *decoder) losslessRow(row, up []uint16, t *huffman, first bool, sel int) error {
	if first {
		sel = 1
	}
	up = up[:len(row)]
	for x := 1; x < len(row); x++ {
		diff, err := d.bits.difference(t)
		if err != nil {
			return err
		}
		ra, rb, rc := int32(row[x-1]), int32(up[x]), int32(up[x-1])
		var p int32
		switch sel {
		case 1:
			p = ra
		case 2:
			p = rb
		case 3:
			p = rc
		case 4:
			p = ra + rb - rc
		case 5:
			p = ra + (rb-rc)>>1
		case 6:
			p = rb + (ra-rc)>>1
		default:
			p = (ra + rb) >> 1
		}
		row[x] = uint16(p + diff)
	}
	return nil
}

// difference reads one Huffman-coded difference (T.81 H.1.2.2): a category, then as many bits; category 16
// is 32768 without bits.
func (d *decoder) difference(t *huffman) (int32, error) { return d.bits.difference(t) }

func (b *bitReader) difference(t *huffman) (int32, error) {
	if b.n < 32 {
		b.fill()
	}
	if e := t.look[b.acc>>(64-lookBits)]; e != 0 { // a short code: its category and bits are in acc
		l, s := uint(e>>8), uint(e&0xFF)
		b.acc <<= l
		b.n -= l
		switch {
		case s == 0:
			return 0, nil
		case s >= 16:
			if s > 16 {
				return 0, fmt.Errorf("difference category %d", s)
			}
			return 32768, nil
		}
		v := int32(b.acc >> (64 - s))
		b.acc <<= s
		b.n -= s
		if v < 1<<(s-1) {
			v += -1<<s + 1
		}
		return v, nil
	}
	s, err := b.decode(t)
	switch {
	case err != nil:
		return 0, err
	case s == 16:
		return 32768, nil
	case s > 16:
		return 0, fmt.Errorf("difference category %d", s)
	}
	return b.receiveExtend(int32(s)), nil
}

// predictor is the prediction of a lossless scan: selection value sel (1–7), and the row and column where
// the current restart interval began, whose row is predicted like the image's first row.
type predictor struct {
	sel      int
	first    int32 // the prediction of an interval's first sample: 2^(P−Pt−1)
	row, col int
}

// predict is the prediction of sample (x, y) of c from the samples decoded before it.
func (p *predictor) predict(c *component, x, y int) int32 {
	row := c.plane[y*c.stride:]
	switch {
	case y == p.row && x == p.col:
		return p.first
	case y == p.row:
		return int32(row[x-1]) // the interval's first row: Ra
	case x == 0:
		return int32(c.plane[(y-1)*c.stride]) // first column: Rb
	}
	up := c.plane[(y-1)*c.stride:]
	ra, rb, rc := int32(row[x-1]), int32(up[x]), int32(up[x-1])
	switch p.sel {
	case 1:
		return ra
	case 2:
		return rb
	case 3:
		return rc
	case 4:
		return ra + rb - rc
	case 5:
		return ra + (rb-rc)>>1
	case 6:
		return rb + (ra-rc)>>1
	}
	return (ra + rb) >> 1
}
