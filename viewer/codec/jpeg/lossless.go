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
	mcus, restartLeft := 0, d.restart
	for y := 0; y < h.Height; y++ {
		for x := 0; x < h.Width; x++ {
			if d.restart > 0 && mcus > 0 && restartLeft == 0 {
				d.bits.restart()
				restartLeft = d.restart
				p.row, p.col = y, x
			}
			for i := 0; i < n; i++ {
				diff, err := d.difference(tables[i])
				if err != nil {
					return fmt.Errorf("row %d, column %d: %w", y, x, err)
				}
				c := comps[i]
				c.plane[y*c.stride+x] = uint16(p.predict(c, x, y) + diff)
			}
			mcus++
			restartLeft--
		}
		if d.bits.overrun() {
			return fmt.Errorf("%w: %d of %d rows decoded", ErrTruncated, y, h.Height)
		}
	}
	for i := 0; i < n; i++ {
		c := comps[i]
		if pt > 0 {
			for k, v := range c.plane {
				c.plane[k] = v << pt
			}
		}
		c.decodedScans++
	}
	return nil
}

// difference reads one Huffman-coded difference (T.81 H.1.2.2): a category, then as many bits; category 16
// is 32768 without bits.
func (d *decoder) difference(t *huffman) (int32, error) {
	s, err := d.bits.decode(t)
	switch {
	case err != nil:
		return 0, err
	case s == 16:
		return 32768, nil
	case s > 16:
		return 0, fmt.Errorf("difference category %d", s)
	}
	return d.bits.receiveExtend(int32(s)), nil
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
