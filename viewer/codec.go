package viewer

import (
	"fmt"
	"sync"

	"github.com/neuronova/neuronova/internal/dicomkit"
)

// FrameInfo is what a frame decoder is told about the frame it decodes: the Image Pixel module of the file.
type FrameInfo struct {
	Rows, Columns, Samples    int
	BitsAllocated, BitsStored int // BitsAllocated is 8 or 16 for encapsulated data
	Signed                    bool
	Photometric               string
}

// Len is the number of bytes a decoded frame fills: Rows·Columns·Samples containers of BitsAllocated bits.
func (fi FrameInfo) Len() int { return fi.Rows * fi.Columns * fi.Samples * fi.BitsAllocated / 8 }

// FrameDecoder decodes one encapsulated frame into dst (FrameInfo.Len bytes): stored values interleaved by
// pixel, in little-endian containers of BitsAllocated bits, from bit 0. It checks the stream's own header
// against info before it decodes any sample, and fails with an error that says what is wrong. It returns
// info as it describes what was written: Photometric "RGB" when the codec itself turned colour into RGB
// (JPEG 2000's inverse component transform, JPEG's YCbCr), and Signed and BitsStored from the stream when
// the stream declares them and disagrees with the file's header (JPEG 2000's SIZ marker, as GDCM and
// pydicom trust it).
type FrameDecoder func(dst, frame []byte, info FrameInfo) (FrameInfo, error)

// Codec is a registered decoder of one transfer syntax.
type Codec struct {
	TransferSyntax string
	Library        string // what decodes it, for messages: "OpenJPEG 2.5.0", "CharLS 2.4.1", "Go"
	Decode         FrameDecoder
}

var codecs = struct {
	sync.RWMutex
	m map[string]Codec
}{m: map[string]Codec{}}

// RegisterCodec makes LoadSeries decode pixel data of c.TransferSyntax with c.Decode. Packages that wrap
// C libraries call it from init, so that the viewer's core builds without cgo; the last registration of a
// syntax wins.
func RegisterCodec(c Codec) {
	codecs.Lock()
	defer codecs.Unlock()
	codecs.m[c.TransferSyntax] = c
}

func lookupCodec(ts string) (Codec, bool) {
	codecs.RLock()
	defer codecs.RUnlock()
	c, ok := codecs.m[ts]
	return c, ok
}

// CanDecode reports whether LoadSeries decodes pixel data in transfer syntax ts: the syntaxes the viewer
// decodes itself (dicomkit.Syntax.BuiltIn: native, deflated, RLE and baseline JPEG) always, other syntaxes
// when a codec is registered for them.
func CanDecode(ts string) bool {
	s, err := dicomkit.LookupSyntax(ts)
	if err != nil {
		return false
	}
	if s.BuiltIn() {
		return true
	}
	_, ok := lookupCodec(ts)
	return ok
}

// frameInfo is the FrameInfo of a file's pixel format.
func (p *pixelFormat) frameInfo() FrameInfo {
	return FrameInfo{Rows: p.rows, Columns: p.cols, Samples: p.samples, BitsAllocated: p.bitsAllocated,
		BitsStored: p.bitsStored, Signed: p.signed, Photometric: p.photometric}
}

// decodeWithCodec decodes an encapsulated frame with the syntax's registered codec into scratch and converts
// it into dst like native data. It returns the photometric interpretation of the values written.
func decodeWithCodec(dst []float32, f *File, frame []byte, m affine, scratch *[]byte) (string, error) {
	c, ok := lookupCodec(f.syntax.UID)
	if !ok {
		return "", fmt.Errorf("%w: %s (no decoder for it in this build)", ErrUnsupportedTransferSyntax, f.syntax)
	}
	p := &f.pix
	if p.bitsAllocated != 8 && p.bitsAllocated != 16 {
		return "", fmt.Errorf("%s with BitsAllocated %d is not supported (8 or 16)", f.syntax.Name, p.bitsAllocated)
	}
	info := p.frameInfo()
	need := info.Len()
	if cap(*scratch) < need {
		*scratch = make([]byte, need)
	}
	buf := (*scratch)[:need]
	got, err := c.Decode(buf, frame, info)
	if err != nil {
		return "", fmt.Errorf("%s (%s): %w", f.syntax.Name, c.Library, err)
	}
	q := *p
	if got.BitsStored > 0 && got.BitsStored <= q.bitsAllocated {
		q.bitsStored, q.signed = got.BitsStored, got.Signed
	}
	q.planar = false             // decoders interleave samples by pixel
	q.highBit = q.bitsStored - 1 // and write values from bit 0
	if q.photometric == "YBR_FULL_422" {
		q.photometric = "YBR_FULL" // decoders return full-resolution chroma
	}
	if err := convertNative(dst, buf, &q, false, m); err != nil {
		return "", err
	}
	return got.Photometric, nil
}
