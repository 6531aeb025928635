package jpeg

import "fmt"

// losslessScan decodes a lossless scan (ITU-T T.81 Annex H): each sample is its prediction from the
// neighbours Ra (left), Rb (above) and Rc (above left) plus a Huffman-coded difference, modulo 2^16.
func (d *decoder) losslessScan() error {
	sc := &d.sc
	h := &d.hdr
	pred, pt := sc.ss, uint(sc.al)
	mask := int32(1)<<16 - 1
	first := int32(1) << (h.Precision - int(pt) - 1) // prediction of the first sample of an interval
	w := h.Width
	var comps [maxComps]*component
	var tables [maxComps]*huffman
	n := len(sc.comps)
	for i, k := range sc.comps {
		comps[i], tables[i] = &d.comps[k], &d.dc[d.comps[k].dcTbl]
	}
	b := &d.bits
	mcus, restartLeft := 0, d.restart
	// The row and column where the current restart interval began: its first row is predicted like the
	// image's first row.
	intervalRow, intervalX := 0, 0
	for y := 0; y < h.Height; y++ {
		for x := 0; x < w; x++ {
			if d.restart > 0 && mcus > 0 && restartLeft == 0 {
				b.restart()
				restartLeft = d.restart
				intervalRow, intervalX = y, x
			}
			for i := 0; i < n; i++ {
				c := comps[i]
				s, err := b.decode(tables[i])
				if err != nil {
					return fmt.Errorf("row %d, column %d: %w", y, x, err)
				}
				var diff int32
				switch {
				case s == 16:
					diff = 32768
				case s > 16:
					return fmt.Errorf("row %d, column %d: difference category %d", y, x, s)
				default:
					diff = b.receiveExtend(int32(s))
				}
				row := c.plane[y*c.stride:]
				var p int32
				switch {
				case y == intervalRow && x == intervalX:
					p = first
				case y == intervalRow:
					p = int32(row[x-1]) // first row of the interval: Ra
				case x == 0:
					p = int32(c.plane[(y-1)*c.stride]) // first column: Rb
				default:
					up := c.plane[(y-1)*c.stride:]
					ra, rb, rc := int32(row[x-1]), int32(up[x]), int32(up[x-1])
					switch pred {
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
				}
				row[x] = uint16((p + diff) & mask)
			}
			mcus++
			restartLeft--
		}
		if b.overrun() {
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
