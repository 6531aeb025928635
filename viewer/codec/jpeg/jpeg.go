// Package jpeg decodes the JPEG processes DICOM uses beyond baseline that Go's image/jpeg does not: lossless
// (process 14, any predictor, SOF3, up to 16 bits) and sequential DCT with 12-bit samples (processes 2 and 4,
// SOF0/SOF1, Huffman coded). It is written for DICOM frames: the caller knows the image size and passes a
// destination of exactly the size the frame's header declares, so that nothing is allocated for a header
// that disagrees. The inverse DCT is the IJG's integer one (jidctint.c), the one GDCM and dcmtk use, so
// that both decode a stream to the same values.
package jpeg

import (
	"errors"
	"fmt"
)

// ErrTruncated is returned when the entropy-coded data ends before the image.
var ErrTruncated = errors.New("JPEG data ends before the image is complete")

// Process is the coding process of a frame (its SOF marker).
type Process uint8

const (
	Baseline   Process = 0 // SOF0: 8-bit sequential DCT, Huffman
	Extended   Process = 1 // SOF1: 8- or 12-bit sequential DCT, Huffman
	Lossless   Process = 3 // SOF3: lossless, Huffman
	maxComps           = 4 // components of a frame
	maxSamples         = 4 // horizontal or vertical sampling factor
)

func (p Process) String() string {
	switch p {
	case Baseline:
		return "baseline"
	case Extended:
		return "extended"
	case Lossless:
		return "lossless"
	}
	return fmt.Sprintf("SOF%d", uint8(p))
}

// Header is what a frame's markers say before its first scan.
type Header struct {
	Process       Process
	Width, Height int
	Precision     int // bits per sample: 8 or 12 (DCT), 2–16 (lossless)
	Components    int
	// ColourTransform: a three-component DCT frame holds YCbCr that decoding turns into RGB (JFIF or Adobe
	// transform 1 or, without either, component IDs other than 'R','G','B').
	ColourTransform bool
}

type component struct {
	id, h, v, tq int
	// plane: the decoded samples, stride × rows (padded to whole blocks for DCT).
	plane            []uint16
	stride, rows     int
	dcPred           int
	blocksW, blocksH int // blocks of this component in a non-interleaved scan
	dcTbl, acTbl     int
	decodedScans     int
}

type decoder struct {
	data    []byte
	pos     int
	hdr     Header
	comps   []component
	hmax    int
	vmax    int
	quant   [4][64]int32
	haveQ   [4]bool
	dc, ac  [4]huffman
	restart int // restart interval in MCUs
	adobe   int // Adobe transform flag, -1 when absent
	jfif    bool
	sawSOF  bool
	sc      scanState
	bits    bitReader
}

// ReadHeader reads the markers of a frame up to its first scan.
func ReadHeader(data []byte) (Header, error) {
	d := &decoder{data: data, adobe: -1}
	if err := d.readUntilScan(); err != nil {
		return Header{}, err
	}
	return d.hdr, nil
}

// Decode decodes a lossless or sequential DCT frame into dst: Width·Height·Components samples interleaved
// by pixel, each in a little-endian container of bytesPer bytes (1 or 2). dst must have exactly that
// length; the frame's header is checked first. A three-component DCT frame coded in YCbCr comes out as RGB
// (Header.ColourTransform).
func Decode(dst, data []byte, bytesPer int) (Header, error) {
	d := &decoder{data: data, adobe: -1}
	if err := d.readUntilScan(); err != nil {
		return Header{}, err
	}
	h := &d.hdr
	if bytesPer != 1 && bytesPer != 2 {
		return *h, fmt.Errorf("internal: %d bytes per sample", bytesPer)
	}
	if h.Precision > 8*bytesPer {
		return *h, fmt.Errorf("%d-bit samples do not fit %d-byte containers", h.Precision, bytesPer)
	}
	if want := h.Width * h.Height * h.Components * bytesPer; len(dst) != want {
		return *h, fmt.Errorf("frame of %d×%d×%d samples needs %d bytes, the destination has %d", h.Width, h.Height, h.Components, want, len(dst))
	}
	d.allocate()
	for {
		if err := d.scan(); err != nil {
			return *h, err
		}
		more, err := d.nextScan()
		if err != nil {
			return *h, err
		}
		if !more {
			break
		}
	}
	for i := range d.comps {
		if d.comps[i].decodedScans == 0 {
			return *h, fmt.Errorf("%w: component %d has no scan", ErrTruncated, d.comps[i].id)
		}
	}
	d.output(dst, bytesPer)
	return *h, nil
}

func (d *decoder) u16(at int) int { return int(d.data[at])<<8 | int(d.data[at+1]) }

// segment returns the payload of the marker segment at d.pos (after its marker) and advances past it.
func (d *decoder) segment() ([]byte, error) {
	if d.pos+2 > len(d.data) {
		return nil, fmt.Errorf("%w: marker segment without its length", ErrTruncated)
	}
	n := d.u16(d.pos)
	if n < 2 || d.pos+n > len(d.data) {
		return nil, fmt.Errorf("%w: marker segment of %d bytes, %d left", ErrTruncated, n, len(d.data)-d.pos)
	}
	s := d.data[d.pos+2 : d.pos+n]
	d.pos += n
	return s, nil
}

// marker reads the next marker, skipping fill bytes.
func (d *decoder) marker() (byte, error) {
	for d.pos < len(d.data) && d.data[d.pos] != 0xFF {
		d.pos++ // garbage between segments, which the IJG skips with a warning
	}
	for d.pos < len(d.data) && d.data[d.pos] == 0xFF {
		d.pos++
	}
	if d.pos >= len(d.data) {
		return 0, fmt.Errorf("%w: no more markers", ErrTruncated)
	}
	m := d.data[d.pos]
	d.pos++
	return m, nil
}

// readUntilScan reads SOI and the table, frame and application segments up to the first SOS, whose
// header it reads too.
func (d *decoder) readUntilScan() error {
	if len(d.data) < 2 || d.data[0] != 0xFF || d.data[1] != 0xD8 {
		return fmt.Errorf("not a JPEG stream (no start-of-image marker)")
	}
	d.pos = 2
	for {
		m, err := d.marker()
		if err != nil {
			return err
		}
		done, err := d.tables(m)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}

// tables handles one marker before a scan; done is true after an SOS header.
func (d *decoder) tables(m byte) (done bool, err error) {
	switch {
	case m == 0xC0 || m == 0xC1 || m == 0xC3:
		if d.sawSOF {
			return false, fmt.Errorf("two frame headers")
		}
		s, err := d.segment()
		if err != nil {
			return false, err
		}
		return false, d.frame(Process(m-0xC0), s)
	case m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC:
		return false, fmt.Errorf("JPEG process SOF%d (%s) is not supported", m-0xC0, sofName(m))
	case m == 0xC4:
		s, err := d.segment()
		if err != nil {
			return false, err
		}
		return false, d.huffmanTables(s)
	case m == 0xDB:
		s, err := d.segment()
		if err != nil {
			return false, err
		}
		return false, d.quantTables(s)
	case m == 0xDD:
		s, err := d.segment()
		if err != nil {
			return false, err
		}
		if len(s) < 2 {
			return false, fmt.Errorf("DRI segment of %d bytes", len(s))
		}
		d.restart = int(s[0])<<8 | int(s[1])
		return false, nil
	case m == 0xDA:
		if !d.sawSOF {
			return false, fmt.Errorf("scan before the frame header")
		}
		s, err := d.segment()
		if err != nil {
			return false, err
		}
		return true, d.scanHeader(s)
	case m == 0xD8:
		return false, fmt.Errorf("a second start-of-image marker")
	case m == 0xD9:
		return false, fmt.Errorf("%w: end of image before any scan", ErrTruncated)
	case m >= 0xD0 && m <= 0xD7, m == 0x01:
		return false, nil // standalone markers
	default: // APPn, COM, DNL, DHP, EXP…
		s, err := d.segment()
		if err != nil {
			return false, err
		}
		switch {
		case m == 0xE0 && len(s) >= 5 && string(s[:5]) == "JFIF\x00":
			d.jfif = true
		case m == 0xEE && len(s) >= 12 && string(s[:5]) == "Adobe":
			d.adobe = int(s[11])
		}
		return false, nil
	}
}

func sofName(m byte) string {
	switch m {
	case 0xC2, 0xC6, 0xCA, 0xCE:
		return "progressive"
	case 0xC5, 0xC7, 0xCD, 0xCF:
		return "hierarchical"
	}
	return "arithmetic coding"
}

// frame reads an SOF segment.
func (d *decoder) frame(p Process, s []byte) error {
	if len(s) < 6 {
		return fmt.Errorf("frame header of %d bytes", len(s))
	}
	h := &d.hdr
	h.Process, h.Precision = p, int(s[0])
	h.Height, h.Width, h.Components = int(s[1])<<8|int(s[2]), int(s[3])<<8|int(s[4]), int(s[5])
	switch {
	case p == Lossless && (h.Precision < 2 || h.Precision > 16):
		return fmt.Errorf("lossless frame with %d-bit samples (2 to 16)", h.Precision)
	case p == Baseline && h.Precision != 8, p == Extended && h.Precision != 8 && h.Precision != 12:
		return fmt.Errorf("%s frame with %d-bit samples", p, h.Precision)
	case h.Width == 0 || h.Height == 0:
		return fmt.Errorf("frame of %d×%d samples (a DNL marker is not supported)", h.Width, h.Height)
	case h.Components < 1 || h.Components > maxComps:
		return fmt.Errorf("frame with %d components", h.Components)
	case len(s) < 6+3*h.Components:
		return fmt.Errorf("frame header of %d bytes for %d components", len(s), h.Components)
	}
	d.comps = make([]component, h.Components)
	d.hmax, d.vmax = 1, 1
	for i := range d.comps {
		c := &d.comps[i]
		c.id, c.h, c.v, c.tq = int(s[6+3*i]), int(s[7+3*i]>>4), int(s[7+3*i]&15), int(s[8+3*i])
		if c.h < 1 || c.h > maxSamples || c.v < 1 || c.v > maxSamples || c.tq > 3 {
			return fmt.Errorf("component %d has sampling %d×%d and quantisation table %d", c.id, c.h, c.v, c.tq)
		}
		if p == Lossless && (c.h != 1 || c.v != 1) {
			return fmt.Errorf("lossless component %d is subsampled %d×%d, which is not supported", c.id, c.h, c.v)
		}
		for j := 0; j < i; j++ {
			if d.comps[j].id == c.id {
				return fmt.Errorf("two components with ID %d", c.id)
			}
		}
		d.hmax, d.vmax = max(d.hmax, c.h), max(d.vmax, c.v)
	}
	d.sawSOF = true
	return nil
}

// colourTransform decides, as the IJG does, whether three DCT components are YCbCr.
func (d *decoder) colourTransform() bool {
	if d.hdr.Components != 3 || d.hdr.Process == Lossless {
		return false
	}
	switch {
	case d.jfif:
		return true
	case d.adobe >= 0:
		return d.adobe != 0
	}
	return !(d.comps[0].id == 'R' && d.comps[1].id == 'G' && d.comps[2].id == 'B')
}

func (d *decoder) quantTables(s []byte) error {
	for len(s) > 0 {
		pq, tq := s[0]>>4, s[0]&15
		if tq > 3 || pq > 1 {
			return fmt.Errorf("quantisation table %d with precision %d", tq, pq)
		}
		n := 64 << pq
		if len(s) < 1+n {
			return fmt.Errorf("quantisation table %d is cut short", tq)
		}
		for k := 0; k < 64; k++ {
			v := int32(s[1+k])
			if pq == 1 {
				v = int32(s[1+2*k])<<8 | int32(s[2+2*k])
			}
			d.quant[tq][zigzag[k]] = v
		}
		d.haveQ[tq] = true
		s = s[1+n:]
	}
	return nil
}

func (d *decoder) huffmanTables(s []byte) error {
	for len(s) > 0 {
		if len(s) < 17 {
			return fmt.Errorf("Huffman table header is cut short")
		}
		class, th := s[0]>>4, s[0]&15
		if class > 1 || th > 3 {
			return fmt.Errorf("Huffman table of class %d, number %d", class, th)
		}
		var counts [16]int
		total := 0
		for i := range counts {
			counts[i] = int(s[1+i])
			total += counts[i]
		}
		if total > 256 || len(s) < 17+total {
			return fmt.Errorf("Huffman table with %d codes is cut short or too long", total)
		}
		t := &d.dc[th]
		if class == 1 {
			t = &d.ac[th]
		}
		if err := t.build(counts, s[17:17+total]); err != nil {
			return err
		}
		s = s[17+total:]
	}
	return nil
}

// scanState is the header of the scan being decoded.
type scanState struct {
	comps    []int // indices into d.comps
	ss, se   int   // spectral selection; for lossless, ss is the predictor
	ah, al   int   // successive approximation; for lossless, al is the point transform
	complete bool
}

func (d *decoder) scanHeader(s []byte) error {
	if len(s) < 1 {
		return fmt.Errorf("empty scan header")
	}
	n := int(s[0])
	if n < 1 || n > len(d.comps) || len(s) < 4+2*n {
		return fmt.Errorf("scan header for %d components", n)
	}
	sc := &d.sc
	*sc = scanState{}
	blocks := 0
	for i := 0; i < n; i++ {
		id, tables := int(s[1+2*i]), s[2+2*i]
		k := -1
		for j := range d.comps {
			if d.comps[j].id == id {
				k = j
			}
		}
		if k < 0 {
			return fmt.Errorf("scan names component %d, which the frame lacks", id)
		}
		for _, prev := range sc.comps {
			if prev == k {
				return fmt.Errorf("scan names component %d twice", id)
			}
		}
		c := &d.comps[k]
		c.dcTbl, c.acTbl = int(tables>>4), int(tables&15)
		if c.dcTbl > 3 || c.acTbl > 3 {
			return fmt.Errorf("component %d uses Huffman tables %d/%d", id, c.dcTbl, c.acTbl)
		}
		sc.comps = append(sc.comps, k)
		blocks += c.h * c.v
	}
	if n > 1 && blocks > 10 {
		return fmt.Errorf("scan with %d blocks per MCU (at most 10)", blocks)
	}
	sc.ss, sc.se, sc.ah, sc.al = int(s[1+2*n]), int(s[2+2*n]), int(s[3+2*n]>>4), int(s[3+2*n]&15)
	if d.hdr.Process == Lossless {
		if sc.ss < 1 || sc.ss > 7 || sc.al >= d.hdr.Precision {
			return fmt.Errorf("lossless scan with predictor %d and point transform %d", sc.ss, sc.al)
		}
	}
	// A sequential scan's spectral selection and approximation must be 0–63 and 0/0; like the IJG (which
	// only warns), ignore other values, which some encoders write.
	for _, k := range sc.comps {
		c := &d.comps[k]
		if !d.dc[c.dcTbl].ok || (d.hdr.Process != Lossless && !d.ac[c.acTbl].ok) {
			return fmt.Errorf("component %d uses a Huffman table the stream does not define", c.id)
		}
		if d.hdr.Process != Lossless && !d.haveQ[c.tq] {
			return fmt.Errorf("component %d uses quantisation table %d, which the stream does not define", c.id, c.tq)
		}
	}
	d.bits = bitReader{data: d.data, pos: d.pos}
	return nil
}

// nextScan reads the markers after a scan: true when another scan follows, false at the end of the image.
func (d *decoder) nextScan() (bool, error) {
	d.pos = d.bits.end()
	for {
		m, err := d.marker()
		if err != nil {
			if allDecoded(d.comps) {
				return false, nil // no EOI: the image is complete all the same
			}
			return false, err
		}
		if m == 0xD9 {
			return false, nil
		}
		if m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC {
			return false, fmt.Errorf("a second frame header")
		}
		done, err := d.tables(m)
		if err != nil {
			return false, err
		}
		if done {
			return true, nil
		}
	}
}

func allDecoded(cs []component) bool {
	for i := range cs {
		if cs[i].decodedScans == 0 {
			return false
		}
	}
	return true
}

// allocate makes each component's plane: whole MCUs for DCT, the image size for lossless.
func (d *decoder) allocate() {
	h := &d.hdr
	d.hdr.ColourTransform = d.colourTransform()
	mcuW, mcuH := 8*d.hmax, 8*d.vmax
	if h.Process == Lossless {
		mcuW, mcuH = 1, 1
	}
	mcusX, mcusY := (h.Width+mcuW-1)/mcuW, (h.Height+mcuH-1)/mcuH
	for i := range d.comps {
		c := &d.comps[i]
		if h.Process == Lossless {
			c.stride, c.rows = h.Width, h.Height
		} else {
			c.stride, c.rows = mcusX*c.h*8, mcusY*c.v*8
			// A non-interleaved scan covers only the blocks that hold samples of the component.
			cw := (h.Width*c.h + d.hmax - 1) / d.hmax
			ch := (h.Height*c.v + d.vmax - 1) / d.vmax
			c.blocksW, c.blocksH = (cw+7)/8, (ch+7)/8
		}
		c.plane = make([]uint16, c.stride*c.rows)
	}
}

func (d *decoder) scan() error {
	if d.hdr.Process == Lossless {
		return d.losslessScan()
	}
	return d.dctScan()
}

// restartAt handles a restart marker after an interval: byte alignment, the RSTn marker, reset predictors.
func (d *decoder) restartAt() {
	d.bits.restart()
	for _, k := range d.sc.comps {
		d.comps[k].dcPred = 0
	}
}

// output writes the planes into dst, upsampling subsampled components, and turning YCbCr into RGB when
// the frame is coded that way.
func (d *decoder) output(dst []byte, bytesPer int) {
	h := &d.hdr
	nc, w := h.Components, h.Width
	rows := make([][]uint16, nc)
	wide := make([][]uint16, nc) // rows upsampled to the full width
	for ci := range d.comps {
		if d.comps[ci].h != d.hmax {
			wide[ci] = make([]uint16, w+1)
		}
	}
	maxv := int32(1)<<h.Precision - 1
	for y := 0; y < h.Height; y++ {
		for ci := range d.comps {
			c := &d.comps[ci]
			cy := y * c.v / d.vmax
			rows[ci] = c.plane[cy*c.stride:]
			if wide[ci] == nil {
				continue
			}
			n := (w*c.h + d.hmax - 1) / d.hmax
			if 2*c.h == d.hmax && 2*c.v == d.vmax && n >= 2 {
				// The nearer neighbouring row of the component: above for even rows, below for odd ones,
				// the edge row itself at the edges.
				last := (h.Height*c.v+d.vmax-1)/d.vmax - 1
				nb := min(max(cy+2*(y%2)-1, 0), last)
				upsampleH2V2(wide[ci], rows[ci], c.plane[nb*c.stride:], n)
			} else {
				upsample(wide[ci], rows[ci], c.h, d.hmax, n)
			}
			rows[ci] = wide[ci]
		}
		o := y * w * nc * bytesPer
		if h.ColourTransform {
			for x := 0; x < w; x++ {
				r, g, b := ycc(int32(rows[0][x]), int32(rows[1][x]), int32(rows[2][x]), h.Precision, maxv)
				put(dst, o, r, bytesPer)
				put(dst, o+bytesPer, g, bytesPer)
				put(dst, o+2*bytesPer, b, bytesPer)
				o += 3 * bytesPer
			}
			continue
		}
		for x := 0; x < w; x++ {
			for ci := 0; ci < nc; ci++ {
				put(dst, o, rows[ci][x], bytesPer)
				o += bytesPer
			}
		}
	}
}

// upsample widens n samples of a component sampled h times where the frame's maximum is hmax: halved
// components (the YBR_FULL_422 case) with the IJG's "fancy" triangle filter (jdsample.c
// h2v1_fancy_upsample), others by replication; vertical subsampling other than 2×2 is replicated.
func upsample(dst, src []uint16, h, hmax, n int) {
	if 2*h == hmax && n >= 2 {
		dst[0], dst[1] = src[0], uint16((3*int(src[0])+int(src[1])+2)>>2)
		for i := 1; i < n-1; i++ {
			v := 3 * int(src[i])
			dst[2*i] = uint16((v + int(src[i-1]) + 1) >> 2)
			dst[2*i+1] = uint16((v + int(src[i+1]) + 2) >> 2)
		}
		dst[2*n-2] = uint16((3*int(src[n-1]) + int(src[n-2]) + 1) >> 2)
		dst[2*n-1] = src[n-1]
		return
	}
	for x := range dst {
		dst[x] = src[min(x*h/hmax, len(src)-1)]
	}
}

// ycc converts YCbCr to RGB the way the IJG's jdcolor.c does: 16-bit fixed-point factors, rounded.
func ycc(y, cb, cr int32, precision int, maxv int32) (r, g, b uint16) {
	const (
		scale = 16
		half  = 1 << (scale - 1)
		fr    = 91881  // 1.40200 · 2^16, rounded
		fb    = 116130 // 1.77200 · 2^16
		fg1   = 46802  // 0.71414 · 2^16
		fg2   = 22554  // 0.34414 · 2^16
	)
	center := int32(1) << (precision - 1)
	cb, cr = cb-center, cr-center
	clamp := func(v int32) uint16 { return uint16(min(max(v, 0), maxv)) }
	r = clamp(y + int32((int64(fr)*int64(cr)+half)>>scale))
	g = clamp(y + int32((-int64(fg2)*int64(cb)-int64(fg1)*int64(cr)+half)>>scale))
	b = clamp(y + int32((int64(fb)*int64(cb)+half)>>scale))
	return r, g, b
}

// upsampleH2V2 doubles a component halved both ways (4:2:0) with the IJG's triangle filter (jdsample.c
// h2v2_fancy_upsample): each output sample weighs the nearest input sample 9, its nearer neighbours 3 and
// the diagonal one 1; cur is the component row, nb the nearer neighbouring row, n their samples.
func upsampleH2V2(dst, cur, nb []uint16, n int) {
	col := func(i int) int { return 3*int(cur[i]) + int(nb[i]) }
	this, next := col(0), col(1)
	dst[0] = uint16((this*4 + 8) >> 4)
	dst[1] = uint16((this*3 + next + 7) >> 4)
	last := this
	for i := 1; i < n-1; i++ {
		last, this, next = this, next, col(i+1)
		dst[2*i] = uint16((this*3 + last + 8) >> 4)
		dst[2*i+1] = uint16((this*3 + next + 7) >> 4)
	}
	last, this = this, next
	dst[2*n-2] = uint16((this*3 + last + 8) >> 4)
	dst[2*n-1] = uint16((this*4 + 7) >> 4)
}

func put(dst []byte, o int, v uint16, bytesPer int) {
	dst[o] = byte(v)
	if bytesPer == 2 {
		dst[o+1] = byte(v >> 8)
	}
}
