//go:build cgo

package charls

/*
#cgo pkg-config: charls
#include <stdlib.h>
#include <charls/charls.h>

// nn_header is what the decoder of one frame learned from its header.
typedef struct {
	charls_jpegls_decoder *dec;
	charls_frame_info info;
	charls_interleave_mode mode;
	int32_t near_lossless;
	size_t size;
	charls_jpegls_errc err;
} nn_header;

// nn_open follows CharLS's call sequence up to the destination size (stride 0: packed).
static void nn_open(nn_header *h, const void *src, size_t len) {
	h->dec = charls_jpegls_decoder_create();
	if (!h->dec) {
		h->err = CHARLS_JPEGLS_ERRC_NOT_ENOUGH_MEMORY;
		return;
	}
	if ((h->err = charls_jpegls_decoder_set_source_buffer(h->dec, src, len))) return;
	if ((h->err = charls_jpegls_decoder_read_header(h->dec))) return;
	if ((h->err = charls_jpegls_decoder_get_frame_info(h->dec, &h->info))) return;
	if ((h->err = charls_jpegls_decoder_get_interleave_mode(h->dec, &h->mode))) return;
	if ((h->err = charls_jpegls_decoder_get_near_lossless(h->dec, 0, &h->near_lossless))) return;
	h->err = charls_jpegls_decoder_get_destination_size(h->dec, 0, &h->size);
}
*/
import "C"

import (
	"fmt"
	"sync"
	"time"
	"unsafe"

	"github.com/neuronova/neuronova/viewer"
)

// Version is the CharLS library linked in.
var Version = func() string {
	var major, minor, patch C.int32_t
	C.charls_get_version_number(&major, &minor, &patch)
	return fmt.Sprintf("%d.%d.%d", major, minor, patch)
}()

func errText(e C.charls_jpegls_errc) string { return C.GoString(C.charls_get_error_message(e)) }

// Header is a JPEG-LS frame's header: size, sample precision, components, interleave and NEAR, the
// largest difference from the original that the encoder allowed (0: lossless).
type Header struct {
	Width, Height, Bits, Components int
	Interleave                      int // 0 none (planes), 1 line, 2 sample
	Near                            int
}

// decoder is an open JPEG-LS frame.
type decoder struct {
	h   C.nn_header
	src unsafe.Pointer
}

func open(frame []byte) (*decoder, error) {
	if len(frame) == 0 {
		return nil, fmt.Errorf("empty frame")
	}
	d := &decoder{src: C.CBytes(frame)}
	C.nn_open(&d.h, d.src, C.size_t(len(frame)))
	if d.h.err != 0 {
		err := fmt.Errorf("%s", errText(d.h.err))
		d.close()
		return nil, err
	}
	return d, nil
}

func (d *decoder) close() {
	if d.h.dec != nil {
		C.charls_jpegls_decoder_destroy(d.h.dec)
	}
	C.free(d.src)
}

func (d *decoder) header() Header {
	return Header{Width: int(d.h.info.width), Height: int(d.h.info.height), Bits: int(d.h.info.bits_per_sample),
		Components: int(d.h.info.component_count), Interleave: int(d.h.mode), Near: int(d.h.near_lossless)}
}

// ReadHeader reads a JPEG-LS frame's header.
func ReadHeader(frame []byte) (Header, error) {
	d, err := open(frame)
	if err != nil {
		return Header{}, err
	}
	defer d.close()
	return d.header(), nil
}

// Decode decodes one JPEG-LS frame into dst as viewer.FrameDecoder describes. The frame's size, components
// and precision are checked against info before any sample is decoded.
func Decode(dst, frame []byte, info viewer.FrameInfo) (viewer.FrameInfo, error) {
	if len(dst) != info.Len() {
		return info, fmt.Errorf("internal: destination of %d bytes for a %d-byte frame", len(dst), info.Len())
	}
	d, err := open(frame)
	if err != nil {
		return info, err
	}
	h := d.header()
	switch {
	case h.Width != info.Columns || h.Height != info.Rows:
		err = fmt.Errorf("frame is %d×%d, the header says %d×%d", h.Width, h.Height, info.Columns, info.Rows)
	case h.Components != info.Samples:
		err = fmt.Errorf("frame has %d components, the header says %d samples per pixel", h.Components, info.Samples)
	case h.Bits > info.BitsAllocated:
		err = fmt.Errorf("frame has %d-bit samples, BitsAllocated is %d", h.Bits, info.BitsAllocated)
	}
	in := 1 // bytes per decoded sample
	if h.Bits > 8 {
		in = 2
	}
	pixels := h.Width * h.Height
	if err == nil && int(d.h.size) != pixels*h.Components*in {
		err = fmt.Errorf("internal: CharLS wants %d bytes for %d×%d×%d samples", d.h.size, h.Width, h.Height, h.Components)
	}
	if err != nil {
		d.close()
		return info, err
	}
	buf, err := d.decodeWithin(deadline(pixels * h.Components))
	if err != nil {
		return info, err
	}
	if in == info.BitsAllocated/8 && (h.Components == 1 || h.Interleave != 0) {
		copy(dst, buf)
	} else {
		interleave(dst, buf, pixels, h.Components, in, info.BitsAllocated/8, h.Interleave == 0)
	}
	C.free(unsafe.Pointer(&buf[0]))
	// JPEG-LS codes the bit pattern of BitsStored bits; the file's header says whether it is signed.
	return info, nil
}

// deadline is how long decoding n samples may take: CharLS decodes tens of millions of samples a second;
// a malformed stream can make CharLS 2.4.1 loop far longer (fixed upstream in 2.4.3, "Prevent endless loop
// during decoding for invalid JPEG-LS input data").
func deadline(n int) time.Duration { return 2*time.Second + time.Duration(n)*100*time.Nanosecond }

// decodeWithin decodes into a C buffer of the destination size, which the caller frees, and closes d. When
// CharLS has not finished within limit, it gives up with an error and leaves d and the buffer to the
// decoding goroutine, which frees them when CharLS returns.
func (d *decoder) decodeWithin(limit time.Duration) ([]byte, error) {
	size := d.h.size
	cbuf := C.malloc(size)
	if cbuf == nil {
		d.close()
		return nil, fmt.Errorf("out of memory for %d bytes", size)
	}
	var (
		mu                  sync.Mutex
		finished, abandoned bool
		result              C.charls_jpegls_errc
		done                = make(chan struct{})
	)
	go func() {
		e := C.charls_jpegls_decoder_decode_to_buffer(d.h.dec, cbuf, size, 0)
		mu.Lock()
		finished, result = true, e
		if abandoned {
			d.close()
			C.free(cbuf)
		}
		mu.Unlock()
		close(done)
	}()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		mu.Lock()
		if !finished {
			abandoned = true
			mu.Unlock()
			return nil, fmt.Errorf("CharLS %s did not finish decoding in %v: the stream is malformed", Version, limit)
		}
		mu.Unlock()
	}
	d.close()
	if result != 0 {
		C.free(cbuf)
		return nil, fmt.Errorf("%s", errText(result))
	}
	return unsafe.Slice((*byte)(cbuf), size), nil
}

// interleave copies samples of in bytes each (planes one after the other when planar) into dst, pixel by
// pixel, in containers of out bytes.
func interleave(dst, src []byte, pixels, comps, in, out int, planar bool) {
	for c := 0; c < comps; c++ {
		for i := 0; i < pixels; i++ {
			k := i*comps + c
			if planar {
				k = c*pixels + i
			}
			v := uint16(src[k*in])
			if in == 2 {
				v |= uint16(src[k*in+1]) << 8
			}
			o := (i*comps + c) * out
			dst[o] = byte(v)
			if out == 2 {
				dst[o+1] = byte(v >> 8)
			}
		}
	}
}

// Transfer syntaxes decoded here.
const (
	JPEGLSLossless     = "1.2.840.10008.1.2.4.80"
	JPEGLSNearLossless = "1.2.840.10008.1.2.4.81"
)

func init() {
	for _, ts := range []string{JPEGLSLossless, JPEGLSNearLossless} {
		viewer.RegisterCodec(viewer.Codec{TransferSyntax: ts, Library: "CharLS " + Version, Decode: Decode})
	}
}
