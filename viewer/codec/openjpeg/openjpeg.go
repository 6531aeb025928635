//go:build cgo

package openjpeg

/*
#cgo pkg-config: libopenjp2
#include <stdlib.h>
#include <string.h>
#include <openjpeg.h>

// A memory source for opj_stream_t.
typedef struct {
	const unsigned char *data;
	OPJ_SIZE_T len, pos;
} nn_src;

static OPJ_SIZE_T nn_read(void *buf, OPJ_SIZE_T n, void *ud) {
	nn_src *s = ud;
	if (s->pos >= s->len) return (OPJ_SIZE_T)-1;
	OPJ_SIZE_T k = s->len - s->pos;
	if (k > n) k = n;
	memcpy(buf, s->data + s->pos, k);
	s->pos += k;
	return k;
}

static OPJ_OFF_T nn_skip(OPJ_OFF_T n, void *ud) {
	nn_src *s = ud;
	if (n < 0) {
		if ((OPJ_SIZE_T)(-n) > s->pos) n = -(OPJ_OFF_T)s->pos;
	} else if ((OPJ_SIZE_T)n > s->len - s->pos) {
		n = (OPJ_OFF_T)(s->len - s->pos);
	}
	s->pos += n;
	return n;
}

static OPJ_BOOL nn_seek(OPJ_OFF_T n, void *ud) {
	nn_src *s = ud;
	if (n < 0 || (OPJ_SIZE_T)n > s->len) return OPJ_FALSE;
	s->pos = (OPJ_SIZE_T)n;
	return OPJ_TRUE;
}

// The decoder of one frame and the first error OpenJPEG reported.
typedef struct {
	nn_src src;
	opj_stream_t *stream;
	opj_codec_t *codec;
	opj_image_t *image;
	char err[256];
} nn_dec;

static void nn_error(const char *msg, void *ud) {
	nn_dec *d = ud;
	if (d->err[0] == 0) {
		strncpy(d->err, msg, sizeof d->err - 1);
		size_t n = strlen(d->err);
		while (n > 0 && (d->err[n - 1] == '\n' || d->err[n - 1] == ' ')) d->err[--n] = 0;
	}
}

static void nn_quiet(const char *msg, void *ud) { (void)msg; (void)ud; }

static void nn_close(nn_dec *d) {
	if (d->image) opj_image_destroy(d->image);
	if (d->codec) opj_destroy_codec(d->codec);
	if (d->stream) opj_stream_destroy(d->stream);
	free(d);
}

// nn_open reads the main header of a J2K codestream (jp2 = 0) or a JP2 file (jp2 = 1), from a copy of
// data kept after the decoder.
static nn_dec *nn_open(const unsigned char *data, size_t len, int jp2) {
	nn_dec *d = calloc(1, sizeof *d + len);
	if (!d) return NULL;
	memcpy(d + 1, data, len);
	d->src.data = (const unsigned char *)(d + 1);
	d->src.len = len;
	d->stream = opj_stream_create(1 << 16, OPJ_TRUE);
	d->codec = opj_create_decompress(jp2 ? OPJ_CODEC_JP2 : OPJ_CODEC_J2K);
	if (!d->stream || !d->codec) {
		strcpy(d->err, "out of memory");
		return d;
	}
	opj_stream_set_user_data(d->stream, &d->src, NULL);
	opj_stream_set_user_data_length(d->stream, len);
	opj_stream_set_read_function(d->stream, nn_read);
	opj_stream_set_skip_function(d->stream, nn_skip);
	opj_stream_set_seek_function(d->stream, nn_seek);
	opj_set_error_handler(d->codec, nn_error, d);
	opj_set_warning_handler(d->codec, nn_quiet, NULL);
	opj_set_info_handler(d->codec, nn_quiet, NULL);
	opj_dparameters_t params;
	opj_set_default_decoder_parameters(&params);
	if (!opj_setup_decoder(d->codec, &params)) {
		if (!d->err[0]) strcpy(d->err, "decoder set-up failed");
		return d;
	}
	opj_decoder_set_strict_mode(d->codec, OPJ_TRUE);
	if (!opj_read_header(d->stream, d->codec, &d->image)) {
		if (!d->err[0]) strcpy(d->err, "cannot read the main header");
		d->image = NULL;
	}
	return d;
}

static int nn_decode(nn_dec *d) {
	if (!opj_decode(d->codec, d->stream, d->image) || !opj_end_decompress(d->codec, d->stream)) {
		if (!d->err[0]) strcpy(d->err, "decoding failed");
		return 0;
	}
	return 1;
}

static opj_image_comp_t *nn_comp(nn_dec *d, int i) { return &d->image->comps[i]; }

// nn_copy writes the decoded components interleaved into dst, as bytes (bytes = 1) or little-endian 16-bit
// words (bytes = 2); each value is masked to its container.
static int nn_copy(nn_dec *d, unsigned char *dst, size_t pixels, int bytes) {
	int nc = d->image->numcomps;
	for (int c = 0; c < nc; c++) {
		const OPJ_INT32 *v = d->image->comps[c].data;
		if (!v) return 0;
		if (bytes == 1) {
			unsigned char *o = dst + c;
			for (size_t i = 0; i < pixels; i++, o += nc) *o = (unsigned char)v[i];
		} else {
			unsigned char *o = dst + 2 * c;
			for (size_t i = 0; i < pixels; i++, o += 2 * nc) {
				OPJ_UINT32 u = (OPJ_UINT32)v[i];
				o[0] = (unsigned char)u;
				o[1] = (unsigned char)(u >> 8);
			}
		}
	}
	return 1;
}
*/
import "C"

import (
	"bytes"
	"fmt"
	"unsafe"

	"github.com/neuronova/neuronova/viewer"
)

// Version is the OpenJPEG library linked in.
var Version = C.GoString(C.opj_version())

// jp2Signature starts a JP2 file (a codestream wrapped in boxes), which some writers put in DICOM.
var jp2Signature = []byte("\x00\x00\x00\x0cjP  \r\n\x87\n")

// Header is a codestream's image size, components and sample precision.
type Header struct {
	Width, Height, Components, Precision int
	Signed                               bool
}

// ReadHeader reads the main header of a JPEG 2000 or HTJ2K frame.
func ReadHeader(frame []byte) (Header, error) {
	d, err := open(frame, nil)
	if err != nil {
		return Header{}, err
	}
	defer C.nn_close(d)
	img := d.image
	h := Header{Width: int(img.x1) - int(img.x0), Height: int(img.y1) - int(img.y0), Components: int(img.numcomps)}
	if h.Components > 0 {
		c := C.nn_comp(d, 0)
		h.Precision, h.Signed = int(c.prec), c.sgnd != 0
	}
	return h, nil
}

// open reads a frame's main header, after its SIZ marker segment has passed readSIZ and check (when not
// nil); the caller closes the decoder.
func open(frame []byte, check func(siz) error) (*C.nn_dec, error) {
	jp2 := C.int(0)
	if bytes.HasPrefix(frame, jp2Signature) {
		jp2 = 1
	} else if len(frame) < 2 || frame[0] != 0xFF || frame[1] != 0x4F {
		return nil, fmt.Errorf("frame does not start with a JPEG 2000 codestream (SOC marker) or a JP2 signature")
	}
	s, err := readSIZ(frame)
	if err == nil && check != nil {
		err = check(s)
	}
	if err != nil {
		return nil, err
	}
	// nn_dec keeps a copy of the frame in C memory: no Go pointer is kept by C.
	d := C.nn_open((*C.uchar)(unsafe.Pointer(&frame[0])), C.size_t(len(frame)), jp2)
	if d == nil {
		return nil, fmt.Errorf("out of memory")
	}
	if d.image == nil {
		err := fmt.Errorf("%s", C.GoString(&d.err[0]))
		C.nn_close(d)
		return nil, err
	}
	return d, nil
}

// Decode decodes one JPEG 2000 or HTJ2K frame (a J2K codestream, or a JP2 file) into dst as
// viewer.FrameDecoder describes. The codestream's size, component count, subsampling and precision are
// checked against info before any sample is decoded.
func Decode(dst, frame []byte, info viewer.FrameInfo) (viewer.FrameInfo, error) {
	out := info
	if len(dst) != info.Len() {
		return out, fmt.Errorf("internal: destination of %d bytes for a %d-byte frame", len(dst), info.Len())
	}
	d, err := open(frame, func(s siz) error { return checkSize(s.Width, s.Height, s.Components, info) })
	if err != nil {
		return out, err
	}
	defer C.nn_close(d)
	img := d.image
	w, h := int(img.x1)-int(img.x0), int(img.y1)-int(img.y0)
	if err := checkSize(w, h, int(img.numcomps), info); err != nil {
		return out, err
	}
	prec, sgnd := 0, false
	for i := 0; i < int(img.numcomps); i++ {
		c := C.nn_comp(d, C.int(i))
		if c.dx != 1 || c.dy != 1 {
			return out, fmt.Errorf("component %d is subsampled %d×%d, which DICOM does not allow", i, c.dx, c.dy)
		}
		if i > 0 && (int(c.prec) != prec || (c.sgnd != 0) != sgnd) {
			return out, fmt.Errorf("components differ in precision or sign")
		}
		prec, sgnd = int(c.prec), c.sgnd != 0
	}
	if prec < 1 || prec > info.BitsAllocated {
		return out, fmt.Errorf("codestream has %d-bit samples, BitsAllocated is %d", prec, info.BitsAllocated)
	}
	if C.nn_decode(d) == 0 {
		return out, fmt.Errorf("%s", C.GoString(&d.err[0]))
	}
	if C.nn_copy(d, (*C.uchar)(unsafe.Pointer(&dst[0])), C.size_t(w*h), C.int(info.BitsAllocated/8)) == 0 {
		return out, fmt.Errorf("codestream decoded without samples")
	}
	out.BitsStored, out.Signed = prec, sgnd
	if info.Samples == 3 && (info.Photometric == "YBR_RCT" || info.Photometric == "YBR_ICT") {
		out.Photometric = "RGB" // OpenJPEG applies the inverse component transform the codestream declares
	}
	return out, nil
}

// checkSize compares a codestream's size and components with the frame's header, first as SIZ declares
// them (before OpenJPEG allocates anything), then as OpenJPEG read them.
func checkSize(w, h, components int, info viewer.FrameInfo) error {
	if w != info.Columns || h != info.Rows {
		return fmt.Errorf("codestream is %d×%d, the header says %d×%d", w, h, info.Columns, info.Rows)
	}
	if components != info.Samples {
		return fmt.Errorf("codestream has %d components, the header says %d samples per pixel", components, info.Samples)
	}
	return nil
}

// Transfer syntaxes decoded here.
const (
	JPEG2000Lossless   = "1.2.840.10008.1.2.4.90"
	JPEG2000           = "1.2.840.10008.1.2.4.91"
	JPEG2000Part2Lossl = "1.2.840.10008.1.2.4.92"
	JPEG2000Part2      = "1.2.840.10008.1.2.4.93"
	HTJ2KLossless      = "1.2.840.10008.1.2.4.201"
	HTJ2KLosslessRPCL  = "1.2.840.10008.1.2.4.202"
	HTJ2K              = "1.2.840.10008.1.2.4.203"
)

// Syntaxes are the transfer syntaxes this package registers.
var Syntaxes = []string{JPEG2000Lossless, JPEG2000, JPEG2000Part2Lossl, JPEG2000Part2, HTJ2KLossless, HTJ2KLosslessRPCL, HTJ2K}

func init() {
	for _, ts := range Syntaxes {
		viewer.RegisterCodec(viewer.Codec{TransferSyntax: ts, Library: "OpenJPEG " + Version, Decode: Decode})
	}
}
